"""The SynthFaces test sets every evaluation reads, and the one rule for which faces a box model gets to see.

``test_faces`` renders a source's fixed test faces chunk by chunk (the same faces for every model and every
measure) and, where a measure needs exact quantities the renderer does not return (nominal points, 3D truth),
poses each chunk once and lets ``truth(geometry)`` add them. ``found_faces`` gives a box model its face boxes
(``lm3d.inference.face_boxes``) and keeps the faces its finder found; a model with S sees every face.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..inference.face_boxes import face_boxes
from ..synth import SynthFaces, pose_scenes

EVAL_SOURCES = ("synth300w", "synthwflw", "synthmpie", "hmc")
KEYS = ("image", "landmarks2d", "iod", "bbox", "challenging")


def test_faces(source: str, count: int, image_size: int, seed: int = 0, convention_scale: float = 1.0,
               keys=KEYS, truth: Callable[[dict], dict] | None = None) -> dict:
    """The first ``count`` test faces of ``source``: the rendered ``keys`` and what ``truth(geometry)`` adds, where
    ``geometry`` is ``lm3d.synth.pose_scenes`` of the same chunk (posed once for every quantity asked)."""
    data = SynthFaces(source, "test", count, seed=seed, image_size=image_size, convention_scale=convention_scale)
    if truth is None:
        return data.render_all(keys)
    parts = []
    for indices in data.chunks():
        rendered = data.render(indices)
        parts.append({**{k: rendered[k] for k in keys}, **truth(pose_scenes(data.scenes(indices), image_size))})
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def found_faces(model, boxes: str, faces: dict, key: str) -> tuple[dict, torch.Tensor | None, float]:
    """(the faces the model gets to see, their boxes (None for a model with S), the percentage found).

    ``boxes``: the kind of face boxes a box model crops around (``simulated``, ``lbp`` or ``file:PATH``); ``key``:
    the test set's name in a box file. A model with S takes no box: with a real finder's boxes it sees only the
    faces that finder found (to compare with a box model on the same faces), with ``simulated`` every face."""
    count = len(faces["image"])
    if not model.needs_box and boxes == "simulated":
        return faces, None, 100.0
    chosen, found = face_boxes(boxes, faces["image"], faces["bbox"], key=key)
    keep = found.nonzero()[:, 0]
    chosen = chosen[keep] if model.needs_box else None
    return {k: v[keep] for k, v in faces.items()}, chosen, 100 * len(keep) / max(count, 1)
