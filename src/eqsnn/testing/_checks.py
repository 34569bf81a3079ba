r"""Invariant checks: functions of any [`eqsnn.AbstractDynamics`][] and an input sequence that
raise `AssertionError`, naming the model, the step and the element, when an invariant breaks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np

from .._core import AbstractDynamics, AbstractSequence, run
from .._custom_types import Array, ArrayLike, PyTree
from .._params import unwrap
from .._surrogate import AbstractSurrogate, heaviside

__all__ = [
    "check_spikes_binary",
    "check_no_spike_within_refractory",
    "check_reset_below_threshold",
    "check_decays_without_input",
    "check_vmap_equals_loop",
    "check_batch_size_independent",
    "check_run_equals_step_loop",
    "check_run_equals_scan",
    "check_prepared_equals_step",
    "check_jit_equals_eager",
    "check_remat_equals_run",
    "check_checkpoint_equals_run",
    "check_float32_matches_float64",
    "check_surrogate_derivative",
]

_jit_run = eqx.filter_jit(run)
_jit_step = eqx.filter_jit(lambda model, state, x: model.step(state, x))
_jit_scan = eqx.filter_jit(lambda model, state, xs: jax.lax.scan(model.step, state, xs))
_jit_vmap_run = eqx.filter_jit(eqx.filter_vmap(lambda model, xs: run(model, xs), in_axes=(None, 0)))
_jit_vmap_run_state = eqx.filter_jit(
    eqx.filter_vmap(lambda model, xs, state: run(model, xs, state), in_axes=(None, 0, 0))
)


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _name(model: Any) -> str:
    return type(model).__name__


def _fmt(value: Any) -> str:
    """A NumPy scalar as a plain number (`0.25`, not `np.float32(0.25)`)."""
    return repr(np.asarray(value).item())


def _state_spike(state: Any) -> Any:
    """The default spike accessor: `state.spike`."""
    if not hasattr(state, "spike"):
        raise TypeError(
            f"eqsnn.testing: the state ({type(state).__name__}) has no `spike`; "
            f"pass `spikes=lambda s: ...` (or `spikes=None` to use the outputs)"
        )
    return state.spike


def _state_v(state: Any) -> Any:
    """The default potential accessor: `state.v`."""
    if not hasattr(state, "v"):
        raise TypeError(f"eqsnn.testing: the state ({type(state).__name__}) has no `v`; pass `potential=lambda s: ...`")
    return state.v


def _floating(state: Any) -> Any:
    """The floating leaves of a state (others become `None`)."""
    return eqx.filter(state, eqx.is_inexact_array)


def _materialise(xs: Any) -> Any:
    return xs.materialise() if isinstance(xs, AbstractSequence) else xs


def _num_steps(xs: Any) -> int:
    if isinstance(xs, AbstractSequence):
        return xs.num_steps
    return int(jtu.tree_leaves(xs)[0].shape[0])


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


def _zeros_input(model: Any, num_steps: int) -> Array:
    shape = getattr(model, "shape", None)
    if isinstance(shape, int):
        shape = (shape,)
    if not (isinstance(shape, tuple) and all(isinstance(s, int) for s in shape)):
        raise TypeError(f"eqsnn.testing: {_name(model)} has no tuple `shape`; pass the input sequence `xs` explicitly")
    return jnp.zeros((num_steps, *shape))


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


# --------------------------------------------------------------------------- #
# Spiking invariants
# --------------------------------------------------------------------------- #


def check_spikes_binary(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    spikes: Callable[[Any], Any] | None = _state_spike,
    outputs: bool = True,
) -> None:
    r"""Every spike is exactly 0 or 1, after every step:

    $$ y_t \in \{0, 1\}, \qquad \mathrm{spikes}(s_t) \in \{0, 1\} \quad \forall t. $$

    **Arguments:**

    - `model`: any [`eqsnn.AbstractDynamics`][] that spikes.
    - `xs`: the inputs `[T, ...]`.
    - `state`: the initial state (default `model.init_state()`).
    - `spikes`: a function of the state giving its spikes (default `state.spike`); `None`
      checks the outputs only.
    - `outputs`: whether the output $y_t$ of each step is checked too (default `True`;
      `False` for a model whose output is not its spikes).

    **Raises:** `AssertionError` naming the first step and element with another value.
    """
    if spikes is None and not outputs:
        raise ValueError("check_spikes_binary: nothing to check (spikes=None and outputs=False)")
    if spikes is None:
        _, ys = _jit_run(model, xs, state)
        mon = None
    else:
        _, ys, mon = _jit_run(model, xs, state, monitor=spikes)
    for what, values in (("output", ys if outputs else None), ("state's spikes", mon)):
        if values is None:
            continue
        for path, leaf in jtu.tree_flatten_with_path(values)[0]:
            leaf = np.asarray(leaf)
            bad = (leaf != 0) & (leaf != 1)
            if np.any(bad):
                idx = _first(bad)
                where = f" {jtu.keystr(path)}" if path else ""
                raise AssertionError(
                    f"{_name(model)}: spikes must be exactly 0 or 1, but the {what}{where} at step {idx[0]}, "
                    f"index {idx[1:]} is {_fmt(leaf[idx])}"
                )


def check_no_spike_within_refractory(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    spikes: Callable[[Any], Any] | None = _state_spike,
    tau_ref: Any = None,
    dt: Any = None,
    tolerance: float = 0.25,
) -> None:
    r"""After a spike at step $k_1$, an element stays silent while
    $(k - k_1)\,\Delta t \le \tau_{ref}$: consecutive spikes of one element at steps
    $k_1 < k_2$ satisfy

    $$ (k_2 - k_1)\, \Delta t > \tau_{ref} - \epsilon\, \Delta t $$

    with $\epsilon$ = `tolerance` (default 0.25 of a step): when $\tau_{ref}$ is a multiple
    of $\Delta t$, rounding decides whether the last step of the period is still
    refractory, and either answer is accepted.

    **Precondition.** The reset must bring $v$ below threshold; a neuron whose potential is
    held during the refractory period spikes again if it was held above threshold. That
    holds for a hard reset with $v_{reset} < v_{th}$, and for a soft reset when the input
    obeys the bound of [`eqsnn.testing.check_reset_below_threshold`][].

    **Arguments:** `model`, `xs` `[T, *shape]`, `state`; `spikes` (a function of the state,
    default `state.spike`; `None`: the outputs); `tau_ref` and `dt` (ms; default the
    model's attributes of those names, scalars or broadcastable to the spikes' shape);
    `tolerance`.

    **Raises:** `AssertionError` naming the element, both spike steps and the interval;
    `TypeError` when `tau_ref` or `dt` is neither given nor an attribute of the model.
    """
    plain = unwrap(model)
    tau_ref = getattr(plain, "tau_ref", None) if tau_ref is None else tau_ref
    dt = getattr(plain, "dt", None) if dt is None else dt
    if tau_ref is None or dt is None:
        raise TypeError(
            f"check_no_spike_within_refractory: {_name(model)} has no `tau_ref`/`dt` attribute; "
            f"pass `tau_ref` and `dt` (ms)"
        )
    if spikes is None:
        _, ys = _jit_run(model, xs, state)
    else:
        _, _, ys = _jit_run(model, xs, state, monitor=spikes)
    ys = np.asarray(ys)
    shape = ys.shape[1:]
    tau_ref = np.broadcast_to(np.asarray(tau_ref, dtype=np.float64), shape).reshape(-1)
    spikes_flat = ys.reshape(ys.shape[0], -1)
    dt = float(np.asarray(dt))
    for i in range(spikes_flat.shape[1]):
        steps = np.flatnonzero(spikes_flat[:, i] > 0)
        if steps.size < 2:
            continue
        gaps = np.diff(steps) * dt
        bad = gaps <= tau_ref[i] - tolerance * dt
        if np.any(bad):
            j = int(np.argmax(bad))
            index = tuple(int(k) for k in np.unravel_index(i, shape)) if shape else ()
            raise AssertionError(
                f"{_name(model)}: element {index} spiked at steps {steps[j]} and {steps[j + 1]}, "
                f"{gaps[j]:.6g} ms apart, within its refractory period tau_ref={tau_ref[i]:.6g} ms (dt={dt:.6g} ms)"
            )


def check_reset_below_threshold(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    potential: Callable[[Any], Any] = _state_v,
    threshold: Any = None,
) -> None:
    r"""After every step, and so right after every reset, the potential is below threshold:
    $v_t < v_{th}$ for all $t$.

    **Precondition** (for models that keep $v < v_{th}$ between steps). A hard reset puts
    $v = v_{reset}$, below threshold whenever $v_{reset} < v_{th}$. A soft reset subtracts
    $v_{th} - v_{reset}$ once, so it ends below threshold iff the pre-reset potential
    $\tilde v < 2 v_{th} - v_{reset}$: the input must not carry $v$ across threshold twice in
    one step. For [`eqsnn.neurons.LIF`][] (from $v < v_{th}$, with $a = e^{-\Delta t/\tau}$,
    $\tilde v = a v + (1 - a)(v_{rest} + R I)$) this holds for every input with

    $$ R\, I_t \le (v_{th} - v_{rest}) + \frac{v_{th} - v_{reset}}{1 - e^{-\Delta t/\tau}}, $$

    and for [`eqsnn.neurons.IF`][] ($\tilde v = v + \frac{\Delta t}{\tau} R I$) with
    $\frac{\Delta t}{\tau} R\, I_t \le v_{th} - v_{reset}$. Keep a margin below these bounds
    for rounding.

    **Arguments:** `model`, `xs`, `state`; `potential` (a function of the state; default
    `state.v`), `threshold` (default the model's `v_th`, which every
    [`eqsnn.AbstractSpikingNeuron`][] has).

    **Raises:** `AssertionError` naming the step, the element, $v$ and $v_{th}$.
    """
    threshold = getattr(unwrap(model), "v_th", None) if threshold is None else threshold
    if threshold is None:
        raise TypeError(f"check_reset_below_threshold: {_name(model)} has no `v_th` attribute; pass `threshold`")
    _, ys, v = _jit_run(model, xs, state, monitor=potential)
    v = np.asarray(v)
    th = np.broadcast_to(np.asarray(threshold, dtype=v.dtype), v.shape[1:])
    bad = ~(v < th)
    if np.any(bad):
        idx = _first(bad)
        spiked = _fmt(np.asarray(ys)[idx]) if np.shape(ys) == v.shape else "?"
        raise AssertionError(
            f"{_name(model)}: after step {idx[0]} (spike={spiked}), element {idx[1:]} has v={_fmt(v[idx])} >= "
            f"v_th={_fmt(th[idx[1:]])}; a reset must end below threshold (for a soft reset the input must "
            f"not carry v across threshold twice in one step; see the precondition)"
        )


# --------------------------------------------------------------------------- #
# Decay without input
# --------------------------------------------------------------------------- #


def _leaves_with_labels(tree: Any, base: str) -> list[tuple[str, np.ndarray]]:
    leaves = jtu.tree_flatten_with_path(tree)[0]
    return [(base + jtu.keystr(path), np.asarray(leaf, dtype=np.float64)) for path, leaf in leaves]


#: An element counts as displaced (and must end closer to rest) beyond this many `atol`: nearer
#: rest a slow decay (`dt / tau` small) can stall in float32, each step rounding back.
_DISPLACED = 1e3


def check_decays_without_input(
    model: AbstractDynamics,
    state: PyTree,
    num_steps: int = 50,
    *,
    value: Callable[[Any], Any] | None = None,
    rest: Any = None,
    xs: PyTree | None = None,
    monotone: bool = False,
    growth: float = 2.0,
    settle: float | None = None,
    rtol: float = 1e-6,
    atol: float | None = None,
) -> None:
    r"""Without input, a displaced state returns towards rest and stays bounded.

    With $x_t$ the value after step $t$ ($x_0$ the start) and $d_t = x_t - x_{rest}$, the
    default (`monotone=False`) allows the overshoot of a resonator or of any oscillatory
    decay. The leaves of one shape are the components of its elements (for a population:
    $v_i$, $u_i$, `spike`$_i$ of element $i$), with $D_t(i) = \lVert d_t(i) \rVert_2$ over
    them, and it asserts

    $$ \max_i D_t(i) \le g \max_i D_0(i) \ \ \forall t, \qquad D_T(i) < D_0(i), \qquad
       D_T(i) \le \sigma\, D_0(i) \text{ (if `settle` = } \sigma \text{ is given)}, $$

    with $g$ = `growth`, every value finite. `monotone=True` is the strict decay of a first-order
    system, for each element of each leaf:

    $$ |d_t| \le |d_{t-1}|, \qquad d_t\, d_{t-1} \ge 0, \qquad |d_T| < |d_0| \text{ if } d_0 \ne 0. $$

    **Precondition:** for a spiking neuron start below threshold if spikes would keep it
    from returning to rest (a refractory neuron's time of last spike never does).

    **Arguments:**

    - `model`: any [`eqsnn.AbstractDynamics`][].
    - `state`: the displaced start (for instance the final state of [`eqsnn.run`][] on
      some input).
    - `num_steps`: $T$ (default 50).
    - `value`: a function of the state giving what must decay (default: every floating
      leaf of the state).
    - `rest`: $x_{rest}$ (default `value(model.init_state())`: the protocol's
      `init_state` is the resting state); a scalar applies to every leaf.
    - `xs`: the input (default zeros `[num_steps, *model.shape]`).
    - `monotone`: the strict behaviour above (default `False`).
    - `growth`: $g$, how far the state may move away from rest, relative to its start
      (default 2).
    - `settle`: $\sigma$, if given, how close to rest every element must end, relative to
      its start (default `None`: only closer than at the start).
    - `rtol`, `atol`: slack for rounding; default `atol` per leaf is
      $10^{-6} (1 + \max|x_0| + \max|x_{rest}|)$, a few float32 ulps at mV scale. An
      element must end closer to rest only if it starts more than $1000$ `atol` away:
      nearer, a slow decay can stall in float32 (each step rounds back to the same value).

    **Raises:** `AssertionError` naming the leaf, the step and the element.
    """
    name = _name(model)
    value_fn = _floating if value is None else value
    base = "state" if value is None else "value"
    xs = _zeros_input(model, num_steps) if xs is None else xs
    num_steps = _num_steps(xs)
    rest = value_fn(unwrap(model).init_state()) if rest is None else rest
    _, _, traj = _jit_run(model, xs, state, monitor=value_fn)
    starts = _leaves_with_labels(value_fn(state), base)
    trajs = [leaf for _, leaf in _leaves_with_labels(traj, base)]
    rests = [leaf for _, leaf in _leaves_with_labels(rest, "")]
    if len(rests) == 1 and len(starts) > 1:
        rests = rests * len(starts)
    if len(rests) != len(starts):
        raise ValueError(f"check_decays_without_input: `rest` has {len(rests)} leaves, the value has {len(starts)}")
    leaves = []  # (label, d [T+1, ...], atol)
    for (label, x0), xt, r in zip(starts, trajs, rests, strict=True):
        d = np.concatenate([x0[None], xt]) - r
        if not np.all(np.isfinite(d)):
            idx = _first(~np.isfinite(d))
            raise AssertionError(
                f"{name}: without input {label} is not finite after step {idx[0] - 1}, index {idx[1:]}"
            )
        tol = 1e-6 * (1.0 + float(np.max(np.abs(x0), initial=0.0)) + float(np.max(np.abs(r), initial=0.0)))
        leaves.append((label, d, tol if atol is None else atol))

    if monotone:
        for label, d, tol in leaves:
            prev, cur = np.abs(d[:-1]), np.abs(d[1:])
            grow = cur > prev * (1 + rtol) + tol
            if np.any(grow):
                idx = _first(grow)
                raise AssertionError(
                    f"{name}: without input the distance of {label} to rest grew at step {idx[0]}, index "
                    f"{idx[1:]}: |x - rest| went from {prev[idx]:.9g} to {cur[idx]:.9g}"
                )
            flip = d[:-1] * d[1:] < -(tol**2)
            if np.any(flip):
                idx = _first(flip)
                raise AssertionError(
                    f"{name}: without input {label} overshot rest at step {idx[0]}, index {idx[1:]}: "
                    f"x - rest went from {d[idx]:.9g} to {d[1:][idx]:.9g}"
                )
            stuck = (np.abs(d[0]) > _DISPLACED * tol) & ~(np.abs(d[-1]) < np.abs(d[0]))
            if np.any(stuck):
                idx = _first(stuck)
                raise AssertionError(
                    f"{name}: without input {label} at index {idx} did not decay over {num_steps} steps: "
                    f"|x - rest| = {np.abs(d[0])[idx]:.9g} at the start and {np.abs(d[-1])[idx]:.9g} at the end"
                )
        return

    groups: dict[tuple[int, ...], list[tuple[str, np.ndarray, float]]] = {}
    for label, d, tol in leaves:
        groups.setdefault(d.shape[1:], []).append((label, d, tol))
    for members in groups.values():
        moving = [m for m in members if np.any(m[1] != 0)]
        if not moving:
            continue
        label = members[0][0] if len(members) == 1 else "the state (" + ", ".join(m[0] for m in members) + ")"
        dist = np.sqrt(sum(m[1] ** 2 for m in members))
        tol = float(np.sqrt(sum(m[2] ** 2 for m in moving)))
        d0, dT = dist[0], dist[-1]
        limit = growth * float(np.max(d0, initial=0.0)) * (1 + rtol) + tol
        out = dist > limit
        if np.any(out):
            idx = _first(out)
            raise AssertionError(
                f"{name}: without input {label} moved away from rest at step {idx[0] - 1}, index {idx[1:]}: "
                f"the distance to rest is {dist[idx]:.9g}, more than growth={growth} times the largest at the "
                f"start, {float(np.max(d0)):.9g} (unbounded?)"
            )
        stuck = (d0 > _DISPLACED * tol) & ~(dT < d0)
        if np.any(stuck):
            idx = _first(stuck)
            raise AssertionError(
                f"{name}: without input {label} at index {idx} did not decay over {num_steps} steps: "
                f"the distance to rest is {d0[idx]:.9g} at the start and {dT[idx]:.9g} at the end"
            )
        if settle is not None:
            late = dT > settle * d0 * (1 + rtol) + tol
            if np.any(late):
                idx = _first(late)
                raise AssertionError(
                    f"{name}: without input {label} at index {idx} did not settle within settle={settle} of its "
                    f"start over {num_steps} steps: the distance to rest is {d0[idx]:.9g} at the start and "
                    f"{dT[idx]:.9g} at the end"
                )


# --------------------------------------------------------------------------- #
# Execution paths agree
# --------------------------------------------------------------------------- #


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

    for the outputs and the final states. A model describes one sample, so this fails for
    a model whose result depends on something other than its own sample (trace-time
    randomness, hidden global state).

    **Arguments:** `model`; `xs_batch` `[B, T, ...]`; `states` (initial states with a
    leading batch axis; default `init_state()` for each); `rtol`, `atol`.

    **Raises:** `AssertionError` naming the leaf and the index that differ.
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
    r"""A sample's result does not depend on the batch it is run in: the first $b$ samples
    of a vmapped batch of $B$ equal a vmapped batch of only those $b$, for each $b$ in
    `batch_sizes` (default $1$ and $\lceil B/2 \rceil$).

    **Arguments:** `model`; `xs_batch` `[B, T, ...]`; `batch_sizes`; `rtol`, `atol`.

    **Raises:** `AssertionError` naming the batch sizes, the leaf and the index.
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
    r"""[`eqsnn.run`][] (one compiled `lax.scan`, a composition's leading stateless layers
    hoisted) equals a Python loop of `step`, each step compiled on its own
    ([`eqsnn.testing.check_jit_equals_eager`][] covers op-by-op execution):

    $$ (s_t, y_t) = \mathrm{step}(s_{t-1}, x_t), \quad s_{-1} = \mathrm{init\_state}() $$

    for the outputs, the final state and, if given, `monitor(state)` after every step.

    **Arguments:** `model`; `xs` `[T, ...]`; `state`; `monitor`; `rtol`, `atol`.

    **Raises:** `AssertionError` naming the leaf and the index that differ.

    In float32 a compiled and an op-by-op (or differently fused) computation may round
    differently, and a potential within rounding of threshold then spikes in one of them
    only: for a tight comparison run the check under `jax.enable_x64(True)` with float64
    inputs and parameters.
    """
    if monitor is None:
        scanned = _jit_run(model, xs, state)
    else:
        scanned = _jit_run(model, xs, state, monitor=monitor)
    plain = unwrap(model)
    s = plain.init_state() if state is None else state
    steps = _materialise(xs)
    outs, mons = [], []
    for t in range(_num_steps(xs)):
        s, y = _jit_step(plain, s, _index(steps, t))
        outs.append(y)
        if monitor is not None:
            mons.append(monitor(s))
    looped = (s, _stack(outs)) if monitor is None else (s, _stack(outs), _stack(mons))
    _compare_trees(f"{_name(model)}: run vs a Python loop of step", looped, scanned, rtol=rtol, atol=atol)


def check_run_equals_scan(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""The fast path equals the step path: [`eqsnn.run`][], which applies a composition's
    leading stateless layers to the whole sequence before scanning the rest (see
    [`eqsnn.AbstractStateless`][]), equals `jax.lax.scan(model.step, model.init_state(), xs)`,
    which steps every layer at every step:

    $$ \mathrm{run}(m, x_{0:T}) = \mathrm{scan}(m.\mathrm{step}, s_{-1}, x_{0:T}) $$

    for the outputs and the final state. A layer whose `over_sequence` disagrees with its
    `__call__` fails it.

    **Arguments:** `model`; `xs` `[T, ...]` (or an [`eqsnn.AbstractSequence`][],
    materialised for the step path); `state`; `rtol`, `atol`.

    **Raises:** `AssertionError` naming the leaf and the index that differ.
    """
    fast = _jit_run(model, xs, state)
    plain = unwrap(model)
    s = plain.init_state() if state is None else state
    slow = _jit_scan(plain, s, _materialise(xs))
    _compare_trees(f"{_name(model)}: run (hoisted) vs lax.scan of step", slow, fast, rtol=rtol, atol=atol)


def check_prepared_equals_step(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""Deprecated name of [`eqsnn.testing.check_run_equals_scan`][] (models no longer have a
    prepared path of their own: hoisting belongs to compositions).

    **Arguments:** as [`eqsnn.testing.check_run_equals_scan`][].
    """
    warnings.warn("check_prepared_equals_step is renamed check_run_equals_scan", DeprecationWarning, stacklevel=2)
    check_run_equals_scan(model, xs, state, rtol=rtol, atol=atol)


def check_jit_equals_eager(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""`eqx.filter_jit(eqsnn.run)` equals [`eqsnn.run`][] executed op by op under
    `jax.disable_jit()` (outputs and final state).

    **Arguments:** `model`; `xs` `[T, ...]`; `state`; `rtol`, `atol`.

    **Raises:** `AssertionError` naming the leaf and the index that differ.

    In float32 a compiled and an op-by-op (or differently fused) computation may round
    differently, and a potential within rounding of threshold then spikes in one of them
    only: for a tight comparison run the check under `jax.enable_x64(True)` with float64
    inputs and parameters.
    """
    compiled = _jit_run(model, xs, state)
    with jax.disable_jit():
        eager = run(model, xs, state)
    _compare_trees(f"{_name(model)}: jit vs eager (jax.disable_jit)", eager, compiled, rtol=rtol, atol=atol)


def _default_loss(ys: PyTree) -> Array:
    total = jnp.zeros(())
    for i, leaf in enumerate(jtu.tree_leaves(ys)):
        if eqx.is_inexact_array(leaf):
            weights = jr.normal(jr.fold_in(jr.key(0), i), leaf.shape, leaf.dtype)
            total = total + jnp.sum(leaf * weights)
    return total


@eqx.filter_jit
def _value_and_grad_run(diff: Any, static: Any, state: Any, loss: Callable[[Any], Any], remat: int | None) -> Any:
    def objective(diff: Any) -> Any:
        m, x = eqx.combine(diff, static)
        final, ys = run(m, x, state, remat=remat)
        return loss(ys), (final, ys)

    return jax.value_and_grad(objective, has_aux=True)(diff)


def check_remat_equals_run(
    model: AbstractDynamics,
    xs: PyTree,
    remat: int,
    state: PyTree | None = None,
    *,
    loss: Callable[[Any], Any] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    r"""`run(..., remat=k)` equals `run(...)` ([`eqsnn.run`][]) in value AND in gradient: the
    outputs, the final state, and $\nabla L$ with respect to the model's inexact array
    leaves and to the inputs `xs`, for $L$ = `loss(ys)` (default: a fixed random projection
    of the outputs, $L = \sum_t \langle w_t, y_t \rangle$).

    **Arguments:** `model`; `xs` `[T, ...]`; `remat` (steps per rematerialised segment, a
    positive int); `state`; `loss`; `rtol`, `atol`.

    **Raises:** `AssertionError` naming values or gradients, the leaf and the index.

    In float32 a compiled and an op-by-op (or differently fused) computation may round
    differently, and a potential within rounding of threshold then spikes in one of them
    only: for a tight comparison run the check under `jax.enable_x64(True)` with float64
    inputs and parameters.
    """
    if isinstance(remat, bool) or not isinstance(remat, (int, np.integer)) or remat < 1:
        raise ValueError(f"check_remat_equals_run: `remat` must be a positive int, got {remat!r}")
    loss = _default_loss if loss is None else loss
    diff, static = eqx.partition((model, xs), eqx.is_inexact_array)
    (l_ref, aux_ref), g_ref = _value_and_grad_run(diff, static, state, loss, None)
    (l_ck, aux_ck), g_ck = _value_and_grad_run(diff, static, state, loss, int(remat))
    what = f"{_name(model)}: run(remat={remat}) vs run()"
    _compare_trees(f"{what}, values", (l_ref, aux_ref), (l_ck, aux_ck), rtol=rtol, atol=atol)
    _compare_trees(f"{what}, gradients", g_ref, g_ck, rtol=rtol, atol=atol)


#: The name of [`eqsnn.testing.check_remat_equals_run`][] from when `run` took `checkpoint=`.
check_checkpoint_equals_run = check_remat_equals_run


def check_float32_matches_float64(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    rtol: float = 1e-4,
    atol: float = 1e-4,
) -> None:
    r"""The model run in float32 agrees with the same model run in float64 (under
    `jax.enable_x64`) within `rtol`/`atol`: outputs and final state.

    Meant for sub-threshold trajectories (or spikes far from threshold): a potential within
    rounding of $v_{th}$ may spike in one precision only. The model's floating arrays and
    `xs` are cast to each precision; Python float hyper-parameters follow the precision of
    the run.

    **Arguments:** `model`; `xs` `[T, ...]`; `state`; `rtol`, `atol`.

    **Raises:** `AssertionError` naming the leaf and the index that differ, or a float64
    run whose outputs are not float64.
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


# --------------------------------------------------------------------------- #
# Surrogates
# --------------------------------------------------------------------------- #


def check_surrogate_derivative(
    surrogate: AbstractSurrogate,
    xs: ArrayLike,
    *,
    step: float = 1e-6,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> None:
    r"""A surrogate spike function keeps its three promises at every point of `xs`:

    $$ S(x) = H(x) \text{ exactly}, \qquad \frac{\partial S}{\partial x} = \sigma'(x), \qquad
       \sigma'(x) \approx \frac{\sigma(x + h) - \sigma(x - h)}{2h}, $$

    where $H$ is the Heaviside step ([`eqsnn.surrogate.heaviside`][]), $\partial S/\partial x$
    is `jax.grad` of the spike function, $\sigma'$ = `surrogate.derivative` and $\sigma$ =
    `surrogate.smooth`. The forward value is compared in the dtype of `xs` and in float64;
    the gradients in float64 (under `jax.enable_x64`, the surrogate's arrays cast). The
    central difference is the mean of $\sigma'$ over $[x - h, x + h]$, so it may differ
    from $\sigma'(x)$ by the variation of $\sigma'$ over that interval (large at a kink or
    a jump, as for [`eqsnn.surrogate.Boxcar`][]): that variation, sampled at $x - h$, $x$,
    $x + h$, is added to the tolerance.

    **Arguments:**

    - `surrogate`: an [`eqsnn.surrogate.AbstractSurrogate`][].
    - `xs`: the points, a floating array of any shape.
    - `step`: $h / (1 + |x|)$ (default $10^{-6}$).
    - `rtol`, `atol`: tolerances of the finite difference (the gradient must equal
      `derivative` to $10^{-10}$ relative).

    **Raises:** `AssertionError` naming the surrogate, the property and the first point
    that breaks it.
    """
    name = _name(surrogate)
    xs = jnp.asarray(xs)
    if not jnp.issubdtype(xs.dtype, jnp.floating):
        raise TypeError(f"check_surrogate_derivative: `xs` must be a floating array, got dtype {xs.dtype}")

    def forward(f: Any, x: Any, dtype_name: str) -> None:
        got, want = np.asarray(f(x)), np.asarray(heaviside(x))
        bad = ~((got == want) & (got.dtype == want.dtype))
        if np.any(bad):
            idx = _first(bad)
            raise AssertionError(
                f"{name}: the forward value must be exactly heaviside(x) ({dtype_name}), but at x={_fmt(np.asarray(x)[idx])} "
                f"it is {_fmt(got[idx])} ({got.dtype})"
            )

    forward(surrogate, xs, str(xs.dtype))
    with jax.enable_x64(True):
        f = jtu.tree_map(lambda a: a.astype(jnp.float64) if eqx.is_inexact_array(a) else a, surrogate)
        x = jnp.asarray(np.asarray(xs, dtype=np.float64))
        forward(f, x, "float64")
        grad, deriv, fd, slack = (np.asarray(a) for a in _surrogate_parts(f, x, step))
        bad = ~np.isclose(grad, deriv, rtol=1e-10, atol=1e-14)
        if np.any(bad):
            idx = _first(bad)
            raise AssertionError(
                f"{name}: jax.grad of the spike function must equal derivative(x), but at "
                f"x={_fmt(np.asarray(x)[idx])} the gradient is {_fmt(grad[idx])} and derivative {_fmt(deriv[idx])}"
            )
        bad = ~(np.abs(fd - deriv) <= rtol * np.abs(deriv) + atol + slack)
        if np.any(bad):
            idx = _first(bad)
            raise AssertionError(
                f"{name}: derivative(x) must be the derivative of smooth(x), but at x={_fmt(np.asarray(x)[idx])} "
                f"derivative is {_fmt(deriv[idx])} and the central difference of smooth is {_fmt(fd[idx])}"
            )


@eqx.filter_jit
def _surrogate_parts(f: AbstractSurrogate, x: Array, step: float) -> tuple[Array, Array, Array, Array]:
    """The gradient of the spike function, `derivative`, the central difference of `smooth`, and
    the variation of `derivative` over `[x - h, x + h]` (sampled at three points)."""
    grad = jax.vmap(jax.grad(lambda v: f(v)))(x.reshape(-1)).reshape(x.shape)
    h = step * (1.0 + jnp.abs(x))
    deriv = f.derivative(x)
    fd = (f.smooth(x + h) - f.smooth(x - h)) / (2.0 * h)
    around = jnp.stack([f.derivative(x - h), deriv, f.derivative(x + h)])
    return grad, deriv, fd, around.max(axis=0) - around.min(axis=0)
