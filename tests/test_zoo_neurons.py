"""ALIF, ExpIF, AdEx, QuaIF, Izhikevich and HH against closed forms, NumPy references
integrated differently (RK4 at dt/100) and hypothesis properties."""

import equinox as eqx
from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import neurons as N

SETTINGS = settings(max_examples=20, deadline=None)


def scan(model, xs, state=None, fields=("v",)):
    """Run `model` over `xs: [T, size]`; return the spikes and the requested state fields per step."""

    _, ys, recorded = eqsnn.run(model, xs, state, monitor=lambda s: tuple(getattr(s, f) for f in fields))
    return [np.asarray(o) for o in (ys, *recorded)]


def rk4(f, y0, t_end, h):
    """Classical RK4 for y' = f(y) (NumPy), returning y at every multiple of `h`."""
    n = int(round(t_end / h))
    ys = np.empty((n + 1, len(y0)))
    y = np.asarray(y0, dtype=np.float64)
    ys[0] = y
    for i in range(n):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys[i + 1] = y
    return ys


# ----------------------------------------------------------------------------- ALIF


def test_alif_threshold_increment_after_spike(x64):
    dt, tau, tau_a, beta, v_th, v_reset = 0.1, 20.0, 200.0, 0.5, 1.0, 0.0
    model = N.ALIF(1, v_rest=0.0, v_th=v_th, v_reset=v_reset, tau=tau, tau_a=tau_a, beta=beta, dt=dt)
    k = np.exp(-dt / tau)
    current = 30.0
    # v0 chosen so that the integrated potential lands 0.2 mV above the base threshold
    target = v_th + 0.2
    v0 = (target - current * (1 - k)) / k
    state = N.ALIFState(v=jnp.array([v0]), a=jnp.zeros(1), spike=jnp.zeros(1))
    state, s = model.step(state, jnp.array([current]))
    assert s[0] == 1.0
    np.testing.assert_allclose(state.a, [1.0], rtol=1e-12)  # a <- 0 * decay + 1
    np.testing.assert_allclose(state.v, [target - (v_th - v_reset)], rtol=1e-12)  # soft reset
    # the same landing point no longer fires: the threshold is now v_th + beta * a = 1.5 mV
    state2 = N.ALIFState(v=jnp.array([v0]), a=state.a, spike=state.spike)
    state2, s2 = model.step(state2, jnp.array([current]))
    assert s2[0] == 0.0
    np.testing.assert_allclose(state2.a, [np.exp(-dt / tau_a)], rtol=1e-12)
    # just above the raised threshold fires again
    target3 = v_th + beta * 1.0 + 0.05
    state3 = N.ALIFState(v=jnp.array([(target3 - current * (1 - k)) / k]), a=jnp.ones(1), spike=jnp.zeros(1))
    state3, s3 = model.step(state3, jnp.array([current]))
    assert s3[0] == 1.0
    np.testing.assert_allclose(state3.a, [np.exp(-dt / tau_a) + 1.0], rtol=1e-12)


def test_alif_adaptation_slows_firing():
    model = N.ALIF(1, v_rest=0.0, v_th=1.0, beta=1.0, tau_a=200.0)
    plain = N.ALIF(1, v_rest=0.0, v_th=1.0, beta=0.0, tau_a=200.0)
    xs = jnp.full((2000, 1), 2.0)
    n_adapt = scan(model, xs)[0].sum()
    n_plain = scan(plain, xs)[0].sum()
    assert 0 < n_adapt < n_plain


# -------------------------------------------------------- non-linear neurons vs RK4


def _expif_rhs(p, current):
    def f(y):
        v = y[0]
        return np.array([(-(v - p["v_rest"]) + p["d"] * np.exp((v - p["v_t"]) / p["d"]) + current) / p["tau"]])

    return f


EXPIF = dict(v_rest=-65.0, v_t=-59.9, d=3.48, tau=10.0)


def _adex_rhs(current, a=1.0, tau_w=30.0):
    p = EXPIF

    def f(y):
        v, w = y
        dv = (-(v - p["v_rest"]) + p["d"] * np.exp((v - p["v_t"]) / p["d"]) - w + current) / p["tau"]
        return np.array([dv, (a * (v - p["v_rest"]) - w) / tau_w])

    return f


def _quaif_rhs(current):
    return lambda y: np.array([(0.07 * (y[0] + 65.0) * (y[0] + 50.0) + current) / 10.0])


def _izh_rhs(current, a=0.02, b=0.2):
    def f(y):
        v, u = y
        return np.array([0.04 * v * v + 5 * v + 140 - u + current, a * (b * v - u)])

    return f


def _hh_rates(v):
    am = 0.1 * (v + 40) / (1 - np.exp(-(v + 40) / 10))
    bm = 4.0 * np.exp(-(v + 65) / 18)
    ah = 0.07 * np.exp(-(v + 65) / 20)
    bh = 1 / (1 + np.exp(-(v + 35) / 10))
    an = 0.01 * (v + 55) / (1 - np.exp(-(v + 55) / 10))
    bn = 0.125 * np.exp(-(v + 65) / 80)
    return am, bm, ah, bh, an, bn


def _hh_rhs(current):
    def f(y):
        v, m, h, n = y
        am, bm, ah, bh, an, bn = _hh_rates(v)
        i_ion = 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.03 * (v + 54.387)
        return np.array([-i_ion + current, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n])

    return f


def _hh_y0(v0=-65.0):
    am, bm, ah, bh, an, bn = _hh_rates(v0)
    return [v0, am / (am + bm), ah / (ah + bh), an / (an + bn)]


# (model factory, rhs, y0, state fields, current, duration ms, tolerance on v at dt = 0.1 ms (mV);
# measured errors: ExpIF 1.5e-6, AdEx 9e-3, QuaIF 5.6e-6, Izhikevich 5e-3, HH 4.4e-2)
SUBTHRESHOLD = {
    "ExpIF": (lambda dt: N.ExpIF(1, dt=dt), _expif_rhs(EXPIF, 1.0), [-65.0], ("v",), 1.0, 30.0, 1e-5),
    "AdEx": (lambda dt: N.AdEx(1, dt=dt), _adex_rhs(3.0), [-65.0, 0.0], ("v", "w"), 3.0, 30.0, 0.02),
    "QuaIF": (lambda dt: N.QuaIF(1, dt=dt), _quaif_rhs(3.0), [-65.0], ("v",), 3.0, 30.0, 2e-5),
    "Izhikevich": (
        lambda dt: N.Izhikevich(1, dt=dt),
        _izh_rhs(2.0),
        [-70.0, -14.0],
        ("v", "u"),
        2.0,
        30.0,
        0.01,
    ),
    "HH": (lambda dt: N.HH(1, dt=dt), _hh_rhs(1.0), _hh_y0(), ("v", "m", "h", "n"), 1.0, 20.0, 0.08),
}


@pytest.mark.parametrize("name", list(SUBTHRESHOLD))
def test_subthreshold_trajectory_matches_fine_rk4(x64, name):
    make, rhs, y0, fields, current, t_end, tol = SUBTHRESHOLD[name]
    ref = rk4(rhs, y0, t_end, 0.001)  # dt / 100
    errors = {}
    for dt in (0.1, 0.05):
        steps = int(round(t_end / dt))
        spikes, *traj = scan(make(dt), jnp.full((steps, 1), current), fields=fields)
        assert spikes.sum() == 0
        stride = int(round(dt / 0.001))
        ref_v = ref[stride::stride, 0]
        errors[dt] = np.max(np.abs(traj[0][:, 0] - ref_v))
        for i, f in enumerate(fields[1:], start=1):  # the other variables track too
            scale = np.max(np.abs(ref[:, i])) + 1e-12
            assert np.max(np.abs(traj[i][:, 0] - ref[stride::stride, i])) / scale < 0.05, f
    assert errors[0.1] < tol, errors
    # convergence: halving dt at least halves the error (first order; the one-variable
    # models are second order, exponential Rosenbrock-Euler)
    assert errors[0.1] / errors[0.05] > 1.7, errors


SPIKERS = {
    "ExpIF": (lambda: N.ExpIF(1), 20.0),
    "AdEx": (lambda: N.AdEx(1), 20.0),
    "QuaIF": (lambda: N.QuaIF(1), 20.0),
    "Izhikevich": (lambda: N.Izhikevich(1), 10.0),
    "HH": (lambda: N.HH(1), 10.0),
}


@pytest.mark.parametrize("name", list(SPIKERS))
def test_spikes_under_strong_input_not_under_none(name):
    make, current = SPIKERS[name]
    model = make()
    strong = scan(model, jnp.full((1000, 1), current))[0]
    quiet = scan(model, jnp.zeros((1000, 1)))[0]
    assert strong.sum() >= 2
    assert quiet.sum() == 0


def test_hh_spike_is_an_upward_crossing_and_times_match_rk4(x64):
    ref = rk4(_hh_rhs(10.0), _hh_y0(), 50.0, 0.005)[:, 0]
    t_ref = (np.flatnonzero((ref[1:] >= 20.0) & (ref[:-1] < 20.0)) + 1) * 0.005
    for dt, atol in ((0.1, 2.5), (0.01, 0.3)):  # ms; the frozen-gate scheme lengthens the period ~5% at 0.1 ms
        spikes, v = scan(N.HH(1, dt=dt), jnp.full((int(round(50.0 / dt)), 1), 10.0))
        idx = np.flatnonzero(spikes[:, 0])
        assert np.all(v[idx, 0] >= 20.0) and np.all(v[idx - 1, 0] < 20.0)  # crossing from below
        assert len(idx) == len(t_ref) == 4
        np.testing.assert_allclose((idx + 1) * dt, t_ref, atol=atol)


def test_izhikevich_hard_reset_and_recovery_jump():
    model = N.Izhikevich(1)
    state = N.IzhikevichState(v=jnp.array([29.0]), u=jnp.array([-10.0]), spike=jnp.zeros(1))
    state, s = model.step(state, jnp.array([0.0]))
    assert s[0] == 1.0
    np.testing.assert_allclose(state.v, [-65.0])
    # u integrated exactly with v frozen, then + d
    u_new = 0.2 * 29.0 + (-10.0 - 0.2 * 29.0) * np.exp(-0.1 * 0.02)
    np.testing.assert_allclose(state.u, [u_new + 8.0], rtol=1e-5)


# ------------------------------------------------------------------- properties

MODELS = {
    "ALIF": lambda **k: N.ALIF(3, **k),
    "ExpIF": lambda **k: N.ExpIF(3, **k),
    "AdEx": lambda **k: N.AdEx(3, **k),
    "QuaIF": lambda **k: N.QuaIF(3, **k),
    "Izhikevich": lambda **k: N.Izhikevich(3, **k),
    "HH": lambda **k: N.HH(3, **k),
}
T = 40


def _run_fn(name):
    model = MODELS[name]()
    return eqx.filter_jit(lambda xs: scan_jax(model, xs))


def scan_jax(model, xs):
    def body(s, x):
        s, y = model.step(s, x)
        return s, (y, s.v)

    return jax.lax.scan(body, model.init_state(), xs)[1]


RUNNERS = {name: _run_fn(name) for name in MODELS}
currents = st.lists(st.floats(-20.0, 60.0), min_size=3 * T, max_size=3 * T).map(
    lambda xs: jnp.asarray(np.array(xs, dtype=np.float32).reshape(T, 3))
)


@SETTINGS
@given(name=st.sampled_from(list(MODELS)), xs=currents)
def test_spikes_binary_and_states_finite(name, xs):
    spikes, v = RUNNERS[name](xs)
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0}
    assert np.all(np.isfinite(np.asarray(v)))


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(list(MODELS)), xs=currents)
def test_jit_equals_no_jit(name, xs):
    model = MODELS[name]()
    state = model.init_state()
    ys = []
    for x in xs[:4]:
        state, y = model.step(state, x)
        ys.append(y)
    spikes, v = RUNNERS[name](xs[:4])
    np.testing.assert_array_equal(np.stack(ys), np.asarray(spikes))
    np.testing.assert_allclose(np.asarray(state.v), np.asarray(v[-1]), rtol=1e-5, atol=1e-4)


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(list(MODELS)), seed=st.integers(0, 2**16))
def test_vmap_equals_loop(name, seed):
    xs = jax.random.uniform(jax.random.key(seed), (4, T, 3), minval=-5.0, maxval=40.0)
    run = RUNNERS[name]
    spikes_b, v_b = jax.vmap(run)(xs)
    for i in range(4):
        spikes_i, v_i = run(xs[i])
        np.testing.assert_array_equal(np.asarray(spikes_b[i]), np.asarray(spikes_i))
        np.testing.assert_allclose(np.asarray(v_b[i]), np.asarray(v_i), rtol=1e-4, atol=1e-3)  # float32 fusion


@SETTINGS
@given(a0=st.floats(0.0, 50.0), steps=st.integers(1, 30))
def test_alif_adaptation_decays_without_input(a0, steps):
    model = N.ALIF(3, tau_a=jnp.asarray(150.0))
    state = N.ALIFState(v=jnp.full(3, -70.0), a=jnp.full(3, a0), spike=jnp.zeros(3))
    for _ in range(steps):
        state, s = model.step(state, jnp.zeros(3))
        assert np.all(np.asarray(s) == 0)
    np.testing.assert_allclose(state.a, a0 * np.exp(-steps * 0.1 / 150.0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(state.v, -70.0, rtol=1e-6)


def _hh_rest():
    """Resting potential of the default HH (about -70.7 mV with g_L = 0.03): bisection on the
    steady-state current, in NumPy."""

    def current(v):
        am, bm, ah, bh, an, bn = _hh_rates(v)
        m, h, n = am / (am + bm), ah / (ah + bh), an / (an + bn)
        return 120 * m**3 * h * (v - 50) + 36 * n**4 * (v + 77) + 0.03 * (v + 54.387)

    lo, hi = -80.0, -60.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if current(mid) < 0 else (lo, mid)
    return (lo + hi) / 2


HH_REST = _hh_rest()
HH1 = N.HH(1)
HH_RUN = eqx.filter_jit(lambda state: scan_from(HH1, state, jnp.zeros((2000, 1))))


def scan_from(model, state, xs):
    def body(s, x):
        s, y = model.step(s, x)
        return s, (y, s.v)

    return jax.lax.scan(body, state, xs)[1]


@SETTINGS
@given(dv=st.floats(-8.0, 8.0))
def test_hh_relaxes_to_rest_without_input(dv):
    rest = N.HH(1, v_init=HH_REST).init_state()
    state = N.HHState(v=rest.v + dv, m=rest.m, h=rest.h, n=rest.n, spike=rest.spike)
    spikes, v = HH_RUN(state)  # 200 ms; a large depolarisation may fire one spike first
    assert np.asarray(spikes).sum() <= 1
    assert abs(float(v[-1, 0]) - HH_REST) < 0.01


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize(
    "make",
    [
        lambda: N.ALIF(3, tau=jnp.array([15.0, 20.0, 25.0]), v_rest=0.0, v_th=1.0),
        lambda: N.ExpIF(3, tau=jnp.array([8.0, 10.0, 12.0])),
        lambda: N.AdEx(3, tau_w=jnp.array([20.0, 30.0, 40.0])),
        lambda: N.Izhikevich(3, a=jnp.array([0.02, 0.03, 0.1])),
        lambda: N.HH(3, g_l=jnp.array([0.03, 0.05, 0.1])),
    ],
)
def test_trainable_parameter_gets_finite_gradient(make):
    model = make()
    xs = jnp.full((300, 3), 12.0)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    assert len(jax.tree_util.tree_leaves(params)) == 1

    def loss(p):
        m = eqx.combine(p, static)
        spikes, v = scan_jax(m, xs)
        return jnp.mean(v) + spikes.sum()

    grads = jax.tree_util.tree_leaves(jax.grad(loss)(params))
    assert np.all(np.isfinite(np.asarray(grads[0])))
    assert np.any(np.asarray(grads[0]) != 0)


def test_exp_euler_auto_is_exact_for_linear_rhs(x64):
    x = jnp.array([1.0, -2.0, 0.0])
    out = N.exp_euler_auto(lambda v: (3.0 - v) / 4.0, x, 0.5)
    np.testing.assert_allclose(out, 3.0 + (np.asarray(x) - 3.0) * np.exp(-0.5 / 4.0), rtol=1e-14)
    z = jnp.array([0.0, 1e-6, -1e-3, 2.0])
    np.testing.assert_allclose(N.exprel(z), [1.0, 1 + 5e-7, np.expm1(-1e-3) / -1e-3, np.expm1(2.0) / 2.0], rtol=1e-12)
    assert np.isfinite(jax.grad(lambda z: N.exprel(z))(0.0))


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("cls", [N.ALIF, N.ExpIF, N.AdEx, N.QuaIF])
def test_negative_tau_names_argument(cls):
    with pytest.raises(ValueError, match="`tau`.*> 0.*-1"):
        cls(2, tau=-1.0)


def test_other_bad_parameters_name_argument():
    with pytest.raises(ValueError, match="`tau_a`"):
        N.ALIF(2, tau_a=0.0)
    with pytest.raises(ValueError, match="`delta_t`"):
        N.ExpIF(2, delta_t=-1.0)
    with pytest.raises(ValueError, match="`a`"):
        N.Izhikevich(2, a=-0.02)
    with pytest.raises(ValueError, match="`c`"):
        N.HH(2, c=0.0)
    with pytest.raises(ValueError, match=r"`v_th`.*\(2,\).*\(3,\)"):
        N.AdEx(2, v_th=jnp.zeros(3))


@pytest.mark.parametrize("cls", [N.ALIF, N.ExpIF, N.AdEx, N.QuaIF, N.Izhikevich])
def test_unknown_reset_names_argument(cls):
    with pytest.raises(ValueError, match="`reset`.*'soft', 'hard'.*'zero'"):
        cls(2, reset="zero")


@pytest.mark.parametrize("name", list(MODELS))
def test_wrong_input_shape_and_state_type(name):
    model = MODELS[name]()
    state = model.init_state()
    with pytest.raises(ValueError, match=r"`x`.*\(3,\).*\(4,\)"):
        model.step(state, jnp.zeros(4))
    other = N.LIF(3).init_state()
    # the check (or the jaxtyping/beartype hook, when on) names `state` and the expected class
    with pytest.raises(TypeError, match=rf"(?s)state.*{type(state).__name__}"):
        model.step(other, jnp.zeros(3))


# ------------------------------------------------------------ unit-scale presets

# (class, an override and its value: Izhikevich has no `tau`, its recovery rate is `a`)
PRESETS = {
    "ALIF": (N.ALIF, "tau", 3.0),
    "ExpIF": (N.ExpIF, "tau", 3.0),
    "AdEx": (N.AdEx, "tau", 3.0),
    "QuaIF": (N.QuaIF, "tau", 3.0),
    "Izhikevich": (N.Izhikevich, "a", 0.1),
}


@pytest.mark.parametrize("name", list(PRESETS))
def test_unit_scale_fires_for_unit_input_where_the_default_does_not(name):
    cls, _, _ = PRESETS[name]
    preset = cls.unit_scale(3)
    assert preset.dt == 1.0 and preset.v_th == 1.0
    xs = jnp.full((100, 3), 1.5)
    spikes, v = scan(preset, xs)
    assert spikes.sum() > 0
    assert np.all(np.isfinite(v))
    spikes_default, _ = scan(cls(3, dt=0.1), xs)
    assert spikes_default.sum() == 0


@pytest.mark.parametrize("name", list(PRESETS))
def test_unit_scale_overrides_are_applied_last(name):
    cls, arg, value = PRESETS[name]
    model = cls.unit_scale(3, **{arg: value}, dt=0.5)
    assert getattr(model, arg) == value
    assert model.dt == 0.5
    assert isinstance(cls.unit_scale((2, 4)).init_state().v, jax.Array)
    assert cls.unit_scale((2, 4)).init_state().v.shape == (2, 4)


# (class, its time constants and other strictly positive parameters)
POSITIVE = {
    "ALIF": (N.ALIF, ("tau", "tau_a", "dt")),
    "ExpIF": (N.ExpIF, ("tau", "delta_t", "dt")),
    "AdEx": (N.AdEx, ("tau", "tau_w", "delta_t", "dt")),
    "QuaIF": (N.QuaIF, ("tau", "dt")),
    "Izhikevich": (N.Izhikevich, ("a", "dt")),
    "HH": (N.HH, ("c", "g_l", "dt")),
}
bad_values = st.one_of(
    st.floats(max_value=0.0),  # zero, negative, -inf
    st.just(float("nan")),
    st.just(float("inf")),
)


@SETTINGS
@given(name=st.sampled_from(list(POSITIVE)), data=st.data(), bad=bad_values, as_array=st.booleans())
def test_nonpositive_or_nonfinite_time_constant_raises_naming_class_and_argument(name, data, bad, as_array):
    cls, args = POSITIVE[name]
    arg = data.draw(st.sampled_from(args))
    value = bad
    if as_array and arg != "dt":  # `dt` must be a scalar
        value = np.array([10.0, bad, 10.0])
    with pytest.raises(ValueError, match=f"{name}: `{arg}`"):
        cls(3, **{arg: value})
