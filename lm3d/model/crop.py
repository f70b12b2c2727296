"""Crops as affine maps between a normalised face frame and image pixels.

A crop is a (B,2,3) matrix A that maps normalised crop coordinates n in [-1, 1]^2 (x right,
y down; the crop's corners are at +-1, matching ``grid_sample(align_corners=False)``) to image
pixels: x = A @ [n, 1]. The baseline's external crop is an axis-aligned square around a face
box; the spatial transformer of later notebooks predicts A itself (a similarity or affine map).
One representation serves both, and mapping predictions back to the image is one matmul.

Detector boxes are simulated from the ground-truth face box (the tight box of the projected face
mesh) with per-frame noise. We choose, as a decision of this project, the jitter of a typical
CNN face detector run frame by frame: box centre noise of 3 % of the box size and log-scale
noise of 4 % (1 sigma), independent per frame. Real detector boxes are also not the tight
landmark box; the fixed margin of the crop (25 % by default) absorbs that.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

DETECTOR_CENTRE_SD = 0.03
DETECTOR_LOG_SCALE_SD = 0.04


def box_to_transform(box: torch.Tensor, margin: float = 0.25) -> torch.Tensor:
    """(B,2,3) crop transform of the square of side (1 + margin) * max(w, h) centred on each box."""
    if box.ndim != 2 or box.shape[1] != 4:
        raise ValueError(f"expected boxes (B,4) as x0, y0, x1, y1, got {tuple(box.shape)}")
    size = (box[:, 2:] - box[:, :2])
    if not (size > 0).all():
        raise ValueError("every box needs x1 > x0 and y1 > y0")
    half = 0.5 * (1 + margin) * size.max(1).values
    centre = 0.5 * (box[:, :2] + box[:, 2:])
    zero = torch.zeros_like(half)
    return torch.stack([torch.stack([half, zero, centre[:, 0]], 1), torch.stack([zero, half, centre[:, 1]], 1)], 1)


def jitter_boxes(box: torch.Tensor, generator: torch.Generator | None = None,
                 centre_sd: float = DETECTOR_CENTRE_SD, log_scale_sd: float = DETECTOR_LOG_SCALE_SD) -> torch.Tensor:
    """Simulated detector boxes: ground-truth boxes with per-frame centre and scale noise."""
    noise = torch.randn(box.shape[0], 3, generator=generator).to(box)
    size = box[:, 2:] - box[:, :2]
    centre = 0.5 * (box[:, :2] + box[:, 2:]) + centre_sd * size.max(1, keepdim=True).values * noise[:, :2]
    half = 0.5 * size * torch.exp(log_scale_sd * noise[:, 2:])
    return torch.cat([centre - half, centre + half], 1)


def fit_similarity(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """(B,2,3) the similarity crop transform that best maps ``source`` (B,K,2) normalised crop points onto ``target``
    (B,K,2) image pixels, in least squares (weighted by ``weights`` (B,K), e.g. a mask of annotated points).

    Closed form: with both point sets centred on their (weighted) means, the matrix [[a, -b], [b, a]] has
    a = sum(s . t) / sum |s|^2 and b = sum(s x t) / sum |s|^2; the shift carries the source's mean onto the target's.
    """
    if weights is None:
        weights = torch.ones(source.shape[:2], device=source.device, dtype=source.dtype)
    weights = weights.to(source.dtype)[..., None]
    total = weights.sum(1, keepdim=True).clamp_min(1e-9)
    source_mean, target_mean = (weights * source).sum(1, keepdim=True) / total, (weights * target).sum(1, keepdim=True) / total
    s, t = source - source_mean, target - target_mean
    norm = (weights * s.pow(2)).sum((1, 2)).clamp_min(1e-9)
    a = (weights * s * t).sum((1, 2)) / norm
    b = (weights[..., 0] * (s[..., 0] * t[..., 1] - s[..., 1] * t[..., 0])).sum(1) / norm
    matrix = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)
    shift = target_mean[:, 0] - (source_mean @ matrix.transpose(1, 2))[:, 0]
    return torch.cat([matrix, shift[..., None]], -1)


def jitter_transforms(transform: torch.Tensor, generator: torch.Generator | None = None, centre_sd: float = 0.05,
                      log_scale_sd: float = 0.04, angle_sd: float = 0.05) -> torch.Tensor:
    """Crop transforms (B,2,3) moved by per-crop noise: the centre by ``centre_sd`` of the crop's half-size, the size
    by a log-normal factor and the rotation by ``angle_sd`` radians (1 sigma each)."""
    noise = torch.randn(transform.shape[0], 4, generator=generator).to(transform)
    half = transform[:, :, :2].det().abs().sqrt()
    angle, factor = angle_sd * noise[:, 2], torch.exp(log_scale_sd * noise[:, 3])
    turn = torch.stack([torch.stack([angle.cos(), -angle.sin()], -1), torch.stack([angle.sin(), angle.cos()], -1)], -2)
    matrix = transform[:, :, :2] @ turn * factor[:, None, None]
    shift = transform[:, :, 2] + centre_sd * half[:, None] * noise[:, :2]
    return torch.cat([matrix, shift[..., None]], -1)


def to_image(points: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
    """Normalised crop coordinates (B,K,2) to image pixels."""
    return points @ transform[:, :, :2].transpose(1, 2) + transform[:, None, :, 2]


def to_crop(points: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
    """Image pixels (B,K,2) to normalised crop coordinates (the inverse of :func:`to_image`)."""
    inverse = torch.linalg.inv(transform[:, :, :2])
    return (points - transform[:, None, :, 2]) @ inverse.transpose(1, 2)


def pixels_to_normalised(transform: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A transform into pixels of an HxW image, followed by pixels -> normalised coordinates u = 2x / W - 1
    (``grid_sample``'s frame with ``align_corners=False``, and the frame of a crop of that size)."""
    scale = torch.tensor([2.0 / width, 2.0 / height], device=transform.device, dtype=transform.dtype)
    normalised = transform * scale[:, None]
    normalised[..., 2] -= 1
    return normalised


def crop(images: torch.Tensor, transform: torch.Tensor, size: int) -> torch.Tensor:
    """Resample (B,C,H,W) float images into (B,C,size,size) crops (bilinear, zeros outside)."""
    height, width = images.shape[-2:]
    theta = pixels_to_normalised(transform, height, width)
    grid = F.affine_grid(theta.to(images.dtype), [images.shape[0], images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def normalise_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B,3,H,W) RGB to float in [-1, 1]; float images in [0, 1] are accepted too."""
    # one new tensor, changed in place (the same values as ``x / 255 * 2 - 1``): three more whole frames in fresh
    # memory cost a tenth of a training step on the CPU
    normalised = images.to(torch.float32, copy=True)
    if images.dtype == torch.uint8:
        normalised /= 255.0
    normalised *= 2
    normalised -= 1
    return normalised
