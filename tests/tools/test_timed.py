"""tools/timed.py: each step's minutes and status go to the log; the summary covers the current job only."""
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "timed.py"


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def test_steps_are_timed_and_summarised_per_job(tmp_path):
    log = tmp_path / "timings.jsonl"
    assert _run(log, "an old job's step", "--", sys.executable, "-c", "pass").returncode == 0
    assert _run(log, "--start").returncode == 0
    done = _run(log, "first step", "--", sys.executable, "-c", "print('hello')")
    assert done.returncode == 0 and "hello" in done.stdout  # the step's output passes through
    failed = _run(log, "second step", "--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert failed.returncode == 3  # the step's exit status is the tool's
    text = _run(log, "--summary").stdout
    assert "first step" in text and "FAILED (3)" in text and "second step" in text and "in all" in text
    assert "an old job's step" not in text


def test_a_malformed_call_says_how_to_call_it(tmp_path):
    result = _run(tmp_path / "log.jsonl", "a step without a command")
    assert result.returncode == 2 and "timed.py" in result.stderr
