"""``lm3d detect``: a trained detector over image files, folders and videos, its answers written to a folder.

    lm3d detect photos/ clip.mp4 --out results/                  # the shipped model (docs/model_card.md)
    lm3d detect face.jpg --out results/ --layout ibug68 wflw98 --format jsonl csv pts --overlay
    lm3d detect face.jpg --out results/ --queries my_points.json   # a layout saved by the picker
    lm3d detect photos/ --checkpoint runs/full/checkpoint.pt --out results/   # a model you trained

What it writes into ``--out`` (``lm3d.io.records`` says what a record holds):

* ``records/<name>.json`` per image, ``records/<name>/chunk_NNNNNN.jsonl`` per ``--batch-size`` frames of a video:
  each written whole (atomically) once its answer is known, so an interrupted run loses nothing and a rerun
  skips what is done; ``run.json`` keeps the settings, and a rerun with other settings is refused;
* at the end, from the records: ``landmarks.jsonl`` (one record per image or frame, in input order),
  ``landmarks.csv`` (one row per landmark), with ``--format pts`` an iBUG ``.pts`` file per image (or frame) and
  point set under ``pts/``, with ``--overlay`` the points drawn over each image (``overlays/<name>.png``) and over
  each video (``overlays/<name>.mp4``, H.264 through imageio-ffmpeg);
* ``failures.json``: the inputs that could not be read, each with its reason.

A still image in which no face is found gets a record with ``face_found: false`` and a message; it counts as a
failure for the exit code, as an unreadable file does (exit code 1; the rest of a folder is still processed). A
video's frames without a face are counted in the summary and do not fail the run. A model with a face box (the
baseline) finds faces with scikit-image's LBP cascade; a model with S finds them itself.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..face import layouts
from ..face.layouts import LayoutAssetError
from ..inference import Detector, LBPFaceFinder, read_image
from ..model import checkpoint
from ..model.checkpoint import CheckpointError
from ..runtime import write_atomically
from .media import Input, gather_inputs, video_frames
from .overlay import draw_points, write_video
from .pts import write_pts
from .records import CSV_COLUMNS, crop_from_roi, csv_rows, prediction_record, smooth_records

FORMATS = ("jsonl", "csv", "pts")


def point_sets(layout_names, queries_files) -> dict:
    """Name -> Layout of every asked point set: shipped layouts by name, query sets from files the picker saved."""
    chosen = {name: layouts.get(name) for name in layout_names}
    for path in queries_files:
        layout = layouts.load(path)
        if layout.name in chosen:
            raise ValueError(f"two point sets are named {layout.name!r}; rename the queries file's layout")
        chosen[layout.name] = layout
    if not chosen:
        raise ValueError("ask for at least one point set: --layout NAME or --queries FILE")
    return chosen


class Detection:
    """The job: ``run`` answers every input not yet done, ``assemble`` writes the outputs from the records."""

    def __init__(self, detector: Detector, sets: dict, out: Path, dataset: str | None = None, batch_size: int = 8,
                 follow: bool = False):
        if batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
        if follow and detector.model.needs_box:
            raise ValueError("--follow starts each video frame from the previous frame's crop: it needs a model with S "
                             "(a box model gets a new box from the face finder on every frame)")
        self.detector, self.sets, self.out, self.dataset, self.batch_size = detector, sets, Path(out), dataset, batch_size
        self.follow = follow
        self.queries = (torch.cat([s.triangle for s in sets.values()]), torch.cat([s.barycentric for s in sets.values()]))
        starts = np.cumsum([0] + [len(s) for s in sets.values()])
        self.slices = {name: (int(starts[i]), int(starts[i + 1]), layout.names)
                       for i, (name, layout) in enumerate(sets.items())}

    # --- answering -----------------------------------------------------------------------------------------------
    def answer(self, frames: list[np.ndarray], source: str, first_frame: int | None) -> list[dict]:
        """Records of ``frames`` (one image, or consecutive frames of one video from ``first_frame``)."""
        model = self.detector.model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the records carry each message
            if model.needs_box:  # one by one: the face finder may miss a face in any of them
                predictions = [self._predict_one(frame) for frame in frames]
            else:
                batched = self.detector.predict(list(frames), queries=self.queries, dataset=self.dataset)
                predictions = [batched.frame(i) for i in range(len(frames))]
        return [prediction_record(p, self.slices, source, None if first_frame is None else first_frame + i,
                                  frames[i].shape) if not isinstance(p, str) else
                self._no_face(p, source, None if first_frame is None else first_frame + i, frames[i].shape)
                for i, p in enumerate(predictions)]

    def _predict_one(self, frame: np.ndarray):
        try:
            return self.detector.predict(frame, queries=self.queries, dataset=self.dataset)
        except ValueError as error:
            if "found no face" not in str(error):
                raise
            return "no face found: the LBP face finder found none, and this model reads a face box"

    def _no_face(self, message: str, source: str, frame: int | None, shape) -> dict:
        return {"source": source, "frame": frame, "width": int(shape[1]), "height": int(shape[0]), "face_found": False,
                "message": message, "face_score": None, "box": None, "roi": None,
                "points": {name: {"names": list(names) if names else None, "landmarks2d": None}
                           for name, (_, _, names) in self.slices.items()}}

    def run(self, inputs: list[Input], progress: bool = True) -> list[dict]:
        """Answer every input whose records are missing; returns the failures (path and reason)."""
        failures = []
        for item in tqdm(inputs, desc="detect", unit="input", disable=not progress or None):
            try:
                if item.kind == "image":
                    target = self.out / "records" / f"{item.name}.json"
                    if not target.exists():
                        record = self.answer([read_image(item.path)], str(item.path), None)[0]
                        write_atomically(target, lambda t, r=record: t.write_text(json.dumps(r) + "\n"))
                else:
                    self._run_video(item, progress)
            except (ValueError, OSError) as error:  # unreadable, truncated, corrupt, too large...
                failures.append({"source": str(item.path), "reason": str(error)})
                print(f"lm3d detect: {item.path}: {error}", file=sys.stderr)
        return failures

    def _run_video(self, item: Input, progress: bool) -> None:
        folder = self.out / "records" / item.name
        info, frames = video_frames(item.path)
        chunk, index, seen, previous = [], 0, 0, None
        for frame in tqdm(frames, desc=item.path.name, unit="frame", total=info["frames"], leave=False,
                          disable=not progress or None):
            chunk.append(frame)
            seen += 1
            if len(chunk) == self.batch_size:
                previous = self._video_chunk(folder, chunk, str(item.path), index, previous)
                chunk, index = [], index + 1
        if chunk:
            self._video_chunk(folder, chunk, str(item.path), index, previous)
        if seen == 0:
            raise ValueError(f"video file {item.path} holds no frames")
        write_atomically(folder / "done.json", lambda t: t.write_text(json.dumps({**info, "frames": seen}) + "\n"))

    def _video_chunk(self, folder: Path, chunk: list, source: str, index: int, previous: dict | None) -> dict:
        """Answer (or read back) one chunk of frames; returns its last record. With ``follow`` each frame starts from
        the crop of the record before it (rounded as written, so a resumed run continues exactly as an unbroken one)."""
        target = folder / f"chunk_{index:06d}.jsonl"
        if target.exists():
            return json.loads(target.read_text().splitlines()[-1])
        if not self.follow:
            records = self.answer(chunk, source, index * self.batch_size)
        else:
            records = []
            for offset, frame in enumerate(chunk):
                start = crop_from_roi(previous["roi"]) if previous and previous["face_found"] else None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    answer = self.detector.predict(frame, queries=self.queries, dataset=self.dataset, start_crop=start)
                previous = prediction_record(answer, self.slices, source, index * self.batch_size + offset, frame.shape)
                records.append(previous)
        text = "".join(json.dumps(r) + "\n" for r in records)
        write_atomically(target, lambda t: t.write_text(text))
        return records[-1]

    # --- the outputs -----------------------------------------------------------------------------------------------
    def records_of(self, item: Input) -> list[dict]:
        if item.kind == "image":
            path = self.out / "records" / f"{item.name}.json"
            return [json.loads(path.read_text())] if path.exists() else []
        folder = self.out / "records" / item.name
        if not (folder / "done.json").exists():
            return []
        return [json.loads(line) for chunk in sorted(folder.glob("chunk_*.jsonl")) for line in chunk.read_text().splitlines()]

    def assemble(self, inputs: list[Input], formats, overlay: bool, smooth: bool = False) -> dict:
        """landmarks.jsonl and .csv, .pts files and overlays from the records of the finished inputs; with ``smooth``
        each video's 2D landmarks through the One-Euro filter (the records keep the raw answers)."""
        lines, rows, counts = [], [], {"images": 0, "frames": 0, "no face": []}
        for item in inputs:
            records = self.records_of(item)
            if smooth and item.kind == "video" and records:
                records = smooth_records(records, json.loads((self.out / "records" / item.name / "done.json").read_text())["fps"])
            for record in records:
                lines.append(json.dumps(record) + "\n")
                rows += csv_rows(record)
                if "pts" in formats and record["face_found"]:
                    frame = "" if record["frame"] is None else f"/frame_{record['frame']:06d}"
                    for name, entry in record["points"].items():
                        path = self.out / "pts" / f"{item.name}{frame}.{name}.pts"
                        if not path.exists():
                            write_pts(path, entry["landmarks2d"])
            if not records:
                continue
            counts["images" if item.kind == "image" else "frames"] += len(records)
            missing = [r["frame"] for r in records if not r["face_found"]]
            if missing:
                counts["no face"].append({"source": str(item.path), "frames": missing if item.kind == "video" else None})
            if overlay:
                self._overlay(item, records)
        if "jsonl" in formats:
            write_atomically(self.out / "landmarks.jsonl", lambda t: t.write_text("".join(lines)))
        if "csv" in formats:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(rows)
            write_atomically(self.out / "landmarks.csv", lambda t: t.write_text(buffer.getvalue()))
        return counts

    def _overlay(self, item: Input, records: list[dict]) -> None:
        if item.kind == "image":
            target = self.out / "overlays" / f"{item.name}.png"
            if not target.exists():
                picture = draw_points(read_image(item.path), records[0])
                write_atomically(target, lambda t: _save_png(picture, t))
            return
        target = self.out / "overlays" / f"{item.name}.mp4"
        if not target.exists():
            info, frames = video_frames(item.path)
            write_video(target, (draw_points(f, r) for f, r in zip(frames, records)), info["fps"] or 25.0, info["size"])


def _save_png(picture: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(picture).save(path, format="PNG")


def settings_of(args, sets: dict) -> dict:
    """What decides the records' numbers: a rerun into the same folder must match it."""
    digest = hashlib.sha256(checkpoint.resolve(args.checkpoint).read_bytes()).hexdigest()
    return {"checkpoint_sha256": digest, "dataset": args.dataset, "min_face_score": args.min_face_score,
            "batch_size": args.batch_size, "follow": args.follow,
            "point_sets": {name: {"names": list(s.names), "triangle": s.triangle.tolist(),
                                  "barycentric": [[round(b, 6) for b in row] for row in s.barycentric.tolist()]}
                           for name, s in sets.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lm3d detect", description=__doc__.splitlines()[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="image files, folders of them (searched recursively), videos")
    parser.add_argument("--out", type=Path, required=True, help="the folder the results go to")
    parser.add_argument("--checkpoint", type=Path, default=Path(checkpoint.PRETRAINED),
                        help="a trained model (python -m lm3d.train); default: the shipped weights, 'pretrained'")
    parser.add_argument("--layout", nargs="+", default=None,
                        help=f"layouts to answer (default ibug68): {', '.join(layouts.names())}")
    parser.add_argument("--queries", nargs="+", type=Path, default=[], help="layout files saved by the query picker")
    parser.add_argument("--dataset", default=None, help="answer in a training dataset's convention (a model with D)")
    parser.add_argument("--format", nargs="+", default=["jsonl", "csv"], choices=FORMATS, help="outputs (default jsonl csv)")
    parser.add_argument("--overlay", action="store_true", help="also draw the points over each image and video")
    parser.add_argument("--batch-size", type=int, default=8, help="video frames per forward pass (default 8)")
    parser.add_argument("--follow", action="store_true",
                        help="videos: start each frame's crop from the previous frame's face (a model with S; frame by frame)")
    parser.add_argument("--smooth", action="store_true",
                        help="videos: smooth the 2D landmarks over time with the One-Euro filter (lm3d.inference.filters)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--min-face-score", type=float, default=0.5, help="below it, an image holds no face (models with S)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        sets = point_sets(args.layout or ([] if args.queries else ["ibug68"]), args.queries)
        inputs = gather_inputs(args.paths)
        if args.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda: no GPU is available here")
        device = None if args.device == "auto" else args.device
        detector = Detector.from_checkpoint(args.checkpoint, device=device, min_face_score=args.min_face_score)
        if detector.model.needs_box:
            detector.face_finder = LBPFaceFinder()
        job = Detection(detector, sets, args.out, args.dataset, args.batch_size, args.follow)
        settings = settings_of(args, sets)
        recorded = args.out / "run.json"
        if recorded.exists() and json.loads(recorded.read_text()) != settings:
            raise ValueError(f"{args.out} holds results made with other settings (checkpoint, point sets, dataset, "
                             "face score, batch size or --follow); pass another --out, or delete it")
        write_atomically(recorded, lambda t: t.write_text(json.dumps(settings) + "\n"))
    except (ValueError, FileNotFoundError, LayoutAssetError, CheckpointError) as error:
        print(f"lm3d detect: {error}", file=sys.stderr)
        return 2
    failures = job.run(inputs, progress=not args.quiet)
    counts = job.assemble(inputs, args.format, args.overlay, args.smooth)
    write_atomically(args.out / "failures.json", lambda t: t.write_text(json.dumps(failures, indent=1) + "\n"))
    still = [entry["source"] for entry in counts["no face"] if entry["frames"] is None]
    frames = sum(len(entry["frames"]) for entry in counts["no face"] if entry["frames"] is not None)
    print(f"lm3d detect: {counts['images']} images and {counts['frames']} video frames answered into {args.out}; "
          f"{len(failures)} inputs failed, {len(still)} images and {frames} frames without a face")
    for source in still:
        print(f"lm3d detect: {source}: no face found", file=sys.stderr)
    return 1 if failures or still else 0
