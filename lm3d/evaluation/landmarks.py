"""Landmark accuracy on the SynthFaces test sets: NME, FR and AUC per source and subset, and held-out queries.

Targets are each source's own annotations (convention and annotation noise included), as a real test set would
give them. The "any landmark" test asks for the ``heldout`` surface points, never used in training, on the
``synth300w`` test faces, and compares their NME with the NME of the ibug68 points on the same faces, both
against exact (noise-free) truth.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..face import CanonicalFace, layouts
from ..inference.predict import predict_batches
from ..model.crop import box_to_transform
from ..synth import project_queries, sources
from . import metrics
from .test_sets import found_faces, test_faces


def own_dataset(model, source: str) -> str | None:
    """The dataset code a model asks ``source``'s faces in: the source's own with D trained on it, else None."""
    return source if model.deformer is not None and source in model.deformer.datasets else None


class SourceResult(NamedTuple):
    subsets: dict  # "all", "common", "challenging": NME, FR and AUC (lm3d.evaluation.metrics.summarize); "all"
    #                also "nme_per_face", in the order of the test faces (the faces found, for a real finder)
    found: float  # % of the faces the face boxes found (100 for a model with S)
    localisation: dict  # lost_face_rate (% of the faces seen) and nme_found (NME of the others), see lost_faces


def evaluate_source(model, source: str, count: int, image_size: int, seed: int = 0,
                    boxes: str = "simulated", convention_scale: float = 1.0) -> SourceResult:
    """NME, FR and AUC per subset (all, common, challenging), the percentage of faces the boxes found, and how
    often the crop lost the face. ``convention_scale``: the conventions' size the model was trained with (its test
    sets share it)."""
    faces = test_faces(source, count, image_size, seed, convention_scale)
    faces, chosen, rate = found_faces(model, boxes, faces, key=f"{source}/test")
    if len(faces["image"]) == 0:
        return SourceResult({}, rate, {})
    queries = layouts.get(sources.get(source).layout).points(CanonicalFace.load())
    predicted = predict_batches(model, faces["image"], chosen, queries, dataset=own_dataset(model, source))
    nme = metrics.nme_per_face(predicted["landmarks2d"], faces["landmarks2d"], faces["iod"])
    challenging = faces["challenging"]
    # every face's NME too (rounded to 0.001 %), for CED curves and bootstrap intervals over faces
    result = {"all": {**metrics.summarize(nme), "nme_per_face": [round(v, 3) for v in nme.tolist()]}}
    for subset, chosen_faces in (("common", ~challenging), ("challenging", challenging)):
        if chosen_faces.any():
            result[subset] = metrics.summarize(nme[chosen_faces])
    lost = lost_faces(predicted["transform"], faces["bbox"], model.config.crop_margin)
    localisation = {"lost_face_rate": 100 * lost.float().mean().item(),
                    "nme_found": nme[~lost].mean().item() if (~lost).any() else None}
    return SourceResult(result, rate, localisation)


def lost_faces(transforms: torch.Tensor, true_boxes: torch.Tensor, margin: float) -> torch.Tensor:
    """(N,) whether each crop (N,2,3) has lost its face: its centre further from the true face box's centre than
    half the box's longer side, or its size off by more than a factor of two from the box crop of the true face
    (``lm3d.model.crop.box_to_transform`` with the model's margin). A box model's crop comes from its face box, so
    only a finder's bad box loses a face; S has to find the face itself."""
    ratio, offset = crop_placement(transforms, true_boxes, margin)
    return (offset > 0.5) | (ratio > 2) | (ratio < 0.5)


def crop_placement(transforms: torch.Tensor, true_boxes: torch.Tensor, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """How each crop (N,2,3) sits against the box crop of the true face (``box_to_transform`` with ``margin``): its
    size over that crop's (N,), and its centre's distance from that crop's centre in face sizes (the true box's
    longer side) (N,)."""
    reference = box_to_transform(true_boxes.float(), margin)
    size = transforms[:, :, :2].det().abs().sqrt()  # the crop's half-size in pixels (an affine crop's mean)
    face_size = (true_boxes[:, 2:] - true_boxes[:, :2]).max(-1).values
    return size / reference[:, 0, 0], (transforms[:, :, 2] - reference[:, :, 2]).norm(dim=-1) / face_size


HELDOUT_LAYOUTS = ("ibug68", "heldout")


def evaluate_heldout(model, count: int, image_size: int, seed: int = 0) -> dict:
    """NME of held-out surface points against the NME of ibug68 points, same faces, exact truth."""
    def exact(geometry):
        return {name: project_queries(geometry, layouts.get(name).triangle, layouts.get(name).barycentric)["landmarks2d"]
                for name in HELDOUT_LAYOUTS}

    faces = test_faces("synth300w", count, image_size, seed, keys=("image", "bbox", "iod"), truth=exact)
    faces, chosen, _ = found_faces(model, "simulated", faces, key="synth300w/test")
    face = CanonicalFace.load()
    out = {}
    for name in HELDOUT_LAYOUTS:
        predicted = predict_batches(model, faces["image"], chosen, layouts.get(name).points(face))["landmarks2d"]
        out[name] = metrics.summarize(metrics.nme_per_face(predicted, faces[name], faces["iod"]))
    out["ratio"] = out["heldout"]["nme"] / out["ibug68"]["nme"]
    return out
