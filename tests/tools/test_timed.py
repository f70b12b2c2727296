"""tools/timed.py: each step's minutes and status go to the log; a job's summary covers every sitting of it, and an
interrupted step keeps its minutes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "timed.py"


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


def test_a_job_interrupted_and_run_again_is_one_job_with_every_minute(tmp_path):
    log, child_pid = tmp_path / "timings.jsonl", tmp_path / "child.pid"
    assert _run(log, "--start").returncode == 0
    assert _run(log, "a short step", "--", sys.executable, "-c", "pass").returncode == 0
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
    time.sleep(0.5)
    assert not Path(f"/proc/{grandchild}").exists() or b"sleep" not in Path(f"/proc/{grandchild}/cmdline").read_bytes()
    assert not log.with_name(log.name + ".running").exists()
    # run again: the same job goes on, past what is done
    assert _run(log, "--start").returncode == 0
    again = _run(log, "a short step", "--", sys.executable, "-c", "raise SystemExit('must not run again')")
    assert again.returncode == 0 and "done in an earlier sitting" in again.stdout
    assert _run(log, "a long step", "--", sys.executable, "-c", "pass").returncode == 0
    text = _run(log, "--end").stdout
    assert "in 2 sittings" in text and text.count("a short step") == 1 and text.count("a long step") == 2
    assert "interrupted" in text
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["status"] for r in records if "step" in r] == [0, "interrupted", 0]
    assert records[-1].keys() == {"end"}


def test_a_step_killed_outright_is_logged_from_its_last_heartbeat(tmp_path):
    log = tmp_path / "timings.jsonl"
    assert _run(log, "--start").returncode == 0
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(ended.stdout)  # a process that has ended: the step's, after the machine went down
    beat = {"step": "every training", "pid": gone, "minutes": 12.5, "beat": "2026-12-06 10:00:00"}
    log.with_name(log.name + ".running").write_text(json.dumps(beat) + "\n")
    text = _run(log, "--summary").stdout
    assert "12.5 min   interrupted  every training" in text and "(0.21 h)" in text
    assert not log.with_name(log.name + ".running").exists()
    # a heartbeat of a step still running is left alone
    beat["pid"] = os.getpid()
    log.with_name(log.name + ".running").write_text(json.dumps(beat) + "\n")
    assert "every training" in _run(log, "--summary").stdout
    assert log.with_name(log.name + ".running").exists()


def test_a_malformed_call_says_how_to_call_it(tmp_path):
    result = _run(tmp_path / "log.jsonl", "a step without a command")
    assert result.returncode == 2 and "timed.py" in result.stderr
