"""How much of an S model's error its crops cause: the same detector on different crops of the same test faces.

Rows: the model as it answers (S's crop, then its re-crops if its config has them); S's own crop with 0, 1, 2 and 3
re-crops (``ModelConfig.recrop``); the *fitted* crop, where S's template best fits the true landmarks (the crop S is
trained towards: the best it could give); and that crop moved by noise of a given size (centre in crop half-sizes,
log-scale, and rotation in radians, the same sigma each). With ``--detector OTHER.pt`` another model's detector
(F, P, R, its head) reads the same crops, to tell a weaker detector from a worse crop. It also prints how far S's
crop sits from the fitted one.

    .venv/bin/python benchmarks/crop_quality.py runs/standard_s-similarity_seed0/checkpoint.pt --count 300
    .venv/bin/python benchmarks/crop_quality.py S.pt --detector runs/standard_baseline_seed0/checkpoint.pt

NME on ``ibug68``'s points (% IOD): mean, median and 90th percentile, since a few lost faces make most of an S
model's mean. The test faces and the noise are fixed by their seeds, so two runs print the same numbers.
"""
from __future__ import annotations

import argparse

import torch

from lm3d import CanonicalFace, layouts
from lm3d.evaluation import metrics, test_faces
from lm3d.model import checkpoint, load_model
from lm3d.model import crop as crops
from lm3d.runtime import intra_op_threads

BATCH = 50


def read(detector, images: torch.Tensor, transforms: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """(N,K,2) image points that ``detector`` reads from the crops ``transforms`` (N,2,3), in batches."""
    with torch.no_grad():
        return torch.cat([detector.read_face(crops.normalise_images(images[i:i + BATCH]), transforms[i:i + BATCH],
                                             queries)["landmarks2d"].float() for i in range(0, len(images), BATCH)])


def s_crops(model, images: torch.Tensor, recrops: int) -> torch.Tensor:
    """S's crops (N,2,3) of ``images``, after ``recrops`` re-crops."""
    with torch.no_grad():
        out = []
        for i in range(0, len(images), BATCH):
            normalised = crops.normalise_images(images[i:i + BATCH])
            transform = model.locate(normalised, None)["transform"]
            for _ in range(recrops):
                transform = model.recrop(normalised, transform)
            out.append(transform)
        return torch.cat(out)


def summary(name: str, predicted: torch.Tensor, faces: dict) -> str:
    nme = metrics.nme_per_face(predicted, faces["landmarks2d"], faces["iod"])
    return f"{name:44s} mean {nme.mean():6.2f}  median {nme.median():5.2f}  90 % {nme.quantile(0.9):6.2f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a model with S")
    parser.add_argument("--detector", help="another model's checkpoint whose detector reads the same crops")
    parser.add_argument("--source", default="synth300w")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--noise", type=float, nargs="*", default=[0.03, 0.06, 0.1])
    args = parser.parse_args(argv)
    trained = checkpoint.load(args.checkpoint, kind=checkpoint.MODEL_KINDS)["train_config"]
    with intra_op_threads(trained.get("threads", 0)):
        model = load_model(args.checkpoint, "cpu")
        if model.needs_box:
            raise SystemExit(f"{args.checkpoint} crops around a face box; this benchmark is about S's crops")
        detectors = {"its own detector": model}
        if args.detector:
            detectors[f"the detector of {args.detector}"] = load_model(args.detector, "cpu")
        faces = test_faces(args.source, args.count, trained["image_size"])
        queries = layouts.get("ibug68").points(CanonicalFace.load())
        template = model.template(queries).detach().expand(len(faces["image"]), -1, -1)
        fitted = crops.fit_similarity(template, faces["landmarks2d"].float())
        own = {recrops: s_crops(model, faces["image"], recrops) for recrops in range(4)}
        rows = {f"S's crop, {r} re-crop(s)" + (" (as configured)" if r == model.config.recrop else ""): transform
                for r, transform in own.items()}
        rows["the fitted crop (S's best)"] = fitted
        for sd in args.noise:
            noise = torch.Generator().manual_seed(0)
            rows[f"the fitted crop, noise {sd}"] = crops.jitter_transforms(fitted, noise, sd, sd, sd)
        print(f"{args.source}, {len(fitted)} test faces at {trained['image_size']} px; NME (% IOD) of ibug68's points")
        for name, detector in detectors.items():
            print(f"-- {name}")
            for label, transform in rows.items():
                print(summary(label, read(detector, faces["image"], transform, queries), faces))
    face_size = (faces["bbox"][:, 2:] - faces["bbox"][:, :2]).max(-1).values
    for r in (0, model.config.recrop) if model.config.recrop else (0,):
        centre = (own[r][:, :, 2] - fitted[:, :, 2]).norm(dim=-1) / face_size
        scale = (own[r][:, :, :2].det().abs().sqrt() / fitted[:, :, :2].det().abs().sqrt()).log().abs()
        angle = torch.rad2deg(torch.atan2(own[r][:, 1, 0], own[r][:, 0, 0]) - torch.atan2(fitted[:, 1, 0], fitted[:, 0, 0]))
        print(f"S's crop with {r} re-crop(s) against the fitted crop, median / 90 %: centre "
              f"{centre.median():.3f} / {centre.quantile(0.9):.3f} face sizes, |log scale| {scale.median():.3f} / "
              f"{scale.quantile(0.9):.3f}, |rotation| {angle.abs().median():.1f} / {angle.abs().quantile(0.9):.1f} degrees")


if __name__ == "__main__":
    main()
