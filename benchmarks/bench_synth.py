"""SynthFaces rendering speed: images/s of the batched path, per image size and device.

    .venv/bin/python benchmarks/bench_synth.py            # CPU, and CUDA when present
    .venv/bin/python benchmarks/bench_synth.py --batch 64 --batches 8

Prints images/s for the whole sample (scene sampling, geometry, rasterizing, painting,
degradations, ground truth) and, measured in the same run, for the rasterizer alone (the sparse
``rasterize_covered`` call with back-face culling that the renderer makes), so the ratio says
where the time goes. Throughput is given over all timed batches and for the median batch: on a
shared machine the median is the steadier figure. Times exclude the first (warm-up) batch,
which builds caches.
"""
from __future__ import annotations

import argparse
import statistics

import torch

from lm3d.raster import FRONT_FACING
from lm3d.raster.rasterizer import rasterize_covered
from lm3d.runtime import seconds_per_call
from lm3d.synth import SynthFaces, pose_scenes
from lm3d.synth.paint import head_mesh


def measure(image_size: int, batch: int, batches: int, device: str) -> dict:
    data = SynthFaces("synth300w", "train", size=batch * (batches + 1), seed=0, image_size=image_size)
    data.render(range(batch), device=device)  # warm-up: masks, background pool, noise bank
    triangles = head_mesh()[0].to(device)
    full, raster = [], []
    for k in range(1, batches + 1):
        indices = range(k * batch, (k + 1) * batch)
        full.append(seconds_per_call(lambda: data.render(indices, device=device), device))
        screen = pose_scenes(data.scenes(indices), image_size, device)["screen"]
        size = (image_size, image_size)
        raster.append(seconds_per_call(lambda: rasterize_covered(screen, triangles, size, cull=FRONT_FACING),
                                      device))
    return {"mean": batch * batches / sum(full), "median": batch / statistics.median(full),
            "raster": batch / statistics.median(raster)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, batch {args.batch} x {args.batches}")
    print(f"{'device':6s} {'size':>5s} {'images/s (all)':>15s} {'(median batch)':>15s} {'rasterizer only':>16s}")
    for device in devices:
        for size in args.sizes:
            with torch.no_grad():
                speed = measure(size, args.batch, args.batches, device)
            print(f"{device:6s} {size:5d} {speed['mean']:15.0f} {speed['median']:15.0f} {speed['raster']:16.0f}")


if __name__ == "__main__":
    main()
