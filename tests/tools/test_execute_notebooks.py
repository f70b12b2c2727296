"""tools/execute_notebooks.py: notebooks executed two at a time into a folder, each timed; a failure is named after
every notebook has run; --record keeps the full-size seconds in the costs file."""
import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "execute_notebooks.py"


def _notebook(path: Path, code: str) -> Path:
    cell = {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": None, "outputs": [], "source": code}
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"cells": [cell], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _costs(path: Path, names: list[str]) -> Path:
    entries = [{"notebook": name, "teaches": "-", "fast_seconds": 1.0, "full_seconds": 1, "full_needs": "-",
                "gpu": "-"} for name in names]
    path.write_text(json.dumps({"fast_timed": "-", "full_timed": "-", "notebooks": entries}))
    return path


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def test_every_notebook_runs_and_a_failure_is_named(tmp_path):
    # the kernel sees the mode and the thread count the tool gives it
    good = _notebook(tmp_path / "good.ipynb", "import os\nassert os.environ['LM3D_FAST'] == '1'\n"
                                             "assert int(os.environ['OMP_NUM_THREADS']) >= 1")
    bad = _notebook(tmp_path / "bad.ipynb", "raise ValueError('broken on purpose')")
    costs = _costs(tmp_path / "costs.json", ["good.ipynb", "bad.ipynb"])
    result = _run("--out", tmp_path / "out", "--fast", "--costs", costs, good, bad)
    assert result.returncode == 1 and "bad.ipynb" in result.stderr
    report = json.loads((tmp_path / "out" / "notebook_seconds.json").read_text())
    assert report["good.ipynb"]["ran"] and not report["bad.ipynb"]["ran"] and report["good.ipynb"]["seconds"] > 0
    assert (tmp_path / "out" / "good.ipynb").exists()


def test_record_keeps_the_full_size_seconds(tmp_path):
    one = _notebook(tmp_path / "one.ipynb", "import os\nassert os.environ['LM3D_FAST'] == '0'")
    costs = _costs(tmp_path / "costs.json", ["one.ipynb"])
    assert _run("--out", tmp_path / "out", "--record", "--fast", "--costs", costs, one).returncode == 2
    result = _run("--out", tmp_path / "out", "--record", "--lanes", "1", "--costs", costs, one)
    assert result.returncode == 0, result.stderr
    recorded = json.loads(costs.read_text())
    measured = json.loads((tmp_path / "out" / "notebook_seconds.json").read_text())["one.ipynb"]["seconds"]
    assert recorded["notebooks"][0]["full_seconds"] == round(measured) and "1 notebook(s) at a time" in recorded["full_timed"]


def test_bad_calls_are_refused_with_the_reason(tmp_path):
    costs = _costs(tmp_path / "costs.json", [])
    missing = _run("--out", tmp_path / "out", "--costs", costs, tmp_path / "nowhere.ipynb")
    assert missing.returncode == 2 and "no such notebook" in missing.stderr
    lanes = _run("--out", tmp_path / "out", "--lanes", "0", "--costs", costs, _notebook(tmp_path / "a.ipynb", "1"))
    assert lanes.returncode == 2 and "--lanes" in lanes.stderr
    unknown = _run("--out", tmp_path / "out", "--record", "--costs", costs, tmp_path / "a.ipynb")
    assert unknown.returncode == 2 and "no entry" in unknown.stderr
