r"""Losses, metrics and spike regularisers (pure functions of arrays).

Every function reduces to a scalar so that it can be used directly as (a term
of) a training loss. Classification losses take integer class labels, as in
BrainPy's BPTT tutorial's `loss_fun`; a model's outputs over time `[B, T, C]` are
usually reduced over time first (e.g. `outputs.max(axis=1)`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._custom_types import Array, ArrayLike, Float, Int

__all__ = ["accuracy", "cross_entropy", "mse", "spike_l1", "spike_l2"]


def _check_labels(name: str, logits: Array, labels: Array, owner: str) -> None:
    if not hasattr(logits, "shape") or jnp.ndim(logits) < 1:
        raise TypeError(f"{owner}: `logits` must be an array [..., C], got {type(logits).__name__}")
    if not jnp.issubdtype(jnp.asarray(labels).dtype, jnp.integer):
        raise TypeError(
            f"{owner}: `{name}` must be integer class indices, got dtype {jnp.asarray(labels).dtype} "
            f"(cast with labels.astype(int))"
        )
    if jnp.shape(labels) != jnp.shape(logits)[:-1]:
        raise ValueError(
            f"{owner}: `{name}` must have the shape of `logits` without its class axis, "
            f"{tuple(jnp.shape(logits)[:-1])}, got {tuple(jnp.shape(labels))}"
        )
    if not isinstance(labels, jax.core.Tracer) and np.size(labels):
        lab = np.asarray(labels)
        num_classes = jnp.shape(logits)[-1]
        if lab.min() < 0 or lab.max() >= num_classes:
            raise ValueError(
                f"{owner}: `{name}` must be class indices in [0, {num_classes}) (the last axis of `logits`), "
                f"got values in [{lab.min()}, {lab.max()}]"
            )


def cross_entropy(logits: Float[Array, "*batch classes"], labels: Int[ArrayLike, "*batch"]) -> Float[Array, ""]:
    r"""Softmax cross-entropy with integer labels, averaged over the batch.

    $$ \mathcal{L} = \frac{1}{B} \sum_{b=1}^{B} \Big( \log \sum_{k} e^{z_{bk}} - z_{b, y_b} \Big) $$

    (BrainPy's `cross_entropy_loss` with integer targets; computed by
    `optax.softmax_cross_entropy_with_integer_labels`.)

    **Arguments:**

    - `logits`: unnormalised scores $z$, `[..., C]`.
    - `labels`: class indices $y \in \{0, \dots, C-1\}$, integer, `[...]`
      (concrete labels out of that range raise `ValueError`: optax would give
      NaN for $y \ge C$ and read $-1$ as the last class).

    **Returns:** the mean loss, a scalar (nats).
    """
    _check_labels("labels", logits, labels, "cross_entropy")
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(labels)))


def mse(predictions: Float[Array, "*shape"], targets: Float[ArrayLike, "*shape"]) -> Float[Array, ""]:
    r"""Mean squared error over every element.

    $$ \mathcal{L} = \frac{1}{N} \sum_{i=1}^{N} (p_i - t_i)^2 $$

    **Arguments:** `predictions` and `targets` of the same shape.

    **Returns:** a scalar.
    """
    if jnp.shape(predictions) != jnp.shape(targets):
        raise ValueError(
            f"mse: `targets` must have the shape of `predictions`, {tuple(jnp.shape(predictions))}, "
            f"got {tuple(jnp.shape(targets))}"
        )
    return jnp.mean((predictions - targets) ** 2)


def accuracy(logits: Float[Array, "*batch classes"], labels: Int[ArrayLike, "*batch"]) -> Float[Array, ""]:
    r"""Fraction of correct arg-max predictions.

    $$ \mathrm{acc} = \frac{1}{B} \sum_{b=1}^{B} \mathbb{1}\big[\arg\max_k z_{bk} = y_b\big] $$

    **Arguments:** `logits` `[..., C]`; integer `labels` `[...]`.

    **Returns:** a scalar in $[0, 1]$. It has no useful gradient: use it as a
    metric, not a loss.
    """
    _check_labels("labels", logits, labels, "accuracy")
    return jnp.mean((jnp.argmax(logits, axis=-1) == jnp.asarray(labels)).astype(logits.dtype))


def spike_l1(spikes: Float[Array, "*shape"]) -> Float[Array, ""]:
    r"""Total spike count (the L1 spike regulariser of BrainPy's BPTT tutorial).

    $$ R_1 = \sum_{b, t, n} s_{b t n} $$

    **Arguments:** `spikes`, any shape, typically a monitored `[B, T, N]`
    (0/1 spikes; surrogate gradients flow through them).

    **Returns:** a scalar; multiply by a small weight (BrainPy's tutorial uses
    `1e-5`) and add to the loss.
    """
    return jnp.sum(spikes)


def spike_l2(spikes: Float[Array, "*lead neurons"]) -> Float[Array, ""]:
    r"""Mean squared per-neuron spike count (the L2 spike regulariser of BrainPy's BPTT tutorial).

    $$ R_2 = \frac{1}{N} \sum_{n=1}^{N} \Big( \sum_{b, t} s_{b t n} \Big)^2 $$

    The count of each neuron is summed over every leading axis (batch and
    time, as BrainPy's tutorial does), then squared and averaged over neurons.

    **Arguments:** `spikes` `[..., N]`, typically a monitored `[B, T, N]`.

    **Returns:** a scalar.
    """
    if not hasattr(spikes, "shape"):
        raise TypeError(f"spike_l2: `spikes` must be an array [..., N], got {type(spikes).__name__}")
    if jnp.ndim(spikes) < 1:
        raise ValueError("spike_l2: `spikes` must have a trailing neuron axis [..., N], got a scalar")
    counts = jnp.sum(spikes.reshape((-1, spikes.shape[-1])), axis=0)
    return jnp.mean(counts**2)
