"""Which scene attributes cost a real-photo detector its faces? dlib's detection rate on near-frontal SynthFaces,
split by attribute of the scene (occluder, light, hair, blur, size...).

    .venv/bin/python benchmarks/realism_breakdown.py --split val --count 1000

Renders the first ``--count`` ``synth300w`` faces of a split with this checkout, keeps the near-frontal ones (as
``benchmarks/realism.py`` does), runs dlib and MediaPipe on them in ``.venv-realism`` and prints, per attribute, the
rate on the faces that have it and on those that do not. Choose renderer changes on ``val`` and confirm them once on
``test`` (the split ``benchmarks/realism.py`` reports), so that the test rate is not tuned.
"""
from __future__ import annotations

import argparse

import numpy as np
from realism import matches, near_frontal, real_photo_faces  # benchmarks/ is this script's folder

from lm3d.face import camera
from lm3d.synth import SynthFaces

IMAGE_SIZE = 256  # as benchmarks/realism.py renders them; a scene's face size and place depend on it


def attributes(scenes: list[dict], iod: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> dict[str, np.ndarray]:
    """Per attribute name, a boolean per face."""
    def each(read):
        return np.array([bool(read(s)) for s in scenes])

    return {
        "occluded": each(lambda s: s["occluder"] is not None),
        "bald": each(lambda s: s["hair_amount"] == 0),
        "long hair": each(lambda s: s["hair_length"] < 12),
        "hairline below 6 cm": each(lambda s: s["hairline"] < 6),
        "IOD under 36 px": iod < 36,
        "blurred": each(lambda s: s["blur"] > 0),
        "noise over 0.02": each(lambda s: s["noise"] > 0.02),
        "grayscale": each(lambda s: s["grayscale"]),
        "photo background": each(lambda s: s["background"]["kind"] == "image"),
        "jaw open over 0.3": each(lambda s: s["expression"][0] > 0.3),
        "eyes closing over 0.5": each(lambda s: max(s["expression"][4], s["expression"][5]) > 0.5),
        "skin tone over 0.7 (dark)": each(lambda s: s["skin"][0] > 0.7),
        "texture recoloured over 0.6": each(lambda s: s["texture_recolour"] > 0.6),
        "ambient light under 0.35": each(lambda s: s["light"][0] < 0.35),
        "key light over 25 deg aside": each(lambda s: abs(s["light"][2]) > 25),
        "key light from below (elevation < 0)": each(lambda s: s["light"][3] < 0),
        "key light over 30 deg above": each(lambda s: s["light"][3] > 30),
        "|pitch| over 10 deg": np.abs(pitch) > 10,
        "|roll| over 10 deg": np.abs(roll) > 10,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--count", type=int, default=1000, help="faces to draw the near-frontal ones from")
    parser.add_argument("--max-yaw", type=float, default=15.0)
    args = parser.parse_args(argv)
    faces = near_frontal(args.count, IMAGE_SIZE, args.max_yaw, args.split)
    detected = real_photo_faces(faces["image"])
    found, mediapipe = (np.array([f is not None for f in matches(detected[name], faces["bbox"])])
                        for name in ("dlib", "mediapipe"))
    print(f"synth300w {args.split}, first {args.count} faces: {len(found)} near-frontal; dlib finds "
          f"{100 * found.mean():.1f} %, MediaPipe {100 * mediapipe.mean():.1f} %")
    _, pitch, roll = (a.numpy() for a in camera.rotation_to_euler(faces["rotation"]))
    scenes = SynthFaces("synth300w", args.split, args.count, image_size=IMAGE_SIZE).scenes(faces["index"].tolist())
    table = attributes(scenes, faces["iod"].numpy(), pitch, roll)
    print(f"{'attribute':40s} {'faces':>5s} {'dlib finds':>10s} {'without it':>10s}")
    for name, has in table.items():
        rate = f"{100 * found[has].mean():.1f} %" if has.any() else "-"
        rest = f"{100 * found[~has].mean():.1f} %" if (~has).any() else "-"
        print(f"{name:40s} {int(has.sum()):5d} {rate:>10s} {rest:>10s}")


if __name__ == "__main__":
    main()
