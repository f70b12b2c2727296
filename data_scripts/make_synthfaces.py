"""Render SynthFaces samples into cached shards, with a progress bar and resume.

    python data_scripts/make_synthfaces.py --source synth300w --split train --count 20000
    python data_scripts/make_synthfaces.py --source hmc --split test --count 1000 --image-size 128

Shards go to ``<out>/<source>_<split>_seed<seed>_<size>px/shard_NNNNN.pt`` and each is written
atomically, so an interrupted run (Ctrl-C, kill -9) is resumed by running the same command again:
finished shards are skipped, and a half-written shard never exists under its final name.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tqdm import tqdm

from lm3d.runtime import default_device
from lm3d.shards import read_shard, shard_name, write_shard
from lm3d.synth import SynthFaces


def shard_folder(out: Path, source: str, split: str, seed: int, image_size: int) -> Path:
    return out / f"{source}_{split}_seed{seed}_{image_size}px"


def make_shards(source: str, split: str, count: int, out: Path, shard_size: int = 256, seed: int = 0,
                image_size: int = 256, device: str | None = None, progress: bool = True) -> Path:
    if not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size!r}")
    data = SynthFaces(source, split, count, seed=seed, image_size=image_size)
    folder = shard_folder(Path(out), source, split, seed, image_size)
    folder.mkdir(parents=True, exist_ok=True)
    device = device or str(default_device())
    starts = range(0, count, shard_size)
    for number, start in enumerate(tqdm(starts, desc=f"{source}/{split}", unit="shard", disable=not progress)):
        path = folder / shard_name(number)
        stop = min(start + shard_size, count)
        if path.exists():
            try:
                existing = read_shard(path)
                if existing["start"] == start and len(existing["image"]) == stop - start:
                    continue  # finished in an earlier run
            except ValueError:
                pass  # unreadable: render it again
        with torch.no_grad():
            batch = data.render(list(range(start, stop)), device=device)
        write_shard(path, batch, {"start": start, "source_name": source, "split": split, "seed": seed,
                                  "image_size": image_size})
    return folder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--split", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("data/synthfaces"))
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    args = parser.parse_args(argv)
    folder = make_shards(args.source, args.split, args.count, args.out, args.shard_size, args.seed,
                         args.image_size, args.device)
    print(f"shards in {folder}")


if __name__ == "__main__":
    main()
