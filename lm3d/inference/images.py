"""Reading images for the detector: every accepted form becomes one HxWx3 uint8 RGB array, or a clear error.

Accepted: an HxWx3 uint8 RGB array, an HxWx3 float array in [0, 1], an HxW (or HxWx1) grayscale array, an HxWx4
RGBA array (alpha is dropped), or a file path. Views with any strides are fine. Larger images than ``MAX_PIXELS``
are refused: downscale them first (S only ever needs a small copy).

Files (``read_image_file``, through Pillow): 8- and 16-bit PNGs (16 bits are scaled to 8), grayscale, palette and
RGBA images become RGB; a photo's EXIF orientation is applied, so the landmarks match the picture as a viewer shows
it. An unreadable or truncated file is refused with its name and Pillow's reason.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

MAX_PIXELS = 100_000_000
MAX_BOX_TO_IMAGE = 10  # a face box at most this many times the image's longer side


def read_image(image) -> np.ndarray:
    """One image (an array of an accepted form, or a file path) as an HxWx3 uint8 RGB array."""
    array = read_image_file(image) if isinstance(image, (str, Path)) else np.asarray(image)
    if array.size == 0:
        raise ValueError("the image is empty")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"expected an HxWx3 RGB, HxWx4 RGBA or HxW grayscale image, got shape {array.shape}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ValueError(f"the image is {array.shape[1]}x{array.shape[0]} pixels, more than {MAX_PIXELS:,}; "
                         "downscale it first")
    array = np.ascontiguousarray(array[..., :3])  # flipped or strided views become plain arrays
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ValueError("float images must hold finite values in [0, 1]")
        return np.round(array * 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {array.dtype}; use uint8 or float in [0, 1]")


def read_image_file(path: str | Path) -> np.ndarray:
    """An image file as an HxW, HxWx3 or HxWx4 uint8 array (``read_image`` makes it RGB), or a clear error."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with Image.open(path) as opened:
            width, height = opened.size  # read from the header: a huge image is refused before it is decoded
            if width * height > MAX_PIXELS:
                raise ValueError(f"the image is {width}x{height} pixels, more than {MAX_PIXELS:,}; downscale it first")
            opened.load()  # decodes now: a truncated file fails here, not later inside the model
            picture = ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot read image file {path}: {error}") from error
    if picture.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit (or 32-bit) grayscale
        array = np.asarray(picture, dtype=np.float64)
        top = 65535.0 if picture.mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        return np.clip(np.round(array / top * 255), 0, 255).astype(np.uint8)
    if picture.mode not in ("L", "RGB", "RGBA"):  # palette, CMYK, LA, 1-bit...
        picture = picture.convert("RGBA" if "A" in picture.mode or "transparency" in picture.info else "RGB")
    return np.asarray(picture)


def check_box(box, image_shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """A face box (x0, y0, x1, y1) as a (4,) float tensor, refused unless finite and non-empty, and (given the
    image's (H, W, ...) shape) unless it overlaps the image: a box wholly outside would crop pure padding, and the
    model would still answer with confident landmarks."""
    box = torch.as_tensor(box, dtype=torch.float32).reshape(-1)
    if box.shape != (4,) or not torch.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"a face box is (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {box.tolist()}")
    if image_shape is not None:
        height, width = image_shape[:2]
        if box[2] <= 0 or box[3] <= 0 or box[0] >= width or box[1] >= height:
            raise ValueError(f"the face box {box.tolist()} lies wholly outside the {width}x{height} image")
        extent = float((box[2:] - box[:2]).max())
        if extent > MAX_BOX_TO_IMAGE * max(height, width):  # the crop would resample a speck: the answer is noise
            raise ValueError(f"the face box {box.tolist()} is {extent / max(height, width):.3g} times the "
                             f"{width}x{height} image's size, more than {MAX_BOX_TO_IMAGE}")
    return box
