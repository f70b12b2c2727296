"""Which test faces a model's crop loses: their sizes against the test set's, and how sure S was of a face.

It also prints the NME's median beside its mean (a few lost faces make most of an S model's mean) and how S's
crops sit against the box crop of the true face: their size ratio and their centre's offset in face sizes.

    .venv/bin/python benchmarks/lost_faces.py runs/standard_s-similarity_seed0/checkpoint.pt --count 500

The lost-face test is the evaluation's (``lm3d.evaluation.landmarks.lost_faces``); this script says *which* faces
are lost, to tell a localiser that cannot see small faces from one that is drawn to something else.
"""
from __future__ import annotations

import argparse

import torch

from lm3d import CanonicalFace, layouts
from lm3d.evaluation import metrics, test_faces
from lm3d.evaluation.landmarks import crop_placement, lost_faces
from lm3d.inference import face_boxes, predict_batches
from lm3d.model import checkpoint, load_model
from lm3d.runtime import intra_op_threads


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--source", default="synth300w")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args(argv)
    trained = checkpoint.load(args.checkpoint, kind=checkpoint.MODEL_KINDS)["train_config"]
    with intra_op_threads(trained.get("threads", 0)):
        model = load_model(args.checkpoint, "cpu")
        faces = test_faces(args.source, args.count, trained["image_size"])
        boxes = face_boxes("simulated", faces["image"], faces["bbox"])[0] if model.needs_box else None
        queries = layouts.get("ibug68").points(CanonicalFace.load())
        predicted = predict_batches(model, faces["image"], boxes, queries)
    lost = lost_faces(predicted["transform"], faces["bbox"], model.config.crop_margin)
    size = (faces["bbox"][:, 2:] - faces["bbox"][:, :2]).max(-1).values
    nme = metrics.nme_per_face(predicted["landmarks2d"], faces["landmarks2d"], faces["iod"])
    ratio, offset = crop_placement(predicted["transform"], faces["bbox"], model.config.crop_margin)
    levels = torch.tensor([0.1, 0.5, 0.9])
    quartiles = torch.quantile(size, torch.tensor([0.25, 0.5, 0.75]))
    print(f"{args.source}, {len(lost)} test faces at {trained['image_size']} px: {int(lost.sum())} lost "
          f"({100 * lost.float().mean():.1f} %)")
    print(f"NME median {nme.median():.2f}, mean {nme.mean():.2f}")
    print("crop size over the true box crop's, 10/50/90 %: "
          + ", ".join(f"{q:.2f}" for q in torch.quantile(ratio, levels).tolist()))
    print("crop centre's offset from it in face sizes, 10/50/90 %: "
          + ", ".join(f"{q:.3f}" for q in torch.quantile(offset, levels).tolist()))
    print("face size (box's longer side, px) quartiles of the test set: "
          + ", ".join(f"{q:.0f}" for q in quartiles.tolist()))
    if lost.any():
        quarter = torch.bucketize(size[lost], quartiles)
        print("lost faces per size quarter (smallest first): " + ", ".join(str(int((quarter == i).sum())) for i in range(4)))
        print(f"challenging among the lost: {int(faces['challenging'][lost].sum())}")
        if predicted["face_score"] is not None:
            print("S's face score on the lost faces: " + ", ".join(f"{s:.2f}" for s in predicted["face_score"][lost].tolist()))


if __name__ == "__main__":
    main()
