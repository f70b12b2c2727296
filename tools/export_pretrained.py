"""Write the shipped weights (``lm3d/assets/pretrained/lm3d_full.pt``) from the pretrained model's training run.

    python tools/export_pretrained.py                       # from pretrained/run/checkpoint.pt
    python tools/export_pretrained.py --run pretrained/run --out lm3d/assets/pretrained/lm3d_full.pt

The run is trained (and resumed, over as many sittings as it takes) by the command that ``pretrained/README.md``
gives. The export keeps the model and its configs, in float16, with the run's provenance (revision, step, training
seconds, command) for the model card; ``Detector.from_pretrained()`` and ``--checkpoint pretrained`` load it.
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from lm3d.model import checkpoint
from lm3d.model.checkpoint import PRETRAINED_FILE

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python -m lm3d.train --preset pretrained --variant full --seed 0 --out pretrained/run --no-eval"


def provenance(run: Path) -> dict:
    """Where the weights come from: the training command, this checkout's revision, the run's own log."""
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line]
    seconds = max((line.get("train_seconds", 0.0) for line in lines), default=0.0)
    curve = [(line["step"], line["val_nme"]) for line in lines if "val_nme" in line]
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"command": COMMAND, "revision": revision or None, "train_seconds": round(seconds, 1),
            "validation_curve": curve}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "pretrained" / "run")
    parser.add_argument("--out", type=Path, default=PRETRAINED_FILE)
    args = parser.parse_args(argv)
    written = checkpoint.export_weights(args.run / "checkpoint.pt", args.out, {"provenance": provenance(args.run)})
    size = args.out.stat().st_size / 2 ** 20
    print(f"{args.out}: step {written['step']} of {written['train_config']['steps']}, {size:.1f} MiB, "
          f"{written['provenance']['train_seconds'] / 3600:.2f} training hours")


if __name__ == "__main__":
    main()
