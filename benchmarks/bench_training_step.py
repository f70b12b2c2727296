"""What one training step of the landmark model costs, for several model settings, side by side in one process.

    .venv/bin/python benchmarks/bench_training_step.py                  # the standard model's options, 256 px
    .venv/bin/python benchmarks/bench_training_step.py --image-size 128 --threads 2
    .venv/bin/python benchmarks/bench_training_step.py --rungs          # S's localisers and the 3D head, standard regime

Each setting builds the ``legacy`` preset's model (the standard size before the regime search) with its overrides,
then times forward, backward and an AdamW step on random uint8 images with face boxes (batch 32, 98 queries), one
after the other in rounds, so a machine that slows down slows every setting alike. Prints the median milliseconds
per step and the ratio to the first setting. Timing only: no setting's accuracy is measured here
(docs/results/regime.md has those runs).
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from lm3d.model import ContinuousLandmarkModel
from lm3d.training import preset

SETTINGS = {
    "mean pooling (the old standard)": {},
    "grid pooling": {"pooling": "grid"},
    "grid, F in bfloat16": {"pooling": "grid", "feature_precision": "bfloat16"},
    "grid, F in bfloat16, refiner": {"pooling": "grid", "feature_precision": "bfloat16", "refine": True},
    "grid, F in bfloat16, crop 128": {"pooling": "grid", "feature_precision": "bfloat16", "crop_size": 128},
    "grid, F in bfloat16, width 24": {"pooling": "grid", "feature_precision": "bfloat16", "width": 24},
}
STANDARD = {"pooling": "grid", "feature_precision": "bfloat16", "refine": True}  # the standard preset's model options
S = {**STANDARD, "crop": "similarity"}
RUNGS = {  # the rungs' extra cost in the standard regime (--rungs)
    "standard baseline (box crop)": STANDARD,
    "S, localiser 64 px": S,
    "S, localiser 64 px in bfloat16": {**S, "localiser_precision": "bfloat16"},
    "S, localiser 128 px in bfloat16": {**S, "localiser_size": 128, "localiser_precision": "bfloat16"},
    "S, localiser 256 px in bfloat16": {**S, "localiser_size": 256, "localiser_precision": "bfloat16"},
    "3D head, R moves the 3D point": {**STANDARD, "head": "3d"},
    "3D head, R moves the image point": {**STANDARD, "head": "3d", "refine_space": "image"},
}


def step_function(overrides: dict, image_size: int, batch: int, queries: int):
    model = ContinuousLandmarkModel(replace(preset("legacy").model, **overrides))
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, 3, image_size, image_size), dtype=torch.uint8, generator=generator)
    boxes = torch.tensor([[0.3, 0.3, 0.7, 0.7]]).repeat(batch, 1) * image_size
    points = torch.randn(batch, queries, 3, generator=generator) * 4

    def step():
        out = model(images, boxes, points)
        # S learns from its template's points (s_learns_from="template"), so they join the loss where S is
        loss = sum(out[key].float().abs().mean() for key in ("landmarks2d", "template2d") if key in out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rungs", action="store_true", help="time the ladder's rungs in the standard regime instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = RUNGS if args.rungs else SETTINGS
    steps = {name: step_function(overrides, args.image_size, args.batch, 98) for name, overrides in settings.items()}
    for step in steps.values():  # warm-up: allocator, kernels
        step()
    times = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    first = statistics.median(next(iter(times.values())))
    print(f"training step, batch {args.batch}, 98 queries, {args.image_size} px images, {args.threads} thread(s), "
          f"CPU kernels {torch.backends.cpu.get_cpu_capability()}; median of {args.rounds} rounds")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:38s} {1000 * median:7.1f} ms/step  {args.batch / median:6.1f} images/s  ratio {median / first:.2f}")


if __name__ == "__main__":
    main()
