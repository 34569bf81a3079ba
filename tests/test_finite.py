"""Long runs stay finite: 10,000 steps of any constant current in [-1e4, 1e4], in float32 and float64."""

from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import neurons as N

MODELS = {
    "LIF": lambda: N.LIF(2),
    "ALIF": lambda: N.ALIF(2),
    "ExpIF": lambda: N.ExpIF(2),
    "AdEx": lambda: N.AdEx(2),
    "QuaIF": lambda: N.QuaIF(2),
    "Izhikevich": lambda: N.Izhikevich(2),
    "HH": lambda: N.HH(2),
}

STEPS = 10_000


def _final_state(name, current, dtype):
    model = MODELS[name]()
    xs = jnp.full((STEPS, 2), current, dtype=dtype)
    state, spikes = jax.jit(eqsnn.run)(model, xs)
    return state, spikes


def _assert_finite(name, current, dtype):
    state, spikes = _final_state(name, current, dtype)
    for leaf in jax.tree_util.tree_leaves((state, spikes)):
        assert bool(jnp.all(jnp.isfinite(leaf))), f"{name}: not finite at I={current} ({dtype})"


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("current", [-1e4, -70.0, 2000.0, 5000.0, 1e4])
def test_known_overflow_currents_stay_finite_float32(name, current):
    _assert_finite(name, current, jnp.float32)


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=3, deadline=None)
@given(current=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False))
def test_any_constant_current_stays_finite_float32(name, current):
    _assert_finite(name, current, jnp.float32)


@pytest.mark.parametrize("name", sorted(MODELS))
@settings(max_examples=2, deadline=None)
@given(current=st.sampled_from([-1e4, -70.0, 1e4]) | st.floats(-1e4, 1e4, allow_nan=False))
def test_any_constant_current_stays_finite_float64(name, current):
    with jax.enable_x64(True):
        _assert_finite(name, np.float64(current), jnp.float64)
