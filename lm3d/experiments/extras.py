"""Beyond the paper's claims (``make reproduce-extras``): S with an affine crop, and the 3D head's other principal point.

Each row is a choice the main job's ladder could have made, measured the same way but left out of it so that the
main job trains only the rungs a claim of the paper needs (``lm3d.experiments.schedule``): S free to shear and
stretch its crop (three seeds), and the principal point the preset does not use (seed 0 only: a design decision's
evidence). Beside them, the rows they replace, from the main job's runs (reused, not trained again).

    python -m lm3d.reproduce --extras --out reports     # reports/extras_results.json and .md
"""
from __future__ import annotations

from pathlib import Path

from ..training import preset
from .ladder import EXTRA_RUNGS, LADDER, ladder_runs
from .seed_runs import aggregate, run_seed

PRINCIPAL_PLACES = {"crop": "the crop's centre", "image": "the image centre"}
# the main job's rows the extra ones replace (labels of lm3d.experiments.ladder.LADDER)
REFERENCE_ROWS = ("baseline, simulated detector box", "S similarity", "3D head, box crop (crop-3d)")


def other_principal(preset_name: str) -> str:
    """The principal point (lm3d.model.camera_head) the preset does not use."""
    return "crop" if preset(preset_name).model.principal == "image" else "image"


def principal_run(preset_name: str, seed: int) -> tuple:
    """(variant, seed, settings, tag) of crop-3d with the other principal point."""
    other = other_principal(preset_name)
    return "crop-3d", seed, {"model.principal": other}, f"crop-3d-principal-{other}"


def extra_runs(preset_name: str, seeds: list[int]) -> list[tuple]:
    """(variant, seed, settings, tag) of every training of the extras' table."""
    specs = [(rung.variant, seed, rung.overrides, rung.tag) for rung in EXTRA_RUNGS for seed in seeds]
    return specs + [principal_run(preset_name, seeds[0])]


def extras(preset_name: str, seeds: list[int], runs: Path, jobs: int = 1) -> dict:
    """The reference rows and the extra ones: evaluations aggregated over seeds (trained unless cached)."""
    references = tuple(rung for rung in LADDER if rung.label in REFERENCE_ROWS)
    results = ladder_runs(preset_name, seeds, runs, None, jobs, rungs=references + EXTRA_RUNGS)
    wanted = set(REFERENCE_ROWS) | {rung.label for rung in EXTRA_RUNGS}  # (not the box row's One-Euro view)
    rows = {label: aggregate(runs) for label, runs in results.items() if label in wanted}
    variant, seed, settings, tag = principal_run(preset_name, seeds[0])
    place = PRINCIPAL_PLACES[settings["model.principal"]]
    rows[f"3D head, box crop, principal point at {place} (seed {seed})"] = aggregate(
        [run_seed(preset_name, seed, runs, variant, settings, tag)])
    return rows
