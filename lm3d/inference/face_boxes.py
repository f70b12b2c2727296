"""Face boxes for the models that crop around one: simulated, a real face finder, or boxes from a file.

The continuous baseline crops faces from an external box. On SynthFaces we simulate a detector
from the ground-truth box (``lm3d.model.crop.jitter_boxes``); ``LBPFaceFinder`` is a real face finder, for your
own images: the LBP cascade that ships inside the scikit-image wheel. It is a classical frontal-face
cascade: it finds roughly frontal, upright faces and misses profiles (on SynthFaces ``synth300w`` test
images it finds only a minority of the faces, mostly the frontal ones), which is exactly the weakness the
paper's built-in spatial transformer removes. Boxes of peer detectors that cannot be imported here
(MTCNN, in its own venv: ``benchmarks/face_boxes.py``) come in as a JSON file.

``face_boxes(kind, images, true_boxes)`` gives the evaluation one interface to all three.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..face import CanonicalFace, layouts
from ..model.crop import fit_similarity, jitter_boxes

CASCADE_FILE = "lbpcascade_frontalface_opencv.xml"
BOX_SEED = 12345  # the simulated detector's noise: one fixed stream, so every model sees the same boxes
BOX_FILE_FORMAT = "lm3d.face_boxes/1"


class LBPFaceFinder:
    """Callable: HxWx3 uint8 image -> the largest face box (x0, y0, x1, y1), or None."""

    def __init__(self, scale_factor: float = 1.2, min_size: int = 24):
        import skimage.data
        import skimage.feature

        path = Path(skimage.data.__file__).parent / CASCADE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the scikit-image install")
        self.cascade = skimage.feature.Cascade(str(path))
        self.scale_factor, self.min_size = scale_factor, min_size

    def detect(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        gray = np.asarray(image, dtype=np.float32).mean(-1) / 255.0 if image.ndim == 3 else image / 255.0
        found = self.cascade.detect_multi_scale(img=gray, scale_factor=self.scale_factor, step_ratio=1,
                                                min_size=(self.min_size, self.min_size),
                                                max_size=(min(gray.shape), min(gray.shape)))
        return [(d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]) for d in found]

    def __call__(self, image: np.ndarray):
        boxes = self.detect(image)
        return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])) if boxes else None


def face_boxes(kind: str, images: torch.Tensor, true_boxes: torch.Tensor, key: str | None = None,
               seed: int = BOX_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes (N,4) and whether each face was found (N,) for uint8 images (N,3,H,W).

    ``kind``: ``simulated`` (the true boxes with detector-like noise drawn from ``seed``; always found),
    ``lbp`` (:class:`LBPFaceFinder` on each image), or ``file:PATH`` (the boxes stored under ``key`` in a
    JSON file of format ``lm3d.face_boxes/1``, null where the detector found nothing).
    """
    count = len(images)
    if kind == "simulated":
        return jitter_boxes(true_boxes.float(), torch.Generator().manual_seed(seed)), torch.ones(count, dtype=torch.bool)
    if kind == "lbp":
        detector = _lbp()
        found = [detector(image.permute(1, 2, 0).numpy()) for image in images]
    elif kind.startswith("file:"):
        stored = _box_file(kind[5:]).get(key)
        if stored is None or len(stored) != count:
            raise ValueError(f"{kind[5:]} holds no {count} boxes for {key!r}; make it with benchmarks/face_boxes.py")
        found = stored
    else:
        raise ValueError(f"unknown face boxes {kind!r}; known: simulated, lbp, file:PATH")
    boxes = torch.tensor([b if b is not None else [0.0, 0.0, 1.0, 1.0] for b in found], dtype=torch.float32)
    return boxes.reshape(count, 4), torch.tensor([b is not None for b in found], dtype=torch.bool)


@lru_cache(maxsize=1)
def _lbp() -> LBPFaceFinder:
    return LBPFaceFinder()


@lru_cache(maxsize=4)
def _box_file(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read face boxes from {path} ({error})") from None
    if not isinstance(data, dict) or data.get("format") != BOX_FILE_FORMAT:
        raise ValueError(f"{path} is not a face box file (format {BOX_FILE_FORMAT!r})")
    return data["boxes"]


def box_from_landmarks(landmarks, layout: str = "ibug68", face: CanonicalFace | None = None) -> torch.Tensor:
    """(4,) the face box that lm3d's box models are trained on (the extent of the face mesh, from the forehead to the
    chin) for a face whose ``layout`` points are ``landmarks`` (K,2) pixels (NaN rows: not annotated). A dataset
    annotated with landmarks only (300-W) gives a box model its box this way; a tight box around the landmarks
    would cut the forehead off. The sides and the bottom are the landmarks' own (the jaw line spans the face's width
    in any pose); the top is the canonical face, seen from the front and fitted to the points by a similarity (so
    the forehead's height follows the face's size and roll)."""
    layout = layouts.get(layout)
    face = face or CanonicalFace.load()
    points = torch.as_tensor(np.asarray(landmarks, dtype=np.float32))
    if points.shape != (len(layout), 2):
        raise ValueError(f"layout {layout.name} has {len(layout)} points, got landmarks of shape {tuple(points.shape)}")
    known = torch.isfinite(points).all(1)
    if known.sum() < 3:
        raise ValueError("a face box from landmarks needs at least 3 annotated points")
    flip = torch.tensor([1.0, -1.0])  # canonical y points up, image y down
    template = layout.points(face)[:, :2] * flip
    transform = fit_similarity(template[None], torch.nan_to_num(points)[None], known[None].float())[0]
    mesh = face.vertices[:, :2] * flip @ transform[:, :2].T + transform[:, 2]
    low, high = points[known].min(0).values, points[known].max(0).values
    return torch.stack([low[0], torch.minimum(mesh[:, 1].min(), low[1]), high[0], high[1]])
