"""W1's compiled training step, eqsnn against the hand-written step-by-step and hoisted JAX: XLA's cost
analysis (flops, bytes accessed; deterministic) and temporary memory, then interleaved timings.

Run from the repository root: `python -m benchmarks.profile_w1 [--repeats 20]`.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from . import workloads as wl


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_w1")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)
    images, labels, _ = wl.load_fashion_mnist()
    idx = jnp.asarray(np.random.default_rng(0).permutation(images.shape[0])[: 8 * 256].reshape(8, 256).astype(np.int32))
    cases = wl.build_w1(images, labels, idx, jax.random.key(0))
    for name, case in cases.items():
        c = case.lower()
        cost = c.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        m = c.memory_analysis()
        hlo = c.as_text()
        print(
            f"{name:20} flops {cost.get('flops', 0) / 1e6:8.1f} M  bytes accessed {cost.get('bytes accessed', 0) / 2**20:7.1f} MB"
            f"  temp {m.temp_size_in_bytes / 2**20:6.1f} MB  while loops {hlo.count(' while(')}  dots {hlo.count(' dot(')}"
        )
    times = {n: [] for n in cases}
    for case in cases.values():
        case.run(0)
    for r in range(args.repeats):
        for n, case in cases.items():
            t0 = time.perf_counter()
            case.run(1 + r % 7)
            times[n].append(time.perf_counter() - t0)
    base = np.median(times["plain JAX stepwise"])
    for n, ts in times.items():
        print(f"{n:20} median {np.median(ts) * 1e3:7.1f} ms  ratio to step-by-step JAX {np.median(ts) / base:5.2f}")


if __name__ == "__main__":
    main()
