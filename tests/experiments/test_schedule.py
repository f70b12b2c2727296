import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lm3d.experiments import schedule
from lm3d.experiments.deformer import DEFORMER_ROWS
from lm3d.experiments.head_3d import HEAD_3D
from lm3d.experiments.ladder import LADDER
from lm3d.model import VARIANTS


def test_every_run_lists_each_training_of_the_tables_once():
    specs = schedule.every_run("standard", [0, 1, 2])
    keys = [(variant, seed, tag) for variant, seed, _, tag in specs]
    assert len(keys) == len(set(keys))
    variants = {rung.variant for rung in LADDER} | {variant for _, variant, _ in HEAD_3D}
    assert {(variant, seed, None) for variant in variants for seed in (0, 1, 2)} <= set(keys)
    assert {("crop-3d", seed, "crop-3d-deformer") for seed in (0, 1, 2)} <= set(keys)
    # notebook 06's two runs at conventions x4 train in the pool, not one after the other in the notebook
    assert {("crop-3d", 0, "crop-3d-conv4x"), ("crop-3d", 0, "crop-3d-deformer-conv4x")} <= set(keys)
    # every variant's order is known, so that a new rung cannot silently go to the end of the queue
    assert set(VARIANTS) <= set(schedule.TRAINING_COST)
    assert len(specs) == len(variants) * 3 + 3 + 2 == len(keys)
    assert {tag for _, _, _, tag in DEFORMER_ROWS if tag} <= {tag for *_, tag in keys}
    assert "s-affine" not in variants  # beyond the claims: make reproduce-extras


def test_the_extras_train_what_the_main_job_leaves_out_and_nothing_twice():
    main = {(variant, seed, tag) for variant, seed, _, tag in schedule.every_run("standard", [0, 1, 2])}
    extra = [(variant, seed, tag) for variant, seed, _, tag in schedule.every_extra_run("standard", [0, 1, 2])]
    assert len(extra) == len(set(extra)) and not main & set(extra)
    assert {("s-affine", seed, None) for seed in (0, 1, 2)} <= set(extra)
    assert ("crop-3d", 0, "crop-3d-principal-crop") in extra  # the standard preset puts it at the image centre
    # the deformer's convention study: four models at two scales, less notebook 06's two
    assert sum(tag is not None and "conv" in tag for _, _, tag in extra) == 4 * 2 - 2
    assert len(extra) == 3 + 1 + 6


def test_train_all_starts_the_costliest_first_then_scores_the_finders_boxes(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(schedule, "run_seed", lambda preset, seed, runs, variant, overrides, tag: calls.append(
        ("train", variant, seed, tag)))
    monkeypatch.setattr(schedule, "evaluate_with_boxes", lambda preset, seed, runs, boxes, label, variant: calls.append(
        ("score", variant, seed, label)))
    boxes = tmp_path / "mtcnn.json"
    boxes.write_text("{}")
    counts = schedule.train_all("fast", [0, 1], tmp_path, boxes, jobs=1)
    trained = [call for call in calls if call[0] == "train"]
    scored = [call for call in calls if call[0] == "score"]
    assert counts == {"trainings": len(trained), "box evaluations": len(scored)}
    assert calls == trained + scored  # the finders' boxes are scored on finished runs
    costs = [schedule.TRAINING_COST[variant] for _, variant, _, _ in trained]
    assert costs == sorted(costs, reverse=True) and trained[0][1] == "full" and trained[-1][1] == "baseline"
    assert {(variant, label) for _, variant, _, label in scored} == {("baseline", "mtcnn"), ("s-similarity", "mtcnn"),
                                                                      ("baseline", "lbp")}
    calls.clear()
    schedule.train_all("fast", [0], tmp_path, Path(tmp_path / "missing.json"), jobs=1)
    assert {call[3] for call in calls if call[0] == "score"} == {"lbp"}  # no MTCNN boxes: those rows wait
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        schedule.train_all("fast", [0], tmp_path, None, jobs=0)


PARENT = """
import sys
from lm3d.experiments.seed_runs import in_processes
marks = sys.argv[1]
# exec is a builtin, so the spawned workers can unpickle it: each marks that it has started its item, then sleeps
in_processes(exec, [f"open({marks!r} + '/{i}', 'w').close(); import time; time.sleep(120)" for i in range(2)], 2)
"""


def _workers(parent: int) -> set[int]:
    """The pool's workers among ``parent``'s children (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    pids = set(map(int, children.read_text().split())) if children.exists() else set()
    return {pid for pid in pids if b"spawn_main" in _cmdline(pid)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it has ended
        return b""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_training_workers_end_when_the_job_is_killed(tmp_path):
    # `kill` (or a session's end) reaches the job's main process, not its pool: the workers must not train on alone
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)])
    workers = set()
    try:
        deadline = time.monotonic() + 120  # two spawned workers import lm3d first: slow on a busy machine
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _workers(parent.pid)
        assert len(list(tmp_path.iterdir())) == 2 and len(workers) == 2  # both are at work
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while any(_cmdline(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(b"spawn_main" in _cmdline(pid) for pid in workers)
    finally:
        parent.kill()
        for pid in workers:
            if b"spawn_main" in _cmdline(pid):
                os.kill(pid, signal.SIGKILL)
