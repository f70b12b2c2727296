"""Runs that repeat: the same command, seed and revision gives the same weights under any thread setting.

The trainer fixes torch's intra-op threads (``TrainConfig.threads``, recorded in the checkpoint). The model must be
of the ``standard`` size: the ``fast`` preset's tensors are too small for torch to split their sums over threads, so
they would agree with or without the fix.
"""
import os
import subprocess
import sys
import warnings

import pytest
import torch

from lm3d.runtime import intra_op_threads

STEPS = 12
SHORT_STANDARD = ["--preset", "standard", "--steps", str(STEPS), "--no-eval", "--set", "train_counts=[48,24,24,8]",
                  "--set", f"checkpoint_every={STEPS}", "--set", "cache_dir=null", "--set", "negative_count=16"]


def _train(out, threads_env: str, *settings):
    env = dict(os.environ, OMP_NUM_THREADS=threads_env, MKL_NUM_THREADS=threads_env)
    subprocess.run([sys.executable, "-m", "lm3d.train", *SHORT_STANDARD, *settings, "--out", str(out)],
                   check=True, env=env, capture_output=True)
    return torch.load(out / "checkpoint.pt", weights_only=True)


def _largest_difference(a, b) -> float:
    return max((a["model"][k].float() - b["model"][k].float()).abs().max().item() for k in a["model"])


@pytest.mark.slow
def test_the_same_run_under_one_and_two_threads_gives_identical_weights(tmp_path):
    one, two = _train(tmp_path / "one", "1"), _train(tmp_path / "two", "2")
    assert one["train_config"]["threads"] == two["train_config"]["threads"] == 1
    assert _largest_difference(one, two) == 0.0


@pytest.mark.slow
def test_without_fixed_threads_the_weights_differ(tmp_path):
    """The check above can fail: leave the threads to the environment, and one and two threads disagree."""
    one, two = (_train(tmp_path / name, env, "--set", "threads=0") for name, env in (("one", "1"), ("two", "2")))
    assert _largest_difference(one, two) > 0.0


def test_the_thread_setting_is_restored_and_checked():
    before = torch.get_num_threads()
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with intra_op_threads(0):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        with intra_op_threads(-1):
            pass


def test_training_warns_when_bfloat16_would_be_emulated(tmp_path, monkeypatch):
    from lm3d.training import configure, loop
    config = configure("fast", settings={"model.feature_precision": "bfloat16"})
    monkeypatch.setattr(loop, "native_bfloat16", lambda device: False)
    with pytest.warns(RuntimeWarning, match="feature_precision=bfloat16, which this cpu emulates"):
        loop.train(config, tmp_path, progress=False, stop_after=1)
    monkeypatch.setattr(loop, "native_bfloat16", lambda device: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loop.train(config, tmp_path / "native", progress=False, stop_after=1)
