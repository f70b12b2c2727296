"""One image's (or video frame's) answer as a plain record: what ``lm3d detect`` writes as JSON Lines and CSV.

A record holds the landmarks of every asked point set (a layout, or the points of a queries file), by name, in
lm3d's pixel convention (x right, y down, the top-left pixel's centre at (0.5, 0.5)); with a 3D head also their 3D
positions on the canonical face (cm), their visibility, the head pose with named angles and the camera; the crop
the model read (its RoI) and, for a model with S, its face score. A face not found leaves the landmarks ``null``
and says why in ``message``. NaN never reaches a file: JSON has no NaN.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..inference.filters import one_euro

POSE_CONVENTION = ("R maps canonical points into the OpenCV camera frame (x right, y down, z forward) as "
                   "X_cam = R diag(1, -1, -1) X + t, t in cm; R = Rz(roll) Ry(yaw) Rx(pitch), degrees: yaw > 0 turns "
                   "the face towards the image's right, pitch > 0 lifts the chin, roll > 0 turns it clockwise "
                   "(lm3d.face.camera)")


def _plain(value, digits: int = 3):
    """Tensors and floats as JSON-ready lists and numbers; NaN as None."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, digits)
    if isinstance(value, (list, tuple)):
        return [_plain(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, digits) for k, v in value.items()}
    return value


def roi_corners(transform: torch.Tensor) -> list:
    """The crop's four corners in image pixels (top-left, top-right, bottom-right, bottom-left of the crop)."""
    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    return _plain(corners @ transform[:, :2].T + transform[:, 2])


def crop_from_roi(corners) -> torch.Tensor:
    """The crop transform (2,3) whose corners ``roi_corners`` gives (its inverse): how a video's next frame starts from
    a record's crop, the same whether the record was just made or read back after an interruption."""
    corners = torch.as_tensor(corners, dtype=torch.float32)
    top_left, top_right, _, bottom_left = corners
    return torch.stack([(top_right - top_left) / 2, (bottom_left - top_left) / 2, corners.mean(0)], 1)


def prediction_record(prediction, point_sets: dict[str, tuple[int, int, tuple | None]], source: str,
                      frame: int | None, image_shape: tuple[int, ...]) -> dict:
    """The record of one image's ``Prediction`` (not batched), asked for the concatenation of ``point_sets``:
    name -> (start, stop, point names or None), slices of the prediction's points."""
    found = bool(torch.isfinite(prediction.landmarks2d).all())
    record = {"source": source, "frame": frame, "width": int(image_shape[1]), "height": int(image_shape[0]),
              "face_found": found, "message": prediction.message,
              "face_score": _plain(None if prediction.face_score is None else float(prediction.face_score)),
              "box": _plain(prediction.box), "roi": roi_corners(prediction.transform), "points": {}}
    for name, (start, stop, names) in point_sets.items():
        entry = {"names": list(names) if names else None,
                 "landmarks2d": _plain(prediction.landmarks2d[start:stop]) if found else None}
        if prediction.landmarks3d is not None:
            entry["landmarks3d"] = _plain(prediction.landmarks3d[start:stop], 4) if found else None
            entry["visible"] = prediction.visible[start:stop].tolist() if found else None
        record["points"][name] = entry
    if prediction.rotation is not None:
        fx, fy, cx, cy = prediction.intrinsics.tolist()
        record["pose"] = None if not found else {
            "yaw": _plain(float(prediction.euler["yaw"]), 2), "pitch": _plain(float(prediction.euler["pitch"]), 2),
            "roll": _plain(float(prediction.euler["roll"]), 2), "rotation": _plain(prediction.rotation, 5),
            "translation_cm": _plain(prediction.translation), "convention": POSE_CONVENTION}
        record["intrinsics"] = None if not found else _plain({"fx": fx, "fy": fy, "cx": cx, "cy": cy})
    return record


CSV_COLUMNS = ("source", "frame", "points", "index", "name", "x", "y", "visible", "face_score")


def csv_rows(record: dict) -> list[tuple]:
    """The record as rows of ``CSV_COLUMNS``, one per landmark (long format: one table for any layout); a face not
    found gives one row per point set with empty coordinates."""
    rows = []
    for name, entry in record["points"].items():
        points = entry["landmarks2d"]
        if points is None:
            rows.append((record["source"], record["frame"], name, "", "", "", "", "", record["face_score"]))
            continue
        visible = entry.get("visible") or [None] * len(points)
        names = entry["names"] or [None] * len(points)
        rows += [(record["source"], record["frame"], name, i, names[i], x, y, visible[i], record["face_score"])
                 for i, (x, y) in enumerate(points)]
    return rows


# a face's inter-ocular distance over the side of the crop it is read from (SynthFaces' training faces in their box
# crops: median 0.37); smooth_records takes the One-Euro filter's speed unit from each record's RoI with it
IOD_PER_CROP_SIDE = 0.37


def smooth_records(records: list[dict], fps: float, **settings) -> list[dict]:
    """A video's records (in frame order) with every point set's 2D landmarks through the One-Euro filter
    (``lm3d.inference.filters``, its defaults unless ``settings`` say otherwise); frames without a face stay null,
    and the filter keeps its last estimate across them."""
    sides = np.array([np.linalg.norm(np.subtract(r["roi"][1], r["roi"][0])) if r.get("roi") else np.nan for r in records])
    if not np.isfinite(sides).any():
        return records
    scale = np.nan_to_num(sides, nan=float(np.nanmedian(sides))) * IOD_PER_CROP_SIDE
    smoothed = copy.deepcopy(records)
    for name, entry in records[0]["points"].items():
        count = len(entry["names"]) if entry["names"] else next(
            (len(r["points"][name]["landmarks2d"]) for r in records if r["face_found"]), 0)
        if count == 0:
            continue
        sequence = np.array([r["points"][name]["landmarks2d"] if r["face_found"] else np.full((count, 2), np.nan)
                             for r in records], dtype=np.float64)
        steady = one_euro(sequence, fps or 30.0, scale, **settings)
        for record, points in zip(smoothed, steady):
            if record["face_found"]:
                record["points"][name]["landmarks2d"] = _plain(points.tolist())
    return smoothed
