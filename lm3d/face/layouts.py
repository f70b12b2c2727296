"""Landmark layouts: named sets of points on the canonical face surface, stored as data.

Each layout lives in ``lm3d/assets/layouts/<name>.json`` (written by
``data_scripts/make_layouts.py``, which also records how every point was placed) and holds, per
point, a name, a group, a triangle index and barycentric weights; plus the normalization pair
(the outer eye corners, where the layout has them), drawing edges and left/right flip pairs.

    >>> import lm3d
    >>> layout = lm3d.layouts.get("ibug68")
    >>> layout.points(lm3d.CanonicalFace.load()).shape
    torch.Size([68, 3])

Layouts that lack the outer eye corners (``five``, ``heldout``) have ``norm_pair = None``: NME
for them is normalised by the inter-ocular distance of the face itself (ibug68 points 36, 45).

Your own layouts: ``custom(name, triangle, barycentric)`` makes one from surface points (the query picker
of notebook 01 exports its clicks this way), ``save`` writes it in the same JSON format as the shipped
ones, ``load`` reads it back, and ``register`` makes its name usable wherever a layout name is asked for
(``Detector.predict(image, layout="my_points")``) for the rest of the session.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..runtime import write_atomically
from .canonical import ASSETS, CanonicalFace

LAYOUT_DIR = ASSETS / "layouts"
LAYOUT_FORMAT = "lm3d.layout/1"
REGENERATE = "regenerate it with `python data_scripts/make_layouts.py`"


class LayoutAssetError(RuntimeError):
    """A layout file is missing, unreadable or inconsistent."""


@dataclass(frozen=True, eq=False)
class Layout:
    """A landmark layout: K surface points with names, groups, edges and flip pairs."""

    name: str
    description: str
    names: tuple[str, ...]
    groups: tuple[str, ...]
    definitions: tuple[str, ...]  # how each point was placed on the mesh, in words
    triangle: torch.Tensor  # (K,) long
    barycentric: torch.Tensor  # (K,3) float
    norm_pair: tuple[int, int] | None  # outer eye corners (subject's right, left), if present
    edges: tuple[tuple[int, int], ...]  # pairs of point indices to draw as lines
    flip_pairs: tuple[tuple[int, int], ...]  # (i, j): point j is the mirror image of point i

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {len(self)} points, groups={sorted(set(self.groups))})"

    def points(self, face: CanonicalFace, vertices: torch.Tensor | None = None) -> torch.Tensor:
        """(K,3) positions on ``face`` (or on a deformed copy of it, given its ``vertices``)."""
        return face.points(self.triangle, self.barycentric, vertices)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"layout {self.name!r} has no point named {name!r}") from None

    def group_indices(self, group: str) -> list[int]:
        found = [i for i, g in enumerate(self.groups) if g == group]
        if not found:
            raise ValueError(f"layout {self.name!r} has no group {group!r}; groups: {sorted(set(self.groups))}")
        return found

    def flip_permutation(self) -> torch.Tensor:
        """(K,) index of each point's mirror image: landmarks[perm] relabels a flipped image."""
        permutation = torch.arange(len(self))
        for i, j in self.flip_pairs:
            permutation[i], permutation[j] = j, i
        return permutation

    def to_dict(self) -> dict:
        """The layout in the JSON format of ``lm3d/assets/layouts`` (what :func:`save` writes)."""
        return {
            "format": LAYOUT_FORMAT, "name": self.name, "description": self.description,
            "norm_pair": list(self.norm_pair) if self.norm_pair is not None else None,
            "edges": [list(e) for e in self.edges], "flip_pairs": [list(f) for f in self.flip_pairs],
            "points": [{"name": n, "group": g, "triangle": int(t), "barycentric": [round(float(w), 7) for w in b],
                        "definition": d}
                       for n, g, t, b, d in zip(self.names, self.groups, self.triangle.tolist(),
                                                self.barycentric.tolist(), self.definitions)],
        }

    def nearest(self, face: CanonicalFace, point, count: int = 3) -> list[tuple[str, float]]:
        """The ``count`` layout points nearest to a 3D point, as (name, distance in cm)."""
        distance = (self.points(face) - torch.as_tensor(point, dtype=torch.float32)).norm(dim=1)
        order = distance.argsort()[:count]
        return [(self.names[i], distance[i].item()) for i in order.tolist()]


_REGISTERED: dict[str, "Layout"] = {}


def names() -> list[str]:
    """Names of the layouts that ship with lm3d."""
    return sorted(path.stem for path in LAYOUT_DIR.glob("*.json"))


def registered() -> list[str]:
    """Names of the layouts added in this session with :func:`register`."""
    return sorted(_REGISTERED)


def get(name: "str | Layout") -> Layout:
    """The layout called ``name``: a shipped one (see :func:`names`) or a registered one; a Layout passes through."""
    if isinstance(name, Layout):
        return name
    if isinstance(name, str) and name in _REGISTERED:
        return _REGISTERED[name]
    if not isinstance(name, str) or name not in names():
        known = ", ".join(names() + registered())
        raise ValueError(f"unknown layout {name!r}; known layouts: {known} (add your own with lm3d.layouts.register)")
    return load(LAYOUT_DIR / f"{name}.json")


def custom(name: str, triangle, barycentric, point_names=None, description: str | None = None,
           definitions=None, group: str = "custom") -> Layout:
    """A layout of your own from surface points (K,) and (K,3), checked like the shipped ones."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a layout name must be a Python-identifier-like string (letters, digits, _), got {name!r}")
    surface = _canonical_face().check_surface_points(triangle, barycentric)
    triangle, barycentric = surface.triangle.reshape(-1), surface.barycentric.reshape(-1, 3)
    count = len(triangle)
    if count == 0:
        raise ValueError("a layout needs at least one point")
    point_names = tuple(point_names) if point_names is not None else tuple(f"{name}_{i}" for i in range(count))
    definitions = tuple(definitions) if definitions is not None else ("a point chosen by the user",) * count
    if len(point_names) != count or len(definitions) != count:
        raise ValueError(f"{count} points need {count} names and definitions, got {len(point_names)} and "
                         f"{len(definitions)}")
    layout = Layout(name, description or f"{count} custom surface points", point_names, (group,) * count,
                    definitions, triangle, barycentric, None, (), ())
    _check(layout, f"custom layout {name!r}", "give each point its own name")
    return layout


def register(layout: Layout, replace: bool = False) -> Layout:
    """Make ``layout.name`` usable wherever a layout name is asked for, for the rest of the session."""
    if not isinstance(layout, Layout):
        raise TypeError(f"register takes a Layout (see lm3d.layouts.custom), got {type(layout).__name__}")
    if layout.name in names():
        raise ValueError(f"{layout.name!r} is a layout that ships with lm3d; choose another name")
    if layout.name in _REGISTERED and not replace:
        raise ValueError(f"a layout {layout.name!r} is already registered; pass replace=True to replace it")
    _REGISTERED[layout.name] = layout
    return layout


def save(layout: Layout, path: str | Path) -> Path:
    """Write ``layout`` as JSON in the format of the shipped layouts (atomically); :func:`load` reads it."""
    path = Path(path)
    text = json.dumps(layout.to_dict(), indent=1) + "\n"
    write_atomically(path, lambda temporary: temporary.write_text(text))
    return path


def _fix_for(path: Path) -> str:
    """What to do about a bad layout file: shipped ones are regenerated, the user's own are theirs."""
    return REGENERATE if path.parent == LAYOUT_DIR.resolve() else "check the file (lm3d.layouts.save writes valid ones)"


@lru_cache(maxsize=None)
def _read(path: Path, mtime: float) -> Layout:
    try:
        data = json.loads(path.read_text())
        points = data["points"]
        layout = Layout(
            name=data["name"],
            description=data["description"],
            names=tuple(p["name"] for p in points),
            groups=tuple(p["group"] for p in points),
            definitions=tuple(p["definition"] for p in points),
            triangle=torch.tensor([p["triangle"] for p in points], dtype=torch.long).reshape(-1),
            barycentric=torch.tensor([p["barycentric"] for p in points], dtype=torch.float32).reshape(-1, 3),
            norm_pair=tuple(data["norm_pair"]) if data["norm_pair"] is not None else None,
            edges=tuple(tuple(e) for e in data["edges"]),
            flip_pairs=tuple(tuple(f) for f in data["flip_pairs"]),
        )
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
        raise LayoutAssetError(f"layout file {path} is corrupt ({error!r}); {_fix_for(path)}") from None
    _check(layout, f"layout file {path}", _fix_for(path))
    return layout


def load(path: str | Path) -> Layout:
    """Read and validate one layout file."""
    path = Path(path)
    if not path.is_file():
        raise LayoutAssetError(f"layout file {path} is missing; {_fix_for(path.resolve())}")
    return _read(path.resolve(), path.stat().st_mtime)


def _check(layout: Layout, where: str, fix: str) -> None:
    count = len(layout)

    def fail(problem: str):
        raise LayoutAssetError(f"{where}: {problem}; {fix}")

    if len(set(layout.names)) != count:
        fail("point names are not unique")
    try:
        _canonical_face().check_surface_points(layout.triangle, layout.barycentric)
    except ValueError as error:
        fail(str(error))
    pairs = list(layout.edges) + list(layout.flip_pairs) + ([layout.norm_pair] if layout.norm_pair else [])
    if any(len(p) != 2 or not all(isinstance(i, int) and 0 <= i < count for i in p) for p in pairs):
        fail(f"an edge, flip pair or norm pair refers to a point outside 0..{count - 1}")
    flipped = [i for pair in layout.flip_pairs for i in pair]
    if len(flipped) != len(set(flipped)):
        fail("a point appears in more than one flip pair")


@lru_cache(maxsize=1)
def _canonical_face() -> CanonicalFace:
    return CanonicalFace.load()
