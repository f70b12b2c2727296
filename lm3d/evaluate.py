"""``python -m lm3d.evaluate`` (or ``lm3d evaluate``): score a checkpoint.

    python -m lm3d.evaluate --checkpoint CKPT --out E.json                       # the SynthFaces test sets
    python -m lm3d.evaluate --checkpoint pretrained --out E.json                 # the shipped weights
    python -m lm3d.evaluate --dataset 300w --root /data/300W --out E.json --ced ced.png   # the shipped weights on 300-W
    python -m lm3d.evaluate --checkpoint adapted.pt --dataset 300w --root /data/300W --convention my300w --out E.json
                            # a model taught 300-W's convention by ``lm3d adapt --dataset my300w``, answering in it

On SynthFaces the command lives in ``lm3d.evaluation.report``; on a dataset you bring (``--dataset``: 300w, wflw
or folder, as ``lm3d/assets/datasets.json`` describes them) in ``lm3d.evaluation.datasets``, with its CED curve
drawn by ``lm3d.vis.results``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lm3d.evaluation.report import main as synthfaces_main


def dataset_main(argv) -> int:
    from lm3d.evaluation.datasets import evaluate_dataset
    from lm3d.inference import Detector
    from lm3d.io.datasets import dataset_specs, load_dataset
    from lm3d.runtime import write_atomically

    parser = argparse.ArgumentParser(prog="lm3d evaluate --dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("pretrained"),
                        help="a trained model (default: the shipped weights, 'pretrained')")
    parser.add_argument("--dataset", required=True, help=f"one of {', '.join(dataset_specs())}")
    parser.add_argument("--root", type=Path, required=True, help="your copy of the dataset")
    parser.add_argument("--out", type=Path, required=True, help="the scores, as JSON")
    parser.add_argument("--layout", default=None, help="the layout of a 'folder' dataset's points")
    parser.add_argument("--annotations", default=None, help="WFLW: another annotation list, relative to --root")
    parser.add_argument("--convention", default=None,
                        help="a model with D: answer in this dataset's convention (one it was trained on, or the name "
                             "given to `lm3d adapt --dataset`); default: the model's own canonical points")
    parser.add_argument("--limit", type=int, default=None, help="only the first so many faces")
    parser.add_argument("--ced", type=Path, default=None, help="also draw the CED curve into this PNG")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        data = load_dataset(args.dataset, args.root, args.layout, args.annotations, args.limit)
        results = evaluate_dataset(Detector.from_checkpoint(args.checkpoint), data, progress=not args.quiet,
                                   convention=args.convention)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"lm3d evaluate: {error}", file=sys.stderr)
        return 2
    write_atomically(args.out, lambda t: t.write_text(json.dumps(results, indent=1) + "\n"))
    if args.ced:
        from lm3d.vis.results import ced_figure

        label = args.checkpoint.parent.name or str(args.checkpoint)  # a run's folder, or "pretrained"
        figure = ced_figure({label: (results["ced"]["errors"], results["ced"]["fraction"])},
                            title=f"{args.dataset}: cumulative error distribution", threshold=results["threshold"])
        write_atomically(args.ced, lambda t: figure.savefig(t, format="png", dpi=120))
    print(json.dumps({k: v for k, v in results.items() if k not in ("per_face", "ced")}, indent=1))
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--dataset" in argv or any(a.startswith("--dataset=") for a in argv):
        return dataset_main(argv)
    synthfaces_main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
