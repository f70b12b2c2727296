"""The paper's claims, one by one: the ladder's rungs that test each, their numbers over seeds, and a verdict.

Each claim is tested by one or more comparisons, a rung with the addition against the rung without it (same preset,
seeds, data and test faces; ``lm3d.experiments.ladder``). A comparison reads one measure of both rows (mean ± standard
deviation over seeds) and, for an NME, a 95 % bootstrap interval of the change over the test faces (the faces are
resampled, the seeds kept; both rows are scored on the same faces, so the change is paired face by face). Its outcome:

* ``helps``: the change goes the claimed way by more than twice the seed spread (the larger standard deviation of
  the two rows);
* ``hurts``: it goes the other way by more than that;
* ``no clear change``: it stays within twice the seed spread (flagged).

A claim is ``reproduced`` when every comparison helps, ``not reproduced`` when none does, and ``mixed`` otherwise.
``python -m lm3d.reproduce --claims --out reports`` writes ``claims.json`` (one record per claim) and ``claims.md``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .head_3d import untrained_3d
from .ladder import FILTERED_ROW, ladder_runs
from .seed_runs import aggregate

BOX, BOX_MTCNN, S, S_MTCNN = ("baseline, simulated detector box", "baseline, MTCNN box", "S similarity",
                              "S similarity, on the faces MTCNN finds")
CROP_3D, S_3D, FULL = "3D head, box crop (crop-3d)", "S + 3D head (s-3d)", "S + 3D head + D (full)"
CROP_3D_D = "3D head + D, box crop (crop-3d + D)"
PRIORS = "3D head untrained: its priors only"
BOOTSTRAP_DRAWS, BOOTSTRAP_SEED = 2000, 0


@dataclass(frozen=True)
class Comparison:
    rung: str  # the row with the addition (a label of lm3d.experiments.ladder.LADDER, or PRIORS)
    reference: str  # the row without it
    measure: str  # a number of both rows (lm3d.experiments.seed_runs.flatten's names)
    reference_measure: str | None = None  # another number of the reference row (default: the same measure)
    higher_is_better: bool = False


@dataclass(frozen=True)
class Claim:
    claim: str
    comparisons: tuple[Comparison, ...]


def _pairs(rungs, references, measures, **kwargs) -> tuple[Comparison, ...]:
    return tuple(Comparison(rung, reference, measure, **kwargs)
                 for rung, reference in zip(rungs, references) for measure in measures)


CLAIMS = (
    Claim("S improves NME over a detector's crop",
          (Comparison(S_MTCNN, BOX_MTCNN, "NME synth300w"), Comparison(S, BOX, "NME synth300w"))),
    Claim("S's region of interest is smoother than a detector's box",
          _pairs((S, S), (BOX_MTCNN, BOX), ("roi jitter synth300w",))),
    Claim("S improves landmark stability",
          _pairs((S, S), (BOX_MTCNN, BOX), ("static jitter synth300w", "motion jitter synth300w"))),
    Claim("S is steadier than the detector-box baseline smoothed by a One-Euro filter (beyond the paper; the filter "
          "costs lag, which video NME shows)",
          _pairs((S,), (FILTERED_ROW,), ("static jitter synth300w", "motion jitter synth300w", "video nme synth300w"))),
    Claim("The 3D head improves NME", _pairs((CROP_3D, S_3D), (BOX, S), ("NME synth300w",))),
    Claim("The 3D head improves stability",
          _pairs((CROP_3D, S_3D), (BOX, S), ("static jitter synth300w", "motion jitter synth300w"))),
    Claim("Pose and camera are learned from 2D supervision alone (beyond the paper: against the exact truth, and "
          "against the 3D head's priors)",
          _pairs((CROP_3D, S_3D), (PRIORS, PRIORS), ("rotation_deg synth300w", "focal_log_error synth300w"))),
    Claim("D improves multi-dataset training",
          _pairs((FULL, CROP_3D_D), (S_3D, CROP_3D), ("NME synth300w", "NME synthwflw", "NME synthmpie"))),
    Claim("D needs no extra supervision: from the landmarks alone it learns each dataset's convention (its offsets' "
          "error against the true offsets' own size, the error left without D)",
          tuple(Comparison(rung, rung, f"D offset error {source}", f"true offset {source}")
                for rung in (FULL, CROP_3D_D) for source in ("synthwflw", "synthmpie"))),
    Claim("The combination beats the baseline on in-the-wild, studio and helmet-camera faces",
          _pairs((FULL,), (BOX,), ("NME synth300w", "NME synthwflw", "NME synthmpie", "NME hmc"))),
)


def claims(preset_name: str, seeds: list[int], runs: Path, mtcnn_boxes: Path | None, jobs: int = 1) -> list[dict]:
    """Every claim of CLAIMS judged on the ladder's runs (trained and evaluated unless cached)."""
    results = ladder_runs(preset_name, seeds, runs, mtcnn_boxes, jobs)
    results[PRIORS] = [untrained_3d(preset_name, runs)]
    return judge(results)


def judge(results: dict) -> list[dict]:
    """The records of CLAIMS from ``results`` (row label -> one evaluation per seed); a comparison whose rows are
    missing is left out, a claim with none left is marked 'not measured'."""
    rows = {label: aggregate(runs) for label, runs in results.items()}
    records = []
    for claim in CLAIMS:
        compared = [compare(c, rows, results) for c in claim.comparisons
                    if c.measure in rows.get(c.rung, {}) and (c.reference_measure or c.measure) in rows.get(c.reference, {})]
        outcomes = {c["outcome"] for c in compared}
        verdict = ("not measured" if not compared else "reproduced" if outcomes == {"helps"}
                   else "not reproduced" if "helps" not in outcomes else "mixed")
        records.append({"claim": claim.claim, "verdict": verdict, "comparisons": compared,
                        "within_seed_spread": any(c["outcome"] == "no clear change" for c in compared)})
    return records


def compare(comparison: Comparison, rows: dict, results: dict) -> dict:
    """One comparison's numbers and outcome (see the module's docstring)."""
    rung = rows[comparison.rung][comparison.measure]
    reference = rows[comparison.reference][comparison.reference_measure or comparison.measure]
    change = rung["mean"] - reference["mean"]
    spread = max(rung["std"], reference["std"])
    outcome = judge_change(change, spread, comparison.higher_is_better)
    return {"rung": comparison.rung, "reference": comparison.reference, "measure": comparison.measure,
            "reference_measure": comparison.reference_measure or comparison.measure,
            "higher_is_better": comparison.higher_is_better, "rung_value": rung, "reference_value": reference,
            "change": change, "seed_spread": spread, "outcome": outcome,
            "seeds_better": seeds_better(rung["values"], reference["values"], comparison.higher_is_better),
            "bootstrap_95": bootstrap_change(comparison, results)}


def seeds_better(rung: list[float], reference: list[float], higher_is_better: bool = False) -> list[int] | None:
    """[on how many seeds the rung beats the reference, of how many]: seed by seed (the same seeds in both rows), or
    each seed against a single reference run; None when the rows cannot be paired."""
    if len(reference) == 1:
        reference = reference * len(rung)
    if len(rung) != len(reference) or len(rung) < 2:
        return None
    wins = sum((r > q) if higher_is_better else (r < q) for r, q in zip(rung, reference))
    return [wins, len(rung)]


def judge_change(change: float, spread: float, higher_is_better: bool = False) -> str:
    """'helps', 'hurts' or 'no clear change': whether ``change`` (the rung's value minus the reference's) goes the
    better way by more than twice ``spread`` (the seed spread), the other way by more, or stays within it."""
    if abs(change) <= 2 * spread:
        return "no clear change"
    return "helps" if (change > 0) == higher_is_better else "hurts"


def load_claims(reports: Path, preset_name: str) -> dict | None:
    """``reports/claims.json`` ({"preset", "seeds", "rows": the records}) when it was made with ``preset_name``, else
    None: what a notebook shows beside its own single-seed run."""
    path = Path(reports) / "claims.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return data if data.get("preset") == preset_name else None


def per_face_nme(result: dict, measure: str) -> np.ndarray | None:
    """The per-face NMEs behind ``measure`` ('NME <source>') in one evaluation, where it recorded them."""
    if not measure.startswith("NME ") or " " in measure[4:]:
        return None
    values = result.get("sources", {}).get(measure[4:], {}).get("all", {}).get("nme_per_face")
    return None if values is None else np.asarray(values, dtype=np.float64)


def bootstrap_change(comparison: Comparison, results: dict, draws: int = BOOTSTRAP_DRAWS) -> list[float] | None:
    """The 95 % interval of the change in mean NME, resampling the test faces (paired: the same draw of faces for both
    rows and every seed); None for a measure without per-face values or rows not scored on the same faces."""
    if comparison.reference_measure not in (None, comparison.measure):
        return None
    rung = [per_face_nme(r, comparison.measure) for r in results.get(comparison.rung, [])]
    reference = [per_face_nme(r, comparison.measure) for r in results.get(comparison.reference, [])]
    arrays = rung + reference
    if not rung or not reference or any(a is None for a in arrays) or len({len(a) for a in arrays}) != 1:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    faces = rng.integers(0, len(arrays[0]), size=(draws, len(arrays[0])))
    changes = (np.mean([a[faces].mean(1) for a in rung], 0) - np.mean([a[faces].mean(1) for a in reference], 0))
    return [float(np.percentile(changes, 2.5)), float(np.percentile(changes, 97.5))]


def _digits(*numbers: float) -> int:
    """Two decimals, three for measures below one (a focal log error, offsets in cm)."""
    return 2 if max(abs(n) for n in numbers) >= 1 else 3


def _value(value: dict, digits: int = 2) -> str:
    return f"{value['mean']:.{digits}f}" + (f" ± {value['std']:.{digits}f}" if len(value["values"]) > 1 else "")


def _numbers(c: dict) -> tuple[str, str, str, str]:
    """The rung's value, the reference's, the change and its bootstrap interval ('' without one), at one precision."""
    digits = _digits(c["rung_value"]["mean"], c["reference_value"]["mean"])
    interval = f"[{c['bootstrap_95'][0]:+.{digits}f}, {c['bootstrap_95'][1]:+.{digits}f}]" if c["bootstrap_95"] else ""
    return _value(c["rung_value"], digits), _value(c["reference_value"], digits), f"{c['change']:+.{digits}f}", interval


def claims_markdown(records: list[dict], preset_name: str, seeds: list[int]) -> str:
    """The claims table, then one paragraph per claim that argues its verdict from its numbers."""
    text = (f"Preset `{preset_name}`, seeds {seeds}: mean ± standard deviation over seeds (lm3d.experiments.claims). "
            "Change: the rung's mean minus the reference's (negative is better, except where marked); in brackets, the "
            "95 % bootstrap interval of the change over the test faces. 'no clear change': within twice the seed "
            "spread (flagged †).\n\n| claim | verdict | rung | against | measure | rung's value | reference's value | "
            "change | outcome |\n|---|---|---|---|---|---|---|---|---|\n")
    for record in records:
        first = True
        for c in record["comparisons"] or [None]:
            head = (f"| {record['claim']} | **{record['verdict']}**{' †' if record['within_seed_spread'] else ''} "
                    if first else "| | ")
            first = False
            if c is None:
                text += head + "| – | – | – | – | – | – | – |\n"
                continue
            measure = c["measure"] if c["reference_measure"] == c["measure"] else f"{c['measure']} / {c['reference_measure']}"
            better = " (higher is better)" if c["higher_is_better"] else ""
            rung, reference, change, interval = _numbers(c)
            text += (head + f"| {c['rung']} | {c['reference']} | {measure}{better} | {rung} | {reference} | "
                     f"{change}{' ' + interval if interval else ''} | "
                     f"{c['outcome']}{' †' if c['outcome'] == 'no clear change' else ''} |\n")
    text += "\n"
    for record in records:
        text += f"**{record['claim']}: {record['verdict']}.** " + " ".join(argument(c) for c in record["comparisons"]) + "\n\n"
    return text


def argument(c: dict) -> str:
    """One sentence from one comparison's numbers."""
    spread = (f"{abs(c['change']) / c['seed_spread']:.1f} times the larger seed spread" if c["seed_spread"] > 0
              else "one run each, no seed spread")
    rung, reference, change, interval = _numbers(c)
    faces = f"; 95 % of the test-face resamplings within {interval}" if interval else ""
    if c.get("seeds_better"):
        faces += f"; better on {c['seeds_better'][0]} of {c['seeds_better'][1]} seeds"
    what = c["measure"] if c["reference_measure"] == c["measure"] else f"{c['measure']} against {c['reference_measure']}"
    return (f"{c['rung']} against {c['reference']}, {what}: {rung} against {reference}, a change of {change} "
            f"({spread}{faces}): {c['outcome']}.")
