"""Monitors reduced over time inside the scan equal the stacked monitor reduced afterwards."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn.models import SNN, hidden_spikes


def _model_and_inputs(getkey, num_steps=30):
    model = SNN(12, 6, 3, key=getkey(), dt=1.0, tau_mem=5.0, tau_syn=4.0, tau_out=3.0, v_th=0.3)
    model = eqx.tree_at(lambda m: m.i2r.comm.weight, model, model.i2r.comm.weight * 3.0)
    xs = (jax.random.uniform(getkey(), (4, num_steps, 12)) < 0.2).astype(jnp.float32)
    return model, xs


def _loss(model, xs, reduce, checkpoint=None):
    def one(x):
        if reduce is None:
            _, ys, mon = eqsnn.run(model, x, monitor=hidden_spikes, remat=checkpoint)
            return ys, mon["r.spike"].sum(axis=0)  # counts per neuron, reduced after the scan
        _, ys, mon = eqsnn.run(model, x, monitor=hidden_spikes, reduce_monitor=reduce, remat=checkpoint)
        return ys, mon["r.spike"] * (x.shape[0] if reduce == "mean" else 1)

    ys, counts = jax.vmap(one)(xs)
    return ys.max(axis=1).sum() + 1e-2 * counts.sum() + 1e-3 * jnp.mean(counts.sum(axis=0) ** 2), counts


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("checkpoint", [None, 7])
def test_reduced_monitor_equals_stacked_then_reduced(getkey, x64, reduce, checkpoint):
    model, xs = _model_and_inputs(getkey)
    xs = xs.astype(jnp.float64)
    (l_ref, c_ref), g_ref = eqx.filter_value_and_grad(_loss, has_aux=True)(model, xs, None)
    (l_red, c_red), g_red = eqx.filter_value_and_grad(_loss, has_aux=True)(model, xs, reduce, checkpoint)
    assert float(c_ref.sum()) > 0, "the hidden layer should spike"
    np.testing.assert_allclose(np.asarray(c_red), np.asarray(c_ref), rtol=1e-12)
    np.testing.assert_allclose(float(l_red), float(l_ref), rtol=1e-12)
    for a, b in zip(jax.tree_util.tree_leaves(g_red), jax.tree_util.tree_leaves(g_ref), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-9, atol=1e-12)


def test_reduce_monitor_arguments_are_checked(getkey):
    model, xs = _model_and_inputs(getkey)
    with pytest.raises(ValueError, match="reduce_monitor"):
        eqsnn.run(model, xs[0], monitor=hidden_spikes, reduce_monitor="max")
    with pytest.raises(ValueError, match="monitor"):
        eqsnn.run(model, xs[0], reduce_monitor="sum")
    with pytest.raises(ValueError, match="reduce_monitor"):
        eqsnn.train.BPTT(lambda o, t, m: o.sum(), optax.sgd(0.1), reduce_monitor="last")


def test_bptt_with_reduced_monitors_trains_like_stacked(getkey):
    """The seed's loss written on [B, T, N] spikes and on [B, N] counts gives the same training run."""
    model, xs = _model_and_inputs(getkey)
    labels = jnp.arange(4, dtype=jnp.int32) % 3

    def loss_stacked(outputs, targets, monitored):
        spikes = monitored["r.spike"]
        return eqsnn.losses.cross_entropy(outputs.max(axis=1), targets) + 1e-2 * eqsnn.losses.spike_l2(spikes)

    def loss_counts(outputs, targets, monitored):
        counts = monitored["r.spike"]  # [B, N], already summed over time
        return eqsnn.losses.cross_entropy(outputs.max(axis=1), targets) + 1e-2 * eqsnn.losses.spike_l2(counts)

    monitors = {"r.spike": lambda s: s.r.spike}
    kw = dict(num_epochs=2, batch_size=2, key=getkey())
    a = eqsnn.train.BPTT(loss_stacked, optax.sgd(0.05), monitor=monitors, progress=False, verbose=False)
    b = eqsnn.train.BPTT(
        loss_counts, optax.sgd(0.05), monitor=monitors, reduce_monitor="sum", progress=False, verbose=False
    )
    model_a, hist_a = a.fit(model, (xs, labels), **kw)
    model_b, hist_b = b.fit(model, (xs, labels), **kw)
    np.testing.assert_allclose(
        hist_a.metric("fit", "loss", per="step"), hist_b.metric("fit", "loss", per="step"), rtol=1e-5
    )
    for p, q in zip(
        jax.tree_util.tree_leaves(eqx.filter(model_a, eqx.is_inexact_array)),
        jax.tree_util.tree_leaves(eqx.filter(model_b, eqx.is_inexact_array)),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-4, atol=1e-6)
