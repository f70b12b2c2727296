"""The 3D head's side benefits against SynthFaces' exact truth: the dense face and texture completion, as tables.

    .venv/bin/python benchmarks/applications.py --checkpoint pretrained --count 50 --out reports/applications.json

``lm3d.evaluation.applications.evaluate_applications`` on one checkpoint with a 3D head (``pretrained`` names the
shipped weights): the dense 3D NME of every mesh vertex beside the template's, and the PSNR of completed textures
against the render-consistent texture truth, the model's geometry beside the true one (the oracle), one frame beside
a clip's frames fused. It prints markdown tables and writes the full JSON (with per-face dense NMEs) to ``--out``.
The test faces and clips are fixed by ``--seed``, so two runs print the same numbers.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lm3d.evaluation.applications import CLIP_LENGTH, TEXTURE_SIZE, evaluate_applications
from lm3d.model import checkpoint, load_model
from lm3d.runtime import intra_op_threads, write_atomically


def dense_table(result: dict) -> str:
    dense = result["dense"]
    return "\n".join([
        "| dense face (468 vertices) | 3D NME % (mean) | median | template (floor) | faces beating the template % |",
        "|---|---|---|---|---|",
        f"| {result['source']}, {result['faces']} faces | {dense['nme3d']:.2f} | {dense['nme3d_median']:.2f} | "
        f"{dense['template_nme3d']:.2f} | {dense['beats_template']:.0f} |"])


def _db(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def texture_table(texture: dict) -> str:
    """One row per (setting, geometry): PSNR (dB) observed, mirror-filled, flat fill, mirrored truth; shares (%)."""
    rows = ["| texture | geometry | observed dB | filled dB | flat fill dB | mirrored truth dB | observed % | filled % |"
            " unknown % |", "|---|---|---|---|---|---|---|---|---|"]
    settings = [("one test face", texture["single"])]
    if "clips" in texture:
        clips = texture["clips"]
        for kind in ("single", "fused"):
            name = "clip, one frame" if kind == "single" else f"clip, {clips['frames']} frames fused"
            settings.append((name, {who: clips[who][kind] for who in ("model", "oracle")}))
    for name, by_geometry in settings:
        for who in ("model", "oracle"):
            s = by_geometry[who]
            rows.append(f"| {name} | {who} | {_db(s['observed_psnr'])} | {_db(s['filled_psnr'])} | "
                        f"{_db(s['flat_fill_psnr'])} | {_db(s['mirrored_truth_psnr'])} | {s['observed_percent']:.1f} | "
                        f"{s['filled_percent']:.1f} | {s['unknown_percent']:.1f} |")
    return "\n".join(rows)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a checkpoint with a 3D head, or 'pretrained'")
    parser.add_argument("--count", type=int, default=50, help="test faces (default 50)")
    parser.add_argument("--source", default="synth300w")
    parser.add_argument("--clips", type=int, default=8, help="moving clips for the fused textures (0: none)")
    parser.add_argument("--frames", type=int, default=8, help=f"frames of each {CLIP_LENGTH}-frame clip, evenly spaced")
    parser.add_argument("--texture-size", type=int, default=TEXTURE_SIZE, help="texels a side")
    parser.add_argument("--boxes", default="simulated", help="a box model's face boxes: simulated, lbp or file:PATH")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the full result as JSON here")
    args = parser.parse_args(argv)
    path = checkpoint.resolve(args.checkpoint)
    image_size = checkpoint.load(path)["train_config"]["image_size"]
    start = time.perf_counter()
    with intra_op_threads(args.threads):
        result = evaluate_applications(load_model(path, "cpu"), args.source, args.count, image_size, args.seed,
                                       args.boxes, args.clips, args.frames, args.texture_size)
    result.update(checkpoint=str(args.checkpoint), image_size=image_size, seconds=time.perf_counter() - start)
    print(f"\n{args.checkpoint}: {result['faces']} {args.source} test faces at {image_size} px "
          f"({result['found_percent']:.0f} % found), {args.clips} clips; {result['seconds']:.0f} s\n")
    if "dense" in result:
        print(dense_table(result) + "\n")
        print(f"textures at {args.texture_size} x {args.texture_size} texels, PSNR against the render-consistent "
              "texture truth (lm3d.synth.uv_truth); oracle: the true shape, pose and camera\n")
        print(texture_table(result["texture"]))
    if args.out:
        write_atomically(args.out, lambda temporary: temporary.write_text(json.dumps(result, indent=1)))
    return result


if __name__ == "__main__":
    main()
