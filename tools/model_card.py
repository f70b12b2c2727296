"""Measure the shipped weights against the pretrained model's targets and write the model card's tables.

    python tools/model_card.py                 # evaluates lm3d/assets/pretrained/lm3d_full.pt -> reports/
    python tools/model_card.py --count 200     # fewer test faces per source (a quicker, noisier look)

Writes ``reports/pretrained_metrics.json`` (``python -m lm3d.evaluate --checkpoint pretrained``: every evaluation key;
reused while the shipped file's SHA-256 is unchanged), ``reports/pretrained_card.md`` (provenance, the targets measured,
single-image latency) and ``reports/pretrained_proxy.txt`` (the proxy check on real photos, from
``benchmarks/realism.py --proxy-only``, when ``.venv-realism`` is set up; ``make realism-peers``).
docs/model_card.md shows the card between generated-block markers (``tools/update_results_docs.py``).

The evaluation draws nothing for a model with S (no simulated box noise), so each figure is one evaluation of the
fixed test faces; the model is trained once.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lm3d import Detector
from lm3d.evaluation import evaluate_checkpoint
from lm3d.evaluation.pose import evaluate_pose
from lm3d.model import ContinuousLandmarkModel, checkpoint
from lm3d.runtime import write_atomically
from lm3d.training import configure

ROOT = Path(__file__).resolve().parents[1]
NEAR_CM = 60  # nearer than this, perspective shows and 2D supervision can fix the focal length
# (what, summary key, target, below or above): the pretrained model's targets (issue "A pretrained detector")
TARGETS = [("synth300w NME (%)", "nme_synth300w", 5.0, "below"), ("hmc NME (%)", "nme_hmc", 15.0, "below"),
           ("lost faces, synth300w (%)", "lost_face_rate_synth300w", 0.5, "below"),
           ("lost faces, hmc (%)", "lost_face_rate_hmc", 0.5, "below"),
           ("static jitter, synth300w (% IOD)", "static_jitter_synth300w", 1.0, "below"),
           ("rotation error, synth300w (degrees)", "rotation_deg_synth300w", 5.0, "below")]


def metrics(count: int, out: Path) -> dict:
    """The evaluation of the shipped file, reused while the file is unchanged."""
    digest = hashlib.sha256(checkpoint.PRETRAINED_FILE.read_bytes()).hexdigest()
    if out.exists():
        cached = json.loads(out.read_text())
        if cached.get("sha256") == digest and cached.get("faces_per_source") == count:
            return cached
    results = {**evaluate_checkpoint(checkpoint.PRETRAINED, count=count), "sha256": digest}
    write_atomically(out, lambda t: t.write_text(json.dumps(results, indent=1) + "\n"))
    return results


def prior_focal_by_distance(count: int) -> list[dict]:
    """The focal error of the 3D head's prior alone (an untrained head of the same configuration on the box crop) on
    synth300w's test faces, by distance: the floor a trained head must beat."""
    config = configure("pretrained", "crop-3d", 0)
    torch.manual_seed(0)
    model = ContinuousLandmarkModel(config.model).eval()
    return evaluate_pose(model, "synth300w", count, config.image_size)["focal_by_distance"]


def latency(sizes=(256, 1024), repeats: int = 5) -> dict[int, float]:
    """Median seconds of ``Detector.from_pretrained().predict`` on one image (a real photo, resized), CPU."""
    import skimage.data
    import skimage.transform

    detector = Detector.from_pretrained(device="cpu")
    out = {}
    for size in sizes:
        image = (skimage.transform.resize(skimage.data.astronaut(), (size, size)) * 255).astype(np.uint8)
        detector.predict(image, layout="ibug68")
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            detector.predict(image, layout="ibug68")
            times.append(time.perf_counter() - start)
        out[size] = float(np.median(times))
    return out


def proxy(out: Path) -> list[str]:
    """The proxy check's lines (or why there are none)."""
    if not (ROOT / ".venv-realism" / ".ready").exists():
        return ["the proxy check needs .venv-realism (make realism-peers); not run"]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "realism.py"), "--proxy-only", "--proxy",
                           f"pretrained={checkpoint.PRETRAINED_FILE}"], cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()] or [f"failed: {done.stderr[-500:]}"]
    write_atomically(out, lambda t: t.write_text("\n".join(lines) + "\n"))
    return lines


def card(results: dict, prior: list[dict], seconds: dict[int, float], proxy_lines: list[str]) -> str:
    shipped = checkpoint.load(checkpoint.PRETRAINED)
    made, summary = shipped.get("provenance", {}), results["summary"]
    lines = ["| provenance | |", "|---|---|",
             f"| training command | `{made.get('command')}` |", f"| revision of the export | {made.get('revision')} |",
             f"| steps | {shipped['step']} of {shipped['train_config']['steps']} |",
             f"| training time | {made.get('train_seconds', 0) / 3600:.2f} CPU hours (one core of a 2-core CPU) |",
             f"| SynthFaces renderer | v{shipped['synth_version']} |",
             f"| weights | {checkpoint.PRETRAINED_FILE.stat().st_size / 2 ** 20:.1f} MiB, float16, SHA-256 "
             f"{results['sha256'][:16]}... |",
             f"| evaluation | `python -m lm3d.evaluate --checkpoint pretrained` ({results['faces_per_source']} test faces "
             f"per source, evaluation v{results['evaluation_version']}) |", "",
             "| target | goal | measured | |", "|---|---|---|---|"]
    for what, key, goal, side in TARGETS:
        value = summary.get(key)
        met = value is not None and (value <= goal if side == "below" else value >= goal)
        shown = "-" if value is None else f"{value:.2f}"
        lines.append(f"| {what} | {'≤' if side == 'below' else '≥'} {goal:g} | {shown} | {'met' if met else 'missed'} |")
    trained = results["pose"]["synth300w"]["focal_by_distance"]
    for mine, floor in zip(trained, prior):
        if mine["to"] <= NEAR_CM and mine["mean"] is not None and floor["mean"] is not None:
            met = mine["mean"] < floor["mean"]
            lines.append(f"| focal error, {mine['faces']} faces at {mine['from']:.0f}-{mine['to']:.0f} cm (abs. log ratio) "
                         f"| below the prior's {floor['mean']:.3f} | {mine['mean']:.3f} | {'met' if met else 'missed'} |")
    lines += ["", "Where the mean NME comes from: S's lost faces (its crop off the face) against the faces it found:", "",
              "| source | NME, every face | lost faces (%) | NME, faces not lost |", "|---|---|---|---|"]
    for source, values in results.get("localisation", {}).items():
        if values and values.get("nme_found") is not None:
            lines.append(f"| {source} | {results['sources'][source]['all']['nme']:.2f} | {values['lost_face_rate']:.2f} | "
                         f"{values['nme_found']:.2f} |")
    lines += ["", f"| single image, CPU ({torch.get_num_threads()} threads), `Detector.from_pretrained().predict` (ibug68) "
              "| median seconds |", "|---|---|"]
    lines += [f"| {size} x {size} px | {value:.3f} |" for size, value in seconds.items()]
    lines += ["", "Proxy check on real photos (`benchmarks/realism.py --proxy-only`):", "", "```text", *proxy_lines, "```",
              "", "Every summary key of the evaluation:", "", "| key | value |", "|---|---|"]
    lines += [f"| {key} | {value:.3f} |" for key, value in sorted(summary.items()) if isinstance(value, (int, float))]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="test faces per source")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports")
    args = parser.parse_args(argv)
    args.reports.mkdir(parents=True, exist_ok=True)
    results = metrics(args.count, args.reports / "pretrained_metrics.json")
    text = card(results, prior_focal_by_distance(args.count), latency(), proxy(args.reports / "pretrained_proxy.txt"))
    write_atomically(args.reports / "pretrained_card.md", lambda t: t.write_text(text))
    print(text)


if __name__ == "__main__":
    main()
