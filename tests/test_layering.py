"""The package is layered: every folder of ``lm3d`` is a layer, and every import points down.

    runtime <- face <- raster <- synth                         (data with exact truth)
                    <- model (and runtime)                     (the landmark model, its checkpoints)
    face, raster, model <- inference                           (Detector: never synth, evaluation or training)
    inference <- io                                            (the detector on a user's files: lm3d detect)
    raster, inference, io <- applications                      (the 3D head's side benefits: mesh, texture)
    synth, applications <- evaluation;  applications <- vis;  evaluation <- training <- experiments
    the commands (lm3d.train, lm3d.evaluate, lm3d.reproduce, lm3d.adapt_deformer, lm3d.detect, and lm3d.cli with
    lm3d.__main__, the ``lm3d`` command) sit on top; nothing imports them.

The rules are read off the source itself: every ``import`` and ``from ... import`` statement of every
module under ``lm3d/`` (also those inside functions) is parsed and resolved to the module it names, so
the test does not trust a list kept by hand. No module may import one above its layer, and no chain of
imports may come back to where it started.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import lm3d

PACKAGE_ROOT = Path(lm3d.__file__).resolve().parent
BELOW = {  # what each layer may import, besides itself
    "runtime": set(),
    "face": {"runtime"},
    "raster": {"runtime", "face"},
    "synth": {"runtime", "face", "raster"},
    "model": {"runtime", "face"},
    "inference": {"runtime", "face", "raster", "model"},
    "io": {"runtime", "face", "raster", "model", "inference"},
    "applications": {"runtime", "face", "raster", "model", "inference", "io"},
    "evaluation": {"runtime", "face", "raster", "synth", "model", "inference", "io", "applications"},
    "vis": {"runtime", "face", "raster", "model", "inference", "applications"},
    "training": {"runtime", "face", "raster", "synth", "model", "inference", "evaluation", "io", "applications"},
    "experiments": {"runtime", "face", "raster", "synth", "model", "inference", "evaluation", "vis", "training", "io",
                    "applications"},
}
COMMANDS = ("train", "evaluate", "reproduce", "adapt_deformer", "detect", "cli", "__main__")  # python -m lm3d.<command>
ALLOWED = {**BELOW, "commands": set(BELOW), "root": {"face", "inference"}}  # root: lm3d/__init__.py


def layer_of(module: str) -> str:
    """The layer of a module of lm3d: its folder, ``runtime``, ``commands``, ``root``; ``unplaced`` for a stray."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    if parts[1] in BELOW:
        return parts[1]
    return "commands" if len(parts) == 2 and parts[1] in COMMANDS else "unplaced"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


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
        if here == "unplaced":
            problems.append(f"{path.relative_to(root.parent)} is in no layer: move it into one of {sorted(BELOW)}")
            continue
        for line, module in imported_modules(path, root):
            there = layer_of(module)
            if there != here and there not in ALLOWED[here]:
                problems.append(f"{path.relative_to(root.parent)}:{line} ({here}) imports {module} ({there})")
    return problems


def import_cycles(root: Path) -> list[list[str]]:
    """Every group of modules that import each other, directly or through others (Tarjan's strongly connected
    components of the import graph, with more than one module, or one that imports itself)."""
    graph = {module_name(p, root): {m for _, m in imported_modules(p, root)} for p in sorted(root.rglob("*.py"))}
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_layers_import_only_the_layers_below():
    assert layer_violations(PACKAGE_ROOT) == []


def test_no_modules_import_each_other():
    assert import_cycles(PACKAGE_ROOT) == []


def test_every_folder_is_a_layer_that_says_what_it_may_import():
    folders = {p.name for p in PACKAGE_ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(BELOW) - {"runtime"}
    for layer in folders:
        init = PACKAGE_ROOT / layer / "__init__.py"
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and "Imports:" in docstring, f"{init} needs a docstring that says what the layer may import"


def test_every_module_is_in_a_layer():
    modules = {module_name(p, PACKAGE_ROOT) for p in PACKAGE_ROOT.rglob("*.py")}
    assert [m for m in sorted(modules) if layer_of(m) == "unplaced"] == []
    for expected in ("lm3d.face.canonical", "lm3d.raster.rasterizer", "lm3d.synth.render", "lm3d.model.landmark_model",
                     "lm3d.inference.detector", "lm3d.evaluation.report", "lm3d.training.loop", "lm3d.experiments.cli",
                     "lm3d.vis.widgets", "lm3d.applications.texture", "lm3d.train", "lm3d.evaluate", "lm3d.reproduce",
                     "lm3d.adapt_deformer"):
        assert expected in modules


def test_import_lm3d_loads_no_data_engine_evaluation_or_training():
    """A user who runs a detector gets the face, the model and inference: nothing that makes or measures data."""
    script = "import lm3d, sys; lm3d.Detector; print(' '.join(sorted(m for m in sys.modules if m.startswith('lm3d.'))))"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert "lm3d.inference.detector" in loaded
    assert [m for m in loaded if layer_of(m) not in ("runtime", "face", "raster", "model", "inference")] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_runs_without_the_package_warning(command):
    """``python -m lm3d.<command> --help`` works, and Python does not warn that the module was imported twice."""
    done = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", f"lm3d.{command}", "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr
    assert "RuntimeWarning" not in done.stderr


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
    ("model/crop.py", "from .. import train\n", "lm3d.train"),
    ("runtime.py", "from .face import canonical\n", "lm3d.face.canonical"),
    ("inference/detector.py", "from ..synth import render\n", "lm3d.synth.render"),
    ("vis/plots.py", "from ..evaluation import metrics\n", "lm3d.evaluation.metrics"),
    ("synth/render.py", "from ..model import crop\n", "lm3d.model.crop"),
    ("synth/__init__.py", "from .. import train\n", "lm3d.train"),
])
def test_the_check_finds_a_violation(tmp_path, where, source, expected):
    files = {"__init__.py": "", "runtime.py": "", "train.py": "", "face/__init__.py": "", "face/canonical.py": "",
             "synth/__init__.py": "", "synth/render.py": "", "model/__init__.py": "", "model/crop.py": "",
             "inference/__init__.py": "", "inference/detector.py": "", "evaluation/__init__.py": "",
             "evaluation/metrics.py": "", "vis/__init__.py": "", "vis/plots.py": ""}
    root = _fake_package(tmp_path, files | {where: source})
    problems = layer_violations(root)
    assert len(problems) == 1 and problems[0].startswith(f"lm3d/{where}") and f"imports {expected} " in problems[0]


def test_the_check_allows_imports_from_below(tmp_path):
    root = _fake_package(tmp_path, {
        "__init__.py": "from .face import canonical\nfrom .inference import Detector\n",
        "train.py": "from .synth import render\nfrom .training.loop import main\n", "inference/__init__.py": "",
        "training/__init__.py": "", "training/loop.py": "from ..evaluation import report\n", "evaluation/__init__.py": "",
        "evaluation/report.py": "from ..synth import render\nfrom ..inference import predict\n",
        "face/__init__.py": "from .canonical import x\n", "face/canonical.py": "import torch\n",
        "synth/__init__.py": "", "synth/render.py": "from ..face import canonical\nfrom . import other\n",
        "synth/other.py": "", "model/__init__.py": "", "model/crop.py": "from lm3d.face.canonical import x\n"})
    assert layer_violations(root) == []


def test_a_stray_module_is_in_no_layer(tmp_path):
    root = _fake_package(tmp_path, {"__init__.py": "", "helpers.py": "import torch\n"})
    assert layer_violations(root) == ["lm3d/helpers.py is in no layer: move it into one of " + str(sorted(BELOW))]


def test_the_check_finds_a_cycle(tmp_path):
    root = _fake_package(tmp_path, {"__init__.py": "", "model/__init__.py": "", "model/a.py": "from . import b\n",
                                    "model/b.py": "from .c import x\n", "model/c.py": "from lm3d.model import a\n"})
    assert import_cycles(root) == [["lm3d.model.a", "lm3d.model.b", "lm3d.model.c"]]
