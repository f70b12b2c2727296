"""The query deformer D against SynthFaces' true annotation conventions.

    deformer.canonical_nme.<source>        NME against the exact canonical truth (the layout's nominal surface
                                           points, no convention, no annotation noise), asked with dataset=None;
                                           every model has it, so models with and without D compare directly
    deformer.learned_vs_true_cm.<source>   (models with D) mean distance in cm between D's offset of each layout
                                           point and the source's true convention offset, overall and per landmark
                                           group, beside the true offsets' own mean length (what no D would leave)

Without D a model trained on mixed conventions is pulled toward their average, also when asked for the canonical
points; with D it can keep the reference meaning for dataset=None and move each dataset's queries by its offset.
"""
from __future__ import annotations

import torch

from . import metrics
from .detectors import face_boxes
from .evaluate import predict_batches
from .face import CanonicalFace, layouts
from .synth import SynthFaces, pose_scenes, project_queries, sources

CANONICAL_SOURCES = ("synth300w", "synthwflw", "synthmpie")


def canonical_nme(model, source: str, count: int, image_size: int, seed: int = 0,
                  boxes: str = "simulated") -> float | None:
    """NME of the nominal layout points asked with dataset=None, against their exact projection (of the faces a box
    model's detector found; None when it found none)."""
    data = SynthFaces(source, "test", count, seed=seed, image_size=image_size)
    layout = layouts.get(sources.get(source).layout)
    images, bbox, iod, truth = [], [], [], []
    for s in range(0, count, 128):
        indices = list(range(s, min(s + 128, count)))
        rendered = data.render(indices)
        images.append(rendered["image"]), bbox.append(rendered["bbox"]), iod.append(rendered["iod"])
        geometry = pose_scenes(data.scenes(indices), image_size)
        truth.append(project_queries(geometry, layout.triangle, layout.barycentric)["landmarks2d"])
    images, bbox, iod, truth = (torch.cat(x) for x in (images, bbox, iod, truth))
    chosen, found = (face_boxes(boxes, images, bbox, key=f"{source}/test") if model.needs_box
                     else (None, torch.ones(count, dtype=torch.bool)))
    keep = found.nonzero()[:, 0]
    if len(keep) == 0:
        return None  # the detector found no face: nothing to measure
    predicted = predict_batches(model, images[keep], None if chosen is None else chosen[keep],
                                layout.points(CanonicalFace.load()))["landmarks2d"]
    return metrics.nme_per_face(predicted, truth[keep], iod[keep]).mean().item()


@torch.no_grad()
def learned_offsets(model, source: str) -> torch.Tensor:
    """(K,3) D's offsets (cm) of the source's layout points when asked in that source's convention."""
    layout = layouts.get(sources.get(source).layout)
    points = layout.points(CanonicalFace.load()).to(next(model.parameters()).device)
    codes = model.deformer.index([source])
    return model.deformer(points, model.queries(points), codes)[0].cpu()


def offset_errors(model, source: str) -> dict:
    """D's offsets against the true convention offsets of one source, overall and per landmark group."""
    layout = layouts.get(sources.get(source).layout)
    true = sources.convention_points(source)[1]
    error = (learned_offsets(model, source) - true).norm(dim=-1)
    groups = {g: error[[i for i, x in enumerate(layout.groups) if x == g]].mean().item() for g in dict.fromkeys(layout.groups)}
    return {"mean": error.mean().item(), "true_mean": true.norm(dim=-1).mean().item(), "groups": groups}


def evaluate_deformer(model, count: int, image_size: int, seed: int = 0, boxes: str = "simulated") -> dict:
    out = {"canonical_nme": {name: canonical_nme(model, name, count, image_size, seed, boxes) for name in CANONICAL_SOURCES}}
    if model.deformer is not None:
        out["learned_vs_true_cm"] = {name: offset_errors(model, name) for name in model.deformer.datasets}
    return out
