"""Which points the face itself hides, from the predicted dense face, against SynthFaces' exact self-occlusion.

A model with a 3D head answers every mesh vertex and the pose and camera; ``lm3d.raster.visibility`` then says, for
any surface point, whether the predicted face hides it from the camera. SynthFaces renders the true answer
(``self_visible``). ``visibility_by_group`` scores the layout's points overall and per landmark group (the jaw's far
side and the nose's flank are where it is hard), beside how often each group is visible at all (a group that is
always visible is easy to get right by saying "visible").

    python benchmarks/visibility_by_group.py runs/standard_crop-3d_seed0/checkpoint.pt
"""
from __future__ import annotations

from ..face import CanonicalFace, layouts
from ..raster.visibility import visible_points
from ..synth import sources
from . import metrics
from .pose import predict_pose, render_with_truth
from .test_sets import found_faces


def visibility_by_group(model, source: str = "synth300w", count: int = 300, image_size: int = 256,
                        boxes: str = "simulated", seed: int = 0) -> dict:
    """Accuracy and F1 of the predicted visibility of every layout point, overall and per group, on ``count`` test
    faces of ``source``; with each group's share of truly visible points."""
    if model.camera_head is None:
        raise ValueError("visibility from the predicted face needs a model with a 3D head (crop-3d, s-3d, full)")
    face = CanonicalFace.load()
    layout = layouts.get(sources.get(source).layout)
    truth, chosen, _ = found_faces(model, boxes, render_with_truth(source, count, image_size, seed), f"{source}/test")
    predicted = predict_pose(model, truth["image"], chosen, layout, face)
    visible = visible_points(predicted["dense3d"], predicted["rotation"], predicted["translation"],
                             predicted["intrinsics"], (image_size, image_size), layout.triangle, layout.barycentric, face)
    true = truth["self_visible"].bool()
    out = {"faces": len(truth["image"]), "all": {**metrics.visibility_scores(visible, true),
                                                 "truly_visible": 100 * true.float().mean().item()}}
    for group in dict.fromkeys(layout.groups):
        chosen_points = [i for i, g in enumerate(layout.groups) if g == group]
        out[group] = {**metrics.visibility_scores(visible[:, chosen_points], true[:, chosen_points]),
                      "truly_visible": 100 * true[:, chosen_points].float().mean().item()}
    return out
