"""Integrate-and-fire neurons with linear sub-threshold dynamics (integrated exactly)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, Int, ParamLike, PRNGKeyArray, RealScalarLike
from .._errors import check_positive
from .._surrogate import AbstractSurrogate
from ._base import DEFAULT_DT, AbstractSpikingNeuron, default_spike_fn, exp_euler, spike_and_reset


class LIFState(eqx.Module):
    """State of [`eqsnn.neurons.IF`][] and [`eqsnn.neurons.LIF`][]: membrane
    potential `v` (mV) and the last step's spikes `spike` (0/1), each `[size]`."""

    v: Float[Array, " n"]
    spike: Float[Array, " n"]


class LifRefState(eqx.Module):
    """State of [`eqsnn.neurons.LifRef`][]: `v` (mV), `spike` (0/1),
    `t_last_spike` (ms, `-1e7` before any spike), each `[size]`, and the
    index `i` of the next step (its time is `i * dt` ms, computed, not
    accumulated, so the refractory test does not drift)."""

    v: Float[Array, " n"]
    spike: Float[Array, " n"]
    t_last_spike: Float[Array, " n"]
    i: Int[Array, ""]


class IF(AbstractSpikingNeuron):
    r"""Perfect (non-leaky) integrate-and-fire neuron.

    $$ \tau \frac{dv}{dt} = R\, I(t), \qquad s = H(v - v_{th}) $$

    Integrated exactly for input held constant over a step:
    $v \leftarrow v + \frac{\Delta t}{\tau} R I$, then spike and reset
    (soft: $v \leftarrow v - (v_{th} - v_{reset}) s$; hard: $v \leftarrow v_{reset}$
    where $s=1$).

    **Arguments** (units; default):

    - `size`: number of neurons.
    - `tau`: time constant (ms; `10.`). `r`: resistance (`1.`).
    - `v_th`: threshold (mV; `20.`). `v_reset`: reset potential (mV; `-5.`).
    - `v_init`: initial potential (mV; `0.`).
    - `dt`: step (ms; `0.1`). `spike_fn`: surrogate (`InvSquare(100.)`).
    - `reset`: `'soft'` (default) or `'hard'`. `detach_reset`: `False`.

    Input: current `[size]` or scalar; output: spikes `[size]`.
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    r: ParamLike
    v_th: ParamLike
    v_reset: ParamLike
    v_init: ParamLike
    dt: RealScalarLike
    spike_fn: AbstractSurrogate
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        size: int,
        *,
        tau: ParamLike = 10.0,
        r: ParamLike = 1.0,
        v_th: ParamLike = 20.0,
        v_reset: ParamLike = -5.0,
        v_init: ParamLike = 0.0,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
        reset: str = "soft",
        detach_reset: bool = False,
    ):
        self.size = size
        self.tau, self.r, self.v_th, self.v_reset, self.v_init = tau, r, v_th, v_reset, v_init
        self.dt = dt
        self.spike_fn = default_spike_fn() if spike_fn is None else spike_fn
        self.reset, self.detach_reset = reset, detach_reset
        self._check_common(dict(tau=tau, r=r, v_th=v_th, v_reset=v_reset, v_init=v_init), positive=("tau",))

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LIFState:
        return LIFState(v=self._full(self.v_init), spike=self._zeros())

    def step(self, state: LIFState, x: Float[ArrayLike, "..."]) -> tuple[LIFState, Float[Array, " n"]]:
        x = self._check_step(state, LIFState, x)
        v = state.v + self.dt / self.tau * self.r * x
        spike, v = spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return LIFState(v=v, spike=spike), spike


class LIF(AbstractSpikingNeuron):
    r"""Leaky integrate-and-fire neuron (BrainPy's `Lif`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + R\, I(t), \qquad s = H(v - v_{th}) $$

    Exponential Euler, exact for input held constant over a step:
    $v \leftarrow v_\infty + (v - v_\infty) e^{-\Delta t/\tau}$ with
    $v_\infty = v_{rest} + R I$; then spike and reset (soft:
    $v \leftarrow v - (v_{th} - v_{reset}) s$; hard:
    $v \leftarrow v + (v_{reset} - v) s$).

    **Arguments** (units; default, as BrainPy):

    - `size`: number of neurons.
    - `tau`: membrane time constant (ms; `10.`). `r`: resistance (`1.`).
    - `v_rest`: resting potential (mV; `0.`). `v_reset`: reset (mV; `-5.`).
    - `v_th`: threshold (mV; `20.`). `v_init`: initial potential (mV; `v_rest`).
    - `dt`: step (ms; `0.1`). `spike_fn`: surrogate (`InvSquare(100.)`).
    - `reset`: `'soft'` (default) or `'hard'`. `detach_reset`: `False`.

    Any parameter may be an array of shape `[size]`; an inexact array is trained.
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    r: ParamLike
    v_rest: ParamLike
    v_reset: ParamLike
    v_th: ParamLike
    v_init: ParamLike
    dt: RealScalarLike
    spike_fn: AbstractSurrogate
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        size: int,
        *,
        tau: ParamLike = 10.0,
        r: ParamLike = 1.0,
        v_rest: ParamLike = 0.0,
        v_reset: ParamLike = -5.0,
        v_th: ParamLike = 20.0,
        v_init: ParamLike | None = None,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
        reset: str = "soft",
        detach_reset: bool = False,
    ):
        self.size = size
        self.tau, self.r, self.v_rest, self.v_reset, self.v_th = tau, r, v_rest, v_reset, v_th
        self.v_init = v_rest if v_init is None else v_init
        self.dt = dt
        self.spike_fn = default_spike_fn() if spike_fn is None else spike_fn
        self.reset, self.detach_reset = reset, detach_reset
        self._check_common(self._params(), positive=("tau",))

    def _params(self) -> dict[str, Any]:
        return dict(
            tau=self.tau, r=self.r, v_rest=self.v_rest, v_reset=self.v_reset, v_th=self.v_th, v_init=self.v_init
        )

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LIFState:
        return LIFState(v=self._full(self.v_init), spike=self._zeros())

    def integrate(self, v: Float[Array, " n"], x: Float[ArrayLike, "..."]) -> Float[Array, " n"]:
        """Sub-threshold update over one step (no spike, no reset)."""
        return exp_euler(v, self.v_rest + self.r * x, self.dt, self.tau)

    def step(self, state: LIFState, x: Float[ArrayLike, "..."]) -> tuple[LIFState, Float[Array, " n"]]:
        x = self._check_step(state, LIFState, x)
        v = self.integrate(state.v, x)
        spike, v = spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return LIFState(v=v, spike=spike), spike


class LifRef(LIF):
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

    tau_ref: ParamLike

    def __init__(self, size: int, *, tau_ref: ParamLike = 0.0, **kwargs: Any):
        super().__init__(size, **kwargs)
        self.tau_ref = tau_ref
        check_positive("tau_ref", tau_ref, allow_zero=True, owner="LifRef")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LifRefState:
        return LifRefState(
            v=self._full(self.v_init),
            spike=self._zeros(),
            t_last_spike=self._full(-1e7),
            i=jnp.zeros((), dtype=jnp.int32),
        )

    def step(self, state: LifRefState, x: Float[ArrayLike, "..."]) -> tuple[LifRefState, Float[Array, " n"]]:
        x = self._check_step(state, LifRefState, x)
        t = state.i.astype(state.v.dtype) * self.dt
        v = self.integrate(state.v, x)
        refractory = jax.lax.stop_gradient((t - state.t_last_spike) <= self.tau_ref)
        v = jnp.where(refractory, state.v, v)
        spike, v = spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        t_last = jax.lax.stop_gradient(jnp.where(spike > 0, t, state.t_last_spike))
        return LifRefState(v=v, spike=spike, t_last_spike=t_last, i=state.i + 1), spike
