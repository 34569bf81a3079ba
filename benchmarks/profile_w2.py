"""Break one W2 training step into its parts (forward / backward of each), median ms over 15 calls.

Run from the repository root: `python benchmarks/profile_w2.py` (needs the Fashion-MNIST files).
Gradients are taken with `eqx.filter_grad`, i.e. of the trainable (inexact array) leaves only, as in training.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.encoding import latency_steps
from eqsnn.nn import SpikeSteps

B, T = 256, 100


def main() -> None:
    x_all, y_all = eqsnn.data.fashion_mnist("train")
    xb = jnp.asarray(x_all[:B].reshape(B, -1))
    yb = jnp.asarray(y_all[:B])
    model = eqsnn.models.SNN(784, 100, 10, key=jax.random.key(0), dt=1.0)

    def encode():
        steps = latency_steps(xb.astype(jnp.float32) / 255.0, T, tau=20.0, dt=1.0)
        return jax.vmap(lambda s: SpikeSteps(s, T))(steps)

    def ce(ys):
        return optax.softmax_cross_entropy_with_integer_labels(ys.max(1), yb).mean()

    def whole(m, monitor: bool):
        xs = encode()
        if not monitor:
            return ce(jax.vmap(lambda x: eqsnn.run(m, x)[1])(xs))
        _, ys, mon = jax.vmap(lambda x: eqsnn.run(m, x, monitor=eqsnn.models.hidden_spikes))(xs)
        spikes = mon["r.spike"]
        return ce(ys) + 1e-5 * spikes.sum() + 1e-5 * jnp.mean(spikes.sum((0, 1)) ** 2)

    def projection(m):
        prepare, _ = m._hoist()  # the graph's hoisted head: the event-driven input projection
        return jax.tree_util.tree_reduce(lambda a, b: a + b.sum(), jax.vmap(prepare)(encode()), 0.0)

    currents = eqx.filter_jit(lambda m: jax.vmap(m._hoist()[0])(encode()))(model)

    def recurrence(m):
        body = m._hoist()[1]

        def one(u):
            return jax.lax.scan(body.step, body.init_state(), u)[1]

        return ce(jax.vmap(one)(currents))

    cases = {
        "latency encoding": lambda m: encode().times.sum(),
        "event projection fwd": projection,
        "event projection fwd+bwd": eqx.filter_grad(projection),
        "recurrence fwd (currents given)": recurrence,
        "recurrence fwd+bwd (currents given)": eqx.filter_grad(recurrence),
        "whole model fwd, no monitor": lambda m: whole(m, False),
        "whole model fwd+bwd, no monitor": eqx.filter_grad(lambda m: whole(m, False)),
        "whole model fwd+bwd, monitor + L1/L2": eqx.filter_grad(lambda m: whole(m, True)),
    }
    cases = {name: eqx.filter_jit(f) for name, f in cases.items()}
    for f in cases.values():
        jax.block_until_ready(f(model))
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(15):  # interleaved, so load changes hit every case alike
        for name, f in cases.items():
            t0 = time.perf_counter()
            jax.block_until_ready(f(model))
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"{name:40s} {1000 * np.median(ts):7.1f} ms")


if __name__ == "__main__":
    main()
