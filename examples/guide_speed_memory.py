"""Speed and memory of a BPTT step: event-driven input, reduced monitors, rematerialisation.

    python examples/guide_speed_memory.py              # T = 1000, batch 16 (about a minute on 2 CPU cores)
    python examples/guide_speed_memory.py --smoke      # a few seconds

Prints the time of a training step with event-driven and dense input (interleaved, median ratio), the compiled
temporary memory of the step with stacked and reduced monitors and for several `remat=` segment lengths, and
writes `remat_memory.png` and `summary.json` to `--out`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.encoding import latency_steps
from eqsnn.nn import SpikeSteps


def temp_mb(fn, *args) -> float:
    """XLA's compiled temporary buffers of `fn(*args)` in MB (deterministic, no run needed)."""
    compiled = eqx.filter_jit(fn).lower(*args).compile()
    return compiled.compiled.memory_analysis().temp_size_in_bytes / 2**20  # the XLA executable behind filter_jit


def median_seconds(fn, *args, repeats: int) -> float:
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, for the tests")
    p.add_argument("--out", type=Path, default=Path("runs/guide-speed-memory"))
    args = p.parse_args(argv)
    num_steps, batch, repeats = (200, 4, 3) if args.smoke else (1000, 16, 10)
    args.out.mkdir(parents=True, exist_ok=True)

    # --8<-- [start:setup]
    model = eqsnn.models.SNN(784, 100, 10, key=jax.random.key(0), dt=1.0)
    images = jax.random.uniform(jax.random.key(1), (batch, 784))
    labels = jnp.arange(batch) % 10
    steps = latency_steps(images, num_steps, tau=num_steps / 5, dt=1.0)  # [B, 784] spike step of each pixel

    def loss(model, xs, reduce=None, remat=None):
        run = lambda x: eqsnn.run(model, x, monitor=eqsnn.models.hidden_spikes, reduce_monitor=reduce, remat=remat)
        _, ys, mon = jax.vmap(run)(xs)  # mon["r.spike"]: [B, T, 100] stacked, or [B, 100] counts when summed
        counts = mon["r.spike"] if reduce == "sum" else mon["r.spike"].sum(axis=1)
        l1, l2 = jnp.sum(counts), jnp.mean(jnp.sum(counts, axis=0) ** 2)  # the tutorial's spike regularisers
        return eqsnn.losses.cross_entropy(ys.max(axis=1), labels) + 1e-5 * (l1 + l2)

    # --8<-- [end:setup]

    # --8<-- [start:event]
    events = jax.vmap(lambda s: SpikeSteps(s, num_steps))(steps)  # [B] sequences of 784 ints each
    dense = jax.vmap(lambda s: s.dense())(events)  # [B, T, 784] 0/1 spike trains
    step_event = eqx.filter_jit(lambda m, x: eqx.filter_grad(loss)(m, x, "sum"))
    step_dense = eqx.filter_jit(lambda m, x: eqx.filter_grad(loss)(m, x, "sum"))
    t_event = median_seconds(step_event, model, events, repeats=repeats)
    t_dense = median_seconds(step_dense, model, dense, repeats=repeats)
    # --8<-- [end:event]
    print(f"training step, event input {t_event * 1e3:.1f} ms, dense input {t_dense * 1e3:.1f} ms "
          f"(dense / event = {t_dense / t_event:.2f})")  # fmt: skip

    # --8<-- [start:reduce]
    stacked = temp_mb(lambda m, x: eqx.filter_grad(loss)(m, x, None), model, events)
    reduced = temp_mb(lambda m, x: eqx.filter_grad(loss)(m, x, "sum"), model, events)
    # --8<-- [end:reduce]
    print(f"temporary memory, monitor stacked [B, T, 100]: {stacked:.1f} MB, summed in the scan: {reduced:.1f} MB")

    # --8<-- [start:remat]
    segments = [None, 10, 32, 100] if not args.smoke else [None, 10, 20]
    memory = {}
    for k in segments:
        memory[k] = temp_mb(lambda m, x, k=k: eqx.filter_grad(loss)(m, x, "sum", k), model, events)
    g_plain = step_event(model, events)
    g_remat = eqx.filter_jit(lambda m, x: eqx.filter_grad(loss)(m, x, "sum", segments[-1]))(model, events)
    diff = max(
        float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(g_plain), jax.tree.leaves(g_remat), strict=True)
    )
    # --8<-- [end:remat]
    for k, mb in memory.items():
        print(f"remat={k}: {mb:.1f} MB temporary memory")
    print(f"largest gradient difference, remat={segments[-1]} vs the plain scan: {diff:.2e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    names = ["plain scan" if k is None else f"remat={k}" for k in memory]
    ax.bar(names, list(memory.values()), color="tab:blue")
    ax.set_ylabel("temporary memory (MB)")
    ax.set_title(f"BPTT step of the tutorial SNN, T = {num_steps}, batch {batch}")
    fig.tight_layout()
    fig.savefig(args.out / "remat_memory.png", dpi=100)
    plt.close(fig)

    # --8<-- [start:devices]
    if len(jax.devices()) > 1:  # e.g. XLA_FLAGS=--xla_force_host_platform_device_count=4 on a CPU
        trainer = eqsnn.train.BPTT(lambda ys, y, mon: eqsnn.losses.cross_entropy(ys.max(axis=1), y), optax.adam(1e-3))
        trainer.fit(model, (dense, labels), num_epochs=1, batch_size=batch, key=jax.random.key(2), devices=2)
    # --8<-- [end:devices]

    summary = {
        "num_steps": num_steps,
        "batch": batch,
        "step_ms": {"event": t_event * 1e3, "dense": t_dense * 1e3},
        "temp_mb": {"stacked": stacked, "reduced": reduced, **{f"remat={k}": v for k, v in memory.items()}},
        "remat_grad_max_abs_diff": diff,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
