"""Comparison helpers for the tests (as Equinox's tests/helpers.py)."""

import functools as ft
import operator

import jax
import jax.tree_util as jtu
import numpy as np


def _shaped_allclose(x, y, **kwargs):
    if isinstance(x, (jax.Array, np.ndarray, np.generic)) or isinstance(y, (jax.Array, np.ndarray, np.generic)):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.dtype == bool or np.issubdtype(x.dtype, np.integer):
            return bool(np.array_equal(x, y))
        return bool(np.allclose(x, y, **kwargs))
    return x == y


def tree_allclose(x, y, *, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Same PyTree structure, same shapes and dtypes, and close leaves (non-arrays equal)."""
    if jtu.tree_structure(x) != jtu.tree_structure(y):
        return False
    close = jtu.tree_map(ft.partial(_shaped_allclose, rtol=rtol, atol=atol, equal_nan=equal_nan), x, y)
    return jtu.tree_reduce(operator.and_, close, True)


def tree_max_abs_diff(x, y):
    """The largest absolute difference over all array leaves (for failure messages)."""
    diffs = jtu.tree_map(
        lambda a, b: float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0.0)), x, y
    )
    return max(jtu.tree_leaves(diffs), default=0.0)


def numpy_init(seed, scale=1.0):
    """A `jax.nn.initializers`-style function drawing from NumPy (no XLA compilation per shape),
    normal with standard deviation `scale / sqrt(fan_in)`."""
    import jax.numpy as jnp

    def init(key, shape, dtype):
        rng = np.random.default_rng(seed)
        return jnp.asarray(rng.normal(0.0, scale / np.sqrt(shape[0]), shape), dtype=dtype)

    return init


def linear(in_features, out_features, *, seed=0, scale=1.0, bias=0.0):
    """An `eqsnn.nn.Linear` with NumPy-drawn weights and a constant bias (cheap to build)."""
    import jax.numpy as jnp

    from eqsnn import nn

    return nn.Linear(
        in_features,
        out_features,
        key=_KEY,
        w_init=numpy_init(seed, scale),
        b_init=lambda key, shape, dtype: jnp.full(shape, bias, dtype),
    )


_KEY = jax.random.key(0)


def uniform(shape, low=0.0, high=1.0, *, seed=0):
    """A JAX array of NumPy uniform draws, in the default float dtype (float64 under x64)."""
    import jax.numpy as jnp

    return jnp.asarray(np.random.default_rng(seed).uniform(low, high, shape), dtype=jnp.zeros(()).dtype)


def jaxpr_shapes(jaxpr) -> set:
    """Every intermediate array shape of a (closed) jaxpr, sub-jaxprs (scan, map, custom rules)
    included: a test asserts that some large intermediate never appears."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    shapes = set()

    def collect(jx):
        for eqn in jx.eqns:
            shapes.update(tuple(v.aval.shape) for v in eqn.outvars)
            for param in eqn.params.values():
                for sub in param if isinstance(param, tuple) else (param,):
                    if hasattr(sub, "eqns"):
                        collect(sub)
                    elif hasattr(getattr(sub, "jaxpr", None), "eqns"):
                        collect(sub.jaxpr)

    collect(jaxpr)
    return shapes
