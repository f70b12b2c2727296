"""Detector.track on video: every frame alone, the crop following the previous face, and the One-Euro filter.

    .venv/bin/python benchmarks/tracking.py runs/standard_seed0/checkpoint.pt runs/standard_s-similarity_seed0/checkpoint.pt

On the evaluation's ``synth300w`` test clips (``lm3d.evaluation.video``: 6 static and 6 moving clips of 32 frames,
taken as 30 frames per second), each checkpoint is asked for ibug68 in four ways: each frame alone (a box model gets
the simulated detector's box drawn anew every frame, as a detector run frame by frame gives), ``follow`` (each crop
starts from the previous frame's face; a box model gets the detector's box on the first frame only), ``smooth``
(each frame alone, then the One-Euro filter at its defaults) and both. For each: static jitter (a still face),
motion jitter and video NME on the moving clips (the filter's lag shows as video NME), in % of the inter-ocular
distance, and frames per second of ``track`` (two threads). The paper's claim is that S is steady without a filter;
the table sets that against what following and filtering give a box model.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from lm3d.evaluation import stability
from lm3d.evaluation.video import CLIP_FPS, clip_box_seed, clip_boxes, test_clips
from lm3d.inference import Detector, one_euro
from lm3d.model import checkpoint

MODES = {"each frame alone": (False, False), "follow": (True, False), "smooth": (False, True),
         "follow + smooth": (True, True)}


def track_clip(detector: Detector, clip: dict, boxes, follow: bool, smooth: bool):
    frames = clip["image"].permute(0, 2, 3, 1).numpy()
    if detector.model.needs_box and not follow:  # a detector run on every frame: one box per frame
        answers = [detector.predict(frame, box=box) for frame, box in zip(frames, boxes)]
        landmarks = torch.stack([a.landmarks2d for a in answers])
        if smooth:
            iod = clip["iod"].float().numpy()  # the filter's speed unit; track estimates it from its own points
            landmarks = torch.as_tensor(one_euro(landmarks.numpy(), CLIP_FPS, iod), dtype=torch.float32)
        return landmarks
    box = boxes[0] if detector.model.needs_box else None
    return detector.track(frames, box=box, follow=follow, smooth=smooth, fps=CLIP_FPS).landmarks2d


def measure(detector: Detector, image_size: int, source: str = "synth300w") -> dict:
    rows = {}
    for mode, (follow, smooth) in MODES.items():
        runs, frames, seconds = {}, 0, 0.0
        for kind in ("static", "moving"):
            kept = []
            for index, clip in enumerate(test_clips(source, kind, image_size)):
                boxes = clip_boxes("simulated", clip, f"{source}/{kind}/{index}", clip_box_seed(kind, index))
                start = time.perf_counter()
                kept.append((clip, track_clip(detector, clip, boxes, follow, smooth)))
                seconds += time.perf_counter() - start
                frames += len(clip["image"])
            runs[kind] = kept
        static = torch.stack([p for _, p in runs["static"]])
        static_iod = torch.stack([c["iod"].float() for c, _ in runs["static"]])
        moving = torch.stack([p for _, p in runs["moving"]])
        truth = torch.stack([c["landmarks2d"].float() for c, _ in runs["moving"]])
        moving_iod = torch.stack([c["iod"].float() for c, _ in runs["moving"]])
        rows[mode] = {"static jitter": stability.static_jitter(static, static_iod),
                      "motion jitter": stability.motion_jitter(moving, truth, moving_iod),
                      "video NME": stability.video_nme(moving, truth, moving_iod), "frames/s": frames / seconds}
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("| model | mode | static jitter | motion jitter | video NME | frames/s |\n|---|---|---|---|---|---|")
    for path in args.checkpoints:
        detector = Detector.from_checkpoint(path, device="cpu")
        image_size = checkpoint.load(path)["train_config"]["image_size"]  # the clips at the size it was trained on
        for mode, row in measure(detector, image_size).items():
            print(f"| {path.parent.name} | {mode} | {row['static jitter']:.2f} | {row['motion jitter']:.2f} | "
                  f"{row['video NME']:.2f} | {row['frames/s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
