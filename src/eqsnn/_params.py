r"""Declared parameters: each parameter of a population is declared once, on its class.

A declaration gives the default, the unit and the constraint:

```python
class MyLIF(eqsnn.neurons.AbstractSpikingNeuron):
    tau: ParamLike = eqsnn.param(10.0, unit="ms", constraint="positive", doc="membrane time constant")
```

[`eqsnn.AbstractPopulation`][]'s `__check_init__` validates every declared
parameter of every subclass (a user's own included) when the module is built:
a real, finite number or float array, never `None`, a string, a bool, a list,
a complex or an integer-dtype array; broadcastable to the population's
`shape` (or a scalar, for `scalar=True` declarations such as `dt`); and the
constraint met. The same declarations feed `eqsnn.testing`'s generic parameter
strategy and the docs.

**Trained parameters.** A float array parameter is trained (it is an inexact
array leaf). A positive parameter can be given as [`eqsnn.positive`][]`(value)`,
a softplus reparameterisation (`paramax.Parameterize`) that no optimiser step
can drive to or below zero; [`eqsnn.run`][] unwraps it (`paramax.unwrap`)
before stepping.
"""

from __future__ import annotations

from collections.abc import Iterator
import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import paramax

from ._custom_types import Array, ArrayLike, Float

__all__ = ["Param", "param", "params_of", "positive", "unwrap", "CONSTRAINTS", "check_relations", "strong_type"]

#: The constraints a declaration may name, with the bound they check.
CONSTRAINTS: dict[str, str] = {
    "real": "a real number",
    "positive": "> 0",
    "nonnegative": ">= 0",
    "unit_interval": "in [0, 1]",
    "open_unit_interval": "in (0, 1]",
    "above_one": "> 1",
}

_META = "eqsnn_param"


@dataclasses.dataclass(frozen=True)
class Param:
    """The declaration of one parameter (see [`eqsnn.param`][]).

    **Fields:** `default` (a number, or `None` for a default derived from
    other parameters in `__post_init__`), `unit` (`'ms'`, `'mV'`, `'1'`, ...),
    `constraint` (a key of `eqsnn.CONSTRAINTS`, or a pair `(low, high)` for a
    closed interval), `scalar` (must be a scalar, such as `dt`), `doc`.
    """

    default: Any
    unit: str
    constraint: str | tuple[float, float]
    scalar: bool
    doc: str

    def bound(self) -> str:
        """The constraint in words, for error messages."""
        if isinstance(self.constraint, tuple):
            lo, hi = self.constraint
            return f"in [{lo}, {hi}]"
        return CONSTRAINTS[self.constraint]

    def satisfied(self, arr: np.ndarray) -> bool:
        """Whether every element of a concrete, finite `arr` meets the constraint."""
        c = self.constraint
        if isinstance(c, tuple):
            return bool(np.all((arr >= c[0]) & (arr <= c[1])))
        if c == "positive":
            return bool(np.all(arr > 0))
        if c == "nonnegative":
            return bool(np.all(arr >= 0))
        if c == "unit_interval":
            return bool(np.all((arr >= 0) & (arr <= 1)))
        if c == "open_unit_interval":
            return bool(np.all((arr > 0) & (arr <= 1)))
        if c == "above_one":
            return bool(np.all(arr > 1))
        return True


def param(
    default: Any,
    *,
    unit: str = "1",
    constraint: str | tuple[float, float] = "real",
    scalar: bool = False,
    doc: str = "",
) -> Any:
    r"""Declare a parameter of a population (a dataclass field, keyword-only).

    **Arguments:**

    - `default`: the default value (a Python number; `None` when a
      `__post_init__` derives it from other parameters).
    - `unit`: its unit (`'ms'`, `'mV'`, `'1'` for dimensionless, ...).
    - `constraint`: `'real'` (default), `'positive'`, `'nonnegative'`,
      `'unit_interval'`, `'open_unit_interval'`, `'above_one'`, or a closed interval
      `(low, high)`.
    - `scalar`: whether it must be a scalar (default `False`: a scalar or an
      array broadcastable to the population's shape).
    - `doc`: one line for the docs and error messages.

    **Returns:** an `eqx.field` to assign in the class body.
    """
    if not isinstance(constraint, tuple) and constraint not in CONSTRAINTS:
        raise ValueError(f"param: `constraint` must be one of {tuple(CONSTRAINTS)} or (low, high), got {constraint!r}")
    spec = Param(default=default, unit=unit, constraint=constraint, scalar=scalar, doc=doc)
    return eqx.field(default=default, kw_only=True, converter=strong_type, metadata={_META: spec})


def strong_type(value: Any) -> Any:
    """A weakly typed JAX array (`jnp.full(4, 10.0)`) as a strongly typed one of the same
    dtype; anything else unchanged.

    Every declared parameter goes through it at construction: an optimiser
    update returns strongly typed leaves, so a weakly typed parameter would
    change the model's type signature after the first step and make every
    jitted step (`make_step`, the trainer) compile again.
    """
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer) and value.weak_type:
        return jnp.asarray(value, dtype=value.dtype)
    return value


def params_of(cls_or_obj: Any) -> dict[str, Param]:
    """The declared parameters of a population class (or instance), `{name: Param}`, in field order."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    return {f.name: f.metadata[_META] for f in dataclasses.fields(cls) if _META in f.metadata}


def _describe(value: Any) -> str:
    if isinstance(value, (np.ndarray, jax.Array)) and np.size(value) > 4:
        arr = np.asarray(value)
        return f"an array of shape {arr.shape} and dtype {arr.dtype}"
    return repr(value)


def _is_concrete(value: Any) -> bool:
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(value))


def check_param(owner: str, name: str, spec: Param, value: Any, shape: tuple[int, ...] | None) -> None:
    """Validate one declared parameter; raise `TypeError`/`ValueError` naming `owner`, `name`,
    the expected and the received value. Traced values (inside jit/vmap) pass unchecked.
    `shape=None` accepts any shape (a module with no shape of its own, such as an output)."""
    where = f"{owner}: `{name}`"
    if isinstance(value, paramax.AbstractUnwrappable):
        if not _is_concrete(value):
            return
        value = paramax.unwrap(value)
    if value is None:
        if spec.default is None:  # a default derived from other parameters
            return
        raise TypeError(f"{where} must be a real number or a float array{_unit(spec)}, got None")
    if isinstance(value, (str, bytes, list, tuple, dict, set)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{where} must be a real number or a float array{_unit(spec)}, got {type(value).__name__} {value!r}"
        )
    if not _is_concrete(value):
        return
    if not isinstance(value, (int, float, np.number, np.ndarray, jax.Array)):
        raise TypeError(f"{where} must be a real number or a float array{_unit(spec)}, got {type(value).__name__}")
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise TypeError(f"{where} must be real, got a complex value {_describe(value)}")
    if not np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_:
        raise TypeError(f"{where} must be a real number or a float array, got dtype {arr.dtype}")
    if isinstance(value, (np.ndarray, jax.Array)) and arr.ndim > 0 and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(
            f"{where} is an integer array (dtype {arr.dtype}), which would silently not be trained: "
            f"give a float array (trained) or a Python number (fixed)"
        )
    if spec.scalar and arr.ndim != 0:
        raise ValueError(f"{where} must be a scalar{_unit(spec)}, got shape {arr.shape}")
    if not spec.scalar and shape is not None:
        try:
            ok = np.broadcast_shapes(arr.shape, shape) == tuple(shape)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{where} must be a scalar or broadcastable to the population shape {tuple(shape)}, "
                f"got shape {arr.shape}"
            )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where} must be finite{_unit(spec)}, got {_describe(value)}")
    if not spec.satisfied(arr):
        raise ValueError(f"{where} must be {spec.bound()}{_unit(spec)}, got {_describe(value)}")


def _unit(spec: Param) -> str:
    return f" ({spec.unit})" if spec.unit not in ("", "1") else ""


def check_relations(owner: str, module: Any) -> None:
    """Check the cross-parameter relations a class declares in its `param_relations`
    class attribute: pairs `(low, high)` of parameter names with `low < high`
    element-wise (e.g. `("v_reset", "v_th")`: a reset at or above the threshold
    fires every step). A pair is skipped when either value is missing, `None` or
    traced; raise `ValueError` naming `owner`, both parameters and their values."""
    for low, high in getattr(type(module), "param_relations", ()):
        a, b = getattr(module, low, None), getattr(module, high, None)
        if a is None or b is None:
            continue
        if isinstance(a, paramax.AbstractUnwrappable) or isinstance(b, paramax.AbstractUnwrappable):
            if not (_is_concrete(a) and _is_concrete(b)):
                continue
            a, b = paramax.unwrap(a), paramax.unwrap(b)
        if not (_is_concrete(a) and _is_concrete(b)):
            continue
        try:
            ok = bool(np.all(np.asarray(a) < np.asarray(b)))
        except (TypeError, ValueError):  # shapes were checked one by one; anything left is reported below
            ok = False
        if not ok:
            raise ValueError(
                f"{owner}: `{low}` must be < `{high}` (a reset at or above the threshold fires every step), "
                f"got {low}={_describe(a)}, {high}={_describe(b)}"
            )


def iter_params(module: Any) -> Iterator[tuple[str, Param, Any]]:
    """`(name, declaration, value)` for every declared parameter of `module`."""
    for name, spec in params_of(module).items():
        yield name, spec, getattr(module, name)


def positive(value: Float[ArrayLike, "..."], *, lower: float = 1e-3) -> paramax.Parameterize:
    r"""A trained parameter bounded below (a time constant), as a softplus reparameterisation.

    $$ \tau = \tau_{min} + \mathrm{softplus}(\theta), \qquad
       \theta_0 = \mathrm{softplus}^{-1}(\tau_0 - \tau_{min}) $$

    The optimiser updates $\theta$, which may take any real value, so
    $\tau > \tau_{min}$ under any step, even one so large that the softplus
    underflows. [`eqsnn.run`][] (hence the trainer) unwraps it with
    `paramax.unwrap`; call [`eqsnn.unwrap`][] yourself before calling `step`
    by hand.

    **Arguments:**

    - `value`: the initial value(s), `> lower` (a float array; a Python
      float becomes a 0-d array).
    - `lower`: $\tau_{min}$, in the parameter's unit (default `1e-3`, i.e.
      1 µs for a time constant in ms), `>= 0`.

    **Returns:** a `paramax.Parameterize` to give as the parameter.
    """
    arr = jnp.asarray(value)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.zeros(()).dtype)
    if not (isinstance(lower, (int, float, np.floating)) and np.isfinite(lower) and lower >= 0):
        raise ValueError(f"positive: `lower` must be a finite number >= 0, got {lower!r}")
    if _is_concrete(arr) and not bool(jnp.all(arr > lower)):
        raise ValueError(f"positive: `value` must be > lower={lower}, got {_describe(value)}")
    return paramax.Parameterize(_shifted_softplus, paramax.utils.inv_softplus(arr - lower), float(lower))


def _shifted_softplus(theta: Array, lower: float) -> Array:
    return lower + jax.nn.softplus(theta)


def unwrap(tree: Any) -> Any:
    """Resolve every reparameterised or frozen parameter (`paramax.unwrap`): the model
    with plain arrays, ready for `step`. [`eqsnn.run`][] calls it for you."""
    return paramax.unwrap(tree)
