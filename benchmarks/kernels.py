"""Kernels per loop iteration in the compiled W2 training steps, eqsnn against the hand-written JAX.

`python -m benchmarks.kernels`

Reads XLA's optimised HLO of each step (deterministic, no timing) and counts, for every `while` loop, the
instructions of its body that run as kernels on the CPU (fusions, dots, copies, scatters, ...; not tuple
plumbing, parameters, constants or bitcasts), with the loop's trip count. A step's time on a CPU is close to
the sum over loops of trip count x kernels x the cost of one kernel on `[batch, hidden]` arrays.
"""

from __future__ import annotations

import collections
import re

import jax
import numpy as np

from . import workloads as wl

NOT_KERNELS = {"get-tuple-element", "tuple", "constant", "parameter", "bitcast"}


def loops(hlo: str) -> list[dict]:
    comps = {m.group(1): m.group(2) for m in re.finditer(r"\n(%[\w.\-]+) \(.*?\) -> .*? \{\n(.*?)\n\}", hlo, re.S)}
    out = []
    for m in re.finditer(r"while\(.*?body=(%[\w.\-]+).*?known_trip_count\":\{\"n\":\"(\d+)\"", hlo):
        ops: collections.Counter = collections.Counter()
        for line in comps[m.group(1)].split("\n"):
            op = re.match(r"\s*(?:ROOT )?%\S+ = .*? ([\w\-]+)\(", line)
            if op and op.group(1) not in NOT_KERNELS:
                ops[op.group(1)] += 1
        out.append(dict(trips=int(m.group(2)), kernels=sum(ops.values()), ops=dict(ops)))
    return out


def main() -> int:
    x, y, _ = wl.load_fashion_mnist(2048)
    idx = np.asarray(wl.epoch_batches(jax.random.key(0), 2048))
    cases, _ = wl.build_snn(x, y, idx, jax.random.key(1), 100, modes=("event+counts",), baselines=("event+counts",))
    for name, case in cases.items():
        found = loops(case.lower().as_text())
        total = sum(lp["trips"] * lp["kernels"] for lp in found)
        print(f"{name}: {total} kernel launches per training step")
        for lp in found:
            print(f"  {lp['trips']:4d} iterations x {lp['kernels']:2d} kernels  {lp['ops']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
