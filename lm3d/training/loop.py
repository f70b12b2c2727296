"""The training loop: dataclass configs with presets, AdamW with warm-up and cosine decay, checkpoints and
resume, automatic device and mixed precision, and data-parallel training through torchrun.

    python -m lm3d.train --preset fast --out runs/fast                  # seconds, for CI
    python -m lm3d.train --preset standard --seed 1 --out runs/std1     # about 20 minutes on one core
    python -m lm3d.train --preset standard --variant s-similarity --out runs/s1   # S finds the face itself
    torchrun --nproc_per_node 2 -m lm3d.train --preset paper --out runs/paper

The configs (``TrainConfig``, the presets, ``configure``) live in ``lm3d.training.config``.
``--variant`` picks the rung of the ablation ladder (``lm3d.model.landmark_model.VARIANTS``) beside the size
preset. Variants with a spatial transformer S get no face box: S learns the crop from the landmark loss
alone, under the penalties of ``lm3d.training.objective``, and a face score from background-only frames.

Every step draws its batch (sources, samples, query subsets, box jitter) from a generator seeded
by (seed, step), so a run killed at any point and restarted from its last checkpoint sees the
same batches as an uninterrupted run. Under DDP every rank draws the same global batch and
takes its slice; the loss is normalised by the global number of points, so the averaged
gradients equal those of one process on the whole batch.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from ..evaluation import evaluate_checkpoint
from ..model import VARIANTS, ContinuousLandmarkModel, checkpoint, crop
from ..runtime import default_device, fast_mode, intra_op_threads, native_bfloat16
from ..synth import SYNTH_VERSION
from .augment import photometric
from .config import PRESETS, TrainConfig, configure, learning_rate_factor
from .data import MixedPool, render_negatives, render_pool, with_fitted_crops, with_negatives
from .localiser_pretraining import pretrain_localiser
from .objective import Objective, crop_diagnostics
from .validation import ValidationCurve

CHECKPOINT_NAME = "checkpoint.pt"


def _distributed() -> tuple[int, int]:
    """(rank, world size), initialising the process group when launched by torchrun."""
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device(rank: int) -> torch.device:
    device = default_device()
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device


def build_pool(config: TrainConfig, device: torch.device) -> MixedPool:
    render_device = "cuda" if device.type == "cuda" else "cpu"
    pools = [render_pool(name, "train", count, config.image_size, config.data_seed, config.cache_dir, render_device,
                         config.convention_scale) for name, count in zip(config.sources, config.train_counts)]
    return MixedPool(pools, list(config.source_weights), config.max_queries)


def _optimizer(model: ContinuousLandmarkModel, config: TrainConfig):
    """AdamW with warm-up and cosine decay; S's localiser in its own group, slower and optionally frozen at first."""
    located = list(model.spatial_transformer.parameters()) if model.spatial_transformer is not None else []
    ids = {id(p) for p in located}
    groups = [{"params": [p for p in model.parameters() if id(p) not in ids], "lr": config.lr}]
    schedules = [lambda s: learning_rate_factor(s, config)]
    if located:
        groups.append({"params": located, "lr": config.lr * config.localiser_lr_scale})
        schedules.append(lambda s: 0.0 if s < config.localiser_warmup_steps else learning_rate_factor(s, config))
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedules)


def crop_scale_range(pool: MixedPool, config: TrainConfig, slack: float = 1.25) -> tuple[float, float]:
    """The range of crop scales (half-size over L = max(W, H) / 2) that the training faces call for.

    From the 1st to the 99th percentile of the scale of a box crop around each training face, widened by
    ``slack``: a population statistic of the data, like a detector's anchor sizes; no image's box is a target.
    """
    boxes = torch.cat([p.data["bbox"] for p in pool.pools])
    half = crop.box_to_transform(boxes, config.model.crop_margin)[:, 0, 0]
    scales = half / (0.5 * config.image_size)
    low, high = torch.quantile(scales, torch.tensor([0.01, 0.99])).tolist()
    return low / slack, high * slack


def train(config: TrainConfig, out_dir: str | Path, progress: bool = True, stop_after: int | None = None) -> dict:
    """Train (resuming from ``out_dir/checkpoint.pt`` if present); returns a summary dict.

    ``stop_after`` ends the run after that many steps of this call, as an interruption would. The run uses
    ``config.threads`` intra-op threads, whatever the process had before (restored on return).
    """
    config.validate()
    with intra_op_threads(config.threads):
        return _train(config, Path(out_dir), progress, stop_after)


def _warn_if_bfloat16_is_emulated(config: TrainConfig, device: torch.device) -> None:
    asked = [name for name in ("feature_precision", "localiser_precision") if getattr(config.model, name) == "bfloat16"]
    if asked and not native_bfloat16(device):
        warnings.warn(f"{' and '.join(asked)}=bfloat16, which this {device.type} emulates: training runs several times "
                      f"slower (the standard preset: 7.5 times under AVX2 kernels, docs/results/regime.md); "
                      f"--set model.<field>=float32 trains at full speed, with slightly different numbers",
                      RuntimeWarning, stacklevel=3)


def _train(config: TrainConfig, out_dir: Path, progress: bool, stop_after: int | None) -> dict:
    rank, world = _distributed()
    device = _device(rank)
    torch.manual_seed(config.seed)
    model = ContinuousLandmarkModel(config.model).to(device)
    _warn_if_bfloat16_is_emulated(config, device)
    optimizer, scheduler = _optimizer(model, config)
    start = _resume(out_dir / CHECKPOINT_NAME, config, model, optimizer, scheduler)
    _truncate_log(out_dir / "log.jsonl", start)
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    pool = build_pool(config, device)
    with_s = not model.needs_box
    if with_s:
        render_device = "cuda" if device.type == "cuda" else "cpu"
        negatives = render_negatives(list(config.sources), config.negative_count, config.image_size, config.data_seed,
                                     render_device)
    scale_range = crop_scale_range(pool, config) if with_s else None
    objective = Objective(model, config, scale_range, world)
    if with_s and start == 0 and config.localiser_pretrain_steps:
        pretrain_localiser(model, config, pool, negatives, scale_range, device, progress and rank == 0)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the {world} processes")
    share = config.batch_size // world
    log = out_dir / "log.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    curve = ValidationCurve(config.curve_count, config.image_size) if config.curve_every and rank == 0 else None
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=not progress or rank != 0,
               desc="train", unit="step")
    last_time, seen, step = time.perf_counter(), 0, start - 1
    train_seconds = _logged_seconds(log)  # resumed runs count on from their log
    for step in bar:
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        batch = pool.batch(pool.sample(config.batch_size, generator), generator)
        if with_s:
            batch = with_negatives(batch, negatives, config.negative_fraction, generator)
            if config.fitted_crop_fraction:
                batch = with_fitted_crops(batch, model.template, config.fitted_crop_fraction, generator)
        if config.augment:
            batch["image"] = photometric(batch["image"], generator)
        normaliser = max(1.0, float(batch["mask"].sum()))
        local = {k: v[rank * share:(rank + 1) * share].to(device) for k, v in batch.items()}
        with amp:
            outputs = wrapped(local["image"], None if with_s else local["boxes"], local["queries"],
                              local["dataset"] if model.deformer is not None else None,
                              (local["fitted_chosen"], local["fitted_crop"]) if "fitted_crop" in local else None)
        terms = objective(outputs, local, normaliser)
        loss = sum(terms.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        seen += config.batch_size
        if rank == 0 and ((step + 1) % config.log_every == 0 or step + 1 == config.steps):
            now = time.perf_counter()
            train_seconds += now - last_time
            entry = {"step": step + 1, "loss": terms["landmarks"].item() / world, "lr": scheduler.get_last_lr()[0],
                     "images_per_s": seen / (now - last_time), "train_seconds": train_seconds}
            if with_s or model.camera_head is not None:
                entry.update(crop_diagnostics(outputs, local, terms, with_s))
            last_time, seen = now, 0
            with open(log, "a") as handle:
                handle.write(json.dumps(entry) + "\n")
            bar.set_postfix(loss=f"{entry['loss']:.4f}")
        if curve is not None and ((step + 1) % config.curve_every == 0 or step + 1 == config.steps):
            train_seconds += time.perf_counter() - last_time  # the steps since the last log line, then the pause
            with open(log, "a") as handle:
                handle.write(json.dumps({"step": step + 1, "val_nme": curve(model), "train_seconds": train_seconds}) + "\n")
            last_time, seen = time.perf_counter(), 0
        if rank == 0 and ((step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps):
            save_checkpoint(out_dir / CHECKPOINT_NAME, model, config, optimizer, scheduler, step + 1,
                            scale_range)
        if stop_after is not None and step + 1 - start >= stop_after:
            break
    if dist.is_initialized():
        dist.barrier()
    return {"steps_done": step + 1, "out_dir": str(out_dir), "rank": rank, "world": world}


def _logged_seconds(log: Path) -> float:
    """The training seconds of the last line of a (truncated) log that has them; 0 for a new run."""
    seconds = 0.0
    if log.exists():
        for line in log.read_text().splitlines():
            if line:
                seconds = json.loads(line).get("train_seconds", seconds)
    return seconds


def _truncate_log(log: Path, step: int) -> None:
    """Drop log lines past the checkpoint we resume from: those steps are about to run again."""
    if log.exists():
        lines = [line for line in log.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        log.write_text("".join(line + "\n" for line in lines))


def save_checkpoint(path: Path, model, config: TrainConfig, optimizer=None, scheduler=None, step: int = 0,
                    scale_range: tuple[float, float] | None = None) -> None:
    checkpoint.save(path, {
        "kind": "detector", "model_config": config.model.to_dict(), "train_config": config.to_dict(),
        "model": model.state_dict(), "step": step, "synth_version": SYNTH_VERSION,
        "scale_range": list(scale_range) if scale_range else None,  # S's training faces, for Detector's warnings
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
    })


def _resume(path: Path, config: TrainConfig, model, optimizer, scheduler) -> int:
    if not path.exists():
        return 0
    data = checkpoint.load(path, kind=checkpoint.MODEL_KINDS)
    saved = TrainConfig.from_dict(data["train_config"])
    # the step count may grow (train longer) and the cache folder may move; everything else must match
    # (the validation curve changes no weight either)
    if (replace(saved.what_matters(), steps=config.steps, cache_dir=None, curve_every=0, curve_count=1)
            != replace(config.what_matters(), cache_dir=None, curve_every=0, curve_count=1)):
        raise ValueError(f"{path} was written by a run with another config; use a new --out folder or delete it")
    if data.get("synth_version") != SYNTH_VERSION:  # the same config would now render other images
        raise ValueError(f"{path} was trained on SynthFaces renderer v{data.get('synth_version', '2 or older')}, "
                         f"this is v{SYNTH_VERSION}; use a new --out folder or delete it")
    model.load_state_dict(data["model"])
    optimizer.load_state_dict(data["optimizer"])
    scheduler.load_state_dict(data["scheduler"])
    return int(data["step"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Train a continuous landmark detector on SynthFaces.")
    parser.add_argument("--preset", default="fast" if fast_mode() else "standard", choices=sorted(PRESETS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variant", default="baseline", choices=sorted(VARIANTS),
                        help="baseline: external face box; s-similarity / s-affine: the spatial transformer finds the "
                             "face; crop-3d / s-3d: a 3D head (canonical points, pose, camera) on the box crop / on S; "
                             "full: S + 3D head + the query deformer D")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field, e.g. --set template_weight=0 --set model.localiser=regression")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    args = parser.parse_args(argv)
    settings = ({"steps": args.steps} if args.steps else {}) | dict(_setting(s) for s in args.set)
    config = configure(args.preset, args.variant, args.seed, settings)
    summary = train(config, args.out)
    if summary["rank"] == 0 and not args.no_eval:
        results = evaluate_checkpoint(args.out / CHECKPOINT_NAME, count=config.eval_count)
        (args.out / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(results["summary"], indent=1))
    if dist.is_initialized():
        dist.destroy_process_group()


def _setting(text: str) -> tuple[str, object]:
    """FIELD=VALUE with VALUE read as JSON when it parses (numbers, true/false), else as a string."""
    if "=" not in text:
        raise SystemExit(f"--set takes FIELD=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
