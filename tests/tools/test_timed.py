"""tools/timed.py: each step's minutes and status go to the log; a job's summary covers every sitting of it, and an
interrupted step keeps its minutes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "timed.py"
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the parent-death signal is Linux's")


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie nobody has reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def test_steps_are_timed_and_summarised_per_job(tmp_path):
    log = tmp_path / "timings.jsonl"
    assert _run(log, "--start").returncode == 0
    assert _run(log, "an old job's step", "--", sys.executable, "-c", "pass").returncode == 0
    assert _run(log, "--end").returncode == 0
    assert _run(log, "--start").returncode == 0  # the last job ended: a new one begins
    done = _run(log, "first step", "--", sys.executable, "-c", "print('hello')")
    assert done.returncode == 0 and "hello" in done.stdout  # the step's output passes through
    failed = _run(log, "second step", "--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert failed.returncode == 3  # the step's exit status is the tool's
    text = _run(log, "--end").stdout
    assert "first step" in text and "FAILED (3)" in text and "second step" in text and "in all" in text
    assert "an old job's step" not in text and "sittings" not in text


@LINUX
def test_a_job_interrupted_and_run_again_is_one_job_with_every_minute(tmp_path):
    log, child_pid = tmp_path / "timings.jsonl", tmp_path / "child.pid"
    assert _run(log, "--start").returncode == 0
    ran = tmp_path / "ran.txt"
    short = [sys.executable, "-c", f"open({str(ran)!r}, 'a').write('x')"]
    assert _run(log, "a short step", "--", *short).returncode == 0
    # a step whose command starts a process of its own (as a pipeline or a pool of workers does), then is killed
    sleeper = (f"import os, subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; "
               f"time.sleep(60)']); open({str(child_pid)!r}, 'w').write(str(p.pid)); p.wait()")
    step = subprocess.Popen([sys.executable, str(TOOL), str(log), "a long step", "--", sys.executable, "-c", sleeper])
    deadline = time.monotonic() + 30
    while not (child_pid.exists() and child_pid.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    step.send_signal(signal.SIGTERM)
    assert step.wait(timeout=30) == 130
    grandchild = int(child_pid.read_text())
    deadline = time.monotonic() + 10
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(grandchild)  # the process the step started was stopped with it
    assert not log.with_name(log.name + ".running").exists()
    # run again: the same job goes on, past what is done
    assert _run(log, "--start").returncode == 0
    again = _run(log, "a short step", "--", *short)
    assert again.returncode == 0 and "done in an earlier sitting" in again.stdout and ran.read_text() == "x"
    assert _run(log, "a long step", "--", sys.executable, "-c", "pass").returncode == 0
    text = _run(log, "--end").stdout
    assert "in 2 sittings" in text and text.count("a short step") == 1 and text.count("a long step") == 2
    assert "interrupted" in text
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["status"] for r in records if "step" in r] == [0, "interrupted", 0]
    assert records[-1].keys() == {"end"}
    # a new job redoes every step
    assert _run(log, "--start").returncode == 0 and _run(log, "a short step", "--", *short).returncode == 0
    assert ran.read_text() == "xx"


def test_only_the_same_command_counts_as_done_and_old_logs_are_not_resumed(tmp_path):
    log, ran = tmp_path / "timings.jsonl", tmp_path / "ran.txt"
    # a log of the version before resuming: a start without the format mark, and a step without its command
    log.write_text(json.dumps({"start": "2026-12-01 10:00:00"}) + "\n"
                   + json.dumps({"step": "boxes", "minutes": 5.0, "status": 0, "finished": "x"}) + "\n")
    assert _run(log, "--start").returncode == 0
    assert json.loads(log.read_text().splitlines()[-1]).get("format") == 2  # a new job, not a sitting of the old
    first = [sys.executable, "-c", f"open({str(ran)!r}, 'a').write('1')"]
    assert _run(log, "boxes", "--", *first).returncode == 0
    other = [sys.executable, "-c", f"open({str(ran)!r}, 'a').write('2')"]  # the step's command changed (--count)
    assert _run(log, "boxes", "--", *other).returncode == 0
    assert ran.read_text() == "12"
    failed = [sys.executable, "-c", f"open({str(ran)!r}, 'a').write('3'); raise SystemExit(4)"]
    assert _run(log, "tables", "--", *failed).returncode == 4
    assert _run(log, "tables", "--", *failed).returncode == 4  # a failed step is tried again
    assert ran.read_text() == "1233"


@LINUX
def test_a_step_killed_outright_is_logged_from_its_last_heartbeat(tmp_path):
    log = tmp_path / "timings.jsonl"
    assert _run(log, "--start").returncode == 0
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(ended.stdout)  # a process that has ended: the step's, after the machine went down
    beat = {"step": "every training", "command": ["train"], "pid": gone, "process": "x", "group": gone,
            "group_process": "x", "minutes": 12.5, "beat": "2026-12-06 10:00:00"}
    log.with_name(log.name + ".running").write_text(json.dumps(beat) + "\n")
    text = _run(log, "--summary").stdout
    assert "12.5 min   interrupted  every training" in text and "(0.21 h)" in text
    assert not log.with_name(log.name + ".running").exists()
    # a heartbeat of a step whose processes still run is left alone, and no second copy of a step starts beside it
    beat.update(group=os.getpid(), group_process=None)
    log.with_name(log.name + ".running").write_text(json.dumps(beat) + "\n")
    assert _run(log, "--summary").returncode == 0 and log.with_name(log.name + ".running").exists()
    refused = _run(log, "another step", "--", sys.executable, "-c", "pass")
    assert refused.returncode == 1 and "still running" in refused.stderr and f"kill -TERM -{os.getpid()}" in refused.stderr


def test_a_malformed_call_says_how_to_call_it(tmp_path):
    result = _run(tmp_path / "log.jsonl", "a step without a command")
    assert result.returncode == 2 and "timed.py" in result.stderr


@LINUX
def test_a_step_ends_with_its_timer_and_the_next_call_logs_it(tmp_path):
    # the timer killed outright (SIGKILL: nothing of it runs again) must not leave its step running untimed
    log, child_pid = tmp_path / "timings.jsonl", tmp_path / "child.pid"
    sleeper = f"import os, time; open({str(child_pid)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    timer = subprocess.Popen([sys.executable, str(TOOL), str(log), "a step", "--", sys.executable, "-c", sleeper])
    deadline = time.monotonic() + 30
    while not (child_pid.exists() and child_pid.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    step = int(child_pid.read_text())
    time.sleep(0.5)  # one heartbeat is written
    timer.kill()
    timer.wait()
    deadline = time.monotonic() + 10
    while not _gone(step) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(step)
    assert "interrupted  a step" in _run(log, "--summary").stdout
