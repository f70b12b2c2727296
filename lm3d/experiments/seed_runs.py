"""Training runs of the seeds tables and their metrics: run folders, train-then-evaluate with a cache, and
aggregation over seeds (each table of ``lm3d.experiments`` is built from these).

``run_seed`` trains a variant's seed unless it is finished, evaluates it unless its cached metrics are of the
current ``EVALUATION_VERSION``, and records the training minutes from the run's log; ``run_seeds`` does it for
several seeds, in parallel processes. ``flatten`` turns one evaluation into the table's named numbers;
``aggregate`` takes mean, standard deviation and values over seeds.
"""
from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from ..evaluation import EVALUATION_VERSION, evaluate_checkpoint
from ..model import VARIANTS
from ..runtime import write_atomically
from ..training import CHECKPOINT_NAME, configure, preset, train


def run_name(preset_name: str, variant: str, seed: int, tag: str | None = None) -> str:
    """The run folder of one training: ``standard_seed0`` for the baseline (as before variants existed)."""
    middle = "" if variant == "baseline" and tag is None else f"_{tag or variant}"
    return f"{preset_name}{middle}_seed{seed}"


def run_seed(preset_name: str, seed: int, runs: Path, variant: str = "baseline", overrides: dict | None = None,
             tag: str | None = None) -> dict:
    """Train one seed of one variant (unless finished) and evaluate it; the metrics are cached in the run."""
    out = runs / run_name(preset_name, variant, seed, tag)
    metrics_file = out / "metrics.json"
    config = configure(preset_name, variant, seed, overrides)
    if metrics_file.exists():
        cached = json.loads(metrics_file.read_text())
        if cached.get("evaluation_version") == EVALUATION_VERSION:
            return cached  # else the evaluation has grown since: evaluate the finished run again
    train(config, out)
    results = evaluate_checkpoint(out / CHECKPOINT_NAME, count=config.eval_count)
    results["train_minutes"] = training_minutes(out / "log.jsonl", config.batch_size)
    write_atomically(metrics_file, lambda path: path.write_text(json.dumps(results, indent=1) + "\n"))
    return results


def run_seeds(preset_name: str, seeds, runs: Path, variant: str = "baseline", overrides: dict | None = None,
              tag: str | None = None, jobs: int = 1) -> list[dict]:
    """``run_seed`` for every seed, ``jobs`` at a time, each in a process of its own (with the threads its config
    fixes, so a seed gives the same numbers alone or beside another)."""
    return in_processes(partial(run_seed, preset_name, runs=runs, variant=variant, overrides=overrides, tag=tag),
                        seeds, jobs)


def in_processes(work, items, jobs: int) -> list:
    """``[work(item) for item in items]``, ``jobs`` at a time, each in a spawned process of its own (in this process
    when ``jobs`` is 1 or there is one item); in order, and a failure stops it with its own error."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    items = list(items)
    if jobs == 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ProcessPoolExecutor(min(jobs, len(items)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=end_with_parent, initargs=(os.getpid(),)) as pool:
        return list(pool.map(work, items))


def end_with_parent(parent: int) -> None:
    """A worker's first act: ask the kernel to end it when the process that started it ends (Linux; elsewhere
    nothing). Without it, stopping the job's main process by ``kill`` (not Ctrl-C, which reaches the whole process
    group) left its two trainings running for half an hour, unwatched, on the cores the next job needed."""
    if not sys.platform.startswith("linux"):
        return
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent ended before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def training_minutes(log: Path, batch_size: int) -> float:
    """Minutes spent in training steps, from the log's throughput (so a run resumed, or trained elsewhere, counts
    each step once, and no time spent evaluating or waiting)."""
    entries = [json.loads(line) for line in log.read_text().splitlines() if line]
    entries = [entry for entry in entries if "images_per_s" in entry]  # not the validation curve's lines
    seconds, previous = 0.0, 0
    for entry in entries:
        seconds += (entry["step"] - previous) * batch_size / entry["images_per_s"]
        previous = entry["step"]
    return seconds / 60


def evaluate_with_boxes(preset_name: str, seed: int, runs: Path, boxes: str, label: str,
                        variant: str = "baseline") -> dict:
    """One seed of ``variant`` evaluated on another face finder's boxes (cached as metrics_<label>.json): a box model
    crops around them; an S model still finds each face itself and is scored on the faces the finder found, so its
    row compares with the box model's on the same faces (its stability, on every clip, is in its own row)."""
    out = runs / run_name(preset_name, variant, seed)
    cached = out / f"metrics_{label}.json"
    if cached.exists():
        results = json.loads(cached.read_text())
        if results.get("evaluation_version") == EVALUATION_VERSION:
            return results
    run_seed(preset_name, seed, runs, variant)
    results = evaluate_checkpoint(out / CHECKPOINT_NAME, count=preset(preset_name).eval_count, boxes=boxes,
                                  stability=VARIANTS[variant]["crop"] == "box")
    write_atomically(cached, lambda path: path.write_text(json.dumps(results, indent=1) + "\n"))
    return results


def flatten(result: dict) -> dict:
    """The numbers of one evaluation that go into the table, as name -> float."""
    row = {}
    for source, rate in result.get("found", {}).items():
        if rate < 100.0:
            row[f"faces found {source} (%)"] = rate
    for source, subsets in result.get("sources", {}).items():
        for subset, values in subsets.items():
            suffix = "" if subset == "all" else f" ({subset})"
            row[f"NME {source}{suffix}"] = values["nme"]
            if subset == "all":
                row[f"FR@10 {source}"] = values["fr@10"]
                row[f"AUC@10 {source}"] = values["auc@10"]
    for source, values in result.get("localisation", {}).items():
        if values:
            row[f"lost faces {source} (%)"] = values["lost_face_rate"]
            if values["nme_found"] is not None:
                row[f"NME {source} (faces not lost)"] = values["nme_found"]
    if "heldout" in result:
        row["NME held-out points (synth300w test)"] = result["heldout"]["heldout"]["nme"]
        row["NME ibug68 points, same faces, exact truth"] = result["heldout"]["ibug68"]["nme"]
        row["held-out / layout NME"] = result["heldout"]["ratio"]
    for source, values in result.get("stability", {}).items():
        for key in ("static_jitter", "motion_jitter", "video_nme", "roi_jitter", "roi_jitter_static",
                    "one_euro_static_jitter", "one_euro_motion_jitter", "one_euro_video_nme"):
            if key in values:
                row[f"{key.replace('_', ' ')} {source}"] = values[key]
    for source, values in result.get("pose", {}).items():
        for key in POSE_COLUMNS:
            if key in values:
                row[f"{key} {source}"] = values[key]
        for bin_ in values.get("focal_by_distance", []):
            if bin_["mean"] is not None:
                row[f"focal_log_error {source} at {bin_['from']:g}-{bin_['to']:g} cm"] = bin_["mean"]
        for bin_ in values.get("rotation_by_yaw", []):
            if bin_["mean"] is not None:
                row[f"rotation_deg {source} at yaw {bin_['from']:g}-{bin_['to']:g}"] = bin_["mean"]
    for source, nme in result.get("deformer", {}).get("canonical_nme", {}).items():
        if nme is not None:
            row[f"canonical NME {source}"] = nme
    for source, values in result.get("deformer", {}).get("residual", {}).items():
        row[f"residual along {source}"], row[f"residual across {source}"] = values["along_cm"], values["across_cm"]
    for source, values in result.get("deformer", {}).get("learned_vs_true_cm", {}).items():
        row[f"D offset error {source}"] = values["mean"]
        row[f"true offset {source}"] = values["true_mean"]
        if "relative_mean" in values:
            row[f"D offset error relative {source}"] = values["relative_mean"]
        for group, error in values["groups"].items():
            row[f"D offset error {source} {group}"] = error
    if "train_minutes" in result:
        row["training minutes"] = result["train_minutes"]
    return row


POSE_COLUMNS = ("rotation_deg", "yaw_mae", "pitch_mae", "roll_mae", "translation_cm", "focal_log_error", "nme3d",
                "ordinal_depth", "visibility_f1")


def aggregate(results: list[dict]) -> dict:
    """Mean, standard deviation and values over seeds of each number of the evaluations ``results``."""
    return aggregate_rows([flatten(r) for r in results])


def aggregate_rows(rows: list[dict]) -> dict:
    """The same over rows already flat (name -> float)."""
    table = {}
    for key in rows[0]:
        values = [row[key] for row in rows if key in row]
        table[key] = {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                      "values": values}
    return table


def cell(table: dict, key: str, digits: int = 2) -> str:
    """A table entry: mean ± standard deviation over seeds (the mean alone for a single run), '-' when missing."""
    row = table.get(key)
    if not row:
        return "-"
    return f"{row['mean']:.{digits}f}" + (f" ± {row['std']:.{digits}f}" if len(row["values"]) > 1 else "")
