"""Run-time switches and timing shared by notebooks, training, tests and benchmarks: the bottom layer."""
from __future__ import annotations

import os
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
