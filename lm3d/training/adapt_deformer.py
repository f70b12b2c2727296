"""A new dataset's convention for a trained model with D: fine-tune D alone.

    python -m lm3d.adapt_deformer --checkpoint runs/standard_full_seed0/checkpoint.pt --dataset mine \\
        --data my_faces.npz --out runs/full_mine            # your own annotated images
    python -m lm3d.adapt_deformer --checkpoint ... --dataset synthuser --synth synthuser --out ...   # SynthFaces

D's embedding table grows by one row for the new name and only that row is trained, from the landmark loss on the
new dataset's annotations; everything else (S, F, Q, P, γ and, unless ``--network-lr`` is given, D's network) stays
frozen, with the model in eval mode. So a new dataset costs one code of ``embedding_dim`` numbers, a few hundred
steps on a CPU, and every dataset the model knew (and ``dataset=None``) answers exactly as before. The new row
starts as the first training dataset's (the reference convention in the standard sources), so step 0 answers in
that convention.

``--root`` is a dataset folder (``--format`` 300w, wflw or folder: ``lm3d.io.datasets``), its photos framed alike
at the checkpoint's image size (``face_frames``). ``--data`` is an ``.npz`` with ``images`` (N,H,W,3) uint8,
``landmarks`` (N,K,2) pixels in ``--layout`` (default ibug68), and, for a model that crops around a face box,
``boxes`` (N,4) x0,y0,x1,y1; ``iod`` (N,) is optional (default: the distance of the layout's outer eye corners).
A random ``--holdout`` fraction of the faces (drawn with ``--split-seed``: a folder's files often come sorted by
subset or by person, so the last ones would not be a fair sample) is kept out of the fine-tuning and reports the
NME before and after; the held-out faces' indices are in the report.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..evaluation import metrics
from ..evaluation.conventions import offset_errors
from ..face import EYE_CORNERS, CanonicalFace, layouts
from ..inference.predict import predict_batches
from ..io.datasets import face_frames, load_dataset
from ..model import checkpoint
from ..synth import SynthFaces, sources
from .objective import landmark_loss, offset_penalty


def grow_deformer(model, name: str, start_from: str | None = None) -> int:
    """Give D a row for dataset ``name`` (a copy of ``start_from``'s, default the first dataset's); its index."""
    deformer = model.deformer
    if deformer is None:
        raise ValueError("this model has no query deformer D: train a variant with one (full, or "
                         "--set model.deformer=true) before adapting it to a new dataset")
    if name in deformer.datasets:
        raise ValueError(f"the model already knows dataset {name!r} ({', '.join(deformer.datasets)}); pick a new name")
    source = deformer.index([start_from or deformer.datasets[0]])[0]
    old = deformer.embedding.weight.data
    grown = torch.nn.Embedding(len(old) + 1, old.shape[1]).to(old)
    grown.weight.data[:-1] = old
    grown.weight.data[-1] = old[source]
    deformer.embedding = grown
    deformer.datasets = deformer.datasets + (name,)
    model.config = replace(model.config, datasets=deformer.datasets)
    return len(old)


def iod_from_landmarks(landmarks: torch.Tensor, layout: layouts.Layout) -> torch.Tensor:
    """(N,) the distance between the layout's points nearest the canonical outer eye corners (SynthFaces' IOD)."""
    face = CanonicalFace.load()
    points = layout.points(face)
    corners = [int((points - face.vertices[v]).norm(dim=-1).argmin()) for v in EYE_CORNERS]
    gap = min((points[c] - face.vertices[v]).norm().item() for c, v in zip(corners, EYE_CORNERS))
    if corners[0] == corners[1] or gap > 0.5:
        raise ValueError(f"layout {layout.name!r} has no outer eye corners; give the data an 'iod' array")
    return (landmarks[:, corners[0]] - landmarks[:, corners[1]]).norm(dim=-1)


def load_npz(path: Path, layout: layouts.Layout) -> dict:
    """A user's annotated images as tensors, checked: a clear error for each thing missing or malformed."""
    data = np.load(path)
    for key in ("images", "landmarks"):
        if key not in data:
            raise ValueError(f"{path} has no {key!r} array (it has {sorted(data.files)})")
    images, landmarks = data["images"], data["landmarks"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N,H,W,3), got {images.dtype} {images.shape}")
    if landmarks.shape != (len(images), len(layout), 2):
        raise ValueError(f"landmarks must be (N={len(images)}, K={len(layout)} for {layout.name}, 2), got {landmarks.shape}")
    out = {"image": torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
           "landmarks2d": torch.as_tensor(landmarks, dtype=torch.float32)}
    out["iod"] = (torch.as_tensor(data["iod"], dtype=torch.float32) if "iod" in data
                  else iod_from_landmarks(out["landmarks2d"], layout))
    if "boxes" in data:
        out["bbox"] = torch.as_tensor(data["boxes"], dtype=torch.float32)
    return out


def synth_faces(source: str, split: str, count: int, image_size: int, seed: int = 0, convention_scale: float = 1.0) -> dict:
    """A SynthFaces source as annotated images (its own convention, times ``convention_scale``, and annotation noise)."""
    data = SynthFaces(source, split, count, seed=seed, image_size=image_size, convention_scale=convention_scale)
    return data.render_all(("image", "landmarks2d", "iod", "bbox"))


def synth_faces_for(path: Path, source: str, count: int) -> tuple[dict, dict]:
    """``count`` training and ``count`` test faces of a SynthFaces source, at the image size and convention scale the
    checkpoint at ``path`` was trained with."""
    trained = checkpoint.load(path, kind=checkpoint.MODEL_KINDS)["train_config"]
    size, scale = trained["image_size"], trained.get("convention_scale", 1.0)
    train, test = (synth_faces(source, split, count, size, convention_scale=scale) for split in ("train", "test"))
    return train, test


def nme(model, faces: dict, queries: torch.Tensor, dataset: str | None) -> float:
    predicted = predict_batches(model, faces["image"], faces.get("bbox"), queries, dataset=dataset)["landmarks2d"]
    known = torch.isfinite(faces["landmarks2d"]).all(-1)  # a dataset's points that are not annotated (NaN) do not count
    return metrics.nme_per_face(predicted, torch.nan_to_num(faces["landmarks2d"]), faces["iod"], known).mean().item()


def adapt(model, name: str, faces: dict, layout: str = "ibug68", steps: int = 300, batch_size: int = 32,
          lr: float = 0.05, offset_weight: float = 0.01, seed: int = 0, network_lr: float | None = None) -> dict:
    """Fine-tune D's new row for ``name`` on ``faces`` (image, landmarks2d, iod and, for a box model, bbox) in place;
    returns the loss curve. The model's other weights are frozen and do not change. With ``network_lr``, D's network
    trains too, at that rate: it can then reach conventions no mix of the known codes gives, but every known dataset's
    answers move with it (the report's ``nme_before`` no longer holds for them)."""
    if model.needs_box and "bbox" not in faces:
        raise ValueError("this model crops around a face box: the data needs 'boxes' (N,4) x0,y0,x1,y1")
    for key in ("steps", "batch_size"):
        if not isinstance(locals()[key], int) or locals()[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {locals()[key]!r}")
    for key in ("lr", "network_lr"):
        if locals()[key] is not None and not 0 < locals()[key] < 10:
            raise ValueError(f"{key} must be in (0, 10), got {locals()[key]!r}")
    index = grow_deformer(model, name)
    device = next(model.parameters()).device
    trainable = {p: p.requires_grad for p in model.parameters()}
    model.eval().requires_grad_(False)
    table = model.deformer.embedding.weight
    table.requires_grad_(True)
    keep = torch.zeros(len(table), 1, device=device)
    keep[index] = 1.0
    hook = table.register_hook(lambda grad: grad * keep)  # only the new dataset's row learns
    groups = [{"params": [table], "lr": lr}]
    if network_lr is not None:
        network = list(model.deformer.mlp.parameters())
        for parameter in network:
            parameter.requires_grad_(True)
        groups.append({"params": network, "lr": network_lr})
    try:
        return {"loss": _fit(model, index, faces, layout, steps, batch_size, offset_weight, seed,
                             torch.optim.Adam(groups), device)}
    finally:  # the caller's model trains as before: no mask left on the table, its own requires_grad flags
        hook.remove()
        for parameter, flag in trainable.items():
            parameter.requires_grad_(flag)


def _fit(model, index: int, faces: dict, layout: str, steps: int, batch_size: int, offset_weight: float, seed: int,
         optimizer, device) -> list[float]:
    """The fine-tuning loop: batches of the new dataset, asked with its code; returns the loss per step."""
    queries = layouts.get(layout).points(CanonicalFace.load()).to(device)
    generator, curve = torch.Generator().manual_seed(seed), []
    for _ in range(steps):
        chosen = torch.randint(len(faces["image"]), (batch_size,), generator=generator)
        image, targets, iod = (faces[k][chosen].to(device) for k in ("image", "landmarks2d", "iod"))
        boxes = faces["bbox"][chosen].to(device) if model.needs_box else None
        codes = torch.full((batch_size,), index, dtype=torch.long, device=device)
        outputs = model(image, boxes, queries, codes)
        mask = torch.isfinite(targets).all(-1)  # points a dataset leaves unannotated (NaN) are not trained on
        targets = torch.nan_to_num(targets)
        loss = (landmark_loss(outputs["landmarks2d"].float(), targets, mask, iod, float(mask.sum()))
                + offset_weight * offset_penalty(outputs["query_offsets"], mask))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        curve.append(loss.item())
    return curve


def holdout_split(faces: dict, fraction: float, seed: int = 0) -> tuple[dict, dict, list[int]]:
    """(training faces, held-out faces, the held-out indices, sorted): a random ``fraction`` of ``faces`` (at least
    one face, and at least one left to train on), the same for the same seed."""
    count = len(faces["image"])
    if count < 2:
        raise ValueError(f"a holdout needs at least 2 faces, got {count}")
    held = min(count - 1, max(1, int(round(count * fraction))))
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    test_index, train_index = order[:held].sort().values, order[held:].sort().values
    return ({k: v[train_index] for k, v in faces.items()}, {k: v[test_index] for k, v in faces.items()},
            test_index.tolist())


def adapt_checkpoint(path: Path, dataset: str, train_faces: dict, test_faces: dict, out: Path, layout: str = "ibug68",
                     steps: int = 300, source: str | None = None, network_lr: float | None = None,
                     held_out: list[int] | None = None) -> dict:
    """Adapt the checkpoint at ``path`` to ``dataset``, write ``out/checkpoint.pt`` and ``out/adapt.json``; the report:
    NME on ``test_faces`` before (asked as each known dataset's code and with dataset=None) and after, and for a
    SynthFaces ``source`` D's new offsets against its true convention (``lm3d.evaluation.conventions.offset_errors``);
    ``held_out``: which of the user's faces the test faces are (kept in the report)."""
    saved = checkpoint.load(path, kind=checkpoint.MODEL_KINDS)
    model = checkpoint.load_model(path)
    queries = layouts.get(layout).points(CanonicalFace.load())
    known = (None,) + (model.deformer.datasets if model.deformer is not None else ())
    before = {str(name): nme(model, test_faces, queries, name) for name in known}
    curve = adapt(model, dataset, train_faces, layout, steps=steps, network_lr=network_lr)["loss"]
    report = {"dataset": dataset, "from": str(path), "steps": steps, "network_lr": network_lr,
              "train_faces": len(train_faces["image"]),
              "test_faces": len(test_faces["image"]), "held_out": held_out, "nme_before": before,
              "nme_after": nme(model, test_faces, queries, dataset), "loss_first": curve[0], "loss_last": curve[-1]}
    if source is not None:  # (against the conventions' size the model was trained with, as its faces were made)
        scale = saved["train_config"].get("convention_scale", 1.0)
        report["learned_vs_true_cm"] = offset_errors(model, source, scale, asked_as=dataset)
    payload = {**saved, "model_config": model.config.to_dict(), "model": model.state_dict(), "optimizer": None,
               "scheduler": None, "adapted": {"dataset": dataset, "from": str(path), "steps": steps, "network_lr": network_lr}}
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.save(out / "checkpoint.pt", payload)
    (out / "adapt.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Teach a model with D a new dataset's convention (D's new code only).")
    parser.add_argument("--checkpoint", type=Path, default=Path(checkpoint.PRETRAINED),
                        help="a model with D (default: the shipped weights, 'pretrained')")
    parser.add_argument("--dataset", required=True, help="the new dataset's name (what Detector.predict(dataset=) takes)")
    parser.add_argument("--data", type=Path, help="an .npz of images, landmarks (and boxes, iod)")
    parser.add_argument("--synth", help="instead: a SynthFaces source (e.g. synthuser), train split in, test split out")
    parser.add_argument("--root", type=Path, help="instead: a dataset folder (300-W, WFLW or your own; --format says which)")
    parser.add_argument("--format", default="folder", help="--root's dataset: 300w, wflw or folder (lm3d/assets/datasets.json)")
    parser.add_argument("--count", type=int, default=400, help="--synth: faces to fine-tune on (and to test on)")
    parser.add_argument("--layout", default="ibug68")
    parser.add_argument("--holdout", type=float, default=0.2, help="--data: the fraction kept out for the NME")
    parser.add_argument("--split-seed", type=int, default=0, help="--data / --root: the seed of the random holdout")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--network-lr", type=float, default=None,
                        help="also train D's network at this rate (reaches more conventions; moves the known datasets)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if sum(x is not None for x in (args.data, args.synth, args.root)) != 1:
        raise SystemExit("give one of --data FILE.npz, --synth SOURCE or --root FOLDER")
    if not args.synth and not 0 < args.holdout < 1:
        raise SystemExit(f"--holdout must be in (0, 1), got {args.holdout}")
    held_out = None
    if args.synth:
        layout = layouts.get(sources.get(args.synth).layout)
        train_faces, test_faces = synth_faces_for(args.checkpoint, args.synth, args.count)
    else:
        if args.root is not None:  # photos of any size: framed alike at the checkpoint's image size
            try:
                data = load_dataset(args.format, args.root, None if args.format != "folder" else args.layout)
            except (ValueError, FileNotFoundError) as error:
                raise SystemExit(str(error)) from None
            layout = layouts.get(data.layout)
            size = checkpoint.load(args.checkpoint, kind=checkpoint.MODEL_KINDS)["train_config"]["image_size"]
            faces = face_frames(data, size)
        else:
            layout = layouts.get(args.layout)
            faces = load_npz(args.data, layout)
        train_faces, test_faces, held_out = holdout_split(faces, args.holdout, args.split_seed)
    report = adapt_checkpoint(args.checkpoint, args.dataset, train_faces, test_faces, args.out, layout.name, args.steps,
                              source=args.synth, network_lr=args.network_lr, held_out=held_out)
    print(json.dumps(report, indent=1))
