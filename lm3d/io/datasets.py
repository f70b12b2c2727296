"""The landmark datasets users bring (300-W, WFLW, a folder of their own), read into one form.

What each dataset is lives as data in ``lm3d/assets/datasets.json`` (its layout, file format, coordinate convention,
subsets); this module reads the files. Nothing is downloaded: point ``root`` at your copy.

    data = load_dataset("300w", "/data/300W")          # every image with a 68-point .pts beside it
    data = load_dataset("wflw", "/data/WFLW")          # the test list; annotations= picks another
    data = load_dataset("folder", "my_faces", layout="wflw98")

A ``LandmarkDataset`` holds ``Sample``s: the image's path, its landmarks (K,2) in lm3d's pixel convention (the
top-left pixel's centre at (0.5, 0.5); NaN rows where a point is not annotated), the face box the dataset gives (or
None), and the subsets it belongs to. Every file is checked as it is read: a ``.pts`` with the wrong number of
points, a malformed annotation line or a missing image is refused with the file and line named.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..face import layouts
from ..face.canonical import ASSETS
from ..inference import box_from_landmarks, read_image
from .media import IMAGE_SUFFIXES
from .pts import read_pts

WFLW_POINTS = 98


@lru_cache(maxsize=1)
def dataset_specs() -> dict:
    """The datasets lm3d reads, as ``lm3d/assets/datasets.json`` describes them."""
    return json.loads((ASSETS / "datasets.json").read_text())


@dataclass(frozen=True)
class Sample:
    image: Path
    landmarks: np.ndarray  # (K,2) lm3d pixels; NaN rows: not annotated
    box: tuple[float, float, float, float] | None = None  # the dataset's own face box, lm3d pixels
    subsets: tuple[str, ...] = ()


@dataclass
class LandmarkDataset:
    name: str
    layout: str
    samples: list[Sample] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, name: str) -> list[Sample]:
        return [s for s in self.samples if name in s.subsets]


def face_box(sample: Sample, layout) -> np.ndarray:
    """(4,) the sample's face box: the dataset's own (WFLW), else the box of lm3d's training convention built from its
    landmarks (``lm3d.inference.box_from_landmarks``)."""
    return np.asarray(sample.box if sample.box is not None else box_from_landmarks(sample.landmarks, layout),
                      dtype=np.float64)


def iod_corners(layout, sample: Sample | None = None) -> tuple[int, int]:
    """The layout's outer eye corners (its ``norm_pair``), the inter-ocular distance's ends; refused when the layout has
    none, or (given a sample) when that face leaves them unannotated."""
    if layout.norm_pair is None:
        raise ValueError(f"layout {layout.name} has no outer eye corners: its faces have no inter-ocular distance")
    if sample is not None and not np.isfinite(sample.landmarks[list(layout.norm_pair)]).all():
        raise ValueError(f"{sample.image}: its outer eye corners are not annotated, so it has no inter-ocular distance")
    return layout.norm_pair


def load_dataset(name: str, root: str | Path, layout: str | None = None, annotations: str | Path | None = None,
                 limit: int | None = None) -> LandmarkDataset:
    """Read dataset ``name`` (a key of ``dataset_specs()``) from ``root``; ``limit``: its first so many faces."""
    specs = dataset_specs()
    if name not in specs:
        raise ValueError(f"unknown dataset {name!r}; lm3d reads {', '.join(specs)} (lm3d/assets/datasets.json)")
    spec, root = specs[name], Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    layout = layout or spec["layout"]
    if layout is None:
        raise ValueError(f"dataset {name!r} has no layout of its own: pass layout= (--layout), e.g. ibug68")
    points = len(layouts.get(layout))
    if spec["format"] == "wflw":
        samples = _wflw(root, root / (annotations or spec["annotations"]), root / spec["images"], spec)
    elif spec["format"] == "pts-or-csv" and (root / "landmarks.csv").is_file():
        samples = _csv_folder(root, points)
    else:
        samples = _pts_folder(root, points, spec.get("subsets", {}))
    if not samples:
        raise ValueError(f"no annotated images found under {root} for dataset {name!r}: {spec['description']}")
    return LandmarkDataset(name, layout, samples[:limit] if limit else samples)


def _pts_folder(root: Path, points: int, subsets: dict) -> list[Sample]:
    """Every image under ``root`` with a ``.pts`` beside it (same name), sorted by path."""
    samples = []
    for pts in sorted(root.rglob("*.pts")):
        images = [pts.with_suffix(s) for s in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES)]
        image = next((i for i in images if i.is_file()), None)
        if image is None:
            raise FileNotFoundError(f"{pts} has no image beside it (same name, one of {', '.join(IMAGE_SUFFIXES)})")
        relative = pts.relative_to(root).as_posix()
        tags = tuple(tag for tag, prefixes in subsets.items()
                     if any(relative.startswith(p + "/") or f"/{p}/" in f"/{relative}" for p in prefixes))
        samples.append(Sample(image, read_pts(pts, points), None, tags))
    return samples


def _csv_folder(root: Path, points: int) -> list[Sample]:
    """``root/landmarks.csv``: image (relative to root), then x1, y1, ..., xK, yK (lm3d pixels; empty: unannotated)."""
    path, samples = root / "landmarks.csv", []
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            if number == 1 and row and row[0].strip().lower() == "image":
                continue  # a header line
            if len(row) != 1 + 2 * points:
                raise ValueError(f"{path} line {number}: expected an image and {2 * points} coordinates, got "
                                 f"{len(row)} fields")
            try:
                values = np.array([float(v) if v.strip() else np.nan for v in row[1:]]).reshape(points, 2)
            except ValueError as error:
                raise ValueError(f"{path} line {number}: {error}") from None
            image = root / row[0]
            if not image.is_file():
                raise FileNotFoundError(f"{path} line {number}: image {image} does not exist")
            samples.append(Sample(image, values))
    return samples


def _wflw(root: Path, annotations: Path, images: Path, spec: dict) -> list[Sample]:
    """WFLW's annotation list: 196 coordinates, x_min y_min x_max y_max, six 0/1 attributes, the image path."""
    if not annotations.is_file():
        raise FileNotFoundError(f"WFLW annotation list {annotations} does not exist (pass annotations= for another)")
    samples = []
    for number, line in enumerate(annotations.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 * WFLW_POINTS + 4 + 6 + 1:
            raise ValueError(f"{annotations} line {number}: expected {2 * WFLW_POINTS + 11} fields, got {len(fields)}")
        try:
            numbers = np.array([float(v) for v in fields[:2 * WFLW_POINTS + 4]])
            flags = [int(v) for v in fields[2 * WFLW_POINTS + 4:-1]]
        except ValueError as error:
            raise ValueError(f"{annotations} line {number}: {error}") from None
        image = images / fields[-1]
        if not image.is_file():
            raise FileNotFoundError(f"{annotations} line {number}: image {image} does not exist")
        offset = 0.5  # WFLW's pixel centres are at integers; lm3d's at half-integers
        landmarks = numbers[:2 * WFLW_POINTS].reshape(WFLW_POINTS, 2) + offset
        box = tuple(float(v) + offset for v in numbers[2 * WFLW_POINTS:])
        tags = tuple(name for name, flag in zip(spec["attributes"], flags) if flag)
        samples.append(Sample(image, landmarks, box, tags))
    return samples


# the face box's longer side over the frame's in SynthFaces' training images (synth300w, median over 200 training
# faces: 0.35): face_frames frames a dataset's faces alike, so that a model with S meets faces of the size it knows
FACE_FRACTION = 0.35


def face_frames(data: LandmarkDataset, image_size: int, face_fraction: float = FACE_FRACTION) -> dict:
    """The dataset's faces as one batch of square frames, each centred on its face and resized so that the face box's
    longer side is ``face_fraction`` of the frame (padding with black where the frame leaves the photo): ``image``
    (N,3,S,S) uint8, ``landmarks2d`` (N,K,2) pixels of the frame (NaN: not annotated), ``bbox`` (N,4) and ``iod`` (N,).
    What training code that wants equal-sized images (``lm3d adapt``) takes from a folder of photos of any size."""
    from PIL import Image

    if not 0 < face_fraction <= 1:
        raise ValueError(f"face_fraction must be in (0, 1], got {face_fraction}")
    layout = layouts.get(data.layout)
    first, second = iod_corners(layout)
    images, points, boxes = [], [], []
    for sample in data.samples:
        iod_corners(layout, sample)
        box = face_box(sample, layout)
        side = float(max(box[2] - box[0], box[3] - box[1])) / face_fraction
        centre = (box[:2] + box[2:]) / 2
        corner = centre - side / 2
        photo = Image.fromarray(read_image(sample.image))
        frame = photo.transform((image_size, image_size), Image.Transform.EXTENT,
                                (corner[0], corner[1], corner[0] + side, corner[1] + side), Image.Resampling.BILINEAR)
        scale = image_size / side
        images.append(np.asarray(frame))
        points.append((sample.landmarks - corner) * scale)
        boxes.append(np.concatenate([(box[:2] - corner) * scale, (box[2:] - corner) * scale]))
    landmarks = torch.as_tensor(np.stack(points), dtype=torch.float32)
    return {"image": torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(), "landmarks2d": landmarks,
            "bbox": torch.as_tensor(np.stack(boxes), dtype=torch.float32),
            "iod": (landmarks[:, first] - landmarks[:, second]).norm(dim=-1)}
