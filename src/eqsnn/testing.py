r"""Property-based testing of neuron dynamics.

Two halves, usable separately:

* **Invariant checks** (`check_*`): functions of a model and an input
  sequence that raise `AssertionError` with a message naming the step, the
  neuron and the values when the model breaks an invariant every neuron
  model of its kind should keep (spikes are 0/1, a refractory neuron stays
  silent, `run` equals a loop of `step`, a batch equals a loop over
  samples, ...). They need only JAX and work for any
  [`eqsnn.AbstractDynamics`][]; the spiking checks for any neuron with the
  fields of [`eqsnn.neurons.AbstractSpikingNeuron`][] (`v_th`, `reset`,
  `spike_fn`, ...) and a state with `v` and `spike`.
* **Hypothesis strategies** (`lif_params()`, `currents(size, num_steps)`,
  ...): draw valid hyper-parameters and inputs. They need the `hypothesis`
  package (`pip install hypothesis`, or `eqsnn[dev]`), which is imported
  when a strategy is first called; `import eqsnn` never imports it.

!!! example

    ```python
    from hypothesis import given
    import eqsnn, eqsnn.testing as et

    @given(et.lif_params(reset="hard"), et.currents(4, 50, max_value=100.0))
    def test_my_neuron(params, xs):
        model = MyNeuron(4, **params)
        et.check_spikes_binary(model, xs)
        et.check_reset_below_threshold(model, xs)
        et.check_run_equals_step_loop(model, xs)
    ```

Hyper-parameters drawn by the strategies are float32-representable Python
floats (times in ms, potentials in mV), so a model gives the same
parameters in float32 and float64; `arrays=True` draws them as 0-d arrays
instead (trainable parameters; also one compilation for all examples).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np

from ._core import AbstractDynamics, run
from ._custom_types import Array, Float, PyTree

#: A `hypothesis.strategies.SearchStrategy` (hypothesis is imported lazily).
Strategy: TypeAlias = Any

__all__ = [
    "check_checkpoint_equals_run",
    "check_decays_without_input",
    "check_float32_matches_float64",
    "check_jit_equals_eager",
    "check_no_spike_within_refractory",
    "check_batch_size_independent",
    "check_prepared_equals_step",
    "check_reset_below_threshold",
    "check_run_equals_step_loop",
    "check_spikes_binary",
    "check_vmap_equals_loop",
    "currents",
    "expon_params",
    "if_params",
    "leaky_params",
    "lif_params",
    "lifref_params",
    "spike_trains",
    "surrogates",
]


# --------------------------------------------------------------------------- #
# Hypothesis strategies
# --------------------------------------------------------------------------- #


def _hypothesis():
    try:
        import hypothesis.extra.numpy as hnp
        import hypothesis.strategies as st
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "eqsnn.testing: the hypothesis strategies need the `hypothesis` package "
            "(pip install hypothesis, or pip install 'eqsnn[dev]'); the check_* functions do not"
        ) from e
    return st, hnp


def _f32(value: float) -> float:
    """Round to the nearest float32, so float32 and float64 runs share parameters."""
    return float(np.float32(value))


def _floats(st: Any, lo: float, hi: float) -> Strategy:
    return st.floats(_f32(lo), _f32(hi), allow_nan=False, allow_infinity=False, width=32)


def _default_float() -> Any:
    """The default floating dtype now (float32, or float64 under `jax_enable_x64`)."""
    return jnp.zeros(()).dtype


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
    r"""Keyword arguments for [`eqsnn.neurons.LIF`][]: `LIF(size, **params)`.

    Draws `tau` (ms) in the range `tau`, `dt` (ms) in the range `dt`, `r` in
    $[0.1, 5]$, `v_rest` (mV) in $[-70, 10]$, then
    $v_{th} = v_{rest} + \Delta_{th}$ and $v_{reset} = v_{th} - \Delta_{reset}$
    with both gaps in $[1, 30]$ mV, so always $v_{rest} < v_{th}$ and
    $v_{reset} < v_{th}$; `reset` is drawn from 'soft'/'hard' unless given.

    **Arguments:** `reset` (`None`: both), `tau` and `dt` ranges (ms),
    `arrays` (every number as a 0-d array in the default float dtype).

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    resets = _resets(st, reset)

    @st.composite
    def draw(draw: Any) -> dict[str, Any]:
        v_rest = draw(_floats(st, -70.0, 10.0))
        v_th = _f32(v_rest + draw(_floats(st, 1.0, 30.0)))
        v_reset = _f32(v_th - draw(_floats(st, 1.0, 30.0)))
        params = dict(
            tau=draw(_floats(st, *tau)),
            r=draw(_floats(st, 0.1, 5.0)),
            v_rest=v_rest,
            v_th=v_th,
            v_reset=v_reset,
            dt=draw(_floats(st, *dt)),
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
    [`lif_params`][] plus the refractory period `tau_ref` (ms) in the range
    `tau_ref` (default $[0, 5]$).

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    return st.tuples(lif_params(reset=reset, tau=tau, dt=dt, arrays=arrays), _floats(st, *tau_ref)).map(
        lambda pair: {**pair[0], "tau_ref": _finish({"tau_ref": pair[1]}, arrays)["tau_ref"]}
    )


def if_params(
    *,
    reset: str | None = None,
    tau: tuple[float, float] = (1.0, 50.0),
    dt: tuple[float, float] = (0.01, 1.0),
    arrays: bool = False,
) -> Strategy:
    r"""Keyword arguments for [`eqsnn.neurons.IF`][]: `tau`, `r`, `v_th` (mV,
    $[1, 30]$), `v_reset` and `v_init` (mV, each below `v_th` by 1 to 30 mV),
    `dt`, `reset`; `arrays` as in [`lif_params`][].

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    resets = _resets(st, reset)

    @st.composite
    def draw(draw: Any) -> dict[str, Any]:
        v_th = draw(_floats(st, 1.0, 30.0))
        params = dict(
            tau=draw(_floats(st, *tau)),
            r=draw(_floats(st, 0.1, 5.0)),
            v_th=v_th,
            v_reset=_f32(v_th - draw(_floats(st, 1.0, 30.0))),
            v_init=_f32(v_th - draw(_floats(st, 1.0, 30.0))),
            dt=draw(_floats(st, *dt)),
            reset=draw(resets),
        )
        return _finish(params, arrays)

    return draw()


def leaky_params(
    *, tau: tuple[float, float] = (1.0, 50.0), dt: tuple[float, float] = (0.01, 1.0), arrays: bool = False
) -> Strategy:
    r"""Keyword arguments `tau`, `dt` (ms) for [`eqsnn.neurons.Leaky`][] and
    [`eqsnn.neurons.Integrator`][].

    **Returns:** a strategy of `dict[str, Any]`.
    """
    st, _ = _hypothesis()
    return st.fixed_dictionaries({"tau": _floats(st, *tau), "dt": _floats(st, *dt)}).map(lambda p: _finish(p, arrays))


def expon_params(
    *, tau: tuple[float, float] = (1.0, 50.0), dt: tuple[float, float] = (0.01, 1.0), arrays: bool = False
) -> Strategy:
    r"""Keyword arguments `tau`, `dt` (ms) for [`eqsnn.synapses.Expon`][].

    **Returns:** a strategy of `dict[str, Any]`.
    """
    return leaky_params(tau=tau, dt=dt, arrays=arrays)


def surrogates(*, arrays: bool = False) -> Strategy:
    r"""Surrogate spike functions of every kind in [`eqsnn.surrogate`][],
    with their sharpness `alpha` drawn in a range valid for each.

    **Arguments:** `arrays` (hyper-parameters as 0-d arrays: one compilation
    per surrogate class in a jitted test, instead of one per example).

    **Returns:** a strategy of [`eqsnn.surrogate.AbstractSurrogate`][].
    """
    st, _ = _hypothesis()
    from . import surrogate as s

    if arrays:
        a = lambda lo, hi: _floats(st, lo, hi).map(lambda v: jnp.asarray(v, dtype=_default_float()))
    else:
        a = lambda lo, hi: _floats(st, lo, hi)
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


def currents(
    size: int,
    num_steps: int,
    *,
    min_value: float = -10.0,
    max_value: float = 30.0,
    dtype: Any = None,
) -> Strategy:
    r"""Input currents `[num_steps, size]` with every element in
    `[min_value, max_value]` (float32-representable values).

    **Arguments:** `size`, `num_steps` (ints: fixed shapes, so a jitted model
    compiles once); `min_value`, `max_value`; `dtype` (default: JAX's default
    float dtype at draw time, float64 under `jax_enable_x64`).

    **Returns:** a strategy of JAX arrays.
    """
    st, hnp = _hypothesis()
    if min_value > max_value:
        raise ValueError(f"currents: `min_value` must be <= `max_value`, got {min_value} > {max_value}")
    elements = _floats(st, min_value, max_value)
    return hnp.arrays(np.float32, (num_steps, size), elements=elements).map(
        lambda a: jnp.asarray(a, dtype=_default_float() if dtype is None else dtype)
    )


def spike_trains(size: int, num_steps: int, *, dtype: Any = None) -> Strategy:
    r"""Binary spike trains `[num_steps, size]` (floating 0.0/1.0).

    **Returns:** a strategy of JAX arrays (default float dtype at draw time).
    """
    _, hnp = _hypothesis()
    return hnp.arrays(np.bool_, (num_steps, size)).map(
        lambda a: jnp.asarray(a, dtype=_default_float() if dtype is None else dtype)
    )


# --------------------------------------------------------------------------- #
# Invariant checks
# --------------------------------------------------------------------------- #

_jit_run = eqx.filter_jit(run)
_jit_step = eqx.filter_jit(lambda model, state, x: model.step(state, x))
_jit_step_prepared = eqx.filter_jit(lambda model, state, u: model.step_prepared(state, u))
_jit_prepare = eqx.filter_jit(lambda model, xs: model.prepare_inputs(xs))
_jit_vmap_run = eqx.filter_jit(eqx.filter_vmap(lambda model, xs: run(model, xs), in_axes=(None, 0)))
_jit_vmap_run_state = eqx.filter_jit(
    eqx.filter_vmap(lambda model, xs, state: run(model, xs, state), in_axes=(None, 0, 0))
)


def _name(model: Any) -> str:
    return type(model).__name__


def _fmt(value: Any) -> str:
    """A NumPy scalar as a plain number (`0.25`, not `np.float32(0.25)`)."""
    return repr(np.asarray(value).item())


def _spike_monitor(state: Any) -> Any:
    return getattr(state, "spike", None)


def _state_v(state: Any) -> Any:
    return state.v


def _compare_trees(what: str, expected: PyTree, got: PyTree, *, rtol: float, atol: float) -> None:
    """Assert two PyTrees have the same structure, shapes and close values."""
    e_leaves, e_def = jtu.tree_flatten_with_path(expected)
    g_leaves, g_def = jtu.tree_flatten_with_path(got)
    if e_def != g_def:
        raise AssertionError(f"{what}: the structures differ:\n  expected {e_def}\n  got      {g_def}")
    for (path, e), (_, g) in zip(e_leaves, g_leaves, strict=True):
        e, g = np.asarray(e), np.asarray(g)
        where = jtu.keystr(path) or "<root>"
        if e.shape != g.shape:
            raise AssertionError(f"{what}: leaf {where} has shape {g.shape}, expected {e.shape}")
        if e.dtype == bool or np.issubdtype(e.dtype, np.integer):
            bad = e != g
        else:
            e64, g64 = e.astype(np.float64), g.astype(np.float64)
            bad = ~np.isclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True)
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise AssertionError(
                f"{what}: leaf {where} differs at index {idx}: expected {_fmt(e[idx])}, got {_fmt(g[idx])} "
                f"({int(np.sum(bad))} of {bad.size} elements differ; rtol={rtol}, atol={atol})"
            )


def _index(tree: PyTree, index: Any) -> PyTree:
    """`leaf[index]` for every leaf."""
    return jtu.tree_map(lambda leaf: leaf[index], tree)


def _stack(trees: Sequence[PyTree]) -> PyTree:
    return jtu.tree_map(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *trees)


def _zeros_input(model: Any, num_steps: int) -> Float[Array, "T n"]:
    size = getattr(model, "size", None)
    if not isinstance(size, int):
        raise TypeError(f"eqsnn.testing: {_name(model)} has no int `size`; pass the input sequence `xs` explicitly")
    return jnp.zeros((num_steps, size))


def check_spikes_binary(model: AbstractDynamics, xs: PyTree, state: PyTree | None = None) -> None:
    r"""Every spike is exactly 0 or 1: the output $y_t$ of each step and, when
    the state has a `spike` field, `state.spike` after each step.

    $$ y_t \in \{0, 1\} \quad \forall t $$

    **Arguments:** `model` (a spiking neuron), `xs` (inputs `[T, ...]`),
    `state` (initial state; default `model.init_state()`).

    **Raises:** `AssertionError` naming the first step and neuron with another value.
    """
    _, ys, mon = _jit_run(model, xs, state, monitor=_spike_monitor)
    for what, values in (("output", ys), ("state.spike", mon)):
        if values is None:
            continue
        values = np.asarray(values)
        bad = (values != 0) & (values != 1)
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise AssertionError(
                f"{_name(model)}: spikes must be exactly 0 or 1, but the {what} at step {idx[0]}, "
                f"index {idx[1:]} is {_fmt(values[idx])}"
            )


def check_no_spike_within_refractory(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    tau_ref: Any = None,
    dt: Any = None,
    tolerance: float = 0.25,
) -> None:
    r"""After a spike at step $k_1$, a neuron stays silent while
    $(k - k_1)\,\Delta t \le \tau_{ref}$: consecutive spikes of one neuron at
    steps $k_1 < k_2$ satisfy

    $$ (k_2 - k_1)\, \Delta t > \tau_{ref} - \epsilon\, \Delta t $$

    with $\epsilon$ = `tolerance` (default 0.25 of a step): when $\tau_{ref}$ is a
    multiple of $\Delta t$, rounding decides whether the last step of the period
    is still refractory, and either answer is accepted.

    **Precondition.** The reset must bring $v$ below threshold; a neuron whose
    potential is held during the refractory period spikes again if it was held
    above threshold. That holds for a hard reset with $v_{reset} < v_{th}$, and
    for a soft reset when the input obeys the bound of
    [`check_reset_below_threshold`][].

    **Arguments:** `model`, `xs` `[T, size]`, `state`; `tau_ref` and `dt` (ms;
    default the model's fields, scalars or `[size]`), `tolerance`.

    **Raises:** `AssertionError` naming the neuron, both spike steps and the interval.
    """
    tau_ref = getattr(model, "tau_ref", None) if tau_ref is None else tau_ref
    dt = getattr(model, "dt", None) if dt is None else dt
    if tau_ref is None or dt is None:
        raise TypeError(
            f"check_no_spike_within_refractory: {_name(model)} has no `tau_ref`/`dt` field; pass `tau_ref` and `dt` (ms)"
        )
    _, ys = _jit_run(model, xs, state)
    spikes = np.asarray(ys).reshape(np.shape(ys)[0], -1)
    tau_ref = np.broadcast_to(np.asarray(tau_ref, dtype=np.float64), spikes.shape[1:])
    dt = float(dt)
    for i in range(spikes.shape[1]):
        steps = np.flatnonzero(spikes[:, i] > 0)
        if steps.size < 2:
            continue
        gaps = np.diff(steps) * dt
        bad = gaps <= tau_ref[i] - tolerance * dt
        if np.any(bad):
            j = int(np.argmax(bad))
            raise AssertionError(
                f"{_name(model)}: neuron {i} spiked at steps {steps[j]} and {steps[j + 1]}, "
                f"{gaps[j]:.6g} ms apart, within its refractory period tau_ref={tau_ref[i]:.6g} ms (dt={dt:.6g} ms)"
            )


def check_reset_below_threshold(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    potential: Callable[[Any], Any] | None = None,
    threshold: Any = None,
) -> None:
    r"""After every step, and so right after every reset, the potential is
    below threshold: $v_t < v_{th}$ for all $t$.

    **Precondition** (for models that keep $v < v_{th}$ between steps). A hard
    reset puts $v = v_{reset}$, below threshold whenever $v_{reset} < v_{th}$. A
    soft reset subtracts $v_{th} - v_{reset}$ once, so it ends below threshold
    iff the pre-reset potential $\tilde v < 2 v_{th} - v_{reset}$: the input must
    not carry $v$ across threshold twice in one step. For
    [`eqsnn.neurons.LIF`][] (from $v < v_{th}$, with $a = e^{-\Delta t/\tau}$,
    $\tilde v = a v + (1 - a)(v_{rest} + R I)$) this holds for every input with

    $$ R\, I_t \le (v_{th} - v_{rest}) + \frac{v_{th} - v_{reset}}{1 - e^{-\Delta t/\tau}}, $$

    and for [`eqsnn.neurons.IF`][] ($\tilde v = v + \frac{\Delta t}{\tau} R I$)
    with $\frac{\Delta t}{\tau} R\, I_t \le v_{th} - v_{reset}$. Keep a margin
    below these bounds for rounding.

    **Arguments:** `model`, `xs`, `state`; `potential` (a function of the
    state; default `state.v`), `threshold` (default `model.v_th`).

    **Raises:** `AssertionError` naming the step, the neuron, $v$ and $v_{th}$.
    """
    potential = _state_v if potential is None else potential
    threshold = getattr(model, "v_th", None) if threshold is None else threshold
    if threshold is None:
        raise TypeError(f"check_reset_below_threshold: {_name(model)} has no `v_th` field; pass `threshold`")
    _, ys, v = _jit_run(model, xs, state, monitor=potential)
    v = np.asarray(v)
    th = np.broadcast_to(np.asarray(threshold, dtype=v.dtype), v.shape[1:])
    bad = ~(v < th)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        spiked = _fmt(np.asarray(ys)[idx]) if np.shape(ys) == v.shape else "?"
        raise AssertionError(
            f"{_name(model)}: after step {idx[0]} (spike={spiked}), neuron {idx[1:]} has v={_fmt(v[idx])} >= "
            f"v_th={_fmt(th[idx[1:]])}; a reset must end below threshold (for a soft reset the input must "
            f"not carry v across threshold twice in one step; see the precondition)"
        )


def _default_value(state: Any) -> Any:
    for field in ("v", "x", "g"):
        if hasattr(state, field):
            return getattr(state, field)
    raise TypeError(
        f"check_decays_without_input: {type(state).__name__} has no field v, x or g; pass `value=lambda s: ...`"
    )


def check_decays_without_input(
    model: AbstractDynamics,
    state: PyTree,
    num_steps: int = 50,
    *,
    value: Callable[[Any], Any] | None = None,
    rest: Any = None,
    xs: PyTree | None = None,
    rtol: float = 1e-6,
    atol: float | None = None,
) -> None:
    r"""Without input, the distance to rest shrinks monotonically and never
    overshoots: with $d_t = x_t - x_{rest}$,

    $$ |d_t| \le |d_{t-1}|, \qquad d_t\, d_{t-1} \ge 0, \qquad |d_T| < |d_0| \text{ if } d_0 \ne 0. $$

    **Precondition:** for a spiking neuron start below threshold, with
    $v_{rest} < v_{th}$ (then it never spikes).

    **Arguments:** `model`; `state` (the displaced start); `num_steps`;
    `value` (a function of the state; default its `v`, `x` or `g`); `rest`
    (default `model.v_rest` when the value is `v`, else 0); `xs` (default zeros
    `[num_steps, model.size]`); `rtol`, `atol` (slack for rounding; default
    `atol` is $10^{-6} (1 + \max|x_0| + |x_{rest}|)$, a few float32 ulps at mV scale).

    **Raises:** `AssertionError` naming the step and the neuron.
    """
    value_fn = _default_value if value is None else value
    if rest is None:
        rest = getattr(model, "v_rest", 0.0) if (value is None and hasattr(state, "v")) else 0.0
    xs = _zeros_input(model, num_steps) if xs is None else xs
    _, _, traj = _jit_run(model, xs, state, monitor=value_fn)
    traj = np.asarray(traj, dtype=np.float64)
    rest = np.asarray(rest, np.float64)
    d = np.concatenate([np.asarray(value_fn(state), dtype=np.float64)[None], traj]) - rest
    if atol is None:
        atol = 1e-6 * (1.0 + float(np.max(np.abs(d[0] + rest), initial=0.0)) + float(np.max(np.abs(rest))))
    prev, cur = np.abs(d[:-1]), np.abs(d[1:])
    grow = cur > prev * (1 + rtol) + atol
    if np.any(grow):
        idx = tuple(int(i) for i in np.argwhere(grow)[0])
        raise AssertionError(
            f"{_name(model)}: without input the distance to rest grew at step {idx[0]}, index {idx[1:]}: "
            f"|x - rest| went from {prev[idx]:.9g} to {cur[idx]:.9g}"
        )
    flip = d[:-1] * d[1:] < -(atol**2)
    if np.any(flip):
        idx = tuple(int(i) for i in np.argwhere(flip)[0])
        raise AssertionError(
            f"{_name(model)}: without input the value overshot rest at step {idx[0]}, index {idx[1:]}: "
            f"x - rest went from {d[idx]:.9g} to {d[1:][idx]:.9g}"
        )
    moved = np.abs(d[0]) > atol
    stuck = moved & ~(np.abs(d[-1]) < np.abs(d[0]))
    if np.any(stuck):
        idx = tuple(int(i) for i in np.argwhere(stuck)[0])
        raise AssertionError(
            f"{_name(model)}: without input index {idx} did not decay over {num_steps} steps: "
            f"|x - rest| = {np.abs(d[0])[idx]:.9g} at the start and {np.abs(d[-1])[idx]:.9g} at the end"
        )


def check_vmap_equals_loop(
    model: AbstractDynamics,
    xs_batch: PyTree,
    states: PyTree | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""`jax.vmap` over samples equals a Python loop over samples:

    $$ \mathrm{vmap}(\mathrm{run})(x^{(1..B)})_b = \mathrm{run}(x^{(b)}) \quad \forall b $$

    for the outputs and the final states. A model describes one sample, so
    this fails for a model whose result depends on something other than
    its own sample (trace-time randomness, hidden global state).

    **Arguments:** `model`; `xs_batch` `[B, T, ...]`; `states` (initial states
    with a leading batch axis; default `init_state()` for each); `rtol`, `atol`.
    """
    if states is None:
        batched = _jit_vmap_run(model, xs_batch)
    else:
        batched = _jit_vmap_run_state(model, xs_batch, states)
    num = jtu.tree_leaves(xs_batch)[0].shape[0]
    looped = []
    for b in range(num):
        x_b = _index(xs_batch, b)
        s_b = None if states is None else _index(states, b)
        looped.append(_jit_run(model, x_b, s_b))
    _compare_trees(
        f"{_name(model)}: vmap over samples vs a loop over samples", _stack(looped), batched, rtol=rtol, atol=atol
    )


def check_batch_size_independent(
    model: AbstractDynamics,
    xs_batch: PyTree,
    batch_sizes: Sequence[int] | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""A sample's result does not depend on the batch it is run in: the first
    $b$ samples of a vmapped batch of $B$ equal a vmapped batch of only those
    $b$, for each $b$ in `batch_sizes` (default $1$ and $\lceil B/2 \rceil$).

    **Arguments:** `model`; `xs_batch` `[B, T, ...]`; `batch_sizes`; `rtol`, `atol`.
    """
    num = jtu.tree_leaves(xs_batch)[0].shape[0]
    batch_sizes = sorted({1, (num + 1) // 2}) if batch_sizes is None else batch_sizes
    full = _jit_vmap_run(model, xs_batch)
    for b in batch_sizes:
        if not 1 <= b <= num:
            raise ValueError(f"check_batch_size_independent: `batch_sizes` must lie in [1, {num}], got {b}")
        part = _jit_vmap_run(model, _index(xs_batch, slice(None, b)))
        head = _index(full, slice(None, b))
        _compare_trees(
            f"{_name(model)}: the first {b} samples of a batch of {num} vs a batch of {b}",
            head,
            part,
            rtol=rtol,
            atol=atol,
        )


def check_run_equals_step_loop(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    monitor: Callable[[Any], Any] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""[`eqsnn.run`][] (a `lax.scan` through the model's
    `prepare_inputs`/`step_prepared` path) equals a Python loop of `step`
    (each step compiled on its own; [`check_jit_equals_eager`][] covers
    op-by-op execution):

    $$ (s_t, y_t) = \mathrm{step}(s_{t-1}, x_t), \quad s_{-1} = \mathrm{init\_state}() $$

    for the outputs, the final state and, if given, `monitor(state)` after
    every step.

    **Arguments:** `model`; `xs` `[T, ...]`; `state`; `monitor`; `rtol`, `atol`.

    In float32 a compiled and an op-by-op (or differently fused) computation
    may round differently, and a potential within rounding of threshold then
    spikes in one of them only: for a tight comparison run the check under
    `jax.enable_x64(True)` with float64 inputs.
    """
    if monitor is None:
        final, ys = _jit_run(model, xs, state)
        scanned = (final, ys)
    else:
        scanned = _jit_run(model, xs, state, monitor=monitor)
    s = model.init_state() if state is None else state
    outs, mons = [], []
    num = jtu.tree_leaves(xs)[0].shape[0]
    for t in range(num):
        s, y = _jit_step(model, s, _index(xs, t))
        outs.append(y)
        if monitor is not None:
            mons.append(monitor(s))
    looped = (s, _stack(outs)) if monitor is None else (s, _stack(outs), _stack(mons))
    _compare_trees(f"{_name(model)}: run vs a Python loop of step", looped, scanned, rtol=rtol, atol=atol)


def check_prepared_equals_step(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""The sequence-level fast path agrees with `step` at every step of a
    trajectory:

    $$ \mathrm{step\_prepared}(s, \mathrm{prepare\_inputs}(x_{0:T})_t) = \mathrm{step}(s, x_t) $$

    **Arguments:** `model`; `xs` `[T, ...]`; `state`; `rtol`, `atol`.
    """
    us = _jit_prepare(model, xs)
    s = model.init_state() if state is None else state
    num = jtu.tree_leaves(xs)[0].shape[0]
    for t in range(num):
        x_t = _index(xs, t)
        u_t = _index(us, t)
        expected = _jit_step(model, s, x_t)
        got = _jit_step_prepared(model, s, u_t)
        _compare_trees(f"{_name(model)}: step_prepared vs step at step {t}", expected, got, rtol=rtol, atol=atol)
        s = expected[0]


def check_jit_equals_eager(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""`eqx.filter_jit(eqsnn.run)` equals `eqsnn.run` executed op by op
    under `jax.disable_jit()` (outputs and final state).

    **Arguments:** `model`; `xs` `[T, ...]`; `state`; `rtol`, `atol`.

    In float32 a compiled and an op-by-op (or differently fused) computation
    may round differently, and a potential within rounding of threshold then
    spikes in one of them only: for a tight comparison run the check under
    `jax.enable_x64(True)` with float64 inputs.
    """
    compiled = _jit_run(model, xs, state)
    with jax.disable_jit():
        eager = run(model, xs, state)
    _compare_trees(f"{_name(model)}: jit vs eager (jax.disable_jit)", eager, compiled, rtol=rtol, atol=atol)


def _default_loss(ys: PyTree) -> Float[Array, ""]:
    total = jnp.zeros(())
    for i, leaf in enumerate(jtu.tree_leaves(ys)):
        if eqx.is_inexact_array(leaf):
            weights = jr.normal(jr.fold_in(jr.key(0), i), leaf.shape, leaf.dtype)
            total = total + jnp.sum(leaf * weights)
    return total


@eqx.filter_jit
def _value_and_grad_run(diff: Any, static: Any, state: Any, loss: Callable[[Any], Any], checkpoint: int | None) -> Any:
    def objective(diff: Any) -> Any:
        m, x = eqx.combine(diff, static)
        final, ys = run(m, x, state, checkpoint=checkpoint)
        return loss(ys), (final, ys)

    return jax.value_and_grad(objective, has_aux=True)(diff)


def check_checkpoint_equals_run(
    model: AbstractDynamics,
    xs: PyTree,
    checkpoint: int,
    state: PyTree | None = None,
    *,
    loss: Callable[[Any], Any] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""`run(..., checkpoint=k)` equals `run(...)` in value AND in gradient:
    the outputs, the final state, and $\nabla L$ with respect to the model's
    inexact array leaves and to the inputs `xs`, for
    $L =$ `loss(ys)` (default: a fixed random projection of the outputs).

    **Arguments:** `model`; `xs` `[T, ...]`; `checkpoint` (steps per segment);
    `state`; `loss`; `rtol`, `atol`.

    In float32 a compiled and an op-by-op (or differently fused) computation
    may round differently, and a potential within rounding of threshold then
    spikes in one of them only: for a tight comparison run the check under
    `jax.enable_x64(True)` with float64 inputs.
    """
    loss = _default_loss if loss is None else loss
    diff, static = eqx.partition((model, xs), eqx.is_inexact_array)
    (l_ref, aux_ref), g_ref = _value_and_grad_run(diff, static, state, loss, None)
    (l_ck, aux_ck), g_ck = _value_and_grad_run(diff, static, state, loss, checkpoint)
    what = f"{_name(model)}: run(checkpoint={checkpoint}) vs run()"
    _compare_trees(f"{what}, values", (l_ref, aux_ref), (l_ck, aux_ck), rtol=rtol, atol=atol)
    _compare_trees(f"{what}, gradients", g_ref, g_ck, rtol=rtol, atol=atol)


def check_float32_matches_float64(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    rtol: float = 1e-4,
    atol: float = 1e-4,
) -> None:
    r"""The model run in float32 agrees with the same model run in float64
    (under `jax.enable_x64`) within `rtol`/`atol`: outputs and final state.

    Meant for sub-threshold trajectories (or spikes far from threshold): a
    potential within rounding of $v_{th}$ may spike in one precision only.
    The model's floating arrays and `xs` are cast to each precision; Python
    float hyper-parameters follow the precision of the run.

    **Arguments:** `model`; `xs` `[T, ...]`; `state`; `rtol`, `atol`.
    """

    def cast(tree: Any, dtype: Any) -> Any:
        return jtu.tree_map(lambda leaf: leaf.astype(dtype) if eqx.is_inexact_array(leaf) else leaf, tree)

    def host(tree: Any) -> Any:
        return jtu.tree_map(lambda leaf: np.asarray(leaf) if eqx.is_array(leaf) else leaf, tree)

    lo = host(
        _jit_run(cast(model, jnp.float32), cast(jtu.tree_map(jnp.asarray, xs), jnp.float32), cast(state, jnp.float32))
    )
    with jax.enable_x64(True):
        hi = host(
            _jit_run(
                cast(model, jnp.float64), cast(jtu.tree_map(jnp.asarray, xs), jnp.float64), cast(state, jnp.float64)
            )
        )
    for leaf in jtu.tree_leaves(hi[1]):
        if np.issubdtype(leaf.dtype, np.floating) and leaf.dtype != np.float64:
            raise AssertionError(f"{_name(model)}: the float64 run produced {leaf.dtype} outputs")
    _compare_trees(f"{_name(model)}: float32 vs float64", hi, lo, rtol=rtol, atol=atol)
