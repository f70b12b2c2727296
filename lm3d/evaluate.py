"""Evaluation on SynthFaces test sets: NME, FR and AUC per source and subset, and held-out queries.

    python -m lm3d.evaluate --checkpoint runs/std1/checkpoint.pt --out runs/std1/metrics.json

Faces are cropped from simulated detector boxes (ground-truth boxes with detector-like jitter
from a fixed generator, so every model sees the same boxes). Targets are each source's own
annotations (convention and annotation noise included), as a real test set would give them.
The "any landmark" test asks for the ``heldout`` surface points, never used in training, on the
``synth300w`` test faces, and compares their NME with the NME of the ibug68 points on the same
faces, both against exact (noise-free) truth.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from . import checkpoint, metrics
from .face import CanonicalFace, layouts
from .model import ContinuousLandmarkModel, ModelConfig, crop
from .runtime import default_device
from .synth import SynthFaces, pose_scenes, project_queries, sources

EVAL_SOURCES = ("synth300w", "synthwflw", "synthmpie", "hmc")
BOX_SEED = 12345


def load_model(path: str | Path, device=None) -> ContinuousLandmarkModel:
    data = checkpoint.load(path, kind="baseline")
    model = ContinuousLandmarkModel(ModelConfig(**data["model_config"]))
    try:
        model.load_state_dict(data["model"])
    except RuntimeError as error:
        raise checkpoint.CheckpointError(f"{path}: weights do not fit the model config ({str(error)[:200]})") from None
    return model.to(device or default_device()).eval()


@torch.no_grad()
def predict_batches(model, images, boxes, queries, batch_size: int = 64) -> torch.Tensor:
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(images), batch_size):
        out.append(model(images[s:s + batch_size].to(device), boxes[s:s + batch_size].to(device),
                         queries.to(device))["landmarks2d"].float().cpu())
    return torch.cat(out)


def evaluate_source(model, source: str, count: int, image_size: int, seed: int = 0) -> dict:
    data = SynthFaces(source, "test", count, seed=seed, image_size=image_size)
    rendered = [data.render(list(range(s, min(s + 128, count)))) for s in range(0, count, 128)]
    batch = {k: torch.cat([r[k] for r in rendered]) for k in ("image", "landmarks2d", "iod", "bbox", "challenging")}
    boxes = crop.jitter_boxes(batch["bbox"], torch.Generator().manual_seed(BOX_SEED))
    queries = layouts.get(sources.get(source).layout).points(CanonicalFace.load())
    predicted = predict_batches(model, batch["image"], boxes, queries)
    nme = metrics.nme_per_face(predicted, batch["landmarks2d"], batch["iod"])
    result = {"all": metrics.summarize(nme)}
    for subset, chosen in (("common", ~batch["challenging"]), ("challenging", batch["challenging"])):
        if chosen.any():
            result[subset] = metrics.summarize(nme[chosen])
    return result


def evaluate_heldout(model, count: int, image_size: int, seed: int = 0) -> dict:
    """NME of held-out surface points against the NME of ibug68 points, same faces, exact truth."""
    data = SynthFaces("synth300w", "test", count, seed=seed, image_size=image_size)
    face = CanonicalFace.load()
    images, boxes, iod, truth = [], [], [], {"ibug68": [], "heldout": []}
    for s in range(0, count, 128):
        indices = list(range(s, min(s + 128, count)))
        rendered = data.render(indices)
        images.append(rendered["image"]), boxes.append(rendered["bbox"]), iod.append(rendered["iod"])
        geometry = pose_scenes(data.scenes(indices), image_size)  # posed once, projected for both layouts
        for name in truth:
            layout = layouts.get(name)
            truth[name].append(project_queries(geometry, layout.triangle, layout.barycentric)["landmarks2d"])
    images, iod = torch.cat(images), torch.cat(iod)
    boxes = crop.jitter_boxes(torch.cat(boxes), torch.Generator().manual_seed(BOX_SEED))
    out = {}
    for name in truth:
        predicted = predict_batches(model, images, boxes, layouts.get(name).points(face))
        out[name] = metrics.summarize(metrics.nme_per_face(predicted, torch.cat(truth[name]), iod))
    out["ratio"] = out["heldout"]["nme"] / out["ibug68"]["nme"]
    return out


def evaluate_checkpoint(path: str | Path, count: int = 500, image_size: int | None = None,
                        eval_sources=EVAL_SOURCES) -> dict:
    data = checkpoint.load(path, kind="baseline")
    size = image_size or data["train_config"]["image_size"]
    model = load_model(path)
    per_source = {name: evaluate_source(model, name, count, size) for name in eval_sources}
    heldout = evaluate_heldout(model, min(count, 200), size)
    return {"checkpoint": str(path), "step": data["step"], "image_size": size, "faces_per_source": count,
            "sources": per_source, "heldout": heldout,
            "summary": {**{f"nme_{name}": r["all"]["nme"] for name, r in per_source.items()},
                        "heldout_over_layout_nme": heldout["ratio"]}}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate a checkpoint on SynthFaces test sets (JSON out).")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args(argv)
    if args.count < 1:
        raise SystemExit("--count must be at least 1")
    results = evaluate_checkpoint(args.checkpoint, args.count)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["summary"], indent=1))


if __name__ == "__main__":
    main()
