r"""Event-driven input projection for binary spike inputs that spike at most once.

A latency code makes each input spike at most once, so a sample's whole input
$x \in \{0, 1\}^{T \times n_{in}}$ is described by the step $\tau_i$ at which
input $i$ spikes ($\tau_i = T$: never). The projected current sequence is then

$$ u_t = \sum_{i:\ \tau_i = t} W_i, \qquad t = 0, \dots, T - 1, $$

i.e. each spike selects one row of $W$: about `n_spikes * n_out` additions
instead of the `T * n_in * n_out` multiply-adds of the dense product
$x W$. The gradient is the transpose, a gather:
$\partial \mathcal{L} / \partial W_i = \partial \mathcal{L} / \partial u_{\tau_i}$
(zero for an input that never spikes).

**Why a primitive.** Written with `jax.numpy`, the per-sample scatter/gather
is vectorised by `jax.vmap` into one batched scatter/gather whose update
tensor is `[batch, n_in, n_out]`; XLA's CPU backend materialises it and runs
an order of magnitude slower than the dense matmul. [`eqsnn.nn.event_matmul`][]
is instead a small JAX primitive whose batching rule loops over the batch
(`lax.map`) with the per-sample scatter inside, so the weight rows are added
straight from $W$ into a `[T, n_out]` table that stays in cache. Reverse-mode
of a batch (`grad` of `vmap`, the training case) transposes that loop: the
per-sample gathers accumulate $\partial \mathcal{L} / \partial W$ in the loop
carry, never as a `[batch, n_in, n_out]` tensor. `grad` of one sample and
per-example gradients (`vmap` of `grad`) work as well.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir
import jax.numpy as jnp
from jaxtyping import Shaped

from .._core import AbstractSequence
from .._custom_types import Array, ArrayLike, Float, Int
from .._errors import check_size

__all__ = ["SpikeSteps", "event_matmul", "first_spike_steps"]


def _valid_index(times: Array, num_steps: int) -> Array:
    """Spike steps outside `[0, num_steps)` (no spike) point at the dump row `num_steps`."""
    times = times.astype(jnp.int32)
    return jnp.where((times >= 0) & (times < num_steps), times, num_steps)


def _rows_impl(times: Array, weight: Array, *, num_steps: int) -> Array:
    idx = _valid_index(times, num_steps)
    table = jnp.zeros((num_steps + 1, weight.shape[1]), weight.dtype)
    return table.at[idx].add(weight, indices_are_sorted=False, unique_indices=False)[:num_steps]


def _gather_impl(times: Array, cot: Array, *, num_steps: int) -> Array:
    idx = _valid_index(times, num_steps)
    table = jnp.concatenate([cot, jnp.zeros((1, cot.shape[1]), cot.dtype)], axis=0)
    return table[idx]


# u = rows(times, W): scatter-add of the rows of W into the steps `times`.
_rows_p = Primitive("eqsnn_event_rows")
# dW = gather(times, du): the rows of du at the steps `times` (the transpose).
_gather_p = Primitive("eqsnn_event_gather")


def _rows_abstract(times, weight, *, num_steps):
    return jax.core.ShapedArray((num_steps, weight.shape[1]), weight.dtype)


def _gather_abstract(times, cot, *, num_steps):
    return jax.core.ShapedArray((times.shape[0], cot.shape[1]), cot.dtype)


_rows_p.def_impl(_rows_impl)
_rows_p.def_abstract_eval(_rows_abstract)
_gather_p.def_impl(_gather_impl)
_gather_p.def_abstract_eval(_gather_abstract)
mlir.register_lowering(_rows_p, mlir.lower_fun(_rows_impl, multiple_results=False))
mlir.register_lowering(_gather_p, mlir.lower_fun(_gather_impl, multiple_results=False))


def _linear_jvp(prim, primals, tangents, *, num_steps):
    times, arg = primals
    out = prim.bind(times, arg, num_steps=num_steps)
    targ = ad.instantiate_zeros(tangents[1])
    return out, prim.bind(times, targ, num_steps=num_steps)


def _rows_transpose(ct, times, weight, *, num_steps):
    if type(ct) is ad.Zero:
        return None, ad.Zero(weight.aval)
    return None, _gather_p.bind(times, ct, num_steps=num_steps)


def _gather_transpose(ct, times, cot, *, num_steps):
    if type(ct) is ad.Zero:
        return None, ad.Zero(cot.aval)
    return None, _rows_p.bind(times, ct, num_steps=num_steps)


ad.primitive_jvps[_rows_p] = functools.partial(_linear_jvp, _rows_p)
ad.primitive_jvps[_gather_p] = functools.partial(_linear_jvp, _gather_p)
ad.primitive_transposes[_rows_p] = _rows_transpose
ad.primitive_transposes[_gather_p] = _gather_transpose


def _sequential_batch(prim):
    """Batching rule: loop over the batch with the unbatched primitive inside."""

    def rule(args, dims, *, num_steps):
        times, arg = args
        t_dim, a_dim = dims
        if t_dim is not None:
            times = jnp.moveaxis(times, t_dim, 0)
        if a_dim is not None:
            arg = jnp.moveaxis(arg, a_dim, 0)
        if t_dim is None:
            out = jax.lax.map(lambda a: prim.bind(times, a, num_steps=num_steps), arg)
        elif a_dim is None:
            out = jax.lax.map(lambda t: prim.bind(t, arg, num_steps=num_steps), times)
        else:
            out = jax.lax.map(lambda ta: prim.bind(ta[0], ta[1], num_steps=num_steps), (times, arg))
        return out, 0

    return rule


batching.primitive_batchers[_rows_p] = _sequential_batch(_rows_p)
batching.primitive_batchers[_gather_p] = _sequential_batch(_gather_p)


def event_matmul(
    times: Int[ArrayLike, " n_in"], weight: Float[ArrayLike, "n_in n_out"], num_steps: int
) -> Float[Array, "num_steps n_out"]:
    r"""Project a spike-once input, given by its spike steps, without building the spike train.

    $$ u_t = \sum_{i:\ \tau_i = t} W_i = (x W)_t, \qquad
       x_{t,i} = [\tau_i = t], \quad t = 0, \dots, T - 1 $$

    Equal to `latency_train @ weight` where `latency_train[t, i] = (times[i] == t)`
    (up to float summation order), at a fraction of the cost; differentiable in
    `weight` (the gradient is a gather of the output cotangent at the spike
    steps), and fast under `jax.vmap` (see the module notes). One sample; vmap
    for batches.

    **Arguments:**

    - `times`: integer spike step of each input, `[n_in]`; any value outside
      `[0, num_steps)` means "no spike" (e.g. `num_steps`, as
      [`eqsnn.encoding.latency_steps`][] returns).
    - `weight`: `[n_in, n_out]`, e.g. `linear.weight` of an [`eqsnn.nn.Linear`][].
    - `num_steps`: $T$, a positive int.

    **Returns:** the input currents `[num_steps, n_out]` (no bias).
    """
    num_steps = check_size("num_steps", num_steps, owner="event_matmul")
    times = jnp.asarray(times)
    weight = jnp.asarray(weight)
    if times.ndim != 1 or not jnp.issubdtype(times.dtype, jnp.integer):
        raise TypeError(f"event_matmul: `times` must be an integer array [n_in], got {times.dtype}{list(times.shape)}")
    if weight.ndim != 2 or weight.shape[0] != times.shape[0]:
        raise ValueError(
            f"event_matmul: `weight` must have shape [n_in={times.shape[0]}, n_out], got {tuple(weight.shape)}"
        )
    return _rows_p.bind(times.astype(jnp.int32), weight, num_steps=num_steps)


def first_spike_steps(spikes: Shaped[Array, "T n_in"]) -> Int[Array, " n_in"]:
    r"""The step of each input's first spike, `T` where it never spikes.

    $$ \tau_i = \min\{t : x_{t,i} \neq 0\} \cup \{T\} $$

    Under `jit`, a spike train computed in the same function (such as the
    output of [`eqsnn.encoding.latency`][]) is fused into this reduction by XLA
    and never stored. Combined with [`eqsnn.nn.event_matmul`][], it reproduces
    `spikes @ W` exactly when every input spikes at most once with value 1.

    **Arguments:** `spikes`, `[T, n_in]`. **Returns:** `int32` `[n_in]`.
    """
    spikes = jnp.asarray(spikes)
    if spikes.ndim != 2:
        raise ValueError(f"first_spike_steps: `spikes` must have shape [T, n_in], got {tuple(spikes.shape)}")
    num_steps = spikes.shape[0]
    steps = jnp.arange(num_steps, dtype=jnp.int32)[:, None]
    return jnp.min(jnp.where(spikes != 0, steps, num_steps), axis=0).astype(jnp.int32)


class SpikeSteps(AbstractSequence):
    r"""A spike-once input sequence (a latency code) given by each input's spike step.

    $$ x_{t,i} = [\tau_i - o = t], \qquad t = 0, \dots, T - 1 $$

    It stores `n_in` integers per sample, never the `[T, n_in]` train:
    [`eqsnn.run`][] accepts it like a dense spike train: an [`eqsnn.nn.Linear`][]
    at the start of a composition (such as [`eqsnn.models.SNN`][]) projects it
    with [`eqsnn.nn.event_matmul`][] through `matmul`, any other model gets
    `dense()`, and a rematerialised run cuts it into segments (`segment`)
    without building the train. `jax.vmap` over a batch of `times` gives a batch of sequences.

    **Arguments:**

    - `times`: integer spike step of each input `[n_in]`, e.g. from
      [`eqsnn.encoding.latency_steps`][]; a value outside `[0, num_steps)`
      means "no spike".
    - `num_steps`: $T$, a positive int.
    - `offset`: $o$, the step of `times` that is this sequence's step 0
      (default `0`; `segment` sets it).
    """

    times: Int[Array, " n_in"]
    offset: Int[Array, ""]
    length: int = eqx.field(static=True)

    def __init__(self, times: Int[ArrayLike, " n_in"], num_steps: int, *, offset: Int[ArrayLike, ""] = 0):
        num_steps = check_size("num_steps", num_steps, owner="SpikeSteps")
        times = jnp.asarray(times)
        if times.ndim != 1 or not jnp.issubdtype(times.dtype, jnp.integer):
            raise TypeError(
                f"SpikeSteps: `times` must be an integer array [n_in], got {times.dtype}{list(times.shape)}"
            )
        self.times = times.astype(jnp.int32)
        self.offset = jnp.asarray(offset, dtype=jnp.int32)
        self.length = num_steps

    @property
    def num_steps(self) -> int:
        """$T$."""
        return self.length

    def spike_times(self) -> Int[Array, " n_in"]:
        """The spike step of each input relative to this sequence's step 0, `[n_in]`."""
        return self.times - self.offset

    def segment(self, start: Int[ArrayLike, ""], size: int) -> SpikeSteps:
        """Steps `start, ..., start + size - 1` (with `start + size <= num_steps`) as a
        `SpikeSteps` of `size` steps, without building the train."""
        return SpikeSteps(self.times, size, offset=self.offset + jnp.asarray(start, dtype=jnp.int32))

    def dense(self) -> Float[Array, "T n_in"]:
        r"""The 0/1 spike train $x_{t,i}$, `[T, n_in]`."""
        steps = jnp.arange(self.length, dtype=jnp.int32)[:, None]
        return (self.spike_times()[None, :] == steps).astype(jnp.zeros(()).dtype)

    def materialise(self) -> Float[Array, "T n_in"]:
        """Same as `dense()`."""
        return self.dense()

    def matmul(self, weight: Float[Array, "n_in n_out"]) -> Float[Array, "T n_out"]:
        r"""$x W$ event by event ([`eqsnn.nn.event_matmul`][]): each spike adds one row of `weight`."""
        return event_matmul(self.spike_times(), weight, self.length)
