"""Training: dataclass configs with presets, AdamW with warm-up and cosine decay, checkpoints and
resume, automatic device and mixed precision, and data-parallel training through torchrun.

    python -m lm3d.train --preset fast --out runs/fast                  # seconds, for CI
    python -m lm3d.train --preset standard --seed 1 --out runs/std1     # under 30 minutes on a 2-core CPU
    torchrun --nproc_per_node 2 -m lm3d.train --preset paper --out runs/paper

Every step draws its batch (sources, samples, query subsets, box jitter) from a generator seeded
by (seed, step), so a run killed at any point and restarted from its last checkpoint sees the
same batches as an uninterrupted run. Under DDP every rank draws the same global batch and
takes its slice; the loss is normalised by the global number of points, so the averaged
gradients equal those of one process on the whole batch.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from . import checkpoint
from .model import ContinuousLandmarkModel, ModelConfig
from .model.detector import check_ranges
from .runtime import default_device, fast_mode
from .synth import SYNTH_VERSION
from .training_data import MixedPool, render_pool

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    sources: tuple[str, ...] = ("synth300w", "synthwflw", "synthmpie", "synthdense")
    source_weights: tuple[float, ...] = (0.4, 0.25, 0.25, 0.1)
    train_counts: tuple[int, ...] = (4000, 2000, 2000, 800)
    image_size: int = 128
    steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    max_queries: int = 98
    seed: int = 0
    data_seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 25
    eval_count: int = 500
    cache_dir: str | None = "data/synthfaces"
    model: ModelConfig = field(default_factory=ModelConfig)

    def validate(self) -> "TrainConfig":
        n = len(self.sources)
        if not (len(self.source_weights) == len(self.train_counts) == n and n > 0):
            raise ValueError(f"sources, source_weights and train_counts need the same length, got "
                             f"{n}, {len(self.source_weights)}, {len(self.train_counts)}")
        checks = {"image_size": 32 <= self.image_size <= 1024, "steps": self.steps >= 1, "batch_size": self.batch_size >= 1,
                  "lr": 0 < self.lr < 1, "weight_decay": 0 <= self.weight_decay < 1, "warmup_steps": self.warmup_steps >= 0,
                  "max_queries": self.max_queries >= 1, "checkpoint_every": self.checkpoint_every >= 1,
                  "log_every": self.log_every >= 1, "eval_count": self.eval_count >= 0,
                  "train_counts": all(c >= 1 for c in self.train_counts), "seed": self.seed >= 0}
        check_ranges("training", self, checks)
        self.model.validate()
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["model"] = ModelConfig(**data.get("model", {}))
        for key in ("sources", "source_weights", "train_counts"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


PRESETS = {
    # CI: a few seconds on a 2-core CPU; proves the loop, not the accuracy
    "fast": TrainConfig(sources=("synth300w", "synthwflw", "synthdense"), source_weights=(0.5, 0.3, 0.2),
                        train_counts=(48, 32, 16), image_size=64, steps=12, batch_size=8, warmup_steps=2,
                        checkpoint_every=6, log_every=4, eval_count=16, cache_dir=None,
                        model=ModelConfig(crop_size=48, width=8, feature_dim=32, query_dim=32, hidden=32, layers=2)),
    # a 2-core CPU in under 30 minutes
    "standard": TrainConfig(model=ModelConfig(crop_size=96, width=16, feature_dim=192, query_dim=96, hidden=192)),
    # one GPU: larger images, model and schedule
    "paper": TrainConfig(train_counts=(40000, 20000, 20000, 8000), image_size=256, steps=40000, batch_size=128,
                         lr=1e-3, warmup_steps=1000, checkpoint_every=2000, log_every=100, eval_count=2000,
                         model=ModelConfig(crop_size=160, width=48, feature_dim=384, query_dim=128, hidden=384)),
}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides).validate()


def learning_rate_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at the last step."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def landmark_loss(predicted, targets, mask, iod, normaliser: float) -> torch.Tensor:
    """Sum over annotated points of the L1 pixel error over the face's IOD, divided by ``normaliser``."""
    per_point = (predicted - targets).abs().sum(-1) / iod[:, None]
    return (per_point * mask).sum() / normaliser


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
    pools = [render_pool(name, "train", count, config.image_size, config.data_seed, config.cache_dir, render_device)
             for name, count in zip(config.sources, config.train_counts)]
    return MixedPool(pools, list(config.source_weights), config.max_queries)


def train(config: TrainConfig, out_dir: str | Path, progress: bool = True, stop_after: int | None = None) -> dict:
    """Train (resuming from ``out_dir/checkpoint.pt`` if present); returns a summary dict.

    ``stop_after`` ends the run after that many steps of this call, as an interruption would.
    """
    config.validate()
    rank, world = _distributed()
    device = _device(rank)
    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    model = ContinuousLandmarkModel(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: learning_rate_factor(s, config))
    start = _resume(out_dir / CHECKPOINT_NAME, config, model, optimizer, scheduler)
    _truncate_log(out_dir / "log.jsonl", start)
    wrapped = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    pool = build_pool(config, device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    if config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} must be divisible by the {world} processes")
    share = config.batch_size // world
    log = out_dir / "log.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=not progress or rank != 0,
               desc="train", unit="step")
    last_time, seen, step = time.perf_counter(), 0, start - 1
    for step in bar:
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        batch = pool.batch(pool.sample(config.batch_size, generator), generator)
        normaliser = float(batch["mask"].sum())
        local = {k: v[rank * share:(rank + 1) * share].to(device) for k, v in batch.items()}
        with amp:
            predicted = wrapped(local["image"], local["boxes"], local["queries"])["landmarks2d"]
        loss = landmark_loss(predicted.float(), local["targets"], local["mask"], local["iod"], normaliser) * world
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        seen += config.batch_size
        if rank == 0 and ((step + 1) % config.log_every == 0 or step + 1 == config.steps):
            now = time.perf_counter()
            entry = {"step": step + 1, "loss": loss.item() / world, "lr": scheduler.get_last_lr()[0],
                     "images_per_s": seen / (now - last_time)}
            last_time, seen = now, 0
            with open(log, "a") as handle:
                handle.write(json.dumps(entry) + "\n")
            bar.set_postfix(loss=f"{entry['loss']:.4f}")
        if rank == 0 and ((step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps):
            save_checkpoint(out_dir / CHECKPOINT_NAME, model, config, optimizer, scheduler, step + 1)
        if stop_after is not None and step + 1 - start >= stop_after:
            break
    if dist.is_initialized():
        dist.barrier()
    return {"steps_done": step + 1, "out_dir": str(out_dir), "rank": rank, "world": world}


def _truncate_log(log: Path, step: int) -> None:
    """Drop log lines past the checkpoint we resume from: those steps are about to run again."""
    if log.exists():
        lines = [line for line in log.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        log.write_text("".join(line + "\n" for line in lines))


def save_checkpoint(path: Path, model, config: TrainConfig, optimizer=None, scheduler=None, step: int = 0) -> None:
    checkpoint.save(path, {
        "kind": "baseline", "model_config": config.model.to_dict(), "train_config": config.to_dict(),
        "model": model.state_dict(), "step": step, "synth_version": SYNTH_VERSION,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
    })


def _resume(path: Path, config: TrainConfig, model, optimizer, scheduler) -> int:
    if not path.exists():
        return 0
    data = checkpoint.load(path, kind="baseline")
    saved = TrainConfig.from_dict(data["train_config"])
    # the step count may grow (train longer) and the cache folder may move; everything else must match
    if replace(saved, steps=config.steps, cache_dir=None) != replace(config, cache_dir=None):
        raise ValueError(f"{path} was written by a run with another config; use a new --out folder or delete it")
    if data.get("synth_version") != SYNTH_VERSION:  # the same config would now render other images
        raise ValueError(f"{path} was trained on SynthFaces renderer v{data.get('synth_version', '2 or older')}, "
                         f"this is v{SYNTH_VERSION}; use a new --out folder or delete it")
    model.load_state_dict(data["model"])
    optimizer.load_state_dict(data["optimizer"])
    scheduler.load_state_dict(data["scheduler"])
    return int(data["step"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Train the continuous landmark baseline on SynthFaces.")
    parser.add_argument("--preset", default="fast" if fast_mode() else "standard", choices=sorted(PRESETS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    args = parser.parse_args(argv)
    overrides = {"seed": args.seed} | ({"steps": args.steps} if args.steps else {})
    config = preset(args.preset, **overrides)
    summary = train(config, args.out)
    if summary["rank"] == 0 and not args.no_eval:
        from .evaluate import evaluate_checkpoint

        results = evaluate_checkpoint(args.out / CHECKPOINT_NAME, count=config.eval_count)
        (args.out / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(results["summary"], indent=1))
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
