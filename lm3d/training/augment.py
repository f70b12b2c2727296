"""Photometric augmentations of training batches: what a camera, a phone and the web do to a real photo.

SynthFaces renders clean frames (with some blur, grain and grayscale of its own). Real photos also come
colour-cast, under- or over-exposed, noisy, downsampled and JPEG-compressed. ``photometric`` applies a random
subset of those to each image of a uint8 (B,3,H,W) batch, drawn from the step's generator, so a resumed run
sees the same batches as an uninterrupted one. Geometry is untouched: the landmarks stay where they are.

Only the long schedule of the pretrained model uses it (``TrainConfig.augment``); the ladder's tables were
made without it. What each part buys on real photos is for the realism proxy to say (docs/model_card.md).
"""
from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..synth.appearance import gaussian_blur

# each part's probability per image; the ranges are those of ordinary photos, not extremes
AUGMENTED_SHARE = 0.5  # the rest of a batch stays as rendered
# colour, gamma, noise, blur, low resolution, JPEG
PROBABILITIES = (0.8, 0.3, 0.3, 0.2, 0.2, 0.4)
JPEG_QUALITY = (25, 90)


def _uniform(generator: torch.Generator, low: float, high: float, size: int = 1) -> torch.Tensor:
    return low + (high - low) * torch.rand(size, generator=generator)


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """One (3,H,W) uint8 image through a JPEG encoder and back (Pillow's libjpeg: deterministic)."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return torch.from_numpy(np.array(Image.open(buffer).convert("RGB"))).permute(2, 0, 1)


def photometric(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A new uint8 (B,3,H,W) batch: about half the images (``AUGMENTED_SHARE``) get a random subset of colour,
    gamma, noise, blur, low resolution and JPEG compression; the rest stay as rendered."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"photometric augmentation takes uint8 (B,3,H,W) images, got {images.dtype} {tuple(images.shape)}")
    count, size = len(images), tuple(images.shape[-2:])
    # every draw is made for every image, used or not, so the stream does not depend on which parts were chosen
    augmented = torch.rand(count, generator=generator) < AUGMENTED_SHARE
    chosen = (torch.rand(count, 6, generator=generator) < torch.tensor(PROBABILITIES)).tolist()
    colour = _uniform(generator, 0.7, 1.3, 3 * count).view(count, 3).tolist()  # brightness, contrast, saturation
    gains = _uniform(generator, 0.88, 1.12, 3 * count).view(count, 3, 1, 1)
    exponents, sigmas = _uniform(generator, 0.7, 1.5, count).tolist(), _uniform(generator, 2 / 255, 10 / 255, count).tolist()
    blurs, factors = _uniform(generator, 0.5, 1.5, count).tolist(), _uniform(generator, 0.35, 0.8, count).tolist()
    qualities = torch.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, (count,), generator=generator).tolist()
    noise_seeds = torch.randint(2 ** 62, (count,), generator=generator).tolist()
    out = images.clone()
    for i in augmented.nonzero().flatten().tolist():
        recolour, regamma, noise, blur, low_res, jpeg = chosen[i]
        x = images[i].float() / 255
        if recolour:  # exposure, contrast, saturation and a colour cast
            brightness, contrast, saturation = colour[i]
            grey = x.mean(0, keepdim=True)
            x = grey + saturation * (x - grey)
            mean = x.mean()
            x = ((x - mean) * contrast + mean) * (brightness * gains[i])
        if regamma:
            x = x.clamp(0, 1) ** exponents[i]
        if noise:
            x = x + sigmas[i] * torch.randn(x.shape, generator=torch.Generator().manual_seed(noise_seeds[i]))
        if blur:
            x = gaussian_blur(x.permute(1, 2, 0).contiguous(), blurs[i]).permute(2, 0, 1)
        if low_res:  # a smaller photo scaled up: digital zoom, a web thumbnail
            small = [max(8, round(s * factors[i])) for s in size]
            x = F.interpolate(F.interpolate(x[None], size=small, mode="bilinear", antialias=True, align_corners=False),
                              size=size, mode="bilinear", align_corners=False)[0]
        out[i] = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        if jpeg:
            out[i] = _jpeg(out[i], qualities[i])
    return out
