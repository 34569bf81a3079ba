"""The dynamics protocol, running through time, and sequential composition."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu

from ._custom_types import PRNGKeyArray, PyTree

State = TypeVar("State")
X = TypeVar("X")
Y = TypeVar("Y")


class AbstractSequence(eqx.Module):
    r"""An input sequence of `num_steps` steps that is not stored step by step.

    [`eqsnn.run`][] accepts one wherever it accepts a `[T, ...]` array. A model
    that knows the type consumes it in `prepare_inputs` (for example
    [`eqsnn.models.SNN`][] projects [`eqsnn.nn.SpikeSteps`][] event by event);
    otherwise `run` calls `materialise()` and scans the arrays. A checkpointed
    `run` cuts it with `segment`, so the full `[T, ...]` form is never built.
    """

    @property
    @abc.abstractmethod
    def num_steps(self) -> int:
        """$T$, the number of steps (a Python int)."""

    @abc.abstractmethod
    def segment(self, start: Any, size: int) -> AbstractSequence:
        """Steps `start, ..., start + size - 1` (`start` may be traced; `size` is static)."""

    @abc.abstractmethod
    def materialise(self) -> PyTree:
        """The sequence as arrays with a leading time axis `[T, ...]`."""


class AbstractDynamics(eqx.Module, Generic[State, X, Y]):
    r"""A discrete-time dynamical system for ONE sample, with explicit state.

    $$ (s_{t}, y_t) = \mathrm{step}(s_{t-1}, x_t), \qquad s_{-1} = \mathrm{init\_state}() $$

    `step` has the signature of a `jax.lax.scan` body, so
    `lax.scan(model.step, model.init_state(), xs)` runs a sequence. Batches
    are `jax.vmap` over samples: there is no batch axis inside a model.

    Parameters are the array leaves of the module; hyper-parameters that are
    not trained (`tau`, thresholds, `dt`, sizes) are Python scalars or static
    fields, so `eqx.partition(model, eqx.is_inexact_array)` splits out exactly
    the trainable parameters. A stateless layer returns `None` from
    `init_state`.

    **Sequence-level fast path.** A subclass may hoist work that does not
    depend on the state out of the time loop: `prepare_inputs(xs)` transforms
    the whole input sequence `xs: [T, ...]` once, and
    `step_prepared(state, u_t)` consumes one prepared element. The contract is
    `step(s, x) == step_prepared(s, prepare_inputs(x[None])[0])`; the default
    (identity and `step`) satisfies it trivially. [`eqsnn.run`][] uses this
    path.
    """

    @abc.abstractmethod
    def init_state(self, *, key: PRNGKeyArray | None = None) -> State:
        """The state before the first step (resting values). `key` is used by
        models with random initial states; others ignore it."""

    @abc.abstractmethod
    def step(self, state: State, x: X) -> tuple[State, Y]:
        """Advance one time step: `(state, x) -> (new_state, output)`."""

    def prepare_inputs(self, xs: Any) -> Any:
        """State-independent work over a whole input sequence `[T, ...]`
        (default: identity)."""
        return xs

    def step_prepared(self, state: State, u: Any) -> tuple[State, Y]:
        """One step on a prepared input (default: `step`)."""
        return self.step(state, u)

    def __hash__(self) -> int:
        # `jax.lax.scan(model.step, ...)` hashes the bound method, hence the
        # module; Equinox's field hash fails on array leaves. Fall back to the
        # identity: an equal copy then only misses JAX's trace cache.
        try:
            return super().__hash__()
        except TypeError:
            return id(self)

    def __rshift__(self, other: AbstractDynamics) -> Sequential:
        """`a >> b` is `Sequential(a, b)` (flattening nested `Sequential`s)."""
        left = self.layers if isinstance(self, Sequential) else (self,)
        right = other.layers if isinstance(other, Sequential) else (other,)
        return Sequential(*left, *right)


def is_stateless(model: AbstractDynamics) -> bool:
    """Whether `model` has no state (its `init_state()` is `None`)."""
    return model.init_state() is None


class Sequential(AbstractDynamics[tuple, Any, Any]):
    r"""Feed each layer's output to the next, within one time step.

    $$ y_t = f_n(\dots f_2(f_1(x_t))) $$

    The state is the tuple of the children's states (`None` for stateless
    layers), so `state[0]` is the first layer's state, as in Optax's `chain`.

    Leading stateless layers (a `Linear` on the input, say) do not depend on
    the state, so `prepare_inputs` applies them to the whole sequence at once
    through their own `prepare_inputs` (one large matmul instead of T small
    ones, or an event-driven projection of spike steps), then hands over to
    the first stateful layer's own `prepare_inputs`.

    **Arguments:**

    - `*layers`: the dynamics to chain, at least one.
    """

    layers: tuple[AbstractDynamics, ...]

    def __init__(self, *layers: AbstractDynamics):
        if not layers:
            raise ValueError("Sequential: `layers` must hold at least one layer, got none")
        for i, layer in enumerate(layers):
            if not isinstance(layer, AbstractDynamics):
                raise TypeError(
                    f"Sequential: `layers[{i}]` must be an eqsnn dynamics (init_state/step), got {type(layer).__name__}"
                )
        self.layers = tuple(layers)

    def init_state(self, *, key: PRNGKeyArray | None = None) -> tuple:
        keys = [None] * len(self.layers) if key is None else list(jax.random.split(key, len(self.layers)))
        return tuple(layer.init_state(key=k) for layer, k in zip(self.layers, keys, strict=True))

    def _check_state(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != len(self.layers):
            got = f"tuple of length {len(state)}" if isinstance(state, tuple) else type(state).__name__
            raise TypeError(
                f"Sequential: `state` must be a tuple of {len(self.layers)} layer states (from init_state), got {got}"
            )

    def step(self, state: tuple, x: Any) -> tuple[tuple, Any]:
        self._check_state(state)
        new_state = []
        for layer, s in zip(self.layers, state, strict=True):
            s, x = layer.step(s, x)
            new_state.append(s)
        return tuple(new_state), x

    def _num_hoisted(self) -> int:
        n = 0
        for layer in self.layers[:-1]:
            if not is_stateless(layer):
                break
            n += 1
        return n

    def prepare_inputs(self, xs: Any) -> Any:
        n = self._num_hoisted()
        for layer in self.layers[:n]:  # a stateless layer's prepared inputs are its outputs
            xs = layer.prepare_inputs(xs)
        return self.layers[n].prepare_inputs(xs)

    def step_prepared(self, state: tuple, u: Any) -> tuple[tuple, Any]:
        self._check_state(state)
        n = self._num_hoisted()
        new_state = list(state[:n])
        for layer in self.layers[:n]:  # identity for layers whose fast path computed their whole output
            _, u = layer.step_prepared(None, u)
        s, x = self.layers[n].step_prepared(state[n], u)
        new_state.append(s)
        for layer, s in zip(self.layers[n + 1 :], state[n + 1 :], strict=True):
            s, x = layer.step(s, x)
            new_state.append(s)
        return tuple(new_state), x


def _leading_length(xs: PyTree) -> int:
    if isinstance(xs, AbstractSequence):
        return xs.num_steps
    leaves = jtu.tree_leaves(xs)
    if not leaves:
        raise ValueError("run: `xs` must contain at least one array with a leading time axis, got none")
    lengths = set()
    for leaf in leaves:
        shape = jnp.shape(leaf)
        if len(shape) == 0:
            raise ValueError("run: every leaf of `xs` must have a leading time axis [T, ...], got a scalar")
        lengths.add(shape[0])
    if len(lengths) != 1:
        raise ValueError(f"run: all leaves of `xs` must share the time length, got lengths {sorted(lengths)}")
    return lengths.pop()


def _check_state_matches(model: AbstractDynamics, state: PyTree) -> None:
    expected = jax.eval_shape(lambda: model.init_state())  # a bound method would be hashed: tracers in jit
    exp_struct = jtu.tree_structure(expected)
    got_struct = jtu.tree_structure(state)
    if exp_struct != got_struct:
        raise TypeError(
            f"run: `state` does not match {type(model).__name__}.init_state(): expected structure "
            f"{exp_struct}, got {got_struct}"
        )
    for e, g in zip(jtu.tree_leaves(expected), jtu.tree_leaves(state), strict=True):
        if jnp.shape(g) != e.shape:
            raise ValueError(
                f"run: `state` leaf has shape {jnp.shape(g)}, expected {e.shape} "
                f"(a state for one sample; vmap for batches)"
            )


def run(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    monitor: Callable[[Any], PyTree] | None = None,
    reduce_monitor: str | None = None,
    checkpoint: int | None = None,
) -> tuple[Any, Any] | tuple[Any, Any, Any]:
    r"""Scan `model` over the leading (time) axis of `xs`.

    $$ (s_t, y_t) = \mathrm{step}(s_{t-1}, x_t), \quad t = 0, \dots, T-1 $$

    **Arguments:**

    - `model`: any [`eqsnn.AbstractDynamics`][] (one sample).
    - `xs`: inputs `[T, ...]` (any PyTree whose leaves share `T`), or an
      [`eqsnn.AbstractSequence`][] such as [`eqsnn.nn.SpikeSteps`][].
    - `state`: the initial state; `None` means `model.init_state()`.
    - `monitor`: a function of the state, called after every step; its
      results are stacked over time (`[T, ...]`). A dict of named arrays is
      the usual choice, e.g. `lambda s: {"r.spike": s.r.spike}`.
    - `reduce_monitor`: `None` (default: stack, `[T, ...]`), `'sum'`
      ($\sum_t m(s_t)$) or `'mean'` ($\frac1T \sum_t m(s_t)$): reduce over
      time inside the scan instead, so no `[T, ...]` array (nor its
      cotangent) is kept. Spike counts for L1/L2 regularisers need only this.
    - `checkpoint`: if given, the scan is cut into segments of this many steps
      and each segment is rematerialised in the backward pass
      (`jax.checkpoint`), so BPTT memory grows with `T / checkpoint +
      checkpoint` instead of `T`. Values and gradients are unchanged.

    **Returns:**

    `(final_state, ys)`, or `(final_state, ys, monitored)` when `monitor` is
    given.
    """
    if not isinstance(model, AbstractDynamics):
        raise TypeError(f"run: `model` must be an eqsnn dynamics, got {type(model).__name__}")
    num_steps = _leading_length(xs)
    if state is None:
        state = model.init_state()
    else:
        _check_state_matches(model, state)
    if checkpoint is not None and (isinstance(checkpoint, bool) or not isinstance(checkpoint, int) or checkpoint <= 0):
        raise ValueError(f"run: `checkpoint` must be a positive int (steps per segment) or None, got {checkpoint!r}")

    def prepare(x):
        us = model.prepare_inputs(x)
        return us.materialise() if isinstance(us, AbstractSequence) else us

    if reduce_monitor not in (None, "sum", "mean"):
        raise ValueError(f"run: `reduce_monitor` must be None, 'sum' or 'mean', got {reduce_monitor!r}")
    if reduce_monitor is not None and monitor is None:
        raise ValueError("run: `reduce_monitor` needs a `monitor` to reduce, got monitor=None")
    reducing = reduce_monitor is not None

    def body(carry, u):
        s, acc = carry if reducing else (carry, None)
        s, y = model.step_prepared(s, u)
        if monitor is None:
            return s, y
        if reducing:
            return (s, jtu.tree_map(jnp.add, acc, monitor(s))), y
        return s, (y, monitor(s))

    init = state
    if reducing:
        shapes = jax.eval_shape(lambda: monitor(state))
        init = (state, jtu.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), shapes))
    if checkpoint is None or checkpoint >= num_steps:
        final, out = jax.lax.scan(body, init, prepare(xs))
    else:
        final, out = _segmented_scan(prepare, body, init, xs, num_steps, checkpoint)

    if monitor is None:
        return final, out
    if reducing:
        final, monitored = final
        if reduce_monitor == "mean":
            monitored = jtu.tree_map(lambda a: a / num_steps, monitored)
        return final, out, monitored
    ys, monitored = out
    return final, ys, monitored


def _segment(xs: Any, start: Any, size: int) -> Any:
    if isinstance(xs, AbstractSequence):
        return xs.segment(start, size)
    return jtu.tree_map(lambda x: jax.lax.dynamic_slice_in_dim(x, start, size, axis=0), xs)


def _segmented_scan(prepare, body, state, xs, num_steps: int, segment: int):
    """Scan over `num_steps // segment` rematerialised segments, then the tail.

    Each segment cuts its inputs out of `xs` and prepares them inside the
    checkpoint, so neither the prepared sequence nor its cotangent is held for
    all `T` steps, and an [`eqsnn.AbstractSequence`][] is never materialised
    whole."""
    num_seg = num_steps // segment
    head = num_seg * segment

    @jax.checkpoint
    def seg_body(s, start):
        return jax.lax.scan(body, s, prepare(_segment(xs, start, segment)))

    starts = jnp.arange(num_seg, dtype=jnp.int32) * segment
    state, out_head = jax.lax.scan(seg_body, state, starts)
    out_head = jtu.tree_map(lambda o: o.reshape((head,) + o.shape[2:]), out_head)
    if head == num_steps:
        return state, out_head
    state, out_tail = jax.lax.scan(body, state, prepare(_segment(xs, jnp.int32(head), num_steps - head)))
    out = jtu.tree_map(lambda a, b: jnp.concatenate([a, b], axis=0), out_head, out_tail)
    return state, out
