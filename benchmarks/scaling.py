"""Scaling: seconds per training step and compiled temporary memory against T, hidden size and batch.

`python -m benchmarks.scaling [--repeats 3]`

W2's network (784 -> H -> 10, event input, spike counts summed in the scan for the L1/L2 terms) against the
hand-written JAX of the same math (`baselines.make_snn_step(..., "event+counts")`), one axis at a time from
(T = 100, H = 100, batch 32). Times are medians of interleaved calls (eqsnn, JAX, eqsnn, JAX ...); memory is
XLA's temporary buffers of the compiled step (deterministic). Writes `benchmarks/results/scaling.json` and
`benchmarks/scaling.png`.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.models import SNN

from . import baselines as bl, workloads as wl

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = dict(T=100, hidden=100, batch=32)
GRID = dict(T=(100, 1000, 3000, 10_000), hidden=(128, 512, 2048, 8192), batch=(1, 16, 128, 1024))


def point(images, labels, T: int, hidden: int, batch: int, repeats: int) -> dict:
    optimizer = optax.adam(1e-3)
    model = SNN(784, hidden, 10, key=jax.random.key(0))
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    rng = np.random.default_rng(0)
    idx = jnp.asarray(rng.integers(0, images.shape[0], (2, batch)).astype(np.int32))
    ours = eqsnn.train.make_step(wl.snn_loss_fn(T, "event+counts"), optimizer)
    p = wl.snn_params(model)
    b_opt = optimizer.init(p)
    theirs = bl.make_snn_step(optimizer, T, "event+counts")
    runs = {
        "eqsnn": lambda i: ours(model, opt_state, (images, labels, idx[i]))[2].block_until_ready(),
        "plain JAX": lambda i: theirs(p, b_opt, images, labels, idx[i])[2].block_until_ready(),
    }
    lowered = {
        "eqsnn": lambda: ours.lower(model, opt_state, (images, labels, idx[0])).compile(),
        "plain JAX": lambda: theirs.lower(p, b_opt, images, labels, idx[0]).compile(),
    }
    out = {}
    for name, f in runs.items():
        c0 = time.process_time()
        f(0)
        out[name] = dict(first_call_cpu_s=time.process_time() - c0, times=[])
    for r in range(repeats):
        for name, f in runs.items():
            t0 = time.perf_counter()
            f(1 - r % 2)
            out[name]["times"].append(time.perf_counter() - t0)
    for name, res in out.items():
        res["median_s"] = float(np.median(res.pop("times")))
        res["temp_mb"] = lowered[name]().memory_analysis().temp_size_in_bytes / 2**20
    out["ratio"] = out["eqsnn"]["median_s"] / out["plain JAX"]["median_s"]
    return out


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), constrained_layout=True)
    for col, axis in enumerate(GRID):
        rows = results["axes"][axis]
        xs = [r[axis] for r in rows]
        for name, style in (("eqsnn", "o-"), ("plain JAX", "s--")):
            axes[0, col].loglog(xs, [r[name]["median_s"] for r in rows], style, label=name)
            axes[1, col].loglog(xs, [r[name]["temp_mb"] for r in rows], style, label=name)
        fixed = ", ".join(f"{k}={v}" for k, v in BASE.items() if k != axis)
        axes[0, col].set_title(f"{axis} ({fixed})")
        axes[1, col].set_xlabel(axis)
    axes[0, 0].set_ylabel("s per training step")
    axes[1, 0].set_ylabel("compiled temp memory (MB)")
    axes[0, 0].legend()
    fig.suptitle(f"W2's network, event input + counts; {results['machine']}, {results['date'][:10]}")
    fig.savefig(path, dpi=90)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scaling")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--axes", default="T,hidden,batch")
    args = ap.parse_args(argv)
    images, labels, _ = wl.load_fashion_mnist()
    images, labels = jnp.asarray(images), jnp.asarray(labels)
    results = dict(
        date=time.strftime("%Y-%m-%dT%H:%M:%S"),
        machine=f"{os.cpu_count()}-core CPU" if jax.default_backend() == "cpu" else str(jax.devices()[0]),
        versions=dict(jax=jax.__version__, eqsnn=eqsnn.__version__),
        base=BASE,
        repeats=args.repeats,
        axes={},
    )
    for axis in args.axes.split(","):
        results["axes"][axis] = []
        for v in GRID[axis]:
            cfg = {**BASE, axis: v}
            t0 = time.perf_counter()
            r = point(images, labels, cfg["T"], cfg["hidden"], cfg["batch"], args.repeats)
            results["axes"][axis].append({axis: v, **r})
            print(
                f"{axis}={v:6d}: eqsnn {r['eqsnn']['median_s']:.4f} s {r['eqsnn']['temp_mb']:8.1f} MB | "
                f"JAX {r['plain JAX']['median_s']:.4f} s {r['plain JAX']['temp_mb']:8.1f} MB | "
                f"ratio {r['ratio']:.2f} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "scaling.json"), "w") as f:
        json.dump(results, f, indent=1)
    plot(results, os.path.join(HERE, "scaling.png"))
    print("wrote benchmarks/results/scaling.json and benchmarks/scaling.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
