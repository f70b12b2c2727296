"""The 3D head's visibility, per landmark group: ``lm3d.evaluation.visibility.visibility_by_group`` as a table.

    .venv/bin/python benchmarks/visibility_by_group.py runs/standard_crop-3d_seed0/checkpoint.pt [more checkpoints]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from lm3d.evaluation.visibility import visibility_by_group
from lm3d.model import checkpoint, load_model


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--source", default="synth300w")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for path in args.checkpoints:
        size = checkpoint.load(path)["train_config"]["image_size"]
        table = visibility_by_group(load_model(path, "cpu"), args.source, args.count, size)
        print(f"\n{path.parent.name}, {args.source}, {table.pop('faces')} test faces: visibility of the layout's points "
              "from the predicted face against the true self-occlusion (%)\n")
        print("| group | accuracy | F1 (visible) | truly visible |\n|---|---|---|---|")
        for group, row in table.items():
            print(f"| {group} | {row['visibility_accuracy']:.1f} | {row['visibility_f1']:.1f} | {row['truly_visible']:.1f} |")


if __name__ == "__main__":
    main()
