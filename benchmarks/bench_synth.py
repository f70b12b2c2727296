"""SynthFaces rendering speed: images/s of the batched path, per image size and device.

    .venv/bin/python benchmarks/bench_synth.py            # CPU, and CUDA when present
    .venv/bin/python benchmarks/bench_synth.py --batch 64 --batches 5

Prints images/s for the whole sample (scene sampling, geometry, rasterizing, painting,
degradations, ground truth) and, measured in the same run, for the rasterizer alone, so the
ratio says where the time goes. Times exclude the first (warm-up) batch, which builds caches.
"""
from __future__ import annotations

import argparse
import time

import torch

from lm3d.rasterizer import rasterize
from lm3d.synth import SynthFaces, _mesh, pose_scenes


def measure(image_size: int, batch: int, batches: int, device: str) -> tuple[float, float]:
    data = SynthFaces("synth300w", "train", size=batch * (batches + 1), seed=0, image_size=image_size)
    data.render(range(batch), device=device)  # warm-up: masks, background pool, noise bank
    triangles = _mesh()[0].to(device)
    full = raster = 0.0
    for k in range(1, batches + 1):
        indices = range(k * batch, (k + 1) * batch)
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        data.render(indices, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        full += time.perf_counter() - start
        screen = pose_scenes(data.scenes(indices), image_size, device)["screen"]
        start = time.perf_counter()
        rasterize(screen, triangles, (image_size, image_size))
        if device == "cuda":
            torch.cuda.synchronize()
        raster += time.perf_counter() - start
    return batch * batches / full, batch * batches / raster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, batch {args.batch} x {args.batches}")
    print(f"{'device':6s} {'size':>5s} {'images/s':>9s} {'rasterizer only':>16s}")
    for device in devices:
        for size in args.sizes:
            with torch.no_grad():
                full, raster = measure(size, args.batch, args.batches, device)
            print(f"{device:6s} {size:5d} {full:9.0f} {raster:16.0f}")


if __name__ == "__main__":
    main()
