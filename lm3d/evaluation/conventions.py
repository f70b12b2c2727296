"""The query deformer D against SynthFaces' true annotation conventions.

    deformer.canonical_nme.<source>        NME against the exact canonical truth (the layout's nominal surface
                                           points, no convention, no annotation noise), asked with dataset=None;
                                           every model has it, so models with and without D compare directly
    deformer.residual.<source>             (3D heads) along_cm / across_cm: the 3D error of the points asked in the
                                           source's own convention, along the surface and across it
    deformer.learned_vs_true_cm.<source>   (models with D) mean distance in cm between D's offset of each layout
                                           point and the source's true convention offset, overall and per landmark
                                           group, beside the true offsets' own mean length (what no D would leave)

Without D a model trained on mixed conventions is pulled toward their average, also when asked for the canonical
points; with D it can keep the reference meaning for dataset=None and move each dataset's queries by its offset.
"""
from __future__ import annotations

import torch

from ..face import CanonicalFace, layouts
from ..inference.predict import predict_batches
from ..model.deformer import nearest_vertex_normals
from ..synth import project_queries, sources
from . import metrics
from .landmarks import own_dataset
from .test_sets import found_faces, test_faces

CANONICAL_SOURCES = ("synth300w", "synthwflw", "synthmpie")


def conventions_on_test_faces(model, source: str, count: int, image_size: int, seed: int = 0,
                              boxes: str = "simulated", convention_scale: float = 1.0) -> dict:
    """On one source's test faces: ``canonical_nme`` (dataset=None against the exact nominal points) and, for a 3D
    head, ``along_cm`` / ``across_cm``: the 3D residual of the points asked in the source's own convention (a model
    with D asks with the source's code) against the true convention points on the face, split into its part along
    the surface and its part along the normal. A convention moves points along the surface, so that is the part
    D should remove. Only the faces a box model's face finder found count; none found: an empty dict."""
    layout = layouts.get(sources.get(source).layout)
    convention = sources.convention_points(source, convention_scale)[0]  # the surface points its annotators label

    def exact(geometry):
        return {"nominal2d": project_queries(geometry, layout.triangle, layout.barycentric)["landmarks2d"],
                "convention3d": project_queries(geometry, *convention)["points_deformed"]}

    faces = test_faces(source, count, image_size, seed, convention_scale, keys=("image", "bbox", "iod"), truth=exact)
    faces, boxes_kept, _ = found_faces(model, boxes, faces, key=f"{source}/test")
    if len(faces["image"]) == 0:
        return {}  # the finder found no face: nothing to measure
    face = CanonicalFace.load()
    canonical = predict_batches(model, faces["image"], boxes_kept, layout.points(face))
    out = {"canonical_nme": metrics.nme_per_face(canonical["landmarks2d"], faces["nominal2d"], faces["iod"]).mean().item()}
    if model.camera_head is not None:
        asked = predict_batches(model, faces["image"], boxes_kept, layout.points(face), dataset=own_dataset(model, source))
        residual = asked["landmarks3d"] - faces["convention3d"]
        normal = nearest_vertex_normals(faces["convention3d"], face.vertices, face.vertex_normals()).reshape(-1, 3)
        across = (residual.reshape(-1, 3) * normal).sum(-1, keepdim=True)
        out["along_cm"] = (residual.reshape(-1, 3) - across * normal).norm(dim=-1).mean().item()
        out["across_cm"] = across.abs().mean().item()
    return out


@torch.no_grad()
def learned_offsets(model, source: str, asked_as: str | None = None) -> torch.Tensor:
    """(K,3) D's offsets (cm) of the source's layout points when asked in ``asked_as``'s convention (default: the
    source's own)."""
    layout = layouts.get(sources.get(source).layout)
    points = layout.points(CanonicalFace.load()).to(next(model.parameters()).device)
    codes = model.deformer.index([asked_as or source])
    return model.deformer(points, model.queries(points), codes)[0].cpu()


def reference_dataset(model) -> str | None:
    """The first of D's datasets whose convention is the reference one (no offsets), e.g. synth300w."""
    return next((name for name in model.deformer.datasets if not sources.get(name).convention), None)


def offset_errors(model, source: str, convention_scale: float = 1.0, asked_as: str | None = None) -> dict:
    """D's offsets against the true convention offsets of one source, overall and per landmark group.

    ``relative_mean``: the same for D's offsets *relative to the reference dataset's* at the same points. D also
    learns what every dataset shares (the training faces' mean shape differs from the template's: expressions),
    which the absolute offsets mix in; the relative ones isolate the convention. ``asked_as``: D's code of another
    name than the source's (a dataset added by ``lm3d.training.adapt_deformer``, measured against the source it came from).
    """
    layout = layouts.get(sources.get(source).layout)
    true = sources.convention_points(source, convention_scale)[1]
    learned = learned_offsets(model, source, asked_as)
    error = (learned - true).norm(dim=-1)
    groups = {g: error[[i for i, x in enumerate(layout.groups) if x == g]].mean().item() for g in dict.fromkeys(layout.groups)}
    out = {"mean": error.mean().item(), "true_mean": true.norm(dim=-1).mean().item(), "groups": groups}
    reference = reference_dataset(model)
    if reference is not None:
        relative = learned - learned_offsets(model, source, asked_as=reference)
        out["relative_mean"] = (relative - true).norm(dim=-1).mean().item()
    return out


def evaluate_deformer(model, count: int, image_size: int, seed: int = 0, boxes: str = "simulated",
                      convention_scale: float = 1.0) -> dict:
    """``convention_scale``: the conventions' size the model was trained with (the truth it is measured against)."""
    per_source = {name: conventions_on_test_faces(model, name, count, image_size, seed, boxes, convention_scale)
                  for name in CANONICAL_SOURCES}
    out = {"canonical_nme": {name: r.get("canonical_nme") for name, r in per_source.items()}}
    if model.camera_head is not None:
        out["residual"] = {name: {k: r[k] for k in ("along_cm", "across_cm")} for name, r in per_source.items() if r}
    if model.deformer is not None:
        out["learned_vs_true_cm"] = {name: offset_errors(model, name, convention_scale) for name in model.deformer.datasets}
    return out
