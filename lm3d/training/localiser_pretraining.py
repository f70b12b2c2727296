"""S's pre-phase: the localiser and its template learn to find faces before the detector trains on their crops.

Trained jointly from the first step, S starts at the whole frame and needs a thousand steps or more to frame the
faces; until then F, P and R learn from crops in which the face is small and anywhere, and at the end of the standard
schedule an S model's detector was still behind the baseline's on the same crops (docs/results/regime.md). A step of
S alone costs less than half of a joint step (no crop, no F: 2000 steps took about 4 minutes on one core of the
2-core CPU, docs/results/regime.md), so ``localiser_pretrain_steps`` steps of S alone come first: the same batches
and the same loss terms S has in joint training (its template's landmark loss, its penalties and its face score;
``Objective.spatial_transformer_terms``), its own AdamW with a warm-up and a cosine decay over the phase, and then
the joint schedule as before. S still learns from the landmarks only.

The phase runs only in a fresh run (a resumed run's checkpoint already holds its result); an interruption during it
loses at most the phase, which repeats exactly. Under data parallelism every process computes the whole batch, so
their weights agree without communication and match one process's.
"""
from __future__ import annotations

from dataclasses import replace

import torch
from tqdm import tqdm

from ..model import crop
from .config import TrainConfig, learning_rate_factor
from .data import MixedPool, with_negatives
from .objective import Objective

SEED_OFFSET = 2 ** 40  # the phase's batches are drawn from generators that the joint steps' seeds never reach


def pretrain_localiser(model, config: TrainConfig, pool: MixedPool, negatives: dict, scale_range: tuple[float, float],
                       device: torch.device, progress: bool = False) -> None:
    """Train S and its template alone for ``config.localiser_pretrain_steps`` steps."""
    steps = config.localiser_pretrain_steps
    parameters = [*model.spatial_transformer.parameters(), *model.template.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=config.lr * config.localiser_lr_scale, weight_decay=config.weight_decay)
    phase = replace(config, steps=steps, warmup_steps=min(config.warmup_steps, steps // 10))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: learning_rate_factor(s, phase))
    objective = Objective(model, config, scale_range, world=1)
    for step in tqdm(range(steps), desc="S alone", unit="step", disable=not progress):
        generator = torch.Generator().manual_seed(SEED_OFFSET + config.seed * 1_000_003 + step)
        batch = with_negatives(pool.batch(pool.sample(config.batch_size, generator), generator), negatives,
                               config.negative_fraction, generator)
        batch = {k: v.to(device) for k, v in batch.items()}
        located = model.locate(crop.normalise_images(batch["image"]), None)
        outputs = {**located, "template2d": model.template_points(batch["queries"], located["transform"])}
        terms = objective.spatial_transformer_terms(outputs, batch, max(1.0, float(batch["mask"].sum())))
        optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimizer.step()
        scheduler.step()
