"""Break one W2 training step into its parts (forward / backward of each), median ms over 15 calls.

Run from the repository root: `python benchmarks/profile_w2.py` (needs the Fashion-MNIST files).
"""

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
x_all, y_all = eqsnn.data.fashion_mnist("train")
xb = jnp.asarray(x_all[:B].reshape(B, -1))
yb = jnp.asarray(y_all[:B])
model = eqsnn.models.SNN(784, 100, 10, key=jax.random.key(0), dt=1.0)


def enc(xb):
    st = latency_steps(xb.astype(jnp.float32) / 255.0, T, tau=20.0, dt=1.0)
    return jax.vmap(lambda s: SpikeSteps(s, T))(st)


def fwd(m, mon):
    xs = enc(xb)
    if mon:
        _, ys, mo = jax.vmap(lambda x: eqsnn.run(m, x, monitor=eqsnn.models.hidden_spikes))(xs)
        spk = mo["r.spike"]
        return (
            optax.softmax_cross_entropy_with_integer_labels(ys.max(1), yb).mean()
            + 1e-5 * spk.sum()
            + 1e-5 * jnp.mean(spk.sum((0, 1)) ** 2)
        )
    _, ys = jax.vmap(lambda x: eqsnn.run(m, x))(xs)
    return optax.softmax_cross_entropy_with_integer_labels(ys.max(1), yb).mean()


def currents_only(m):
    xs = enc(xb)
    return jax.vmap(m.prepare_inputs)(xs).sum()


def rec_only(m, u):
    def one(u):
        s = m.init_state()

        def body(s, ut):
            return m.step_prepared(s, ut)

        return jax.lax.scan(body, s, u)[1]

    ys = jax.vmap(one)(u)
    return optax.softmax_cross_entropy_with_integer_labels(ys.max(1), yb).mean()


u = eqx.filter_jit(lambda m: jax.vmap(m.prepare_inputs)(enc(xb)))(model)
cases = {
    "encode only": eqx.filter_jit(lambda m: enc(xb).times.sum()),
    "event proj fwd": eqx.filter_jit(currents_only),
    "event proj fwd+bwd": eqx.filter_jit(eqx.filter_grad(currents_only)),
    "recurrence fwd (u given)": eqx.filter_jit(lambda m: rec_only(m, u)),
    "recurrence fwd+bwd (u given)": eqx.filter_jit(eqx.filter_grad(lambda m: rec_only(m, u))),
    "full fwd, no monitor": eqx.filter_jit(lambda m: fwd(m, False)),
    "full fwd+bwd, no monitor": eqx.filter_jit(eqx.filter_grad(lambda m: fwd(m, False))),
    "full fwd+bwd, monitor+L1/L2": eqx.filter_jit(eqx.filter_grad(lambda m: fwd(m, True))),
}
for f in cases.values():
    jax.block_until_ready(f(model))
res = {k: [] for k in cases}
for r in range(15):
    for k, f in cases.items():
        t = time.perf_counter()
        jax.block_until_ready(f(model))
        res[k].append(time.perf_counter() - t)
for k in res:
    print(f"{k:35s} {1000 * np.median(res[k]):7.1f} ms")
