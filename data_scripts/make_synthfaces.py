"""Render SynthFaces samples into cached shards, with a progress bar and resume.

    python data_scripts/make_synthfaces.py --source synth300w --split train --count 20000
    python data_scripts/make_synthfaces.py --source hmc --split test --count 1000 --image-size 128

Shards go to ``<out>/<source>_<split>_seed<seed>_<size>px_v<renderer version>/shard_NNNNN.pt`` and each is written
atomically, so an interrupted run (Ctrl-C, kill -9) is resumed by running the same command again:
finished shards are skipped, and a half-written shard never exists under its final name.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from lm3d.runtime import default_device
from lm3d.synth.shards import make_shards


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
                         args.image_size, args.device or str(default_device()))
    print(f"shards in {folder}")


if __name__ == "__main__":
    main()
