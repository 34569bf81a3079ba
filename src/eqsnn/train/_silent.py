"""A one-time check that every spiking population fires on the first training batch."""

from __future__ import annotations

from typing import Any
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._core import AbstractDynamics, run
from .._custom_types import PyTree

__all__ = ["SilentLayerWarning", "silent_populations", "warn_if_silent"]


class SilentLayerWarning(UserWarning):
    """A spiking population emitted no spike on the first training batch: its surrogate
    gradient is then (near) zero, and training will not move the layers before it."""


def _has_spikes(x: Any) -> bool:
    return isinstance(x, eqx.Module) and "spike" in getattr(type(x), "__dataclass_fields__", {})


def _spike_paths(state: PyTree) -> list[str]:
    leaves = jtu.tree_flatten_with_path(state, is_leaf=_has_spikes)[0]
    return [jtu.keystr(path) for path, leaf in leaves if _has_spikes(leaf)]


def silent_populations(model: AbstractDynamics, xs: PyTree) -> list[str]:
    r"""The spiking populations of `model` that emit no spike on a batch `xs` `[B, T, ...]`.

    A spiking population is any state with a `spike` field (every eqsnn
    spiking neuron's state has one). Each is named by its path in the state,
    e.g. `.nodes['r']` in an [`eqsnn.Graph`][] or `[2]` in an
    [`eqsnn.Sequential`][].

    **Returns:** the paths, with the state class, of the silent populations.
    """
    paths = _spike_paths(jax.eval_shape(lambda m: m.init_state(), model))
    if not paths:
        return []

    def counts(m, x):
        def monitor(s):
            leaves = [leaf for leaf in jtu.tree_leaves(s, is_leaf=_has_spikes) if _has_spikes(leaf)]
            return [jnp.sum(leaf.spike) for leaf in leaves]

        return jax.vmap(lambda xi: run(m, xi, monitor=monitor, reduce_monitor="sum")[2])(x)

    totals = eqx.filter_jit(counts)(model, xs)
    classes = [type(leaf).__name__ for leaf in jtu.tree_leaves(model.init_state(), is_leaf=_has_spikes)
               if _has_spikes(leaf)]  # fmt: skip
    return [f"state{p} ({c})" for p, c, n in zip(paths, classes, totals, strict=True) if float(np.sum(n)) == 0.0]


def warn_if_silent(model: AbstractDynamics, xs: PyTree, where: str) -> None:
    """Warn once, naming each spiking population of `model` that is silent on `xs`."""
    silent = silent_populations(model, xs)
    if silent:
        warnings.warn(
            f"{where}: {', '.join(silent)} emitted no spike on the first training batch, so no gradient flows "
            f"through its spikes; lower the threshold, scale up the input weights, or use the neuron's "
            f"unit_scale preset",
            SilentLayerWarning,
            stacklevel=3,
        )
