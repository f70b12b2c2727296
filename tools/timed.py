"""Time the steps of a long job (``make reproduce``) and print a summary at the end, across interruptions.

    python tools/timed.py reports/timings.jsonl --start          # begin the job, or resume it if it never ended
    python tools/timed.py reports/timings.jsonl "the ladder" -- .venv/bin/python -m lm3d.reproduce --ladder ...
    python tools/timed.py reports/timings.jsonl --summary        # one line per step, then the total
    python tools/timed.py reports/timings.jsonl --end            # the summary, and the job is over

Each step runs as given (its output passes through); its wall-clock minutes, exit status and command are appended
to the log as one JSON line, and the step's exit status is this script's. A job runs from ``--start`` to ``--end``.

An interruption loses no work and no time from the record. Running ``make reproduce`` again continues the job: its
``--start`` marks a new sitting of the same job instead of beginning another, a step that finished with the same
command in an earlier sitting is skipped, and the step that was stopped carries on (the trainings reuse finished
runs and resume the interrupted ones from their checkpoints). While a step runs, its minutes so far are rewritten
every ``BEAT_SECONDS`` to ``<log>.running``. A step stopped by Ctrl-C or ``kill`` is logged as interrupted with its
minutes, its whole process group stopped with it; one whose timer was killed outright (the machine shut down) is
logged from that file at the next call. The total is the job's working time, every sitting added up, without the
hours between them. To time the job from scratch, and redo every step, delete the log.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BEAT_SECONDS = 30.0
FORMAT = 2  # jobs begun with this mark can be resumed; the logs of older versions never recorded an end
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


def identity(pid: int) -> str | None:
    """What tells this process from a later one given the same pid (Linux: the boot and the start time); None when
    there is no such process, or it has ended and waits to be reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # from the third field, the state
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return None if fields[0] == "Z" else f"{boot}:{fields[19]}"
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None
    try:  # no /proc: whether the pid is taken is all there is
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "alive"


def running(pid: int | None, known: str | None) -> bool:
    """Whether process ``pid`` still runs and is the one whose identity was ``known`` (None: any with that pid)."""
    now_there = identity(pid) if pid is not None else None
    return now_there is not None and (known is None or now_there == known)


def recover(log: Path, refuse_if_running: bool) -> None:
    """Log the step whose timer was killed outright, from its last heartbeat; with ``refuse_if_running``, stop with
    an error while that step (or any process it started) still runs, rather than run a second copy beside it."""
    beat = heartbeat_file(log)
    if not beat.exists():
        return
    try:
        last = json.loads(beat.read_text())
    except ValueError:  # a heartbeat is replaced whole, so this is not ours
        raise SystemExit(f"{beat} is not a heartbeat of tools/timed.py; remove it")
    timer_runs, step_runs = running(last["pid"], last.get("process")), running(last.get("group"), last.get("group_process"))
    if timer_runs or step_runs:
        if refuse_if_running:
            who = f"process {last['pid']}" if timer_runs else f"process group {last['group']} (kill -TERM -{last['group']})"
            raise SystemExit(f"the step {last['step']!r} of this job is still running ({who}): wait for it or stop it")
        return
    append(log, {"step": last["step"], "minutes": last["minutes"], "status": "interrupted", "finished": last["beat"],
                 "command": last.get("command")})
    beat.unlink(missing_ok=True)


def beat(log: Path, record: dict, started: float, stop: threading.Event) -> None:
    beat_path = heartbeat_file(log)
    while True:
        record.update(minutes=(time.monotonic() - started) / 60, beat=now())
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
    if value == "interrupted":
        return value
    return f"stopped ({-value})" if value < 0 else f"FAILED ({value})"  # negative: ended by that signal


def start(log: Path) -> None:
    records = read(log)
    starts = [record for record in records if "start" in record]
    unfinished = bool(starts) and starts[-1].get("format") == FORMAT and not any("end" in r for r in current_job(records))
    append(log, {"resumed": now()} if unfinished else {"start": now(), "format": FORMAT})


def end_with_parent() -> None:
    """In the step's process, before it runs: end it if this script is killed outright (Linux), so that a rerun
    never runs beside a step nobody is timing. (Called before any other thread of this script starts.)"""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def ignore_signals() -> None:
    for number in SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def stop_group(child: subprocess.Popen) -> None:
    """SIGTERM to the step's process group, then SIGKILL to what is left after 30 s."""
    for number, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, number)
        except ProcessLookupError:
            return  # the whole group has ended
        try:
            child.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_step(log: Path, step: str, command: list[str]) -> int:
    def stop_here(number, frame):  # kill (SIGTERM) or a closed terminal (SIGHUP): stop the step as Ctrl-C would
        raise KeyboardInterrupt

    started, result, child, beating, stop = time.monotonic(), "interrupted", None, None, threading.Event()
    try:
        for number in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(number) is not signal.SIG_IGN:  # under nohup, a hangup stays ignored
                signal.signal(number, stop_here)
        # the step in a process group of its own, so that stopping it reaches all it started (a pipeline's commands,
        # a pool's workers), not only the process this script started
        child = subprocess.Popen(command, start_new_session=True, preexec_fn=end_with_parent)
        record = {"step": step, "command": command, "pid": os.getpid(), "process": identity(os.getpid()),
                  "group": child.pid, "group_process": identity(child.pid)}
        beating = threading.Thread(target=beat, args=(log, record, started, stop), daemon=True)
        beating.start()
        result = child.wait()
    except KeyboardInterrupt:
        ignore_signals()
        if child is not None:
            stop_group(child)
        raise
    finally:
        ignore_signals()  # a second signal must not cut the record short
        stop.set()
        if beating is not None:
            beating.join()
        append(log, {"step": step, "minutes": (time.monotonic() - started) / 60, "status": result, "finished": now(),
                     "command": command})
        heartbeat_file(log).unlink(missing_ok=True)
    return result


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[1] in ("--summary", "--start", "--end"):
        log = Path(argv[0])
        recover(log, refuse_if_running=argv[1] != "--summary")
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
    log, step, command = Path(argv[0]), argv[1], argv[3:]
    recover(log, refuse_if_running=True)
    done = [r for r in current_job(read(log)) if r.get("step") == step and r.get("command") == command
            and r["status"] == 0]
    if done:  # the same command finished in an earlier sitting of this job: its outputs are there
        print(f"{step}: done in an earlier sitting of this job ({done[-1]['minutes']:.1f} min), skipped")
        return 0
    try:
        result = run_step(log, step, command)
    except KeyboardInterrupt:
        return 130
    return 128 - result if result < 0 else result  # a step ended by signal N: 128 + N, as a shell says


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
