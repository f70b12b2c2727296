"""Figures of the results tables (``lm3d.experiments``' reports): CED curves, jitter bars, pose error by yaw.

Each function takes what a report holds (a table row is ``name -> {"mean", "std", "values"}``, as
``lm3d.experiments.seed_runs.aggregate`` writes it) and returns a matplotlib ``Figure``; notebook 08 draws them.
"""
from __future__ import annotations

import re
import textwrap

import matplotlib.pyplot as plt
import numpy as np


def ced_figure(curves: dict, title: str = "cumulative error distribution", threshold: float = 10.0):
    """One CED curve per row: ``curves`` maps a label to (errors in % IOD, fraction of faces at or below each)."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, (errors, fraction) in curves.items():
        axis.plot(np.asarray(errors), np.asarray(fraction), lw=1.4, label=label)
    axis.set_xlim(0, threshold)
    axis.set_ylim(0, 1)
    axis.set_xlabel("NME (% of the inter-ocular distance)")
    axis.set_ylabel("fraction of test faces")
    axis.grid(alpha=0.3)
    axis.set_title(title)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def jitter_figure(rows: dict, source: str = "synth300w", measures=("static jitter", "motion jitter")):
    """Bars of each row's jitter (mean over seeds, the seed spread as error bars), one group per row."""
    rows = {label: table for label, table in rows.items() if any(f"{m} {source}" in table for m in measures)}
    figure, axis = plt.subplots(figsize=(max(7, 1.2 * len(rows)), 4.5))
    width = 0.8 / len(measures)
    for k, measure in enumerate(measures):
        cells = [table.get(f"{measure} {source}") for table in rows.values()]
        x = np.arange(len(rows)) + (k - (len(measures) - 1) / 2) * width
        axis.bar(x, [c["mean"] if c else np.nan for c in cells], width, yerr=[c["std"] if c else 0 for c in cells],
                 capsize=3, label=measure)
    axis.set_xticks(np.arange(len(rows)), [textwrap.fill(label, 18, break_long_words=False) for label in rows], fontsize=7)
    axis.set_ylabel("% of the inter-ocular distance")
    axis.set_title(f"jitter on the {source} test clips (mean and seed spread)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def rotation_by_yaw_figure(rows: dict, source: str = "synth300w"):
    """Each 3D-head row's rotation error against the true |yaw| (the rows' ``rotation_deg <source> at yaw a-b``)."""
    pattern = re.compile(rf"rotation_deg {re.escape(source)} at yaw (\d+)-(\d+)$")
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, table in rows.items():
        bins = sorted((int(m[1]), int(m[2]), table[key]) for key in table if (m := pattern.match(key)))
        if bins:
            centres = [(low + min(high, 90)) / 2 for low, high, _ in bins]
            axis.errorbar(centres, [c["mean"] for *_, c in bins], yerr=[c["std"] for *_, c in bins], marker="o",
                          capsize=3, lw=1.4, label=label)
    axis.set_xlabel("|true yaw| (degrees, bin centres)")
    axis.set_ylabel("rotation error (degrees)")
    axis.grid(alpha=0.3)
    axis.set_title(f"head pose error by yaw, {source} test faces")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
