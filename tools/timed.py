"""Time the steps of a long job (``make reproduce``) and print a summary at the end.

    python tools/timed.py reports/timings.jsonl "the ladder" -- .venv/bin/python -m lm3d.reproduce --ladder ...
    python tools/timed.py reports/timings.jsonl --summary      # one line per step, then the total

Each step runs as given (its output passes through); its wall-clock minutes and exit status are appended to the
log as one JSON line, and the step's exit status is this script's. The summary reads the log of the current job:
the lines since the last ``--start`` (``python tools/timed.py LOG --start`` begins a job), so a rerun after an
interruption shows every attempt, each with its minutes (finished runs are reused, so a rerun's steps are short).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def append(log: Path, record: dict) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:  # one short line per step: an append is atomic enough for a log
        handle.write(json.dumps(record) + "\n")


def summary(log: Path) -> str:
    records = [json.loads(line) for line in log.read_text().splitlines() if line] if log.exists() else []
    starts = [i for i, r in enumerate(records) if r.get("start")]
    records = records[starts[-1] + 1:] if starts else records
    lines = [f"{r['minutes']:8.1f} min  {'ok' if r['status'] == 0 else 'FAILED (' + str(r['status']) + ')':>12}  {r['step']}"
             for r in records]
    total = sum(r["minutes"] for r in records)
    return "\n".join(["timings of this job:", *lines, f"{total:8.1f} min  in all ({total / 60:.2f} h)"])


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] in ("--summary", "--start"):
        log = Path(argv[0])
        if argv[1] == "--start":
            append(log, {"start": time.strftime("%Y-%m-%d %H:%M:%S")})
        else:
            print(summary(log))
        return 0
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    log, step, command = Path(argv[0]), argv[1], argv[3:]
    started = time.monotonic()
    status = subprocess.call(command)
    append(log, {"step": step, "minutes": (time.monotonic() - started) / 60, "status": status,
                 "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
