"""The low-level training step: Equinox gradients + one Optax update, in one jit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import optax

from .._custom_types import Array, PyTree
from ._host import tune_host_allocator
from ._jit import async_filter_jit


def trainable(model: PyTree) -> PyTree:
    """The trainable part of `model`: its inexact (floating) array leaves,
    `None` elsewhere (`eqx.filter(model, eqx.is_inexact_array)`)."""
    return eqx.filter(model, eqx.is_inexact_array)


def init_opt_state(optimizer: optax.GradientTransformation, model: PyTree) -> PyTree:
    """`optimizer.init` on the trainable leaves of `model` (what [`eqsnn.train.make_step`][] expects)."""
    return optimizer.init(trainable(model))


def all_finite(tree: PyTree) -> Array:
    """`True` when every inexact array leaf of `tree` is finite (a device scalar: no host sync)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jtu.tree_leaves(tree) if eqx.is_inexact_array(x)]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack(leaves))


def grad_update(
    loss_fn: Callable[[Any, Any], tuple[Array, Any]],
    optimizer: optax.GradientTransformation,
    model: PyTree,
    opt_state: PyTree,
    batch: Any,
) -> tuple[PyTree, PyTree, Array, Any, PyTree]:
    """One un-jitted update; returns `(model, opt_state, loss, aux, grads)`.

    Shared by [`eqsnn.train.make_step`][] and the trainer, so both do the same
    arithmetic.
    """
    (loss, aux), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model, batch)
    updates, opt_state = optimizer.update(grads, opt_state, trainable(model))
    model = eqx.apply_updates(model, updates)
    return model, opt_state, loss, aux, grads


def make_step(
    loss_fn: Callable[[Any, Any], tuple[Array, Any]],
    optimizer: optax.GradientTransformation,
    *,
    tune_allocator: bool = True,
) -> Callable[[PyTree, PyTree, Any], tuple[PyTree, PyTree, Array, Any]]:
    r"""Build one jitted training step: `(model, opt_state, batch) -> (model, opt_state, loss, aux)`.

    $$ (\mathcal{L}, a), g = \mathrm{value\_and\_grad}_\theta\, \ell(\theta, \text{batch}), \qquad
       (u, s') = \mathrm{opt.update}(g, s, \theta), \qquad \theta' = \theta + u $$

    where $\theta$ are the inexact (floating) array leaves of `model`: Python
    floats, integer arrays and static fields are not differentiated. This is
    exactly the plain Equinox + Optax loop, under one `jax.jit` with
    `eqx.filter_jit`'s rule (array leaves traced, every other leaf static); it
    re-traces only when the shapes/dtypes of `batch` or the model's structure
    change. Unlike `eqx.filter_jit` (which waits for every result), a call
    returns as soon as the step is queued, so a loop dispatches the next step
    while this one runs; `step.lower(model, opt_state, batch)` gives JAX's
    `Lowered` (`.compile().memory_analysis()`).

    **Arguments:**

    - `loss_fn`: `loss_fn(model, batch) -> (loss, aux)`; `loss` a scalar,
      `aux` any PyTree of arrays (e.g. a dict of metrics).
    - `optimizer`: an `optax.GradientTransformation`.
    - `tune_allocator`: call [`eqsnn.train.tune_host_allocator`][] (default
      `True`): on the CPU backend with glibc, a step's large temporary
      buffers are then reused between calls instead of being page-faulted in
      afresh (W2's epoch: 0.71-0.89x the time on a 2-core CPU).
      Process-wide; values are unchanged.

    **Returns:** `step(model, opt_state, batch) -> (model, opt_state, loss, aux)`.
    The initial `opt_state` is `optimizer.init(eqx.filter(model,
    eqx.is_inexact_array))` ([`eqsnn.train.init_opt_state`][]).

    !!! example

        ```python
        def loss_fn(model, batch):
            x, y = batch  # [B, T, ...], [B]
            _, ys = jax.vmap(lambda xs: eqsnn.run(model, xs))(x)
            logits = ys.max(axis=1)
            return eqsnn.losses.cross_entropy(logits, y), {"acc": eqsnn.losses.accuracy(logits, y)}

        step = make_step(loss_fn, optax.adam(1e-3))
        opt_state = init_opt_state(optax.adam(1e-3), model)
        for batch in batches:
            model, opt_state, loss, aux = step(model, opt_state, batch)
        ```
    """
    if not callable(loss_fn):
        raise TypeError(
            f"make_step: `loss_fn` must be callable (model, batch) -> (loss, aux), got {type(loss_fn).__name__}"
        )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"make_step: `optimizer` must be an optax.GradientTransformation (e.g. optax.adam(1e-3)), "
            f"got {type(optimizer).__name__}"
        )

    if not isinstance(tune_allocator, bool):
        raise TypeError(f"make_step: `tune_allocator` must be a bool, got {tune_allocator!r}")
    if tune_allocator:
        tune_host_allocator()

    def checked_loss(model: PyTree, batch: Any) -> tuple[Array, Any]:
        out = loss_fn(model, batch)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"make_step: `loss_fn` must return a pair (loss, aux), got {type(out).__name__}")
        loss, aux = out
        if jnp.shape(loss) != ():
            raise ValueError(f"make_step: the loss returned by `loss_fn` must be a scalar, got shape {jnp.shape(loss)}")
        return loss, aux

    @async_filter_jit
    def step(model: PyTree, opt_state: PyTree, batch: Any) -> tuple[PyTree, PyTree, Array, Any]:
        # Checked while tracing: once per compiled signature, at no cost per call.
        check_opt_state(optimizer, model, opt_state, "make_step")
        model, opt_state, loss, aux, _ = grad_update(checked_loss, optimizer, model, opt_state, batch)
        return model, opt_state, loss, aux

    return step


def check_opt_state(optimizer: optax.GradientTransformation, model: PyTree, opt_state: PyTree, where: str) -> None:
    """Raise `TypeError` unless `opt_state` has the structure, shapes and dtypes of
    `optimizer.init` on the trainable leaves of `model` (checked abstractly, nothing runs)."""
    expected = jax.eval_shape(optimizer.init, trainable(model))
    got_leaves, got_def = jtu.tree_flatten(opt_state)
    exp_leaves, exp_def = jtu.tree_flatten(expected)
    same = got_def == exp_def and all(
        jnp.shape(a) == b.shape and jnp.result_type(a) == b.dtype for a, b in zip(got_leaves, exp_leaves, strict=True)
    )
    if not same:
        raise TypeError(
            f"{where}: `opt_state` is not an optimiser state of this model and optimizer "
            f"(got {type(opt_state).__name__}); create it with init_opt_state(optimizer, model)"
        )


def tree_select(pred: Array, on_true: PyTree, on_false: PyTree) -> PyTree:
    """Leaf-wise `where(pred, a, b)` over the array leaves of two same-structure trees."""

    def sel(a: Any, b: Any) -> Any:
        if eqx.is_array(a):
            return jnp.where(pred, a, b)
        return a

    return jtu.tree_map(sel, on_true, on_false)


def is_jax_array(x: Any) -> bool:
    """`True` for a `jax.Array` (concrete or traced)."""
    return isinstance(x, jax.Array)
