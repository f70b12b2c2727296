"""The resume check: kill -9 a training mid-run, run the same command again, compare with an uninterrupted run.

    python -m lm3d.reproduce --seeds 0 --interruption-check 1000   # kill -9 at step 1000, resume, compare
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..evaluation import evaluate_checkpoint
from ..model import checkpoint
from ..training import CHECKPOINT_NAME, preset
from .seed_runs import run_seed


def interruption_check(preset_name: str, seed: int, runs: Path, kill_after_step: int) -> dict:
    """Train in a subprocess, ``kill -9`` it once a checkpoint past ``kill_after_step`` exists, run the same
    command again (it resumes), and compare its metrics with the uninterrupted run of the same seed."""
    out = runs / f"{preset_name}_seed{seed}_killed"
    command = [sys.executable, "-m", "lm3d.train", "--preset", preset_name, "--seed", str(seed), "--out", str(out),
               "--no-eval"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / CHECKPOINT_NAME
    killed_at = None
    while process.poll() is None:
        time.sleep(2)
        if path.exists():
            try:
                step = checkpoint.load(path)["step"]
            except checkpoint.CheckpointError:
                continue  # being replaced right now
            if step >= kill_after_step:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                killed_at = step
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resumed = evaluate_checkpoint(path, count=preset(preset_name).eval_count)
    straight = run_seed(preset_name, seed, runs)
    report = {"killed_after_checkpoint_step": killed_at,
              "resumed": resumed["summary"], "uninterrupted": straight["summary"],
              "difference": {k: resumed["summary"][k] - straight["summary"][k] for k in straight["summary"]}}
    (out / "interruption_check.json").write_text(json.dumps(report, indent=1) + "\n")
    return report
