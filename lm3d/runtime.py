"""Run-time switches and timing shared by notebooks, training, tests and benchmarks: the bottom layer."""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import torch


def fast_mode() -> bool:
    """True when ``LM3D_FAST=1``: notebooks and experiments shrink data, models and steps (CI)."""
    value = os.environ.get("LM3D_FAST", "0").strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"LM3D_FAST must be 0 or 1, got {value!r}")
    return value in ("1", "true", "yes")


def default_device() -> torch.device:
    """CUDA when a GPU is present, otherwise the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seconds_per_call(function: Callable[[], object], device: str | torch.device, repeats: int = 1) -> float:
    """Mean wall time of ``repeats`` calls; on CUDA it waits for queued kernels before and after."""
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def native_bfloat16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions in hardware. A CPU without AVX512-BF16 or AMX (any AVX2-only
    CPU) emulates them: the standard preset's bfloat16 F then trains several times slower than in float32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:  # oneDNN's own answer: it also honours ONEDNN_MAX_CPU_ISA, which benchmarks use to imitate an older CPU
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return torch.cpu._is_avx512_bf16_supported()


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` inside the block, then restored; 0 leaves them as they are.

    A float sum split over more threads is added in another order, so the same training run gives other weights
    under another thread count (after a few hundred steps, differences that matter). Fixing the count makes a run
    repeat whatever ``OMP_NUM_THREADS`` says and however many other runs share the machine."""
    if count < 0:
        raise ValueError(f"threads must be 0 (leave as they are) or positive, got {count}")
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def write_atomically(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary)``, then rename the temporary file over ``path``: a crash leaves the old file or the
    complete new one, never half a file. The temporary name carries the process id, so two processes may write the
    same file at once (the last rename wins)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def scratch_folder(prefix: str) -> Path:
    """A new temporary folder, removed with everything in it when this process exits (for a notebook: when its
    kernel shuts down). Notebooks in fast mode train and write into such folders; left behind, every test run would
    add its checkpoints to the disk. A process that is killed cannot clean up (nbval kills its kernels), so the
    folder's name carries its process, and each call first removes the folders of processes that have ended."""
    if not prefix.startswith("lm3d_"):
        raise ValueError(f"a scratch folder's prefix starts with 'lm3d_', got {prefix!r}")
    root = Path(tempfile.gettempdir())
    for old in root.glob("lm3d_*"):
        owner = _SCRATCH_OWNER.search(old.name)
        try:
            mine = old.is_dir() and old.stat().st_uid == os.getuid()
        except OSError:  # removed meanwhile by another process's sweep
            continue
        if owner and mine and not _alive(*map(int, owner.groups())):
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-{_started(os.getpid())}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


# the end of a scratch folder's name: its process's id and start time, then mkdtemp's random letters
_SCRATCH_OWNER = re.compile(r"(\d+)-(\d+)-[A-Za-z0-9_]{8}$")


def _started(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot (0 where there is no /proc): with the pid, it tells
    this process from a later one given the same pid."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, IndexError, ValueError):
        return 0


def _alive(pid: int, started: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return started == 0 or _started(pid) in (0, started)
