"""Long sequences: W2's network at T = 10,000, batch 32, compiled temporary memory of the training step.

`python -m benchmarks.long_sequences [--T 10000] [--remat 10,15,25,50,100,200,400,auto] [--x64]`

For the plain scan and `run(..., remat=k)` for a few `k` (and `remat='auto'`, k = ceil(sqrt(T))), with the seed's loss (hidden spikes stacked
over time for the L1/L2 terms) and with the spike counts summed in the scan (`reduce_monitor="sum"`):
XLA's temporary buffers of the compiled step (`memory_analysis()`, deterministic), its compile time, and
the largest difference between the remat gradients and the plain scan's. Writes
`benchmarks/results/long_sequences.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn

from . import workloads as wl

RESULTS = os.path.join(os.path.dirname(__file__), "results")
LIMIT_MB = 64.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.long_sequences")
    ap.add_argument("--T", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--remat", default="10,15,25,50,100,200,400,auto")
    ap.add_argument("--no-grads", action="store_true", help="memory figures only")
    ap.add_argument("--x64", action="store_true", help="float64 (gradients to rounding; long_sequences-x64.json)")
    args = ap.parse_args(argv)
    if args.x64:
        jax.config.update("jax_enable_x64", True)
    images, labels, _ = wl.load_fashion_mnist()
    x_dev, y_dev = jnp.asarray(images), jnp.asarray(labels)
    ix = jnp.asarray(np.random.default_rng(3).integers(0, images.shape[0], args.batch).astype(np.int32))
    model = wl.snn_model(jax.random.key(0))
    optimizer = optax.adam(1e-3)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    ks = [None] + [k if k == "auto" else int(k) for k in args.remat.split(",") if k]
    rows = []
    for mode in ("event", "event+counts"):
        plain_grads = None
        for k in ks:
            step = eqsnn.train.make_step(wl.snn_loss_fn(args.T, mode, k), optimizer)
            c0 = time.process_time()
            compiled = step.lower(model, opt_state, (x_dev, y_dev, ix)).compile()
            compile_cpu = time.process_time() - c0
            temp_mb = compiled.memory_analysis().temp_size_in_bytes / 2**20
            row = dict(mode=mode, remat=k, temp_mb=temp_mb, compile_cpu_s=compile_cpu)
            if not args.no_grads:
                loss = wl.snn_loss_fn(args.T, mode, k)
                g = eqx.filter_jit(eqx.filter_grad(lambda m, b, f=loss: f(m, b)[0]))(model, (x_dev, y_dev, ix))
                leaves = [np.asarray(a) for a in jax.tree_util.tree_leaves(g)]
                if plain_grads is None:
                    plain_grads = leaves
                    row["grad_max_abs"] = max(float(np.abs(a).max()) for a in leaves)
                else:
                    row["grad_max_abs_diff"] = max(
                        float(np.abs(a - b).max()) for a, b in zip(leaves, plain_grads, strict=True)
                    )
                    row["grad_max_rel_diff"] = max(
                        float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
                        for a, b in zip(leaves, plain_grads, strict=True)
                    )
            rows.append(row)
            extra = {k2: v for k2, v in row.items() if k2.startswith("grad")}
            print(
                f"{mode:13} remat={str(k):5} temp {temp_mb:8.1f} MB  compile {compile_cpu:5.2f} s cpu  {extra}",
                flush=True,
            )
    best = {}
    for mode in ("event", "event+counts"):
        ok = [
            r["remat"] for r in rows if r["mode"] == mode and isinstance(r["remat"], int) and r["temp_mb"] <= LIMIT_MB
        ]
        best[mode] = min(ok) if ok else None
    out = dict(
        T=args.T,
        batch=args.batch,
        limit_mb=LIMIT_MB,
        rows=rows,
        smallest_remat_within_limit=best,
        versions=dict(jax=jax.__version__, eqsnn=eqsnn.__version__),
        date=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    os.makedirs(RESULTS, exist_ok=True)
    out["dtype"] = "float64" if args.x64 else "float32"
    name = "long_sequences-x64.json" if args.x64 else "long_sequences.json"
    with open(os.path.join(RESULTS, name), "w") as f:
        json.dump(out, f, indent=1)
    print("smallest remat within", LIMIT_MB, "MB:", best)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
