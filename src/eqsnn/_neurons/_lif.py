"""Integrate-and-fire neurons with linear sub-threshold dynamics (integrated exactly)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, Int, ParamLike, PRNGKeyArray
from .._integrate import exp_euler, spike_and_reset
from .._params import param
from .._population import AbstractSpikingNeuron


class LIFState(eqx.Module):
    """State of [`eqsnn.neurons.IF`][] and [`eqsnn.neurons.LIF`][]: membrane
    potential `v` (mV) and the last step's spikes `spike` (0/1), each of the population's shape."""

    v: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]


class LifRefState(eqx.Module):
    """State of [`eqsnn.neurons.LifRef`][]: `v` (mV), `spike` (0/1),
    `t_last_spike` (ms, `-1e7` before any spike), each of the population's
    shape, and the index `i` of the next step (its time is `i * dt` ms,
    computed, not accumulated, so the refractory test does not drift)."""

    v: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]
    t_last_spike: Float[Array, "*shape"]
    i: Int[Array, ""]


class IF(AbstractSpikingNeuron[LIFState]):
    r"""Perfect (non-leaky) integrate-and-fire neuron.

    $$ \tau \frac{dv}{dt} = R\, I(t), \qquad s = H(v - v_{th}) $$

    Integrated exactly for input held constant over a step:
    $v \leftarrow v + \frac{\Delta t}{\tau} R I$, then spike and reset
    (soft: $v \leftarrow v - (v_{th} - v_{reset}) s$; hard: $v \leftarrow v_{reset}$
    where $s=1$).

    **Arguments** (units; default):

    - `shape`: an int or a tuple (the population acts element-wise).
    - `tau`: time constant (ms; `10.`). `r`: resistance (`1.`).
    - `v_th`: threshold (mV; `20.`). `v_reset`: reset potential (mV; `-5.`).
    - `v_init`: initial potential (mV; `0.`).
    - `dt`: step (ms; `0.1`). `spike_fn`: surrogate (`InvSquare(100.)`).
    - `reset`: `'soft'` (default) or `'hard'`. `detach_reset`: `False`.

    Input: current of `shape` or a scalar; output: spikes of `shape`.
    """

    tau: ParamLike = param(10.0, unit="ms", constraint="positive", doc="time constant")
    r: ParamLike = param(1.0, doc="resistance")
    v_th: ParamLike = param(20.0, unit="mV", doc="threshold")
    v_reset: ParamLike = param(-5.0, unit="mV", doc="reset potential")
    v_init: ParamLike = param(0.0, unit="mV", doc="initial potential")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LIFState:
        return LIFState(v=self._full(self.v_init), spike=self._zeros())

    def step(self, state: LIFState, x: Float[ArrayLike, "..."]) -> tuple[LIFState, Float[Array, "*shape"]]:
        x = self._check_step(state, LIFState, x)
        v = state.v + self.dt / self.tau * self.r * x
        spike, v = spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return LIFState(v=v, spike=spike), spike


class AbstractLIF(AbstractSpikingNeuron[Any]):
    r"""The leaky integrate-and-fire family ([`eqsnn.neurons.LIF`][], [`eqsnn.neurons.LifRef`][]):
    their shared parameters and sub-threshold update.

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + R\, I(t) $$

    **Arguments** (units; default, as BrainPy): `tau` (ms; `10.`), `r` (`1.`),
    `v_rest` (mV; `0.`), `v_reset` (mV; `-5.`), `v_th` (mV; `20.`), `v_init`
    (mV; default `v_rest`).
    """

    tau: ParamLike = param(10.0, unit="ms", constraint="positive", doc="membrane time constant")
    r: ParamLike = param(1.0, doc="resistance")
    v_rest: ParamLike = param(0.0, unit="mV", doc="resting potential")
    v_reset: ParamLike = param(-5.0, unit="mV", doc="reset potential")
    v_th: ParamLike = param(20.0, unit="mV", doc="threshold")
    v_init: ParamLike = param(None, unit="mV", doc="initial potential (default: v_rest)")

    def __post_init__(self) -> None:
        if self.v_init is None:
            self.v_init = self.v_rest

    def integrate(self, v: Float[Array, "*shape"], x: Float[ArrayLike, "..."]) -> Float[Array, "*shape"]:
        """Sub-threshold update over one step (no spike, no reset), exact for constant input."""
        return exp_euler(v, self.v_rest + self.r * x, self.dt, self.tau)


class LIF(AbstractLIF):
    r"""Leaky integrate-and-fire neuron (BrainPy's `Lif`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + R\, I(t), \qquad s = H(v - v_{th}) $$

    Exponential Euler, exact for input held constant over a step:
    $v \leftarrow v_\infty + (v - v_\infty) e^{-\Delta t/\tau}$ with
    $v_\infty = v_{rest} + R I$; then spike and reset (soft:
    $v \leftarrow v - (v_{th} - v_{reset}) s$; hard:
    $v \leftarrow v + (v_{reset} - v) s$).

    **Arguments** (units; default, as BrainPy):

    - `shape`: an int or a tuple (the population acts element-wise).
    - `tau`: membrane time constant (ms; `10.`). `r`: resistance (`1.`).
    - `v_rest`: resting potential (mV; `0.`). `v_reset`: reset (mV; `-5.`).
    - `v_th`: threshold (mV; `20.`). `v_init`: initial potential (mV; `v_rest`).
    - `dt`: step (ms; `0.1`). `spike_fn`: surrogate (`InvSquare(100.)`).
    - `reset`: `'soft'` (default) or `'hard'`. `detach_reset`: `False`.

    Any parameter may be an array broadcastable to `shape`; a float array is
    trained ([`eqsnn.positive`][] keeps a trained `tau` positive).
    """

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LIFState:
        return LIFState(v=self._full(self.v_init), spike=self._zeros())

    def step(self, state: LIFState, x: Float[ArrayLike, "..."]) -> tuple[LIFState, Float[Array, "*shape"]]:
        x = self._check_step(state, LIFState, x)
        v = self.integrate(state.v, x)
        spike, v = spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return LIFState(v=v, spike=spike), spike


class LifRef(AbstractLIF):
    r"""Leaky integrate-and-fire neuron with an absolute refractory period
    (BrainPy's `LifRef`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + R\, I(t), \qquad s = H(v - v_{th}) $$

    Same update as [`eqsnn.neurons.LIF`][], except that while
    $t - t_{last} \le \tau_{ref}$ the potential is held (no integration); a
    spike at step time $t = i\,\Delta t$ sets $t_{last} = t$ (step $i$ from 0,
    as BrainPy's runners). The refractory mask carries no gradient.

    **Arguments:** those of [`eqsnn.neurons.LIF`][] plus `tau_ref`, the
    refractory period (ms; default `0.`, as BrainPy).
    """

    tau_ref: ParamLike = param(0.0, unit="ms", constraint="nonnegative", doc="refractory period")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LifRefState:
        return LifRefState(
            v=self._full(self.v_init),
            spike=self._zeros(),
            t_last_spike=self._full(-1e7),
            i=jnp.zeros((), dtype=jnp.int32),
        )

    def step(self, state: LifRefState, x: Float[ArrayLike, "..."]) -> tuple[LifRefState, Float[Array, "*shape"]]:
        x = self._check_step(state, LifRefState, x)
        t = state.i.astype(state.v.dtype) * self.dt
        v = self.integrate(state.v, x)
        refractory = jax.lax.stop_gradient((t - state.t_last_spike) <= self.tau_ref)
        v = jnp.where(refractory, state.v, v)
        spike, v = spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        t_last = jax.lax.stop_gradient(jnp.where(spike > 0, t, state.t_last_spike))
        return LifRefState(v=v, spike=spike, t_last_spike=t_last, i=state.i + 1), spike
