"""Spike encoders against independent NumPy references, closed forms and statistics."""

from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eqsnn import encoding

# ---------------------------------------------------------------- references


def latency_reference(x, num_steps, tau=2.0, dt=0.1, thr=0.2, eps=1e-7):
    """Float64, element by element with `math`: (step or num_steps, T in steps)."""
    steps, times = [], []
    for v in np.asarray(x, dtype=np.float64).ravel().tolist():
        if not v >= thr:
            steps.append(num_steps)
            times.append(math.inf)
            continue
        v = min(max(v, thr + eps), 1e9)
        t = (tau / dt) * (math.log(v) - math.log(v - thr))
        times.append(t)
        steps.append(math.floor(t) if t < num_steps else num_steps)
    shape = np.shape(x)
    return np.array(steps).reshape(shape), np.array(times).reshape(shape)


def seed_style_float32(x32: np.ndarray, num_steps: int) -> np.ndarray:
    """The tutorial's NumPy code path, in float32 as it ran there (clip, then `tmax` where x < thr)."""
    tau_eff, thr, eps = 2.0 / 0.1, 0.2, 1e-7
    xc = np.clip(x32, thr + eps, 1e9)
    t = tau_eff * np.log(xc / (xc - thr))
    t = np.where(xc < thr, num_steps, t)
    steps = np.array(t, dtype=np.int32)
    return np.where(steps < num_steps, steps, num_steps)


# ---------------------------------------------------------------- latency


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(-0.5, 3.0, allow_nan=False, width=32), min_size=32, max_size=32),
    num_steps=st.integers(1, 400),
    tau=st.floats(0.5, 5.0),
    dt=st.sampled_from([0.05, 0.1, 0.5, 1.0]),
    thr=st.integers(0, 900).map(lambda k: float(np.float32(k / 1000))),  # representable in float32
)
def test_latency_steps_matches_float64_reference(values, num_steps, tau, dt, thr):
    x = np.array(values, dtype=np.float32)
    got = np.asarray(encoding.latency_steps(jnp.asarray(x), num_steps, tau=tau, dt=dt, threshold=thr))
    want, times = latency_reference(x, num_steps, tau=tau, dt=dt, thr=thr)
    assert got.dtype == np.int32
    x64 = x.astype(np.float64)
    # Inputs within 1e-6 of threshold are clipped to thr + eps, a bound that float32 cannot hold
    # (eps is about one ulp); their T depends on that rounding (documented), so they are left out.
    keep = ~((x64 >= thr) & (x64 - thr < 1e-6))
    # Elsewhere float32 and float64 may truncate differently only when T is within the float32
    # error bound of an integer: rounding of thr is amplified by x / (x - thr), plus a few ulps.
    u = 2.0**-24
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (tau / dt) * 16 * u * (2 + x64 / np.maximum(x64 - thr, 1e-30)) + 16 * u * times
        near_boundary = np.abs(times - np.round(times)) <= bound
    differ = (got != want) & keep
    assert np.all(~differ | near_boundary), (x[differ], got[differ], want[differ], times[differ])
    assert np.all(np.abs(got - want)[differ] <= 1)


def test_latency_8bit_pixels_exact_against_float64_and_seed():
    # Every 8-bit pixel value, scaled both in NumPy and on device (which may differ by one ulp).
    k = np.arange(256, dtype=np.uint8)
    for x in (k.astype(np.float32) / np.float32(255), np.asarray(jnp.asarray(k).astype(jnp.float32) / 255)):
        for num_steps in (1, 5, 50, 100, 289):
            got = np.asarray(encoding.latency_steps(x, num_steps))
            np.testing.assert_array_equal(got, latency_reference(x, num_steps)[0])
            np.testing.assert_array_equal(got, seed_style_float32(x, num_steps))


def test_latency_closed_form_step_midpoints():
    # x chosen so that T = m + 1/2 exactly: x = thr / (1 - exp(-(m + 1/2) dt / tau)).
    tau, dt, thr = 3.0, 0.25, 0.3
    m = np.arange(40)
    x = thr / (1.0 - np.exp(-(m + 0.5) * dt / tau))
    got = np.asarray(encoding.latency_steps(x.astype(np.float32), 30, tau=tau, dt=dt, threshold=thr))
    np.testing.assert_array_equal(got, np.where(m < 30, m, 30))


def test_latency_below_threshold_never_spikes():
    x = jnp.array([0.0, 0.1, 0.1999, jnp.nan, -1.0])
    assert np.all(np.asarray(encoding.latency_steps(x, 1000)) == 1000)
    assert float(encoding.latency(x, 1000).sum()) == 0.0
    # Brightest pixel with the defaults: T = 20 log(1 / 0.8) = 4.46 -> step 4.
    assert int(encoding.latency_steps(jnp.array([1.0]), 100)[0]) == 4


def test_latency_dense_is_one_hot_of_steps_and_vmaps():
    key = jax.random.key(0)
    x = jax.random.uniform(key, (3, 50), maxval=1.2)
    spikes = jax.vmap(lambda xi: encoding.latency(xi, 60))(x)
    assert spikes.shape == (3, 60, 50) and spikes.dtype == jnp.float32
    s = np.asarray(spikes)
    assert set(np.unique(s).tolist()) <= {0.0, 1.0}
    assert np.all(s.sum(axis=1) <= 1)  # at most one spike per input
    steps = np.asarray(encoding.latency_steps(x, 60))
    t, _ = np.meshgrid(np.arange(60), np.arange(50), indexing="ij")
    for b in range(3):  # vmap equals a loop, and the dense train is the one-hot of the steps
        np.testing.assert_array_equal(s[b], np.asarray(encoding.latency(x[b], 60)))
        np.testing.assert_array_equal(s[b], (t == steps[b][None]).astype(np.float32))
    image = encoding.latency(x[0].reshape(5, 10), 60, dtype=jnp.bool_)
    assert image.shape == (60, 5, 10) and image.dtype == jnp.bool_
    jitted = jax.jit(encoding.latency, static_argnums=1)
    np.testing.assert_array_equal(np.asarray(jitted(x[0], 60)), s[0])


def test_latency_errors_name_the_argument():
    with pytest.raises(TypeError, match="`x` must be a floating array .*images / 255"):
        encoding.latency(np.zeros(4, dtype=np.uint8), 10)
    with pytest.raises(ValueError, match="`num_steps` must be a positive int, got 0"):
        encoding.latency_steps(jnp.zeros(4), 0)
    with pytest.raises(ValueError, match="`tau` must be > 0"):
        encoding.latency(jnp.zeros(4), 10, tau=-1.0)
    with pytest.raises(ValueError, match="`dt` must be > 0"):
        encoding.latency(jnp.zeros(4), 10, dt=0.0)


# ---------------------------------------------------------------- poisson


def test_poisson_rates_within_binomial_bounds():
    x = jnp.array([0.0, 0.1, 0.25, 0.5, 1.0])
    n = 20_000
    spikes = np.asarray(encoding.poisson(x, n, key=jax.random.key(42), max_rate=1000.0, dt=0.1))
    assert spikes.shape == (n, 5) and set(np.unique(spikes).tolist()) <= {0.0, 1.0}
    p = np.asarray(x) * 1000.0 * 0.1 / 1000.0
    counts = spikes.sum(axis=0)
    sd = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) <= 5 * sd + 1e-9), (counts, n * p)
    assert counts[0] == 0


def test_poisson_key_determinism_and_vmap():
    x = jnp.full((2, 7), 0.6)
    keys = jax.random.split(jax.random.key(0), 2)
    batch = jax.vmap(lambda xi, k: encoding.poisson(xi, 30, key=k, max_rate=200.0))(x, keys)
    for i in range(2):
        np.testing.assert_array_equal(
            np.asarray(batch[i]), np.asarray(encoding.poisson(x[i], 30, key=keys[i], max_rate=200.0))
        )
    assert not np.array_equal(np.asarray(batch[0]), np.asarray(batch[1]))


def test_poisson_errors():
    with pytest.raises(ValueError, match="`max_rate` \\* `dt` / 1000 .* must be <= 1, got 2.0"):
        encoding.poisson(jnp.ones(3), 5, key=jax.random.key(0), max_rate=20_000.0, dt=0.1)
    with pytest.raises(ValueError, match="`max_rate` must be >= 0"):
        encoding.poisson(jnp.ones(3), 5, key=jax.random.key(0), max_rate=-1.0)


# ---------------------------------------------------------------- delta


def delta_reference(x, thr, padding, off_spike):
    out = np.zeros_like(x)
    prev = x[0] if padding else np.zeros_like(x[0])
    for t in range(x.shape[0]):
        for i in range(x.shape[1]):
            d = float(x[t, i]) - float(prev[i])
            out[t, i] = 1.0 if d > thr else (-1.0 if off_spike and d < -thr else 0.0)
        prev = x[t]
    return out


@settings(max_examples=30, deadline=None)
@given(
    x=st.lists(
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.55, 1.0]), min_size=3, max_size=3), min_size=6, max_size=6
    ),
    thr=st.sampled_from([0.0, 0.05, 0.2, 0.45]),
    padding=st.booleans(),
    off_spike=st.booleans(),
)
def test_delta_matches_loop_reference(x, thr, padding, off_spike):
    x = np.array(x, dtype=np.float64)
    got = np.asarray(encoding.delta(jnp.asarray(x, jnp.float32), thr, padding=padding, off_spike=off_spike))
    # Values are chosen so that no difference lies within float32 rounding of the threshold.
    np.testing.assert_array_equal(got, delta_reference(x, thr, padding, off_spike))


def test_delta_constant_signal_spikes_only_first_step():
    x = jnp.tile(jnp.array([0.05, 0.5, 1.0]), (10, 1))
    s = np.asarray(encoding.delta(x, 0.1))
    np.testing.assert_array_equal(s[0], [0.0, 1.0, 1.0])
    assert s[1:].sum() == 0
    assert np.asarray(encoding.delta(x, 0.1, padding=True)).sum() == 0


# ---------------------------------------------------------------- rows as sequence


def test_rows_as_sequence():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    seq = encoding.rows_as_sequence(images)
    assert seq.shape == (3, 28, 28) and seq.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(seq), images / 255.0, rtol=1e-6, atol=0)
    # Row r of an image is the input at step r.
    np.testing.assert_allclose(np.asarray(seq[1, 5]), images[1, 5] / 255.0, rtol=1e-6)
    floats = rng.random((2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(encoding.rows_as_sequence(floats)), floats)
    with pytest.raises(TypeError, match="uint8 or floating, got dtype int16"):
        encoding.rows_as_sequence(images.astype(np.int16))
