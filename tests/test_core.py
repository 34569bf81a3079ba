"""The dynamics protocol: run, monitors, checkpointing, Sequential, Linear, Projection,
models.SNN (against a NumPy re-implementation of its update order), and argument checks."""

import inspect
import math

import equinox as eqx
from helpers import linear, tree_allclose, uniform
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn import models, neurons, nn, outputs, synapses

_step = eqx.filter_jit(lambda model, state, x: model.step(state, x))


def _loop(model, xs, state=None):
    """A Python loop of (compiled) `step`: the reference for run's scan."""
    state = model.init_state() if state is None else state
    ys, states = [], []
    for x in xs:
        state, y = _step(model, state, x)
        ys.append(y)
        states.append(state)
    return state, jnp.stack(ys), states


def _net(seed=0):
    lin1, lin2 = linear(3, 4, seed=seed, scale=2.0), linear(4, 2, seed=seed + 1)
    return lin1 >> synapses.Expon(4, tau=2.0) >> neurons.LIF(4, v_th=0.5) >> lin2


# --------------------------------------------------------------------------- #
# run
# --------------------------------------------------------------------------- #


def test_run_matches_step_loop_and_state_none_is_init():
    model = _net()
    xs = uniform((30, 3), 0.0, 3.0, seed=15)
    final, ys = eqsnn.run(model, xs)
    ref_final, ref_ys, _ = _loop(model, xs)
    assert tree_allclose((final, ys), (ref_final, ref_ys), rtol=1e-5, atol=1e-6)
    assert ys.shape == (30, 2)
    assert tree_allclose(eqsnn.run(model, xs, model.init_state()), (final, ys))


def test_monitor_is_stacked_per_step():
    model = _net()
    xs = uniform((17, 3), 0.0, 3.0, seed=16)
    monitor = lambda s: {"v": s[2].v, "g": s[1].g, "spike": s[2].spike}
    final, ys, mon = eqsnn.run(model, xs, monitor=monitor)
    _, ref_ys, states = _loop(model, xs)
    assert set(mon) == {"v", "g", "spike"}
    assert mon["v"].shape == (17, 4) and mon["spike"].shape == (17, 4)
    for t in (0, 5, 16):
        assert tree_allclose({k: v[t] for k, v in mon.items()}, monitor(states[t]), rtol=1e-5, atol=1e-6)
    assert tree_allclose(ys, ref_ys, rtol=1e-5, atol=1e-6)
    assert tree_allclose(jax.tree_util.tree_map(lambda m: m[-1], mon), monitor(final))


def test_run_resumes_from_a_state():
    """Running T steps equals running k steps, then T - k from the state reached."""
    model = _net()
    xs = uniform((25, 3), 0.0, 3.0, seed=17)
    final, ys = eqsnn.run(model, xs)
    mid, ys1 = eqsnn.run(model, xs[:11])
    final2, ys2 = eqsnn.run(model, xs[11:], mid)
    assert tree_allclose((final, ys), (final2, jnp.concatenate([ys1, ys2])), rtol=1e-5, atol=1e-6)


def test_run_from_a_state_inside_jit():
    """An explicit state is checked against init_state inside jit/grad too, where the model's
    parameters are tracers (trainable tau, weights)."""
    model = neurons.LIF(4, tau=jnp.full((4,), 5.0), v_th=0.5)
    xs = uniform((10, 4), 0.0, 2.0, seed=3)
    state = eqsnn.run(model, xs)[0]
    grad = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(eqsnn.run(m, xs, state, monitor=lambda s: s.v)[2])))(model)
    assert np.all(np.isfinite(grad.tau)) and np.any(grad.tau != 0)
    with pytest.raises(ValueError, match=r"`state` leaf has shape \(3,\), expected \(4,\)"):
        eqx.filter_jit(lambda m: eqsnn.run(m, xs, neurons.LIF(3).init_state()))(model)


def test_run_pytree_inputs():
    """xs may be any PyTree whose leaves share T (here a tuple fed to a custom dynamics)."""

    class Adder(eqsnn.AbstractDynamics):
        def init_state(self, *, key=None):
            return jnp.zeros(())

        def step(self, state, x):
            a, b = x
            return state + a - b, state

    xs = (jnp.arange(5.0), jnp.ones(5))
    final, ys = eqsnn.run(Adder(), xs)
    np.testing.assert_allclose(ys, [0.0, -1.0, -1.0, 0.0, 2.0])
    assert float(final) == 5.0


@eqx.filter_jit
def _snn_value_and_grad(model, xs, c, k):
    def loss(model, xs):
        _, ys, mon = eqsnn.run(model, xs, monitor=models.hidden_spikes, remat=k)
        return jnp.sum(ys * c) + jnp.sum(mon["r.spike"]), (ys, mon)

    return eqx.filter_value_and_grad(loss, has_aux=True)(model, xs)


@pytest.mark.parametrize("checkpoint", [7])
def test_checkpoint_same_values_and_gradients(checkpoint):
    """run(remat=k) == run() for the values and for d loss / d (parameters, inputs); k = 7
    leaves a tail segment (T = 20). Property tests cover other k in float64."""
    model = models.SNN(3, 6, 2, key=jax.random.key(42), dt=1.0, tau_ref=1.5)
    xs = (uniform((20, 3), seed=1) < 0.5).astype(jnp.float32) * 2.0
    c = uniform((20, 2), -1.0, 1.0, seed=2)
    (l0, aux0), g0 = _snn_value_and_grad(model, xs, c, None)
    (l1, aux1), g1 = _snn_value_and_grad(model, xs, c, checkpoint)
    assert tree_allclose((l0, aux0), (l1, aux1), rtol=1e-5, atol=1e-6)
    assert tree_allclose(g0, g1, rtol=1e-4, atol=1e-6)
    # the comparison is not vacuous: hidden neurons spike and gradients reach both layers
    assert float(aux0[1]["r.spike"].sum()) > 0
    assert float(jnp.abs(g0.r2o.comm.weight).sum()) > 0 and float(jnp.abs(g0.i2r.comm.weight).sum()) > 0


def test_run_is_jittable_and_vmappable():
    model = _net()
    xs = uniform((4, 12, 3), 0.0, 3.0, seed=18)
    batched = eqx.filter_jit(jax.vmap(lambda x: eqsnn.run(model, x)))(xs)
    looped = [eqsnn.run(model, x) for x in xs]
    assert tree_allclose(batched, jax.tree_util.tree_map(lambda *a: jnp.stack(a), *looped), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- #
# Sequential
# --------------------------------------------------------------------------- #


def test_rshift_builds_flat_sequential():
    a, b, c, d = linear(3, 4, seed=1), neurons.LIF(4), linear(4, 2, seed=2), neurons.Leaky(2)
    seq = a >> b
    assert isinstance(seq, eqsnn.Sequential) and seq.layers == (a, b)
    assert ((a >> b) >> (c >> d)).layers == (a, b, c, d)
    assert (a >> (b >> c) >> d).layers == (a, b, c, d)
    assert eqsnn.Sequential(a, b, c, d).layers == (a >> b >> c >> d).layers


def test_sequential_state_and_step_compose():
    lin, lif, leaky = linear(3, 4, seed=3), neurons.LIF(4, v_th=0.2), neurons.Leaky(4)
    seq = lin >> lif >> leaky
    state = seq.init_state()
    assert isinstance(state, tuple) and len(state) == 3
    assert state[0] is None and isinstance(state[1], neurons.LIFState) and isinstance(state[2], neurons.LeakyState)
    assert not eqsnn.is_stateless(seq) and eqsnn.is_stateless(lin)
    x = jnp.asarray([1.0, 2.0, 3.0])
    s1, h = lif.step(state[1], lin(x))
    s2, y = leaky.step(state[2], h)
    new_state, out = seq.step(state, x)
    assert tree_allclose((new_state, out), ((None, s1, s2), y))


def test_sequential_hoists_leading_stateless_layers():
    """The hoisting rule: the leading Linears are applied to the whole sequence at once (checked
    against NumPy), and the rest, stepped on their output, equals `step` at every step."""
    lin1, lin2 = linear(3, 4, seed=4), linear(4, 4, seed=5)
    seq = lin1 >> lin2 >> neurons.LIF(4, v_th=0.3) >> neurons.Leaky(4)
    prepare, body = seq._hoist()
    xs = uniform((9, 3), seed=19)
    us = prepare(xs)
    np.testing.assert_allclose(us, (np.asarray(xs) @ lin1.weight + lin1.bias) @ lin2.weight + lin2.bias, rtol=1e-5)
    state = seq.init_state()
    for t in range(9):
        expected = seq.step(state, xs[t])
        got = body.step(state, us[t])
        assert tree_allclose(expected, got, rtol=1e-5, atol=1e-6)
        state = expected[0]
    assert (lin1 >> neurons.LIF(4))._hoist()[0] is not None
    assert neurons.LIF(3) >> lin1 is not None and (neurons.LIF(3) >> lin1)._hoist()[0] is None


def test_sequential_of_only_stateless_layers():
    lin1, lin2 = linear(3, 4, seed=6), linear(4, 2, seed=7)
    seq = lin1 >> lin2
    xs = uniform((6, 3), -1.0, 1.0, seed=22)
    final, ys = eqsnn.run(seq, xs)
    assert final == (None, None)
    np.testing.assert_allclose(ys, lin2(lin1(xs)), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- #
# Linear, Projection
# --------------------------------------------------------------------------- #


def test_linear_is_affine_map(getkey):
    lin = linear(5, 3, seed=8)
    x = np.asarray(uniform((5,), -1.0, 1.0, seed=23))
    expected = sum(x[i] * np.asarray(lin.weight)[i] for i in range(5)) + np.asarray(lin.bias)
    np.testing.assert_allclose(lin(jnp.asarray(x)), expected, rtol=1e-5, atol=1e-6)
    state, y = lin.step(None, jnp.asarray(x))
    assert state is None
    no_bias = nn.Linear(5, 3, key=getkey(), use_bias=False)
    assert no_bias.bias is None


def test_linear_default_init_is_he_normal(getkey):
    """He/Kaiming normal: zero mean, variance 2 / in_features; zero bias."""
    lin = nn.Linear(400, 300, key=getkey())
    w = np.asarray(lin.weight)
    assert w.shape == (400, 300)
    assert abs(w.mean()) < 0.01 * math.sqrt(2 / 400) * 10
    assert w.var() == pytest.approx(2 / 400, rel=0.03)
    np.testing.assert_array_equal(lin.bias, 0.0)
    custom = nn.Linear(4, 2, key=getkey(), w_init=jax.nn.initializers.constant(0.5))
    np.testing.assert_array_equal(custom.weight, 0.5)


def test_projection_comm_syn_out():
    """c_t = comm(s_t); g_t = a g_{t-1} + c_t; I_t = out(g_t, v): CUBA I = g (input: pre),
    COBA I = g (E - v) (input: the pair (pre, v))."""
    lin = linear(3, 4, seed=9)
    tau, dt, e = 5.0, 0.5, -70.0
    proj = eqsnn.Projection(lin, synapses.Expon(4, tau=tau, dt=dt), outputs.CUBA())
    coba = eqsnn.Projection(lin, synapses.Expon(4, tau=tau, dt=dt), outputs.COBA(e=e))
    pre = (uniform((15, 3), seed=20) < 0.5).astype(jnp.float32)
    post_v = uniform((15, 4), -1.0, 1.0, seed=24)
    a = math.exp(-dt / tau)
    g = np.zeros(4)
    state, state_c = proj.init_state(), coba.init_state()
    for t in range(15):
        g = a * g + np.asarray(pre[t]) @ np.asarray(lin.weight) + np.asarray(lin.bias)
        state, current = proj.step(state, pre[t])
        state_c, current_c = coba.step(state_c, (pre[t], post_v[t]))
        np.testing.assert_allclose(current, g, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(current_c, g * (e - np.asarray(post_v[t])), rtol=1e-5, atol=1e-5)
    _, currents = eqsnn.run(proj, pre)  # hoisted comm, then the synapse over time
    np.testing.assert_allclose(currents[-1], g, rtol=1e-5, atol=1e-6)
    assert isinstance(eqsnn.Projection(lin, synapses.Expon(4)).out, outputs.CUBA)
    with pytest.raises(TypeError, match=r"Projection: with COBA the input must be the pair \(pre, post_v\)"):
        coba.step(coba.init_state(), pre[0])


# --------------------------------------------------------------------------- #
# models.SNN against an independent NumPy implementation (float64)
# --------------------------------------------------------------------------- #


def _snn_numpy(w1, b1, w2, b2, xs, *, dt, tau_mem, tau_syn, tau_out, v_th, tau_ref):
    """BrainPy's tutorial network, written out: input synapse (current input), readout synapse
    (previous hidden spikes), LifRef (R = 1, v_rest = v_reset = 0, soft reset), Leaky readout."""
    a_syn, a_mem, a_out = (math.exp(-dt / tau) for tau in (tau_syn, tau_mem, tau_out))
    g_in, g_out, v, spike = np.zeros(len(b1)), np.zeros(len(b2)), np.zeros(len(b1)), np.zeros(len(b1))
    t_last, y, t = np.full(len(b1), -1e7), np.zeros(len(b2)), 0.0
    outs, spikes = [], []
    for x in xs:
        g_in = a_syn * g_in + x @ w1 + b1
        g_out = a_syn * g_out + spike @ w2 + b2
        held = (t - t_last) <= tau_ref
        v = np.where(held, v, g_in + (v - g_in) * a_mem)
        spike = (v >= v_th).astype(float)
        v = v - v_th * spike
        t_last = np.where(spike > 0, t, t_last)
        t += dt
        y = a_out * y + g_out
        outs.append(y)
        spikes.append(spike)
    return np.array(outs), np.array(spikes)


def test_snn_matches_numpy_reference(x64, getkey):
    hyper = dict(dt=0.5, tau_mem=10.0, tau_syn=10.0, tau_out=5.0, v_th=1.0, tau_ref=1.2)
    model = models.SNN(3, 6, 2, key=jax.random.key(42), **hyper)
    xs = (uniform((60, 3), seed=21) < 0.4).astype(jnp.float64)
    _, ys, mon = eqsnn.run(model, xs, monitor=models.hidden_spikes)
    w1, b1 = np.asarray(model.i2r.comm.weight), np.asarray(model.i2r.comm.bias)
    w2, b2 = np.asarray(model.r2o.comm.weight), np.asarray(model.r2o.comm.bias)
    ref_ys, ref_spikes = _snn_numpy(w1, b1, w2, b2, np.asarray(xs), **hyper)
    assert ref_spikes.sum() > 10, "the reference network should spike for this test to mean something"
    np.testing.assert_array_equal(mon["r.spike"], ref_spikes)
    np.testing.assert_allclose(ys, ref_ys, rtol=1e-10, atol=1e-12)


def test_snn_state_fields():
    model = models.SNN(3, 6, 2, key=jax.random.key(42))
    state = model.init_state()
    assert isinstance(state, eqsnn.GraphState) and set(state.nodes) == {"i2r", "r", "r2o", "o"}
    assert isinstance(state["r"], neurons.LifRefState) and state["r"].spike.shape == (6,)
    assert state.r is state["r"]
    assert isinstance(state["i2r"], synapses.ExponState) and state["o"].x.shape == (2,)
    assert set(state.delayed) == {"r"} and state.delayed["r"].shape == (6,)


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #


def test_run_bad_arguments():
    model = neurons.LIF(3)
    with pytest.raises(TypeError, match="model"):
        eqsnn.run(jnp.tanh, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match=r"`xs` must have a leading time axis"):
        eqsnn.run(model, jnp.ones(()))
    with pytest.raises(ValueError, match=r"`xs` must share the time length, got lengths \[4, 5\]"):
        eqsnn.run(eqsnn.Sequential(model), (jnp.ones((4, 3)), jnp.ones((5, 3))))
    with pytest.raises(ValueError, match=r"`xs` must contain at least one array"):
        eqsnn.run(model, ())
    for bad in (0, -2, 1.5, True):
        with pytest.raises((ValueError, TypeError), match="remat"):
            eqsnn.run(model, jnp.ones((4, 3)), remat=bad)
    with pytest.raises(TypeError, match=r"`state` does not match LIF.init_state\(\)"):
        eqsnn.run(model, jnp.ones((4, 3)), neurons.LifRef(3).init_state())
    with pytest.raises(ValueError, match=r"`state` leaf has shape \(2, 3\), expected \(3,\)"):
        eqsnn.run(model, jnp.ones((4, 3)), jax.vmap(lambda _: model.init_state())(jnp.zeros(2)))


def test_sequential_bad_arguments():
    with pytest.raises(ValueError, match="`layers` must hold at least one layer"):
        eqsnn.Sequential()
    with pytest.raises(TypeError, match=r"Sequential: `layers\[1\]` must be an eqsnn dynamics .* or a callable"):
        eqsnn.Sequential(neurons.LIF(3), 3.0)
    seq = linear(3, 4, seed=10) >> neurons.LIF(4)
    with pytest.raises(TypeError, match=r"`state` must be a tuple of 2 layer states.*got tuple of length 1"):
        seq.step((None,), jnp.ones(3))
    with pytest.raises(TypeError, match=r"`state`"):
        eqsnn.run(seq, jnp.ones((5, 3)), (None,))
    with pytest.raises(ValueError, match=r"LIF: `x` must have shape \(4,\)"):
        eqsnn.run(linear(3, 5, seed=11) >> neurons.LIF(4), jnp.ones((5, 3)))


def test_linear_and_projection_bad_arguments(getkey):
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"Linear: `in_features` must be a positive int, got {bad}"):
            nn.Linear(bad, 2, key=getkey())
    with pytest.raises(ValueError, match=r"`out_features`"):
        nn.Linear(2, 0, key=getkey())
    lin = linear(3, 2, seed=14)
    with pytest.raises(ValueError, match=r"Linear: `x` must end with in_features=3, got shape \(4,\)"):
        lin(jnp.ones(4))
    with pytest.raises(TypeError, match=r"'x'|`x`"):
        lin(jnp.ones(3, dtype=jnp.int32))
    with pytest.raises(TypeError, match=r"'state'|`state` must be None"):
        lin.step(neurons.LIF(3).init_state(), jnp.ones(3))
    with pytest.raises(TypeError, match=r"`state` must be None"):
        inspect.unwrap(type(lin).step)(lin, neurons.LIF(3).init_state(), jnp.ones(3))
    with pytest.raises(TypeError, match=r"`comm` must be a stateless"):
        eqsnn.Projection(neurons.LIF(3), synapses.Expon(3))
    with pytest.raises(TypeError, match=r"syn"):
        eqsnn.Projection(lin, outputs.CUBA())
    with pytest.raises(TypeError, match=r"out"):
        eqsnn.Projection(lin, synapses.Expon(2), synapses.Expon(2))
    with pytest.raises(TypeError, match=r"'xs'|`x`"):
        eqsnn.run(models.SNN(3, 6, 2, key=jax.random.key(42)), jnp.ones((4, 3), dtype=jnp.int32))


def test_run_accepts_numpy_integers_for_remat():
    """A NumPy integer is a valid segment length (as a Python int), also under the type-checking hook."""
    model = neurons.LIF(3, v_th=0.5)
    xs = uniform((9, 3), 0.0, 3.0, seed=30)
    np.testing.assert_allclose(eqsnn.run(model, xs, remat=np.int64(2))[1], eqsnn.run(model, xs)[1], rtol=1e-6)


@pytest.mark.parametrize(
    ("num_steps", "segment"),
    [(1, 1), (2, 1), (23, 5), (100, 10), (101, 11), (1000, 25), (9999, 99), (10_000, 100), (10_007, 101)],
)
def test_auto_segment_is_a_divisor_near_the_square_root(num_steps, segment):
    """Worked by hand: the divisor of T nearest sqrt(T) within a factor 2 (1000 -> 25 of 20, 25, 40, 50;
    9999 = 9 * 11 * 101 -> 99), else ceil(sqrt(T)) for a prime (23 -> 5, 101 -> 11, 10007 -> 101)."""
    assert eqsnn.auto_segment(num_steps) == segment


@pytest.mark.parametrize("num_steps", [23, 24])
def test_remat_auto_same_values_and_gradients(x64, num_steps):
    """run(remat='auto') == run() in float64, values and d loss / d (parameters, inputs); T = 23 gives
    segments of 5 and a tail of 3, T = 24 six segments of 4."""
    model = models.SNN(3, 6, 2, key=jax.random.key(7), dt=1.0, tau_ref=1.5)
    xs = (uniform((num_steps, 3), seed=3) < 0.5).astype(jnp.float64) * 2.0
    c = uniform((num_steps, 2), -1.0, 1.0, seed=4).astype(jnp.float64)
    (l0, aux0), g0 = _snn_value_and_grad(model, xs, c, None)
    (l1, aux1), g1 = _snn_value_and_grad(model, xs, c, "auto")
    assert tree_allclose((l0, aux0), (l1, aux1), rtol=1e-12, atol=1e-12)
    assert tree_allclose(g0, g1, rtol=1e-10, atol=1e-12)
    assert float(aux0[1]["r.spike"].sum()) > 0
    assert float(jnp.abs(g0.i2r.comm.weight).sum()) > 0
    assert g0.i2r.comm.weight.dtype == jnp.float64


def test_remat_auto_is_the_only_string():
    model = neurons.LIF(3)
    with pytest.raises(
        ValueError, match=r"run: `remat` must be a positive int \(steps per segment\), 'auto' or None, got 'sqrt'"
    ):
        eqsnn.run(model, jnp.ones((4, 3)), remat="sqrt")
    with pytest.raises(ValueError, match=r"BPTT: `remat` must be .* 'auto' or None, got 0"):
        eqsnn.train.BPTT(lambda ys, y: ys.sum(), optax.sgd(0.1), remat=0)
    assert eqsnn.train.BPTT(lambda ys, y: ys.sum(), optax.sgd(0.1), remat="auto").remat == "auto"
