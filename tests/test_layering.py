"""The package is layered: lm3d.face <- lm3d.synth, lm3d.model <- the top of the package.

The rules are read off the source itself: every ``import`` and ``from ... import`` statement of every
module under ``lm3d/`` (also those inside functions) is parsed and resolved to the module it names, so
the test does not trust a list kept by hand.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lm3d

PACKAGE_ROOT = Path(lm3d.__file__).resolve().parent
# what each layer may import, besides itself; "top" is everything that is not in a subpackage
ALLOWED = {"face": {"face"}, "synth": {"face", "synth"}, "model": {"face", "model"},
           "top": {"face", "synth", "model", "top"}}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("face", "synth", "model") else "top"


def _is_module(name: str, root: Path) -> bool:
    path = root.parent / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every lm3d module that ``path`` imports."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # ``from .face import layouts`` names the module lm3d.face.layouts; ``from .face import Layout`` lm3d.face
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.append((node.lineno, submodule if _is_module(submodule, root) else target))
    return [(line, module) for line, module in found if module == root.name or module.startswith(root.name + ".")]


def layer_violations(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        here = layer_of(module_name(path, root))
        for line, module in imported_modules(path, root):
            if layer_of(module) not in ALLOWED[here]:
                problems.append(f"{path.relative_to(root.parent)}:{line} ({here}) imports {module} "
                                f"({layer_of(module)})")
    return problems


def test_layers_import_only_the_layers_below():
    assert layer_violations(PACKAGE_ROOT) == []


def test_the_subpackages_exist_and_say_what_they_may_import():
    for layer in ("face", "synth", "model"):
        init = PACKAGE_ROOT / layer / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and "Imports:" in docstring, f"{init} needs a docstring that says what the layer may import"


def test_every_module_is_parsed():
    modules = {module_name(p, PACKAGE_ROOT) for p in PACKAGE_ROOT.rglob("*.py")}
    # the modules the issue names, in their layers
    for expected in ("lm3d.face.canonical", "lm3d.face.layouts", "lm3d.face.camera", "lm3d.synth.render",
                     "lm3d.synth.rasterizer", "lm3d.synth.video", "lm3d.synth.shards", "lm3d.model.crop",
                     "lm3d.model.features", "lm3d.model.queries", "lm3d.model.predictor", "lm3d.model.detector",
                     "lm3d.train", "lm3d.evaluate", "lm3d.inference"):
        assert expected in modules


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "lm3d"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("where, source, expected", [
    ("face/canonical.py", "from ..synth import render\n", "lm3d.synth.render"),
    ("face/canonical.py", "from lm3d import CanonicalFace\n", "lm3d"),
    ("face/canonical.py", "def f():\n    from lm3d.model.crop import crop\n", "lm3d.model.crop"),
    ("model/crop.py", "import lm3d.synth.render\n", "lm3d.synth.render"),
    ("model/crop.py", "from .. import runtime\n", "lm3d.runtime"),
    ("synth/render.py", "from ..model import crop\n", "lm3d.model.crop"),
    ("synth/__init__.py", "from .. import train\n", "lm3d.train"),
])
def test_the_check_finds_a_violation(tmp_path, where, source, expected):
    files = {"__init__.py": "", "runtime.py": "", "train.py": "", "face/__init__.py": "", "face/canonical.py": "",
             "synth/__init__.py": "", "synth/render.py": "", "model/__init__.py": "", "model/crop.py": ""}
    root = _fake_package(tmp_path, files | {where: source})
    problems = layer_violations(root)
    assert len(problems) == 1 and problems[0].startswith(f"lm3d/{where}") and f"imports {expected} " in problems[0]


def test_the_check_allows_imports_from_below(tmp_path):
    root = _fake_package(tmp_path, {
        "__init__.py": "from .face import canonical\nfrom . import train\n", "train.py": "from .synth import render\n",
        "face/__init__.py": "from .canonical import x\n", "face/canonical.py": "import torch\n",
        "synth/__init__.py": "", "synth/render.py": "from ..face import canonical\nfrom . import other\n",
        "synth/other.py": "", "model/__init__.py": "", "model/crop.py": "from lm3d.face.canonical import x\n"})
    assert layer_violations(root) == []
