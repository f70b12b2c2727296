"""Does photometric augmentation pay on real photos? The standard baseline with and without it, three seeds each.

The pretrained recipe (``--preset pretrained``) augments half of every training batch (``lm3d.training.augment``:
colour cast, exposure, contrast, saturation, gamma, noise, blur, low resolution, JPEG). The issue that asked for the
recipe asks that each such choice be kept only where the proxy check on real photos says it helps. Training the
pretrained model twice is beyond a CPU, so the choice is tested where it can be afforded: the standard preset's
baseline (a box model, so that the comparison is of the features F learns, not of S finding the face), trained with
``augment`` off and on, at the same budget and seeds. Each run is scored on

- the proxy check: 24 real photos (``benchmarks/realism/proxy_photos.json``), inner-51 NME against dlib given
  MediaPipe's box (``realism.proxy_scores``; needs ``.venv-realism``: ``make realism-peers``);
- SynthFaces' test sets (``lm3d.evaluation.evaluate_checkpoint``): whether augmenting costs accuracy on renders.

Runs go to ``runs/`` (``standard_seed{N}`` and ``standard_augment_seed{N}``; finished runs are reused, so the
baseline's seeds are shared with ``make reproduce``); the table to ``reports/augmentation.{json,md}``.

    .venv/bin/python benchmarks/augmentation.py --jobs 2      # about an hour on the 2-core CPU, from nothing
"""
from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

from realism import proxy_faces, proxy_scores  # benchmarks/ is this script's folder

from lm3d import Detector
from lm3d.experiments.seed_runs import aggregate_rows, flatten, in_processes, run_name, run_seed
from lm3d.runtime import write_atomically
from lm3d.training import CHECKPOINT_NAME

ARMS = {"without augmentation": (None, None), "with augmentation": ({"augment": True}, "augment")}
TABLE_KEYS = ("NME synth300w", "NME hmc", "NME synthwflw", "training minutes")  # of seed_runs.flatten


def _train(spec: tuple, preset_name: str, runs: Path) -> dict:
    overrides, tag, seed = spec
    return run_seed(preset_name, seed, runs, "baseline", overrides, tag)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--jobs", type=int, default=2, help="trainings at a time, one process (and thread) each")
    args = parser.parse_args(argv)
    specs = [(overrides, tag, seed) for overrides, tag in ARMS.values() for seed in args.seeds]
    metrics = in_processes(partial(_train, preset_name=args.preset, runs=args.runs), specs, args.jobs)
    faces, images, _ = proxy_faces()
    table = {}
    for arm, (overrides, tag) in ARMS.items():
        rows = [(seed, m) for (o, t, seed), m in zip(specs, metrics) if t == tag]
        paths = [args.runs / run_name(args.preset, "baseline", seed, tag) / CHECKPOINT_NAME for seed, _ in rows]
        table[arm] = {"runs": [str(p.parent) for p in paths], **aggregate_rows([
            {"proxy inner-51 NME vs dlib": proxy_scores(Detector.from_checkpoint(path, device="cpu"), faces, images)[0],
             **{key: flatten(m)[key] for key in TABLE_KEYS}} for path, (_, m) in zip(paths, rows)])}
    keys = list(table["without augmentation"])[1:]
    lines = [f"**Photometric augmentation, A/B: the {args.preset} baseline, seeds {' '.join(map(str, args.seeds))}.**", "",
             "Made by `benchmarks/augmentation.py` (mean ± standard deviation over seeds; the proxy check gives the box "
             f"model MediaPipe's box on {len(faces)} real photos).", "",
             "| | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for arm, row in table.items():
        lines.append(f"| {arm} | " + " | ".join(f"{row[k]['mean']:.2f} ± {row[k]['std']:.2f}" for k in keys) + " |")
    change = {k: table["with augmentation"][k]["mean"] - table["without augmentation"][k]["mean"] for k in keys}
    spread = {k: max(table[arm][k]["std"] for arm in table) for k in keys}
    lines += ["", "Change with augmentation (negative: lower error); 'within noise' where it is under twice the larger "
              "seed spread:", ""]
    lines += [f"- {k}: {change[k]:+.2f}" + (" (within noise)" if abs(change[k]) < 2 * spread[k] else "") for k in keys]
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out / "augmentation.json",
                     lambda t: t.write_text(json.dumps({"preset": args.preset, "seeds": args.seeds, "arms": table,
                                                        "change": change}, indent=1) + "\n"))
    write_atomically(args.out / "augmentation.md", lambda t: t.write_text("\n".join(lines) + "\n"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
