"""lm3d.runtime: the switches and helpers every layer shares."""
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lm3d import runtime


def test_a_scratch_folder_is_removed_when_its_process_exits(tmp_path):
    script = ("from lm3d.runtime import scratch_folder\n"
              "folder = scratch_folder('lm3d_test_')\n"
              "(folder / 'sub').mkdir()\n"
              "(folder / 'sub' / 'checkpoint.pt').write_bytes(b'x' * 1000)\n"
              "print(folder)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={"TMPDIR": str(tmp_path), "PATH": ""})
    folder = done.stdout.strip()
    assert folder.startswith(str(tmp_path)) and "lm3d_test_" in folder
    assert list(tmp_path.iterdir()) == []  # created inside tmp_path, and gone with its files


def test_a_scratch_folder_lives_while_its_process_runs():
    folder = runtime.scratch_folder("lm3d_test_")
    assert folder.is_dir() and not any(folder.iterdir())


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("", False), ("yes", True)])
def test_fast_mode_reads_its_variable(monkeypatch, value, expected):
    monkeypatch.setenv("LM3D_FAST", value)
    assert runtime.fast_mode() is expected


def test_fast_mode_names_a_bad_value(monkeypatch):
    monkeypatch.setenv("LM3D_FAST", "fast")
    with pytest.raises(ValueError, match="LM3D_FAST must be 0 or 1"):
        runtime.fast_mode()


def test_a_killed_process_s_scratch_folder_is_removed_by_the_next_call(tmp_path, monkeypatch):
    script = ("import os, signal\n"
              "from lm3d.runtime import scratch_folder\n"
              "folder = scratch_folder('lm3d_test_')\n"
              "(folder / 'checkpoint.pt').write_bytes(b'x' * 1000)\n"
              "print(folder, flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")  # as nbval ends a notebook's kernel: no exit handlers
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"TMPDIR": str(tmp_path), "PATH": ""})
    left = Path(killed.stdout.strip())
    assert killed.returncode == -signal.SIGKILL and left.is_dir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stranger = tmp_path / "lm3d_not_a_scratch_folder"  # no process in its name: not ours to remove
    stranger.mkdir()
    mine = runtime.scratch_folder("lm3d_test_")
    assert not left.exists() and stranger.is_dir() and mine.is_dir()
    again = runtime.scratch_folder("lm3d_test_")  # a live process's folder is kept
    assert mine.is_dir() and again.is_dir()


def test_a_scratch_folder_s_prefix_names_lm3d():
    with pytest.raises(ValueError, match="starts with 'lm3d_'"):
        runtime.scratch_folder("nb03_")
