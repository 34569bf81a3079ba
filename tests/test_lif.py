"""IF / LIF / LifRef / Leaky / Integrator / Expon against closed forms (float64), finite
differences, and their argument checks."""

import inspect
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import neurons, nn, surrogate, synapses


def _run_v(model, xs, state=None):
    """Outputs and the monitored potential (or trace) after every step."""
    value = lambda s: s.v if hasattr(s, "v") else (s.x if hasattr(s, "x") else s.g)
    _, ys, v = eqsnn.run(model, xs, state, monitor=value)
    return np.asarray(ys), np.asarray(v)


# --------------------------------------------------------------------------- #
# Closed forms, float64
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("cls", [neurons.LIF, neurons.LifRef])
@pytest.mark.parametrize("reset", ["soft", "hard"])
def test_lif_subthreshold_is_exponential(x64, cls, reset):
    """tau dv/dt = -(v - v_rest) + R I with constant I below rheobase:
    v(t) = v_inf + (v0 - v_inf) exp(-t / tau), v_inf = v_rest + R I, at every step."""
    tau = np.array([2.0, 7.3, 40.0])
    r, v_rest, v_th, v0, current, dt, steps = 1.7, -3.0, 20.0, 5.0, np.array([8.0, -4.0, 13.0]), 0.1, 400
    kwargs = dict(tau=jnp.asarray(tau), r=r, v_rest=v_rest, v_th=v_th, v_init=v0, dt=dt, reset=reset)
    model = cls(3, **kwargs, **({"tau_ref": 1.5} if cls is neurons.LifRef else {}))
    ys, v = _run_v(model, jnp.broadcast_to(jnp.asarray(current), (steps, 3)))
    t = dt * np.arange(1, steps + 1)[:, None]
    v_inf = v_rest + r * current
    expected = v_inf + (v0 - v_inf) * np.exp(-t / tau)
    assert v.dtype == np.float64
    np.testing.assert_allclose(v, expected, rtol=1e-12, atol=1e-12)
    assert not ys.any()


def test_if_subthreshold_is_linear(x64):
    """tau dv/dt = R I: v(t) = v0 + t R I / tau."""
    tau, r, v0, current, dt, steps = 12.5, 0.8, -2.0, 3.0, 0.25, 200
    model = neurons.IF(2, tau=tau, r=r, v_th=1e6, v_init=v0, dt=dt)
    ys, v = _run_v(model, jnp.full((steps, 2), current))
    expected = v0 + dt * np.arange(1, steps + 1) * r * current / tau
    np.testing.assert_allclose(v, np.broadcast_to(expected[:, None], v.shape), rtol=1e-12)
    assert not ys.any()


def test_leaky_is_geometric_sum(x64):
    """x_t = a x_{t-1} + I, a = exp(-dt/tau): x_k = a^k x0 + I (1 - a^k) / (1 - a)."""
    tau, dt, current, x0, steps = 5.0, 0.1, np.array([1.5, -0.25]), np.array([2.0, 3.0]), 300
    model = neurons.Leaky(2, tau=tau, dt=dt)
    state = neurons.LeakyState(x=jnp.asarray(x0))
    ys, x = _run_v(model, jnp.broadcast_to(jnp.asarray(current), (steps, 2)), state)
    a = math.exp(-dt / tau)
    k = np.arange(1, steps + 1)[:, None]
    expected = a**k * x0 + current * (1 - a**k) / (1 - a)
    np.testing.assert_allclose(x, expected, rtol=1e-12)
    np.testing.assert_allclose(ys, expected, rtol=1e-12)


def test_integrator_is_exponential(x64):
    """tau dx/dt = -x + I: x(t) = I + (x0 - I) exp(-t/tau)."""
    tau, dt, current, steps = 3.0, 0.2, 2.5, 100
    model = neurons.Integrator(1, tau=tau, dt=dt)
    _, x = _run_v(model, jnp.full((steps, 1), current))
    t = dt * np.arange(1, steps + 1)
    np.testing.assert_allclose(x[:, 0], current * (1 - np.exp(-t / tau)), rtol=1e-12)


def test_expon_constant_input_and_impulse(x64):
    """g_t = a g_{t-1} + x_t: constant drive gives the geometric sum, an impulse w at step k0
    gives w a^{k - k0}."""
    tau, dt, steps = 8.0, 0.1, 250
    a = math.exp(-dt / tau)
    model = synapses.Expon(2, tau=tau, dt=dt)
    drive = np.zeros((steps, 2))
    drive[:, 0] = 0.7
    drive[10, 1] = 3.0
    _, g = _run_v(model, jnp.asarray(drive))
    k = np.arange(1, steps + 1)
    np.testing.assert_allclose(g[:, 0], 0.7 * (1 - a**k) / (1 - a), rtol=1e-12)
    impulse = np.where(np.arange(steps) >= 10, 3.0 * a ** (np.arange(steps) - 10.0), 0.0)
    np.testing.assert_allclose(g[:, 1], impulse, rtol=1e-12)


def _first_spike_time(ys, dt):
    """Time (ms, end of the step) of the first spike of each neuron."""
    idx = np.argmax(ys > 0, axis=0)
    assert np.all(ys[idx, np.arange(ys.shape[1])] == 1), "a neuron never spiked"
    return (idx + 1) * dt


@pytest.mark.parametrize(
    "tau, r, current, dt", [(10.0, 1.0, 30.0, 0.1), (4.0, 2.0, 12.0, 0.05), (25.0, 0.5, 100.0, 0.3)]
)
def test_lif_first_spike_time(x64, tau, r, current, dt):
    """From v_rest under constant I: t* = tau ln(R I / (R I - (v_th - v_rest))); the first spike
    lies within one step after t* (the potential is exact at the step ends)."""
    v_rest, v_th = -65.0, -50.0
    model = neurons.LIF(1, tau=tau, r=r, v_rest=v_rest, v_th=v_th, v_reset=-70.0, dt=dt)
    ys = np.asarray(eqsnn.run(model, jnp.full((int(5 * tau / dt), 1), current))[1])
    t_star = tau * math.log(r * current / (r * current - (v_th - v_rest)))
    t = _first_spike_time(ys, dt)[0]
    assert t_star - 1e-9 <= t < t_star + dt, (t, t_star)


@pytest.mark.parametrize("tau, r, current, dt", [(10.0, 1.0, 3.0, 0.1), (2.0, 3.0, 0.5, 0.07)])
def test_if_first_spike_time(x64, tau, r, current, dt):
    """From v_init under constant I: t* = tau (v_th - v_init) / (R I), within one step."""
    v_init, v_th = -1.0, 15.0
    model = neurons.IF(1, tau=tau, r=r, v_th=v_th, v_init=v_init, dt=dt)
    t_star = tau * (v_th - v_init) / (r * current)
    ys = np.asarray(eqsnn.run(model, jnp.full((int(2 * t_star / dt), 1), current))[1])
    t = _first_spike_time(ys, dt)[0]
    assert t_star - 1e-9 <= t < t_star + dt, (t, t_star)


def test_lifref_interspike_interval(x64):
    """Hard reset to v_reset, then held for floor(tau_ref/dt) steps, then integrated from v_reset:
    ISI = floor(tau_ref/dt) dt + tau ln((v_inf - v_reset)/(v_inf - v_th)), to within one step."""
    tau, dt, tau_ref, current = 10.0, 0.1, 2.05, 40.0
    v_rest, v_reset, v_th = 0.0, -5.0, 20.0
    model = neurons.LifRef(1, tau=tau, v_rest=v_rest, v_reset=v_reset, v_th=v_th, tau_ref=tau_ref, dt=dt, reset="hard")
    ys = np.asarray(eqsnn.run(model, jnp.full((2000, 1), current))[1])[:, 0]
    isi = np.diff(np.flatnonzero(ys)) * dt
    v_inf = v_rest + current
    expected = math.floor(tau_ref / dt) * dt + tau * math.log((v_inf - v_reset) / (v_inf - v_th))
    assert len(isi) > 10
    assert np.all((isi >= expected - 1e-9) & (isi < expected + dt)), (np.unique(isi), expected)


# --------------------------------------------------------------------------- #
# Gradients
# --------------------------------------------------------------------------- #


def _central_difference(f, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        grad[i] = (float(f(jnp.asarray(x + e))) - float(f(jnp.asarray(x - e)))) / (2 * eps)
    return grad


def test_linear_expon_leaky_gradient_matches_finite_differences(x64, getkey):
    """d loss / d (W, b) of Linear -> Expon -> Leaky (smooth, no spikes)."""
    model = nn.Linear(2, 3, key=getkey()) >> synapses.Expon(3, tau=3.0) >> neurons.Leaky(3, tau=6.0)
    xs = jax.random.normal(getkey(), (40, 2))
    c = jax.random.normal(getkey(), (40, 3))

    @jax.jit
    def loss_wb(weight, bias):
        m = eqx.tree_at(lambda m: (m.layers[0].weight, m.layers[0].bias), model, (weight, bias))
        return jnp.sum(jnp.tanh(eqsnn.run(m, xs)[1]) * c)

    weight, bias = model.layers[0].weight, model.layers[0].bias
    g_w, g_b = jax.jit(jax.grad(loss_wb, argnums=(0, 1)))(weight, bias)
    np.testing.assert_allclose(g_w, _central_difference(lambda w: loss_wb(w, bias), weight), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g_b, _central_difference(lambda b: loss_wb(weight, b), bias), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "make, value",
    [
        (lambda tau: neurons.Leaky(3, tau=tau), lambda s: s.x),
        (lambda tau: synapses.Expon(3, tau=tau), lambda s: s.g),
        (lambda tau: neurons.Integrator(3, tau=tau), lambda s: s.x),
        # detach_reset: the surrogate's (tiny, non-zero) slope far below threshold would
        # otherwise reach v through the reset term, which finite differences cannot see.
        (lambda tau: neurons.LIF(3, tau=tau, v_th=1e3, detach_reset=True), lambda s: s.v),
    ],
    ids=["Leaky", "Expon", "Integrator", "LIF-subthreshold"],
)
def test_tau_gradient_matches_finite_differences(x64, getkey, make, value):
    """d loss / d tau (one tau per neuron) of a smooth trajectory."""
    xs = jax.random.uniform(getkey(), (80, 3), minval=0.0, maxval=5.0)
    c = jax.random.normal(getkey(), (80, 3))

    @jax.jit
    def loss(tau):
        _, _, traj = eqsnn.run(make(tau), xs, monitor=value)
        return jnp.sum(traj * c)

    tau = jnp.asarray([2.0, 5.0, 11.0])
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(tau), _central_difference(loss, tau), rtol=1e-6)


def test_reset_gradient_path(x64):
    """One spiking step from v with input x (a = e^{-dt/tau}, v_pre = v_inf + (v - v_inf) a):
    soft reset v' = v_pre - (v_th - v_reset) S(v_pre - v_th), so
    dv'/dx = R (1 - a) (1 - (v_th - v_reset) sigma'(v_pre - v_th)); with detach_reset the
    bracket is 1."""
    tau, r, dt, v_th, v_reset, alpha = 10.0, 2.0, 0.5, 1.0, -0.5, 3.0
    fn = surrogate.Sigmoid(alpha=alpha)
    state = neurons.LIFState(v=jnp.asarray([0.9]), spike=jnp.zeros(1))
    x = jnp.asarray([2.0])
    a = math.exp(-dt / tau)
    v_pre = 2.0 * r + (0.9 - 2.0 * r) * a
    sig = 1 / (1 + math.exp(-alpha * (v_pre - v_th)))
    d_surr = alpha * sig * (1 - sig)
    for detach, bracket in [(False, 1 - (v_th - v_reset) * d_surr), (True, 1.0)]:
        model = neurons.LIF(1, tau=tau, r=r, v_th=v_th, v_reset=v_reset, dt=dt, spike_fn=fn, detach_reset=detach)
        dv = jax.grad(lambda x, m=model: m.step(state, x)[0].v.sum())(x)
        ds = jax.grad(lambda x, m=model: m.step(state, x)[1].sum())(x)
        assert float(model.step(state, x)[1][0]) == 1.0
        np.testing.assert_allclose(dv, [r * (1 - a) * bracket], rtol=1e-12)
        np.testing.assert_allclose(ds, [r * (1 - a) * d_surr], rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda tau: neurons.LIF(4, tau=tau, v_th=1.0),
        lambda tau: neurons.LifRef(4, tau=tau, v_th=1.0, tau_ref=0.5),
        lambda tau: synapses.Expon(4, tau=tau),
        lambda tau: neurons.Leaky(4, tau=tau),
    ],
    ids=["LIF", "LifRef", "Expon", "Leaky"],
)
@pytest.mark.parametrize("shape", [(), (4,)])
def test_trainable_tau_gradient_is_finite(getkey, make, shape):
    """An array tau is a trainable leaf; its gradient through spikes (surrogate) is finite, non-zero."""
    tau = jnp.full(shape, 5.0)
    model = make(tau)
    params, _ = eqx.partition(model, eqx.is_inexact_array)
    # the stored tau (a strongly typed copy of the weakly typed `tau`) is a trainable leaf
    assert not model.tau.weak_type and np.array_equal(model.tau, tau)
    assert any(leaf is model.tau for leaf in jax.tree_util.tree_leaves(params))
    xs = jax.random.uniform(getkey(), (100, 4), minval=0.0, maxval=40.0)
    grad = eqx.filter_grad(lambda m: jnp.sum(eqsnn.run(m, xs)[1] * jnp.arange(100.0)[:, None]))(model)
    assert grad.tau.shape == shape
    assert np.all(np.isfinite(grad.tau)) and np.any(grad.tau != 0)


def test_partition_yields_exactly_linear_parameters(getkey):
    """Python-float hyper-parameters are not trainable; an array tau is."""
    l1, l2 = nn.Linear(3, 5, key=getkey()), nn.Linear(5, 2, key=getkey())
    model = l1 >> synapses.Expon(5) >> neurons.LifRef(5, tau_ref=1.0) >> l2 >> neurons.Leaky(2)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    leaves = jax.tree_util.tree_leaves(params)
    assert len(leaves) == 4
    assert all(any(leaf is p for leaf in leaves) for p in (l1.weight, l1.bias, l2.weight, l2.bias))
    assert eqx.combine(params, static).layers[2].tau == 10.0

    tau = jnp.full((5,), 10.0)
    model = eqx.tree_at(lambda m: m.layers[2], model, neurons.LifRef(5, tau=tau, tau_ref=1.0))
    leaves = jax.tree_util.tree_leaves(eqx.partition(model, eqx.is_inexact_array)[0])
    assert len(leaves) == 5 and any(leaf is model.layers[2].tau for leaf in leaves)


# --------------------------------------------------------------------------- #
# Bad input: the error names the argument and what was expected.
# With the jaxtyping import hook on (as in this test run) an annotation may catch a
# wrong type first; `inspect.unwrap` reaches the library's own check behind it.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "make, exc, pattern",
    [
        (
            lambda: neurons.LIF(0),
            ValueError,
            r"LIF: `shape` must be a positive int or a tuple of positive ints, got \(0,\)",
        ),
        (lambda: neurons.LIF(-3), ValueError, r"`shape`"),
        (lambda: neurons.LIF(True), ValueError, r"`shape`"),
        (lambda: neurons.LIF((4, 0)), ValueError, r"`shape`"),
        (lambda: neurons.LIF(3, tau=-1.0), ValueError, r"LIF: `tau` must be > 0.*-1\.0"),
        (lambda: neurons.LIF(3, tau=float("nan")), ValueError, r"`tau`"),
        (lambda: neurons.LIF(3, tau=jnp.asarray([1.0, -2.0, 3.0])), ValueError, r"`tau`"),
        (lambda: neurons.LIF(3, dt=-0.1), ValueError, r"LIF: `dt` must be > 0.*-0\.1"),
        (lambda: neurons.IF(3, dt=0.0), ValueError, r"IF: `dt`"),
        (lambda: neurons.LifRef(3, tau_ref=-1.0), ValueError, r"LifRef: `tau_ref` must be >= 0"),
        (lambda: neurons.Leaky(3, tau=-5.0), ValueError, r"Leaky: `tau`"),
        (lambda: neurons.Integrator(3, dt=-1.0), ValueError, r"Integrator: `dt`"),
        (lambda: synapses.Expon(3, tau=0.0), ValueError, r"Expon: `tau` must be > 0"),
        (lambda: synapses.Expon(3, dt=-0.1), ValueError, r"Expon: `dt`"),
        (
            lambda: neurons.LIF(3, reset="subtract"),
            ValueError,
            r"`reset` must be one of \('soft', 'hard'\), got 'subtract'",
        ),
        (lambda: neurons.LifRef(3, reset="zero"), ValueError, r"`reset`"),
        (
            lambda: neurons.LIF(3, tau=jnp.ones(4)),
            ValueError,
            r"`tau` must be a scalar or broadcastable to the population shape \(3,\), got shape \(4,\)",
        ),
        (lambda: neurons.LIF(3, v_th=jnp.ones((3, 1))), (TypeError, ValueError), r"v_th"),
        (lambda: neurons.LIF(3, spike_fn=jnp.tanh), TypeError, r"spike_fn"),
    ],
)
def test_bad_construction(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


NEURONS = [
    lambda: neurons.IF(3),
    lambda: neurons.LIF(3),
    lambda: neurons.LifRef(3, tau_ref=1.0),
    lambda: neurons.Leaky(3),
    lambda: neurons.Integrator(3),
    lambda: synapses.Expon(3),
]
NEURON_IDS = ["IF", "LIF", "LifRef", "Leaky", "Integrator", "Expon"]


@pytest.mark.parametrize("make", NEURONS, ids=NEURON_IDS)
def test_bad_step_input(make):
    model = make()
    state = model.init_state()
    bare_step = inspect.unwrap(type(model).step)
    # wrong size
    with pytest.raises(ValueError, match=r"`x` must have shape \(3,\).*got shape \(4,\)"):
        model.step(state, jnp.ones(4))
    with pytest.raises(ValueError, match=r"`x` must have shape \(3,\).*got shape \(2, 3\)"):
        model.step(state, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"`x`"):
        eqsnn.run(model, jnp.ones((5, 4)))
    # non-floating input: the annotation (hook) or the library's own check
    with pytest.raises(TypeError, match=r"'x'|`x`"):
        model.step(state, jnp.ones(3, dtype=jnp.int32))
    with pytest.raises(TypeError, match=r"`x` must be a floating array, got dtype int32"):
        bare_step(model, state, jnp.ones(3, dtype=jnp.int32))
    with pytest.raises(TypeError, match=r"`x` must be a floating array, got dtype bool"):
        bare_step(model, state, jnp.ones(3, dtype=bool))
    # a state from a different model
    other = synapses.Expon(3) if not isinstance(model, synapses.Expon) else neurons.Leaky(3)
    with pytest.raises(
        TypeError, match=rf"`state` must be a {type(state).__name__}.*got {type(other.init_state()).__name__}"
    ):
        bare_step(model, other.init_state(), jnp.ones(3))
    with pytest.raises(TypeError, match=r"`state` does not match"):
        eqsnn.run(model, jnp.ones((5, 3)), other.init_state())
    with pytest.raises(ValueError, match=r"`state\.\w+` must have shape \(3,\).*got shape \(4,\)"):
        model.step(type(model)(4).init_state(), jnp.ones(3))
    batched = jax.vmap(lambda _: model.init_state())(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"`state\.\w+` must have shape \(3,\).*got shape \(2, 3\)"):
        model.step(batched, jnp.ones(3))
    with pytest.raises(ValueError, match=r"`state` leaf has shape \(4,\), expected \(3,\)"):
        eqsnn.run(model, jnp.ones((5, 3)), type(model)(4).init_state())


def test_scalar_input_broadcasts():
    """A 0-d input is broadcast over the population: the same as a full array."""
    model = neurons.LIF(3)
    s = model.init_state()
    by_scalar = model.step(s, jnp.asarray(25.0))
    by_array = model.step(s, jnp.full((3,), 25.0))
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), by_scalar, by_array))
