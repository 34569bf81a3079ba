r"""Hypothesis strategies: floats, inputs, surrogates and parameters built from the declarations.

`hypothesis` is imported when a strategy is first built, never by `import eqsnn`.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import functools as ft
import inspect
from typing import Any, TypeAlias

import jax.numpy as jnp
import numpy as np

from .._params import Param, params_of

#: A `hypothesis.strategies.SearchStrategy` (hypothesis is imported lazily).
Strategy: TypeAlias = Any

__all__ = [
    "Strategy",
    "floats32",
    "params_for",
    "invalid_params_for",
    "currents",
    "spike_trains",
    "surrogates",
    "lif_params",
    "lifref_params",
    "if_params",
    "leaky_params",
    "expon_params",
]


def _hypothesis() -> tuple[Any, Any]:
    try:
        import hypothesis.extra.numpy as hnp
        import hypothesis.strategies as st
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "eqsnn.testing: the hypothesis strategies need the `hypothesis` package "
            "(pip install hypothesis, or pip install 'eqsnn[dev]'); the check_* functions do not"
        ) from e
    return st, hnp


def _f32(value: Any) -> float:
    """Round to the nearest float32, so float32 and float64 runs share parameters."""
    return float(np.float32(value))


def _default_float() -> Any:
    """The default floating dtype now (float32, or float64 under `jax_enable_x64`)."""
    return jnp.zeros(()).dtype


def _as_shape(shape: int | tuple[int, ...], where: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not (isinstance(shape, tuple) and all(isinstance(s, (int, np.integer)) and s > 0 for s in shape)):
        raise ValueError(f"{where}: `shape` must be a positive int or a tuple of positive ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _inward32(lo: float, hi: float, where: str) -> tuple[float, float]:
    """The float32 bounds inside `[lo, hi]`: `lo` rounded up, `hi` rounded down, past the
    subnormals (to zero or to the smallest normal number)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{where}: the bounds must be finite, got [{lo}, {hi}]")
    if lo > hi:
        raise ValueError(f"{where}: `lo` must be <= `hi`, got {lo} > {hi}")
    tiny = float(np.finfo(np.float32).tiny)
    lo32, hi32 = float(np.float32(lo)), float(np.float32(hi))
    if lo32 < lo:
        lo32 = float(np.nextafter(np.float32(lo32), np.float32(np.inf)))
    if hi32 > hi:
        hi32 = float(np.nextafter(np.float32(hi32), np.float32(-np.inf)))
    if abs(lo32) < tiny:
        lo32 = 0.0 if lo <= 0.0 else tiny
    if abs(hi32) < tiny:
        hi32 = 0.0 if hi >= 0.0 else -tiny
    if lo32 > hi32:
        raise ValueError(f"{where}: no normal float32 value lies in [{lo}, {hi}]")
    return lo32, hi32


def floats32(lo: float, hi: float) -> Strategy:
    r"""Python floats in $[lo, hi]$ that are exactly representable in float32: finite, never
    NaN, never subnormal (a zero is allowed when $0 \in [lo, hi]$).

    A value drawn here is the same number in float32 and float64, so a model built from it
    gives the same parameters in both precisions, and flush-to-zero hardware sees no
    subnormal. Bounds that are not float32 numbers are rounded inwards.

    **Arguments:**

    - `lo`, `hi`: the closed range (finite, `lo <= hi`).

    **Returns:** a strategy of `float`.

    **Raises:** `ValueError` for non-finite bounds or `lo > hi`.
    """
    st, _ = _hypothesis()
    lo32, hi32 = _inward32(float(lo), float(hi), "floats32")
    return st.floats(lo32, hi32, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=32)


# --------------------------------------------------------------------------- #
# Parameters from their declarations
# --------------------------------------------------------------------------- #


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _init_fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _range_for(name: str, spec: Param, *, time_steps: tuple[float, float], spread: float) -> tuple[str, float, float]:
    """How one declared parameter is drawn: `(kind, lo, hi)`, where kind `'abs'` means a value
    in `[lo, hi]`, `'dt'` a multiple of `dt` in `[lo, hi]`, `'mul'` the default times a factor
    in `[lo, hi]`, `'add'` the default plus an offset in `[lo, hi]`."""
    c, default = spec.constraint, spec.default
    is_time = spec.unit == "ms" and name != "dt"
    if isinstance(c, tuple):
        return "abs", float(c[0]), float(c[1])
    if c == "unit_interval":
        return "abs", 0.0, 1.0
    if c == "open_unit_interval":
        return "abs", 1e-3, 1.0
    if c == "positive":
        if is_time:
            return "dt", time_steps[0], time_steps[1]
        return ("mul", 0.5, 2.0) if default > 0 else ("abs", 0.5, 2.0)
    if c == "nonnegative":
        if is_time:
            return "dt", 0.0, time_steps[1]
        return ("mul", 0.0, 2.0) if default > 0 else ("abs", 0.0, 1.0)
    width = spread * (abs(float(default)) if default != 0 else 1.0)
    return "add", -width, width


def params_for(
    cls: Any,
    *,
    shape: int | tuple[int, ...] | None = None,
    arrays: bool = False,
    overrides: Mapping[str, Any] | None = None,
    time_steps: tuple[float, float] = (1.0, 50.0),
    spread: float = 0.05,
) -> Strategy:
    r"""Keyword arguments for any population class, drawn from its declared parameters
    ([`eqsnn.param`][], listed by [`eqsnn.params_of`][]): `cls(shape, **params)`.

    Each declared parameter is drawn within its constraint, with no knowledge of the class:

    - `dt` (ms, the base class's step): the default times a factor in $[\frac12, 2]$;
    - a `'positive'` time (unit `'ms'`): $\tau = m\,\Delta t$ with $m \in$ `time_steps`
      (default $[1, 50]$, so $\Delta t \le \tau \le 50\,\Delta t$); a `'nonnegative'` time:
      $m$ from 0 to the upper end of `time_steps`;
    - any other `'positive'` or `'nonnegative'` parameter: the default $p_0$ times a factor
      in $[\frac12, 2]$ (`'positive'`) or $[0, 2]$ (`'nonnegative'`);
    - `'real'`: $p_0 (1 + \delta)$ with $|\delta| \le s$, $s$ = `spread` (default
      $0.05$; $|\delta| \le s$ absolute when $p_0 = 0$): signs survive, and so do the
      relations between defaults further apart than the spread (a reset below the
      threshold); `overrides` states the others;
    - `'unit_interval'`: $[0, 1]$; `'open_unit_interval'`: $[10^{-3}, 1]$; an interval
      `(low, high)`: $[low, high]$;
    - a parameter whose default is `None` (derived from the others, such as `v_init`) is
      left out, so the class derives it.

    Every number is float32-representable (see [`eqsnn.testing.floats32`][]).

    **Arguments:**

    - `cls`: a population class (a subclass of [`eqsnn.AbstractPopulation`][], a user's own
      included).
    - `shape`: the shape of the arrays when `arrays=True` (default `None`: 0-d arrays).
    - `arrays`: `False` (default): Python floats; `True`: float arrays in the default float
      dtype at draw time, of `shape` for ordinary parameters (each element drawn on its
      own) and 0-d for `scalar=True` ones (`dt`). Arrays are trained parameters, and a
      jitted check compiles once for all examples.
    - `overrides`: `{name: value}` for what a meaningful draw of this class needs beyond
      the constraints, or for fields that are not declared parameters (`reset`,
      `spike_fn`). A value is used as is (a Python float becomes an array when
      `arrays=True`); a hypothesis strategy is drawn; a function (`def` or `lambda`) is
      called with the dict drawn so far and may return a value or a strategy, e.g.
      `{"v_reset": lambda p: p["v_th"] - 5.0}`. Functions are called after every other
      entry is drawn, in the order given (so times are drawn relative to the declared
      default of `dt` when `dt` itself is given by a function).
    - `time_steps`: the range of $\tau / \Delta t$ for positive times.
    - `spread`: the relative half-width around the default of real parameters.

    **Returns:** a strategy of `dict[str, Any]`.

    **Raises:** `TypeError` if `cls` is not a class with declared parameters; `ValueError`
    for an override that names no field of `cls`.
    """
    st, hnp = _hypothesis()
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        raise TypeError(f"params_for: `cls` must be a population class, got {cls!r}")
    specs = params_of(cls)
    if not specs:
        raise TypeError(f"params_for: {cls.__name__} declares no parameters (eqsnn.param)")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - _init_fields(cls))
    if unknown:
        raise ValueError(f"params_for: `overrides` names {unknown}, which are not arguments of {cls.__name__}")
    lo_t, hi_t = (float(t) for t in time_steps)
    if not 0.0 < lo_t <= hi_t:
        raise ValueError(f"params_for: `time_steps` must be (low, high) with 0 < low <= high, got {time_steps!r}")
    arr_shape = () if shape is None else _as_shape(shape, "params_for")
    is_strategy = lambda v: isinstance(v, st.SearchStrategy)
    is_function = lambda v: inspect.isfunction(v) or isinstance(v, ft.partial)

    def finish(value: Any) -> Any:
        if arrays and isinstance(value, float):
            return jnp.asarray(value, dtype=_default_float())
        return value

    def as_output(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return jnp.asarray(value, dtype=_default_float())
        return finish(_f32(value)) if isinstance(value, np.floating) else value

    @st.composite
    def draw(draw: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}

        def unit_draw(lo: float, hi: float, scalar: bool) -> Any:
            if arrays:
                return draw(hnp.arrays(np.float32, () if scalar else arr_shape, elements=floats32(lo, hi)))
            return np.float32(draw(floats32(lo, hi)))

        def resolve(value: Any) -> Any:
            if is_strategy(value):
                value = draw(value)
            return finish(value)

        # dt first: the times are drawn relative to it.
        names = sorted(specs, key=lambda n: n != "dt")
        dt_spec = specs.get("dt")
        dt32: Any = np.float32(dt_spec.default if dt_spec is not None and _is_number(dt_spec.default) else 1.0)
        for name in names:
            spec = specs[name]
            if name in overrides:
                if is_function(overrides[name]):
                    continue
                out[name] = resolve(overrides[name])
                if name == "dt":
                    dt32 = np.float32(np.asarray(out[name]))
                continue
            if not _is_number(spec.default):
                continue
            kind, lo, hi = _range_for(name, spec, time_steps=(lo_t, hi_t), spread=spread)
            u = unit_draw(lo, hi, spec.scalar)
            default = np.float32(spec.default)
            if kind == "abs":
                value = u
            elif kind == "dt":
                value = np.float32(u * dt32)
            elif kind == "mul":
                value = np.float32(default * u)
            else:
                value = np.float32(default + u)
            out[name] = as_output(value)
            if name == "dt":
                dt32 = np.float32(value)
        for name, value in overrides.items():
            if name not in specs and not is_function(value):
                out[name] = resolve(value)
        for name, value in overrides.items():
            if is_function(value):
                out[name] = resolve(value(dict(out)))
        return out

    return draw()


def _bad_values(name: str, spec: Param, shape: tuple[int, ...]) -> list[Any]:
    """Values that break the declaration of one parameter (for any class)."""
    bad: list[Any] = [float("nan"), float("inf"), -float("inf"), "1.0", [1.0], 1.0 + 1.0j, True]
    if spec.default is not None:
        bad.append(None)  # a default of None means "derived"; None is then valid
    if spec.scalar:
        bad.append(jnp.ones((2,)))
    else:
        bad.append(np.ones(shape, dtype=np.int32))
        bad.append(jnp.ones(shape[:-1] + (shape[-1] + 1,)))
    c = spec.constraint
    if isinstance(c, tuple):
        lo, hi = float(c[0]), float(c[1])
        bad += [lo - max(1.0, abs(lo)), hi + max(1.0, abs(hi))]
    elif c == "positive":
        bad += [0.0, -1.0]
    elif c == "nonnegative":
        bad += [-1.0]
    elif c == "unit_interval":
        bad += [-0.5, 1.5]
    elif c == "open_unit_interval":
        bad += [0.0, 1.5]
    return bad


def invalid_params_for(cls: Any, *, shape: int | tuple[int, ...] = (3,)) -> Strategy:
    r"""One invalid argument for a population class: `(name, value)` such that
    `cls(shape, **{name: value})` must raise `ValueError` or `TypeError` naming the class and
    `name`.

    Drawn from the declarations alone ([`eqsnn.params_of`][]): for every declared parameter,
    NaN, $\pm\infty$, a string, a list, a complex number, a bool, `None` (unless the
    declared default is `None`, which means "derived"), an integer-dtype array of `shape`,
    a float array of a shape that does not broadcast to `shape` (a 1-d array for a
    `scalar=True` parameter), and values outside the constraint ($\le 0$ for
    `'positive'`, $< 0$ for `'nonnegative'`, outside $[0, 1]$, outside an interval).

    **Arguments:** `cls` (a population class); `shape` (the population shape the caller
    builds with; default `(3,)`).

    **Returns:** a strategy of `tuple[str, Any]`.

    **Raises:** `TypeError` if `cls` declares no parameters.
    """
    st, _ = _hypothesis()
    specs = params_of(cls) if isinstance(cls, type) and dataclasses.is_dataclass(cls) else {}
    if not specs:
        raise TypeError(f"invalid_params_for: {getattr(cls, '__name__', cls)!r} declares no parameters (eqsnn.param)")
    shape = _as_shape(shape, "invalid_params_for")
    table = {name: _bad_values(name, spec, shape) for name, spec in specs.items()}
    names = list(table)
    return st.sampled_from(names).flatmap(lambda n: st.sampled_from(table[n]).map(lambda v: (n, v)))


# --------------------------------------------------------------------------- #
# Inputs
# --------------------------------------------------------------------------- #


def _full_shape(shape: int | tuple[int, ...], num_steps: int, batch: int | None, where: str) -> tuple[int, ...]:
    shape = _as_shape(shape, where)
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"{where}: `num_steps` must be a positive int, got {num_steps!r}")
    lead = (int(num_steps),)
    if batch is not None:
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"{where}: `batch` must be a positive int or None, got {batch!r}")
        lead = (int(batch),) + lead
    return lead + shape


def currents(
    shape: int | tuple[int, ...],
    num_steps: int,
    *,
    min_value: float = -10.0,
    max_value: float = 30.0,
    batch: int | None = None,
    dtype: Any = None,
) -> Strategy:
    r"""Input currents `[num_steps, *shape]` (or `[batch, num_steps, *shape]`) with every
    element between `min_value` and `max_value` (inclusive), float32-representable and never subnormal.

    **Arguments:**

    - `shape`: the population shape, an int or a tuple (fixed shapes: a jitted model
      compiles once).
    - `num_steps`: $T$.
    - `min_value`, `max_value`: the range (defaults `-10.`, `30.`).
    - `batch`: a leading batch axis of this size (default `None`: none), for
      [`eqsnn.testing.check_vmap_equals_loop`][].
    - `dtype`: default: JAX's default float dtype at draw time (float64 under
      `jax_enable_x64`).

    **Returns:** a strategy of JAX arrays.
    """
    _, hnp = _hypothesis()
    if min_value > max_value:
        raise ValueError(f"currents: `min_value` must be <= `max_value`, got {min_value} > {max_value}")
    full = _full_shape(shape, num_steps, batch, "currents")
    return hnp.arrays(np.float32, full, elements=floats32(min_value, max_value)).map(
        lambda a: jnp.asarray(a, dtype=_default_float() if dtype is None else dtype)
    )


def spike_trains(
    shape: int | tuple[int, ...], num_steps: int, *, batch: int | None = None, dtype: Any = None
) -> Strategy:
    r"""Binary spike trains `[num_steps, *shape]` (or `[batch, num_steps, *shape]`), floating
    0.0/1.0.

    **Arguments:** `shape` (an int or a tuple), `num_steps`, `batch` (as in
    [`eqsnn.testing.currents`][]), `dtype` (default: the default float dtype at draw time).

    **Returns:** a strategy of JAX arrays.
    """
    _, hnp = _hypothesis()
    full = _full_shape(shape, num_steps, batch, "spike_trains")
    return hnp.arrays(np.bool_, full).map(lambda a: jnp.asarray(a, dtype=_default_float() if dtype is None else dtype))


def surrogates(*, arrays: bool = False) -> Strategy:
    r"""Surrogate spike functions of every kind in [`eqsnn.surrogate`][], with their
    hyper-parameters drawn in a range valid for each.

    **Arguments:** `arrays` (hyper-parameters as 0-d arrays: one compilation per surrogate
    class in a jitted test, instead of one per example; default `False`).

    **Returns:** a strategy of [`eqsnn.surrogate.AbstractSurrogate`][].
    """
    st, _ = _hypothesis()
    from .. import surrogate as s

    if arrays:
        a = lambda lo, hi: floats32(lo, hi).map(lambda v: jnp.asarray(v, dtype=_default_float()))
    else:
        a = floats32
    return st.one_of(
        st.builds(s.InvSquare, alpha=a(1.0, 200.0)),
        st.builds(s.FastSigmoid, alpha=a(1.0, 50.0)),
        st.builds(s.Sigmoid, alpha=a(0.5, 10.0)),
        st.builds(s.ArcTan, alpha=a(0.5, 10.0)),
        st.builds(s.Gaussian, sigma=a(0.1, 2.0), alpha=a(0.5, 2.0)),
        st.builds(s.Erf, alpha=a(0.5, 5.0)),
        st.builds(s.PiecewiseQuadratic, alpha=a(0.5, 5.0)),
        st.builds(s.PiecewiseExp, alpha=a(0.5, 5.0)),
        st.builds(s.SoftSign, alpha=a(0.5, 5.0)),
        st.builds(s.Triangle, alpha=a(0.1, 2.0), width=a(0.2, 2.0)),
        st.builds(s.Boxcar, width=a(0.1, 2.0)),
        st.builds(s.QPseudoSpike, alpha=a(1.5, 5.0)),
        st.just(s.StraightThrough()),
    )


# --------------------------------------------------------------------------- #
# Hand-written strategies for the LIF family (ranges with the relations built in)
# --------------------------------------------------------------------------- #


def _finish(params: dict[str, Any], arrays: bool) -> dict[str, Any]:
    if not arrays:
        return params
    dtype = _default_float()
    return {k: (jnp.asarray(v, dtype=dtype) if isinstance(v, float) else v) for k, v in params.items()}


def _resets(st: Any, reset: str | None) -> Strategy:
    if reset is None:
        return st.sampled_from(("soft", "hard"))
    if reset not in ("soft", "hard"):
        raise ValueError(f"eqsnn.testing: `reset` must be 'soft', 'hard' or None (both), got {reset!r}")
    return st.just(reset)


def lif_params(
    *,
    reset: str | None = None,
    tau: tuple[float, float] = (1.0, 50.0),
    dt: tuple[float, float] = (0.01, 1.0),
    arrays: bool = False,
) -> Strategy:
    r"""Keyword arguments for [`eqsnn.neurons.LIF`][]: `LIF(shape, **params)`.

    Draws `tau` (ms) in the range `tau`, `dt` (ms) in the range `dt`, `r` in $[0.1, 5]$,
    `v_rest` (mV) in $[-70, 10]$, then $v_{th} = v_{rest} + \Delta_{th}$ and
    $v_{reset} = v_{th} - \Delta_{reset}$ with both gaps in $[1, 30]$ mV, so always
    $v_{rest} < v_{th}$ and $v_{reset} < v_{th}$; `reset` is drawn from `'soft'`/`'hard'`
    unless given. ([`eqsnn.testing.params_for`][] draws for any class; this one encodes
    the LIF relations for wide ranges.)

    **Arguments:** `reset` (default `None`: both), `tau` and `dt` ranges (ms; defaults
    $[1, 50]$ and $[0.01, 1]$), `arrays` (every number as a 0-d array in the default
    float dtype; default `False`).

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    resets = _resets(st, reset)

    @st.composite
    def draw(draw: Any) -> dict[str, Any]:
        v_rest = draw(floats32(-70.0, 10.0))
        v_th = _f32(v_rest + draw(floats32(1.0, 30.0)))
        v_reset = _f32(v_th - draw(floats32(1.0, 30.0)))
        params = dict(
            tau=draw(floats32(*tau)),
            r=draw(floats32(0.1, 5.0)),
            v_rest=v_rest,
            v_th=v_th,
            v_reset=v_reset,
            dt=draw(floats32(*dt)),
            reset=draw(resets),
        )
        return _finish(params, arrays)

    return draw()


def lifref_params(
    *,
    reset: str | None = None,
    tau_ref: tuple[float, float] = (0.0, 5.0),
    tau: tuple[float, float] = (1.0, 50.0),
    dt: tuple[float, float] = (0.01, 1.0),
    arrays: bool = False,
) -> Strategy:
    r"""Keyword arguments for [`eqsnn.neurons.LifRef`][]: those of
    [`eqsnn.testing.lif_params`][] plus the refractory period `tau_ref` (ms) in the range
    `tau_ref` (default $[0, 5]$).

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    return st.tuples(lif_params(reset=reset, tau=tau, dt=dt, arrays=arrays), floats32(*tau_ref)).map(
        lambda pair: {**pair[0], "tau_ref": _finish({"tau_ref": pair[1]}, arrays)["tau_ref"]}
    )


def if_params(
    *,
    reset: str | None = None,
    tau: tuple[float, float] = (1.0, 50.0),
    dt: tuple[float, float] = (0.01, 1.0),
    arrays: bool = False,
) -> Strategy:
    r"""Keyword arguments for [`eqsnn.neurons.IF`][]: `tau`, `r`, `v_th` (mV, $[1, 30]$),
    `v_reset` and `v_init` (mV, each below `v_th` by 1 to 30 mV), `dt`, `reset`; `arrays`
    as in [`eqsnn.testing.lif_params`][].

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    resets = _resets(st, reset)

    @st.composite
    def draw(draw: Any) -> dict[str, Any]:
        v_th = draw(floats32(1.0, 30.0))
        params = dict(
            tau=draw(floats32(*tau)),
            r=draw(floats32(0.1, 5.0)),
            v_th=v_th,
            v_reset=_f32(v_th - draw(floats32(1.0, 30.0))),
            v_init=_f32(v_th - draw(floats32(1.0, 30.0))),
            dt=draw(floats32(*dt)),
            reset=draw(resets),
        )
        return _finish(params, arrays)

    return draw()


def leaky_params(
    *, tau: tuple[float, float] = (1.0, 50.0), dt: tuple[float, float] = (0.01, 1.0), arrays: bool = False
) -> Strategy:
    r"""Keyword arguments `tau`, `dt` (ms; ranges default $[1, 50]$ and $[0.01, 1]$) for
    [`eqsnn.neurons.Leaky`][] and [`eqsnn.neurons.Integrator`][].

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    return st.fixed_dictionaries({"tau": floats32(*tau), "dt": floats32(*dt)}).map(lambda p: _finish(p, arrays))


def expon_params(
    *, tau: tuple[float, float] = (1.0, 50.0), dt: tuple[float, float] = (0.01, 1.0), arrays: bool = False
) -> Strategy:
    r"""Keyword arguments `tau`, `dt` (ms) for [`eqsnn.synapses.Expon`][], as
    [`eqsnn.testing.leaky_params`][].

    **Returns:** a strategy of `dict[str, Any]`.
    """
    return leaky_params(tau=tau, dt=dt, arrays=arrays)
