"""Shared machinery of all neuron models: parameter checks, integration, spiking."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._core import AbstractDynamics
from .._custom_types import Array, Float, RealScalarLike
from .._errors import check_choice, check_input, check_param_shape, check_positive, check_size, check_state
from .._surrogate import AbstractSurrogate, InvSquare

DEFAULT_DT = 0.1  # ms, as in BrainPy


def decay(dt: RealScalarLike, tau: Any) -> Any:
    r"""The exact decay factor of $\tau \dot x = -x$ over one step: $e^{-\Delta t / \tau}$."""
    return jnp.exp(-dt / jnp.asarray(tau))


def exp_euler(x: Array, x_inf: Array, dt: RealScalarLike, tau: Any) -> Array:
    r"""Exponential Euler step of $\tau \dot x = x_\infty - x$, exact for constant $x_\infty$:
    $x \leftarrow x_\infty + (x - x_\infty) e^{-\Delta t/\tau}$."""
    return x_inf + (x - x_inf) * decay(dt, tau)


def spike_and_reset(
    v: Float[Array, " n"],
    v_th: Any,
    v_reset: Any,
    spike_fn: AbstractSurrogate,
    reset: str,
    detach_reset: bool,
) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
    r"""Spike $s = S(v - v_{th})$ and reset.

    Soft: $v \leftarrow v - (v_{th} - v_{reset})\, s$; hard:
    $v \leftarrow v + (v_{reset} - v)\, s$. With `detach_reset`, the reset
    uses $\mathrm{stop\_gradient}(s)$, the returned spike keeps its gradient.
    """
    spike = spike_fn(v - v_th)
    s = jax.lax.stop_gradient(spike) if detach_reset else spike
    if reset == "soft":
        v = v - (v_th - v_reset) * s
    else:
        v = v + (v_reset - v) * s
    return spike, v


class AbstractNeuron(AbstractDynamics):
    r"""A population of `size` neurons for one sample, integrated with step `dt` (ms).

    Every neuron has `size`, `dt` and a `spike_fn`; spiking neurons also
    `v_th`, `v_reset`, `reset` ('soft' or 'hard') and `detach_reset`.
    The input `x` of `step` is the total input current (scalar or `[size]`).
    """

    size: eqx.AbstractVar[int]
    dt: eqx.AbstractVar[RealScalarLike]

    def _check_common(self, params: dict[str, Any], positive: tuple[str, ...] = ()) -> None:
        owner = type(self).__name__
        check_size("size", self.size, owner=owner)
        check_positive("dt", self.dt, owner=owner)
        for name, value in params.items():
            check_param_shape(name, value, self.size, owner=owner)
        for name in positive:
            check_positive(name, params[name], owner=owner)

    def _zeros(self) -> Float[Array, " n"]:
        return jnp.zeros((self.size,))

    def _full(self, value: Any) -> Float[Array, " n"]:
        return jnp.broadcast_to(jnp.asarray(value, dtype=jnp.zeros(()).dtype), (self.size,))

    def _check_step(self, state: Any, state_type: type, x: Any) -> Float[Array, "..."]:
        owner = type(self).__name__
        check_state("state", state, state_type, owner=owner, size=self.size)
        return check_input("x", x, (self.size,), owner=owner)


class AbstractSpikingNeuron(AbstractNeuron):
    r"""A neuron that emits spikes $s = S(v - v_{th}) \in \{0, 1\}$ through a surrogate.

    Required fields: `spike_fn` (an [`eqsnn.surrogate.AbstractSurrogate`][]),
    `v_th` (mV), `reset` ('soft' or 'hard') and `detach_reset` (bool).
    """

    spike_fn: eqx.AbstractVar[AbstractSurrogate]
    v_th: eqx.AbstractVar[Any]
    reset: eqx.AbstractVar[str]
    detach_reset: eqx.AbstractVar[bool]

    def _check_common(self, params: dict[str, Any], positive: tuple[str, ...] = ()) -> None:
        super()._check_common(params, positive)
        owner = type(self).__name__
        check_choice("reset", self.reset, ("soft", "hard"), owner=owner)
        if not isinstance(self.spike_fn, AbstractSurrogate):
            raise TypeError(
                f"{owner}: `spike_fn` must be an eqsnn.surrogate module (e.g. InvSquare(100.)), "
                f"got {type(self.spike_fn).__name__}"
            )


def default_spike_fn() -> AbstractSurrogate:
    """BrainPy's default surrogate, `InvSquare(alpha=100.)`."""
    return InvSquare(100.0)
