"""Real detectors' face boxes on lm3d's evaluation images: MTCNN (in the peer venv) and the LBP cascade.

    .venv/bin/python benchmarks/face_boxes.py --image-size 256 --count 500 --out reports/mtcnn_boxes.json

Renders exactly the images ``lm3d.evaluate`` uses (the test set of each evaluation source and the fixed
stability clips), hands them to ``benchmarks/peers/mtcnn_boxes.py`` in ``.venv-peers`` (``make peers``
builds it; MTCNN never becomes an import of lm3d), and writes the boxes as ``lm3d.face_boxes/1`` JSON, ready
for ``python -m lm3d.evaluate --boxes file:reports/mtcnn_boxes.json``. Prints each detector's detection rate
on the test sets beside the LBP cascade's.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lm3d.evaluation import EVAL_SOURCES, test_faces
from lm3d.evaluation.video import CLIPS, LENGTH, test_clips
from lm3d.inference import face_boxes

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".venv-peers" / "bin" / "python"


def evaluation_images(image_size: int, count: int, clips: int = CLIPS, length: int = LENGTH) -> dict:
    images = {}
    for source in EVAL_SOURCES:
        images[f"{source}/test"] = test_faces(source, count, image_size)
        for kind in ("static", "moving"):
            for index, clip in enumerate(test_clips(source, kind, image_size, clips, length)):
                images[f"{source}/{kind}/{index}"] = clip
    return images


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("reports/mtcnn_boxes.json"))
    args = parser.parse_args(argv)
    if not PEER_PYTHON.exists():
        raise SystemExit(f"{PEER_PYTHON} is missing: run `make peers` first")
    rendered = evaluation_images(args.image_size, args.count)
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "images.npz"
        np.savez(inputs, **{key: value["image"].numpy() for key, value in rendered.items()})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(PEER_PYTHON), str(ROOT / "benchmarks" / "peers" / "mtcnn_boxes.py"), str(inputs),
                        str(args.out)], check=True)
    print(f"{'source':10s} {'MTCNN found %':>14s} {'LBP found %':>12s} {'LBP s/image':>12s}")
    for source in EVAL_SOURCES:
        batch = rendered[f"{source}/test"]
        _, mtcnn = face_boxes(f"file:{args.out}", batch["image"], batch["bbox"], key=f"{source}/test")
        start = time.perf_counter()
        _, lbp = face_boxes("lbp", batch["image"], batch["bbox"])
        seconds = (time.perf_counter() - start) / len(batch["image"])
        print(f"{source:10s} {100 * mtcnn.float().mean():14.1f} {100 * lbp.float().mean():12.1f} {seconds:12.4f}")


if __name__ == "__main__":
    sys.exit(main())
