r"""The dynamics protocol, stateless layers, chains, delays, and running through time.

Everything here is one sample: batches are `jax.vmap`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
import math
from typing import Any, Generic, TypeVar
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import paramax

from ._custom_types import Array, ArrayLike, Float, Int, PRNGKeyArray, PyTree

State = TypeVar("State")
X = TypeVar("X")
Y = TypeVar("Y")

__all__ = [
    "AbstractSequence",
    "AbstractDynamics",
    "AbstractStateless",
    "Lambda",
    "as_dynamics",
    "is_stateless",
    "AbstractComposition",
    "Sequential",
    "Delay",
    "DelayState",
    "run",
]


class AbstractSequence(eqx.Module):
    r"""An input sequence of `num_steps` steps that is not stored step by step.

    [`eqsnn.run`][] accepts one wherever it accepts a `[T, ...]` array. A
    stateless layer at the start of a composition receives it whole (see
    [`eqsnn.AbstractStateless`][]); [`eqsnn.nn.Linear`][] calls `matmul`, so a
    sequence that knows a faster product than `materialise() @ W` (the
    event-driven [`eqsnn.nn.SpikeSteps`][]) never builds its dense form. Any
    other model gets `materialise()`. A rematerialised `run` cuts it with
    `segment`.
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

    def matmul(self, weight: Float[Array, "n_in n_out"]) -> Float[Array, "T n_out"]:
        r"""$(x W)_t$ for every step: `materialise() @ weight` unless the sequence knows better."""
        return self.materialise() @ weight


class AbstractDynamics(eqx.Module, Generic[State, X, Y]):
    r"""A discrete-time dynamical system for ONE sample, with explicit state.

    $$ (s_{t}, y_t) = \mathrm{step}(s_{t-1}, x_t), \qquad s_{-1} = \mathrm{init\_state}() $$

    `init_state` and `step` are all a dynamics overrides. `step` has the
    signature of a `jax.lax.scan` body, so
    `lax.scan(model.step, model.init_state(), xs)` runs a sequence. Batches
    are `jax.vmap` over samples: there is no batch axis inside a model.

    Parameters are the inexact array leaves of the module; hyper-parameters
    that are not trained are Python scalars or static fields, so
    `eqx.partition(model, eqx.is_inexact_array)` yields exactly the trainable
    parameters.

    `a >> b` chains two dynamics (or a dynamics and any callable, such as an
    `eqx.nn.Conv2d`) into an [`eqsnn.Sequential`][].
    """

    @abc.abstractmethod
    def init_state(self, *, key: PRNGKeyArray | None = None) -> State:
        """The state before the first step (resting values). `key` is used by
        models with random initial states; others ignore it."""

    @abc.abstractmethod
    def step(self, state: State, x: X) -> tuple[State, Y]:
        """Advance one time step: `(state, x) -> (new_state, output)`."""

    def __hash__(self) -> int:
        # `jax.lax.scan(model.step, ...)` hashes the bound method, hence the
        # module; Equinox's field hash fails on array leaves. Fall back to the
        # identity: an equal copy then only misses JAX's trace cache.
        try:
            return super().__hash__()
        except TypeError:
            return id(self)

    def __rshift__(self, other: Any) -> Sequential:
        """`a >> b` is `Sequential(a, b)` (flattening nested `Sequential`s)."""
        return Sequential(*_chain_items(self), *_chain_items(other))

    def __rrshift__(self, other: Any) -> Sequential:
        """`f >> a` for a callable `f` (an `eqx.nn` layer, `jnp.ravel`) that knows no `>>`."""
        return Sequential(*_chain_items(other), *_chain_items(self))


def _chain_items(obj: Any) -> tuple[Any, ...]:
    return obj.layers if isinstance(obj, Sequential) else (obj,)


class AbstractStateless(AbstractDynamics[None, Any, Any]):
    r"""A layer without state: `__call__(x) -> y`; `init_state()` is `None` and
    `step(None, x) = (None, self(x))`, defined once here.

    **The one speed hook.** A composition's leading stateless layers do not
    depend on the state, so [`eqsnn.run`][] applies them to the whole sequence
    at once, through `over_sequence(xs)`: by default `jax.vmap(self)(xs)` (one
    batched call instead of T small ones), after materialising an
    [`eqsnn.AbstractSequence`][]. A layer may override it with a faster
    whole-sequence form ([`eqsnn.nn.Linear`][] hands an `AbstractSequence`
    its weight, so spike events add weight rows); nothing else in eqsnn is
    overridden for speed.
    """

    @abc.abstractmethod
    def __call__(self, x: Any) -> Any:
        """The layer's output for one step's input."""

    def init_state(self, *, key: PRNGKeyArray | None = None) -> None:
        return None

    def step(self, state: None, x: Any) -> tuple[None, Any]:
        if state is not None:
            raise TypeError(
                f"{type(self).__name__}: `state` must be None (a stateless layer), got {type(state).__name__}"
            )
        return None, self(x)

    def over_sequence(self, xs: Any) -> Any:
        """The outputs for a whole input sequence `[T, ...]` (or an
        [`eqsnn.AbstractSequence`][]), equal to `self` applied at every step."""
        if isinstance(xs, AbstractSequence):
            xs = xs.materialise()
        return jax.vmap(self)(xs)


class Lambda(AbstractStateless):
    r"""Any callable as a stateless layer: $y_t = f(x_t)$.

    `f` may be a function (`jnp.ravel`, `jax.nn.relu`) or an Equinox module
    (`eqx.nn.Conv2d`, `eqx.nn.MaxPool2d`, `eqx.nn.MLP`, a user's own); a
    module's inexact arrays are trained like any other parameter.
    [`eqsnn.Sequential`][] and `>>` wrap callables in a `Lambda` themselves.

    **Arguments:** `fn`, a callable of one step's input (one sample).
    """

    fn: Callable[[Any], Any]

    def __init__(self, fn: Callable[[Any], Any]):
        if isinstance(fn, AbstractDynamics) or not callable(fn):
            got = "an eqsnn dynamics (use it directly)" if isinstance(fn, AbstractDynamics) else type(fn).__name__
            raise TypeError(f"Lambda: `fn` must be a callable of one input, got {got}")
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


def as_dynamics(layer: Any, *, where: str = "as_dynamics", name: str = "layer") -> AbstractDynamics:
    """`layer` itself if it is an eqsnn dynamics, a [`eqsnn.Lambda`][] if it is any other callable.

    **Raises:** `TypeError` naming `where` and `name` for anything else."""
    if isinstance(layer, AbstractDynamics):
        return layer
    if callable(layer):
        return Lambda(layer)
    raise TypeError(
        f"{where}: `{name}` must be an eqsnn dynamics (init_state/step) or a callable "
        f"(an eqx.nn layer, a function), got {type(layer).__name__}"
    )


def is_stateless(model: AbstractDynamics) -> bool:
    """Whether `model` has no state (its `init_state()` is `None`)."""
    if not isinstance(model, AbstractDynamics):
        raise TypeError(f"is_stateless: `model` must be an eqsnn dynamics, got {type(model).__name__}")
    return model.init_state() is None


def probe_output(layer: AbstractDynamics, make_input: Callable[[], Any] | None = None) -> jax.ShapeDtypeStruct | None:
    """The output shape of `layer` when the input shape does not matter (a population given a
    scalar broadcasts it to its shape), or `None` when it cannot be known without an input.
    `make_input` builds the probe input (default: a scalar zero)."""
    make_input = (lambda: jnp.zeros(())) if make_input is None else make_input
    try:
        out = jax.eval_shape(lambda m: m.step(m.init_state(), make_input()), layer)[1]
    except Exception:  # noqa: BLE001 - any failure means "needs a real input"
        return None
    return out if isinstance(out, jax.ShapeDtypeStruct) else None


class AbstractComposition(AbstractDynamics[State, X, Y]):
    """A dynamics built of other dynamics ([`eqsnn.Sequential`][], [`eqsnn.Graph`][]).

    It implements the hoisting rule once for its kind: `_hoist()` returns
    `(prepare, body)`, where `prepare` applies the composition's leading
    stateless layers to a whole input sequence and `body` steps the rest with
    the composition's own state. [`eqsnn.run`][] uses it; nothing else does.
    """

    @abc.abstractmethod
    def _hoist(self) -> tuple[Callable[[Any], Any] | None, AbstractDynamics]:
        """`(prepare, body)`, or `(None, self)` when nothing can be hoisted."""


class Sequential(AbstractComposition[tuple, Any, Any]):
    r"""Feed each layer's output to the next, within one time step.

    $$ y_t = f_n(\dots f_2(f_1(x_t))) $$

    The state is the tuple of the children's states (`None` for stateless
    layers), so `state[0]` is the first layer's state, as in Optax's `chain`.
    Any callable among `layers` (an `eqx.nn.Conv2d`, `jnp.ravel`) is wrapped
    in an [`eqsnn.Lambda`][]. A [`eqsnn.Delay`][] without a `shape` takes the
    shape of the population before it.

    **Hoisting.** The leading stateless layers do not depend on the state:
    [`eqsnn.run`][] applies them to the whole sequence at once (their
    `over_sequence`) and scans the rest.

    **Arguments:**

    - `*layers`: the dynamics (or callables) to chain, at least one.
    """

    layers: tuple[AbstractDynamics, ...]

    def __init__(self, *layers: Any):
        if not layers:
            raise ValueError("Sequential: `layers` must hold at least one layer, got none")
        out = []
        for i, layer in enumerate(layers):
            layer = as_dynamics(layer, where="Sequential", name=f"layers[{i}]")
            if isinstance(layer, Delay) and layer.shape is None and out:
                spec = probe_output(out[-1])
                if spec is not None:
                    layer = Delay(layer.steps, spec.shape)
            out.append(layer)
        self.layers = tuple(out)

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
        return self._step_from(0, state, x)

    def _step_from(self, first: int, state: tuple, x: Any) -> tuple[tuple, Any]:
        self._check_state(state)
        new_state = list(state[:first])
        for layer, s in zip(self.layers[first:], state[first:], strict=True):
            s, x = layer.step(s, x)
            new_state.append(s)
        return tuple(new_state), x

    def _hoist(self) -> tuple[Callable[[Any], Any] | None, AbstractDynamics]:
        n = 0
        while n < len(self.layers) and isinstance(self.layers[n], AbstractStateless):
            n += 1
        if n == 0:
            return None, self
        head = self.layers[:n]

        def prepare(xs: Any) -> Any:
            for layer in head:
                xs = layer.over_sequence(xs)
            return xs

        return prepare, _SequentialTail(self, n)


class _SequentialTail(AbstractDynamics[tuple, Any, Any]):
    """The layers of a Sequential after its hoisted head, with the Sequential's own state."""

    seq: Sequential
    first: int = eqx.field(static=True)

    def init_state(self, *, key: PRNGKeyArray | None = None) -> tuple:
        return self.seq.init_state(key=key)

    def step(self, state: tuple, u: Any) -> tuple[tuple, Any]:
        return self.seq._step_from(self.first, state, u)


class DelayState(eqx.Module):
    """State of [`eqsnn.Delay`][]: the ring `buffer` `[steps, *shape]` of the last
    `steps` inputs and the `index` of the oldest one."""

    buffer: Float[Array, "steps *shape"]  # noqa: F821
    index: Int[Array, ""]


class Delay(AbstractDynamics[DelayState, Array, Array]):
    r"""A fixed delay of `steps` steps: $y_t = x_{t - d}$, and $y_t = 0$ for $t < d$.

    A ring buffer of the last $d$ inputs is its state. `Delay(1)` after a
    spiking layer hands on the previous step's spikes (the tutorial network's
    read-out sees them).

    **Arguments:**

    - `steps`: $d$, a positive int (steps, not ms: `round(delay_ms / dt)`).
    - `shape`: the shape of the input (an int or a tuple). Default `None`:
      taken from the population before it in a [`eqsnn.Sequential`][] or an
      [`eqsnn.Graph`][].
    """

    steps: int = eqx.field(static=True)
    shape: tuple[int, ...] | None = eqx.field(static=True)

    def __init__(self, steps: int, shape: int | tuple[int, ...] | None = None):
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"Delay: `steps` must be a positive int (a number of steps), got {steps!r}")
        self.steps = int(steps)
        if shape is not None:
            shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
            if not isinstance(shape, tuple) or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
                raise ValueError(f"Delay: `shape` must be a positive int, a tuple of them or None, got {shape!r}")
            shape = tuple(int(s) for s in shape)
        self.shape = shape

    def init_state(self, *, key: PRNGKeyArray | None = None) -> DelayState:
        if self.shape is None:
            raise ValueError(
                "Delay: `shape` is unknown; give Delay(steps, shape=...) or place it after a population "
                "in a Sequential or Graph"
            )
        return DelayState(jnp.zeros((self.steps, *self.shape)), jnp.zeros((), jnp.int32))

    def step(self, state: DelayState, x: Float[ArrayLike, "*shape"]) -> tuple[DelayState, Float[Array, "*shape"]]:
        if not isinstance(state, DelayState):
            raise TypeError(f"Delay: `state` must be a DelayState (from init_state), got {type(state).__name__}")
        x = jnp.asarray(x)
        if x.shape not in ((), self.shape):
            raise ValueError(f"Delay: `x` must have shape {self.shape} or be a scalar, got shape {tuple(x.shape)}")
        out = state.buffer[state.index]
        buffer = state.buffer.at[state.index].set(jnp.broadcast_to(x, self.shape).astype(state.buffer.dtype))
        return DelayState(buffer, (state.index + 1) % self.steps), out


# --------------------------------------------------------------------------- #
# run
# --------------------------------------------------------------------------- #


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
    expected = jax.eval_shape(lambda m: m.init_state(), model)
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


def _positive_int_or_none(value: Any, name: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: `{name}` must be a positive int (steps per segment) or None, got {value!r}")
    return int(value)


def check_remat(value: Any, where: str) -> int | str | None:
    """`remat` as given to [`eqsnn.run`][] / `BPTT`: None, a positive int, or `'auto'`."""
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(
                f"{where}: `remat` must be a positive int (steps per segment), 'auto' or None, got {value!r}"
            )
        return value
    try:
        return _positive_int_or_none(value, "remat", where)
    except ValueError:
        raise ValueError(
            f"{where}: `remat` must be a positive int (steps per segment), 'auto' or None, got {value!r}"
        ) from None


def auto_segment(num_steps: int) -> int:
    r"""The segment length `remat='auto'` picks for `num_steps` steps $T$.

    A rematerialised scan keeps $T / k$ segment states plus one segment of $k$
    steps' residuals, so its memory, $\propto T/k + k$, is smallest at
    $k = \sqrt{T}$. `'auto'` takes the divisor of $T$ closest to $\sqrt{T}$
    among those within a factor of 2 of it (no tail segment, so one scan body
    is compiled, and memory within 1.25x of the minimum); when $T$ has none
    (e.g. a prime), $\lceil\sqrt{T}\,\rceil$. E.g. $T = 10{,}000 \to 100$,
    $T = 1000 \to 25$, $T = 101 \to 11$.
    """
    if num_steps <= 1:
        return 1
    root = math.sqrt(num_steps)
    near = [k for k in range(max(1, math.ceil(root / 2)), math.floor(2 * root) + 1) if num_steps % k == 0]
    if near:
        return min(near, key=lambda k: (abs(k - root), -k))
    return math.isqrt(num_steps - 1) + 1


def monitor_fn(monitor: Any, where: str) -> Callable[[Any], PyTree] | None:
    """A monitor given as a function of the state, or as `{name: function}`, as one function."""
    if monitor is None or (callable(monitor) and not isinstance(monitor, Mapping)):
        return monitor
    if isinstance(monitor, Mapping) and all(isinstance(k, str) and callable(f) for k, f in monitor.items()):
        fns = dict(monitor)
        return lambda s: {k: f(s) for k, f in fns.items()}
    raise TypeError(f"{where}: `monitor` must be a function of the state or a dict {{name: function}}, got {monitor!r}")


def check_reduce(value: Any, where: str) -> str | None:
    if value not in (None, "sum", "mean"):
        raise ValueError(f"{where}: `reduce_monitor` must be None, 'sum' or 'mean', got {value!r}")
    return value


def run(
    model: AbstractDynamics,
    xs: PyTree,
    state: PyTree | None = None,
    *,
    monitor: Callable[[Any], PyTree] | Mapping[str, Callable[[Any], Array]] | None = None,
    reduce_monitor: str | None = None,
    remat: int | np.integer | str | None = None,
    checkpoint: int | np.integer | None = None,
) -> tuple[Any, Any] | tuple[Any, Any, Any]:
    r"""Scan `model` over the leading (time) axis of `xs`.

    $$ (s_t, y_t) = \mathrm{step}(s_{t-1}, x_t), \quad t = 0, \dots, T-1 $$

    The model is first unwrapped ([`eqsnn.unwrap`][]: reparameterised
    parameters such as [`eqsnn.positive`][] become plain arrays). A
    composition's leading stateless layers are applied to the whole sequence
    before the scan (the hoisting rule, see [`eqsnn.AbstractStateless`][]).

    **Arguments:**

    - `model`: any [`eqsnn.AbstractDynamics`][] (one sample).
    - `xs`: inputs `[T, ...]` (any PyTree whose leaves share `T`), or an
      [`eqsnn.AbstractSequence`][] such as [`eqsnn.nn.SpikeSteps`][].
    - `state`: the initial state; `None` means `model.init_state()`.
    - `monitor`: a function of the state, or a dict `{name: function}`,
      called after every step; its results are stacked over time
      (`[T, ...]`), e.g. `{"r.spike": lambda s: s["r"].spike}`.
    - `reduce_monitor`: `None` (default: stack, `[T, ...]`), `'sum'`
      ($\sum_t m(s_t)$) or `'mean'` ($\frac1T \sum_t m(s_t)$): reduce over
      time inside the scan instead, so no `[T, ...]` array (nor its
      cotangent) is kept. Spike counts for L1/L2 regularisers need only this.
    - `remat`: if given, the scan is cut into segments of this many steps
      and each segment is rematerialised in the backward pass
      (`jax.checkpoint`), so BPTT memory grows with `T / remat + remat`
      instead of `T`. `'auto'` picks about $\sqrt{T}$ steps, near the memory
      minimum ([`eqsnn.auto_segment`][]). Values and gradients are
      unchanged.
    - `checkpoint`: the 0.1 name of `remat` (deprecated).

    **Returns:**

    `(final_state, ys)`, or `(final_state, ys, monitored)` when `monitor` is
    given.
    """
    if not isinstance(model, AbstractDynamics):
        raise TypeError(f"run: `model` must be an eqsnn dynamics, got {type(model).__name__}")
    if checkpoint is not None:
        warnings.warn("run: `checkpoint=` is renamed `remat=`", DeprecationWarning, stacklevel=2)
        if remat is None:
            remat = checkpoint
    remat = check_remat(remat, "run")
    monitor = monitor_fn(monitor, "run")
    reduce_monitor = check_reduce(reduce_monitor, "run")
    if reduce_monitor is not None and monitor is None:
        raise ValueError("run: `reduce_monitor` needs a `monitor` to reduce, got monitor=None")
    model = paramax.unwrap(model)
    num_steps = _leading_length(xs)
    if remat == "auto":
        remat = auto_segment(num_steps)
    if state is None:
        state = model.init_state()
    else:
        _check_state_matches(model, state)

    head, body_model = model._hoist() if isinstance(model, AbstractComposition) else (None, model)

    def prepare(x):
        us = x if head is None else head(x)
        return us.materialise() if isinstance(us, AbstractSequence) else us

    reducing = reduce_monitor is not None

    def body(carry, u):
        s, acc = carry if reducing else (carry, None)
        s, y = body_model.step(s, u)
        if monitor is None:
            return s, y
        if reducing:
            return (s, jtu.tree_map(jnp.add, acc, monitor(s))), y
        return s, (y, monitor(s))

    init = state
    if reducing:
        shapes = jax.eval_shape(monitor, state)
        init = (state, jtu.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), shapes))
    if remat is None or remat >= num_steps:
        final, out = jax.lax.scan(body, init, prepare(xs))
    else:
        final, out = _segmented_scan(prepare, body, init, xs, num_steps, remat)

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
