"""Appearance of SynthFaces: skin tones, hair, light (diffuse and specular), backgrounds, occluders, degradations.

The face's skin, brows, eyes and lips come from real photos (``lm3d.synth.textures``); this module gives the
colours around them and the light.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# natural images that ship inside the scikit-image wheel; pictures of people are left out so that
# no background holds an unlabelled face
BACKGROUND_FILES = ("brick.png", "chelsea.png", "coffee.png", "color.png", "grass.png", "gravel.png",
                    "hubble_deep_field.jpg", "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg",
                    "coins.png", "moon.png", "page.png", "text.png", "ihc.png", "clock_motion.png")
# black, black-brown, dark brown, brown, blond, grey: most people's hair is dark, and the camera's exposure for
# the face brightens it
HAIR = torch.tensor([[0.03, 0.025, 0.02], [0.08, 0.05, 0.03], [0.14, 0.08, 0.045], [0.28, 0.17, 0.09],
                     [0.6, 0.47, 0.28], [0.45, 0.43, 0.41]])
SKIN_LIGHT, SKIN_DARK = torch.tensor([0.96, 0.80, 0.69]), torch.tensor([0.33, 0.21, 0.14])


def skin_colours(scenes: list[dict]) -> torch.Tensor:
    """(B,3) skin albedo: a tone between light and dark, with a little hue variation."""
    tone = torch.tensor([s["skin"][0] for s in scenes])[:, None]
    hue = torch.tensor([s["skin"][1] for s in scenes])[:, None]
    skin = (1 - tone) * SKIN_LIGHT + tone * SKIN_DARK
    return (skin * (1 + 0.06 * hue * torch.tensor([1.0, -0.3, -1.0]))).clamp(0, 1)


def light_direction(light: torch.Tensor) -> torch.Tensor:
    """(B,3) unit vector towards the light in the camera frame from (azimuth, elevation) degrees."""
    azimuth, elevation = torch.deg2rad(light[:, 2]), torch.deg2rad(light[:, 3])
    return torch.stack([azimuth.sin() * elevation.cos(), -elevation.sin(), -azimuth.cos() * elevation.cos()], 1)


def specular(normals: torch.Tensor, cam_vertices: torch.Tensor, light: torch.Tensor, gloss: torch.Tensor) -> torch.Tensor:
    """(B,V) Blinn-Phong highlight per vertex: strength * max(0, n.h)^shininess, h halfway between the light and
    the view direction; gloss (B,2) is (strength, shininess)."""
    to_camera = F.normalize(-cam_vertices, dim=-1)
    halfway = F.normalize(to_camera + light_direction(light)[:, None], dim=-1)
    facing = (normals * halfway).sum(-1).clamp_min(0)
    return gloss[:, :1] * facing.pow(gloss[:, 1:2])


def hair_weights(scenes: list[dict], face_vertices: torch.Tensor, proxy) -> torch.Tensor:
    """(B, V_face + P) how much of the hair colour each vertex takes: over the forehead above the scene's hairline,
    on the skull (top and back), and for long hair down the back and sides to the scene's hair length."""
    # hair_amount 0 is a bald head; any other amount is a full head of hair (it once only tinted the skull)
    amount = torch.tensor([float(s["hair_amount"] > 0) for s in scenes])[:, None]
    hairline = torch.tensor([s["hairline"] for s in scenes])[:, None]
    x, y_face = face_vertices[None, :, 0], face_vertices[None, :, 1]
    # over the forehead above the hairline, and down the temples to the ears' top
    temples = ((x.abs() - 6.0) / 0.8).clamp(0, 1) * ((y_face - 3.2) / 0.8).clamp(0, 1)
    on_forehead = torch.maximum(((y_face - hairline) / 0.6).clamp(0, 1), temples)
    bottom = torch.tensor([s["hair_length"] for s in scenes])[:, None]
    y, z = proxy.vertices[None, :, 1], proxy.vertices[None, :, 2]
    long = ((y - bottom) / 1.5).clamp(0, 1) * ((-z - 1.0) / 2.0).clamp(0, 1) * proxy.skull
    on_proxy = torch.maximum(proxy.hair[None], long)
    return torch.cat([on_forehead, on_proxy], 1) * amount


def vertex_normals(vertices: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """(B,V,3) area-weighted unit vertex normals of a batch of meshes."""
    corners = vertices[:, triangles]  # (B,T,3,3)
    normals = torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
    out = torch.zeros_like(vertices)
    for k in range(3):
        out.index_add_(1, triangles[:, k], normals)
    return F.normalize(out, dim=-1)


@lru_cache(maxsize=4)
def background_pool(image_size: int) -> list[list[torch.Tensor]]:
    """For each background file, three uint8 images (h,w,3) whose short side is 1, 1.5 and 2.25 x image_size."""
    import skimage.io

    folder = Path(__import__("skimage").__file__).parent / "data"
    pool = []
    for name in BACKGROUND_FILES:
        image = skimage.io.imread(folder / name)
        image = np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()[None] / 255.0
        scales = []
        for factor in (1.0, 1.5, 2.25):
            short = max(image_size, int(round(factor * image_size)))
            h, w = tensor.shape[-2:]
            size = (short, max(short, round(w * short / h))) if h <= w else (max(short, round(h * short / w)), short)
            resized = F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False)
            # uint8, channels-last like the renderer: a crop is then a plain copy of bytes
            scales.append((resized[0].permute(1, 2, 0).clamp(0, 1) * 255 + 0.5).to(torch.uint8).contiguous())
        pool.append(scales)
    return pool


def background_image(spec: dict, image_size: int) -> torch.Tensor:
    """(S,S,3) float in [0, 1]: one background (see :func:`backgrounds` for a batch)."""
    return background_views([spec], image_size)[0].float() / 255


def backgrounds(specs: list[dict], image_size: int) -> torch.Tensor:
    """(B,S,S,3) uint8 backgrounds (see :func:`background_views`)."""
    return torch.stack(background_views(specs, image_size))


def background_views(specs: list[dict], image_size: int) -> list[torch.Tensor]:
    """One (S,S,3) uint8 background per spec: a crop of a natural image, or a smooth procedural or
    plain field. Unflipped crops are views into the pre-resized pool (no copy); all procedural
    fields of a batch are upsampled together, each from its random colour grid resized to 8x8.
    """
    views: list = [None] * len(specs)
    fields = []
    for b, spec in enumerate(specs):
        if spec["kind"] == "image":
            source = background_pool(image_size)[spec["image"]][spec["scale"]]
            h, w = source.shape[:2]
            top = int(spec["offset"][0] * (h - image_size))
            left = int(spec["offset"][1] * (w - image_size))
            crop = source[top:top + image_size, left:left + image_size]
            views[b] = crop.flip(1) if spec["flip"] else crop
        else:
            size = spec["grid_size"]
            grid = torch.as_tensor(spec["grid"])[None, :, :size, :size]
            fields.append((b, F.interpolate(grid, size=(8, 8), mode="bicubic", align_corners=False)[0]))
    if fields:
        # bilinear upsampling is separable: rows then columns, two small matrix products per field,
        # written straight into channels-last order
        weights = bilinear_weights(8, image_size)  # (S,8)
        smooth = torch.einsum("yi,ncij,xj->nyxc", weights, torch.stack([f for _, f in fields]), weights)
        quantised = smooth.clamp_(0, 1).mul_(255).add_(0.5).to(torch.uint8)
        for (b, _), field in zip(fields, quantised):
            views[b] = field
    return views


@lru_cache(maxsize=4)
def bilinear_weights(size_in: int, size_out: int) -> torch.Tensor:
    """(size_out, size_in) matrix of 1D bilinear resampling with half-pixel centres (what
    ``F.interpolate(mode="bilinear", align_corners=False)`` does along each axis when upsampling)."""
    source = ((torch.arange(size_out, dtype=torch.float64) + 0.5) * (size_in / size_out) - 0.5).clamp_min(0)
    below = source.floor().long().clamp_max(size_in - 1)
    above = (below + 1).clamp_max(size_in - 1)
    fraction = source - below
    weights = torch.zeros(size_out, size_in, dtype=torch.float64)
    weights[torch.arange(size_out), below] += 1 - fraction
    weights[torch.arange(size_out), above] += fraction
    return weights.float()


def occluder_mask(spec: dict, box: torch.Tensor, image_size: int) -> torch.Tensor:
    """(S,S) bool mask of an ellipse or rotated rectangle placed relative to a face box (x0,y0,x1,y1)."""
    centre_box = (box[:2] + box[2:]) / 2
    half_box = (box[2:] - box[:2]) / 2
    centre = centre_box + torch.as_tensor(spec["centre"]) * 2 * half_box
    half = torch.as_tensor(spec["half_size"]) * 2 * half_box.clamp_min(1.0)
    coords = torch.arange(image_size, dtype=torch.float32) + 0.5
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    c, s = math.cos(spec["angle"]), math.sin(spec["angle"])
    u = ((x - centre[0]) * c + (y - centre[1]) * s) / half[0]
    v = (-(x - centre[0]) * s + (y - centre[1]) * c) / half[1]
    return (u * u + v * v <= 1) if spec["shape"] == "ellipse" else ((u.abs() <= 1) & (v.abs() <= 1))


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of one channels-last (H,W,C) image, edges replicated.

    Each pass is a weighted sum of 2r+1 shifted slices of the padded image. On a single image
    that stays in cache this is about twice as fast on CPU as ``conv2d``, whose per-call set-up
    and layout conversions dominate at this size."""
    radius = max(1, int(math.ceil(2.5 * sigma)))
    taps = torch.exp(-torch.arange(-radius, radius + 1, dtype=torch.float64) ** 2 / (2 * sigma ** 2))
    taps = (taps / taps.sum()).tolist()
    height, width, channels = image.shape
    # (1, H, W, C) read as (N, C', H', W') pads W with replicated pixels; (1, 1, H, W*C) pads H
    padded = F.pad(image[None], (0, 0, radius, radius), mode="replicate")[0]
    across = padded[:, :width] * taps[0]
    for k in range(1, 2 * radius + 1):
        across.add_(padded[:, k:k + width], alpha=taps[k])
    padded = F.pad(across.view(1, 1, height, width * channels), (0, 0, radius, radius), mode="replicate")[0, 0]
    down = padded[:height] * taps[0]
    for k in range(1, 2 * radius + 1):
        down.add_(padded[k:k + height], alpha=taps[k])
    return down.view(height, width, channels)


@lru_cache(maxsize=4)
def noise_bank(image_size: int, device: str = "cpu") -> torch.Tensor:
    """(2S,2S,3) fixed Gaussian sensor noise; samples take shifted windows of it (cheap, deterministic)."""
    generator = torch.Generator().manual_seed(12345)
    return torch.randn(2 * image_size, 2 * image_size, 3, generator=generator).to(device)
