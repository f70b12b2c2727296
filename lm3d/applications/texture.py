"""Texture completion: the face's colours in the canonical UV space, from one image or several, hidden parts mirrored.

A texture here is an (S,S,3) float tensor in [0, 1] laid out in the canonical face's UV space as
``lm3d.raster.uv_map`` rasterises it (u along the columns, v down the rows: the layout of SynthFaces' texture bank),
with an (S,S) bool mask of the texels that hold a colour. Texels off the face are never observed.

* :func:`sample_texture`: one image's colours at every texel's surface point on the predicted face, where the camera
  saw that point (``lm3d.applications.surface_colours``: not hidden by the predicted face itself, inside the image,
  facing the camera), with each texel's viewing weight (the cosine between its normal and the direction to the
  camera).
* :func:`fuse_textures`: several frames of a clip, each texel the mean of the frames that saw it, weighed by how
  squarely each saw it: a turning head shows both cheeks over a few frames.
* :func:`mirror_fill`: a hidden texel takes the colour of its mirror image across the face's plane of symmetry
  (x = 0; the canonical mesh is exactly symmetric there, ``CanonicalFace.mirror_vertex``), where that was seen. A texel
  (triangle, barycentric) mirrors to the same barycentric weights on the mirrored corners, so its mirror's UV is the
  same mix of the mirrored corners' UVs. Faces are not perfectly symmetric and neither is the light: the filled
  texels are flagged so that a reader can tell them apart.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..face import CanonicalFace
from ..raster.uv_space import uv_map
from .surface_colours import MIN_COSINE, surface_colours

MIN_SUPPORT = 0.25  # a mirrored texel is read when at least this share of its bilinear footprint was observed


class SampledTexture(NamedTuple):
    """``texture`` (S,S,3) in [0, 1], 0 where not observed; ``observed`` (S,S) bool; ``weight`` (S,S) the viewing
    cosine where observed, 0 elsewhere."""

    texture: torch.Tensor
    observed: torch.Tensor
    weight: torch.Tensor


class CompletedTexture(NamedTuple):
    """``texture`` (S,S,3); ``filled`` (S,S): the texels given their mirror image's colour; ``unknown`` (S,S): texels
    of the face neither observed nor filled (black in ``texture``)."""

    texture: torch.Tensor
    filled: torch.Tensor
    unknown: torch.Tensor


def sample_texture(image, prediction, size: int = 256, min_cosine: float = MIN_COSINE) -> SampledTexture:
    """The image's colours in the canonical UV space at ``size`` x ``size`` texels, where the camera saw them.

    ``prediction``: ``Detector.predict`` of a model with a 3D head on ``image`` (one image); any image
    ``Detector.predict`` takes."""
    index, triangle, barycentric = uv_map(size).texels()
    seen = surface_colours(image, prediction, triangle, barycentric, min_cosine)
    texture = torch.zeros(size * size, 3)
    observed = torch.zeros(size * size, dtype=torch.bool)
    weight = torch.zeros(size * size)
    texture[index], observed[index] = seen.colour, seen.seen
    weight[index] = torch.where(seen.seen, seen.cosine.clamp_min(1e-6), 0.0)
    return SampledTexture(texture.view(size, size, 3), observed.view(size, size), weight.view(size, size))


def fuse_textures(samples) -> SampledTexture:
    """Textures of several frames (``SampledTexture`` or (texture, observed, weight) triples of one size) as one:
    each texel the viewing-weighted mean of the frames that observed it; its weight the best frame's."""
    samples = [SampledTexture(*sample) for sample in samples]
    if not samples:
        raise ValueError("no textures to fuse: pass at least one (texture, observed, weight)")
    size = _check_texture(*samples[0][:2])
    for number, sample in enumerate(samples):
        if _check_texture(*sample[:2]) != size or sample.weight.shape != (size, size):
            raise ValueError(f"texture {number} is {tuple(sample.texture.shape)} with weights "
                             f"{tuple(sample.weight.shape)}; texture 0 is ({size}, {size}, 3) with ({size}, {size}): "
                             "fuse textures of one size")
    weights = torch.stack([torch.where(s.observed, s.weight.float().clamp_min(1e-6), 0.0) for s in samples])
    total = weights.sum(0)
    texture = (weights[..., None] * torch.stack([s.texture.float() for s in samples])).sum(0)
    observed = total > 0
    texture = torch.where(observed[..., None], texture / total.clamp_min(1e-12)[..., None], 0.0)
    return SampledTexture(texture, observed, weights.amax(0))


def mirror_fill(texture: torch.Tensor, observed: torch.Tensor) -> CompletedTexture:
    """The texture with each hidden texel of the face given its mirror image's colour, where that was observed."""
    size = _check_texture(texture, observed)
    texels = uv_map(size)
    index, covered = texels.texels()[0], texels.covered.flatten()
    observed = observed.flatten() & covered
    colour, support = _masked_lookup(texture.float(), observed.view(size, size), mirrored_uv(size))
    filled = torch.zeros(size * size, dtype=torch.bool)
    filled[index] = ~observed[index] & (support >= MIN_SUPPORT)
    unknown = covered & ~observed & ~filled
    out = texture.float().reshape(-1, 3).clone()
    out[index] = torch.where(filled[index, None], colour, out[index])
    out[unknown | ~covered] = 0.0
    return CompletedTexture(out.view(size, size, 3), filled.view(size, size), unknown.view(size, size))


@lru_cache(maxsize=8)
def mirrored_uv(size: int) -> torch.Tensor:
    """(N,2) the UV of the mirror image of each face texel's surface point (N: the texels of ``uv_map(size)``)."""
    face = CanonicalFace.load()
    _, triangle, barycentric = uv_map(size).texels()
    mirrored_corners = face.mirror_vertex()[face.triangles[triangle]]  # (N,3): a triangle of the mesh, mirrored
    return (face.uvs[mirrored_corners] * barycentric[..., None]).sum(1)


def _masked_lookup(texture: torch.Tensor, known: torch.Tensor, uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear colours (N,3) of the known texels only, at UVs (N,2) in [0, 1]; and the known share (N,) of each
    footprint (a colour is the mean of the known texels it touches)."""
    stacked = torch.cat([texture * known[..., None], known[..., None].float()], -1).permute(2, 0, 1)[None]
    grid = (2 * uv - 1)[None, None]  # texel centres at (j + 0.5) / S, as align_corners=False reads them
    sampled = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0, :, 0].t()
    support = sampled[:, 3]
    return sampled[:, :3] / support.clamp_min(1e-12)[:, None], support


def _check_texture(texture: torch.Tensor, observed: torch.Tensor) -> int:
    """The texture's size S, or a ValueError naming what is wrong with a texture (S,S,3) and its mask (S,S)."""
    if not isinstance(texture, torch.Tensor) or not isinstance(observed, torch.Tensor):
        raise ValueError("a texture and its mask must be torch tensors (S,S,3) and (S,S)")
    if texture.ndim != 3 or texture.shape[-1] != 3 or texture.shape[0] != texture.shape[1]:
        raise ValueError(f"a texture must be (S, S, 3) in the canonical UV space, got {tuple(texture.shape)}")
    if observed.shape != texture.shape[:2] or observed.dtype != torch.bool:
        raise ValueError(f"the observed mask must be ({texture.shape[0]}, {texture.shape[1]}) bool like its texture, "
                         f"got {tuple(observed.shape)} {observed.dtype}")
    return texture.shape[0]
