"""Parity of `eqsnn.models.SNN` with BrainPy 2.8 on the BPTT tutorial's network.

The reference numbers in `data/brainpy_seed_snn.npz` were produced by BrainPy
itself (`data/make_brainpy_reference.py`, training mode, dt = 0.1 ms, the
`bp.BPTT` trainer's gradient step) for one batch of 4 latency-coded samples,
in float32 and, with the same weights and inputs, in float64. The loss here is
written with jax/optax, independently of eqsnn.

Error measures: for outputs and potentials the max-norm relative error
max|a - b| / max|b|; for gradients the Frobenius relative error
||a - b||_F / ||b||_F per array.

Float32 gradient tolerance: the input-layer gradients pass through the
InvSquare(100) surrogate, whose log-slope is about 2 alpha = 200 per mV near
threshold, so float32 rounding of the potential (~1e-6 relative) becomes
~3e-4 relative in those gradients; BrainPy's own float32 gradients differ from
its float64 ones by that much. The float32 check therefore allows 1e-3, and
the float64 check, where rounding is out of the way, is tight.
"""

from __future__ import annotations

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn.models import SNN, hidden_spikes

DATA = os.path.join(os.path.dirname(__file__), "data", "brainpy_seed_snn.npz")
GRAD_NAMES = ("w1", "b1", "w2", "b2")


@pytest.fixture(scope="module")
def ref():
    with np.load(DATA) as f:
        d = {k: f[k] for k in f.files}
    t = int(d["num_steps"])
    d["xs"] = np.unpackbits(d["x_bits"], axis=1, count=t).astype(np.float32)  # [B, T, 784]
    d["spikes"] = np.unpackbits(d["spike_bits"], axis=1, count=t).astype(np.float32)  # [B, T, 100]
    return d


def max_rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def fro_rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def build(d, dtype) -> SNN:
    model = SNN(784, 100, 10, key=jax.random.key(0), dt=float(d["dt"]))
    where = lambda m: (m.i2r.comm.weight, m.i2r.comm.bias, m.r2o.comm.weight, m.r2o.comm.bias)
    return eqx.tree_at(where, model, tuple(jnp.asarray(d[k], dtype=dtype) for k in GRAD_NAMES))


def forward(model: SNN, xs):
    return jax.vmap(lambda x: eqsnn.run(model, x, monitor=hidden_spikes))(xs)


def seed_loss(model: SNN, xs, labels):
    """The tutorial's loss: cross-entropy of the max over time, plus L1 and L2 on the hidden spikes."""
    _, ys, mon = forward(model, xs)
    spikes = mon["r.spike"]  # [B, T, N]
    l1 = 1e-5 * jnp.sum(spikes)
    l2 = 1e-5 * jnp.mean(jnp.sum(spikes, axis=(0, 1)) ** 2)
    ce = optax.softmax_cross_entropy_with_integer_labels(jnp.max(ys, axis=1), labels).mean()
    return ce + l1 + l2


def grads_of(g: SNN) -> dict[str, np.ndarray]:
    arrays = (g.i2r.comm.weight, g.i2r.comm.bias, g.r2o.comm.weight, g.r2o.comm.bias)
    return {k: np.asarray(a) for k, a in zip(GRAD_NAMES, arrays, strict=True)}


def test_reference_is_meaningful(ref):
    # The check is only as strong as the activity it sees.
    rate = ref["spikes"].mean()
    assert 0.05 <= rate <= 0.3, rate
    assert ref["threshold_margin"] > 1e-5  # no potential within rounding error of the threshold
    assert str(ref["brainpy_version"]).startswith("2.8")


def test_forward_float32(ref):
    model = build(ref, jnp.float32)
    state, ys, mon = eqx.filter_jit(forward)(model, jnp.asarray(ref["xs"]))
    assert ys.dtype == jnp.float32
    assert max_rel(ys, ref["outputs"]) < 1e-4
    np.testing.assert_array_equal(np.asarray(mon["r.spike"]), ref["spikes"])
    assert max_rel(state.r.v, ref["v_final"]) < 1e-4


def test_loss_and_grads_float32(ref):
    model = build(ref, jnp.float32)
    loss, g = eqx.filter_jit(eqx.filter_value_and_grad(seed_loss))(
        model, jnp.asarray(ref["xs"]), jnp.asarray(ref["labels"])
    )
    assert abs(float(loss) - float(ref["loss"])) < 1e-5 * abs(float(ref["loss"]))
    grads = grads_of(g)
    for k in GRAD_NAMES:
        assert grads[k].dtype == np.float32
        assert fro_rel(grads[k], ref["grad_" + k]) < 1e-3, k
        # and no worse than BrainPy's own float32 gradient is from its float64 one, with some slack
        floor = fro_rel(ref["grad_" + k], ref["grad_" + k + "_f64"])
        assert fro_rel(grads[k], ref["grad_" + k + "_f64"]) < 2 * floor + 1e-5, k


def test_forward_loss_grads_float64(ref):
    with jax.enable_x64(True):
        model = build(ref, jnp.float64)
        xs = jnp.asarray(ref["xs"], dtype=jnp.float64)
        state, ys, mon = eqx.filter_jit(forward)(model, xs)
        loss, g = eqx.filter_jit(eqx.filter_value_and_grad(seed_loss))(model, xs, jnp.asarray(ref["labels"]))
        assert ys.dtype == jnp.float64
        assert max_rel(ys, ref["outputs_f64"]) < 1e-12
        np.testing.assert_array_equal(np.asarray(mon["r.spike"]), ref["spikes"])
        assert max_rel(state.r.v, ref["v_final_f64"]) < 1e-12
        assert abs(float(loss) - float(ref["loss_f64"])) < 1e-13 * abs(float(ref["loss_f64"]))
        grads = grads_of(g)
        for k in GRAD_NAMES:
            assert fro_rel(grads[k], ref["grad_" + k + "_f64"]) < 1e-10, k


def test_step_loop_equals_run(ref):
    model = build(ref, jnp.float32)
    xs = jnp.asarray(ref["xs"])
    _, ys_run, mon_run = eqx.filter_jit(forward)(model, xs)

    step = eqx.filter_jit(lambda m, s, x: jax.vmap(m.step)(s, x))
    state = jax.vmap(lambda _: model.init_state())(jnp.arange(xs.shape[0]))
    ys, spikes = [], []
    for t in range(xs.shape[1]):
        state, y = step(model, state, xs[:, t])
        ys.append(y)
        spikes.append(state.r.spike)
    ys, spikes = jnp.stack(ys, axis=1), jnp.stack(spikes, axis=1)
    np.testing.assert_array_equal(np.asarray(spikes), np.asarray(mon_run["r.spike"]))
    assert max_rel(ys, ys_run) < 1e-5
    assert max_rel(ys, ref["outputs"]) < 1e-4
