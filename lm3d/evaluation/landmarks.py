"""Landmark accuracy on the SynthFaces test sets: NME, FR and AUC per source and subset, and held-out queries.

Targets are each source's own annotations (convention and annotation noise included), as a real test set would
give them. The "any landmark" test asks for the ``heldout`` surface points, never used in training, on the
``synth300w`` test faces, and compares their NME with the NME of the ibug68 points on the same faces, both
against exact (noise-free) truth.
"""
from __future__ import annotations

from ..face import CanonicalFace, layouts
from ..inference.predict import predict_batches
from ..synth import project_queries, sources
from . import metrics
from .test_sets import found_faces, test_faces


def own_dataset(model, source: str) -> str | None:
    """The dataset code a model asks ``source``'s faces in: the source's own with D trained on it, else None."""
    return source if model.deformer is not None and source in model.deformer.datasets else None


def evaluate_source(model, source: str, count: int, image_size: int, seed: int = 0,
                    boxes: str = "simulated", convention_scale: float = 1.0) -> tuple[dict, float]:
    """NME, FR and AUC per subset (all, common, challenging), and the percentage of faces the boxes found.
    ``convention_scale``: the conventions' size the model was trained with (its test sets share it)."""
    faces = test_faces(source, count, image_size, seed, convention_scale)
    faces, chosen, rate = found_faces(model, boxes, faces, key=f"{source}/test")
    if len(faces["image"]) == 0:
        return {}, rate
    queries = layouts.get(sources.get(source).layout).points(CanonicalFace.load())
    predicted = predict_batches(model, faces["image"], chosen, queries, dataset=own_dataset(model, source))
    nme = metrics.nme_per_face(predicted["landmarks2d"], faces["landmarks2d"], faces["iod"])
    challenging = faces["challenging"]
    result = {"all": metrics.summarize(nme)}
    for subset, chosen_faces in (("common", ~challenging), ("challenging", challenging)):
        if chosen_faces.any():
            result[subset] = metrics.summarize(nme[chosen_faces])
    return result, rate


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
