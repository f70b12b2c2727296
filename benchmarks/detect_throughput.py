"""``lm3d detect``'s throughput on a folder and on a video: frames per second, batched against one by one.

    .venv/bin/python benchmarks/detect_throughput.py pretrained --threads 1     # the shipped weights

It writes a folder of SynthFaces test images (PNG) and an H.264 video of a SynthFaces clip into a temporary folder,
then runs the command's job (``lm3d.io.detection``) on each, alternately with ``--batch-size 1`` and the batched
setting, once to warm up and then ``--rounds`` times into fresh output folders, and prints the median frames per
second of each (reading, decoding, the model and writing the records and outputs included). Images in a folder are
answered one by one whatever the batch size (each may have its own size); a video's frames go through the model
``--batch-size`` at a time. Batching pays for a model with S; a box model runs its face finder per frame, so it
gains little.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from lm3d.inference import Detector, LBPFaceFinder
from lm3d.io.detection import Detection, point_sets
from lm3d.io.media import gather_inputs
from lm3d.io.overlay import write_video
from lm3d.synth import SynthFaces
from lm3d.synth.video import make_clip


def make_inputs(folder: Path, images: int, frames: int, size: int) -> tuple[Path, Path]:
    photos = folder / "photos"
    photos.mkdir(parents=True)
    batch = SynthFaces("synth300w", "test", images, image_size=size).render(list(range(images)))
    for i, image in enumerate(batch["image"]):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(photos / f"{i:03d}.png")
    clip = make_clip("synth300w", frames, "moving", seed=1, clip_index=0, image_size=size)
    video = folder / "clip.mp4"
    write_video(video, (f.permute(1, 2, 0).numpy() for f in clip["image"]), 30.0, (size, size))
    return photos, video


def frames_per_second(detector: Detector, path: Path, out: Path, batch_size: int) -> float:
    inputs = gather_inputs([path])
    job = Detection(detector, point_sets(["ibug68"], []), out, batch_size=batch_size)
    start = time.perf_counter()
    job.run(inputs, progress=False)
    counts = job.assemble(inputs, ("jsonl", "csv"), overlay=False)
    return (counts["images"] + counts["frames"]) / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    detector = Detector.from_checkpoint(args.checkpoint, device="cpu")
    if detector.model.needs_box:
        detector.face_finder = LBPFaceFinder()
    with tempfile.TemporaryDirectory() as folder:
        photos, video = make_inputs(Path(folder), args.images, args.frames, args.size)
        results = {}
        for round_ in range(-1, args.rounds):  # round -1 warms up (the CPU kernels of each batch shape), untimed
            for name, path in (("folder", photos), ("video", video)):
                for batch in (1, args.batch_size):
                    speed = frames_per_second(detector, path, Path(folder) / f"out_{name}_{batch}_{round_}", batch)
                    if round_ >= 0:
                        results.setdefault((name, batch), []).append(speed)
    print(f"{args.checkpoint.parent.name}, {args.size} px, {args.threads} threads, median of {args.rounds} rounds:\n")
    print("| input | batch size | frames/s |\n|---|---|---|")
    for (name, batch), values in results.items():
        print(f"| {name} | {batch} | {statistics.median(values):.1f} |")
    video_gain = statistics.median(results[("video", args.batch_size)]) / statistics.median(results[("video", 1)])
    print(f"\nvideo, batched against one by one: {video_gain:.2f} x")


if __name__ == "__main__":
    main()
