"""The ladder: the baseline with simulated, MTCNN and LBP boxes, then each of the paper's additions, same budget.

Every row is trained over the same seeds with the same preset and differs from the row it builds on by one addition:
S in place of the box, the 3D head in place of the 2D head, D (on the box crop and on S). A box row evaluated on a
real finder's boxes counts only the faces (and clips) that finder found. The 3D-head rows also get the pose table.
``LADDER`` holds the rungs that test a claim of the paper (``make reproduce``); ``EXTRA_RUNGS`` a choice beyond
them, S with an affine crop, which ``make reproduce-extras`` trains (``lm3d.experiments.extras``).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..evaluation.video import clip_rois
from ..model import VARIANTS, load_model
from ..training import CHECKPOINT_NAME, preset
from .deformer import WITH_D
from .seed_runs import POSE_COLUMNS, aggregate, cell, evaluate_with_boxes, run_name, run_seeds


class Rung(NamedTuple):
    label: str
    variant: str
    boxes: str | None  # a box model's face boxes ("simulated", "mtcnn", "lbp"); None: S finds the face, or simulated
    overrides: dict | None = None  # settings changed from the variant's (D on the box crop)
    tag: str | None = None  # the run folder's name for such a run (lm3d.experiments.seed_runs.run_name)


LADDER = (Rung("baseline, simulated detector box", "baseline", "simulated"),
          Rung("baseline, MTCNN box", "baseline", "mtcnn"),
          Rung("baseline, LBP detector box", "baseline", "lbp"),
          Rung("S similarity", "s-similarity", None),
          Rung("S similarity, on the faces MTCNN finds", "s-similarity", "mtcnn"),
          Rung("3D head, box crop (crop-3d)", "crop-3d", None),
          # D where S's placement error does not hide it: the deformer's table trains the same runs
          Rung("3D head + D, box crop (crop-3d + D)", "crop-3d", None, WITH_D, "crop-3d-deformer"),
          Rung("S + 3D head (s-3d)", "s-3d", None),
          Rung("S + 3D head + D (full)", "full", None))
# beyond the paper's claims (make reproduce-extras): S free to shear and stretch its crop
EXTRA_RUNGS = (Rung("S affine", "s-affine", None),)
BOX_ROW = LADDER[0][0]
FILTERED_ROW = "baseline, simulated detector box, One-Euro filtered (stability only)"


def ladder_rows(results: dict) -> dict:
    """``ladder_runs``' evaluations aggregated over seeds, row by row: mean, spread and values of every number."""
    rows = {label: aggregate(runs) for label, runs in results.items()}
    return {label: table for label, table in rows.items() if table}  # (the filtered row of evaluations without it)


def ladder_runs(preset_name: str, seeds: list[int], runs: Path, mtcnn_boxes: Path | None, jobs: int = 1,
                rungs: tuple[Rung, ...] = LADDER) -> dict:
    """Every row of ``rungs``: its evaluations, one per seed (trained and evaluated unless cached)."""
    rows = {}
    for label, variant, boxes, overrides, tag in rungs:
        if boxes == "mtcnn" and (mtcnn_boxes is None or not mtcnn_boxes.exists()):
            print(f"skipping '{label}': no MTCNN boxes (make peers && benchmarks/face_boxes.py)")
            continue
        if boxes in (None, "simulated"):
            rows[label] = run_seeds(preset_name, seeds, runs, variant, overrides, tag, jobs=jobs)
        else:
            kind = f"file:{mtcnn_boxes}" if boxes == "mtcnn" else boxes
            rows[label] = [evaluate_with_boxes(preset_name, seed, runs, kind, boxes, variant) for seed in seeds]
        if label == BOX_ROW:
            rows[FILTERED_ROW] = [one_euro_view(result) for result in rows[label]]
    return rows


def per_face_nmes(results: dict) -> dict:
    """Row label -> one {source: every test face's NME} per seed, from ``ladder_runs``' evaluations (for CED curves)."""
    return {label: [{source: subsets["all"]["nme_per_face"] for source, subsets in run.get("sources", {}).items()
                     if "nme_per_face" in subsets.get("all", {})} for run in runs]
            for label, runs in results.items() if any(run.get("sources") for run in runs)}


def ladder_rois(preset_name: str, seed: int, runs: Path, mtcnn_boxes: Path | None, source: str = "synth300w") -> dict:
    """The RoIs of the first moving test clip of ``source``: the face finders' (the box rows') and each S row's own,
    seed ``seed``'s models (trained by ``ladder_runs``), as lists for JSON (the paper's Fig. 4, notebook 08)."""
    config = preset(preset_name)
    finders = {"simulated detector": "simulated", "LBP": "lbp"}
    if mtcnn_boxes is not None and mtcnn_boxes.exists():
        finders["MTCNN"] = f"file:{mtcnn_boxes}"
    models = {rung.label: load_model(runs / run_name(preset_name, rung.variant, seed, rung.tag) / CHECKPOINT_NAME)
              for rung in LADDER if rung.boxes is None and VARIANTS[rung.variant]["crop"] != "box"}
    rois = clip_rois(source, config.image_size, config.model.crop_margin, finders, models)
    return {"source": source, "seed": seed, "clip": "moving 0", "rois": {name: t.tolist() for name, t in rois.items()}}


def one_euro_view(result: dict) -> dict:
    """The stability numbers of one evaluation as its landmarks smoothed by a One-Euro filter give them
    (``lm3d.evaluation.video``): a reference row that says what a filter, not the model, buys."""
    filtered = {source: {key[len("one_euro_"):]: value for key, value in values.items() if key.startswith("one_euro_")}
                for source, values in result.get("stability", {}).items()}
    return {"stability": {source: values for source, values in filtered.items() if values}}


def ladder_markdown(rows: dict, preset_name: str, seeds: list[int]) -> str:
    """The NME, lost-face and jitter table of ``rows``; then the pose table of those with a 3D head."""
    return landmark_markdown(rows, preset_name, seeds) + "\n" + pose_markdown(rows)


def landmark_markdown(rows: dict, preset_name: str, seeds: list[int]) -> str:
    lines = [f"Preset `{preset_name}`, seeds {seeds}: mean ± standard deviation over seeds, all in % of the inter-ocular "
             "distance except RoI jitter (% of the crop size). Jitter on the synth300w test clips (lm3d.evaluation.stability). "
             "A detector row counts only the faces (and clips) its detector found. Lost faces: the crop's centre off the "
             "true face by more than half its size, or the crop's size off by a factor of two (synth300w, % of the "
             "faces seen).", "",
             "| model | faces found | lost faces | synth300w NME (common / challenging) | NME, faces not lost | synthwflw | "
             "synthmpie | hmc | static / motion jitter | video NME | RoI jitter |", "|---" * 11 + "|"]
    for label, table in rows.items():
        found = cell(table, "faces found synth300w (%)", 1) if "faces found synth300w (%)" in table else "100"
        lines.append(f"| {label} | {found} | {cell(table, 'lost faces synth300w (%)', 1)} | {cell(table, 'NME synth300w')} "
                     f"({cell(table, 'NME synth300w (common)')} / {cell(table, 'NME synth300w (challenging)')}) | "
                     f"{cell(table, 'NME synth300w (faces not lost)')} | {cell(table, 'NME synthwflw')} | "
                     f"{cell(table, 'NME synthmpie')} | {cell(table, 'NME hmc')} | "
                     f"{cell(table, 'static jitter synth300w')} / {cell(table, 'motion jitter synth300w')} | "
                     f"{cell(table, 'video nme synth300w')} | {cell(table, 'roi jitter synth300w')} |")
    return "\n".join(lines) + "\n"


def pose_markdown(rows: dict, sources: tuple[str, ...] = ("synth300w", "hmc")) -> str:
    """Per source, the pose, camera, 3D shape and visibility errors of the rows that have them (a 3D head's)."""
    text = ""
    for source in sources:
        posed = {label: table for label, table in rows.items() if f"rotation_deg {source}" in table}
        if not posed:
            continue
        text += (f"\nPose, camera, 3D shape and visibility against the exact truth, {source} test faces (lm3d.evaluation.pose): "
                 "rotation and Euler errors in degrees, translation in cm, focal |log f_pred - log f_true|, 3D NME in % of "
                 "the 3D inter-ocular distance after similarity Procrustes, ordinal depth (Z_8) and visibility F1 in %.\n\n"
                 "| model | " + " | ".join(POSE_COLUMNS) + " |\n|---|" + "---|" * len(POSE_COLUMNS) + "\n")
        for label, table in posed.items():
            text += f"| {label} | " + " | ".join(cell(table, f"{k} {source}") for k in POSE_COLUMNS) + " |\n"
    return text
