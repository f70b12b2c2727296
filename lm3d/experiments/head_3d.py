"""The 3D head's table: 2D against 3D head, on the box crop and on S, same budget and seeds.

A reference row, the untrained 3D head (its priors alone); then the pose, camera, 3D shape and visibility errors, and
the focal error by distance. The principal point the preset does not use is a design decision's evidence, not a
claim of the paper: ``make reproduce-extras`` trains it (``lm3d.experiments.extras``).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..evaluation import EVALUATION_VERSION, evaluate_checkpoint
from ..model import ContinuousLandmarkModel
from ..training import CHECKPOINT_NAME, configure, save_checkpoint
from .ladder import ladder_markdown
from .seed_runs import aggregate, cell, run_name, run_seeds

# The rows: label, variant, and a slot for settings (none of these rows changes any)
HEAD_3D = (("2D head, box crop (baseline)", "baseline", None), ("3D head, box crop (crop-3d)", "crop-3d", None),
           ("2D head, S similarity (s-similarity)", "s-similarity", None), ("3D head, S similarity (s-3d)", "s-3d", None))


def head_3d(preset_name: str, seeds: list[int], runs: Path, jobs: int = 1) -> dict:
    rows = {label: aggregate(run_seeds(preset_name, seeds, runs, variant, jobs=jobs))
            for label, variant, _ in HEAD_3D}
    rows["3D head untrained: its priors only"] = aggregate([untrained_3d(preset_name, runs)])
    return rows


def head_3d_markdown(rows: dict, preset_name: str, seeds: list[int]) -> str:
    """The ladder's NME and jitter table for these rows, then the pose table and the focal error by distance."""
    text = ladder_markdown(rows, preset_name, seeds)
    bins = sorted({k.split(" at ")[1] for table in rows.values() for k in table if k.startswith("focal_log_error synth300w at")},
                  key=lambda b: float(b.split("-")[0]))
    text += ("\nFocal error |log f_pred - log f_true| by the true distance of the face (synth300w test faces):\n\n"
             "| model | " + " | ".join(bins) + " |\n|---|" + "---|" * len(bins) + "\n")
    for label, table in rows.items():
        if "rotation_deg synth300w" in table:
            text += f"| {label} | " + " | ".join(cell(table, f"focal_log_error synth300w at {b}") for b in bins) + " |\n"
    return text


def untrained_3d(preset_name: str, runs: Path) -> dict:
    """A crop-3d model at its initial weights, evaluated: γ answers with its priors (frontal, prior focal, template)."""
    out = runs / run_name(preset_name, "crop-3d", 0, "crop-3d-untrained")
    metrics_file = out / "metrics.json"
    if not metrics_file.exists() or json.loads(metrics_file.read_text()).get("evaluation_version") != EVALUATION_VERSION:
        config = configure(preset_name, "crop-3d", 0)
        save_checkpoint(out / CHECKPOINT_NAME, ContinuousLandmarkModel(config.model), config)
        results = evaluate_checkpoint(out / CHECKPOINT_NAME, count=config.eval_count)
        metrics_file.write_text(json.dumps(results, indent=1) + "\n")
    return json.loads(metrics_file.read_text())
