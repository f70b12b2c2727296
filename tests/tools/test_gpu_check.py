"""tools/gpu_check.py (``make gpu-check``): its CPU path on a tiny budget, and a failed step failing the check."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from lm3d.model import checkpoint

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # trains the fast preset for a few steps (about 25 s on one core)
def test_the_cpu_path_says_what_ran_and_what_was_skipped_and_trains_a_checkpoint(tmp_path, capsys):
    gpu_check, out = _load(), tmp_path / "run"
    code = gpu_check.main(["--tiny", "--train-minutes", "0.05", "--out", str(out), "--json", str(tmp_path / "summary.json")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    cuda = torch.cuda.is_available()
    said = "--tiny: running the CPU path" if cuda else "no CUDA device: running the CPU path on a tiny budget"
    assert printed.startswith(said)
    summary = json.loads((tmp_path / "summary.json").read_text())
    status = {row["step"]: row["status"] for row in summary["steps"]}
    figure = {row["step"]: row["figure"] for row in summary["steps"]}
    assert summary["cuda"] is False and summary["failed"] == []
    assert status["CUDA tests"] == "skipped" and "2 skipped" in figure["CUDA tests"]  # the two CUDA tests, without CUDA
    for number in ("03", "04", "05", "07"):
        assert status[f"notebook {number}"] == "skipped"
        written = any((TOOL.parents[1] / "notebooks").glob(f"{number}_*.ipynb"))
        assert ("no CUDA" if written else "not written yet") in figure[f"notebook {number}"]
    assert status["bench fast"] == "ok" and "CPU only" in figure["bench fast"]
    assert status["train"] == "ok" and figure["train"].startswith("steps 0 -> ")
    assert status["evaluate"] == "ok" and "synth300w NME" in figure["evaluate"]
    step = checkpoint.load(out / "checkpoint.pt", kind=checkpoint.MODEL_KINDS)["step"]
    assert step >= 6 and step % 6 == 0  # whole checkpoint intervals of the fast preset: nothing trained is lost
    table = printed[printed.index("GPU check summary"):]
    assert all(name in table for name in status) and "no step failed" in table


def test_a_failed_step_fails_the_check_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    gpu_check = _load()
    monkeypatch.setattr(gpu_check, "cuda_tests", lambda cuda, logs: ("failed", "1 failed, 3 passed"))
    monkeypatch.setattr(gpu_check, "bench", lambda *args: 1 / 0)
    monkeypatch.setattr(gpu_check, "training", lambda rows, cuda, out, minutes: rows.append(
        {"step": "train", "did": "nothing", "status": "ok", "seconds": 0.0, "figure": "-"}) or {})
    code = gpu_check.main(["--tiny", "--out", str(tmp_path / "run"), "--json", str(tmp_path / "summary.json")])
    printed = capsys.readouterr().out
    assert code == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failed"] == ["CUDA tests", "bench fast"]
    rows = {row["step"]: row for row in summary["steps"]}
    assert "ZeroDivisionError" in rows["bench fast"]["figure"]
    assert rows["evaluate"]["status"] == "skipped" and "no checkpoint" in rows["evaluate"]["figure"]
    assert "failed: CUDA tests, bench fast" in printed
