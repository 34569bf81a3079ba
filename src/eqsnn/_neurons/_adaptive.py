"""Integrate-and-fire neurons with spike-frequency adaptation."""

from __future__ import annotations

from typing import Any

import equinox as eqx

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray, RealScalarLike
from .._surrogate import AbstractSurrogate
from ._base import DEFAULT_DT, AbstractSpikingNeuron, decay, default_spike_fn, exp_euler, spike_and_reset


class ALIFState(eqx.Module):
    """State of [`eqsnn.neurons.ALIF`][]: membrane potential `v` (mV), the
    adaptation variable `a` (dimensionless spike trace) and the last step's
    spikes `spike` (0/1), each `[size]`."""

    v: Float[Array, " n"]
    a: Float[Array, " n"]
    spike: Float[Array, " n"]


class ALIF(AbstractSpikingNeuron):
    r"""Adaptive-threshold leaky integrate-and-fire neuron (Bellec et al. 2020;
    BrainPy's `ALIFBellec2020`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + R\, I(t), \qquad
       \tau_a \frac{da}{dt} = -a, $$
    $$ s_t = H\big(v_t - (v_{th} + \beta\, a_{t-1})\big), \qquad a_t \leftarrow a_t + s_t $$

    Update order of one step (as BrainPy): $v$ and $a$ are integrated exactly
    (exponential Euler, input held constant over the step); the spike compares
    the new $v$ with the adaptive threshold $A = v_{th} + \beta a$ built from
    the adaptation *before* this step; then $v$ is reset and the spike is
    added to the decayed $a$. Soft reset subtracts the base threshold distance,
    $v \leftarrow v - (v_{th} - v_{reset})\, s$ (Bellec's $-z\, v_{th}$ relative
    to rest); hard reset sets $v \leftarrow v_{reset}$ where $s = 1$.

    Differences from BrainPy: BrainPy subtracts $V_{th}$ itself on a spike and
    feeds $(V - A)/V_{th}$ to the surrogate, which is the same only for
    $v_{rest} = 0$ (with its defaults $V_{th} = -60$ the reset would *add*
    60 mV); here the reset is relative to `v_reset` and the surrogate sees
    $v - A$ (mV), as every eqsnn neuron.

    **Arguments** (units; default, as BrainPy):

    - `size`: number of neurons.
    - `tau`: membrane time constant (ms; `20.`). `tau_a`: adaptation time
      constant (ms; `2000.`). `r`: resistance (`1.`).
    - `beta`: threshold increment per unit of `a` (mV; `1.6`).
    - `v_rest`: resting potential (mV; `-70.`). `v_th`: base threshold (mV; `-60.`).
    - `v_reset`: reset potential (mV; `v_rest`). `v_init`: initial potential
      (mV; `v_rest`, which is BrainPy's `-70.`). `a_init`: initial adaptation (`0.`).
    - `dt`: step (ms; `0.1`). `spike_fn`: surrogate (`InvSquare(100.)`).
    - `reset`: `'soft'` (default) or `'hard'`. `detach_reset`: `False`.

    Any parameter may be an array of shape `[size]`; an inexact array is trained.
    Input: current `[size]` or scalar; output: spikes `[size]`.
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    tau_a: ParamLike
    r: ParamLike
    beta: ParamLike
    v_rest: ParamLike
    v_th: ParamLike
    v_reset: ParamLike
    v_init: ParamLike
    a_init: ParamLike
    dt: RealScalarLike
    spike_fn: AbstractSurrogate
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        size: int,
        *,
        tau: ParamLike = 20.0,
        tau_a: ParamLike = 2000.0,
        r: ParamLike = 1.0,
        beta: ParamLike = 1.6,
        v_rest: ParamLike = -70.0,
        v_th: ParamLike = -60.0,
        v_reset: ParamLike | None = None,
        v_init: ParamLike | None = None,
        a_init: ParamLike = 0.0,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
        reset: str = "soft",
        detach_reset: bool = False,
    ):
        self.size = size
        self.tau, self.tau_a, self.r, self.beta = tau, tau_a, r, beta
        self.v_rest, self.v_th = v_rest, v_th
        self.v_reset = v_rest if v_reset is None else v_reset
        self.v_init = v_rest if v_init is None else v_init
        self.a_init = a_init
        self.dt = dt
        self.spike_fn = default_spike_fn() if spike_fn is None else spike_fn
        self.reset, self.detach_reset = reset, detach_reset
        self._check_common(self._params(), positive=("tau", "tau_a"))

    def _params(self) -> dict[str, Any]:
        return dict(
            tau=self.tau,
            tau_a=self.tau_a,
            r=self.r,
            beta=self.beta,
            v_rest=self.v_rest,
            v_th=self.v_th,
            v_reset=self.v_reset,
            v_init=self.v_init,
            a_init=self.a_init,
        )

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ALIFState:
        return ALIFState(v=self._full(self.v_init), a=self._full(self.a_init), spike=self._zeros())

    def threshold(self, a: Float[Array, " n"]) -> Float[Array, " n"]:
        r"""The adaptive threshold $A = v_{th} + \beta a$ (mV)."""
        return self.v_th + self.beta * a

    def step(self, state: ALIFState, x: Float[ArrayLike, "..."]) -> tuple[ALIFState, Float[Array, " n"]]:
        x = self._check_step(state, ALIFState, x)
        v = exp_euler(state.v, self.v_rest + self.r * x, self.dt, self.tau)
        a = decay(self.dt, self.tau_a) * state.a
        v_th = self.threshold(state.a)
        # spike_and_reset's soft reset subtracts (threshold - reset); shifting the reset by
        # beta * a makes it subtract the base distance v_th - v_reset, as Bellec et al.
        v_reset = self.v_reset + self.beta * state.a if self.reset == "soft" else self.v_reset
        spike, v = spike_and_reset(v, v_th, v_reset, self.spike_fn, self.reset, self.detach_reset)
        return ALIFState(v=v, a=a + spike, spike=spike), spike
