"""iBUG ``.pts`` landmark files (300-W, Menpo, iBUG's tools), read and written in lm3d's pixel convention.

The format::

    version: 1
    n_points:  68
    {
    x y
    ...
    }

Its coordinates are 1-based: the top-left pixel's centre is (1, 1), as in MATLAB. lm3d puts the top-left pixel's
centre at (0.5, 0.5) (``lm3d.face.camera``: pixel (row i, column j) has its centre at (j + 0.5, i + 0.5)), so a
file's numbers are lm3d's plus ``PTS_OFFSET``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..runtime import write_atomically

PTS_OFFSET = 0.5  # .pts coordinate = lm3d pixel coordinate + PTS_OFFSET


def read_pts(path: str | Path, expected_points: int | None = None) -> np.ndarray:
    """(N,2) float64 landmarks of a ``.pts`` file in lm3d's pixel convention; a clear error naming the file when
    it is malformed or (given ``expected_points``) holds another number of points."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f".pts file {path} does not exist")
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    header = {}
    for line in lines:
        if line == "{":
            break
        key, _, value = line.partition(":")
        header[key.strip()] = value.strip()
    if "{" not in lines or "}" not in lines or "n_points" not in header:
        raise ValueError(f"{path} is not a .pts file: it needs an n_points line and its points between {{ and }}")
    body = lines[lines.index("{") + 1:lines.index("}")]
    try:
        points = np.array([[float(v) for v in line.split()] for line in body], dtype=np.float64).reshape(-1, 2)
        declared = int(header["n_points"])
    except ValueError as error:
        raise ValueError(f"{path}: cannot read its points ({error})") from error
    if len(points) != declared or any(len(line.split()) != 2 for line in body):
        raise ValueError(f"{path} declares {declared} points but holds {len(body)} lines of points")
    if expected_points is not None and declared != expected_points:
        raise ValueError(f"{path} holds {declared} points, expected {expected_points}")
    if not np.isfinite(points).all():
        raise ValueError(f"{path} holds a point that is not a finite number")
    return points - PTS_OFFSET


def write_pts(path: str | Path, points) -> None:
    """Write (N,2) landmarks in lm3d's pixel convention as a ``.pts`` file (atomically)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise ValueError(f"a .pts file holds (N, 2) finite points, got shape {points.shape}"
                         + ("" if points.ndim != 2 or np.isfinite(points).all() else " with NaN or infinite values"))
    rows = "\n".join(f"{x + PTS_OFFSET:.3f} {y + PTS_OFFSET:.3f}" for x, y in points)
    text = f"version: 1\nn_points:  {len(points)}\n{{\n{rows}\n}}\n"
    write_atomically(path, lambda temporary: temporary.write_text(text))
