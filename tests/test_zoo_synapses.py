"""DualExpon, Alpha, NMDA, AMPA, GABAa, COBA, MgBlock, OneToOne and FixedProb against
closed forms, NumPy references and hypothesis properties."""

import math

import equinox as eqx
from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import nn, outputs as O, synapses as S

SETTINGS = settings(max_examples=20, deadline=None)


def response(model, xs):
    """The output `g` for every step of `xs: [T, size]`."""
    _, g = jax.lax.scan(lambda s, x: model.step(s, x), model.init_state(), xs)
    return np.asarray(g)


def unit_pulse(steps, size=1):
    return jnp.zeros((steps, size)).at[0].set(1.0)


# ------------------------------------------------------------ closed-form kernels


@pytest.mark.parametrize("tau_rise, tau_decay", [(1.0, 10.0), (0.5, 3.0), (2.0, 8.0), (4.0, 4.0)])
@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_dual_expon_peak_time_and_value(x64, tau_rise, tau_decay, dt):
    # A unit input at step 0 gives g(t) = A (exp(-t/tau_d) - exp(-t/tau_r)), normalised to peak 1
    # at t* = tau_r tau_d / (tau_d - tau_r) ln(tau_d / tau_r) (t* = tau when the taus are equal).
    if tau_rise == tau_decay:
        t_star = tau_decay
    else:
        t_star = tau_rise * tau_decay / (tau_decay - tau_rise) * math.log(tau_decay / tau_rise)
    g = response(S.DualExpon(1, tau_rise=tau_rise, tau_decay=tau_decay, dt=dt), unit_pulse(int(4 * t_star / dt)))
    t_peak = np.argmax(g[:, 0]) * dt  # g at step n is n * dt after the input
    assert abs(t_peak - t_star) <= dt
    # the rise variable is held over each step, a first-order error of about dt / (2 tau_rise)
    assert abs(g.max() - 1.0) <= dt / tau_rise


def test_dual_expon_explicit_norm_scales_the_kernel(x64):
    tau_r, tau_d, dt = 1.0, 6.0, 0.01
    g = response(S.DualExpon(1, tau_rise=tau_r, tau_decay=tau_d, norm=2.0, dt=dt), unit_pulse(2000))[:, 0]
    t = np.arange(2000) * dt
    expected = 2.0 * (np.exp(-t / tau_d) - np.exp(-t / tau_r))
    np.testing.assert_allclose(g, expected, atol=2.0 * dt / tau_r)


@pytest.mark.parametrize("tau, dt", [(4.0, 0.1), (10.0, 0.1), (4.0, 0.01)])
def test_alpha_peak_time_and_value(x64, tau, dt):
    # g(t) = (t / tau) exp(-t / tau): peak 1/e at t = tau
    g = response(S.Alpha(1, tau_decay=tau, dt=dt), unit_pulse(int(4 * tau / dt)))[:, 0]
    assert abs(np.argmax(g) * dt - tau) <= dt
    assert abs(g.max() - 1 / math.e) <= dt / tau / math.e


def test_ampa_matches_piecewise_closed_form(x64):
    # [T] = T for ceil(T_dur / dt) steps from the arrival, 0 after: g relaxes exactly to
    # alpha T / (alpha T + beta) at rate alpha T + beta, then decays at rate beta.
    alpha, beta, conc, t_dur, dt = 0.98, 0.18, 0.5, 0.45, 0.1
    model = S.AMPA(1, alpha=alpha, beta=beta, transmitter=conc, t_dur=t_dur, dt=dt)
    arrive = 7
    xs = jnp.zeros((300, 1)).at[arrive].set(1.0)
    g = response(model, xs)[:, 0]
    n_on = math.ceil(t_dur / dt)  # 5 steps: 0, 0.1, ..., 0.4 ms after the arrival
    k_on = alpha * conc + beta
    g_inf = alpha * conc / k_on
    t_end = np.arange(1, 301) * dt  # time at the end of each step
    t_rel = t_end - arrive * dt
    expected = np.where(
        t_rel <= 0,
        0.0,
        np.where(
            t_rel <= n_on * dt + 1e-9,
            g_inf * (1 - np.exp(-k_on * t_rel)),
            g_inf * (1 - np.exp(-k_on * n_on * dt)) * np.exp(-beta * (t_rel - n_on * dt)),
        ),
    )
    np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-14)


def test_gabaa_defaults_and_own_state():
    model = S.GABAa(2)
    assert (model.alpha, model.beta, model.transmitter, model.t_dur) == (0.53, 0.18, 1.0, 1.0)
    state = model.init_state()
    assert isinstance(state, S.GABAaState)
    with pytest.raises(TypeError, match="(?s)state.*GABAaState"):
        model.step(S.AMPA(2).init_state(), jnp.zeros(2))


def test_nmda_matches_fine_rk4(x64):
    a, tau_d, tau_r, dt = 0.5, 100.0, 2.0, 0.1
    g = response(S.NMDA(1, a=a, tau_decay=tau_d, tau_rise=tau_r, dt=dt), unit_pulse(500))[:, 0]
    # NumPy RK4 at dt / 100 from x(0) = 1, g(0) = 0
    h, y = dt / 100, np.array([0.0, 1.0])
    f = lambda y: np.array([-y[0] / tau_d + a * y[1] * (1 - y[0]), -y[1] / tau_r])
    ref = [0.0]
    for _ in range(499):
        for _ in range(100):
            k1 = f(y)
            k2 = f(y + h / 2 * k1)
            k3 = f(y + h / 2 * k2)
            k4 = f(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ref.append(y[0])
    # x is held over each step (first order): measured max error 7e-3 on a peak of 0.53
    np.testing.assert_allclose(g, np.array(ref), atol=0.015)
    assert 0.5 < g.max() < 0.65


# ----------------------------------------------------------------------- outputs


@SETTINGS
@given(
    g=st.floats(1e-3, 10.0),
    v=st.floats(-100.0, 60.0),
    e=st.floats(-90.0, 10.0),
)
def test_coba_current_sign_follows_reversal_potential(g, v, e):
    current = float(O.COBA(e)(jnp.array([g]), jnp.array([v]))[0])
    np.testing.assert_allclose(current, g * (e - v), rtol=1e-5, atol=1e-4)
    if v < e - 1e-3:
        assert current > 0  # depolarising below the reversal potential
    elif v > e + 1e-3:
        assert current < 0


@SETTINGS
@given(
    v=st.lists(st.floats(-100.0, 60.0), min_size=4, max_size=4),
    cc_mg=st.floats(0.0, 3.0),
    v_offset=st.floats(-10.0, 10.0),
)
def test_mgblock_matches_numpy_formula(v, cc_mg, v_offset):
    g = np.array([0.1, 0.5, 1.0, 2.0])
    out = O.MgBlock(e=0.0, cc_mg=cc_mg, v_offset=v_offset)(jnp.asarray(g, jnp.float32), jnp.asarray(v, jnp.float32))
    v = np.asarray(v, np.float64)
    expected = g * (0.0 - v) / (1.0 + cc_mg / 3.57 * np.exp(0.062 * (v_offset - v)))
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-4, atol=1e-4)


def test_mgblock_defaults_follow_brainpy():
    mg = O.MgBlock()
    assert (mg.e, mg.cc_mg, mg.alpha, mg.beta, mg.v_offset) == (0.0, 1.2, 0.062, 3.57, 0.0)
    # the block is relieved by depolarisation
    frac = np.asarray(mg.unblocked(jnp.array([-80.0, -40.0, 0.0, 40.0])))
    assert np.all(np.diff(frac) > 0)


# ------------------------------------------------------------- synapse properties

SYNAPSES = {
    "DualExpon": lambda: S.DualExpon(3, tau_decay=jnp.asarray(6.0), tau_rise=jnp.asarray(1.5)),
    "Alpha": lambda: S.Alpha(3, tau_decay=jnp.asarray(5.0)),
    "NMDA": lambda: S.NMDA(3),
    "AMPA": lambda: S.AMPA(3),
    "GABAa": lambda: S.GABAa(3),
}
T = 60
MODELS = {name: make() for name, make in SYNAPSES.items()}
_run = eqx.filter_jit(lambda m, xs: jax.lax.scan(lambda s, x: m.step(s, x), m.init_state(), xs))
RUNS = {name: (lambda xs, m=m: _run(m, xs)) for name, m in MODELS.items()}
inputs = st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.5, 1.0, 2.0]), min_size=3 * T, max_size=3 * T).map(
    lambda xs: jnp.asarray(np.array(xs, np.float32).reshape(T, 3))
)


@SETTINGS
@given(name=st.sampled_from(list(SYNAPSES)), xs=inputs)
def test_conductance_finite_nonnegative_and_kinetic_bounded(name, xs):
    _, g = RUNS[name](xs)
    g = np.asarray(g)
    assert np.all(np.isfinite(g)) and np.all(g >= 0)
    if name in ("NMDA", "AMPA", "GABAa"):
        assert np.all(g <= 1.0)  # a fraction of open channels


@SETTINGS
@given(name=st.sampled_from(list(SYNAPSES)), xs=inputs)
def test_jit_equals_no_jit(name, xs):
    model = SYNAPSES[name]()
    state = model.init_state()
    outs = []
    for x in xs[:5]:
        state, g = model.step(state, x)
        outs.append(g)
    _, g_jit = RUNS[name](xs[:5])
    np.testing.assert_allclose(np.stack(outs), np.asarray(g_jit), rtol=1e-5, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(list(SYNAPSES)), seed=st.integers(0, 2**16))
def test_vmap_equals_loop(name, seed):
    xs = (jax.random.uniform(jax.random.key(seed), (4, T, 3)) < 0.1).astype(jnp.float32)
    run = lambda x: RUNS[name](x)[1]
    batched = np.asarray(jax.vmap(run)(xs))
    for i in range(4):
        np.testing.assert_allclose(batched[i], np.asarray(run(xs[i])), rtol=1e-5, atol=1e-7)


@SETTINGS
@given(g0=st.floats(0.0, 1.0), steps=st.integers(1, 40))
def test_decay_without_input(g0, steps):
    # with the auxiliary variable empty, g decays exactly: exp(-n dt / tau) (AMPA: exp(-beta n dt))
    cases = [
        (S.DualExpon(1, tau_decay=jnp.asarray(6.0)), S.DualExponState(g=jnp.full(1, g0), h=jnp.zeros(1)), 1 / 6.0),
        (S.Alpha(1, tau_decay=jnp.asarray(5.0)), S.AlphaState(g=jnp.full(1, g0), h=jnp.zeros(1)), 1 / 5.0),
        (S.NMDA(1), S.NMDAState(g=jnp.full(1, g0), x=jnp.zeros(1)), 1 / 100.0),
        (
            S.AMPA(1),
            S.AMPAState(g=jnp.full(1, g0), spike_arrival_time=jnp.full(1, -1e7), t=jnp.zeros(())),
            0.18,
        ),
    ]
    for model, state, rate in cases:
        for _ in range(steps):
            state, g = model.step(state, jnp.zeros(1))
        np.testing.assert_allclose(np.asarray(g), g0 * np.exp(-rate * 0.1 * steps), rtol=1e-4, atol=1e-7)


def test_trainable_time_constants_get_finite_gradients():
    xs = unit_pulse(200, 3)
    for model in (
        S.DualExpon(3, tau_decay=jnp.array([5.0, 8.0, 12.0]), tau_rise=jnp.array([0.5, 1.0, 2.0])),
        S.Alpha(3, tau_decay=jnp.array([3.0, 5.0, 9.0])),
        S.NMDA(3, tau_decay=jnp.array([50.0, 100.0, 150.0])),
        S.AMPA(3, beta=jnp.array([0.1, 0.18, 0.3])),
    ):
        params, static = eqx.partition(model, eqx.is_inexact_array)

        def loss(p, static=static):
            m = eqx.combine(p, static)
            return jax.lax.scan(lambda s, x: m.step(s, x), m.init_state(), xs)[1].sum()

        for leaf in jax.tree_util.tree_leaves(jax.grad(loss)(params)):
            assert np.all(np.isfinite(np.asarray(leaf))) and np.all(np.asarray(leaf) != 0), type(model)


def test_dual_expon_equal_taus_gradient_is_finite():
    model = S.DualExpon(1, tau_decay=jnp.asarray(3.0), tau_rise=jnp.asarray(3.0))
    grad = jax.grad(lambda m: m.coefficient().sum())(model)
    assert np.isfinite(float(grad.tau_decay)) and np.isfinite(float(grad.tau_rise))
    np.testing.assert_allclose(float(model.coefficient()), math.e / 3.0, rtol=1e-6)


# ------------------------------------------------------------------- comm layers


@SETTINGS
@given(
    x=st.lists(st.floats(-5.0, 5.0, width=32, allow_subnormal=False), min_size=4, max_size=4),
    w=st.lists(st.floats(-2.0, 2.0, width=32, allow_subnormal=False), min_size=4, max_size=4),
)
def test_one_to_one_is_elementwise(x, w):
    x32, w32 = np.asarray(x, np.float32), np.asarray(w, np.float32)
    layer = nn.OneToOne(4, weight=jnp.asarray(w32))
    np.testing.assert_allclose(np.asarray(layer(jnp.asarray(x32))), x32 * w32, rtol=1e-6, atol=1e-30)
    grad = jax.grad(lambda m: m(jnp.asarray(x32)).sum())(layer)
    np.testing.assert_allclose(np.asarray(grad.weight), x32, rtol=1e-6, atol=1e-30)
    fixed = nn.OneToOne(4, weight=0.5)
    assert jax.tree_util.tree_leaves(eqx.filter(fixed, eqx.is_inexact_array)) == []
    assert fixed.step(None, jnp.asarray(x32))[0] is None


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), prob=st.sampled_from([0.05, 0.3, 0.5, 0.9, 1.0]))
def test_fixed_prob_is_a_masked_matmul_and_trains_present_connections_only(seed, prob):
    key = jax.random.key(seed)
    layer = nn.FixedProb(6, 5, prob, key=key)
    mask, w = np.asarray(layer.mask), np.asarray(layer.weight)
    assert mask.dtype == bool
    again = nn.FixedProb(6, 5, prob, key=key)
    np.testing.assert_array_equal(np.asarray(again.mask), mask)  # drawn once, from the key
    x = np.linspace(-1.0, 1.0, 6, dtype=np.float32)
    np.testing.assert_allclose(np.asarray(layer(jnp.asarray(x))), x @ np.where(mask, w, 0.0), rtol=1e-5, atol=1e-6)
    grad = eqx.filter_grad(lambda m: m(jnp.asarray(x)).sum())(layer)
    np.testing.assert_allclose(np.asarray(grad.weight), np.where(mask, x[:, None], 0.0), rtol=1e-6, atol=1e-30)
    params = jax.tree_util.tree_leaves(eqx.filter(layer, eqx.is_inexact_array))
    assert len(params) == 1 and params[0].shape == (6, 5)  # the mask is not a parameter


def test_fixed_prob_connection_fraction_and_scalar_weight():
    layer = nn.FixedProb(200, 100, 0.1, key=jax.random.key(0), weight=0.3)
    frac = float(np.asarray(layer.mask).mean())
    # binomial(20000, 0.1): standard deviation 0.0021; 5 sigma
    assert abs(frac - 0.1) < 0.0106
    x = jnp.ones(200)
    np.testing.assert_allclose(np.asarray(layer(x)), 0.3 * np.asarray(layer.mask).sum(0), rtol=1e-5)
    assert jax.tree_util.tree_leaves(eqx.filter(layer, eqx.is_inexact_array)) == []


def test_projection_with_fixed_prob_ampa_and_coba():
    proj = eqsnn.Projection(nn.FixedProb(4, 3, 1.0, key=jax.random.key(1), weight=1.0), S.AMPA(3), O.COBA(0.0))
    state = proj.init_state()
    state, current = proj.step(state, (jnp.ones(4), jnp.full(3, -65.0)))
    g = 0.98 * 0.5 / (0.98 * 0.5 + 0.18) * (1 - math.exp(-(0.98 * 0.5 + 0.18) * 0.1))
    np.testing.assert_allclose(np.asarray(current), g * 65.0, rtol=1e-5)


# -------------------------------------------------------------------- bad input


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`tau_rise`.*> 0.*-1"):
        S.DualExpon(2, tau_rise=-1.0)
    with pytest.raises(ValueError, match="`tau_decay`"):
        S.Alpha(2, tau_decay=0.0)
    with pytest.raises(ValueError, match="`tau_decay`"):
        S.NMDA(2, tau_decay=-3.0)
    with pytest.raises(ValueError, match="`beta`"):
        S.AMPA(2, beta=0.0)
    with pytest.raises(ValueError, match=r"`tau_decay`.*\(2,\).*\(3,\)"):
        S.Alpha(2, tau_decay=jnp.ones(3))
    with pytest.raises(ValueError, match="`beta`"):
        O.MgBlock(beta=-1.0)
    with pytest.raises(ValueError, match=r"`weight`.*\(3,\).*\(2,\)"):
        nn.OneToOne(3, weight=jnp.ones(2))
    with pytest.raises(ValueError, match=r"`prob`.*\(0, 1\].*1\.5"):
        nn.FixedProb(3, 2, 1.5, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"`weight`.*\(3, 2\)"):
        nn.FixedProb(3, 2, 0.5, key=jax.random.key(0), weight=jnp.ones((2, 3)))


@pytest.mark.parametrize("name", list(SYNAPSES))
def test_wrong_input_shape_and_state_type(name):
    model = SYNAPSES[name]()
    state = model.init_state()
    with pytest.raises(ValueError, match=r"`x`.*\(3,\).*\(5,\)"):
        model.step(state, jnp.zeros(5))
    with pytest.raises(TypeError, match=rf"(?s)state.*{type(state).__name__}"):
        model.step(S.Expon(3).init_state(), jnp.zeros(3))


def test_comm_layers_reject_wrong_input_shape():
    with pytest.raises(ValueError, match=r"`x`.*size=3.*\(4,\)"):
        nn.OneToOne(3)(jnp.zeros(4))
    with pytest.raises(ValueError, match=r"`x`.*in_features=3.*\(4,\)"):
        nn.FixedProb(3, 2, 0.5, key=jax.random.key(0))(jnp.zeros(4))


# ------------------------------------------------- declared parameters, validated

SYNAPSE_CLASSES = (S.Expon, S.DualExpon, S.Alpha, S.NMDA, S.AMPA, S.GABAa)
# every time constant of every synapse (`dt` included): the declared positive parameters in ms
TIME_CONSTANTS = [
    (cls, name)
    for cls in SYNAPSE_CLASSES
    for name, spec in eqsnn.params_of(cls).items()
    if spec.unit == "ms" and spec.constraint == "positive"
]
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
NOT_A_TIME_CONSTANT = st.one_of(st.floats(max_value=0.0), NON_FINITE)


def test_time_constants_are_declared():
    declared = {(cls.__name__, name) for cls, name in TIME_CONSTANTS}
    expected = {("Expon", "tau"), ("DualExpon", "tau_decay"), ("DualExpon", "tau_rise")}
    expected |= {("Alpha", "tau_decay"), ("NMDA", "tau_decay"), ("NMDA", "tau_rise")}
    expected |= {(cls.__name__, "dt") for cls in SYNAPSE_CLASSES}
    assert declared == expected


@pytest.mark.parametrize("cls, name", TIME_CONSTANTS, ids=lambda c: getattr(c, "__name__", c))
@SETTINGS
@given(value=NOT_A_TIME_CONSTANT, as_array=st.booleans())
def test_synapse_rejects_nonpositive_or_nonfinite_time_constant(cls, name, value, as_array):
    if as_array and name != "dt":  # one bad element among good ones (`dt` is a scalar)
        value = np.array([1.0, value, 2.0])
    with pytest.raises(ValueError, match=f"{cls.__name__}: `{name}`"):
        cls(3, **{name: value})


@pytest.mark.parametrize(
    "cls, name",
    [(cls, name) for cls in SYNAPSE_CLASSES for name in eqsnn.params_of(cls)] + [(S.DualExpon, "norm")],
    ids=lambda c: getattr(c, "__name__", c),
)
@SETTINGS
@given(value=NON_FINITE)
def test_synapse_rejects_nonfinite_parameter(cls, name, value):
    with pytest.raises(ValueError, match=f"{cls.__name__}: `{name}`.*finite"):
        cls(3, **{name: value})


OUTPUT_PARAMS = [(O.COBA, "e")] + [(O.MgBlock, name) for name in eqsnn.params_of(O.MgBlock)]


@pytest.mark.parametrize("cls, name", OUTPUT_PARAMS, ids=lambda c: getattr(c, "__name__", c))
@SETTINGS
@given(value=st.one_of(NON_FINITE, st.none(), st.text(max_size=5)))
def test_output_rejects_nonfinite_or_non_numeric_parameter(cls, name, value):
    error = ValueError if isinstance(value, float) else TypeError
    with pytest.raises(error, match=f"{cls.__name__}: `{name}`"):
        cls(**{name: value})
    if cls is O.COBA:  # `e` may also be given positionally
        with pytest.raises(error, match=f"COBA: `{name}`"):
            O.COBA(value)


@SETTINGS
@given(beta=st.floats(max_value=0.0), cc_mg=st.floats(max_value=0.0, exclude_max=True))
def test_mgblock_rejects_constraint_violations(beta, cc_mg):
    with pytest.raises(ValueError, match="MgBlock: `beta`"):
        O.MgBlock(beta=beta)
    with pytest.raises(ValueError, match="MgBlock: `cc_mg`"):
        O.MgBlock(cc_mg=cc_mg)
    O.MgBlock(cc_mg=0.0)  # no magnesium: no block
    O.COBA(jnp.full(3, -80.0))  # any shape: it broadcasts against the postsynaptic population
