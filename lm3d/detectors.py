"""An optional face box detector: the LBP cascade that ships inside the scikit-image wheel.

The continuous baseline crops faces from an external box. On SynthFaces we simulate a detector
from the ground-truth box (``lm3d.model.crop.jitter_boxes``); this is a real one, for your own images.
It is a classical frontal-face cascade: it finds roughly frontal, upright faces and misses
profiles (on SynthFaces ``synth300w`` test images it finds only a minority of the faces, mostly
the frontal ones), which is exactly the weakness the paper's built-in spatial transformer removes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CASCADE_FILE = "lbpcascade_frontalface_opencv.xml"


class LBPFaceDetector:
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
