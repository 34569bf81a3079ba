"""The public `eqsnn.testing` module: its strategies draw valid values, and each invariant check
passes on correct models and fails, with a message naming the model and where, on broken ones."""

import subprocess
import sys

import equinox as eqx
from hypothesis import given, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import neurons, surrogate, synapses
import eqsnn.testing as et

N, T = 3, 30


# --------------------------------------------------------------------------- #
# Models with deliberate defects
# --------------------------------------------------------------------------- #


class SoftSpikes(neurons.AbstractSpikingNeuron):
    """Emits a sigmoid of the potential instead of a spike."""

    size: int = eqx.field(static=True)
    dt: float = 0.1
    spike_fn: surrogate.AbstractSurrogate = surrogate.InvSquare()
    v_th: float = 1.0
    reset: str = eqx.field(static=True, default="soft")
    detach_reset: bool = eqx.field(static=True, default=False)

    def init_state(self, *, key=None):
        return neurons.LIFState(v=jnp.zeros(self.size), spike=jnp.zeros(self.size))

    def step(self, state, x):
        v = 0.9 * state.v + x
        spike = jax.nn.sigmoid(v - self.v_th)
        return neurons.LIFState(v=v - spike, spike=spike), spike


class HardResetLIF(neurons.AbstractSpikingNeuron):
    """A researcher's own neuron, written against the AbstractSpikingNeuron fields: leaky
    integration with a decay factor, spike through the surrogate, shared reset helper."""

    size: int = eqx.field(static=True)
    dt: float = 0.5
    spike_fn: surrogate.AbstractSurrogate = surrogate.Sigmoid(4.0)
    v_th: float = 1.0
    v_reset: float = -0.5
    reset: str = eqx.field(static=True, default="hard")
    detach_reset: bool = eqx.field(static=True, default=False)

    def init_state(self, *, key=None):
        return neurons.LIFState(v=jnp.zeros(self.size), spike=jnp.zeros(self.size))

    def step(self, state, x):
        v = 0.8 * state.v + x
        spike, v = neurons.spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return neurons.LIFState(v=v, spike=spike), spike


class Trace(eqsnn.AbstractDynamics):
    """x <- decay * x + input; decay in (-1, 1) would be fine only for 0 <= decay < 1."""

    size: int = eqx.field(static=True)
    decay: float

    def init_state(self, *, key=None):
        return neurons.LeakyState(x=jnp.zeros(self.size))

    def step(self, state, x):
        new = self.decay * state.x + x
        return neurons.LeakyState(x=new), new


class TraceTimeNoise(eqsnn.AbstractDynamics):
    """Impure: NumPy noise drawn when the step is traced becomes a constant of each compilation."""

    size: int = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.size)

    def step(self, state, x):
        noise = jnp.asarray(np.random.default_rng().normal(size=self.size), dtype=state.dtype)
        new = 0.9 * state + x + noise
        return new, new


class WrongFastPath(eqsnn.AbstractDynamics):
    """Its prepared path scales the input twice."""

    size: int = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.size)

    def step(self, state, x):
        new = 0.5 * state + 2.0 * x
        return new, new

    def prepare_inputs(self, xs):
        return 2.0 * xs

    def step_prepared(self, state, u):
        return self.step(state, u)


class TracerAware(eqsnn.AbstractDynamics):
    """Behaves differently when traced (a Python branch on the value's type)."""

    size: int = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.size)

    def step(self, state, x):
        gain = 2.0 if isinstance(x, jax.core.Tracer) else 1.0
        new = 0.5 * state + gain * x
        return new, new


class LowPrecision(eqsnn.AbstractDynamics):
    """Adds a term proportional to the machine epsilon of its dtype."""

    size: int = eqx.field(static=True)

    def init_state(self, *, key=None):
        return jnp.zeros(self.size)

    def step(self, state, x):
        new = 0.5 * state + x + 1e4 * jnp.finfo(x.dtype).eps
        return new, new


def _xs(low=0.0, high=1.0, shape=(T, N), seed=0):
    return jnp.asarray(np.random.default_rng(seed).uniform(low, high, shape), dtype=jnp.float32)


# --------------------------------------------------------------------------- #
# The checks catch what they claim to catch
# --------------------------------------------------------------------------- #


def test_check_spikes_binary():
    et.check_spikes_binary(neurons.LIF(N, v_th=1.0), _xs(0.0, 30.0))
    et.check_spikes_binary(HardResetLIF(N), _xs(0.0, 2.0))
    with pytest.raises(AssertionError, match=r"SoftSpikes: spikes must be exactly 0 or 1, but the output at step 0"):
        et.check_spikes_binary(SoftSpikes(N), _xs(0.1, 1.0))


def test_check_no_spike_within_refractory():
    strong = _xs(50.0, 100.0)
    et.check_no_spike_within_refractory(neurons.LifRef(N, tau_ref=1.0, reset="hard", dt=0.1), strong)
    # LIF has no refractory period: with tau_ref claimed, strong input makes it fire too often
    with pytest.raises(
        AssertionError,
        match=r"LIF: neuron 0 spiked at steps \d+ and \d+, [\d.]+ ms apart, within its refractory period tau_ref=1 ms",
    ):
        et.check_no_spike_within_refractory(neurons.LIF(N, v_th=1.0), strong, tau_ref=1.0)
    # the precondition matters: a soft reset that stays above threshold keeps spiking while held
    with pytest.raises(AssertionError, match=r"LifRef: neuron \d spiked"):
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
        AssertionError, match=r"LIF: after step \d+ \(spike=1\.0\), neuron \(\d,\) has v=.* >= v_th=20\.0"
    ):
        et.check_reset_below_threshold(lif, _xs(3 * bound, 4 * bound))


def test_check_decays_without_input():
    lif = neurons.LIF(N, v_rest=-65.0, v_th=-50.0)
    start = neurons.LIFState(v=jnp.asarray([-80.0, -55.0, -65.0]), spike=jnp.zeros(N))
    et.check_decays_without_input(lif, start)
    x0 = neurons.LeakyState(x=jnp.asarray([1.0, -2.0, 0.5]))
    et.check_decays_without_input(Trace(N, 0.9), x0)
    with pytest.raises(AssertionError, match=r"Trace: without input the value overshot rest at step 0"):
        et.check_decays_without_input(Trace(N, -0.5), x0)
    with pytest.raises(AssertionError, match=r"Trace: without input the distance to rest grew at step 0"):
        et.check_decays_without_input(Trace(N, 1.1), x0)
    # a perfect integrator holds its value: it does not decay
    with pytest.raises(AssertionError, match=r"IF: without input index \(0,\) did not decay"):
        et.check_decays_without_input(neurons.IF(N), neurons.LIFState(v=jnp.full((N,), 3.0), spike=jnp.zeros(N)))


def test_check_vmap_and_batch_independence():
    xs = _xs(shape=(4, T, N))
    et.check_vmap_equals_loop(neurons.LifRef(N, tau_ref=0.5, v_th=0.5), 20 * xs)
    et.check_batch_size_independent(neurons.LifRef(N, tau_ref=0.5, v_th=0.5), 20 * xs, batch_sizes=(1, 3))
    with pytest.raises(
        AssertionError, match=r"TraceTimeNoise: vmap over samples vs a loop over samples: leaf \[0\] differs"
    ):
        et.check_vmap_equals_loop(TraceTimeNoise(N), xs)
    with pytest.raises(AssertionError, match=r"TraceTimeNoise: the first 1 samples of a batch of 4 vs a batch of 1"):
        et.check_batch_size_independent(TraceTimeNoise(N), xs)


def test_check_run_and_prepared_path():
    et.check_run_equals_step_loop(HardResetLIF(N), _xs(0.0, 2.0), monitor=lambda s: s.v)
    et.check_prepared_equals_step(HardResetLIF(N), _xs(0.0, 2.0))
    with pytest.raises(AssertionError, match=r"WrongFastPath: run vs a Python loop of step: leaf \[0\] differs"):
        et.check_run_equals_step_loop(WrongFastPath(N), _xs())
    with pytest.raises(AssertionError, match=r"WrongFastPath: step_prepared vs step at step 0"):
        et.check_prepared_equals_step(WrongFastPath(N), _xs())


def test_check_jit_equals_eager():
    et.check_jit_equals_eager(HardResetLIF(N), _xs(0.0, 2.0)[:8])
    with pytest.raises(AssertionError, match=r"TracerAware: jit vs eager"):
        et.check_jit_equals_eager(TracerAware(N), _xs()[:8])


def test_check_checkpoint_equals_run():
    et.check_checkpoint_equals_run(HardResetLIF(N), _xs(0.0, 2.0), 7)
    with pytest.raises(AssertionError, match=r"TraceTimeNoise: run\(checkpoint=7\) vs run\(\), values"):
        et.check_checkpoint_equals_run(TraceTimeNoise(N), _xs(), 7)


def test_check_float32_matches_float64():
    et.check_float32_matches_float64(neurons.LIF(N, v_th=1e3), _xs(0.0, 30.0))
    with pytest.raises(AssertionError, match=r"LowPrecision: float32 vs float64"):
        et.check_float32_matches_float64(LowPrecision(N), _xs())
    assert not jax.config.jax_enable_x64  # the check restores the precision it found


# --------------------------------------------------------------------------- #
# Strategies draw valid values
# --------------------------------------------------------------------------- #


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


@given(et.currents(N, T, min_value=-2.0, max_value=5.0), et.spike_trains(N, T))
def test_inputs_have_the_requested_shape_and_range(xs, spikes):
    assert xs.shape == (T, N) and xs.dtype == jnp.float32
    assert float(xs.min()) >= -2.0 and float(xs.max()) <= 5.0
    assert spikes.shape == (T, N) and spikes.dtype == jnp.float32
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0}


@given(et.surrogates(), st.floats(-3.0, 3.0))
def test_surrogates_are_heaviside_forward(f, x):
    assert isinstance(f, surrogate.AbstractSurrogate)
    assert float(f(jnp.float32(x))) == (1.0 if np.float32(x) >= 0 else 0.0)
    assert np.isfinite(float(f.derivative(jnp.float32(x))))


@given(st.data())
def test_inputs_follow_x64(data):
    """Without an explicit dtype, drawn inputs take the default float dtype at draw time."""
    with jax.enable_x64(True):
        assert data.draw(et.currents(2, 3)).dtype == jnp.float64
        assert data.draw(et.spike_trains(2, 3)).dtype == jnp.float64
    assert data.draw(et.currents(2, 3)).dtype == jnp.float32
    assert data.draw(et.currents(2, 3, dtype=jnp.bfloat16)).dtype == jnp.bfloat16


def test_strategy_arguments_are_checked():
    with pytest.raises(ValueError, match="min_value"):
        et.currents(2, 3, min_value=1.0, max_value=0.0)
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
