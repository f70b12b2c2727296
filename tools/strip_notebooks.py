"""Keep notebooks committed without outputs (the nbstripout habit of the field).

    python tools/strip_notebooks.py notebooks/*.ipynb            # strip outputs in place
    python tools/strip_notebooks.py --verify notebooks/*.ipynb   # exit 1 and name what is stored (make test)

Stored outputs make diffs unreadable and files huge (a run of notebook 01 embeds plotly.js: 7.5 MB), and
CI checks nothing in them: correctness checks live in asserts inside cells. Stripped: cell outputs,
execution counts, the widget state JupyterLab can save in the notebook's metadata, and per-cell execution
timings.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CELL_METADATA = ("execution", "collapsed", "scrolled")  # run-time state JupyterLab writes into cells
NOTEBOOK_METADATA = ("widgets",)


def stored_state(notebook: dict) -> list[str]:
    """What a committed notebook should not hold, in words (empty when it is clean)."""
    found = [f"{key} in the notebook metadata" for key in NOTEBOOK_METADATA if key in notebook.get("metadata", {})]
    for number, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {number}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {number}: execution count {cell['execution_count']}")
        found += [f"cell {number}: metadata {key}" for key in CELL_METADATA if key in cell.get("metadata", {})]
    return found


def strip(notebook: dict) -> dict:
    for key in NOTEBOOK_METADATA:
        notebook.get("metadata", {}).pop(key, None)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            for key in CELL_METADATA:
                cell.get("metadata", {}).pop(key, None)
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--verify", action="store_true", help="change nothing; exit 1 if any notebook stores outputs")
    args = parser.parse_args(argv)
    dirty = 0
    for path in args.notebooks:
        notebook = json.loads(path.read_text())
        found = stored_state(notebook)
        if not found:
            continue
        dirty += 1
        if args.verify:
            print(f"{path}: {'; '.join(found[:5])}{' ...' if len(found) > 5 else ''}")
        else:
            path.write_text(json.dumps(strip(notebook), indent=1, ensure_ascii=True) + "\n")
            print(f"stripped {path}")
    if args.verify and dirty:
        print(f"{dirty} notebook(s) store outputs; strip them with: python tools/strip_notebooks.py notebooks/*.ipynb")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
