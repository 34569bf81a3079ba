"""The public `eqsnn.testing` package: its strategies draw valid (and invalid) values, and each
invariant check passes on correct models and fails, with a message naming the model and where, on
deliberately broken ones."""

import subprocess
import sys
from typing import Any

import equinox as eqx
from hypothesis import given, strategies as st
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import neurons, surrogate, synapses
import eqsnn.testing as et

N, T = 3, 30


# --------------------------------------------------------------------------- #
# Models: correct ones written against the protocol, and deliberate defects
# --------------------------------------------------------------------------- #


class SoftSpikes(eqsnn.AbstractSpikingNeuron):
    """Emits a sigmoid of the potential instead of a spike."""

    v_th: Any = eqsnn.param(1.0, unit="mV")

    def init_state(self, *, key=None):
        return neurons.LIFState(v=jnp.zeros(self.shape), spike=jnp.zeros(self.shape))

    def step(self, state, x):
        v = 0.9 * state.v + x
        spike = jax.nn.sigmoid(v - self.v_th)
        return neurons.LIFState(v=v - spike, spike=spike), spike


class HardResetLIF(eqsnn.AbstractSpikingNeuron):
    """A researcher's own neuron: leaky integration with a decay factor, the surrogate spike and
    the shared reset helper, a hard reset by default."""

    v_th: Any = eqsnn.param(1.0, unit="mV")
    v_reset: Any = eqsnn.param(-0.5, unit="mV")
    reset: str = eqx.field(default="hard", kw_only=True, static=True)

    def init_state(self, *, key=None):
        return neurons.LIFState(v=jnp.zeros(self.shape), spike=jnp.zeros(self.shape))

    def step(self, state, x):
        v = 0.8 * state.v + x
        spike, v = neurons.spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return neurons.LIFState(v=v, spike=spike), spike


class Trace(eqsnn.AbstractDynamics):
    """x <- decay * x + input: a decay for 0 <= decay < 1, an oscillating one for -1 < decay < 0."""

    shape: tuple = eqx.field(static=True)
    decay: float

    def init_state(self, *, key=None):
        return neurons.LeakyState(x=jnp.zeros(self.shape))

    def step(self, state, x):
        new = self.decay * state.x + x
        return neurons.LeakyState(x=new), new


class Rotation(eqsnn.AbstractDynamics):
    """A damped rotation of (x, y): a resonator, which overshoots rest on its way back."""

    shape: tuple = eqx.field(static=True)
    decay: float = 0.97
    angle: float = 0.3

    def init_state(self, *, key=None):
        return (jnp.zeros(self.shape), jnp.zeros(self.shape))

    def step(self, state, x):
        c, s = self.decay * np.cos(self.angle), self.decay * np.sin(self.angle)
        new = (c * state[0] - s * state[1] + x, s * state[0] + c * state[1])
        return new, new[0]


class Blowup(eqsnn.AbstractDynamics):
    """Squares its state: from |x| > 1 it overflows to inf."""

    shape: tuple = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.shape)

    def step(self, state, x):
        new = state * state * 10.0 + x
        return new, new


class TraceTimeNoise(eqsnn.AbstractDynamics):
    """Impure: NumPy noise drawn when the step is traced becomes a constant of each compilation."""

    shape: tuple = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.shape)

    def step(self, state, x):
        noise = jnp.asarray(np.random.default_rng().normal(size=self.shape), dtype=state.dtype)
        new = 0.9 * state + x + noise
        return new, new


class WrongHoist(eqsnn.AbstractStateless):
    """A stateless layer whose whole-sequence form (the hoisted path) scales twice."""

    def __call__(self, x):
        return 2.0 * x

    def over_sequence(self, xs):
        return 4.0 * xs


class TracerAware(eqsnn.AbstractDynamics):
    """Behaves differently when traced (a Python branch on the value's type)."""

    shape: tuple = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.shape)

    def step(self, state, x):
        gain = 2.0 if isinstance(x, jax.core.Tracer) else 1.0
        new = 0.5 * state + gain * x
        return new, new


class LowPrecision(eqsnn.AbstractDynamics):
    """Adds a term proportional to the machine epsilon of its dtype."""

    shape: tuple = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.shape)

    def step(self, state, x):
        new = 0.5 * state + x + 1e4 * jnp.finfo(x.dtype).eps
        return new, new


class WrongSmooth(surrogate.InvSquare):
    """Its `smooth` is not the antiderivative of its `derivative`."""

    def smooth(self, x):
        return 2.0 * super().smooth(x)


class WrongGrad(surrogate.InvSquare):
    """Its spike function's gradient is another surrogate's."""

    def __call__(self, x):
        return surrogate.InvSquare(1.0)(x)


class SoftForward(surrogate.InvSquare):
    """Its forward value is a sigmoid, not a step."""

    def __call__(self, x):
        return jax.nn.sigmoid(x)


def _xs(low=0.0, high=1.0, shape=(T, N), seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(low, high, shape), dtype=jnp.float32)


# --------------------------------------------------------------------------- #
# The checks catch what they claim to catch
# --------------------------------------------------------------------------- #


def test_check_spikes_binary():
    et.check_spikes_binary(neurons.LIF(N, v_th=1.0), _xs(0.0, 30.0))
    et.check_spikes_binary(HardResetLIF(N), _xs(0.0, 2.0))
    et.check_spikes_binary(neurons.LIF((2, 3), v_th=1.0), _xs(0.0, 30.0, shape=(T, 2, 3)))
    with pytest.raises(AssertionError, match=r"SoftSpikes: spikes must be exactly 0 or 1, but the output at step 0"):
        et.check_spikes_binary(SoftSpikes(N), _xs(0.1, 1.0))
    with pytest.raises(AssertionError, match=r"SoftSpikes: .* the state's spikes at step 0"):
        et.check_spikes_binary(SoftSpikes(N), _xs(0.1, 1.0), outputs=False)
    # the spikes are a function of the state, not an attribute the check assumes
    with pytest.raises(TypeError, match=r"the state \(LeakyState\) has no `spike`"):
        et.check_spikes_binary(Trace((N,), 0.5), _xs())
    et.check_spikes_binary(Trace((N,), 0.0), jnp.ones((T, N)), spikes=lambda s: s.x)
    with pytest.raises(AssertionError, match=r"Trace: .* the state's spikes at step 0, index \(0,\) is 0.5"):
        et.check_spikes_binary(Trace((N,), 0.0), jnp.full((T, N), 0.5), spikes=lambda s: s.x, outputs=False)


def test_check_no_spike_within_refractory():
    strong = _xs(50.0, 100.0)
    et.check_no_spike_within_refractory(neurons.LifRef(N, tau_ref=1.0, reset="hard", dt=0.1), strong)
    et.check_no_spike_within_refractory(
        neurons.LifRef((2, 3), tau_ref=jnp.asarray([0.5, 1.0, 1.5]), reset="hard"), _xs(50.0, 100.0, shape=(T, 2, 3))
    )
    # LIF has no refractory period: with tau_ref claimed, strong input makes it fire too often
    with pytest.raises(
        AssertionError,
        match=r"LIF: element \(0,\) spiked at steps \d+ and \d+, [\d.]+ ms apart, within its refractory period "
        r"tau_ref=1 ms",
    ):
        et.check_no_spike_within_refractory(neurons.LIF(N, v_th=1.0), strong, tau_ref=1.0)
    # the precondition matters: a soft reset that stays above threshold keeps spiking while held
    with pytest.raises(AssertionError, match=r"LifRef: element \(\d,\) spiked"):
        et.check_no_spike_within_refractory(neurons.LifRef(N, tau_ref=0.5, v_th=1.0, dt=0.1), _xs(1e4, 2e4))
    with pytest.raises(TypeError, match="tau_ref"):
        et.check_no_spike_within_refractory(HardResetLIF(N), strong)


def test_check_reset_below_threshold():
    et.check_reset_below_threshold(neurons.LIF(N, reset="hard"), _xs(0.0, 1e3))
    et.check_reset_below_threshold(HardResetLIF(N), _xs(0.0, 5.0))
    lif = neurons.LIF(N, reset="soft")
    a = np.exp(-lif.dt / lif.tau)
    bound = (lif.v_th - lif.v_rest) + (lif.v_th - lif.v_reset) / (1 - a)
    et.check_reset_below_threshold(lif, _xs(0.0, 0.9 * bound))
    with pytest.raises(
        AssertionError, match=r"LIF: after step \d+ \(spike=1\.0\), element \(\d,\) has v=.* >= v_th=20\.0"
    ):
        et.check_reset_below_threshold(lif, _xs(3 * bound, 4 * bound))
    # any potential, any threshold
    with pytest.raises(AssertionError, match=r"Trace: after step 0 .* v=1.0 >= v_th=0.5"):
        et.check_reset_below_threshold(Trace((N,), 0.5), jnp.ones((T, N)), potential=lambda s: s.x, threshold=0.5)
    with pytest.raises(TypeError, match="has no `v_th`"):
        et.check_reset_below_threshold(Trace((N,), 0.5), jnp.ones((T, N)), potential=lambda s: s.x)


def test_check_decays_without_input_first_order():
    lif = neurons.LIF(N, v_rest=-65.0, v_reset=-65.0, v_th=-50.0)
    start = neurons.LIFState(v=jnp.asarray([-80.0, -55.0, -65.0]), spike=jnp.zeros(N))
    for monotone in (False, True):
        et.check_decays_without_input(lif, start, monotone=monotone)  # rest: the v of init_state()
        et.check_decays_without_input(lif, start, value=lambda s: s.v, rest=-65.0, monotone=monotone)
    x0 = neurons.LeakyState(x=jnp.asarray([1.0, -2.0, 0.5]))
    et.check_decays_without_input(Trace((N,), 0.9), x0, monotone=True)
    # an oscillating decay is a decay, but not a monotone one
    et.check_decays_without_input(Trace((N,), -0.5), x0)
    with pytest.raises(AssertionError, match=r"Trace: without input state\.x overshot rest at step 0"):
        et.check_decays_without_input(Trace((N,), -0.5), x0, monotone=True)
    with pytest.raises(AssertionError, match=r"Trace: without input the distance of state\.x to rest grew at step 0"):
        et.check_decays_without_input(Trace((N,), 1.1), x0, monotone=True)
    with pytest.raises(AssertionError, match=r"Trace: without input state\.x moved away from rest at step \d+"):
        et.check_decays_without_input(Trace((N,), 1.1), x0)
    # a perfect integrator holds its value: it does not decay
    held = neurons.LIFState(v=jnp.full((N,), 3.0), spike=jnp.zeros(N))
    for monotone, what in ((False, r"the state \(state\.v, state\.spike\)"), (True, r"state\.v")):
        with pytest.raises(AssertionError, match=rf"IF: without input {what} at index \(0,\) did not decay"):
            et.check_decays_without_input(neurons.IF(N), held, monotone=monotone)
    with pytest.raises(AssertionError, match=r"Blowup: without input state is not finite after step \d+"):
        et.check_decays_without_input(Blowup((N,)), jnp.full((N,), 2.0))


def test_check_decays_without_input_allows_a_resonators_overshoot():
    model = Rotation((N,))
    start = (jnp.asarray([1.0, -2.0, 0.0]), jnp.asarray([0.0, 0.5, 0.0]))
    et.check_decays_without_input(model, start, 200, settle=0.01)  # 0.97^200 ~ 2e-3
    with pytest.raises(AssertionError, match=r"Rotation: without input .*(overshot|grew)"):
        et.check_decays_without_input(model, start, 200, monotone=True)
    # not enough steps to come back within 1% of the start
    with pytest.raises(
        AssertionError, match=r"Rotation: without input .* index \(0,\) did not settle within settle=0.01"
    ):
        et.check_decays_without_input(model, start, 20, settle=0.01)
    # an undamped quarter turn per step is back where it started after 20 steps
    with pytest.raises(AssertionError, match=r"Rotation: without input .* index \(0,\) did not decay over 20 steps"):
        et.check_decays_without_input(Rotation((N,), decay=1.0, angle=np.pi / 2), start, 20)


def test_check_vmap_and_batch_independence():
    xs = _xs(shape=(4, T, N))
    et.check_vmap_equals_loop(neurons.LifRef(N, tau_ref=0.5, v_th=0.5), 20 * xs)
    et.check_batch_size_independent(neurons.LifRef(N, tau_ref=0.5, v_th=0.5), 20 * xs, batch_sizes=(1, 3))
    with pytest.raises(
        AssertionError, match=r"TraceTimeNoise: vmap over samples vs a loop over samples: leaf \[0\] differs"
    ):
        et.check_vmap_equals_loop(TraceTimeNoise((N,)), xs)
    with pytest.raises(AssertionError, match=r"TraceTimeNoise: the first 1 samples of a batch of 4 vs a batch of 1"):
        et.check_batch_size_independent(TraceTimeNoise((N,)), xs)


def test_check_run_equals_step_loop_and_scan():
    from helpers import linear

    good = [
        HardResetLIF(N),
        neurons.LIF(N, v_th=1.0, tau=eqsnn.positive(jnp.full((N,), 5.0))),  # reparameterised: unwrapped
        linear(N, N, seed=1) >> neurons.LIF(N, v_th=0.5) >> linear(N, 2, seed=2),  # a hoisted head
    ]
    for model in good:
        et.check_run_equals_step_loop(model, _xs(0.0, 2.0), monitor=lambda s: s)
        et.check_run_equals_scan(model, _xs(0.0, 2.0))
    broken = WrongHoist() >> Trace((N,), 0.5)
    with pytest.raises(AssertionError, match=r"Sequential: run vs a Python loop of step: leaf \[0\]\[1\]\.x differs"):
        et.check_run_equals_step_loop(broken, _xs())
    with pytest.raises(
        AssertionError, match=r"Sequential: run \(hoisted\) vs lax.scan of step: leaf \[0\]\[1\]\.x differs"
    ):
        et.check_run_equals_scan(broken, _xs())
    with pytest.warns(DeprecationWarning, match="check_run_equals_scan"):
        with pytest.raises(AssertionError, match=r"Sequential: run \(hoisted\) vs lax.scan of step"):
            et.check_prepared_equals_step(broken, _xs())


def test_check_jit_equals_eager():
    et.check_jit_equals_eager(HardResetLIF(N), _xs(0.0, 2.0)[:8])
    with pytest.raises(AssertionError, match=r"TracerAware: jit vs eager"):
        et.check_jit_equals_eager(TracerAware((N,)), _xs()[:8])


def test_check_remat_equals_run():
    assert et.check_checkpoint_equals_run is et.check_remat_equals_run
    et.check_remat_equals_run(HardResetLIF(N), _xs(0.0, 2.0), 7)
    with pytest.raises(AssertionError, match=r"TraceTimeNoise: run\(remat=7\) vs run\(\), values"):
        et.check_checkpoint_equals_run(TraceTimeNoise((N,)), _xs(), 7)
    with pytest.raises(ValueError, match="remat"):
        et.check_remat_equals_run(HardResetLIF(N), _xs(), 0)


def test_check_float32_matches_float64():
    et.check_float32_matches_float64(neurons.LIF(N, v_th=1e3), _xs(0.0, 30.0))
    with pytest.raises(AssertionError, match=r"LowPrecision: float32 vs float64"):
        et.check_float32_matches_float64(LowPrecision((N,)), _xs())
    assert not jax.config.jax_enable_x64  # the check restores the precision it found


points = hnp.arrays(np.float32, (16,), elements=et.floats32(-3.0, 3.0))


@given(et.surrogates(arrays=True), points)
def test_every_surrogate_passes_the_derivative_check(f, x):
    et.check_surrogate_derivative(f, x)


def test_check_surrogate_derivative_catches_broken_surrogates():
    x = jnp.linspace(-2.0, 2.0, 17)
    et.check_surrogate_derivative(surrogate.Boxcar(0.5), x)  # jumps at |x| = w, on the grid
    et.check_surrogate_derivative(surrogate.Triangle(), x)  # kinks at |x| = w
    with pytest.raises(AssertionError, match=r"WrongSmooth: derivative\(x\) must be the derivative of smooth\(x\)"):
        et.check_surrogate_derivative(WrongSmooth(4.0), x)
    with pytest.raises(AssertionError, match=r"WrongGrad: jax.grad of the spike function must equal derivative"):
        et.check_surrogate_derivative(WrongGrad(4.0), x)
    with pytest.raises(AssertionError, match=r"SoftForward: the forward value must be exactly heaviside\(x\)"):
        et.check_surrogate_derivative(SoftForward(4.0), x)
    with pytest.raises(TypeError, match="floating"):
        et.check_surrogate_derivative(surrogate.InvSquare(), jnp.arange(3))
    assert not jax.config.jax_enable_x64


# --------------------------------------------------------------------------- #
# Strategies draw valid values
# --------------------------------------------------------------------------- #


@given(st.data())
def test_floats32_are_float32_exact_and_normal(data):
    lo, hi = sorted(data.draw(st.tuples(st.floats(-1e30, 1e30), st.floats(-1e30, 1e30)), label="bounds"))
    try:
        strategy = et.floats32(lo, hi)
    except ValueError:  # no normal float32 inside [lo, hi]
        tiny = float(np.finfo(np.float32).tiny)
        near = [np.float32(lo), np.float32(hi), np.float32(0.0), np.float32(tiny), np.float32(-tiny)]
        near += [np.nextafter(v, np.float32(d)) for v in near[:2] for d in (np.inf, -np.inf)]
        assert not any(lo <= float(v) <= hi and (v == 0 or abs(float(v)) >= tiny) for v in near)
        return
    x = data.draw(strategy, label="x")
    assert isinstance(x, float) and float(np.float32(x)) == x and lo <= x <= hi
    assert x == 0.0 or abs(x) >= np.finfo(np.float32).tiny


def test_floats32_arguments_are_checked():
    with pytest.raises(ValueError, match=r"`lo` must be <= `hi`"):
        et.floats32(1.0, 0.0)
    with pytest.raises(ValueError, match="finite"):
        et.floats32(0.0, float("inf"))


class Declared(eqsnn.AbstractNeuron):
    """A population declaring one parameter of every constraint (its dynamics are irrelevant)."""

    tau: Any = eqsnn.param(10.0, unit="ms", constraint="positive")
    delay: Any = eqsnn.param(0.5, unit="ms", constraint="nonnegative")
    gain: Any = eqsnn.param(2.0, constraint="positive")
    count: Any = eqsnn.param(0.0, constraint="nonnegative")
    p: Any = eqsnn.param(0.5, constraint="unit_interval")
    q: Any = eqsnn.param(1.0, constraint="open_unit_interval")
    level: Any = eqsnn.param(2.5, constraint=(2.0, 3.0))
    offset: Any = eqsnn.param(-60.0, unit="mV")
    zero: Any = eqsnn.param(0.0, unit="mV")
    derived: Any = eqsnn.param(None, unit="mV")
    rate: Any = eqsnn.param(4.0, constraint="positive", scalar=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.shape)

    def step(self, state, x):
        return state, state


def _within(x, lo, hi):
    """lo <= x <= hi up to float32 rounding of the products that drew x."""
    return lo - 1e-6 * abs(lo) <= x <= hi + 1e-6 * abs(hi)


@given(et.params_for(Declared))
def test_params_for_draws_each_constraint_sanely(p):
    Declared(N, **p)
    assert "derived" not in p  # a None default is derived by the class
    assert all(isinstance(v, float) and float(np.float32(v)) == v for v in p.values())
    assert _within(p["dt"], 0.05, 0.2)
    assert _within(p["tau"], p["dt"], 50 * p["dt"]) and _within(p["delay"], 0.0, 50 * p["dt"])
    assert _within(p["gain"], 1.0, 4.0) and _within(p["count"], 0.0, 1.0) and _within(p["rate"], 2.0, 8.0)
    assert 0.0 <= p["p"] <= 1.0 and 0.0 < p["q"] <= 1.0 and 2.0 <= p["level"] <= 3.0
    assert _within(p["offset"], -63.0, -57.0) and -0.05 <= p["zero"] <= 0.05


@given(et.params_for(Declared, shape=(2, N), arrays=True))
def test_params_for_arrays_have_the_shape(p):
    Declared((2, N), **p)
    for name, v in p.items():
        assert isinstance(v, jax.Array) and v.dtype == jnp.float32
        assert v.shape == (() if name in ("dt", "rate") else (2, N)), name


@given(
    et.params_for(
        neurons.LIF,
        arrays=True,
        overrides={
            "reset": "hard",
            "v_th": st.floats(1.0, 2.0),
            "dt": 0.5,
            "v_reset": lambda p: p["v_th"] - 1.0,
            "spike_fn": lambda p: et.surrogates(),
        },
    )
)
def test_params_for_overrides(p):
    assert p["reset"] == "hard" and float(p["dt"]) == 0.5 and isinstance(p["dt"], jax.Array)
    assert 1.0 <= float(p["v_th"]) <= 2.0 and float(p["v_reset"]) == float(p["v_th"]) - 1.0
    assert _within(float(p["tau"]), 0.5, 25.0)  # relative to the overridden dt
    assert isinstance(p["spike_fn"], surrogate.AbstractSurrogate)
    neurons.LIF(N, **p)


def test_params_for_arguments_are_checked():
    with pytest.raises(ValueError, match=r"`overrides` names \['tua'\], which are not arguments of LIF"):
        et.params_for(neurons.LIF, overrides={"tua": 1.0})
    with pytest.raises(TypeError, match="population class"):
        et.params_for(neurons.LIF(N))
    with pytest.raises(TypeError, match="declares no parameters"):
        et.invalid_params_for(Trace)
    with pytest.raises(ValueError, match="time_steps"):
        et.params_for(neurons.LIF, time_steps=(0.0, 5.0))


@given(et.invalid_params_for(Declared, shape=(2, N)))
def test_invalid_params_for_are_rejected(bad):
    name, value = bad
    assert name in eqsnn.params_of(Declared)
    with pytest.raises((TypeError, ValueError), match=rf"Declared: `{name}`"):
        Declared((2, N), **{name: value})


@given(et.lif_params())
def test_lif_params_are_valid(p):
    assert p["v_rest"] < p["v_th"] and p["v_reset"] < p["v_th"]
    assert p["tau"] > 0 and p["dt"] > 0 and p["r"] > 0 and p["reset"] in ("soft", "hard")
    assert all(float(np.float32(v)) == v for v in p.values() if isinstance(v, float))
    neurons.LIF(N, **p)


@given(et.lifref_params(reset="hard", tau_ref=(0.5, 2.0), arrays=True))
def test_lifref_params_are_valid(p):
    assert p["reset"] == "hard"
    assert all(isinstance(v, jax.Array) and v.shape == () for k, v in p.items() if k != "reset")
    assert 0.5 <= float(p["tau_ref"]) <= 2.0 and float(p["v_reset"]) < float(p["v_th"])
    neurons.LifRef(N, **p)


@given(et.if_params(), et.leaky_params(), et.expon_params(tau=(2.0, 4.0)))
def test_other_params_are_valid(p_if, p_leaky, p_expon):
    assert p_if["v_reset"] < p_if["v_th"] and p_if["v_init"] < p_if["v_th"]
    neurons.IF(N, **p_if)
    neurons.Leaky(N, **p_leaky)
    neurons.Integrator(N, **p_leaky)
    assert 2.0 <= synapses.Expon(N, **p_expon).tau <= 4.0


@given(
    et.currents(N, T, min_value=-2.0, max_value=5.0),
    et.currents((2, N), 4, batch=5),
    et.spike_trains(N, T),
    et.spike_trains((2, 2), 3, batch=2),
)
def test_inputs_have_the_requested_shape_and_range(xs, xs_batch, spikes, spikes_batch):
    assert xs.shape == (T, N) and xs.dtype == jnp.float32 and xs_batch.shape == (5, 4, 2, N)
    assert float(xs.min()) >= -2.0 and float(xs.max()) <= 5.0
    assert spikes.shape == (T, N) and spikes.dtype == jnp.float32 and spikes_batch.shape == (2, 3, 2, 2)
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0}


@given(et.surrogates(), st.floats(-3.0, 3.0))
def test_surrogates_are_heaviside_forward(f, x):
    assert isinstance(f, surrogate.AbstractSurrogate)
    assert float(f(jnp.float32(x))) == (1.0 if np.float32(x) >= 0 else 0.0)
    assert np.isfinite(float(f.derivative(jnp.float32(x))))


@given(st.data())
def test_inputs_follow_x64(data):
    """Without an explicit dtype, drawn inputs and array parameters take the default float dtype at draw time."""
    with jax.enable_x64(True):
        assert data.draw(et.currents(2, 3)).dtype == jnp.float64
        assert data.draw(et.spike_trains(2, 3)).dtype == jnp.float64
        assert data.draw(et.params_for(neurons.LIF, arrays=True))["tau"].dtype == jnp.float64
    assert data.draw(et.currents(2, 3)).dtype == jnp.float32
    assert data.draw(et.currents(2, 3, dtype=jnp.bfloat16)).dtype == jnp.bfloat16


def test_strategy_arguments_are_checked():
    with pytest.raises(ValueError, match="min_value"):
        et.currents(2, 3, min_value=1.0, max_value=0.0)
    with pytest.raises(ValueError, match="shape"):
        et.currents((2, 0), 3)
    with pytest.raises(ValueError, match="batch"):
        et.spike_trains(2, 3, batch=0)
    with pytest.raises(ValueError, match="reset"):
        et.lif_params(reset="subtract")


def test_importing_eqsnn_does_not_import_hypothesis():
    """hypothesis is a test dependency only: eqsnn and eqsnn.testing import without it."""
    code = (
        "import sys, eqsnn, eqsnn.testing; "
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'; "
        "eqsnn.testing.lif_params(); "
        "assert 'hypothesis' in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
