"""The inputs a user points the detector at: image files, folders of them, and videos.

``gather_inputs`` turns command-line paths into a list of ``Input`` (each with a unique output name, in a stable
order); ``video_frames`` decodes a video into RGB frames through ``imageio-ffmpeg`` (whose wheel carries its own
ffmpeg, so nothing is installed or downloaded at run time). Images are read by ``lm3d.inference.read_image``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass(frozen=True)
class Input:
    path: Path
    kind: str  # "image" or "video"
    name: str  # where its outputs go, relative to the output folder, without a suffix ("holiday/beach")


def kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def gather_inputs(paths) -> list[Input]:
    """Every image and video named by ``paths``: files as they are, folders searched recursively (sorted; other
    files skipped). A missing path, a file of unknown kind or two inputs with one output name are refused."""
    inputs = []
    for given in map(Path, paths):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.is_file() and kind_of(p) and not p.name.startswith("."))
            inputs += [Input(p, kind_of(p), (Path(given.name) / p.relative_to(given)).with_suffix("").as_posix())
                       for p in found]
        elif given.is_file():
            if kind_of(given) is None:
                raise ValueError(f"{given} is neither an image ({', '.join(IMAGE_SUFFIXES)}) nor a video "
                                 f"({', '.join(VIDEO_SUFFIXES)})")
            inputs.append(Input(given, kind_of(given), given.stem))
        else:
            raise FileNotFoundError(f"{given} does not exist")
    unique, names = {}, {}
    for item in inputs:
        if item.path.resolve() in unique:  # a file named twice (itself and through its folder) is done once
            continue
        if item.name in names:
            raise ValueError(f"{names[item.name]} and {item.path} would write to the same outputs ({item.name}); "
                             "pass their folders instead, or rename one")
        unique[item.path.resolve()], names[item.name] = item, item.path
    return list(unique.values())


def video_frames(path: str | Path) -> tuple[dict, Iterator[np.ndarray]]:
    """The video's metadata (``fps``, ``size`` as (width, height), ``frames`` when known) and an iterator over its
    frames as HxWx3 uint8 RGB arrays. A file ffmpeg cannot read, or one without a video stream, is refused here."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file {path} does not exist")
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration) as error:
        reader.close()
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "ffmpeg found no video stream"
        raise ValueError(f"cannot read video file {path}: {reason}") from error
    width, height = meta["size"]
    frames_known = meta.get("nframes")
    info = {"fps": float(meta.get("fps") or 0.0), "size": (width, height),
            "frames": int(frames_known) if frames_known not in (None, float("inf")) else None}

    def frames() -> Iterator[np.ndarray]:
        try:
            for data in reader:
                yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else "ffmpeg stopped"
            raise ValueError(f"video file {path} broke off while decoding: {reason}") from error
        finally:
            reader.close()

    return info, frames()
