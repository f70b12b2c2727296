"""D, the query deformer: each dataset's annotation convention as a learned move of the query over the face.

Datasets label "the same" landmark differently (brows on their upper edge or their middle, jaw points spaced
otherwise). D(Q(p), e_j) -> Δp moves a query p to where dataset j's annotators put it, p~ = p + Δp, before
Q and P see it, so P learns one consistent meaning instead of the datasets' average. It is trained alongside,
from the landmark loss alone, with a small L2 on Δp (``lm3d.training.objective``).

* Datasets are named, in the order the model was trained on them (``ModelConfig.datasets``, from the training
  sources); ``dataset=None`` is the canonical (reference) semantics and gets Δp = 0 exactly.
* Δp is mostly along the surface: its component along the face's normal at p is scaled by
  ``NORMAL_FRACTION``, so D slides queries over the face far more readily than it lifts them off it (conventions
  disagree along contours: method_anchors §3). The normal at p is the nearest canonical vertex's.
* The last layer starts at zero: an untrained D changes nothing.
"""
from __future__ import annotations

import torch
from torch import nn

from ..face import CanonicalFace

NORMAL_FRACTION = 0.1
CANONICAL = 0  # the index of "no dataset": the reference semantics


def nearest_vertex_normals(points: torch.Tensor, vertices: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """(…,3) the unit normal (V,3) of each point's nearest vertex (V,3): the face's normal at a point on or near it."""
    flat = points.reshape(-1, 3)
    nearest = torch.cdist(flat, vertices.to(flat)).argmin(-1)
    return normals.to(flat)[nearest].reshape(points.shape)


class QueryDeformer(nn.Module):
    """(…,K,3) queries, their (…,K,Q) embeddings and (B,) dataset indices (0: canonical) -> (B,K,3) offsets in cm."""

    def __init__(self, datasets: tuple[str, ...], query_dim: int, embedding_dim: int = 16, hidden: int = 64):
        super().__init__()
        if not datasets or len(set(datasets)) != len(datasets):
            raise ValueError(f"the deformer needs distinct dataset names, got {list(datasets)}")
        self.datasets = tuple(datasets)
        self.embedding = nn.Embedding(len(datasets) + 1, embedding_dim)
        self.mlp = nn.Sequential(nn.Linear(query_dim + embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, 3))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)
        face = CanonicalFace.load()
        self.register_buffer("vertices", face.vertices.clone(), persistent=False)
        self.register_buffer("normals", face.vertex_normals().clone(), persistent=False)

    def index(self, names) -> torch.Tensor:
        """(B,) dataset indices of names (None: canonical); an unknown name is a ValueError listing the known."""
        out = []
        for name in names:
            if name is not None and name not in self.datasets:
                raise ValueError(f"unknown dataset {name!r}; this model knows {', '.join(self.datasets)} "
                                 "(or None for the canonical semantics)")
            out.append(CANONICAL if name is None else self.datasets.index(name) + 1)
        return torch.tensor(out, dtype=torch.long, device=self.vertices.device)

    def surface_normals(self, points: torch.Tensor) -> torch.Tensor:
        """(…,K,3) unit normals of the canonical face at (near) each point: its nearest vertex's."""
        return nearest_vertex_normals(points, self.vertices, self.normals)

    def forward(self, points: torch.Tensor, embedded: torch.Tensor, dataset: torch.Tensor) -> torch.Tensor:
        batch = len(dataset)
        if points.ndim == 2:
            points, embedded = points.expand(batch, -1, -1), embedded.expand(batch, -1, -1)
        code = self.embedding(dataset)[:, None].expand(-1, points.shape[1], -1)
        raw = self.mlp(torch.cat([embedded, code.to(embedded)], -1))
        normal = self.surface_normals(points)
        along_normal = (raw * normal).sum(-1, keepdim=True) * normal
        offset = raw - (1 - NORMAL_FRACTION) * along_normal
        return offset * (dataset != CANONICAL)[:, None, None].to(offset)
