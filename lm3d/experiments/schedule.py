"""Every training the main job's tables need, in one pool of workers, the costliest first.

Each table (``baseline``, ``ladder``, ``head_3d``, ``deformer``) trains its own rows seed by seed, ``jobs`` seeds
at a time; with three seeds and two workers, one worker then idles through each variant's third seed. Training
every run of every table from one queue keeps both workers busy until the queue is empty, and the tables then
read the finished runs from their caches. Runs are started longest first (the classic rule for two machines:
the last run to start is then a short one), by the relative costs in ``TRAINING_COST``.

The main job (``every_run``) trains the rungs the paper's claims need, and the two runs notebook 06 shows at full
size (so that the notebook does not train them one after the other); ``make reproduce-extras`` (``every_extra_run``)
trains the rest: S affine, the other principal point, the deformer's study of larger conventions.

    python -m lm3d.reproduce --train-all --jobs 2 --mtcnn-boxes reports/mtcnn_boxes.json
    python -m lm3d.reproduce --train-all --extras --jobs 2
"""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from .deformer import CONVENTION_SCALES, DEFORMER_ROWS, scaled_run
from .extras import extra_runs
from .head_3d import HEAD_3D
from .ladder import LADDER
from .seed_runs import evaluate_with_boxes, in_processes, run_seed

# The seconds of one training step of each variant against the baseline's, under the standard preset on the 2-core
# CPU (images per second in the runs' logs, two trainings at once): only the order of the queue depends on it
TRAINING_COST = {"baseline": 1.0, "crop-3d": 1.4, "s-similarity": 1.7, "s-affine": 1.7, "s-3d": 1.9, "full": 2.0}


# notebook 06 at full size shows seed 0 of the box-crop deformer rows with every convention this many times larger
NOTEBOOK_06_SCALE = 4.0


def every_run(preset_name: str, seeds: list[int]) -> list[tuple]:
    """(variant, seed, overrides, tag) of every training of the ladder, the 3D head's and the deformer's tables and
    of notebook 06, each once."""
    specs = [(rung.variant, seed, rung.overrides, rung.tag) for rung in LADDER if rung.boxes in (None, "simulated")
             for seed in seeds]
    specs += [(variant, seed, None, None) for _, variant, _ in HEAD_3D for seed in seeds]
    specs += [(variant, seed, overrides, tag) for _, variant, overrides, tag in DEFORMER_ROWS for seed in seeds]
    specs += [scaled_run(variant, seeds[0], overrides, tag, NOTEBOOK_06_SCALE)
              for _, variant, overrides, tag in DEFORMER_ROWS if variant == "crop-3d"]
    return _unique(specs)


def every_extra_run(preset_name: str, seeds: list[int]) -> list[tuple]:
    """(variant, seed, overrides, tag) of every training of make reproduce-extras not in ``every_run``."""
    specs = extra_runs(preset_name, seeds)
    specs += [scaled_run(variant, seeds[0], overrides, tag, scale) for scale in CONVENTION_SCALES
              for _, variant, overrides, tag in DEFORMER_ROWS]
    main = {json.dumps(spec, sort_keys=True) for spec in every_run(preset_name, seeds)}
    return [spec for spec in _unique(specs) if json.dumps(spec, sort_keys=True) not in main]


def _unique(specs: list[tuple]) -> list[tuple]:
    return list({json.dumps(spec, sort_keys=True): spec for spec in specs}.values())


def box_evaluations(seeds: list[int], mtcnn_boxes: Path | None) -> list[tuple]:
    """(variant, seed, boxes, label) of the ladder's rows scored on a face finder's boxes (MTCNN's when given)."""
    specs = []
    for _, variant, boxes, _, _ in LADDER:
        if boxes == "mtcnn" and mtcnn_boxes is not None and mtcnn_boxes.exists():
            specs += [(variant, seed, f"file:{mtcnn_boxes}", "mtcnn") for seed in seeds]
        elif boxes == "lbp":
            specs += [(variant, seed, "lbp", "lbp") for seed in seeds]
    return specs


def _train(spec: tuple, preset_name: str, runs: Path) -> None:
    variant, seed, overrides, tag = spec
    run_seed(preset_name, seed, runs, variant, overrides, tag)


def _score(spec: tuple, preset_name: str, runs: Path) -> None:
    variant, seed, boxes, label = spec
    evaluate_with_boxes(preset_name, seed, runs, boxes, label, variant)


def train_all(preset_name: str, seeds: list[int], runs: Path, mtcnn_boxes: Path | None, jobs: int = 1,
              extras: bool = False) -> dict:
    """Train and evaluate every run of ``every_run`` (the costliest first), then score the ``box_evaluations``,
    ``jobs`` at a time, each in a process of its own; finished runs and current metrics are reused. Returns how
    many of each were asked for. ``extras``: the runs of ``every_extra_run`` instead, and no box to score."""
    specs = every_extra_run(preset_name, seeds) if extras else every_run(preset_name, seeds)
    trainings = sorted(specs, key=lambda spec: -TRAINING_COST.get(spec[0], 1.0))
    scorings = [] if extras else box_evaluations(seeds, mtcnn_boxes)
    in_processes(partial(_train, preset_name=preset_name, runs=runs), trainings, jobs)
    in_processes(partial(_score, preset_name=preset_name, runs=runs), scorings, jobs)
    return {"trainings": len(trainings), "box evaluations": len(scorings)}
