"""Argument checks shared by every public entry point.

Each check names the argument, the expected value and the received one, and
only looks at *concrete* values: inside ``jit``/``vmap`` a traced value is
passed through untouched (it cannot be inspected without a host sync).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(value: Any) -> bool:
    """True when ``value`` can be inspected on the host (not a tracer)."""
    return not isinstance(value, jax.core.Tracer)


def check_positive(name: str, value: Any, *, allow_zero: bool = False, owner: str = "") -> None:
    """Raise ``ValueError`` unless every element of a concrete ``value`` is > 0 (or >= 0)."""
    if value is None or not is_concrete(value):
        return
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{_where(owner)}`{name}` must be a real number, got {value!r}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{_where(owner)}`{name}` must be a real number, got {type(value).__name__}") from e
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr) or arr.dtype == np.bool_:
        raise TypeError(f"{_where(owner)}`{name}` must be a real number, got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{_where(owner)}`{name}` must be finite, got {_short(value)}")
    ok = np.all(arr >= 0) if allow_zero else np.all(arr > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{_where(owner)}`{name}` must be {bound} (ms where it is a time), got {_short(value)}")


def check_choice(name: str, value: Any, choices: Iterable[Any], *, owner: str = "") -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{_where(owner)}`{name}` must be one of {choices}, got {value!r}")


def check_callable(name: str, value: Any, *, owner: str = "") -> None:
    """Raise ``TypeError`` unless ``value`` is callable (an initializer, a loss, a monitor)."""
    if not callable(value):
        raise TypeError(f"{_where(owner)}`{name}` must be callable, got {type(value).__name__} {value!r}")


def check_size(name: str, value: Any, *, owner: str = "") -> int:
    """Return ``value`` as an ``int`` if it is a positive integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{_where(owner)}`{name}` must be a positive int, got {value!r}")
    return int(value)


def check_param_shape(name: str, value: Any, size: int, *, owner: str = "") -> None:
    """A per-neuron parameter is a scalar or has shape ``(size,)``."""
    shape = np.shape(value)
    if shape not in ((), (size,)):
        raise ValueError(f"{_where(owner)}`{name}` must be a scalar or have shape ({size},), got shape {shape}")


def check_input(name: str, x: Any, shape: tuple[int, ...] | None, *, owner: str = "") -> jax.Array:
    """Check that ``x`` is a floating array broadcastable to ``shape``; return it as an array."""
    if isinstance(x, (bool, int, float)):
        x = jnp.asarray(x, dtype=float)
    if not hasattr(x, "dtype") or not jnp.issubdtype(x.dtype, jnp.floating):
        dtype = getattr(x, "dtype", type(x).__name__)
        raise TypeError(f"{_where(owner)}`{name}` must be a floating array, got dtype {dtype}")
    if shape is not None and x.shape not in ((), shape):
        raise ValueError(
            f"{_where(owner)}`{name}` must have shape {shape} (one sample, no batch axis; "
            f"vmap for batches) or be a scalar, got shape {tuple(x.shape)}"
        )
    return x


def check_state(
    name: str, state: Any, expected_type: type, *, owner: str = "", shape: tuple[int, ...] | None = None
) -> None:
    """Raise ``TypeError`` when ``state`` is not a state of the expected class, and, when
    ``shape`` is given, ``ValueError`` when one of its non-scalar leaves does not have it
    (a state of a population of another shape, or a batch passed without vmap)."""
    if not isinstance(state, expected_type):
        raise TypeError(
            f"{_where(owner)}`{name}` must be a {expected_type.__name__} "
            f"(from this model's init_state), got {type(state).__name__}"
        )
    if shape is None:
        return
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        got = tuple(jnp.shape(leaf))
        if got and got != tuple(shape):
            raise ValueError(
                f"{_where(owner)}`{name}{jax.tree_util.keystr(path)}` must have shape {tuple(shape)} "
                f"(one sample of this model's init_state; vmap for batches), got shape {got}"
            )


def _where(owner: str) -> str:
    return f"{owner}: " if owner else ""


def _short(value: Any) -> str:
    arr = np.asarray(value)
    if arr.size <= 4:
        return repr(value)
    return f"array with min {arr.min()!r}"
