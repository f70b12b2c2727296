"""Cached SynthFaces shards: files of rendered samples, written atomically, read safely.

A shard is a ``torch.save`` of a dict of tensors and lists of strings (loadable with
``weights_only=True``), holding ``count`` consecutive samples of one (source, split, seed,
image_size) from index ``start``. ``data_scripts/make_synthfaces.py`` writes them; ``ShardDataset``
reads a folder of them as one map-style dataset.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from ..runtime import write_atomically
from . import sources
from .render import SYNTH_VERSION, SynthFaces

SHARD_FORMAT = "lm3d.synthfaces_shard/1"


def shard_name(index: int) -> str:
    return f"shard_{index:05d}.pt"


def write_shard(path: Path, batch: dict, meta: dict) -> None:
    """Write atomically: a crash leaves either the old file or the complete new one."""
    path = Path(path)
    payload = {"format": SHARD_FORMAT, **meta,
               **{k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}}
    write_atomically(path, lambda temporary: torch.save(payload, temporary))  # two processes may write one shard


def read_shard(path: Path) -> dict:
    """Load a shard safely (no arbitrary unpickling) and check that it is one."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise ValueError(f"{path} is not a readable SynthFaces shard ({type(error).__name__}: {error}); "
                         "delete it and rerun data_scripts/make_synthfaces.py") from None
    if not isinstance(data, dict) or data.get("format") != SHARD_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path} is not a SynthFaces shard (format {found!r})")
    return data


class ShardDataset(Dataset):
    """All shards of one folder as a map-style dataset of per-sample dicts."""

    def __init__(self, folder: str | Path):
        self.paths = sorted(Path(folder).glob("shard_*.pt"))
        if not self.paths:
            raise FileNotFoundError(f"no shards in {folder}; make them with data_scripts/make_synthfaces.py")
        self.shards = [read_shard(p) for p in self.paths]
        self.offsets = [0]
        for shard in self.shards:
            self.offsets.append(self.offsets[-1] + len(shard["image"]))

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        shard = next(s for s in range(len(self.shards)) if self.offsets[s + 1] > index)
        data, i = self.shards[shard], index - self.offsets[shard]
        return {k: v[i] if isinstance(v, (torch.Tensor, list)) else v for k, v in data.items()}


def shard_folder(out: Path, source: str, split: str, seed: int, image_size: int, convention_scale: float = 1.0) -> Path:
    """One folder per (source, split, seed, size, convention scale) and renderer version: a changed renderer
    never reuses shards rendered by an older one, nor a scaled convention another's labels (a source without a
    convention has the same labels at every scale)."""
    scaled = "" if convention_scale == 1 or not sources.get(source).convention else f"_conv{convention_scale:g}x"
    return out / f"{source}_{split}_seed{seed}_{image_size}px{scaled}_v{SYNTH_VERSION}"


def make_shards(source: str, split: str, count: int, out: Path, shard_size: int = 256, seed: int = 0,
                image_size: int = 256, device: str = "cpu", progress: bool = True, convention_scale: float = 1.0) -> Path:
    if not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size!r}")
    data = SynthFaces(source, split, count, seed=seed, image_size=image_size, convention_scale=convention_scale)
    folder = shard_folder(Path(out), source, split, seed, image_size, data.convention_scale)
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, count, shard_size)
    for number, start in enumerate(tqdm(starts, desc=f"{source}/{split}", unit="shard", disable=not progress)):
        path = folder / shard_name(number)
        stop = min(start + shard_size, count)
        if path.exists():
            try:
                existing = read_shard(path)
                if existing["start"] == start and len(existing["image"]) == stop - start:
                    continue  # finished in an earlier run
            except ValueError:
                pass  # unreadable: render it again
        with torch.no_grad():
            batch = data.render(list(range(start, stop)), device=device)
        write_shard(path, batch, {"start": start, "source_name": source, "split": split, "seed": seed,
                                  "image_size": image_size, "convention_scale": data.convention_scale})
    return folder


def load_all(folder: Path) -> dict:
    """Every shard of a folder concatenated: tensors stacked along the sample axis."""
    shards = [read_shard(p) for p in sorted(Path(folder).glob("shard_*.pt"))]
    if not shards:
        raise FileNotFoundError(f"no shards in {folder}")
    return {k: torch.cat([s[k] for s in shards]) for k, v in shards[0].items() if isinstance(v, torch.Tensor)}
