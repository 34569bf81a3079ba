"""Recurrent cells: fast path == step loop == Equinox's cells; NumPy reference for RNNCell."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn.nn import GRUCell, Linear, LSTMCell, LSTMState, RNNCell

T, IN, H = 5, 4, 6


def _xs(seed=0, t=T, n=IN):
    return jax.random.normal(jax.random.key(seed), (t, n))


def _step_loop(cell, xs):
    state = cell.init_state()
    ys = []
    for x in xs:
        state, y = cell.step(state, x)
        ys.append(y)
    return jnp.stack(ys)


def _eqx_loop_lstm(eqx_cell, xs):
    hidden = (jnp.zeros(H), jnp.zeros(H))
    hs = []
    for x in xs:
        hidden = eqx_cell(x, hidden)
        hs.append(hidden[0])
    return jnp.stack(hs)


def _eqx_loop_gru(eqx_cell, xs):
    h = jnp.zeros(H)
    hs = []
    for x in xs:
        h = eqx_cell(x, h)
        hs.append(h)
    return jnp.stack(hs)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fast_path_equals_step_loop_equals_equinox(kind):
    if kind == "lstm":
        cell, ref = LSTMCell(IN, H, key=jax.random.key(1)), _eqx_loop_lstm
    else:
        cell, ref = GRUCell(IN, H, key=jax.random.key(1)), _eqx_loop_gru
    xs = _xs()
    # a loss that weights every time step and unit differently
    w = jnp.arange(T * H, dtype=jnp.float32).reshape(T, H) / (T * H)
    paths = (
        lambda c: eqsnn.run(c, xs)[1],  # prepare_inputs + step_prepared under lax.scan
        lambda c: _step_loop(c, xs),  # a Python loop of `step`
        lambda c: ref(c.cell, xs),  # Equinox's own cell, step by step
    )

    @eqx.filter_jit
    def values_and_grads(c):
        ys = [f(c) for f in paths]
        gs = [eqx.filter_grad(lambda c_, f=f: jnp.sum(w * f(c_)))(c) for f in paths]
        return ys, gs

    (y_run, y_steps, y_eqx), (g_run, g_steps, g_eqx) = values_and_grads(cell)
    assert y_run.shape == (T, H)
    np.testing.assert_allclose(y_run, y_eqx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y_steps, y_eqx, rtol=1e-5, atol=1e-6)
    leaves = [jax.tree.leaves(g) for g in (g_run, g_steps, g_eqx)]
    for a, b, c in zip(*leaves, strict=True):
        assert float(jnp.max(jnp.abs(c))) > 0
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(b, c, rtol=1e-4, atol=1e-6)


def test_rnncell_against_numpy_reference():
    cell = RNNCell(IN, H, key=jax.random.key(2))
    xs = _xs(3)
    W_ih, W_hh, b = (np.asarray(a, dtype=np.float64) for a in (cell.weight_ih, cell.weight_hh, cell.bias))
    h = np.zeros(H)
    ref = []
    for x in np.asarray(xs, dtype=np.float64):
        h = np.tanh(np.einsum("hi,i->h", W_ih, x) + np.einsum("hk,k->h", W_hh, h) + b)
        ref.append(h)
    _, ys = eqsnn.run(cell, xs)
    np.testing.assert_allclose(ys, np.stack(ref), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(eqx.filter_jit(_step_loop)(cell, xs), np.stack(ref), rtol=1e-5, atol=1e-6)

    relu = RNNCell(IN, H, nonlinearity="relu", key=jax.random.key(2))
    _, yr = eqsnn.run(relu, xs)
    h = np.zeros(H)
    for x in np.asarray(xs, dtype=np.float64):
        h = np.maximum(W_ih @ x + W_hh @ h + b, 0.0)
    np.testing.assert_allclose(yr[-1], h, rtol=1e-5, atol=1e-6)


def test_seed_lstm_model_runs_step_by_step():
    """The LSTM is stepped as it is: its input projection is not hoisted (on a CPU the
    hoisted form's backward pass costs more than it saves, see benchmarks/README.md)."""
    k1, k2 = jax.random.split(jax.random.key(0))
    model = eqsnn.Sequential(LSTMCell(28, 100, key=k1), Linear(100, 10, key=k2))
    xs = jax.random.uniform(jax.random.key(5), (28, 28))
    assert model._hoist()[0] is None
    cell = model.layers[0].cell
    state, ys = eqsnn.run(model, xs)
    assert ys.shape == (28, 10)
    assert isinstance(state[0], LSTMState) and state[1] is None
    # equals the Equinox cell followed by the readout, step by step
    hs = _eqx_scan_lstm(cell, xs, 100)
    ref = hs @ model.layers[1].weight + model.layers[1].bias
    np.testing.assert_allclose(ys, ref, rtol=1e-5, atol=1e-5)
    # `>>` builds the same model
    assert (model.layers[0] >> model.layers[1]).layers == model.layers


@eqx.filter_jit
def _eqx_scan_lstm(eqx_cell, xs, hidden):
    """Equinox's cell applied step by step (its docstring's scan)."""

    def body(carry, x):
        carry = eqx_cell(x, carry)
        return carry, carry[0]

    return jax.lax.scan(body, (jnp.zeros(hidden), jnp.zeros(hidden)), xs)[1]


@pytest.mark.parametrize("cls", [LSTMCell, GRUCell, RNNCell])
def test_vmapped_batch_equals_loop_over_samples(cls):
    cell = cls(IN, H, key=jax.random.key(4))
    xb = jax.random.normal(jax.random.key(6), (3, T, IN))
    _, yb = jax.vmap(lambda xs: eqsnn.run(cell, xs))(xb)
    for i in range(3):
        np.testing.assert_allclose(yb[i], eqx.filter_jit(_step_loop)(cell, xb[i]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [LSTMCell, GRUCell, RNNCell])
def test_trainable_leaves_are_exactly_the_weights(cls):
    cell = cls(IN, H, key=jax.random.key(0))
    params, _ = eqx.partition(cell, eqx.is_inexact_array)
    sizes = sorted(int(np.size(p)) for p in jax.tree.leaves(params))
    gates = {LSTMCell: 4, GRUCell: 3, RNNCell: 1}[cls]
    expected = [gates * H, gates * H * H, gates * H * IN] + ([H] if cls is GRUCell else [])
    assert sizes == sorted(expected)


@pytest.mark.parametrize("cls", [LSTMCell, GRUCell, RNNCell])
def test_bad_inputs_name_the_argument(cls):
    cell = cls(IN, H, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"`x` must have shape \(4,\).*got shape \(3,\)"):
        cell.step(cell.init_state(), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"`x` must have shape \(4,\).*got shape \(3,\)"):
        eqsnn.run(cell, jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="hidden_size"):
        cls(IN, 0, key=jax.random.key(0))
