"""dlib's HOG faces and 68 points on SynthFaces images (runs in .venv-realism, never inside lm3d).

    .venv-realism/bin/python benchmarks/realism/dlib_faces.py IMAGES.npz PREDICTOR.dat FACES.json

IMAGES.npz holds a uint8 (N,3,H,W) array ``images`` (written by ``benchmarks/realism.py``); FACES.json gets, per
image, every face dlib's HOG detector finds (upsampling once) as its box (x0, y0, x1, y1), detector score and the
68 points of dlib's shape predictor in that box.
"""
import json
import sys
import time

import dlib
import numpy as np


def main(images_path: str, predictor_path: str, out_path: str) -> None:
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path)
    images = np.load(images_path)["images"]
    faces, start = [], time.perf_counter()
    for image in images:
        rgb = np.ascontiguousarray(image.transpose(1, 2, 0))
        boxes, scores, _ = detector.run(rgb, 1)
        found = []
        for box, score in zip(boxes, scores):
            shape = predictor(rgb, box)
            found.append({"box": [box.left(), box.top(), box.right(), box.bottom()], "score": float(score),
                          "points": [[p.x, p.y] for p in shape.parts()]})
        faces.append(found)
    with open(out_path, "w") as handle:
        json.dump({"format": "lm3d.dlib_faces/1", "faces": faces}, handle)
    print(f"dlib: {len(images)} images in {time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
