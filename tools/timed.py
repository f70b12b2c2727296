"""Time the steps of a long job (``make reproduce``) and print a summary at the end, across interruptions.

    python tools/timed.py reports/timings.jsonl --start          # begin the job, or resume it if it never ended
    python tools/timed.py reports/timings.jsonl "the ladder" -- .venv/bin/python -m lm3d.reproduce --ladder ...
    python tools/timed.py reports/timings.jsonl --summary        # one line per step, then the total
    python tools/timed.py reports/timings.jsonl --end            # the summary, and the job is over

Each step runs as given (its output passes through); its wall-clock minutes and exit status are appended to the
log as one JSON line, and the step's exit status is this script's. A job runs from ``--start`` to ``--end``.

An interruption loses no work and no time from the record. Running ``make reproduce`` again continues the job: its
``--start`` marks a new sitting of the same job instead of beginning another, a step that finished in an earlier
sitting is skipped, and the step that was stopped carries on (the trainings reuse finished runs and resume the
interrupted ones from their checkpoints).
While a step runs, its minutes so far are rewritten every ``BEAT_SECONDS`` to ``<log>.running``; a step stopped
by Ctrl-C or ``kill`` is logged as interrupted with its minutes, and one whose process was killed outright (the
machine shut down) is logged from that file at the next call. The total is then the job's working time, every
sitting added up, without the hours between them. Delete the log to time a job from scratch.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BEAT_SECONDS = 30.0


def append(log: Path, record: dict) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as handle:  # one short line per record: an append is atomic enough for a log
        handle.write(json.dumps(record) + "\n")


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def read(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line] if log.exists() else []


def current_job(records: list[dict]) -> list[dict]:
    """The records since the last start."""
    starts = [i for i, record in enumerate(records) if "start" in record]
    return records[starts[-1] + 1:] if starts else records


def heartbeat_file(log: Path) -> Path:
    return log.with_name(log.name + ".running")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def recover(log: Path) -> None:
    """Log the step whose process was killed outright, from its last heartbeat."""
    beat = heartbeat_file(log)
    if not beat.exists():
        return
    try:
        last = json.loads(beat.read_text())
    except ValueError:  # a heartbeat is replaced whole, so this is not ours
        raise SystemExit(f"{beat} is not a heartbeat of tools/timed.py; remove it")
    if alive(last["pid"]):
        return  # the step is still running
    append(log, {"step": last["step"], "minutes": last["minutes"], "status": "interrupted", "finished": last["beat"]})
    beat.unlink(missing_ok=True)


def beat(log: Path, step: str, started: float, stop: threading.Event) -> None:
    beat_path = heartbeat_file(log)
    while True:
        record = {"step": step, "pid": os.getpid(), "minutes": (time.monotonic() - started) / 60, "beat": now()}
        temporary = beat_path.with_name(beat_path.name + ".tmp")
        temporary.write_text(json.dumps(record) + "\n")
        os.replace(temporary, beat_path)  # whole or not at all
        if stop.wait(BEAT_SECONDS):
            return


def summary(log: Path) -> str:
    job = current_job(read(log))
    steps = [record for record in job if "step" in record]
    sittings = 1 + sum("resumed" in record for record in job)
    lines = [f"{r['minutes']:8.1f} min  {status(r['status']):>12}  {r['step']}" for r in steps]
    total = sum(r["minutes"] for r in steps)
    heading = "timings of this job" + (f", in {sittings} sittings (each step's attempts listed):" if sittings > 1 else ":")
    return "\n".join([heading, *lines, f"{total:8.1f} min  in all ({total / 60:.2f} h)"])


def status(value) -> str:
    if value == 0:
        return "ok"
    return "interrupted" if value == "interrupted" else f"FAILED ({value})"


def start(log: Path) -> None:
    records = read(log)
    unfinished = any("start" in record for record in records) and not any("end" in r for r in current_job(records))
    append(log, {"resumed": now()} if unfinished else {"start": now()})


def run_step(log: Path, step: str, command: list[str]) -> int:
    def stop_here(signum, frame):  # kill (SIGTERM) or a closed terminal (SIGHUP): stop the step as Ctrl-C would
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_here)
    signal.signal(signal.SIGHUP, stop_here)
    started = time.monotonic()
    stop = threading.Event()
    beating = threading.Thread(target=beat, args=(log, step, started, stop), daemon=True)
    beating.start()
    result = "interrupted"
    # the step in a process group of its own, so that stopping it reaches all it started (a pipeline's commands, a
    # pool's workers), not only the process this script started
    child = subprocess.Popen(command, start_new_session=True)
    try:
        result = child.wait()
    except KeyboardInterrupt:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait()
        raise
    finally:
        stop.set()
        beating.join()
        append(log, {"step": step, "minutes": (time.monotonic() - started) / 60, "status": result, "finished": now()})
        heartbeat_file(log).unlink(missing_ok=True)
    return result


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] in ("--summary", "--start", "--end"):
        log = Path(argv[0])
        recover(log)
        if argv[1] == "--start":
            start(log)
            return 0
        print(summary(log))
        if argv[1] == "--end":
            append(log, {"end": now()})
        return 0
    if len(argv) < 4 or argv[2] != "--":
        print("usage:", *__doc__.strip().splitlines()[2:6], sep="\n", file=sys.stderr)
        return 2
    log, step = Path(argv[0]), argv[1]
    recover(log)
    done = [r for r in current_job(read(log)) if r.get("step") == step and r["status"] == 0]
    if done:  # in an earlier sitting of this job: its outputs are there
        print(f"{step}: done in an earlier sitting of this job ({done[-1]['minutes']:.1f} min), skipped")
        return 0
    try:
        return run_step(log, step, argv[3:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
