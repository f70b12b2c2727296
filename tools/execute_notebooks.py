"""Execute notebooks into a folder, several at a time, and time each: the notebooks' step of ``make reproduce``.

    python tools/execute_notebooks.py --out reports notebooks/*.ipynb            # full size (LM3D_FAST=0)
    python tools/execute_notebooks.py --out smoke/reports --fast notebooks/*.ipynb
    python tools/execute_notebooks.py --out reports --record notebooks/*.ipynb   # and keep the seconds in the docs

Inside ``make reproduce`` the notebooks do not depend on one another (each reads the finished runs and ``reports/``),
so ``--lanes`` of them run at once, each kernel on cores / lanes threads: two lanes of one thread each use a 2-core
CPU as the trainings do. (Without the runs, a full-size notebook trains what it misses, and notebooks 03-05 would
train the same run at once: there, pass ``--lanes 1``.) Each lane takes the longest notebook left, by
the seconds ``docs/notebook_costs.json`` records (the classic longest-first rule), so no lane idles long at the
end. The executed copies go to ``--out``, with ``notebook_seconds.json`` (each notebook's seconds and whether it
ran to the end); every notebook runs even if one fails, and the tool then fails naming them. ``--record`` writes the
full-size seconds into ``docs/notebook_costs.json`` (``full_seconds``, and ``full_timed`` says how), which notebook
00 shows.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lm3d.runtime import write_atomically

ROOT = Path(__file__).resolve().parents[1]
COSTS = ROOT / "docs" / "notebook_costs.json"


def cores() -> int:
    """The cores this process may use (a CPU limit on a shared machine included)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def execute(path: Path, out: Path, fast: bool, threads: int) -> tuple[float, bool]:
    """Seconds to execute one notebook into ``out``, and whether every cell ran."""
    threads_env = {name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.timeout=-1", "--output-dir", str(out), str(path)],
                          env={**os.environ, **threads_env, "LM3D_FAST": "1" if fast else "0"})
    return time.perf_counter() - start, done.returncode == 0


def longest_first(paths: list[Path], costs: dict, fast: bool) -> list[Path]:
    key = "fast_seconds" if fast else "full_seconds"
    recorded = {entry["notebook"]: entry.get(key) or 0.0 for entry in costs["notebooks"]}
    return sorted(paths, key=lambda path: -recorded.get(path.name, 0.0))


def record(costs_file: Path, costs: dict, seconds: dict[str, float], lanes: int, threads: int) -> None:
    entries = {entry["notebook"]: entry for entry in costs["notebooks"]}
    for name, value in seconds.items():
        entries[name]["full_seconds"] = round(value)
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    costs["full_timed"] = (f"python tools/execute_notebooks.py --record in make reproduce at revision {revision} on a "
                           f"{cores()}-core CPU, {lanes} notebook(s) at a time on {threads} thread(s) each, on the "
                           "runs and reports the job had made")
    write_atomically(costs_file, lambda temporary: temporary.write_text(json.dumps(costs, indent=1) + "\n"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the executed copies")
    parser.add_argument("--fast", action="store_true", help="LM3D_FAST=1 (default: full size)")
    parser.add_argument("--lanes", type=int, default=2, help="notebooks at a time (default 2)")
    parser.add_argument("--record", action="store_true", help="write the full-size seconds into --costs")
    parser.add_argument("--costs", type=Path, default=COSTS, help="the costs file (default docs/notebook_costs.json)")
    args = parser.parse_args(argv)
    if args.lanes < 1:
        parser.error(f"--lanes must be at least 1, got {args.lanes}")
    if args.record and args.fast:
        parser.error("--record keeps full-size seconds; fast mode is timed by tools/time_notebooks.py")
    missing = [str(path) for path in args.notebooks if not path.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    costs = json.loads(args.costs.read_text())
    unknown = sorted({path.name for path in args.notebooks} - {entry["notebook"] for entry in costs["notebooks"]})
    if args.record and unknown:
        parser.error(f"{args.costs} has no entry for {unknown}: add what each teaches first")
    args.out.mkdir(parents=True, exist_ok=True)
    threads = max(1, cores() // args.lanes)
    order = longest_first(args.notebooks, costs, args.fast)
    with ThreadPoolExecutor(args.lanes) as lanes:  # each lane takes the next notebook in order when it is free
        results = dict(zip(order, lanes.map(lambda path: execute(path, args.out, args.fast, threads), order)))
    report = {path.name: {"seconds": round(seconds, 1), "ran": ran} for path, (seconds, ran) in results.items()}
    write_atomically(args.out / "notebook_seconds.json",
                     lambda temporary: temporary.write_text(json.dumps(report, indent=1) + "\n"))
    for name, result in report.items():
        print(f"{result['seconds']:7.0f} s  {'ok' if result['ran'] else 'FAILED'}  {name}")
    failed = [name for name, result in report.items() if not result["ran"]]
    if failed:
        print(f"notebooks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if args.record:
        record(args.costs, costs, {name: result["seconds"] for name, result in report.items()}, args.lanes, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
