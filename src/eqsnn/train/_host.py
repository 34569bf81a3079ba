"""Host memory for XLA's CPU backend: keep a step's large buffers between calls."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import threading

import jax

__all__ = ["tune_host_allocator"]

# glibc's mallopt(3) parameter numbers (<malloc.h>).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_lock = threading.Lock()
_applied: dict[int, bool] = {}


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def tune_host_allocator(mmap_threshold_mb: int = 1024, *, only_on_cpu: bool = True) -> bool:
    r"""Keep a compiled step's large host buffers in the malloc heap between calls (glibc, CPU backend).

    On XLA's CPU backend every call of a compiled step allocates its
    temporary buffers anew (W2's training step: 53.6 MiB) and frees them at
    the end, from whichever thread runs it. With glibc's defaults such
    buffers get fresh pages (above the mmap threshold, at most 32 MiB, or
    from a per-thread arena that is trimmed back) and the kernel zero-fills
    each 4 KiB page again on first touch: measured in W2's training loop,
    $53.6\,\mathrm{MiB} / 4\,\mathrm{KiB} \approx 13{,}700$ page faults per
    step. This sets, with `mallopt(3)`, `M_MMAP_THRESHOLD` to
    `mmap_threshold_mb` MiB, `M_TRIM_THRESHOLD` to twice that and
    `M_ARENA_MAX` to 1, so the buffers come from one heap and the next step
    reuses the freed ones. Measured on a 2-core CPU, W2's epoch of 234 steps
    took 0.71-0.89x its untuned time (`python -m benchmarks.epoch`).

    It is process-wide: every library in the process allocates this way
    afterwards, all threads share one malloc arena, and freed heap memory is
    kept for reuse (up to `2 * mmap_threshold_mb` MiB) rather than returned
    to the system. Computed values are unchanged.
    [`eqsnn.train.make_step`][] and [`eqsnn.train.BPTT`][] call it (pass
    `tune_allocator=False` to opt out); a loop around plain `jax.jit` can
    call it once itself. Called after JAX has started its threads, it takes
    effect in most processes but not all: a thread that already has its own
    malloc arena keeps it (1 trial in 4 kept all its page faults). The
    reliable form is the same setting given to the interpreter,
    `MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483647
    MALLOC_ARENA_MAX=1` (0 page faults per step, 0.75x the epoch time).

    **Arguments:**

    - `mmap_threshold_mb`: allocations of at least this many MiB still get
      their own pages (default `1024`), a positive int.
    - `only_on_cpu`: do nothing unless JAX's default backend is the CPU
      (default `True`; an accelerator's buffers are not host malloc's).

    **Returns:** `True` if the setting is in effect (set now or earlier),
    `False` where it does not apply: not Linux with glibc, or not the CPU
    backend with `only_on_cpu`.
    """
    if isinstance(mmap_threshold_mb, bool) or not isinstance(mmap_threshold_mb, int) or mmap_threshold_mb <= 0:
        raise ValueError(f"tune_host_allocator: `mmap_threshold_mb` must be a positive int, got {mmap_threshold_mb!r}")
    if only_on_cpu and jax.default_backend() != "cpu":
        return False
    with _lock:
        if mmap_threshold_mb in _applied:
            return _applied[mmap_threshold_mb]
        libc = _glibc()
        ok = False
        if libc is not None:
            size = mmap_threshold_mb * 2**20
            ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(min(size, 2**31 - 1))))
            ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(min(2 * size, 2**31 - 1)))) and ok
            ok = bool(libc.mallopt(_M_ARENA_MAX, ctypes.c_int(1))) and ok
        _applied[mmap_threshold_mb] = ok
        return ok
