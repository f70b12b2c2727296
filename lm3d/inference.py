"""The inference API: load a checkpoint, predict landmarks of any layout or query set.

    >>> detector = lm3d.Detector.from_checkpoint("runs/std1/checkpoint.pt")
    >>> result = detector.predict(image, box=(x0, y0, x1, y1), layout="ibug68")
    >>> result.landmarks2d            # (68, 2) pixels, x then y
    >>> detector.predict(image, box=box, queries=(triangle, barycentric))   # any surface points

Images: an HxWx3 uint8 RGB array, an HxWx3 float array in [0, 1], an HxW grayscale array, a
file path, or a batch (a list of those, or an NxHxWx3 array with one box per image). The
baseline needs a face box; without one it runs ``box_detector`` if one was given (for example
``LBPFaceDetector``), and otherwise says that it needs a box.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .evaluate import load_model
from .face import CanonicalFace, layouts


@dataclass
class Prediction:
    landmarks2d: torch.Tensor  # (K,2) or (B,K,2) pixels, x then y
    box: torch.Tensor  # (4,) or (B,4) the face box that was used
    names: tuple[str, ...] | None  # point names when a layout was asked for


def _read_image(image) -> np.ndarray:
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image file {path} does not exist")
        import matplotlib.image

        image = matplotlib.image.imread(path)
    array = np.asarray(image)
    if array.size == 0:
        raise ValueError("the image is empty")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"expected an HxWx3 RGB or HxW grayscale image, got shape {array.shape}")
    array = array[..., :3]
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ValueError("float images must hold finite values in [0, 1]")
        return np.round(array * 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {array.dtype}; use uint8 or float in [0, 1]")


def _check_box(box) -> torch.Tensor:
    box = torch.as_tensor(box, dtype=torch.float32).reshape(-1)
    if box.shape != (4,) or not torch.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"a face box is (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {box.tolist()}")
    return box


class Detector:
    """A trained continuous landmark detector."""

    def __init__(self, model, box_detector=None):
        self.model = model.eval()
        self.face = CanonicalFace.load()
        self.box_detector = box_detector

    @classmethod
    def from_checkpoint(cls, path: str | Path, device=None, box_detector=None) -> "Detector":
        return cls(load_model(path, device), box_detector)

    def _queries(self, layout, queries):
        if (layout is None) == (queries is None):
            raise ValueError("pass exactly one of layout= (a layout name) or queries= (triangle, barycentric)")
        if layout is not None:
            chosen = layouts.get(layout)
            return chosen.points(self.face), chosen.names
        return self.face.points(*queries), None

    @torch.no_grad()
    def predict(self, image, box=None, layout: str | None = "ibug68", queries=None) -> Prediction:
        layout = None if queries is not None else layout
        points, names = self._queries(layout, queries)
        batched = isinstance(image, (list, tuple)) or (isinstance(image, np.ndarray) and image.ndim == 4)
        arrays = [_read_image(i) for i in image] if batched else [_read_image(image)]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"images in a batch must share one size, got {sorted(shapes)}")
        boxes = self._boxes(arrays, box, batched)
        device = next(self.model.parameters()).device
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).to(device)
        landmarks = self.model(images, boxes.to(device), points.to(device))["landmarks2d"].float().cpu()
        if not batched:
            return Prediction(landmarks[0], boxes[0], names)
        return Prediction(landmarks, boxes, names)

    def _boxes(self, arrays, box, batched) -> torch.Tensor:
        if box is None:
            if self.box_detector is None:
                raise ValueError("the baseline needs a face box: pass box=(x0, y0, x1, y1), or create the Detector "
                                 "with box_detector=lm3d.detectors.LBPFaceDetector()")
            found = [self.box_detector(a) for a in arrays]
            if any(f is None for f in found):
                raise ValueError("the box detector found no face; pass box= explicitly")
            return torch.stack([torch.as_tensor(f, dtype=torch.float32) for f in found])
        boxes = torch.as_tensor(box, dtype=torch.float32)
        if batched:
            if boxes.shape != (len(arrays), 4):
                raise ValueError(f"a batch of {len(arrays)} images needs boxes of shape ({len(arrays)}, 4), "
                                 f"got {tuple(boxes.shape)}")
            return torch.stack([_check_box(b) for b in boxes])
        return _check_box(boxes)[None]
