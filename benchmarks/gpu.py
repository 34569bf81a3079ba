"""The GPU run: W1, W2 (+ a measured epoch), W4 (SHD-shaped) and the Open Neuromorphic benchmark workload.

`python -m benchmarks.gpu` on a machine with a GPU (planned for one NVIDIA H200, under 5 minutes);
`python -m benchmarks.gpu --tiny` runs the same code at small sizes on any machine (a check that it works).

The Open Neuromorphic (ONB) SNN-library benchmark: one `Linear(N, N)` + LIF layer of N = 16,384 neurons,
batch 16, T = 500 steps of random input, forward + backward of the summed spikes (published figures on a
consumer GPU: Norse with torch.compile 0.109 s, SpikingJelly CuPy 0.118 s, snnTorch 3.08 s). eqsnn is
`Sequential(Linear(N, N), LIF(N))` (the Linear hoisted over the whole sequence), against the same math in
hand-written JAX (one matmul, then a scan). Writes `benchmarks/results/gpu.json` (or `gpu-tiny.json`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import eqsnn
from eqsnn.neurons import LIF
from eqsnn.nn import Linear

from . import __main__ as runner, baselines as bl, workloads as wl

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def onb_cases(n: int, batch: int, num_steps: int, key) -> dict:
    """ONB: Linear(n, n) + LIF(n), random input [batch, T, n], grad of the summed spikes w.r.t. the weights."""
    k1, k2 = jax.random.split(key)
    model = eqsnn.Sequential(Linear(n, n, key=k1), LIF(n, tau=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=1.0))
    xs = jax.random.uniform(k2, (batch, num_steps, n)) < 0.1  # spikes, as the ONB inputs
    xs = xs.astype(jnp.float32)

    @eqx.filter_jit
    def ours(m, x):
        def loss(m):
            return jnp.sum(jax.vmap(lambda s: eqsnn.run(m, s)[1])(x))

        return eqx.filter_value_and_grad(loss)(m)

    lin = model.layers[0]
    p = dict(w=lin.weight, b=lin.bias)
    a = math.exp(-1.0 / 10.0)

    @jax.jit
    def theirs(p, x):
        def loss(p):
            u = jnp.swapaxes(x, 0, 1) @ p["w"] + p["b"]  # [T, B, n]

            def body(v, u_t):
                v = u_t + (v - u_t) * a
                s = bl.spike(v - 1.0)
                return v - s, s

            _, s = jax.lax.scan(body, jnp.zeros((x.shape[0], n)), u)
            return jnp.sum(s)

        return jax.value_and_grad(loss)(p)

    return {
        "eqsnn": wl.Case(
            run=lambda i: jax.block_until_ready(ours(model, xs))[0],
            lower=lambda: ours.lower(model, xs).compile().compiled,
        ),
        "plain JAX": wl.Case(
            run=lambda i: jax.block_until_ready(theirs(p, xs))[0],
            lower=lambda: theirs.lower(p, xs).compile(),
            baseline=True,
        ),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu")
    ap.add_argument("--tiny", action="store_true", help="small sizes, runs anywhere in about a minute")
    ap.add_argument("--repeats", type=int, default=None)
    args_in = ap.parse_args(argv)
    tiny = args_in.tiny
    repeats = args_in.repeats or (2 if tiny else 20)
    args = argparse.Namespace(
        quick=tiny,  # W2: memory of two cases only; W4: 2048 synthetic samples
        repeats=repeats,
        epoch_samples=1024 if tiny else None,
        full_epoch=True,
        shd_events=500.0 if tiny else 8000.0,
        peers=None,
    )
    t_start = time.perf_counter()
    images, labels, source = wl.load_fashion_mnist()
    rng = np.random.default_rng(0)
    idx = jnp.asarray(rng.permutation(images.shape[0])[: 8 * wl.BATCH].reshape(8, wl.BATCH).astype(np.int32))
    key = jax.random.key(0)
    data = (images, labels, idx)
    results = dict(
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        mode="tiny" if tiny else "gpu",
        device=str(jax.devices()[0]),
        versions=dict(python=platform.python_version(), jax=jax.__version__, eqsnn=eqsnn.__version__),
        data=source,
        repeats=repeats,
        workloads={},
    )
    for name, fn in (("W1", runner.run_w1), ("W2", runner.run_w2), ("W4", runner.run_w4)):
        t0 = time.perf_counter()
        results["workloads"][name] = fn(args, data, key)
        print(f"{name} done in {time.perf_counter() - t0:.1f} s", flush=True)
    n, batch, num_steps = (512, 4, 50) if tiny else (16_384, 16, 500)
    t0 = time.perf_counter()
    cases = onb_cases(n, batch, num_steps, key)
    res = runner.time_interleaved(cases, max(3, repeats // 2), 2)
    for cname, case in cases.items():
        res[cname].update(runner.memory(case))
    runner.add_ratios(res, cases)
    results["workloads"]["ONB"] = dict(
        cases=res,
        note=(
            f"Open Neuromorphic benchmark: Linear({n}, {n}) + LIF({n}), batch {batch}, T = {num_steps}, "
            "forward + backward; published (consumer GPU): Norse+torch.compile 0.109 s, SpikingJelly CuPy "
            "0.118 s, snnTorch 3.08 s"
        ),
    )
    print(f"ONB done in {time.perf_counter() - t0:.1f} s", flush=True)
    results["total_s"] = time.perf_counter() - t_start
    print(runner.fmt_table(results, None))
    print(f"\ntotal {results['total_s']:.1f} s on {results['device']}")
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "gpu-tiny.json" if tiny else "gpu.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
