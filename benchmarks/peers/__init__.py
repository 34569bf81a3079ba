"""Peer libraries (BrainPy, PyTorch/snnTorch, Spyx) timed side by side with eqsnn in one run.

Each peer is a script here run by its own interpreter, `DIR/<peer>/bin/python` (`python -m benchmarks --peers
DIR`), never an eqsnn dependency. The runner writes the workload's batches (the same images, labels and
latency spike steps the in-process cases use) to an `.npz` file; the peer builds its model, compiles with one
warm-up step and prints `{"ready": true, ...}`; then the runner sends one batch index per line between its
own in-process rounds (A B A B ... C D), and the peer answers the seconds of that training step.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# peer -> (venv folder under DIR, script, the workloads it has)
PEERS = {
    "BrainPy": ("brainpy", "brainpy_peer.py", ("W1", "W2")),
    "PyTorch": ("snntorch", "torch_peer.py", ("W1",)),
    "snnTorch": ("snntorch", "torch_peer.py", ("W2",)),
    "Spyx": ("spyx", "spyx_peer.py", ("W2",)),
}


# glibc's environment twin of eqsnn.train.tune_host_allocator (read when the interpreter starts)
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1), "MALLOC_ARENA_MAX": "1"}


class Peer:
    """A running peer process; `run(i)` times one step on batch `i` and returns `{"s": seconds}`."""

    baseline = False
    external = True

    def __init__(
        self, python: str, script: str, workload: str, data_path: str, threads: int | None = None, malloc: bool = False
    ):
        t0 = time.perf_counter()
        env = dict(os.environ)
        if threads is not None:  # PyTorch's OpenMP threads (JAX peers ignore it)
            env["OMP_NUM_THREADS"] = str(threads)
        if malloc:  # the allocator setting eqsnn's make_step / BPTT use, for a like-for-like comparison
            env.update(MALLOC_ENV)
        self.proc = subprocess.Popen(
            [python, os.path.join(HERE, script), workload, data_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{script} {workload} exited before it was ready (rc {self.proc.wait()})")
        self.info = json.loads(line)
        self.start_s = time.perf_counter() - t0

    def run(self, i: int) -> dict:
        self.proc.stdin.write(f"{i}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a peer that is gone is closed
            self.proc.kill()


def start_peers(
    peers_dir: str, workload: str, data_path: str, threads: int | None = None, malloc: bool = False
) -> tuple[dict, dict]:
    """`({name: Peer}, {name: note})` for the peers of `workload` whose interpreter exists under `peers_dir`."""
    started, notes = {}, {}
    for name, (venv, script, workloads) in PEERS.items():
        if workload not in workloads:
            continue
        python = os.path.join(peers_dir, venv, "bin", "python")
        if not os.path.exists(python):
            notes[name] = f"skipped: {python} not found"
            continue
        try:
            started[name] = Peer(python, script, workload, data_path, threads, malloc)
        except Exception as e:  # noqa: BLE001 - a peer that cannot start is reported, not fatal
            notes[name] = f"skipped: {type(e).__name__}: {str(e)[:200]}"
    return started, notes
