"""The quick-start example's hand-written model is the same network as `eqsnn.models.SNN` and as BrainPy's."""

from __future__ import annotations

import importlib.util
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import eqsnn
from eqsnn.models import SNN, hidden_spikes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "quickstart_snn.py")
DATA = os.path.join(ROOT, "tests", "data", "brainpy_seed_snn.npz")


def load_example():
    spec = importlib.util.spec_from_file_location("quickstart_snn", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def linear_arrays(m):
    return (m.i2r.comm.weight, m.i2r.comm.bias, m.r2o.comm.weight, m.r2o.comm.bias)


def test_quickstart_model_equals_snn_and_brainpy():
    example = load_example()
    with np.load(DATA) as f:
        ref = {k: f[k] for k in f.files}
    t = int(ref["num_steps"])
    xs = jnp.asarray(np.unpackbits(ref["x_bits"], axis=1, count=t).astype(np.float32))  # [4, T, 784]
    ref_spikes = np.unpackbits(ref["spike_bits"], axis=1, count=t).astype(np.float32)
    params = tuple(jnp.asarray(ref[k]) for k in ("w1", "b1", "w2", "b2"))

    # Different keys: the weights come from the reference, not from the initialisation.
    user = eqx.tree_at(linear_arrays, example.SNNModel(784, 100, 10, key=jax.random.key(1)), params)
    lib = eqx.tree_at(linear_arrays, SNN(784, 100, 10, key=jax.random.key(2)), params)

    @eqx.filter_jit
    def forward(model):
        return jax.vmap(lambda x: eqsnn.run(model, x, monitor=lambda s: s.r.spike))(xs)

    _, ys_user, spk_user = forward(user)
    _, ys_lib, mon_lib = eqx.filter_jit(lambda m: jax.vmap(lambda x: eqsnn.run(m, x, monitor=hidden_spikes))(xs))(lib)
    np.testing.assert_array_equal(np.asarray(spk_user), np.asarray(mon_lib["r.spike"]))
    np.testing.assert_allclose(
        np.asarray(ys_user), np.asarray(ys_lib), rtol=0, atol=1e-5 * float(jnp.max(jnp.abs(ys_lib)))
    )
    # ... and both are BrainPy's numbers (float32 reference, see test_parity_brainpy.py).
    np.testing.assert_array_equal(np.asarray(spk_user), ref_spikes)
    out_err = np.max(np.abs(np.asarray(ys_user) - ref["outputs"])) / np.max(np.abs(ref["outputs"]))
    assert out_err < 1e-4


def test_quickstart_loss_decreases_on_a_fixed_batch():
    example = load_example()
    model = example.SNNModel(784, 100, 10, key=jax.random.key(0))
    images = jax.random.uniform(jax.random.key(3), (8, 784))
    xs = jax.vmap(lambda x: eqsnn.encoding.latency(x, 50))(images)
    labels = jnp.arange(8) % 10
    opt_state = example.optim.init(eqx.filter(model, eqx.is_inexact_array))
    losses = []
    # optax.adam's bias correction raises a float to an int32 power: not allowed under strict promotion.
    with jax.numpy_dtype_promotion("standard"):
        for _ in range(3):
            model, opt_state, loss = example.train_step(model, opt_state, xs, labels)
            losses.append(float(loss))
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
