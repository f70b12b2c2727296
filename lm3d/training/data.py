"""In-memory pools of rendered SynthFaces samples, and mixed-source batches for training.

Rendering costs about as much as a training step on a CPU, so each (source, split) is rendered
once, cached as shards under ``cache_dir`` (reused by every seed and run), and held in memory.
A batch mixes sources: each sample brings its own queries, the **nominal** canonical points of
its source's layout (what a user would ask for), and its own targets, the source's annotations
(which follow the source's convention and carry its annotation noise). Samples with more than
``max_queries`` points (the dense source) train on a random subset each step, so batches pad to
a small K and the model also learns points between layout points.

Models with a spatial transformer also see background-only frames (``render_negatives``, mixed in by
``with_negatives``): the negatives of their face score.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..face import CanonicalFace, layouts
from ..model import crop
from ..synth import SynthFaces, sources
from ..synth.shards import load_all, make_shards, shard_folder

KEYS = ("image", "landmarks2d", "iod", "bbox", "visible", "challenging")
NEGATIVE_SEED_OFFSET = 7_000_003  # background-only frames draw scenes the face samples never use


@dataclass
class SourcePool:
    name: str
    queries: torch.Tensor  # (K,3) nominal canonical points of the source's layout
    data: dict  # KEYS -> tensors with N rows

    def __len__(self) -> int:
        return len(self.data["image"])


def render_pool(name: str, split: str, count: int, image_size: int, seed: int, cache_dir: str | Path | None,
                device: str = "cpu", convention_scale: float = 1.0) -> SourcePool:
    """Render (or load from the shard cache) ``count`` samples of one source."""
    if cache_dir is None:
        data = SynthFaces(name, split, count, seed=seed, image_size=image_size, convention_scale=convention_scale)
        tensors = data.render_all(KEYS, device)
    else:
        make_shards(name, split, count, Path(cache_dir), seed=seed, image_size=image_size, device=device,
                    progress=False, convention_scale=convention_scale)
        tensors = load_all(shard_folder(Path(cache_dir), name, split, seed, image_size, convention_scale))
        tensors = {k: tensors[k][:count] for k in KEYS}
    layout = layouts.get(sources.get(name).layout)
    return SourcePool(name, layout.points(CanonicalFace.load()), tensors)


class MixedPool:
    """Several source pools sampled with weights into padded, mixed batches."""

    def __init__(self, pools: list[SourcePool], weights: list[float] | None = None, max_queries: int = 98):
        if not pools:
            raise ValueError("a pool needs at least one source")
        self.pools = pools
        weights = torch.tensor(weights if weights is not None else [1.0] * len(pools), dtype=torch.float64)
        if len(weights) != len(pools) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"source weights {weights.tolist()} must be {len(pools)} non-negative numbers, not all 0")
        self.weights = weights / weights.sum()
        self.max_queries = max_queries

    def sample(self, batch_size: int, generator: torch.Generator) -> list[tuple[int, int]]:
        """(pool, index) pairs for one batch, drawn with the given generator (deterministic)."""
        chosen = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)
        return [(int(p), int(torch.randint(len(self.pools[p]), (1,), generator=generator))) for p in chosen]

    def batch(self, picks: list[tuple[int, int]], generator: torch.Generator, jitter_boxes: bool = True) -> dict:
        """Padded tensors for the picked samples: images, boxes, queries, targets, mask, iod."""
        rows = []
        for p, i in picks:
            pool = self.pools[p]
            k = len(pool.queries)
            keep = (torch.randperm(k, generator=generator)[:self.max_queries].sort().values
                    if k > self.max_queries else torch.arange(k))
            rows.append((pool, i, keep))
        size = max(len(keep) for _, _, keep in rows)
        out = {"queries": torch.zeros(len(rows), size, 3), "targets": torch.zeros(len(rows), size, 2),
               "mask": torch.zeros(len(rows), size, dtype=torch.bool)}
        for r, (pool, i, keep) in enumerate(rows):
            out["queries"][r, :len(keep)] = pool.queries[keep]
            out["targets"][r, :len(keep)] = pool.data["landmarks2d"][i][keep]
            out["mask"][r, :len(keep)] = True
        out["dataset"] = torch.tensor([p + 1 for p, _ in picks])  # D's index: the pool's position + 1 (0: canonical)
        out["image"] = torch.stack([pool.data["image"][i] for pool, i, _ in rows])
        out["iod"] = torch.stack([pool.data["iod"][i] for pool, i, _ in rows])
        boxes = torch.stack([pool.data["bbox"][i] for pool, i, _ in rows])
        out["boxes"] = crop.jitter_boxes(boxes, generator) if jitter_boxes else boxes
        return out


def with_fitted_crops(batch: dict, template, fraction: float, generator: torch.Generator) -> dict:
    """Add ``fitted_chosen`` (B,) and ``fitted_crop`` (B,2,3): for a ``fraction`` of the faces, the crop where S's
    ``template`` (queries -> normalised crop points) best fits the true landmarks, moved by a good first pass's
    noise (``crop.jitter_transforms``).

    These are the crops a re-crop pass (``ModelConfig.recrop``) gives the detector at inference, tighter than S's
    own; trained on some of them, the detector learns to read them. They are the detector's inputs only: S still
    learns from its template alone.
    """
    faces = batch["mask"].any(1)  # negatives have no point to fit: never picked
    chosen = (torch.rand(len(faces), generator=generator) < fraction) & faces
    with torch.no_grad():
        fitted = crop.fit_similarity(template(batch["queries"]), batch["targets"], batch["mask"])
    return {**batch, "fitted_chosen": chosen, "fitted_crop": crop.jitter_transforms(fitted, generator)}


def render_negatives(names: list[str], count: int, image_size: int, seed: int, device: str = "cpu") -> torch.Tensor:
    """uint8 (count,3,S,S) background-only frames drawn from the training sources in turn (no face, no head)."""
    per_source = [count // len(names) + (i < count % len(names)) for i in range(len(names))]
    images = []
    for name, n in zip(names, per_source):
        data = SynthFaces(name, "train", max(n, 1), seed=seed + NEGATIVE_SEED_OFFSET, image_size=image_size)
        images += [data.render_backgrounds(list(range(s, min(s + 128, n))), device).cpu() for s in range(0, n, 128)]
    return torch.cat(images) if images else torch.zeros(0, 3, image_size, image_size, dtype=torch.uint8)


def with_negatives(batch: dict, negatives: torch.Tensor, fraction: float, generator: torch.Generator) -> dict:
    """Replace the last ``fraction`` of a batch by background-only frames; add ``is_face`` (B,).

    Negatives carry no annotated point (mask all False), so they train only the face score.
    """
    size = len(batch["image"])
    count = min(size - 1, round(fraction * size)) if len(negatives) else 0
    out = {k: v.clone() for k, v in batch.items()}
    out["is_face"] = torch.ones(size)
    if count:
        chosen = torch.randint(len(negatives), (count,), generator=generator)
        out["image"][size - count:] = negatives[chosen]
        out["mask"][size - count:] = False
        out["targets"][size - count:] = 0
        out["is_face"][size - count:] = 0
    return out
