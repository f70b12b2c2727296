"""What one training step of the landmark model costs, for several model settings, side by side in one process.

    .venv/bin/python benchmarks/bench_training_step.py                  # the standard model's options, 256 px
    .venv/bin/python benchmarks/bench_training_step.py --image-size 128 --threads 2

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


def step_function(overrides: dict, image_size: int, batch: int, queries: int):
    model = ContinuousLandmarkModel(replace(preset("legacy").model, **overrides))
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (batch, 3, image_size, image_size), dtype=torch.uint8, generator=generator)
    boxes = torch.tensor([[0.3, 0.3, 0.7, 0.7]]).repeat(batch, 1) * image_size
    points = torch.randn(batch, queries, 3, generator=generator) * 4

    def step():
        loss = model(images, boxes, points)["landmarks2d"].float().abs().mean()
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
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps = {name: step_function(overrides, args.image_size, args.batch, 98) for name, overrides in SETTINGS.items()}
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
        print(f"{name:36s} {1000 * median:7.1f} ms/step  {args.batch / median:6.1f} images/s  ratio {median / first:.2f}")


if __name__ == "__main__":
    main()
