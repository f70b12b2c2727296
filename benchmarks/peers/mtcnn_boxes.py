"""MTCNN face boxes for lm3d's evaluation images (runs in the peer venv .venv-peers, never inside lm3d).

    .venv-peers/bin/python benchmarks/peers/mtcnn_boxes.py IMAGES.npz BOXES.json

IMAGES.npz holds one uint8 (N,3,H,W) array per key (written by ``benchmarks/face_boxes.py``); BOXES.json
gets, per key, the most confident MTCNN box (x0, y0, x1, y1) of each image, or null where it found none.
MTCNN (Zhang et al. 2016) is the detector the paper compares its spatial transformer with; its weights ship
inside the facenet-pytorch wheel, so nothing downloads.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "torchvision_standin"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from facenet_pytorch import MTCNN  # noqa: E402

MIN_FACE_PX = 12  # the smallest SynthFaces test faces are ~19 px wide at 128 px; MTCNN's default is 20


def main(images_path: str, out_path: str) -> None:
    torch.set_num_threads(2)
    detector = MTCNN(keep_all=True, min_face_size=MIN_FACE_PX, device="cpu")
    inputs = np.load(images_path)
    boxes, start = {}, time.perf_counter()
    for key in inputs.files:
        images = np.ascontiguousarray(inputs[key].transpose(0, 2, 3, 1))  # (N,H,W,3) RGB uint8
        found = []
        for s in range(0, len(images), 64):
            batch_boxes, batch_probs = detector.detect(images[s:s + 64])
            for b, p in zip(batch_boxes, batch_probs):
                found.append(None if b is None else [float(v) for v in b[int(np.argmax(p))]])
        boxes[key] = found
        print(f"{key}: {sum(f is not None for f in found)}/{len(found)} faces found")
    Path(out_path).write_text(json.dumps({"format": "lm3d.face_boxes/1", "detector": "MTCNN (facenet-pytorch 2.6.0)",
                                          "min_face_px": MIN_FACE_PX, "boxes": boxes}) + "\n")
    print(f"MTCNN boxes in {out_path} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
