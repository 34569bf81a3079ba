"""Surrogate spike functions: exact Heaviside forward, backward == d(smooth)/dx == its formula."""

import functools as ft
import math

import equinox as eqx
from hypothesis import given, settings, strategies as st
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import pytest

import eqsnn.surrogate as sg
import eqsnn.testing as et

# Each surrogate: a factory from two drawn numbers in (0, 1], its pseudo-derivative
# re-typed here in NumPy (written from the papers' formulas, not from the library),
# and the points where the smooth function has a kink (excluded when differentiating it).
SPI = math.sqrt(math.pi)


def _kinks_none(f):
    return ()


SURROGATES = {
    "InvSquare": (
        lambda a, b: sg.InvSquare(alpha=1.0 + 199.0 * a),
        lambda f, x: (1.0 + f.alpha * np.abs(x)) ** -2,
        _kinks_none,
    ),
    "FastSigmoid": (
        lambda a, b: sg.FastSigmoid(alpha=1.0 + 49.0 * a),
        lambda f, x: 1.0 / (f.alpha * np.abs(x) + 1.0) ** 2,
        _kinks_none,
    ),
    "Sigmoid": (
        lambda a, b: sg.Sigmoid(alpha=0.5 + 9.5 * a),
        lambda f, x: f.alpha * np.exp(-f.alpha * x) / (1.0 + np.exp(-f.alpha * x)) ** 2,
        _kinks_none,
    ),
    "ArcTan": (
        lambda a, b: sg.ArcTan(alpha=0.5 + 9.5 * a),
        lambda f, x: (f.alpha / 2.0) / (1.0 + (math.pi / 2.0 * f.alpha * x) ** 2),
        _kinks_none,
    ),
    "Gaussian": (
        lambda a, b: sg.Gaussian(sigma=0.1 + 1.9 * a, alpha=0.5 + 1.5 * b),
        lambda f, x: f.alpha / (f.sigma * math.sqrt(2.0 * math.pi)) * np.exp(-0.5 * (x / f.sigma) ** 2),
        _kinks_none,
    ),
    "Erf": (
        lambda a, b: sg.Erf(alpha=0.5 + 4.5 * a),
        lambda f, x: f.alpha * np.exp(-((f.alpha * x) ** 2)) / SPI,
        _kinks_none,
    ),
    "PiecewiseQuadratic": (
        lambda a, b: sg.PiecewiseQuadratic(alpha=0.5 + 4.5 * a),
        lambda f, x: np.where(np.abs(x) < 1.0 / f.alpha, -(f.alpha**2) * np.abs(x) + f.alpha, 0.0),
        lambda f: (-1.0 / f.alpha, 1.0 / f.alpha),
    ),
    "PiecewiseExp": (
        lambda a, b: sg.PiecewiseExp(alpha=0.5 + 4.5 * a),
        lambda f, x: f.alpha / 2.0 * np.exp(-f.alpha * np.abs(x)),
        _kinks_none,
    ),
    "SoftSign": (
        lambda a, b: sg.SoftSign(alpha=0.5 + 4.5 * a),
        lambda f, x: f.alpha / (2.0 * (1.0 + np.abs(f.alpha * x)) ** 2),
        _kinks_none,
    ),
    "Triangle": (
        lambda a, b: sg.Triangle(alpha=0.1 + 1.9 * a, width=0.2 + 1.8 * b),
        lambda f, x: np.where(np.abs(x) < f.width, f.alpha * (f.width - np.abs(x)), 0.0),
        lambda f: (-f.width, f.width),
    ),
    "Boxcar": (
        lambda a, b: sg.Boxcar(width=0.1 + 1.9 * a),
        lambda f, x: (np.abs(x) < f.width) / (2.0 * f.width),
        lambda f: (-f.width, f.width),
    ),
    "QPseudoSpike": (
        lambda a, b: sg.QPseudoSpike(alpha=1.5 + 3.5 * a),
        lambda f, x: (1.0 + 2.0 * np.abs(x) / (f.alpha - 1.0)) ** (-f.alpha),
        # jax.grad of sign(x) * tail(|x|) is 0 at exactly x = 0 (the true value is 1).
        lambda f: (0.0,),
    ),
    "StraightThrough": (
        lambda a, b: sg.StraightThrough(),
        lambda f, x: np.ones_like(x),
        _kinks_none,
    ),
}
NAMES = sorted(SURROGATES)

unit = st.floats(0.0, 1.0, allow_nan=False)
xs_strategy = hnp.arrays(np.float64, (16,), elements=st.floats(-4.0, 4.0, allow_nan=False, allow_subnormal=False))


@ft.cache
def _jitted_backward(name, smooth):
    """vmap(grad) of the surrogate (or of its smooth function), built inside jit from traced
    hyper-parameters, so hypothesis examples share one compilation."""
    make = SURROGATES[name][0]

    @jax.jit
    def fn(a, b, x):
        f = make(a, b)
        return jax.vmap(jax.grad(f.smooth if smooth else f))(x)

    return fn


@ft.cache
def _jitted_jvp_vjp(name):
    make = SURROGATES[name][0]

    @jax.jit
    def fn(a, b, x, tangent):
        f = make(a, b)
        t = jnp.full_like(x, tangent)
        y, jvp = jax.jvp(f, (x,), (t,))
        _, vjp_fn = jax.vjp(f, x)
        return y, jvp, vjp_fn(t)[0]

    return fn


def _kink_mask(f, kinks, x, margin=1e-3):
    keep = np.ones(x.shape, bool)
    for k in kinks(f):
        keep &= np.abs(x - k) > margin
    return keep


def test_every_surrogate_is_covered():
    """The table above covers every public surrogate class (a new one must be added)."""
    public = {
        name
        for name, obj in vars(sg).items()
        if isinstance(obj, type) and issubclass(obj, sg.AbstractSurrogate) and not name.startswith("Abstract")
    }
    assert public - {"SuperSpike"} <= set(SURROGATES), public - set(SURROGATES)
    assert len(SURROGATES) >= 12


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=8)
@given(a=unit, b=unit, x=xs_strategy)
def test_backward_equals_grad_of_smooth(name, a, b, x):
    make, _, kinks = SURROGATES[name]
    with jax.enable_x64(True):
        keep = _kink_mask(make(a, b), kinks, x)
        backward = np.asarray(_jitted_backward(name, False)(a, b, jnp.asarray(x)))
        smooth = np.asarray(_jitted_backward(name, True)(a, b, jnp.asarray(x)))
    np.testing.assert_allclose(backward[keep], smooth[keep], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=8)
@given(a=unit, b=unit, x=xs_strategy)
def test_backward_equals_numpy_formula(name, a, b, x):
    make, formula, kinks = SURROGATES[name]
    with jax.enable_x64(True):
        f = make(a, b)
        keep = _kink_mask(f, kinks, x)
        backward = np.asarray(_jitted_backward(name, False)(a, b, jnp.asarray(x)))
    np.testing.assert_allclose(backward[keep], formula(f, x)[keep], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=8)
@given(a=unit, b=unit, x=xs_strategy, tangent=st.floats(-3.0, 3.0, allow_nan=False))
def test_forward_mode_equals_reverse_mode(name, a, b, x, tangent):
    make, _, _ = SURROGATES[name]
    with jax.enable_x64(True):
        y, jvp, vjp = _jitted_jvp_vjp(name)(a, b, jnp.asarray(x), jnp.float64(tangent))
    np.testing.assert_array_equal(np.asarray(y), (np.asarray(x) >= 0).astype(np.float64))
    np.testing.assert_allclose(np.asarray(jvp), np.asarray(vjp), rtol=1e-12, atol=1e-15)


@given(
    f=et.surrogates(), x=hnp.arrays(np.float32, (32,), elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False))
)
def test_forward_is_exactly_heaviside(f, x):
    y = np.asarray(f(jnp.asarray(x)))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.where(x >= 0, 1.0, 0.0).astype(np.float32))


@pytest.mark.parametrize("name", NAMES)
def test_forward_at_threshold(name):
    """H(0) = 1 (so v == v_th spikes), also for -0.0; the smallest normal float below 0
    gives 0. (Subnormals are flushed to zero by XLA on CPU, so they count as 0.)"""
    f = SURROGATES[name][0](0.5, 0.5)
    tiny = np.finfo(np.float32).tiny
    x = jnp.asarray([0.0, -0.0, -tiny, tiny], dtype=jnp.float32)
    np.testing.assert_array_equal(np.asarray(f(x)), [1.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(np.asarray(sg.heaviside(x)), [1.0, 1.0, 0.0, 1.0])


@given(f=et.surrogates(), x=st.floats(-5.0, 5.0, width=32), scale=st.floats(0.125, 8.0, width=32))
def test_chain_rule_through_spike(f, x, scale):
    """d/dz S(scale * z) at z = x / scale is scale * derivative(x): the pseudo-derivative
    composes with the surrounding program like a true derivative."""
    z = jnp.float32(x / scale)
    g, expected = _chain(_as_arrays(f), z, jnp.float32(scale))
    np.testing.assert_allclose(np.asarray(g), np.asarray(expected), rtol=1e-5, atol=1e-7)


def _as_arrays(tree):
    """Python-float hyper-parameters as float32 arrays (one compilation for all values)."""
    return jtu.tree_map(lambda leaf: jnp.asarray(leaf, jnp.float32) if isinstance(leaf, float) else leaf, tree)


@eqx.filter_jit
def _chain(f, z, scale):
    return jax.grad(lambda z: f(scale * z))(z), scale * f.derivative(scale * z)


@jax.jit
def _inv_square_grad(alpha, x):
    return jax.grad(lambda x: sg.InvSquare(alpha=alpha)(x))(x)


@given(alphas=hnp.arrays(np.float32, (5,), elements=st.floats(1.0, 200.0, width=32)), x=st.floats(-1.0, 1.0, width=32))
def test_vmap_over_hyper_parameter(alphas, x):
    """A surrogate's hyper-parameter is a field: vmap over it equals a loop."""
    grad = lambda alpha: _inv_square_grad(alpha, jnp.float32(x))
    batched = np.asarray(jax.vmap(grad)(jnp.asarray(alphas)))
    looped = np.asarray([grad(jnp.float32(a)) for a in alphas])
    np.testing.assert_allclose(batched, looped, rtol=1e-6)
    np.testing.assert_allclose(batched, 1.0 / (alphas * abs(x) + 1.0) ** 2, rtol=1e-5)


def test_brainpy_default_is_inv_square_100():
    f = sg.InvSquare()
    assert f.alpha == 100.0
    assert "alpha=50.0" in repr(sg.InvSquare(alpha=50.0))  # hyper-parameters are visible fields
    # 1 / (100 * 0.01 + 1)^2 = 0.25
    assert float(jax.grad(f)(jnp.float32(0.01))) == pytest.approx(0.25, rel=1e-6)
    assert float(jax.grad(f)(jnp.float32(-0.01))) == pytest.approx(0.25, rel=1e-6)


@pytest.mark.parametrize(
    "make, arg",
    [
        (lambda: sg.InvSquare(alpha=-1.0), "alpha"),
        (lambda: sg.Sigmoid(alpha=0.0), "alpha"),
        (lambda: sg.Gaussian(sigma=-0.5), "sigma"),
        (lambda: sg.Triangle(width=-1.0), "width"),
        (lambda: sg.Boxcar(width=0.0), "width"),
        (lambda: sg.QPseudoSpike(alpha=1.0), "alpha"),
        (lambda: sg.ArcTan(alpha=float("nan")), "alpha"),
    ],
)
def test_bad_hyper_parameter(make, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        make()
