"""The 3D face from one prediction: the dense mesh, canonical or posed, coloured from the image, as a mesh file.

A model with a 3D head answers every vertex of the canonical face, so ``Prediction.mesh3d`` (468,3) is a dense face
in canonical cm (x to the subject's left, y up, z out of the face), with the canonical mesh's triangles. Posed, it is
the face where it sat in front of the camera: X_cam = R diag(1, -1, -1) X + t, OpenCV axes (x right, y down, z forward),
cm (``lm3d.face.camera``). :func:`face_mesh` is ``lm3d.io.meshes``' (the file layer writes what it gives), re-exported
here so that every application of the 3D head is found in one place.

:func:`vertex_colours` reads each vertex's colour from the image where the camera saw it
(``lm3d.applications.surface_colours``), else from its mirror vertex across the face's plane of symmetry when that
was seen (as ``lm3d.applications.texture.mirror_fill`` completes a texture), else a neutral grey. :func:`write_face`
writes the mesh as OBJ (with the canonical UVs) or PLY, with those colours when given the image.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch

from ..face import CanonicalFace, SurfacePoints
from ..io.meshes import face_mesh, write_obj, write_ply
from .surface_colours import MIN_COSINE, surface_colours

UNKNOWN_GREY = 0.5  # the colour of a vertex neither it nor its mirror image was seen at
MESH_FORMATS = (".obj", ".ply")


class VertexColours(NamedTuple):
    """``colour`` (V,3) float in [0, 1]; ``seen`` (V,) the camera saw the vertex; ``mirrored`` (V,) the colour is its
    mirror vertex's (the rest of the unseen are grey)."""

    colour: torch.Tensor
    seen: torch.Tensor
    mirrored: torch.Tensor


@lru_cache(maxsize=1)
def vertex_surface_points() -> SurfacePoints:
    """Each vertex of the canonical face as a surface point: a triangle it is a corner of, all the weight on it."""
    face = CanonicalFace.load()
    flat = face.triangles.flatten()
    position = torch.full((face.num_vertices,), len(flat), dtype=torch.long)
    position.scatter_reduce_(0, flat, torch.arange(len(flat)), "amin")  # the first corner that is this vertex
    barycentric = torch.zeros(face.num_vertices, 3)
    barycentric[torch.arange(face.num_vertices), position % 3] = 1.0
    return SurfacePoints(position // 3, barycentric)


def vertex_colours(image, prediction, min_cosine: float = MIN_COSINE) -> VertexColours:
    """The image's colour at every vertex of one image's predicted face (a model with a 3D head)."""
    face = CanonicalFace.load()
    seen = surface_colours(image, prediction, *vertex_surface_points(), min_cosine, face)
    mirror = face.mirror_vertex()
    mirrored = ~seen.seen & seen.seen[mirror]
    grey = torch.full_like(seen.colour, UNKNOWN_GREY)
    colour = torch.where(seen.seen[:, None], seen.colour, torch.where(mirrored[:, None], seen.colour[mirror], grey))
    return VertexColours(colour, seen.seen, mirrored)


def write_face(path: str | Path, prediction, image=None, posed: bool = False) -> None:
    """One image's predicted face as ``path`` (.obj, with the canonical UVs, or .ply); canonical, or ``posed`` in the
    camera frame; with per-vertex colours sampled from ``image`` (the image it was predicted on) when given."""
    path = Path(path)
    if path.suffix.lower() not in MESH_FORMATS:
        raise ValueError(f"cannot write a face mesh as {path.suffix or 'a file without a suffix'!r}: name it "
                         f"{' or '.join(MESH_FORMATS)}")
    vertices, triangles = face_mesh(prediction, posed=posed)
    colours = None if image is None else vertex_colours(image, prediction).colour.numpy()
    if path.suffix.lower() == ".obj":
        write_obj(path, vertices, triangles, CanonicalFace.load().uvs.numpy(), colours)
    else:
        write_ply(path, vertices, triangles, colours)


__all__ = ["VertexColours", "face_mesh", "vertex_colours", "vertex_surface_points", "write_face"]
