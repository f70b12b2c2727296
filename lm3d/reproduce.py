"""The main job's experiments: train and evaluate the baseline over several seeds, write a table.

    python -m lm3d.reproduce --out reports                # standard preset, seeds 0 1 2
    python -m lm3d.reproduce --preset fast --seeds 0 1    # a quick check of the whole path
    python -m lm3d.reproduce --seeds 0 --interruption-check 1000   # kill -9 at step 1000, resume, compare
    python -m lm3d.reproduce --ladder --out reports       # the spatial transformer's table (issue 10)
    python -m lm3d.reproduce --head-3d --out reports      # the 3D head's table (issue 11)
    python -m lm3d.reproduce --deformer --out reports     # the query deformer's table (issue 12)

Each seed trains into ``runs/<preset>_seed<k>`` (resuming if interrupted; a finished run with
its metrics is not retrained) and is evaluated on the SynthFaces test sets. The mean and
standard deviation over seeds go to ``<out>/baseline_results.json`` and, as a markdown table,
to ``<out>/baseline_results.md``: the README's table is copied from there.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import checkpoint
from .evaluate import EVALUATION_VERSION, evaluate_checkpoint  # noqa: F401 (tests)
from .seed_runs import (POSE_COLUMNS, aggregate, aggregate_rows, cell, evaluate_with_boxes, flatten, run_name,  # noqa: F401
                        run_seed, training_minutes, untrained_3d)
from .train import CHECKPOINT_NAME, preset


def markdown(table: dict, preset_name: str, seeds: list[int]) -> str:
    lines = [f"Baseline, preset `{preset_name}`, seeds {seeds}: mean and standard deviation over seeds. NME and FR@10 "
             "in % of the inter-ocular distance, AUC@10 in [0, 1].", "",
             "| metric | mean | std | per seed |", "| --- | --- | --- | --- |"]
    for key, row in table.items():
        lines.append(f"| {key} | {row['mean']:.3f} | {row['std']:.3f} | {', '.join(f'{v:.3f}' for v in row['values'])} |")
    return "\n".join(lines) + "\n"


# The rows of the spatial transformer's table (issue 10): (label, variant, face boxes of a box model)
LADDER = (("baseline, simulated detector box", "baseline", "simulated"),
          ("baseline, MTCNN box", "baseline", "mtcnn"),
          ("baseline, LBP detector box", "baseline", "lbp"),
          ("S similarity", "s-similarity", None),
          ("S affine", "s-affine", None))


def ladder(preset_name: str, seeds: list[int], runs: Path, mtcnn_boxes: Path | None) -> dict:
    """Every row of LADDER over ``seeds``: aggregated tables, same budget (the preset) for every model."""
    rows = {}
    for label, variant, boxes in LADDER:
        if boxes == "mtcnn" and (mtcnn_boxes is None or not mtcnn_boxes.exists()):
            print(f"skipping '{label}': no MTCNN boxes (make peers && benchmarks/detector_boxes.py)")
            continue
        if boxes in (None, "simulated"):
            results = [run_seed(preset_name, seed, runs, variant) for seed in seeds]
        else:
            kind = f"file:{mtcnn_boxes}" if boxes == "mtcnn" else boxes
            results = [evaluate_with_boxes(preset_name, seed, runs, kind, boxes) for seed in seeds]
        rows[label] = aggregate(results)
    return rows


def ladder_markdown(rows: dict, preset_name: str, seeds: list[int]) -> str:
    lines = [f"Preset `{preset_name}`, seeds {seeds}: mean ± standard deviation over seeds, all in % of the inter-ocular "
             "distance except RoI jitter (% of the crop size). Jitter on the synth300w test clips (lm3d.stability). "
             "A detector row counts only the faces (and clips) its detector found.", "",
             "| model | faces found | synth300w NME (common / challenging) | synthwflw | synthmpie | hmc | "
             "static / motion jitter | video NME | RoI jitter |", "|---|---|---|---|---|---|---|---|---|"]
    for label, table in rows.items():
        found = cell(table, "faces found synth300w (%)", 1) if "faces found synth300w (%)" in table else "100"
        lines.append(f"| {label} | {found} | {cell(table, 'NME synth300w')} ({cell(table, 'NME synth300w (common)')} / "
                     f"{cell(table, 'NME synth300w (challenging)')}) | {cell(table, 'NME synthwflw')} | "
                     f"{cell(table, 'NME synthmpie')} | {cell(table, 'NME hmc')} | "
                     f"{cell(table, 'static jitter synth300w')} / {cell(table, 'motion jitter synth300w')} | "
                     f"{cell(table, 'video nme synth300w')} | {cell(table, 'roi jitter synth300w')} |")
    return "\n".join(lines) + "\n"


# The 3D head's table (issue 11): 2D against 3D head, on the box crop and on S, same budget and seeds; the
# principal point's other choice (lm3d.model.camera_head) and the untrained head (its priors) as reference rows
HEAD_3D = (("2D head, box crop (baseline)", "baseline", None), ("3D head, box crop (crop-3d)", "crop-3d", None),
           ("2D head, S similarity (s-similarity)", "s-similarity", None), ("3D head, S similarity (s-3d)", "s-3d", None))
PRINCIPAL_AT_IMAGE = {"model.principal": "image"}  # the alternative principal point, seed 0 only (a decision's evidence)


def head_3d(preset_name: str, seeds: list[int], runs: Path) -> dict:
    rows = {label: aggregate([run_seed(preset_name, seed, runs, variant) for seed in seeds])
            for label, variant, _ in HEAD_3D}
    rows["3D head, box crop, principal point at the image centre (seed 0)"] = aggregate(
        [run_seed(preset_name, seeds[0], runs, "crop-3d", PRINCIPAL_AT_IMAGE, tag="crop-3d-principal-image")])
    rows["3D head untrained: its priors only"] = aggregate([untrained_3d(preset_name, runs)])
    return rows


def head_3d_markdown(rows: dict, preset_name: str, seeds: list[int]) -> str:
    """The ladder's NME and jitter table for these rows, then the pose table and the focal error by distance."""
    text = ladder_markdown(rows, preset_name, seeds) + "\n"
    for source in ("synth300w", "hmc"):
        text += (f"\nPose, camera, 3D shape and visibility against the exact truth, {source} test faces (lm3d.evaluate_pose): "
                 "rotation and Euler errors in degrees, translation in cm, focal |log f_pred - log f_true|, 3D NME in % of "
                 "the 3D inter-ocular distance after similarity Procrustes, ordinal depth (Z_8) and visibility F1 in %.\n\n"
                 "| model | " + " | ".join(POSE_COLUMNS) + " |\n|---|" + "---|" * len(POSE_COLUMNS) + "\n")
        for label, table in rows.items():
            if f"rotation_deg {source}" in table:
                text += f"| {label} | " + " | ".join(cell(table, f"{k} {source}") for k in POSE_COLUMNS) + " |\n"
    bins = sorted({k.split(" at ")[1] for table in rows.values() for k in table if k.startswith("focal_log_error synth300w at")},
                  key=lambda b: float(b.split("-")[0]))
    text += ("\nFocal error |log f_pred - log f_true| by the true distance of the face (synth300w test faces):\n\n"
             "| model | " + " | ".join(bins) + " |\n|---|" + "---|" * len(bins) + "\n")
    for label, table in rows.items():
        if "rotation_deg synth300w" in table:
            text += f"| {label} | " + " | ".join(cell(table, f"focal_log_error synth300w at {b}") for b in bins) + " |\n"
    return text


# The query deformer's table (issue 12): the 3D head on S and on the box crop, without and with D, same budget and
# seeds; then, seed 0 only, the same four with every convention CONVENTION_SCALES times larger (how large must
# conventions be before D matters?), and each seed-0 D model taught synthuser's convention by fine-tuning D alone
WITH_D = {"model.deformer": True}
DEFORMER_ROWS = (("S + 3D head (s-3d)", "s-3d", None, None), ("S + 3D head + D (full)", "full", None, None),
                 ("box crop + 3D head (crop-3d)", "crop-3d", None, None),
                 ("box crop + 3D head + D (crop-3d + D)", "crop-3d", WITH_D, "crop-3d-deformer"))
CONVENTION_SCALES = (4.0, 8.0)
CONVENTION_SOURCES = ("synth300w", "synthwflw", "synthmpie")
ADAPT_SOURCE, ADAPT_STEPS = "synthuser", 300  # faces: the preset's eval_count, for training and for testing
# the seed-0 D models taught ADAPT_SOURCE (at the convention scale each was trained with): label, run tag (the run's
# variant or tag), D's network rate (None: its new code alone)
ADAPTED = (("S + 3D head + D (full)", "full", None), ("box crop + 3D head + D (crop-3d + D)", "crop-3d-deformer", None),
           ("box crop + 3D head + D (crop-3d + D), conventions x4", "crop-3d-deformer-conv4x", None),
           ("box crop + 3D head + D (crop-3d + D), conventions x4, D's network trained too", "crop-3d-deformer-conv4x", 1e-3))


def deformer(preset_name: str, seeds: list[int], runs: Path) -> dict:
    rows = {label: aggregate([run_seed(preset_name, seed, runs, variant, overrides, tag) for seed in seeds])
            for label, variant, overrides, tag in DEFORMER_ROWS}
    for scale in CONVENTION_SCALES:
        for label, variant, overrides, tag in DEFORMER_ROWS:
            settings = {**(overrides or {}), "convention_scale": scale}
            rows[f"{label}, conventions x{scale:g} (seed {seeds[0]})"] = aggregate(
                [run_seed(preset_name, seeds[0], runs, variant, settings, f"{tag or variant}-conv{scale:g}x")])
    for label, report in deformer_adapted(preset_name, seeds[0], runs).items():
        single = {f"NME {ADAPT_SOURCE} asked as {name}": v for name, v in report["nme_before"].items()}
        single.update({"adapt train faces": report["train_faces"], "adapt steps": report["steps"]})
        single[f"NME {ADAPT_SOURCE} asked as {ADAPT_SOURCE} (adapted)"] = report["nme_after"]
        learned = report["learned_vs_true_cm"]
        single.update({f"true offset {ADAPT_SOURCE}": learned["true_mean"], f"D offset error {ADAPT_SOURCE}": learned["mean"],
                       f"D offset error relative {ADAPT_SOURCE}": learned.get("relative_mean")})
        rows[f"{label}, taught {ADAPT_SOURCE} (seed {seeds[0]})"] = aggregate_rows([single])
    return rows


def deformer_adapted(preset_name: str, seed: int, runs: Path) -> dict:
    """The ``ADAPTED`` runs of ``seed`` taught ``ADAPT_SOURCE`` by fine-tuning D (cached as adapt.json beside the run)."""
    from .adapt_deformer import adapt_checkpoint, synth_faces_for

    reports, config = {}, preset(preset_name)
    for label, tag, network_lr in ADAPTED:
        run = runs / run_name(preset_name, tag, seed)
        out = run.with_name(run.name + f"_adapt-{ADAPT_SOURCE}" + ("-network" if network_lr else ""))
        if not (out / "adapt.json").exists():
            faces = synth_faces_for(run / CHECKPOINT_NAME, ADAPT_SOURCE, config.eval_count)
            adapt_checkpoint(run / CHECKPOINT_NAME, ADAPT_SOURCE, *faces, out, steps=min(ADAPT_STEPS, config.steps),
                             source=ADAPT_SOURCE, network_lr=network_lr)
        reports[label] = json.loads((out / "adapt.json").read_text())
    return reports


def deformer_markdown(rows: dict, preset_name: str, seeds: list[int]) -> str:
    """NME in each source's own convention and against the canonical truth; D's offsets against the true ones; the
    seed-0 D models taught a new dataset."""
    adapted = {label: t for label, t in rows.items() if f"true offset {ADAPT_SOURCE}" in t}
    trained = {label: t for label, t in rows.items() if label not in adapted}
    text = (f"Preset `{preset_name}`, seeds {seeds} (rows marked 'seed {seeds[0]}': that seed only): mean ± standard "
            "deviation over seeds, NME in % of the inter-ocular distance. Own convention: each source's test faces "
            "against its own annotations (a model with D asked in that source's convention). Canonical: the same faces "
            "against the exact nominal surface points, asked with dataset=None. 'conventions xN': every source's "
            "convention offsets N times larger, in training and test sets alike.\n\n| model | "
            + " | ".join(f"{s} own" for s in CONVENTION_SOURCES) + " | "
            + " | ".join(f"{s} canonical" for s in CONVENTION_SOURCES) + " | hmc | static / motion jitter |\n|---|"
            + "---|" * (2 * len(CONVENTION_SOURCES) + 2) + "\n")
    for label, table in trained.items():
        text += (f"| {label} | " + " | ".join(cell(table, f"NME {s}") for s in CONVENTION_SOURCES) + " | "
                 + " | ".join(cell(table, f"canonical NME {s}") for s in CONVENTION_SOURCES)
                 + f" | {cell(table, 'NME hmc')} | {cell(table, 'static jitter synth300w')} / "
                 f"{cell(table, 'motion jitter synth300w')} |\n")
    text += ("\nThe 3D error (cm) of the points asked in each source's own convention, against the true convention points on "
             "the face, along the surface / across it:\n\n| model | " + " | ".join(CONVENTION_SOURCES) + " |\n|---|"
             + "---|" * len(CONVENTION_SOURCES) + "\n")
    for label, table in trained.items():
        text += f"| {label} | " + " | ".join(f"{cell(table, f'residual along {s}', 3)} / {cell(table, f'residual across {s}', 3)}"
                                            for s in CONVENTION_SOURCES) + " |\n"
    text += ("\nD's learned offsets against the true convention offsets (cm). 'true': the offsets' own mean length, the "
             "error a model without D is left with; 'relative': D's offsets minus its offsets for the reference dataset "
             "at the same points, which isolates the convention from what every dataset shares.\n\n"
             "| model | source | true | D's error | D's error, relative | per group |\n|---|---|---|---|---|---|\n")
    for label, table in trained.items():
        for source in CONVENTION_SOURCES:
            prefix = f"D offset error {source} "
            if f"D offset error {source}" not in table:
                continue
            groups = ", ".join(f"{k[len(prefix):]} {cell(table, k, 3)}" for k in table
                               if k.startswith(prefix) and not k.startswith("D offset error relative"))
            text += (f"| {label} | {source} | {cell(table, f'true offset {source}', 3)} | "
                     f"{cell(table, f'D offset error {source}', 3)} | {cell(table, f'D offset error relative {source}', 3)}"
                     f" | {groups} |\n")
    if adapted:
        names = sorted({k.split(" asked as ")[1] for t in adapted.values() for k in t if " asked as " in k},
                       key=lambda n: (n != "None", n.endswith("(adapted)"), n))
        first = next(iter(adapted.values()))
        faces, steps = (cell(first, key, 0) for key in ("adapt train faces", "adapt steps"))
        text += (f"\nA new dataset, {ADAPT_SOURCE} ({faces} training faces, {steps} steps), taught by "
                 f"fine-tuning D's new code alone (lm3d.adapt_deformer): NME on its {faces} test faces against "
                 "its own annotations, asked with each code; then the new code's offsets against the true convention "
                 "(cm).\n\n| model | " + " | ".join(f"asked as {n}" for n in names)
                 + " | true | D's error | D's error, relative |\n|---|" + "---|" * (len(names) + 3) + "\n")
        for label, table in adapted.items():
            text += (f"| {label} | " + " | ".join(cell(table, f"NME {ADAPT_SOURCE} asked as {n}") for n in names)
                     + f" | {cell(table, f'true offset {ADAPT_SOURCE}', 3)} | {cell(table, f'D offset error {ADAPT_SOURCE}', 3)}"
                     f" | {cell(table, f'D offset error relative {ADAPT_SOURCE}', 3)} |\n")
    return text


def plot_learning_curves(runs: Path, preset_name: str, seeds: list[int], path: Path) -> None:
    """Training loss against step for every seed, one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for seed in seeds:
        log = runs / f"{preset_name}_seed{seed}" / "log.jsonl"
        entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        if entries:
            axis.plot([e["step"] for e in entries], [e["loss"] for e in entries], label=f"seed {seed}", lw=1)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("training loss (L1 pixel error / IOD)")
    axis.set_title(f"baseline, preset {preset_name}")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def interruption_check(preset_name: str, seed: int, runs: Path, kill_after_step: int) -> dict:
    """Train in a subprocess, ``kill -9`` it once a checkpoint past ``kill_after_step`` exists, run the same
    command again (it resumes), and compare its metrics with the uninterrupted run of the same seed."""
    out = runs / f"{preset_name}_seed{seed}_killed"
    command = [sys.executable, "-m", "lm3d.train", "--preset", preset_name, "--seed", str(seed), "--out", str(out),
               "--no-eval"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / CHECKPOINT_NAME
    killed_at = None
    while process.poll() is None:
        time.sleep(2)
        if path.exists():
            try:
                step = checkpoint.load(path)["step"]
            except checkpoint.CheckpointError:
                continue  # being replaced right now
            if step >= kill_after_step:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                killed_at = step
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resumed = evaluate_checkpoint(path, count=preset(preset_name).eval_count)
    straight = run_seed(preset_name, seed, runs)
    report = {"killed_after_checkpoint_step": killed_at,
              "resumed": resumed["summary"], "uninterrupted": straight["summary"],
              "difference": {k: resumed["summary"][k] - straight["summary"][k] for k in straight["summary"]}}
    (out / "interruption_check.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--ladder", action="store_true",
                        help="instead: the spatial transformer's table (baseline with simulated, MTCNN and LBP boxes; S)")
    parser.add_argument("--head-3d", action="store_true",
                        help="instead: the 3D head's table (2D against 3D head, on the box crop and on S)")
    parser.add_argument("--deformer", action="store_true",
                        help="instead: the query deformer's table (S + 3D head without and with D)")
    parser.add_argument("--mtcnn-boxes", type=Path, default=Path("reports/mtcnn_boxes.json"))
    parser.add_argument("--interruption-check", type=int, metavar="STEP", default=None,
                        help="instead: kill -9 a training of the first seed after its checkpoint at STEP, resume, compare")
    args = parser.parse_args(argv)
    if args.interruption_check is not None:
        report = interruption_check(args.preset, args.seeds[0], args.runs, args.interruption_check)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "interruption_check.json").write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps(report, indent=1))
        return
    for wanted, name, build, write in ((args.head_3d, "head_3d", head_3d, head_3d_markdown),
                                       (args.deformer, "deformer", deformer, deformer_markdown),
                                       (args.ladder, "ladder", ladder, ladder_markdown)):
        if wanted:
            extra = (args.mtcnn_boxes,) if name == "ladder" else ()
            rows = build(args.preset, args.seeds, args.runs, *extra)
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}_results.json").write_text(json.dumps({"preset": args.preset, "seeds": args.seeds,
                                                                       "rows": rows}, indent=1) + "\n")
            text = write(rows, args.preset, args.seeds)
            (args.out / f"{name}_results.md").write_text(text)
            print(text)
            return
    results = [run_seed(args.preset, seed, args.runs) for seed in args.seeds]
    table = aggregate(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "baseline_results.json").write_text(json.dumps({"preset": args.preset, "seeds": args.seeds,
                                                                "table": table}, indent=1) + "\n")
    plot_learning_curves(args.runs, args.preset, args.seeds, args.out / "baseline_learning_curves.png")
    text = markdown(table, args.preset, args.seeds)
    (args.out / "baseline_results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
