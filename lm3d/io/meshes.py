"""The predicted 3D face as a mesh file: Wavefront OBJ (with the canonical UVs) and ASCII PLY.

A model with a 3D head answers every vertex of the canonical face (``Prediction.mesh3d``, canonical cm), and its pose;
``face_mesh`` gives the face in canonical axes (x to the subject's left, y up, z out of the face) or posed in the
OpenCV camera frame (x right, y down, z forward, cm: ``lm3d.face.camera``), and ``write_obj`` / ``write_ply`` write it
with the canonical face's triangles, so any mesh viewer opens it. Both take per-vertex colours (V,3) in [0, 1]
(``lm3d.applications.reconstruction.vertex_colours`` samples them from the image): PLY as its ``red green blue``
properties, OBJ as the common ``v x y z r g b`` extension (MeshLab and Blender read it).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..face import CanonicalFace, camera
from ..runtime import write_atomically


def face_mesh(prediction, posed: bool = False, face: CanonicalFace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(V,3) vertices and (T,3) triangles of one image's predicted face (``Detector.predict`` of a model with a 3D
    head, not batched); ``posed``: in the camera frame, where the face sat when the photo was taken."""
    if prediction.mesh3d is None:
        raise ValueError("this prediction has no 3D face: it needs a model with a 3D head (crop-3d, s-3d, full)")
    if prediction.mesh3d.ndim != 2:
        raise ValueError(f"one image's prediction, please: got a batch of {prediction.mesh3d.shape[0]} (use .frame(i))")
    if not torch.isfinite(prediction.mesh3d).all():
        raise ValueError("no face was found in this image, so there is no 3D face to write")
    face = face or CanonicalFace.load()
    vertices = prediction.mesh3d.float()
    if posed:
        vertices = camera.to_camera(vertices, prediction.rotation.float(), prediction.translation.float())
    return vertices.numpy().astype(np.float64), face.triangles.numpy()


def _check(vertices: np.ndarray, triangles: np.ndarray, colours=None) -> np.ndarray | None:
    """The colours as (V,3) floats in [0, 1] (or None), once the mesh and they are checked."""
    if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.isfinite(vertices).all():
        raise ValueError(f"a mesh needs (V, 3) finite vertices, got shape {vertices.shape}")
    if triangles.ndim != 2 or triangles.shape[1] != 3 or triangles.min() < 0 or triangles.max() >= len(vertices):
        raise ValueError(f"a mesh needs (T, 3) triangles indexing its {len(vertices)} vertices")
    if colours is None:
        return None
    colours = np.asarray(colours, dtype=np.float64)
    if colours.shape != (len(vertices), 3) or not np.isfinite(colours).all() or colours.min() < 0 or colours.max() > 1:
        raise ValueError(f"colours must be ({len(vertices)}, 3) values in [0, 1], one RGB per vertex; got shape "
                         f"{colours.shape}")
    return colours


def write_obj(path: str | Path, vertices, triangles, uvs=None, colours=None) -> None:
    """A Wavefront OBJ (1-based faces, as the format has it), with per-vertex texture coordinates and colours (V,3) in
    [0, 1] when given."""
    vertices, triangles = np.asarray(vertices, dtype=np.float64), np.asarray(triangles, dtype=np.int64)
    colours = _check(vertices, triangles, colours)
    if colours is None:
        points = [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices]
    else:
        points = [f"v {x:.5f} {y:.5f} {z:.5f} {r:.4f} {g:.4f} {b:.4f}" for (x, y, z), (r, g, b) in zip(vertices, colours)]
    lines = ["# lm3d: a predicted face (lm3d.io.meshes)"] + points
    if uvs is not None:
        uvs = np.asarray(uvs, dtype=np.float64)
        if uvs.shape != (len(vertices), 2):
            raise ValueError(f"uvs must be ({len(vertices)}, 2), got {uvs.shape}")
        lines += [f"vt {u:.6f} {v:.6f}" for u, v in uvs]
        lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in triangles + 1]
    else:
        lines += [f"f {a} {b} {c}" for a, b, c in triangles + 1]
    text = "\n".join(lines) + "\n"
    write_atomically(path, lambda temporary: temporary.write_text(text))


def write_ply(path: str | Path, vertices, triangles, colours=None) -> None:
    """An ASCII PLY with its vertices and triangles, and per-vertex colours (V,3) in [0, 1] when given."""
    vertices, triangles = np.asarray(vertices, dtype=np.float64), np.asarray(triangles, dtype=np.int64)
    colours = _check(vertices, triangles, colours)
    colour_properties = [] if colours is None else ["property uchar red", "property uchar green", "property uchar blue"]
    header = ["ply", "format ascii 1.0", "comment lm3d: a predicted face (lm3d.io.meshes)",
              f"element vertex {len(vertices)}", "property float x", "property float y", "property float z",
              *colour_properties, f"element face {len(triangles)}", "property list uchar int vertex_indices",
              "end_header"]
    points = [f"{x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices]
    if colours is not None:
        points = [f"{p} {r} {g} {b}" for p, (r, g, b) in zip(points, np.round(colours * 255).astype(np.int64))]
    body = points + [f"3 {a} {b} {c}" for a, b, c in triangles]
    text = "\n".join(header + body) + "\n"
    write_atomically(path, lambda temporary: temporary.write_text(text))


def read_obj(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and (0-based) triangles of an OBJ that ``write_obj`` wrote (or any triangle OBJ)."""
    vertices, triangles = [], []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["v"]:
            vertices.append([float(v) for v in parts[1:4]])
        elif parts[:1] == ["f"]:
            triangles.append([int(p.split("/")[0]) - 1 for p in parts[1:4]])
    return np.array(vertices), np.array(triangles, dtype=np.int64)
