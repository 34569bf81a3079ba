"""Training data: arrays `(x, y)` or a callable returning an iterator of batches.

A batch is batch-major: inputs `[B, T, ...]`, targets `[B, ...]`; one sample
is `[T, ...]`. Shapes and dtypes are checked on the host, before anything is
traced or compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Spec:
    """Per-sample shapes and dtypes of inputs and targets."""

    x_shape: tuple[int, ...]
    x_dtype: Any
    y_shape: tuple[int, ...]
    y_dtype: Any

    def describe(self) -> str:
        return (
            f"inputs per sample {self.x_shape} {np.dtype(self.x_dtype).name}, "
            f"targets per sample {self.y_shape} {np.dtype(self.y_dtype).name}"
        )


def _dtype(a: Any) -> np.dtype:
    dtype = getattr(a, "dtype", None)
    return np.dtype(np.asarray(a).dtype if dtype is None else dtype)


def _check_pair(name: str, pair: Any, where: str, raw: bool = False) -> tuple[Any, Any]:
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(f"{where}: `{name}` must be a pair (inputs, targets), got {type(pair).__name__}")
    x, y = pair
    for part, arr in (("inputs", x), ("targets", y)):
        if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
            raise TypeError(f"{where}: `{name}` {part} must be an array (NumPy or JAX), got {type(arr).__name__}")
    if raw:
        if len(x.shape) < 1 or not (np.issubdtype(_dtype(x), np.number) or _dtype(x) == np.bool_):
            raise TypeError(
                f"{where}: `{name}` inputs must be a numeric array [B, ...], got dtype {_dtype(x).name} "
                f"and shape {tuple(x.shape)}"
            )
    elif not np.issubdtype(_dtype(x), np.floating):
        raise TypeError(
            f"{where}: `{name}` inputs must be a floating array [B, T, ...], got dtype {_dtype(x).name} "
            f"(convert with x.astype(np.float32))"
        )
    if not raw and len(x.shape) < 2:
        raise ValueError(
            f"{where}: `{name}` inputs must have shape [B, T, ...] (batch, time, features), got shape {tuple(x.shape)}"
        )
    if len(y.shape) < 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{where}: `{name}` targets must have the inputs' leading size {x.shape[0]}, got shape {tuple(y.shape)}"
        )
    if not (np.issubdtype(_dtype(y), np.integer) or np.issubdtype(_dtype(y), np.floating)):
        raise TypeError(f"{where}: `{name}` targets must be integer labels or floats, got dtype {_dtype(y).name}")
    return x, y


def spec_of(x: Any, y: Any) -> Spec:
    return Spec(tuple(x.shape[1:]), _dtype(x), tuple(y.shape[1:]), _dtype(y))


def check_spec(name: str, got: Spec, expected: Spec, where: str, what: str) -> None:
    """Raise a clear error when a batch does not match what the step was compiled for."""
    if got != expected:
        raise ValueError(
            f"{where}: {what} of `{name}` has {got.describe()}; expected {expected.describe()} "
            f"(as the training data). Shapes and dtypes must stay fixed so the step is compiled once."
        )


class ArraySource:
    """Arrays `(x, y)` with a leading sample axis `N`."""

    def __init__(self, name: str, data: Any, where: str, raw: bool = False):
        x, y = _check_pair(name, data, where, raw)
        self.name = name
        self.x, self.y = x, y
        self.n = int(x.shape[0])
        self.spec = spec_of(x, y)


class IterSource:
    """A callable returning an iterator of `(x, y)` batches (called once per epoch)."""

    def __init__(self, name: str, fn: Callable[[], Any], where: str, raw: bool = False):
        self.name = name
        self.raw = raw
        self.fn = fn
        self.where = where
        self.spec: Spec | None = None

    def batches(self, epoch: int, expected: Spec | None, num_devices: int) -> Iterator[tuple[Any, Any]]:
        it = self.fn()
        try:
            it = iter(it)
        except TypeError as e:
            raise TypeError(
                f"{self.where}: `{self.name}` must return an iterator of (inputs, targets) batches, "
                f"got {type(it).__name__}"
            ) from e
        for i, pair in enumerate(it):
            what = f"batch {i + 1} of epoch {epoch}"
            x, y = _check_pair(self.name, pair, f"{self.where} ({what})", self.raw)
            spec = spec_of(x, y)
            if expected is None:
                expected = spec
                if self.spec is None:
                    self.spec = spec
            check_spec(self.name, spec, expected, self.where, what)
            if x.shape[0] % num_devices:
                raise ValueError(
                    f"{self.where}: {what} of `{self.name}` has {x.shape[0]} samples, not a multiple of the "
                    f"{num_devices} devices it is sharded over"
                )
            yield x, y


def as_source(name: str, data: Any, where: str, raw: bool = False) -> ArraySource | IterSource:
    """Wrap user data; arrays are checked now, iterator batches as they come.

    `raw`: the inputs go through a transform first, so any numeric dtype and
    rank >= 1 is accepted (otherwise floating `[B, T, ...]`)."""
    if callable(data):
        return IterSource(name, data, where, raw)
    if isinstance(data, (tuple, list)):
        return ArraySource(name, data, where, raw)
    raise TypeError(
        f"{where}: `{name}` must be arrays (inputs [N, T, ...], targets [N, ...]) or a callable returning "
        f"an iterator of (inputs, targets) batches, got {type(data).__name__}"
    )


def put(a: Any, sharding: jax.sharding.Sharding | None) -> jax.Array:
    """Move `a` to the device(s): default device, or with `sharding`."""
    if sharding is None:
        return jnp.asarray(a)
    return jax.device_put(a, sharding)
