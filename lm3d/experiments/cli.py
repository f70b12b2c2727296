"""The main job's experiments: train and evaluate every rung over several seeds, write its table.

    python -m lm3d.reproduce --out reports                # the baseline: standard preset, seeds 0 1 2
    python -m lm3d.reproduce --preset fast --seeds 0 1    # a quick check of the whole path
    python -m lm3d.reproduce --jobs 2 --out reports       # two seeds training at once (one thread each)
    python -m lm3d.reproduce --seeds 0 --interruption-check 1000   # kill -9 at step 1000, resume, compare
    python -m lm3d.reproduce --ladder --out reports       # the ladder: every rung of the paper
    python -m lm3d.reproduce --head-3d --out reports      # the 3D head's table
    python -m lm3d.reproduce --deformer --out reports     # the query deformer's table
    python -m lm3d.reproduce --deformer-conventions --out reports   # D with larger conventions, and taught a new dataset
    python -m lm3d.reproduce --claims --out reports       # the paper's claims, judged on the ladder's runs
    python -m lm3d.reproduce --train-all --jobs 2         # first: every run of those tables from one queue
    python -m lm3d.reproduce --extras --out reports       # beyond the claims: S affine, the other principal point
    python -m lm3d.reproduce --train-all --extras --jobs 2   # every run of make reproduce-extras from one queue

Each table is ``<out>/<name>_results.json`` and, as markdown, ``<out>/<name>_results.md`` (the ladder also writes
``<out>/ladder_per_face.json``, every test face's NME per row and seed, and ``<out>/ladder_rois.json``, the RoIs of
every rung and face finder over a test clip); the claims are
``<out>/claims.json`` and ``<out>/claims.md`` (the docs' results pages are updated from these by
``tools/update_results_docs.py``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .baseline import baseline, markdown, save_learning_curves
from .claims import claims, claims_markdown
from .deformer import deformer, deformer_conventions, deformer_markdown
from .extras import extras
from .head_3d import head_3d, head_3d_markdown
from .interruption import interruption_check
from .ladder import ladder_markdown, ladder_rois, ladder_rows, ladder_runs, per_face_nmes
from .schedule import train_all


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--ladder", action="store_true",
                        help="instead: the ladder (baseline with simulated, MTCNN and LBP boxes; S; the 3D head; D)")
    parser.add_argument("--head-3d", action="store_true",
                        help="instead: the 3D head's table (2D against 3D head, on the box crop and on S)")
    parser.add_argument("--deformer", action="store_true",
                        help="instead: the query deformer's table (S + 3D head without and with D)")
    parser.add_argument("--deformer-conventions", action="store_true",
                        help="instead: seed 0 of the deformer's four models with conventions x4 and x8, and its D models "
                             "taught a new dataset (eight more trainings)")
    parser.add_argument("--claims", action="store_true",
                        help="instead: the paper's claims, each judged on the ladder's rungs (reports/claims.json, .md)")
    parser.add_argument("--extras", action="store_true",
                        help="instead: the rows beyond the paper's claims (S affine, three seeds; the other principal "
                             "point, seed 0) beside the rows they replace; with --train-all: train make "
                             "reproduce-extras' runs")
    parser.add_argument("--train-all", action="store_true",
                        help="instead: train and evaluate every run of the ladder, the 3D head's and the deformer's "
                             "tables from one queue, --jobs at a time, the costliest first (the tables then reuse them)")
    parser.add_argument("--mtcnn-boxes", type=Path, default=Path("reports/mtcnn_boxes.json"))
    parser.add_argument("--jobs", type=int, default=1,
                        help="seeds trained at a time, each in its own process with its config's threads (default 1)")
    parser.add_argument("--interruption-check", type=int, metavar="STEP", default=None,
                        help="instead: kill -9 a training of the first seed after its checkpoint at STEP, resume, compare")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {args.jobs}")
    if args.interruption_check is not None:
        report = interruption_check(args.preset, args.seeds[0], args.runs, args.interruption_check)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "interruption_check.json").write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps(report, indent=1))
        return
    if args.train_all:
        print(json.dumps(train_all(args.preset, args.seeds, args.runs, args.mtcnn_boxes, args.jobs, args.extras)))
        return
    def write_table(name: str, rows, write) -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{name}.json").write_text(json.dumps({"preset": args.preset, "seeds": args.seeds, "rows": rows},
                                                          indent=1) + "\n")
        text = write(rows, args.preset, args.seeds)
        (args.out / f"{name}.md").write_text(text)
        print(text)

    if args.ladder:  # the table, and beside it every face's NME (notebook 08's CED curves) and the RoIs over a clip
        results = ladder_runs(args.preset, args.seeds, args.runs, args.mtcnn_boxes, args.jobs)
        write_table("ladder_results", ladder_rows(results), ladder_markdown)
        (args.out / "ladder_per_face.json").write_text(json.dumps(per_face_nmes(results)) + "\n")
        rois = ladder_rois(args.preset, args.seeds[0], args.runs, args.mtcnn_boxes)
        (args.out / "ladder_rois.json").write_text(json.dumps(rois) + "\n")
        return
    for wanted, name, build, write in ((args.head_3d, "head_3d_results", head_3d, head_3d_markdown),
                                       (args.deformer, "deformer_results", deformer, deformer_markdown),
                                       (args.extras, "extras_results", extras, ladder_markdown),
                                       (args.deformer_conventions, "deformer_conventions_results", deformer_conventions,
                                        deformer_markdown),
                                       (args.claims, "claims", claims, claims_markdown)):
        if wanted:
            extra = (args.mtcnn_boxes,) if name == "claims" else ()
            write_table(name, build(args.preset, args.seeds, args.runs, *extra, jobs=args.jobs), write)
            return
    table = baseline(args.preset, args.seeds, args.runs, jobs=args.jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "baseline_results.json").write_text(json.dumps({"preset": args.preset, "seeds": args.seeds,
                                                                "table": table}, indent=1) + "\n")
    save_learning_curves(args.runs, args.preset, args.seeds, args.out / "baseline_learning_curves.png")
    text = markdown(table, args.preset, args.seeds)
    (args.out / "baseline_results.md").write_text(text)
    print(text)
