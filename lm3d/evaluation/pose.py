"""The 3D head against SynthFaces' exact truth: head pose, camera, 3D shape and visibility.

    pose.<source>.rotation_deg       mean geodesic rotation error (and yaw_mae, pitch_mae, roll_mae), with
                                     ``rotation_by_yaw``: by the true yaw's size (profiles are the hard cases)
    pose.<source>.translation_cm     mean distance between predicted and true head position
    pose.<source>.focal_log_error    mean |log f_pred - log f_true|, with ``focal_by_distance`` and
                                     ``focal_by_face_size``: where 2D supervision can and cannot fix the focal
    pose.<source>.nme3d              3D NME (% of the true 3D inter-ocular distance) after similarity Procrustes
    pose.<source>.ordinal_depth      DAD-3DHeads' Z_8: the share of neighbouring point pairs in the right depth order
    pose.<source>.visibility_f1      visibility from the predicted dense face against the true self-occlusion
                                     (and visibility_accuracy)

The test faces, the boxes of a box model and the metric definitions (``lm3d.evaluation.metrics``) are those of
``lm3d.evaluation.landmarks``. The truth in 3D is the exact surface point on the deformed face (identity and expression),
in canonical cm; annotation conventions do not enter (the ``synth300w`` and ``hmc`` layouts have none).
"""
from __future__ import annotations

import torch

from ..face import EYE_CORNERS, CanonicalFace, camera, layouts
from ..inference.predict import predict_batches
from ..raster.visibility import visible_points
from ..synth import project_queries, sources
from . import metrics
from .test_sets import found_faces, test_faces

DISTANCE_BINS_CM = (0, 30, 60, 120, 250, 1000)
FACE_SIZE_BINS = (0, 0.2, 0.3, 0.45, 2)  # face width over image width
YAW_BINS_DEG = (0, 15, 30, 45, 60, 91)  # |true yaw|
TRUTH_KEYS = ("image", "bbox", "rotation", "translation", "intrinsics", "self_visible", "iod")


def render_with_truth(source: str, count: int, image_size: int, seed: int = 0) -> dict:
    """Test images with their pose, camera and visibility truth, and the exact 3D points of the source's layout."""
    layout = layouts.get(sources.get(source).layout)

    def exact(geometry):
        points = project_queries(geometry, layout.triangle, layout.barycentric)
        eyes = geometry["vertices"][:, list(EYE_CORNERS)]
        return {"points_deformed": points["points_deformed"], "points3d": points["points3d"],
                "landmarks2d": points["landmarks2d"], "iod3d": (eyes[:, 0] - eyes[:, 1]).norm(dim=-1)}

    return test_faces(source, count, image_size, seed, keys=TRUTH_KEYS, truth=exact)


def predict_pose(model, images, boxes, layout, face: CanonicalFace) -> dict:
    """The layout's points and, in the same pass, every mesh vertex (the predicted dense face)."""
    queries = torch.cat([layout.points(face), face.vertices])
    out = predict_batches(model, images, boxes, queries)
    k = len(layout)
    out["dense3d"] = out["landmarks3d"][:, k:]
    for key in ("landmarks2d", "landmarks3d"):
        out[key] = out[key][:, :k]
    return out


def evaluate_pose(model, source: str, count: int, image_size: int, seed: int = 0, boxes: str = "simulated") -> dict:
    """The ``pose.<source>`` keys of the module docstring for a model with a 3D head."""
    if model.camera_head is None:
        raise ValueError("pose evaluation needs a model with a 3D head (variant crop-3d, s-3d or full)")
    face = CanonicalFace.load()
    layout = layouts.get(sources.get(source).layout)
    truth, chosen, _ = found_faces(model, boxes, render_with_truth(source, count, image_size, seed), f"{source}/test")
    if len(truth["image"]) == 0:
        return {"faces": 0}
    predicted = predict_pose(model, truth["image"], chosen, layout, face)
    rotation_error = metrics.rotation_error_degrees(predicted["rotation"], truth["rotation"])
    euler = metrics.euler_errors(predicted["rotation"], truth["rotation"])
    focal_error = metrics.focal_log_error(predicted["intrinsics"][:, 0], truth["intrinsics"][:, 0])
    depth_pred = camera.to_camera(predicted["landmarks3d"], predicted["rotation"], predicted["translation"])[..., 2]
    visible = visible_points(predicted["dense3d"], predicted["rotation"], predicted["translation"],
                             predicted["intrinsics"], (image_size, image_size), layout.triangle, layout.barycentric, face)
    distance = truth["translation"].norm(dim=-1)
    face_size = (truth["bbox"][:, 2] - truth["bbox"][:, 0]) / image_size
    return {"faces": len(truth["image"]), "rotation_deg": rotation_error.mean().item(),
            "rotation_deg_median": rotation_error.median().item(),
            "rotation_by_yaw": metrics.binned_means(rotation_error, camera.rotation_to_euler(truth["rotation"])[0].abs(),
                                                    YAW_BINS_DEG),
            **{f"{name}_mae": value.mean().item() for name, value in euler.items()},
            "translation_cm": (predicted["translation"] - truth["translation"]).norm(dim=-1).mean().item(),
            "depth_log_error": metrics.focal_log_error(predicted["translation"][:, 2], truth["translation"][:, 2]).mean().item(),
            "focal_log_error": focal_error.mean().item(),
            "focal_by_distance": metrics.binned_means(focal_error, distance, DISTANCE_BINS_CM),
            "focal_by_face_size": metrics.binned_means(focal_error, face_size, FACE_SIZE_BINS),
            "nme3d": metrics.nme3d(predicted["landmarks3d"], truth["points_deformed"], truth["iod3d"]).mean().item(),
            "ordinal_depth": 100 * metrics.ordinal_depth_accuracy(depth_pred, truth["points3d"][..., 2],
                                                                  truth["points_deformed"]).mean().item(),
            **metrics.visibility_scores(visible, truth["self_visible"])}
