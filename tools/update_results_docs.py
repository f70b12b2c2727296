"""Copy the tables of reports/ into the results pages of docs/, between their generated-block markers.

A results page holds prose written by hand and, for each table, a block that ``make reproduce`` rewrites:

    <!-- BEGIN GENERATED reports/ladder_results.md -->
    ...the table, as the named report file holds it...
    <!-- END GENERATED -->

    python tools/update_results_docs.py                 # every page under docs/, from reports/
    python tools/update_results_docs.py --check         # exit 1 when a page names a report that does not exist

A block whose report file is missing is left as it is (and named), so a partial run never blanks a page. A report
ending in ``.txt`` is put in a code block, a ``.md`` one as it is. Pages are written atomically.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from lm3d.runtime import write_atomically

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- BEGIN GENERATED (?P<source>\S+) -->\n)(?P<body>.*?)(<!-- END GENERATED -->)", re.S)


def render(source: Path) -> str:
    text = source.read_text().strip("\n")
    return f"```text\n{text}\n```\n" if source.suffix == ".txt" else text + "\n"


def update(page: Path, root: Path = ROOT) -> tuple[str, list[str]]:
    """The page with every block whose report exists replaced; and the reports it names that do not exist."""
    missing = []

    def replace(match):
        source = root / match["source"]
        if not source.is_file():
            missing.append(match["source"])
            return match[0]
        return match[1] + render(source) + match[4]

    return BLOCK.sub(replace, page.read_text()), missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--root", type=Path, default=ROOT, help="where the report paths of the markers are read from")
    parser.add_argument("--check", action="store_true", help="change nothing; fail when a named report is missing")
    args = parser.parse_args(argv)
    all_missing = []
    for page in sorted(args.docs.rglob("*.md")):
        text, missing = update(page, args.root)
        all_missing += [f"{page.relative_to(args.docs)}: {m}" for m in missing]
        if not args.check and text != page.read_text():
            write_atomically(page, lambda temporary: temporary.write_text(text))
            print(f"updated {page}")
    for line in all_missing:
        print(f"no report for {line}; its block is unchanged", file=sys.stderr)
    return 1 if args.check and all_missing else 0


if __name__ == "__main__":
    sys.exit(main())
