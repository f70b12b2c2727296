"""The canonical face's UV space, rasterised: which surface point every texel of a texture shows.

A texture of the face is an S x S image in the canonical UV space (``CanonicalFace.uvs``: u along the columns,
v down the rows, as SynthFaces' texture bank reads it: texel (row i, column j) has its centre at
((j + 0.5) / S, (i + 0.5) / S)). Rasterising the mesh with its UVs as screen positions gives, for every texel, the
triangle it lies in and its barycentric weights there: the texel's surface point, which any deformed, posed face
(a SynthFaces face, a 3D head's prediction) places in 3D. The UV map is flat, so the weights are the affine ones.

SynthFaces uses it for its textures' coverage and its render-consistent texture truth; ``lm3d.applications`` to
sample an image into the UV space and to complete a texture. It is computed once per size.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch

from ..face import CanonicalFace
from .rasterizer import rasterize

MAX_UV_SIZE = 4096


class UVMap(NamedTuple):
    """Each texel's surface point: ``triangle`` (S,S) long, -1 off the face; ``barycentric`` (S,S,3)."""

    triangle: torch.Tensor
    barycentric: torch.Tensor

    @property
    def size(self) -> int:
        return self.triangle.shape[0]

    @property
    def covered(self) -> torch.Tensor:
        """(S,S) bool: the texels that lie on the face."""
        return self.triangle >= 0

    def texels(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The covered texels as a list: flat index row * S + column (N,) increasing, triangle (N,), barycentric (N,3)."""
        index = self.covered.flatten().nonzero().squeeze(1)
        return index, self.triangle.flatten()[index], self.barycentric.reshape(-1, 3)[index]


def check_uv_size(size) -> int:
    """``size`` if it is a texture size this module can rasterise, else a ValueError that says why not."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_UV_SIZE:
        raise ValueError(f"a texture size must be an integer in [1, {MAX_UV_SIZE}] texels a side, got {size!r}")
    return size


def uv_map(size: int) -> UVMap:
    """The canonical face rasterised in its UV space at ``size`` x ``size`` texels (cached per size)."""
    return _uv_map(check_uv_size(size))


@lru_cache(maxsize=8)
def _uv_map(size: int) -> UVMap:
    face = CanonicalFace.load()
    screen = torch.cat([face.uvs * size, torch.ones(face.num_vertices, 1)], 1)[None]  # depth 1: affine weights
    fragments = rasterize(screen, face.triangles, (size, size))
    return UVMap(fragments.triangle[0], fragments.barycentric[0])
