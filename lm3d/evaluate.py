"""Evaluation on SynthFaces test sets: NME, FR and AUC per source and subset, held-out queries, stability.

    python -m lm3d.evaluate --checkpoint runs/std1/checkpoint.pt --out runs/std1/metrics.json
    python -m lm3d.evaluate --checkpoint runs/base/checkpoint.pt --boxes lbp --out E.json   # a real detector's boxes

Models with a spatial transformer get the whole image and find the face themselves. The baseline crops
around a face box from ``--boxes``: ``simulated`` (default: ground-truth boxes with detector-like jitter
from a fixed generator, so every model sees the same boxes), ``lbp`` (scikit-image's LBP cascade, run
here), or ``file:PATH`` (boxes a peer detector such as MTCNN wrote, see ``benchmarks/detector_boxes.py``).
With a real detector, faces it misses are left out and ``found`` says how many it found.

Targets are each source's own annotations (convention and annotation noise included), as a real test set
would give them. The "any landmark" test asks for the ``heldout`` surface points, never used in training,
on the ``synth300w`` test faces, and compares their NME with the NME of the ibug68 points on the same
faces, both against exact (noise-free) truth. A model with a 3D head adds ``pose`` (``lm3d.evaluate_pose``:
rotation, focal, 3D and visibility errors against the exact truth). ``stability`` holds the jitter of ``lm3d.stability``,
measured on fixed test clips (``lm3d.evaluate_video``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from . import checkpoint, metrics
from .detectors import BOX_SEED, face_boxes  # noqa: F401 (BOX_SEED: notebook 03)
from .face import CanonicalFace, layouts
from .model import ContinuousLandmarkModel, ModelConfig
from .runtime import default_device
from .synth import SynthFaces, pose_scenes, project_queries, sources

EVAL_SOURCES = ("synth300w", "synthwflw", "synthmpie", "hmc")
EVALUATION_VERSION = 2  # bumped when the evaluation adds or changes a number (2: deformer.canonical_nme); cached
#                         metrics of another version are recomputed by lm3d.reproduce
KEYS = ("image", "landmarks2d", "iod", "bbox", "challenging")


def load_model(path: str | Path, device=None) -> ContinuousLandmarkModel:
    data = checkpoint.load(path, kind=checkpoint.DETECTOR_KINDS)
    try:
        model = ContinuousLandmarkModel(ModelConfig(**data["model_config"]))
        model.load_state_dict(data["model"])
    except (RuntimeError, TypeError, ValueError) as error:
        raise checkpoint.CheckpointError(f"{path}: weights do not fit the model config ({str(error)[:200]})") from None
    if model.camera_head is not None:
        try:
            model.camera_head.check()
        except ValueError as error:
            raise checkpoint.CheckpointError(f"{path}: the camera head's rotation is broken ({error})") from None
    return model.to(device or default_device()).eval()


POSE_KEYS = ("landmarks3d", "rotation", "translation", "intrinsics")  # a 3D head's outputs


@torch.no_grad()
def predict_batches(model, images, boxes, queries, batch_size: int = 64, dataset: str | None = None) -> dict:
    """Landmarks (N,K,2), crop transforms (N,2,3), with S face scores (N,), with a 3D head its ``POSE_KEYS``.

    ``boxes`` (N,4) is needed by a model that crops around a face box and ignored by one with S. ``dataset``: answer
    in that dataset's convention (a model with D); None: the canonical semantics.
    """
    device = next(model.parameters()).device
    out = {key: [] for key in ("landmarks2d", "transform", "face_score") + POSE_KEYS}
    for s in range(0, len(images), batch_size):
        chosen = None if not model.needs_box else boxes[s:s + batch_size].to(device)
        count = len(images[s:s + batch_size])
        codes = None if dataset is None else dataset_codes(model, dataset, count)
        result = model(images[s:s + batch_size].to(device), chosen, queries.to(device), codes)
        if "face_logit" in result:
            result["face_score"] = torch.sigmoid(result["face_logit"].float())
        for key in out:
            if key in result:
                out[key].append(result[key].float().cpu())
    return {k: torch.cat(v) if v else None for k, v in out.items()}


def dataset_codes(model, dataset: str, count: int):
    """D's indices for ``count`` images asked in ``dataset``'s convention; a clear error without D or for a stranger."""
    if model.deformer is None:
        raise ValueError(f"this model has no query deformer D (variant full has one): it cannot answer in "
                         f"{dataset!r}'s convention; use dataset=None")
    return model.deformer.index([dataset] * count)


def own_dataset(model, source: str) -> str | None:
    """The dataset code a model asks ``source``'s faces in: the source's own with D trained on it, else None."""
    return source if model.deformer is not None and source in model.deformer.datasets else None


def render_test_set(source: str, count: int, image_size: int, seed: int = 0, convention_scale: float = 1.0) -> dict:
    data = SynthFaces(source, "test", count, seed=seed, image_size=image_size, convention_scale=convention_scale)
    return data.render_all(KEYS)


def evaluate_source(model, source: str, count: int, image_size: int, seed: int = 0,
                    boxes: str = "simulated", convention_scale: float = 1.0) -> tuple[dict, float]:
    """NME, FR and AUC per subset (all, common, challenging), and the percentage of faces the boxes found.
    ``convention_scale``: the conventions' size the model was trained with (its test sets share it)."""
    batch = render_test_set(source, count, image_size, seed, convention_scale)
    found = torch.ones(count, dtype=torch.bool)
    chosen = None
    if model.needs_box:
        chosen, found = face_boxes(boxes, batch["image"], batch["bbox"], key=f"{source}/test")
    queries = layouts.get(sources.get(source).layout).points(CanonicalFace.load())
    keep = found.nonzero()[:, 0]
    result, rate = {}, 100 * found.float().mean().item()
    if len(keep) == 0:
        return result, rate
    predicted = predict_batches(model, batch["image"][keep], None if chosen is None else chosen[keep], queries,
                                dataset=own_dataset(model, source))
    nme = metrics.nme_per_face(predicted["landmarks2d"], batch["landmarks2d"][keep], batch["iod"][keep])
    challenging = batch["challenging"][keep]
    result["all"] = metrics.summarize(nme)
    for subset, chosen_faces in (("common", ~challenging), ("challenging", challenging)):
        if chosen_faces.any():
            result[subset] = metrics.summarize(nme[chosen_faces])
    return result, rate


def evaluate_heldout(model, count: int, image_size: int, seed: int = 0) -> dict:
    """NME of held-out surface points against the NME of ibug68 points, same faces, exact truth."""
    data = SynthFaces("synth300w", "test", count, seed=seed, image_size=image_size)
    face = CanonicalFace.load()
    images, boxes, iod, truth = [], [], [], {"ibug68": [], "heldout": []}
    for indices in data.chunks():
        rendered = data.render(indices)
        images.append(rendered["image"]), boxes.append(rendered["bbox"]), iod.append(rendered["iod"])
        geometry = pose_scenes(data.scenes(indices), image_size)  # posed once, projected for both layouts
        for name in truth:
            layout = layouts.get(name)
            truth[name].append(project_queries(geometry, layout.triangle, layout.barycentric)["landmarks2d"])
    images, iod = torch.cat(images), torch.cat(iod)
    boxes, _ = face_boxes("simulated", images, torch.cat(boxes))
    out = {}
    for name in truth:
        predicted = predict_batches(model, images, boxes, layouts.get(name).points(face))["landmarks2d"]
        out[name] = metrics.summarize(metrics.nme_per_face(predicted, torch.cat(truth[name]), iod))
    out["ratio"] = out["heldout"]["nme"] / out["ibug68"]["nme"]
    return out


def evaluate_checkpoint(path: str | Path, count: int = 500, image_size: int | None = None,
                        eval_sources=EVAL_SOURCES, boxes: str = "simulated", stability: bool = True) -> dict:
    from .evaluate_deformer import evaluate_deformer  # (these import this module: imported here, not at the top)
    from .evaluate_pose import evaluate_pose
    from .evaluate_video import evaluate_stability

    data = checkpoint.load(path, kind=checkpoint.DETECTOR_KINDS)
    size = image_size or data["train_config"]["image_size"]
    scale = data["train_config"].get("convention_scale", 1.0)  # (checkpoints from before the field: 1)
    model = load_model(path)
    evaluated = {name: evaluate_source(model, name, count, size, boxes=boxes, convention_scale=scale)
                 for name in eval_sources}
    per_source = {name: subsets for name, (subsets, _) in evaluated.items()}
    heldout = evaluate_heldout(model, min(count, 200), size)
    results = {"evaluation_version": EVALUATION_VERSION, "checkpoint": str(path), "step": data["step"],
               "image_size": size, "faces_per_source": count, "convention_scale": scale,
               "variant": data["train_config"].get("variant", "baseline"), "boxes": boxes if model.needs_box else "S",
               "sources": per_source, "found": {name: rate for name, (_, rate) in evaluated.items()}, "heldout": heldout,
               "summary": {**{f"nme_{name}": r["all"]["nme"] for name, r in per_source.items() if "all" in r},
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
    args = parser.parse_args(argv)
    if args.count < 1:
        raise SystemExit("--count must be at least 1")
    results = evaluate_checkpoint(args.checkpoint, args.count, boxes=args.boxes, stability=not args.no_stability)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["summary"], indent=1))


if __name__ == "__main__":
    main()
