"""The GPU check: lm3d's CUDA paths exercised in one run, with one summary table at the end (docs/development.md).

    make gpu-check                                   # the same, with --json reports/gpu_check.json
    .venv/bin/python tools/gpu_check.py --train-minutes 30 --out runs/gpu_check_pretrained
    .venv/bin/python tools/gpu_check.py --skip-notebooks --json gpu_check.json
    .venv/bin/python tools/gpu_check.py --tiny       # the CPU path's tiny plan even where CUDA is present (its test)

With CUDA: (1) ``pytest -m "not slow" tests/raster tests/synth/test_synth.py tests/training``: the two tests written
for CUDA (the rasterizer and SynthFaces on the GPU against the CPU) and the quick training tests, which train on CUDA
whenever it is present (the slow ones are left to ``make test``); a test skipped with "needs CUDA" fails the step.
(2) Notebooks 03, 04, 05 and 07 at full size (``LM3D_FAST=0``) under ``pytest --nbval-lax``, each with a timeout, as
copies in ``OUT/notebook_root/notebooks``, so that the runs they train stay out of the repository's ``runs/`` (where
``make reproduce`` would reuse them); ``data/`` and ``reports/`` are linked in. A notebook not written yet is skipped.
(3) ``benchmarks/bench_model.py``'s ``measure`` for the standard and paper presets on the CPU and on CUDA, side by
side. (4) The pretrained model's recipe on the GPU (``GPU_TRAINING``: its preset with batch 128 and a
checkpoint every 200 steps), trained into ``--out`` for ``--train-minutes`` by ``train(..., stop_after=k)`` in chunks
that end on a checkpoint (a rerun resumes), then evaluated briefly: steps/s and the synth300w NME.

Without CUDA (or with ``--tiny``) it says so and runs the same steps on a tiny budget: the CUDA tests alone (they
skip), no notebooks, the bench on the CPU only, a few steps of the ``fast`` preset. Exit status 1 if a step failed.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
GPU_TESTS = ["tests/raster", "tests/synth/test_synth.py", "tests/training", "-m", "not slow"]
TINY_TESTS = ["tests/raster/test_rasterizer.py", "tests/synth/test_synth.py", "-k", "cuda"]  # the CUDA tests alone
TEST_MINUTES = 30
NOTEBOOKS = ("03", "04", "05", "07")
# the pretrained model's recipe on a GPU: its preset (the full model, augmentation, S's settings) with a GPU's batch and
# torch's own thread count, a checkpoint every 200 steps so that a time budget loses nothing
GPU_TRAINING = ("pretrained", "full", {"batch_size": 128, "threads": 0, "checkpoint_every": 200,
                                       "cache_dir": str(ROOT / "data" / "synthfaces")})
TINY_TRAINING = ("fast", "full", {"augment": True})
EVAL_COUNT = {True: 100, False: 4}  # faces per test set: a brief look, not the model's table
BENCH_PRESETS = {True: ("standard", "paper"), False: ("fast",)}


def _step(rows: list, name: str, did: str, action) -> None:
    """Run ``action() -> (status, figure)`` as one row of the summary; an exception fails the step, not the check."""
    print(f"\n== {name}: {did}", flush=True)
    start = time.perf_counter()
    try:
        status, figure = action()
    except Exception as error:  # reported in the table; the other steps still run
        status, figure = "failed", f"{type(error).__name__}: {error}"[:300]
    rows.append({"step": name, "did": did, "status": status, "seconds": round(time.perf_counter() - start, 1),
                 "figure": figure})
    print(f"   {status}: {figure}", flush=True)


def _skip(rows: list, name: str, did: str, why: str) -> None:
    rows.append({"step": name, "did": did, "status": "skipped", "seconds": 0.0, "figure": why})


def _pytest(args: list[str], log: Path, timeout_s: float, env: dict | None = None) -> tuple[int | None, str]:
    """pytest in its own process group, output to ``log``; (exit status or None past the timeout, its last line)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"   log: {log}", flush=True)
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args], cwd=ROOT,
                                   env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            code = None
        finally:  # timed out or interrupted: ^C first (nbval then shuts its kernel down), then kill what is left
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    text = log.read_text()
    last = next((line.strip(" =") for line in reversed(text.splitlines()) if line.strip(" =")), "no output")
    return code, last if code is not None else f"timed out after {timeout_s / 60:.3g} min ({last})"


def cuda_tests(cuda: bool, logs: Path):
    env = dict(os.environ) if cuda else {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    code, figure = _pytest(GPU_TESTS if cuda else TINY_TESTS, logs / "cuda_tests.txt", TEST_MINUTES * 60, env)
    if code != 0:
        return "failed", figure
    if cuda and "needs CUDA" in (logs / "cuda_tests.txt").read_text():
        return "failed", f"{figure}; a CUDA test skipped for want of CUDA"
    return ("ok", figure) if cuda else ("skipped", f"{figure}: no CUDA, the CUDA tests skip")


def notebooks(rows: list, skip: str | None, out: Path, minutes: float) -> None:
    """Each of notebooks 03, 04, 05, 07 at full size, as a copy whose repository root is ``out/notebook_root``."""
    root = out / "notebook_root"
    for number in NOTEBOOKS:
        found = sorted((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        name, did = f"notebook {number}", f"pytest --nbval-lax, full size, at most {minutes:g} min"
        if not found:
            _skip(rows, name, did, f"not written yet (no notebooks/{number}_*.ipynb)")
        elif skip:
            _skip(rows, name, f"{found[0].name}, full size", skip)
        else:
            (root / "notebooks").mkdir(parents=True, exist_ok=True)
            (ROOT / "data").mkdir(exist_ok=True)
            for linked in ("data", "reports"):  # the shard cache, and the three-seed tables that notebooks 04-05 read
                if (ROOT / linked).exists() and not os.path.lexists(root / linked):
                    (root / linked).symlink_to(ROOT / linked, target_is_directory=True)
            copy = root / "notebooks" / found[0].name
            shutil.copyfile(found[0], copy)
            args = ["--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={int(minutes * 60)}", str(copy)]
            log, env = out / "logs" / f"notebook_{number}.txt", {**os.environ, "LM3D_FAST": "0"}

            def run(args=args, log=log, env=env):
                code, figure = _pytest(args, log, minutes * 60 + 60, env)
                return ("ok" if code == 0 else "failed"), figure
            _step(rows, name, f"{found[0].name}: {did}", run)


def bench(preset_name: str, cuda: bool, repeats: int):
    """bench_model.measure on the CPU and, with CUDA, on the GPU in the same run: CUDA's speed-ups."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_model import measure

    from lm3d.runtime import intra_op_threads
    from lm3d.training import preset

    config = preset(preset_name)
    devices = ["cpu", "cuda"] if cuda else ["cpu"]
    with intra_op_threads(0 if cuda else 1):  # torch's own choice beside a GPU; one thread on a small shared CPU
        found = {device: measure(config, torch.device(device), config.batch_size, repeats) for device in devices}
    for key in found["cpu"]:
        print(f"   {key:26s}" + "".join(f"  {device} {found[device][key]:10.1f}" for device in devices))
    cpu = found["cpu"]
    if not cuda:
        return "ok", (f"CPU only, one thread: train {cpu['train images/s']:.0f} images/s, "
                      f"inference {cpu['inference images/s']:.0f} images/s")
    ratio = {key: found["cuda"][key] / cpu[key] for key in cpu}
    return "ok", (f"CUDA over CPU: train x{ratio['train images/s']:.1f} ({found['cuda']['train images/s']:.0f} images/s), "
                  f"inference x{ratio['inference images/s']:.1f}, latency x{1 / ratio['single-image latency ms']:.1f}")


def train_for(config, out: Path, budget_s: float) -> dict:
    """Train in chunks of whole checkpoint intervals until the budget is spent or the run is finished."""
    from lm3d.model import checkpoint
    from lm3d.training import CHECKPOINT_NAME, train

    path, every = out / CHECKPOINT_NAME, config.checkpoint_every
    start = done = checkpoint.load(path, kind=checkpoint.MODEL_KINDS)["step"] if path.exists() else 0
    deadline, chunk, rate = time.perf_counter() + budget_s, every, None
    while done < config.steps and chunk >= every:
        tic = time.perf_counter()
        ran = train(config, out, progress=False, stop_after=chunk)["steps_done"] - done
        took = time.perf_counter() - tic
        done += ran
        if not ran:
            break
        rate = _steps_per_s(out / "log.jsonl", start, config.batch_size) or ran / took
        overhead = max(0.0, took - ran / rate)  # building the pool (rendering it the first time) and the model
        print(f"   step {done}: {ran} steps in {took:.0f} s, {rate:.2f} steps/s while training", flush=True)
        chunk = int((deadline - time.perf_counter() - overhead) * rate) // every * every
    return {"start": start, "done": done, "steps_per_s": rate, "checkpoint": path}


def _steps_per_s(log: Path, start: int, batch: int) -> float | None:
    """The median training speed of this run's log lines (each is timed since the last line, without the pauses)."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line] if log.exists() else []
    speeds = [line["images_per_s"] / batch for line in lines if line["step"] > start and "images_per_s" in line]
    return statistics.median(speeds) if speeds else None


def training(rows: list, cuda: bool, out: Path, minutes: float) -> dict:
    from lm3d.runtime import default_device
    from lm3d.training import configure

    preset_name, variant, settings = GPU_TRAINING if cuda else TINY_TRAINING
    trained = {}

    def run():
        config = configure(preset_name, variant, settings=settings)
        trained.update(train_for(config, out, minutes * 60))
        rate = trained["steps_per_s"]
        speed = f"{rate:.2f} steps/s ({rate * config.batch_size:.0f} images/s)" if rate else "no new steps"
        return "ok", f"steps {trained['start']} -> {trained['done']} of {config.steps}, {speed} on {default_device()}"

    _step(rows, "train", f"{preset_name} {variant} + augment, {minutes:g} min into {out}", run)
    return trained


def evaluate(rows: list, checkpoint: Path | None, count: int) -> None:
    did = f"evaluate_checkpoint, {count} faces per test set"
    if checkpoint is None or not checkpoint.exists():
        return _skip(rows, "evaluate", did, "no checkpoint: the training failed")

    def run():
        from lm3d.evaluation import evaluate_checkpoint

        results = evaluate_checkpoint(checkpoint, count=count)
        (checkpoint.parent / "gpu_check_eval.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        return "ok", f"synth300w NME {results['summary']['nme_synth300w']:.2f} % at step {results['step']}"

    _step(rows, "evaluate", did, run)


def print_summary(rows: list) -> None:
    table = [("step", "what it did", "status", "seconds", "key figure")]
    table += [(r["step"], r["did"], r["status"], f"{r['seconds']:.1f}", r["figure"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    print("\nGPU check summary")
    for row in table:
        print("  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                         row[3].rjust(widths[3]), row[4]]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-minutes", type=float, default=None, help="training budget (default 10; tiny plan 0.1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the training run (default runs/gpu_check_pretrained; tiny plan runs/gpu_check_tiny)")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--notebook-minutes", type=float, default=60, help="timeout of each notebook")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here as JSON")
    parser.add_argument("--tiny", action="store_true", help="the CPU path's tiny plan even where CUDA is present")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available() and not args.tiny
    if cuda:
        print(f"CUDA device: {torch.cuda.get_device_name()}; torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    elif args.tiny and torch.cuda.is_available():
        print("--tiny: running the CPU path on a tiny budget (CUDA is present; training may still pick it)")
    else:
        print("no CUDA device: running the CPU path on a tiny budget")
    minutes = args.train_minutes if args.train_minutes is not None else (10 if cuda else 0.1)
    out = (args.out or ROOT / "runs" / ("gpu_check_pretrained" if cuda else "gpu_check_tiny")).resolve()
    rows: list = []
    _step(rows, "CUDA tests", "pytest " + shlex.join(GPU_TESTS if cuda else TINY_TESTS), lambda: cuda_tests(cuda, out / "logs"))
    skip = "--skip-notebooks" if args.skip_notebooks else (None if cuda else "no CUDA: full-size notebooks need a GPU")
    notebooks(rows, skip, out, args.notebook_minutes)
    for name in BENCH_PRESETS[cuda]:
        _step(rows, f"bench {name}", f"bench_model.measure, {name} preset, " + ("CPU and CUDA" if cuda else "CPU only"),
              lambda name=name: bench(name, cuda, 3 if cuda else 2))
    trained = training(rows, cuda, out, minutes)
    evaluate(rows, trained.get("checkpoint"), EVAL_COUNT[cuda])
    print_summary(rows)
    failed = [row["step"] for row in rows if row["status"] == "failed"]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cuda": cuda, "torch": torch.__version__, "out": str(out), "failed": failed,
                                         "steps": rows}, indent=1) + "\n")
    print(f"failed: {', '.join(failed)}" if failed else "no step failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
