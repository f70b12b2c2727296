"""Landmarks drawn over the picture they were found in: PNG overlays of images, H.264 overlays of videos."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from ..runtime import write_atomically

# one colour per point set, in the order of the record (RGB)
COLOURS = ((255, 64, 64), (64, 200, 255), (255, 210, 0), (120, 255, 120), (255, 120, 255), (255, 255, 255))


def draw_points(picture: np.ndarray, record: dict) -> np.ndarray:
    """A copy of the HxWx3 uint8 ``picture`` with the record's crop (RoI) outlined and its points as dots: visible
    points filled, hidden ones (a 3D head's self-occlusion) as rings."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(picture))
    draw = ImageDraw.Draw(image)
    radius = max(1.5, min(picture.shape[:2]) / 200)
    if record.get("roi"):
        corners = [tuple(c) for c in record["roi"]]
        draw.line(corners + corners[:1], fill=(255, 255, 255), width=max(1, round(radius / 2)))
    for colour, entry in zip(COLOURS * 8, record["points"].values()):
        points = entry.get("landmarks2d")
        if points is None:
            continue
        visible = entry.get("visible") or [True] * len(points)
        for (x, y), seen in zip(points, visible):
            box = (x - radius, y - radius, x + radius, y + radius)
            draw.ellipse(box, fill=colour if seen else None, outline=colour)
    return np.asarray(image)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int]) -> None:
    """Encode HxWx3 uint8 ``frames`` of ``size`` (width, height) as an H.264 MP4 (atomically)."""
    import imageio_ffmpeg

    def encode(temporary: Path) -> None:
        writer = imageio_ffmpeg.write_frames(str(temporary), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                             output_params=["-f", "mp4"], macro_block_size=2, quality=7)
        writer.send(None)
        try:
            for frame in frames:
                writer.send(np.ascontiguousarray(frame).tobytes())
        finally:
            writer.close()

    write_atomically(path, encode)
