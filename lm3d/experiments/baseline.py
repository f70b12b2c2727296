"""The baseline's seeds table: the continuous baseline over several seeds, every number of its evaluation.

Each seed trains into ``runs/<preset>_seed<k>`` (resuming if interrupted; a finished run with its metrics is not
retrained) and is evaluated on the SynthFaces test sets. The mean and standard deviation over seeds go to
``<out>/baseline_results.json`` and, as a markdown table, to ``<out>/baseline_results.md``, with the learning curves
beside them.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt

from ..vis.plots import learning_curves, validation_curves
from .seed_runs import aggregate, run_name, run_seeds


def baseline(preset_name: str, seeds: list[int], runs: Path, jobs: int = 1) -> dict:
    """Every number of the baseline's evaluation, over ``seeds`` (``jobs`` trained at a time)."""
    return aggregate(run_seeds(preset_name, seeds, runs, jobs=jobs))


def markdown(table: dict, preset_name: str, seeds: list[int]) -> str:
    lines = [f"Baseline, preset `{preset_name}`, seeds {seeds}: mean and standard deviation over seeds. NME and FR@10 "
             "in % of the inter-ocular distance, AUC@10 in [0, 1].", "",
             "| metric | mean | std | per seed |", "| --- | --- | --- | --- |"]
    for key, row in table.items():
        lines.append(f"| {key} | {row['mean']:.3f} | {row['std']:.3f} | {', '.join(f'{v:.3f}' for v in row['values'])} |")
    return "\n".join(lines) + "\n"


def save_learning_curves(runs: Path, preset_name: str, seeds: list[int], path: Path) -> None:
    """The training loss of every seed against its step, as a PNG; beside it (``*_validation.png``) the validation NME
    against training minutes, where the runs logged a validation curve."""
    logs = {f"seed {seed}": runs / run_name(preset_name, "baseline", seed) / "log.jsonl" for seed in seeds}
    entries = {label: [json.loads(line) for line in log.read_text().splitlines() if line]
               for label, log in logs.items() if log.exists()}
    figures = {path: learning_curves(entries, f"baseline, preset {preset_name}")}
    if any("val_nme" in e for run in entries.values() for e in run):
        figures[path.with_name(path.stem + "_validation.png")] = validation_curves(entries, f"baseline, preset {preset_name}")
    for target, figure in figures.items():
        figure.savefig(target, dpi=100)
        plt.close(figure)
