"""Baseline model speed: training images/s, batched inference images/s and single-image latency.

    .venv/bin/python benchmarks/bench_model.py                    # the standard preset's model, CPU (+ CUDA)
    .venv/bin/python benchmarks/bench_model.py --preset paper

Inputs are random uint8 images at the preset's image size with 68 queries; data loading is not
timed (training reads an in-memory pool). All figures of one device come from the same run, so
their ratios are meaningful even on a busy machine; absolute numbers are not.
"""
from __future__ import annotations

import argparse

import torch

from lm3d.model import ContinuousLandmarkModel
from lm3d.runtime import seconds_per_call
from lm3d.losses import landmark_loss
from lm3d.train import preset


def _timed(fn, repeats: int, device) -> float:
    fn()  # warm-up
    return seconds_per_call(fn, device, repeats)


def measure(config, device: torch.device, batch: int, repeats: int) -> dict:
    model = ContinuousLandmarkModel(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    size = config.image_size
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    boxes = torch.tensor([[0.25 * size, 0.2 * size, 0.75 * size, 0.8 * size]], device=device).repeat(batch, 1)
    queries = torch.randn(68, 3, device=device) * 5
    targets = torch.rand(batch, 68, 2, device=device) * size
    mask = torch.ones(batch, 68, dtype=torch.bool, device=device)
    iod = torch.full((batch,), 0.3 * size, device=device)

    def train_step():
        loss = landmark_loss(model(images, boxes, queries)["landmarks2d"], targets, mask, iod, float(mask.sum()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def infer_batch():
        model(images, boxes, queries)

    @torch.no_grad()
    def infer_one():
        model(images[:1], boxes[:1], queries)

    model.train()
    train_time = _timed(train_step, repeats, device)
    model.eval()
    batch_time = _timed(infer_batch, repeats, device)
    one_time = _timed(infer_one, repeats * 4, device)
    return {"train images/s": batch / train_time, "inference images/s": batch / batch_time,
            "single-image latency ms": 1000 * one_time}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--batch", type=int, default=None, help="default: the preset's batch size")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = preset(args.preset)
    batch = args.batch or config.batch_size
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"preset {args.preset}: image {config.image_size}px, crop {config.model.crop_size}px, width "
          f"{config.model.width}, batch {batch}; torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    for device in devices:
        for name, value in measure(config, device, batch, args.repeats).items():
            print(f"{device.type:5s} {name:26s} {value:10.1f}")


if __name__ == "__main__":
    main()
