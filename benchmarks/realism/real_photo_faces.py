"""Real-photo detectors' faces on SynthFaces images: dlib's HOG faces with its 68 points, and MediaPipe's Face
Landmarker (runs in .venv-realism, never inside lm3d).

    .venv-realism/bin/python benchmarks/realism/real_photo_faces.py IMAGES.npz PREDICTOR.dat LANDMARKER.task FACES.json

IMAGES.npz holds a uint8 (N,3,H,W) array ``images`` (written by ``benchmarks/realism.py``). FACES.json gets, per
image, every face dlib's HOG detector finds (upsampling once): its box (x0, y0, x1, y1), detector score and the 68
points of dlib's shape predictor in that box; and every face MediaPipe finds in the whole image, as the box of its
mesh points, in pixels.
"""
import json
import sys
import time

import dlib
import mediapipe as mp
import numpy as np
from mediapipe.tasks import python as mp_tasks
from mediapipe.tasks.python import vision


def main(images_path: str, predictor_path: str, landmarker_path: str, out_path: str) -> None:
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(predictor_path)
    options = vision.FaceLandmarkerOptions(base_options=mp_tasks.BaseOptions(model_asset_path=landmarker_path),
                                           num_faces=4)
    landmarker = vision.FaceLandmarker.create_from_options(options)
    images = np.load(images_path)["images"]
    faces, start = {"dlib": [], "mediapipe": []}, time.perf_counter()
    for image in images:
        rgb = np.ascontiguousarray(image.transpose(1, 2, 0))
        boxes, scores, _ = detector.run(rgb, 1)
        faces["dlib"].append([{"box": [b.left(), b.top(), b.right(), b.bottom()], "score": float(s),
                               "points": [[p.x, p.y] for p in predictor(rgb, b).parts()]} for b, s in zip(boxes, scores)])
        meshes = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)).face_landmarks
        height, width = rgb.shape[:2]
        found = []
        for mesh in meshes:
            xs, ys = [p.x * width for p in mesh], [p.y * height for p in mesh]
            found.append({"box": [min(xs), min(ys), max(xs), max(ys)], "score": 1.0})
        faces["mediapipe"].append(found)
    landmarker.close()
    with open(out_path, "w") as handle:
        json.dump({"format": "lm3d.real_photo_faces/1", **faces}, handle)
    print(f"dlib and MediaPipe: {len(images)} images in {time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
