"""The query deformer's tables.

``deformer``: the 3D head on S and on the box crop, without and with D, same budget and seeds (``make reproduce``).
``deformer_conventions``: seed 0 only, the same four with every convention larger (how large must conventions be
before D matters?), and each seed-0 D model taught a new dataset (``synthuser``) by fine-tuning D alone; eight more
trainings, so ``make reproduce-extras`` runs it, not the main job.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..training import CHECKPOINT_NAME, preset
from ..training.adapt_deformer import adapt_checkpoint, synth_faces_for
from .seed_runs import aggregate, aggregate_rows, cell, run_name, run_seed, run_seeds

# The rows: the 3D head on S and on the box crop, without and with D, same budget and
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


def scaled_run(variant: str, seed: int, overrides: dict | None, tag: str | None, scale: float) -> tuple:
    """(variant, seed, settings, tag) of a deformer row's run with every convention ``scale`` times larger."""
    return variant, seed, {**(overrides or {}), "convention_scale": scale}, f"{tag or variant}-conv{scale:g}x"


def deformer(preset_name: str, seeds: list[int], runs: Path, jobs: int = 1) -> dict:
    """DEFORMER_ROWS over every seed (trained and evaluated unless cached)."""
    return {label: aggregate(run_seeds(preset_name, seeds, runs, variant, overrides, tag, jobs))
            for label, variant, overrides, tag in DEFORMER_ROWS}


def deformer_conventions(preset_name: str, seeds: list[int], runs: Path, jobs: int = 1) -> dict:
    """Seed ``seeds[0]``: DEFORMER_ROWS with every convention CONVENTION_SCALES times larger, and the ADAPTED models
    taught ADAPT_SOURCE; beside them, the same seed's four at the sources' own conventions (the runs the adapted
    models start from), so the table stands alone. ``jobs`` is unused: each row is one run."""
    rows = {f"{label} (seed {seeds[0]})": aggregate([run_seed(preset_name, seeds[0], runs, variant, overrides, tag)])
            for label, variant, overrides, tag in DEFORMER_ROWS}
    for scale in CONVENTION_SCALES:
        for label, variant, overrides, tag in DEFORMER_ROWS:
            _, _, settings, scaled_tag = scaled_run(variant, seeds[0], overrides, tag, scale)
            rows[f"{label}, conventions x{scale:g} (seed {seeds[0]})"] = aggregate(
                [run_seed(preset_name, seeds[0], runs, variant, settings, scaled_tag)])
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
                 f"fine-tuning D's new code alone (lm3d.training.adapt_deformer): NME on its {faces} test faces against "
                 "its own annotations, asked with each code; then the new code's offsets against the true convention "
                 "(cm).\n\n| model | " + " | ".join(f"asked as {n}" for n in names)
                 + " | true | D's error | D's error, relative |\n|---|" + "---|" * (len(names) + 3) + "\n")
        for label, table in adapted.items():
            text += (f"| {label} | " + " | ".join(cell(table, f"NME {ADAPT_SOURCE} asked as {n}") for n in names)
                     + f" | {cell(table, f'true offset {ADAPT_SOURCE}', 3)} | {cell(table, f'D offset error {ADAPT_SOURCE}', 3)}"
                     f" | {cell(table, f'D offset error relative {ADAPT_SOURCE}', 3)} |\n")
    return text
