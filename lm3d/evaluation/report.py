"""The evaluation report of a checkpoint: every measure on the SynthFaces test sets, as one JSON document.

    python -m lm3d.evaluate --checkpoint runs/std1/checkpoint.pt --out runs/std1/metrics.json
    python -m lm3d.evaluate --checkpoint runs/base/checkpoint.pt --boxes lbp --out E.json   # a real finder's boxes
    python -m lm3d.evaluate --checkpoint runs/s/checkpoint.pt --recrop 1 --out E.json      # an S model, one re-crop

Models with a spatial transformer get the whole image and find the face themselves (given a real finder's
``--boxes``, they are scored on the faces that finder found, for a comparison on the same faces). The baseline crops
around a face box from ``--boxes``: ``simulated`` (default: ground-truth boxes with detector-like jitter
from a fixed generator, so every model sees the same boxes), ``lbp`` (scikit-image's LBP cascade, run
here), or ``file:PATH`` (boxes a peer detector such as MTCNN wrote, see ``benchmarks/face_boxes.py``).
With a real face finder, faces it misses are left out and ``found`` says how many it found.

The report holds ``sources`` (``lm3d.evaluation.landmarks``: NME, FR and AUC per source and subset),
``localisation`` (per source: ``lost_face_rate``, the % of faces whose crop lost the face, and ``nme_found``, the NME
of the others; ``lm3d.evaluation.landmarks.lost_faces``), ``heldout``
(held-out queries against the layout's), ``deformer`` (``lm3d.evaluation.conventions``), for a model with a 3D head
``pose`` (``lm3d.evaluation.pose``: rotation, focal, 3D and visibility errors against the exact truth), and
``stability`` (``lm3d.evaluation.video``: jitter on fixed test clips), with their headline numbers in ``summary``.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from ..model import checkpoint
from ..runtime import intra_op_threads
from .conventions import evaluate_deformer
from .landmarks import evaluate_heldout, evaluate_source
from .pose import evaluate_pose
from .test_sets import EVAL_SOURCES
from .video import evaluate_stability

EVALUATION_VERSION = 5  # bumped when the evaluation adds or changes a number (2: deformer.canonical_nme, 3:
#                         localisation.<source>.lost_face_rate, 4: sources.<source>.all.nme_per_face, the
#                         One-Euro-filtered stability numbers, pose.<source>.rotation_by_yaw; 5: the filter's chosen
#                         settings); cached metrics of another version are recomputed by lm3d.reproduce


def evaluate_checkpoint(path: str | Path, count: int = 500, image_size: int | None = None,
                        eval_sources=EVAL_SOURCES, boxes: str = "simulated", stability: bool = True,
                        recrop: int | None = None) -> dict:
    """Every measure of the checkpoint at ``path``; ``recrop``: an S model's re-crops at inference (None: its own)."""
    data = checkpoint.load(path, kind=checkpoint.MODEL_KINDS)
    with intra_op_threads(data["train_config"].get("threads", 0)):  # the threads it was trained with, if recorded
        return _evaluate(path, data, count, image_size, eval_sources, boxes, stability, recrop)


def _evaluate(path, data: dict, count: int, image_size: int | None, eval_sources, boxes: str, stability: bool,
              recrop: int | None) -> dict:
    size = image_size or data["train_config"]["image_size"]
    scale = data["train_config"].get("convention_scale", 1.0)  # (checkpoints from before the field: 1)
    model = checkpoint.load_model(path)
    if recrop is not None:
        if model.needs_box:
            raise ValueError(f"recrop={recrop}: {path} is a box model; only an S model re-crops")
        model.config = replace(model.config, recrop=recrop).validate()
    evaluated = {name: evaluate_source(model, name, count, size, boxes=boxes, convention_scale=scale)
                 for name in eval_sources}
    per_source = {name: result.subsets for name, result in evaluated.items()}
    heldout = evaluate_heldout(model, min(count, 200), size)
    results = {"evaluation_version": EVALUATION_VERSION, "checkpoint": str(path), "step": data["step"],
               "image_size": size, "faces_per_source": count, "convention_scale": scale,
               "variant": data["train_config"].get("variant", "baseline"),
               "boxes": boxes if model.needs_box else ("S" if boxes == "simulated" else f"S, on the faces of {boxes}"),
               "recrop": model.recrops,
               "sources": per_source, "found": {name: result.found for name, result in evaluated.items()},
               "localisation": {name: result.localisation for name, result in evaluated.items()}, "heldout": heldout,
               "summary": {**{f"nme_{name}": r["all"]["nme"] for name, r in per_source.items() if "all" in r},
                           **{f"lost_face_rate_{name}": r.localisation["lost_face_rate"] for name, r in evaluated.items()
                              if r.localisation},
                           "heldout_over_layout_nme": heldout["ratio"]}}
    results["deformer"] = evaluate_deformer(model, count, size, boxes=boxes, convention_scale=scale)
    results["summary"].update({f"canonical_nme_{name}": v for name, v in results["deformer"]["canonical_nme"].items()
                               if v is not None})
    if model.camera_head is not None:
        results["pose"] = {name: evaluate_pose(model, name, count, size, boxes=boxes) for name in eval_sources}
        results["summary"].update({f"{key}_{name}": r[key] for name, r in results["pose"].items()
                                   for key in ("rotation_deg", "focal_log_error", "nme3d", "visibility_f1") if key in r})
    if stability:
        results["stability"] = {name: evaluate_stability(model, name, size, boxes=boxes) for name in eval_sources}
        results["summary"].update({f"{key}_{name}": value for name, r in results["stability"].items()
                                   for key, value in r.items() if key in ("static_jitter", "motion_jitter")})
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate a checkpoint on SynthFaces test sets (JSON out).")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--boxes", default="simulated", help="face boxes for a box model: simulated, lbp or file:PATH")
    parser.add_argument("--no-stability", action="store_true", help="skip the video clips")
    parser.add_argument("--recrop", type=int, default=None,
                        help="an S model's re-crops at inference, 0-4 (default: the checkpoint's own)")
    args = parser.parse_args(argv)
    if args.count < 1:
        raise SystemExit("--count must be at least 1")
    try:
        results = evaluate_checkpoint(args.checkpoint, args.count, boxes=args.boxes, stability=not args.no_stability,
                                      recrop=args.recrop)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["summary"], indent=1))
