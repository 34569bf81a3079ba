"""Test set-up, as in Equinox: strict dtype promotion, a key fixture, hypothesis profiles.

jaxtyping + beartype check every annotation of eqsnn during the tests (see
`addopts` in pyproject.toml). Hypothesis profiles, chosen with
`EQSNN_HYPOTHESIS_PROFILE`: `eqsnn` (default; 20 examples, the same ones on
every run), `random` (20 fresh random examples), `thorough` (300 random).
"""

import itertools
import os

from hypothesis import HealthCheck, settings
import jax
import jax.random as jr
import pytest

# Mixing float32 and float64 (or ints and floats) without an explicit cast is
# an error in the whole test session; Python scalars stay weakly typed.
jax.config.update("jax_numpy_dtype_promotion", "strict")

# The default profile is derandomized (the same examples on every run, so CI does not flake);
# `thorough` draws fresh random examples, many more of them.
settings.register_profile(
    "eqsnn",
    deadline=None,
    max_examples=20,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("random", parent=settings.get_profile("eqsnn"), derandomize=False)
settings.register_profile("thorough", parent=settings.get_profile("eqsnn"), max_examples=300, derandomize=False)
settings.load_profile(os.environ.get("EQSNN_HYPOTHESIS_PROFILE", "eqsnn"))


@pytest.fixture(autouse=True)
def _strict_dtype_promotion():
    """Keep strict promotion on for every test, whatever a previous test did."""
    with jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture
def getkey():
    """`getkey()` returns a fresh PRNG key each call, deterministic per test."""
    counter = itertools.count()
    base = jr.key(0)

    def _getkey():
        return jr.fold_in(base, next(counter))

    return _getkey


@pytest.fixture
def x64():
    """Run the test in float64 (`jax_enable_x64`), restored afterwards."""
    with jax.enable_x64(True):
        yield
