"""Painting SynthFaces: textured, lit face and head over a background, then occluders and image degradations.

``lm3d.synth.render`` poses and rasterizes a batch of scenes; :func:`paint` turns the covered pixels into uint8
images. The mesh tables it shares with the renderer (face plus head proxy, UVs, the mouth opening) are cached here.
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from ..face.canonical import CanonicalFace
from ..raster.rasterizer import Covered
from . import appearance, facemodel, textures
from .scene import stack

# diffuse light wraps a little past the terminator, as light scattered under the skin does: softer shadows
WRAP = 0.4


@lru_cache(maxsize=1)
def canonical_face() -> CanonicalFace:
    return CanonicalFace.load()


@lru_cache(maxsize=1)
def head_mesh():
    """Face and head proxy as one mesh: (triangles (T,3), face triangle count, proxy)."""
    face, proxy = canonical_face(), facemodel.head_proxy()
    triangles = torch.cat([face.triangles, proxy.triangles + face.num_vertices])
    return triangles, face.num_triangles, proxy


@lru_cache(maxsize=1)
def _uv_corners() -> torch.Tensor:
    """(T,3,2) texture coordinates of each triangle's corners: the face's UVs, zero on the head proxy (whose
    pixels take no texture)."""
    triangles, face_triangles, _ = head_mesh()
    corners = torch.zeros(len(triangles), 3, 2)
    corners[:face_triangles] = canonical_face().uvs[canonical_face().triangles]
    return corners


@lru_cache(maxsize=1)
def _mouth() -> tuple[torch.Tensor, torch.Tensor]:
    """(T,) bool over face and proxy triangles: the mouth opening; (T,3,1) per triangle corner, 1 on the upper
    inner lip (interpolated, a pixel's fraction across the opening)."""
    triangles, face_triangles, proxy = head_mesh()
    opening, upper = textures.mouth_tables(canonical_face().triangles, canonical_face().num_vertices)
    flags = torch.zeros(len(triangles), dtype=torch.bool)
    flags[:face_triangles] = opening
    return flags, torch.cat([upper, torch.zeros(len(proxy.vertices))])[triangles][..., None]


def paint(scenes, geometry, covered: Covered, triangles, occluders, image_size) -> torch.Tensor:
    """uint8 (B,3,S,S) images: textured, shaded face and head over a background, occluders, degradations.

    Light is per vertex (Gouraud): a diffuse intensity and a Blinn-Phong highlight. Head, ears, neck and hair
    take a per-vertex colour (the face texture's skin, or the hair colour); face pixels look up their texture at
    their interpolated UV, and the mouth opening is painted with its inside and teeth (:func:`_paint_mouth`).
    """
    device = covered.depth.device
    face, bank = canonical_face(), textures.bank()
    texture = torch.tensor([s["texture"] for s in scenes])
    amount = torch.tensor([s["texture_recolour"] for s in scenes])
    factor = textures.recolour(bank.skin[texture], appearance.skin_colours(scenes), amount)  # (B,3)
    skin = (bank.skin[texture] * factor).clamp(0, 1)
    hair = appearance.HAIR[[s["hair_colour"] for s in scenes]]
    hair_weight = geometry["hair_weight"]  # (B,V), from pose_scenes
    on_face = (torch.arange(hair_weight.shape[1]) < face.num_vertices).to(device)
    # the face's own colour comes from its texture: its vertices carry only the hair part
    base = torch.where(on_face[:, None], 0.0, skin.to(device)[:, None])
    colours = torch.lerp(base, hair.to(device)[:, None], hair_weight[..., None])  # (B,V,3)
    light = stack(scenes, "light").to(device)
    normals = geometry["normals"]
    facing_light = ((normals @ appearance.light_direction(light)[..., None])[..., 0] + WRAP).div(1 + WRAP).clamp_min(0)
    intensity = light[:, :1] + light[:, 1:2] * facing_light  # (B,V)
    intensity = intensity * _exposure(intensity, normals, geometry["cam_vertices"], face.num_vertices)[:, None]
    shine = appearance.specular(normals, geometry["cam_vertices"], light, stack(scenes, "gloss").to(device))
    tint = 255 * (1 + light[:, 4:5] * torch.tensor([1.0, 0.0, -1.0], device=device))  # (B,3), images in 0..255
    lit = (colours * intensity[..., None] + shine[..., None]) * tint[:, None]  # (B,V,3)
    texture_light = torch.where(on_face, (1 - hair_weight) * intensity, 0.0)  # (B,V), zero off the face
    # one table and one gather per pixel: colour (3), texture light (1), UV (2)
    corners = torch.cat([torch.cat([lit, texture_light[..., None]], -1)[:, triangles],
                         _uv_corners().to(device).expand(len(scenes), -1, -1, -1)], -1)  # (B,T,3,6)
    batch, pixels = len(scenes), image_size * image_size
    ends = torch.searchsorted(covered.pixel, torch.arange(1, batch + 1, device=device) * pixels)
    counts = torch.diff(ends, prepend=ends.new_zeros(1))  # covered pixels of each image (they come image by image)
    # texels per pixel: the UV map spans the face's width (face_px pixels) with bank.size texels
    level = textures.mip_level(bank.size / torch.tensor([s["face_px"] for s in scenes]))
    values = _interpolate(corners, covered.image_triangle, covered.barycentric)  # (N,6)
    painted = values[:, :3].contiguous()
    _paint_texture(painted, values[:, 3], values[:, 4:], counts, texture, level, factor.to(device) * tint)
    _paint_mouth(painted, covered, values[:, 3], tint, triangles.shape[0])

    # Compose and degrade image by image in one reused buffer, so that each image stays in cache
    # through all of its steps; images are channels-last floats in 0..255 until the uint8 result.
    backgrounds = appearance.background_views([s["background"] for s in scenes], image_size)
    ends = ends.tolist()
    work = torch.empty(image_size, image_size, 3, device=device)
    out = torch.empty(batch, image_size, image_size, 3, dtype=torch.uint8, device=device)
    start = 0
    for i, scene in enumerate(scenes):
        image = work.copy_(backgrounds[i])
        image.view(-1, 3).index_copy_(0, covered.pixel[start:ends[i]] - i * pixels, painted[start:ends[i]])
        start = ends[i]
        if i in occluders:
            _draw_occluder(image, scene["occluder"], occluders[i])
        # via int32: in 0..255 the same truncation, and ~3x faster on CPU than a float -> uint8 cast
        out[i] = _degrade(image, scene).to(torch.int32)
    return out.permute(0, 3, 1, 2)


EXPOSED_FACE = 1.0  # mean light on the face after the camera's auto exposure
EXPOSURE_LIMITS = (0.8, 2.2)


def _exposure(intensity, normals, cam_vertices, num_face_vertices: int) -> torch.Tensor:
    """(B,) the gain of a camera that exposes for the face: it brings the mean light on the face vertices that
    face the camera to EXPOSED_FACE (within EXPOSURE_LIMITS), as photos of people are exposed for the face."""
    facing_camera = ((normals * cam_vertices).sum(-1) < 0)[:, :num_face_vertices].float()
    mean = (intensity[:, :num_face_vertices] * facing_camera).sum(1) / facing_camera.sum(1).clamp_min(1)
    return (EXPOSED_FACE / mean.clamp_min(1e-3)).clamp(*EXPOSURE_LIMITS)


def _paint_texture(painted, light, uv, counts, texture, level, colour_scale) -> None:
    """Add texel * light * colour_scale to every covered pixel of ``painted`` (N,3), image by image (``counts``
    (B,) pixels each): each reads the nearest texel at its interpolated ``uv`` (N,2) in its image's texture
    (``texture`` (B,)) at its image's mip level (``level`` (B,)). ``light`` (N,) is zero off the face, so head
    and background pixels gain exactly nothing: painting them too is cheaper than gathering the face's pixels."""
    device = painted.device
    table, starts = textures.mip_texels(str(device))
    side = textures.bank().size >> level  # (B,) texels a side at each image's level
    first_row = torch.tensor(starts)[level] + texture * side * side  # (B,) where each image's texture begins
    side_px = side.to(device).repeat_interleave(counts)  # per pixel, as contiguous copies (no gather)
    last = side_px - 1
    column = (uv[:, 0] * side_px).long()
    row = (uv[:, 1] * side_px).long()
    rows = first_row.to(device).repeat_interleave(counts)
    rows += torch.minimum(row, last).clamp_(min=0) * side_px + torch.minimum(column, last).clamp_(min=0)
    colour = table.index_select(0, rows).mul_(light[:, None])
    painted.add_(colour.mul_(colour_scale.repeat_interleave(counts, 0)))


def _paint_mouth(painted, covered: Covered, light, tint, num_triangles: int) -> None:
    """Paint the pixels of the mouth opening: its dark inside, with teeth along both lips."""
    device = painted.device
    opening, upper_corners = _mouth()
    chosen = opening.to(device).index_select(0, covered.triangle).nonzero().squeeze(1)
    if len(chosen) == 0:
        return
    across = _interpolate(upper_corners.to(device), covered.triangle.index_select(0, chosen),
                          covered.barycentric.index_select(0, chosen))
    image = covered.image_triangle.index_select(0, chosen) // num_triangles
    colour = textures.mouth_colours(across[:, 0].cpu()).to(device) * light.index_select(0, chosen)[:, None]
    painted.index_copy_(0, chosen, colour * tint.index_select(0, image))


def _interpolate(corner_values: torch.Tensor, rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(N,C) Σ_i w_i * corner i's value: corner_values (..., 3, C) is a table whose flattened leading dims
    ``rows`` (N,) index; weights (N,3). A weighted embedding bag of each pixel's three corners: one fused
    gather-and-sum (summing gathered rows of C floats with broadcasts is several times slower on CPU)."""
    channels = corner_values.shape[-1]
    corners = rows[:, None] * 3 + torch.arange(3, device=rows.device)  # (N,3) rows of the (..., C) corner table
    return F.embedding_bag(corners, corner_values.reshape(-1, channels), mode="sum",
                           per_sample_weights=weights.contiguous())


def _draw_occluder(image: torch.Tensor, spec: dict, mask: torch.Tensor) -> None:
    """Paint an occluder, plain or textured with a natural image, into a (S,S,3) image in place."""
    if spec["textured"]:
        texture = {"kind": "image", "image": spec["texture_image"], "scale": 0,
                   "offset": (spec["centre"] + 0.55) / 1.1, "flip": False}
        fill = appearance.background_views([texture], image.shape[0])[0].to(image)
    else:
        fill = (255 * torch.as_tensor(spec["colour"])).to(image).expand_as(image)
    torch.where(mask.to(image.device)[..., None], fill, image, out=image)


LUMA = (0.299, 0.587, 0.114)  # grayscale weights of R, G, B (ITU-R BT.601)


def _degrade(image: torch.Tensor, scene: dict) -> torch.Tensor:
    """Blur, grayscale, colour jitter and sensor noise of one contiguous (S,S,3) float image in
    0..255, clamped to 0..255 (may reuse ``image``'s memory)."""
    if scene["blur"] > 0:
        image = appearance.gaussian_blur(image, scene["blur"])
    if scene["grayscale"]:
        image.copy_((image @ torch.tensor(LUMA, device=image.device))[..., None].expand(-1, -1, 3))
    # colour gain, contrast and brightness folded into one affine map per channel: x * scale + offset
    # (the + 0.5 rounds in the final cast to uint8). Rows are (S*3,) with the per-channel scale
    # repeated along them: broadcasting over an inner dimension of 3 is ~8x slower on CPU.
    size = image.shape[0]
    contrast = torch.tensor(scene["contrast"], dtype=torch.float32)
    scale = (torch.as_tensor(scene["colour_gain"]) * contrast).repeat(size).to(image.device)
    offset = ((0.5 - 0.5 * contrast + scene["brightness"]) * 255 + 0.5).to(image.device)
    rows = image.view(size, -1)
    torch.addcmul(offset, rows, scale, out=rows)
    if scene["noise"] > 0:
        dy, dx = (int(v) % size for v in scene["noise_shift"])
        bank = appearance.noise_bank(size, str(image.device))
        image.add_(bank[dy:dy + size, dx:dx + size], alpha=255 * scene["noise"])
    return image.clamp_(0, 255)
