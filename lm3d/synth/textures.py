"""Real skin for SynthFaces: the texture bank, its provenance, and the mouth's inside.

The bank (``lm3d/assets/texture_bank``) holds real face photos unwrapped into the canonical mesh's UV space by
``data_scripts/build_texture_bank.py`` (dlib and MediaPipe, in their own venv): skin, brows, eyes with sclera, iris
and lids, lips. ``bank.json`` records each texture's package==version, path, licence, stated photo rights and mean
skin colour. A render picks one texture per face and recolours it part of the way towards the scene's sampled skin
tone (:func:`recolour`), so that 22 photos give a continuum of skin tones and the identity fields reshape them.

The bank's content is part of the renderer version: :func:`bank` checks its digest against
``TEXTURE_BANK_DIGEST``, so rebuilding the bank without bumping ``SYNTH_VERSION`` fails loudly instead of
silently changing cached samples.

The mouth opening is the 18 triangles between the inner lip contours (closed, they have no area): they are
painted as the mouth's inside, with upper and lower teeth near the lips (:func:`mouth_tables`,
:func:`mouth_colours`; ``lm3d.synth.paint`` paints them).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

BANK_FOLDER = Path(__file__).resolve().parents[1] / "assets" / "texture_bank"
# sha256 of bank.json and every texture file, in order (see bank_digest)
TEXTURE_BANK_DIGEST = "b9b633121e8db31de00cc90f35d5b293aa56a8279b6c173338f2150d99071ce9"
# MediaPipe's inner lip contour, vertex ids of the canonical mesh (its topology is MediaPipe's)
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_COLOUR = (0.30, 0.07, 0.08)  # the mouth's inside, lit
TEETH_COLOUR = (0.86, 0.82, 0.74)
UPPER_TEETH, LOWER_TEETH = 0.62, 0.16  # fractions across the opening (0 lower lip, 1 upper lip)
RECOLOUR_LIMITS = (0.4, 2.5)  # per-channel factor of the recolouring, so no texture is pushed to an extreme
MIP_LEVELS = 4  # 256, 128, 64 and 32 texels a side


@dataclass(frozen=True)
class TextureBank:
    texels: torch.Tensor  # (N * S * S, 3) float in 0..1: texture n's texel (row, column) at row n*S*S + row*S + column
    skin: torch.Tensor  # (N, 3) each texture's mean skin colour
    size: int  # S
    entries: tuple  # bank.json's per-texture records (provenance)

    def __len__(self) -> int:
        return len(self.skin)


def bank_digest(folder: Path = BANK_FOLDER) -> str:
    """sha256 over bank.json and the texture files it lists (their bytes, in order)."""
    manifest = (folder / "bank.json").read_bytes()
    digest = hashlib.sha256(manifest)
    for entry in json.loads(manifest)["textures"]:
        digest.update((folder / entry["file"]).read_bytes())
    return digest.hexdigest()


def bank_size(folder: Path = BANK_FOLDER) -> int:
    """How many textures the bank lists (without loading them)."""
    return len(json.loads((folder / "bank.json").read_text())["textures"])


@lru_cache(maxsize=1)
def bank(folder: Path = BANK_FOLDER) -> TextureBank:
    """The texture bank, checked against ``TEXTURE_BANK_DIGEST``."""
    import skimage.io

    if not (folder / "bank.json").exists():
        raise FileNotFoundError(f"no texture bank in {folder}: run data_scripts/build_texture_bank.py (see its docstring)")
    found = bank_digest(folder)
    if found != TEXTURE_BANK_DIGEST:
        raise RuntimeError(f"the texture bank in {folder} has digest {found[:16]}..., not the {TEXTURE_BANK_DIGEST[:16]}... "
                           "this renderer version was made with; after rebuilding it, bump SYNTH_VERSION "
                           "(lm3d/synth/render.py) and set TEXTURE_BANK_DIGEST (lm3d/synth/textures.py) to bank_digest()")
    manifest = json.loads((folder / "bank.json").read_text())
    size, entries = manifest["uv_size"], tuple(manifest["textures"])
    images = [skimage.io.imread(folder / e["file"]) for e in entries]
    for entry, image in zip(entries, images):
        if image.shape != (size, size, 3) or image.dtype != np.uint8:
            raise ValueError(f"texture {entry['file']} is {image.shape} {image.dtype}, expected ({size}, {size}, 3) uint8")
    texels = torch.from_numpy(np.stack(images)).reshape(-1, 3).float() / 255
    skin = torch.tensor([e["skin"] for e in entries], dtype=torch.float32)
    return TextureBank(texels.contiguous(), skin, size, entries)


@lru_cache(maxsize=4)
def mip_texels(device: str) -> tuple[torch.Tensor, tuple[int, ...]]:
    """The bank at MIP_LEVELS resolutions in one (rows, 3) table on a device, and each level's first row.

    Level l holds every texture at S / 2**l texels a side, box-filtered from level 0 over the texels the mesh
    covers (so the black outside the face never bleeds into its rim). A render reads the level whose texels are
    about a pixel apart: a small face then shows the average of the skin under each pixel, as a camera would,
    instead of one texel's colour picked at random (aliasing)."""
    from ..raster.uv_space import uv_map  # the UV map's coverage: which texels lie on the mesh

    b = bank()
    covered = uv_map(b.size).covered.float()[None, None]  # (1,1,S,S)
    images = b.texels.view(len(b), b.size, b.size, 3).permute(0, 3, 1, 2)
    levels, starts, start = [], [], 0
    for level in range(MIP_LEVELS):
        if level:
            window = 2 ** level
            weight = F.avg_pool2d(covered, window)
            pooled = F.avg_pool2d(images * covered, window) / weight.clamp_min(1e-6)
        else:
            pooled = images
        levels.append(pooled.permute(0, 2, 3, 1).reshape(-1, 3))
        starts.append(start)
        start += len(levels[-1])
    return torch.cat(levels).contiguous().to(device), tuple(starts)


def mip_level(texels_per_pixel: torch.Tensor) -> torch.Tensor:
    """(B,) the mip level whose texels are about one pixel apart: floor(log2(texels per pixel)), clamped."""
    return texels_per_pixel.clamp_min(1).log2().floor().long().clamp_(0, MIP_LEVELS - 1)


def recolour(bank_skin: torch.Tensor, target_skin: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """(B,3) per-channel factors that move a texture's mean skin (B,3) the fraction ``amount`` (B,) of the way
    (in log colour) to the target skin (B,3); 0 keeps the photo's colours."""
    ratio = (target_skin.clamp_min(0.02) / bank_skin.clamp_min(0.02)).log()
    return (ratio * amount[:, None]).exp().clamp(*RECOLOUR_LIMITS)


def mouth_tables(triangles: torch.Tensor, num_vertices: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(T,) bool: the mouth-opening triangles; (V,) 1 on the upper inner lip, 0 elsewhere."""
    on_contour = torch.zeros(num_vertices, dtype=torch.bool)
    on_contour[list(UPPER_INNER_LIP + LOWER_INNER_LIP)] = True
    upper = torch.zeros(num_vertices)
    upper[list(UPPER_INNER_LIP)] = 1.0
    return on_contour[triangles].all(1), upper


def mouth_colours(across: torch.Tensor) -> torch.Tensor:
    """(N,3) albedo inside an open mouth at fractions ``across`` (N,) from the lower (0) to the upper lip (1):
    teeth along both lips, a dark inside between, darker towards the middle."""
    dark = torch.tensor(MOUTH_COLOUR) * (0.55 + 0.45 * (2 * across - 1).abs())[:, None]
    teeth = ((across > UPPER_TEETH) | (across < LOWER_TEETH))[:, None]
    return torch.where(teeth, torch.tensor(TEETH_COLOUR), dark)
