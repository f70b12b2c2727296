"""The notebook stripper that keeps outputs out of the repository (``make test`` runs it with --verify)."""
import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "strip_notebooks.py"


def _notebook(outputs: bool) -> dict:
    code = {"cell_type": "code", "id": "a", "metadata": {"execution": {"iopub.status.busy": "x"}} if outputs else {},
            "execution_count": 3 if outputs else None, "source": "print(1)",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}] if outputs else []}
    metadata = {"kernelspec": {"name": "python3"}}
    if outputs:
        metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# x"}, code],
            "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def _run(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def test_verify_names_what_is_stored_and_strip_removes_it(tmp_path):
    path = tmp_path / "dirty.ipynb"
    path.write_text(json.dumps(_notebook(outputs=True)))
    verify = _run("--verify", path)
    assert verify.returncode == 1
    assert "1 output(s)" in verify.stdout and "execution count 3" in verify.stdout and "widgets" in verify.stdout
    assert json.loads(path.read_text()) == _notebook(outputs=True)  # --verify changes nothing
    assert _run(path).returncode == 0
    assert json.loads(path.read_text()) == _notebook(outputs=False)
    assert _run("--verify", path).returncode == 0


def test_clean_notebooks_pass(tmp_path):
    path = tmp_path / "clean.ipynb"
    path.write_text(json.dumps(_notebook(outputs=False)))
    assert _run("--verify", path).returncode == 0 and _run("--verify", path).stdout == ""
