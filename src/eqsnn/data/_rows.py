r"""Gather-scatter of matrix rows by event: the primitive behind `EventSequence.matmul`.

For $E$ events with a source row $i_e$ and a destination row $j_e$,

$$ \mathrm{out}_r = \sum_{e:\ j_e = r} x_{i_e}, \qquad r = 0, \dots, R - 1, $$

where an event whose $i_e$ is outside `[0, x.shape[0])` or whose $j_e$ is
outside `[0, R)` is dropped. With $i_e$ the channel and $j_e$ the time bin
of event $e$ and $x = W$ this is the binned spike train times $W$
without the train; its transpose in $x$ is the same operation with the roles
of $i$ and $j$ swapped:

$$ \frac{\partial \mathcal{L}}{\partial x_k} = \sum_{e:\ i_e = k}
   \frac{\partial \mathcal{L}}{\partial \mathrm{out}_{j_e}}. $$

**Why a primitive.** As for [`eqsnn.nn.event_matmul`][] (see the notes in
`eqsnn/_nn/_event.py`), `jax.vmap` of a `jax.numpy` gather + scatter makes
XLA materialise the gathered rows of the whole batch, `[batch, E, n_out]`
(2 GB for a batch of 256 SHD samples of 8 000 events into 256 neurons). The
batching rule here loops over the batch (`lax.map`) with the per-sample
gather-scatter inside, and reverse mode of that loop accumulates
$\partial \mathcal{L} / \partial W$ in the loop carry. `_event.py`'s
primitive is the special case $i_e = e$ (one event per input row); this one
is not limited to one event per row.
"""

from __future__ import annotations

import jax
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, Int
from .._errors import check_size

__all__ = ["scatter_rows"]


def _impl(src: Array, dst: Array, x: Array, *, num_rows: int) -> Array:
    n = x.shape[0]
    valid = (src >= 0) & (src < n) & (dst >= 0) & (dst < num_rows)
    s = jnp.where(valid, src, n)  # the zero row appended below
    d = jnp.where(valid, dst, num_rows)  # the dump row, cut off below
    rows = jnp.concatenate([x, jnp.zeros((1,) + x.shape[1:], x.dtype)], axis=0)[s]
    table = jnp.zeros((num_rows + 1,) + x.shape[1:], x.dtype)
    return table.at[d].add(rows, indices_are_sorted=False, unique_indices=False)[:num_rows]


_p = Primitive("eqsnn_scatter_rows")


def _abstract(src, dst, x, *, num_rows):
    return jax.core.ShapedArray((num_rows,) + tuple(x.shape[1:]), x.dtype)


_p.def_impl(_impl)
_p.def_abstract_eval(_abstract)
mlir.register_lowering(_p, mlir.lower_fun(_impl, multiple_results=False))


def _jvp(primals, tangents, *, num_rows):
    src, dst, x = primals
    out = _p.bind(src, dst, x, num_rows=num_rows)
    tx = ad.instantiate_zeros(tangents[2])
    return out, _p.bind(src, dst, tx, num_rows=num_rows)


def _transpose(ct, src, dst, x, *, num_rows):
    n = x.aval.shape[0] if ad.is_undefined_primal(x) else x.shape[0]
    if type(ct) is ad.Zero:
        return None, None, ad.Zero(x.aval)
    return None, None, _p.bind(dst, src, ct, num_rows=n)


ad.primitive_jvps[_p] = _jvp
ad.primitive_transposes[_p] = _transpose


def _batch(args, dims, *, num_rows):
    """Loop over the batch with the unbatched primitive inside (see the module notes)."""
    batched = [i for i, d in enumerate(dims) if d is not None]
    moved = list(args)
    for i in batched:
        moved[i] = jnp.moveaxis(args[i], dims[i], 0)

    def one(sliced):
        full = list(moved)
        for i, a in zip(batched, sliced, strict=True):
            full[i] = a
        return _p.bind(*full, num_rows=num_rows)

    return jax.lax.map(one, tuple(moved[i] for i in batched)), 0


batching.primitive_batchers[_p] = _batch


def scatter_rows(
    src: Int[ArrayLike, " E"], dst: Int[ArrayLike, " E"], x: Float[ArrayLike, "n ..."], num_rows: int
) -> Float[Array, "num_rows ..."]:
    r"""Add row `src[e]` of `x` into row `dst[e]` of a zero `[num_rows, ...]` table, for every event `e`.

    $$ \mathrm{out}_r = \sum_{e:\ \mathrm{dst}_e = r} x_{\mathrm{src}_e} $$

    Events with `src` outside `[0, n)` or `dst` outside `[0, num_rows)` are
    dropped (padding). Linear in `x`, differentiable in `x` (the transpose is
    `scatter_rows(dst, src, ct, n)`), and batched by a loop under `jax.vmap`
    so no `[batch, E, ...]` array of gathered rows is built. One sample; vmap
    for batches.

    **Arguments:**

    - `src`, `dst`: integer arrays `[E]`, the source and destination row of each event.
    - `x`: the rows, `[n, ...]` (e.g. a weight matrix `[n_in, n_out]`).
    - `num_rows`: $R$, the number of output rows, a positive int.

    **Returns:** `[num_rows, ...]`, the dtype of `x`.
    """
    num_rows = check_size("num_rows", num_rows, owner="scatter_rows")
    src, dst, x = jnp.asarray(src), jnp.asarray(dst), jnp.asarray(x)
    for name, idx in (("src", src), ("dst", dst)):
        if idx.ndim != 1 or not jnp.issubdtype(idx.dtype, jnp.integer):
            raise TypeError(f"scatter_rows: `{name}` must be an integer array [E], got {idx.dtype}{list(idx.shape)}")
    if src.shape != dst.shape:
        raise ValueError(f"scatter_rows: `src` and `dst` must have the same shape [E], got {src.shape} and {dst.shape}")
    if x.ndim < 1 or not jnp.issubdtype(x.dtype, jnp.inexact):
        raise TypeError(f"scatter_rows: `x` must be a floating array [n, ...], got {x.dtype}{list(x.shape)}")
    return _p.bind(src.astype(jnp.int32), dst.astype(jnp.int32), x, num_rows=num_rows)
