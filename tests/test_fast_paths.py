"""Fast paths equal the plain step-by-step computation, in values and gradients.

* the event-driven projection (`eqsnn.nn.event_matmul`) against a NumPy loop
  over spikes and against the dense one-hot matmul, alone, batched, and
  differentiated in every order (grad of vmap, grad of one sample, vmap of
  grad, jvp);
* `eqsnn.models.SNN` fed `SpikeSteps` (event path, hoisted projection) against
  a Python loop of `SNN.step` on the dense spike train;
* `eqsnn.run(..., remat=k)` against the plain scan.
"""

import equinox as eqx
from helpers import jaxpr_shapes
from hypothesis import given, settings, strategies as st
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn.models import SNN, hidden_spikes
from eqsnn.nn import SpikeSteps, event_matmul, first_spike_steps

T, N_IN, N_OUT = 9, 12, 5


def numpy_event_matmul(times, weight, num_steps):
    """Reference: loop over the inputs, add the weight row at the spike step."""
    out = np.zeros((num_steps, weight.shape[1]))
    for i, t in enumerate(np.asarray(times)):
        if 0 <= t < num_steps:
            out[t] += np.asarray(weight[i], dtype=np.float64)
    return out


def numpy_event_grad(times, cot, num_steps):
    """Reference gradient: dL/dW_i = cot[t_i], zero for an input that never spikes."""
    cot = np.asarray(cot, dtype=np.float64)
    out = np.zeros((len(times), cot.shape[1]))
    for i, t in enumerate(np.asarray(times)):
        if 0 <= t < num_steps:
            out[i] = cot[t]
    return out


times_strategy = hnp.arrays(np.int32, (N_IN,), elements=st.integers(-3, T + 3))


@settings(max_examples=15)
@given(times=times_strategy, seed=st.integers(0, 2**16))
def test_event_matmul_equals_numpy_loop(times, seed):
    weight = jax.random.normal(jax.random.key(seed), (N_IN, N_OUT))
    cot = jax.random.normal(jax.random.key(seed + 1), (T, N_OUT))
    u, vjp = jax.vjp(lambda w: event_matmul(jnp.asarray(times), w, T), weight)
    np.testing.assert_allclose(u, numpy_event_matmul(times, weight, T), rtol=1e-5, atol=1e-5)
    (dw,) = vjp(cot)
    np.testing.assert_allclose(dw, numpy_event_grad(times, cot, T), rtol=1e-6, atol=1e-6)


def _batch(getkey, batch=4):
    times = jax.random.randint(getkey(), (batch, N_IN), -1, T + 2)
    weight = jax.random.normal(getkey(), (N_IN, N_OUT))
    cot = jax.random.normal(getkey(), (batch, T, N_OUT))
    return times, weight, cot


def test_event_matmul_batched_values_and_grads(getkey):
    times, weight, cot = _batch(getkey)

    def loss(w):
        u = jax.vmap(lambda t: event_matmul(t, w, T))(times)
        return jnp.sum(u * cot)

    value, grad = jax.jit(jax.value_and_grad(loss))(weight)
    ref_u = np.stack([numpy_event_matmul(t, weight, T) for t in np.asarray(times)])
    ref_g = sum(numpy_event_grad(t, c, T) for t, c in zip(np.asarray(times), np.asarray(cot), strict=True))
    np.testing.assert_allclose(value, np.sum(ref_u * np.asarray(cot)), rtol=1e-5)
    np.testing.assert_allclose(grad, ref_g, rtol=1e-5, atol=1e-6)


def test_event_matmul_per_example_grads_and_jvp(getkey):
    times, weight, cot = _batch(getkey)
    per_example = jax.vmap(jax.grad(lambda w, t, c: jnp.sum(event_matmul(t, w, T) * c)), in_axes=(None, 0, 0))
    got = per_example(weight, times, cot)
    for b in range(times.shape[0]):
        np.testing.assert_allclose(got[b], numpy_event_grad(times[b], cot[b], T), rtol=1e-6, atol=1e-6)
    tangent = jax.random.normal(getkey(), weight.shape)
    _, tout = jax.jvp(lambda w: event_matmul(times[0], w, T), (weight,), (tangent,))
    np.testing.assert_allclose(tout, numpy_event_matmul(times[0], tangent, T), rtol=1e-5, atol=1e-5)


def test_event_matmul_batched_weights(getkey):
    """vmap over weights (an ensemble of models), with and without batched times."""
    times, _, _ = _batch(getkey, batch=3)
    weights = jax.random.normal(getkey(), (3, N_IN, N_OUT))
    both = jax.vmap(lambda t, w: event_matmul(t, w, T))(times, weights)
    only_w = jax.vmap(lambda w: event_matmul(times[0], w, T))(weights)
    for b in range(3):
        np.testing.assert_allclose(both[b], numpy_event_matmul(times[b], weights[b], T), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(only_w[b], numpy_event_matmul(times[0], weights[b], T), rtol=1e-5, atol=1e-5)


def test_event_matmul_batched_grad_never_builds_per_sample_weights(getkey):
    """The batched gradient accumulates dW in a loop: no [batch, n_in, n_out] array appears."""
    batch = 7
    times, weight, cot = _batch(getkey, batch=batch)
    jaxpr = jax.make_jaxpr(jax.grad(lambda w: jnp.sum(jax.vmap(lambda t: event_matmul(t, w, T))(times) * cot)))(weight)
    shapes = jaxpr_shapes(jaxpr)
    assert (batch, N_IN, N_OUT) not in shapes
    assert (N_IN, N_OUT) in shapes


def test_event_matmul_checks_arguments():
    with pytest.raises(TypeError, match="times"):
        event_matmul(jnp.zeros((N_IN,)), jnp.zeros((N_IN, N_OUT)), T)
    with pytest.raises((TypeError, ValueError), match="weight"):
        event_matmul(jnp.zeros((N_IN,), jnp.int32), jnp.zeros((N_IN + 1, N_OUT)), T)
    with pytest.raises(ValueError, match="`num_steps`"):
        event_matmul(jnp.zeros((N_IN,), jnp.int32), jnp.zeros((N_IN, N_OUT)), 0)


@settings(max_examples=15)
@given(times=times_strategy)
def test_spike_steps_dense_and_first_spike_round_trip(times):
    spikes = SpikeSteps(jnp.asarray(times), T).dense()
    ref = np.zeros((T, N_IN))
    for i, t in enumerate(times):
        if 0 <= t < T:
            ref[t, i] = 1.0
    np.testing.assert_array_equal(spikes, ref)
    expected = np.where((times >= 0) & (times < T), times, T)
    np.testing.assert_array_equal(first_spike_steps(spikes), expected)


def _snn_loss(model, xs, labels, *, checkpoint=None):
    def one(x):
        _, ys, mon = eqsnn.run(model, x, monitor=hidden_spikes, remat=checkpoint)
        return ys, mon["r.spike"]

    ys, spikes = jax.vmap(one)(xs)
    logits = ys.max(axis=1)
    ce = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))
    return ce + 1e-5 * spikes.sum() + 1e-5 * jnp.mean(spikes.sum(axis=(0, 1)) ** 2)


def _snn_and_inputs(getkey, batch=3, num_steps=T):
    model = SNN(N_IN, 6, 3, key=getkey(), dt=1.0, tau_mem=5.0, tau_syn=4.0, tau_out=3.0, v_th=0.3)
    times = jax.random.randint(getkey(), (batch, N_IN), 0, num_steps + 3)
    labels = jax.random.randint(getkey(), (batch,), 0, 3)
    return model, times, labels


def test_snn_event_path_equals_step_loop(getkey):
    model, times, _ = _snn_and_inputs(getkey)
    for b in range(times.shape[0]):
        _, ys = eqsnn.run(model, SpikeSteps(times[b], T))
        dense = np.zeros((T, N_IN), np.float32)
        for i, t in enumerate(np.asarray(times[b])):
            if t < T:
                dense[t, i] = 1.0
        state, loop = model.init_state(), []
        for t in range(T):
            state, y = model.step(state, jnp.asarray(dense[t]))
            loop.append(y)
        np.testing.assert_allclose(ys, np.stack(loop), rtol=1e-5, atol=1e-5)


@settings(max_examples=15)
@given(times=times_strategy, start=st.integers(0, T - 1), size=st.integers(1, T))
def test_spike_steps_segment_is_a_slice_of_the_train(times, start, size):
    size = min(size, T - start)  # a segment lies inside the sequence
    xs = SpikeSteps(jnp.asarray(times), T)
    seg = xs.segment(start, size)
    full = np.asarray(xs.dense())
    assert seg.num_steps == size
    np.testing.assert_array_equal(np.asarray(seg.dense()), full[start : start + size])


def test_model_without_event_path_gets_the_dense_train(getkey):
    """Any model accepts SpikeSteps: run() materialises it when prepare_inputs does not consume it."""
    model = eqsnn.Sequential(eqsnn.nn.OneToOne(N_IN, weight=2.0), eqsnn.neurons.LIF(N_IN, v_th=0.5, dt=1.0))
    times = jax.random.randint(getkey(), (N_IN,), 0, T + 3)
    xs = SpikeSteps(times, T)
    _, y_ev = eqsnn.run(model, xs)
    _, y_de = eqsnn.run(model, xs.dense())
    np.testing.assert_array_equal(np.asarray(y_ev), np.asarray(y_de))
    _, y_ck = eqsnn.run(model, xs, remat=3)
    np.testing.assert_array_equal(np.asarray(y_ck), np.asarray(y_de))


def test_any_linear_input_layer_takes_the_event_path(getkey):
    """The event path belongs to Linear, so Sequential(Linear, ...) uses it too, with the dense result."""
    model = eqsnn.Sequential(eqsnn.nn.Linear(N_IN, 4, key=getkey()), eqsnn.neurons.LIF(4, v_th=0.2, dt=1.0))
    times = jax.random.randint(getkey(), (N_IN,), 0, T + 3)
    xs = SpikeSteps(times, T)
    jaxpr = str(jax.make_jaxpr(lambda m: eqsnn.run(m, xs)[1])(model))
    assert "eqsnn_event_rows" in jaxpr
    _, y_ev = eqsnn.run(model, xs)
    _, y_de = eqsnn.run(model, xs.dense())
    np.testing.assert_allclose(np.asarray(y_ev), np.asarray(y_de), rtol=1e-6, atol=1e-6)


class _Doubler(eqsnn.AbstractDynamics):
    """A stateless layer written against the bare protocol (no fast path of its own)."""

    def init_state(self, *, key=None):
        return None

    def step(self, state, x):
        return None, 2.0 * x


def test_stateless_layer_without_fast_path_in_sequential_and_projection(getkey):
    xs = jax.random.uniform(getkey(), (T, 4))
    seq = eqsnn.Sequential(_Doubler(), eqsnn.neurons.Leaky(4, dt=1.0))
    _, ys = eqsnn.run(seq, xs)
    x_ref, ref = np.zeros(4), []
    for t in range(T):  # the closed form of Leaky after doubling: x <- a x + 2 u
        x_ref = np.exp(-1.0 / 10.0) * x_ref + 2.0 * np.asarray(xs[t])
        ref.append(x_ref)
    np.testing.assert_allclose(np.asarray(ys), np.stack(ref), rtol=1e-5)
    proj = eqsnn.Projection(_Doubler(), eqsnn.synapses.Expon(4, dt=1.0))
    _, gs = eqsnn.run(proj, xs)
    g_ref = np.zeros(4)
    for t in range(T):
        g_ref = np.exp(-1.0 / 8.0) * g_ref + 2.0 * np.asarray(xs[t])
        np.testing.assert_allclose(np.asarray(gs[t]), g_ref, rtol=1e-5)


def test_snn_event_path_gradients_equal_dense(getkey):
    model, times, labels = _snn_and_inputs(getkey)
    # make the hidden layer spike so that the surrogate gradient path is exercised
    model = eqx.tree_at(lambda m: m.i2r.comm.weight, model, model.i2r.comm.weight * 3.0)
    events = jax.vmap(lambda t: SpikeSteps(t, T))(times)
    dense = jax.vmap(lambda t: SpikeSteps(t, T).dense())(times)
    l_ev, g_ev = eqx.filter_jit(eqx.filter_value_and_grad(_snn_loss))(model, events, labels)
    l_de, g_de = eqx.filter_jit(eqx.filter_value_and_grad(_snn_loss))(model, dense, labels)
    np.testing.assert_allclose(l_ev, l_de, rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(g_ev), jax.tree_util.tree_leaves(g_de), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert float(jnp.abs(g_ev.i2r.comm.weight).max()) > 0.0


@pytest.mark.parametrize("segment", [1, 4, 5])
def test_checkpointed_run_equals_plain_scan(getkey, segment):
    num_steps = 20
    model, times, labels = _snn_and_inputs(getkey, num_steps=num_steps)
    model = eqx.tree_at(lambda m: m.i2r.comm.weight, model, model.i2r.comm.weight * 3.0)
    events = jax.vmap(lambda t: SpikeSteps(t, num_steps))(times)
    grad = eqx.filter_jit(eqx.filter_value_and_grad(_snn_loss))
    l_plain, g_plain = grad(model, events, labels)
    l_ck, g_ck = eqx.filter_jit(eqx.filter_value_and_grad(lambda m, x, y: _snn_loss(m, x, y, checkpoint=segment)))(
        model, events, labels
    )
    np.testing.assert_allclose(l_ck, l_plain, rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(g_ck), jax.tree_util.tree_leaves(g_plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
