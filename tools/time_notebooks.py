"""Time every notebook in fast mode and write the costs table that notebook 00 shows (``docs/notebook_costs.json``).

    python tools/time_notebooks.py              # all notebooks, LM3D_FAST=1, one after the other
    python tools/time_notebooks.py 03 05        # only these (by number); the others keep their recorded times

Each notebook runs as CI runs it (``pytest --nbval-lax --nbval-current-env`` with ``LM3D_FAST=1``); its wall-clock
seconds, this machine's CPU count and the revision are recorded. What each notebook teaches and the runs it needs at
full size are kept in the same file by hand, beside the timings; its full-size seconds are written by
``tools/execute_notebooks.py --record`` in ``make reproduce``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COSTS = ROOT / "docs" / "notebook_costs.json"


def time_notebook(path: Path) -> tuple[float, bool]:
    """Seconds to run one notebook under nbval in fast mode, and whether it passed."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval-lax", "--nbval-current-env", str(path)],
                          cwd=ROOT, env={**os.environ, "LM3D_FAST": "1"}, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="notebook numbers to time (default: all)")
    args = parser.parse_args(argv)
    costs = json.loads(COSTS.read_text())
    entries = {entry["notebook"]: entry for entry in costs["notebooks"]}
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    missing = [p.name for p in notebooks if p.name not in entries]
    if missing:
        raise SystemExit(f"{COSTS} has no entry for {missing}: add what each teaches and its full-size costs first")
    failed = []
    for path in notebooks:
        if args.only and path.name[:2] not in args.only:
            continue
        seconds, passed = time_notebook(path)
        entries[path.name]["fast_seconds"] = round(seconds, 1)
        print(f"{path.name}: {seconds:.0f} s{'' if passed else ' (FAILED)'}")
        failed += [] if passed else [path.name]
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    costs["fast_timed"] = (f"python tools/time_notebooks.py at revision {revision} on a {os.cpu_count()}-core CPU, "
                           "one notebook at a time (nbval, LM3D_FAST=1)")
    costs["notebooks"] = [entries[p.name] for p in notebooks]
    temporary = COSTS.with_suffix(".tmp")
    temporary.write_text(json.dumps(costs, indent=1) + "\n")
    temporary.replace(COSTS)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
