"""A user's own neuron, written in this file against the public API only, gets parameter
validation and the generic property checks of `eqsnn.testing` with no code of its own; and every
eqsnn population rejects every invalid value of every declared parameter, naming both."""

import importlib
import inspect

import equinox as eqx
from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import pytest

import eqsnn
from eqsnn import neurons, synapses
import eqsnn.testing as et


# ---- the user's neuron (at most 40 lines) ---------------------------------- #
class ResonatorState(eqx.Module):
    v: jax.Array
    u: jax.Array
    spike: jax.Array


class ResonateAndFire(eqsnn.AbstractSpikingNeuron):
    r"""Izhikevich (2001): $\dot z = (-1/\tau + i\omega) z + I$, $v = \mathrm{Re}\, z$, spike at
    $v \ge v_{th}$; integrated exactly (a damped rotation), the input adding $\Delta t\, I$ per step."""

    tau: jax.typing.ArrayLike = eqsnn.param(5.0, unit="ms", constraint="positive", doc="damping")
    omega: jax.typing.ArrayLike = eqsnn.param(0.5, unit="rad/ms", constraint="positive", doc="frequency")
    v_th: jax.typing.ArrayLike = eqsnn.param(1.0, unit="mV", doc="threshold")
    v_reset: jax.typing.ArrayLike = eqsnn.param(0.0, unit="mV", doc="reset potential")

    def init_state(self, *, key=None):
        zeros = jnp.zeros(self.shape)
        return ResonatorState(zeros, zeros, zeros)

    def step(self, state, x):
        decay, angle = jnp.exp(-self.dt / self.tau), self.omega * self.dt
        cos, sin = decay * jnp.cos(angle), decay * jnp.sin(angle)
        v = cos * state.v - sin * state.u + self.dt * jnp.broadcast_to(x, self.shape)
        u = sin * state.v + cos * state.u
        spike, v = neurons.spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return ResonatorState(v, u, spike), spike


# ---- (a) validation from the declarations alone ----------------------------- #
SHAPE, T, B = (3,), 20, 3


def test_declared_parameters_are_validated():
    assert set(eqsnn.params_of(ResonateAndFire)) == {"dt", "tau", "omega", "v_th", "v_reset"}
    with pytest.raises(ValueError, match=r"ResonateAndFire: `tau` must be > 0 \(ms\), got -1"):
        ResonateAndFire(SHAPE, tau=-1.0)
    for bad in (None, float("nan"), "5.0"):
        with pytest.raises((TypeError, ValueError), match=r"ResonateAndFire: `tau`"):
            ResonateAndFire(SHAPE, tau=bad)
    with pytest.raises(ValueError, match=r"ResonateAndFire: `omega` must be a scalar or broadcastable"):
        ResonateAndFire(SHAPE, omega=jnp.ones(4))


@given(et.invalid_params_for(ResonateAndFire, shape=SHAPE))
def test_invalid_values_are_rejected(bad):
    name, value = bad
    with pytest.raises((TypeError, ValueError), match=rf"ResonateAndFire: `{name}`"):
        ResonateAndFire(SHAPE, **{name: value})


# ---- (b) the generic property checks, no per-model code ---------------------- #
jit_run = eqx.filter_jit(eqsnn.run)


@given(et.params_for(ResonateAndFire, shape=SHAPE, arrays=True), et.currents(SHAPE, T, batch=B, max_value=20.0))
def test_user_neuron_passes_the_generic_checks(params, xs_batch):
    model, xs = ResonateAndFire(SHAPE, **params), xs_batch[0]
    et.check_spikes_binary(model, xs)
    et.check_vmap_equals_loop(model, xs_batch)
    et.check_run_equals_step_loop(model, xs)
    et.check_run_equals_scan(model, xs)
    et.check_jit_equals_eager(model, xs[:8])  # op by op: a few steps suffice
    # tau <= 50 dt: 200 steps take the distance to rest below e^{-4} of where it started
    et.check_decays_without_input(model, jit_run(model, xs)[0], 200, settle=0.1)


def test_a_resonator_overshoots_so_the_strict_decay_check_fails():
    model = ResonateAndFire(SHAPE, tau=20.0, omega=2.0)
    start = ResonatorState(jnp.full(SHAPE, 0.5), jnp.zeros(SHAPE), jnp.zeros(SHAPE))
    et.check_decays_without_input(model, start, 400, settle=0.2)
    with pytest.raises(AssertionError, match=r"ResonateAndFire: without input .* (overshot|grew)"):
        et.check_decays_without_input(model, start, 400, monotone=True)


# ---- every eqsnn population rejects every invalid value ---------------------- #
def _concrete_populations():
    found, todo = set(), [eqsnn.AbstractPopulation]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("eqsnn.") and not inspect.isabstract(sub):
                found.add(sub)
    return sorted(found, key=lambda c: c.__name__)


POPULATIONS = _concrete_populations()


def test_every_population_is_enumerated():
    modules = [neurons, synapses]
    try:  # the NIR layers (EulerLIF, Integrate, ...) are public in eqsnn.nir, which needs the `nir` extra
        modules.append(importlib.import_module("eqsnn.nir"))
    except ImportError:
        pass
    public = {v for m in modules for v in vars(m).values() if isinstance(v, type)}
    assert set(POPULATIONS) <= public
    assert {neurons.LIF, neurons.HH, neurons.Izhikevich, synapses.NMDA, synapses.GABAa} <= set(POPULATIONS)


@pytest.mark.parametrize("cls", POPULATIONS, ids=lambda c: c.__name__)
@settings(max_examples=40)  # construction is cheap: cover most (name, value) pairs
@given(data=st.data())
def test_every_population_rejects_invalid_values(cls, data):
    name, value = data.draw(et.invalid_params_for(cls, shape=SHAPE), label="bad")
    with pytest.raises((TypeError, ValueError)) as info:
        cls(SHAPE, **{name: value})
    msg = str(info.value)
    # the library names "Class: `name`"; the jaxtyping hook, where it is first, "parameter 'name'"
    assert cls.__name__ in msg and (f"`{name}`" in msg or f"'{name}'" in msg), msg


@pytest.mark.parametrize("cls", POPULATIONS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_population_accepts_its_drawn_parameters(cls, data):
    params = data.draw(et.params_for(cls, shape=SHAPE, arrays=data.draw(st.booleans(), label="arrays")))
    assert cls(SHAPE, **params).shape == SHAPE
