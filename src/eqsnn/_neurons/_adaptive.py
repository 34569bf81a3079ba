"""Integrate-and-fire neurons with spike-frequency adaptation."""

from __future__ import annotations

from typing import Any

import equinox as eqx

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray
from .._integrate import decay, exp_euler, spike_and_reset
from .._params import param
from .._population import AbstractSpikingNeuron


class ALIFState(eqx.Module):
    """State of [`eqsnn.neurons.ALIF`][]: membrane potential `v` (mV), the
    adaptation variable `a` (dimensionless spike trace) and the last step's
    spikes `spike` (0/1), each of the population's shape."""

    v: Float[Array, "*shape"]
    a: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]


class ALIF(AbstractSpikingNeuron[ALIFState]):
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

    - `shape`: an int or a tuple (the population acts element-wise).
    - `tau`: membrane time constant (ms; `20.`). `tau_a`: adaptation time
      constant (ms; `2000.`). `r`: resistance (`1.`).
    - `beta`: threshold increment per unit of `a` (mV; `1.6`).
    - `v_rest`: resting potential (mV; `-70.`). `v_th`: base threshold (mV; `-60.`).
    - `v_reset`: reset potential (mV; `v_rest`). `v_init`: initial potential
      (mV; `v_rest`, which is BrainPy's `-70.`). `a_init`: initial adaptation (`0.`).
    - `dt`: step (ms; `0.1`). `spike_fn`: surrogate (`InvSquare(100.)`).
    - `reset`: `'soft'` (default) or `'hard'`. `detach_reset`: `False`.

    Any parameter may be an array broadcastable to `shape`; a float array is
    trained. Input: current of `shape` or a scalar; output: spikes of `shape`.
    For inputs of order one (the output of a linear layer), use
    [`eqsnn.neurons.ALIF.unit_scale`][].
    """

    tau: ParamLike = param(20.0, unit="ms", constraint="positive", doc="membrane time constant")
    tau_a: ParamLike = param(2000.0, unit="ms", constraint="positive", doc="adaptation time constant")
    r: ParamLike = param(1.0, doc="resistance")
    beta: ParamLike = param(1.6, unit="mV", doc="threshold increment per unit of adaptation")
    v_rest: ParamLike = param(-70.0, unit="mV", doc="resting potential")
    v_th: ParamLike = param(-60.0, unit="mV", doc="base threshold")
    v_reset: ParamLike = param(None, unit="mV", doc="reset potential (default: v_rest)")
    v_init: ParamLike = param(None, unit="mV", doc="initial potential (default: v_rest)")
    a_init: ParamLike = param(0.0, doc="initial adaptation")

    def __post_init__(self) -> None:
        if self.v_reset is None:
            self.v_reset = self.v_rest
        if self.v_init is None:
            self.v_init = self.v_rest

    @classmethod
    def unit_scale(cls, shape: int | tuple[int, ...], **overrides: Any) -> ALIF:
        r"""An ALIF for inputs of order one, stepped at `dt = 1` ms.

        The BrainPy defaults with potentials measured from rest in units of
        the threshold distance $v_{th} - v_{rest} = 10$ mV: with
        $u = (v - v_{rest})/10$ the equations keep their form,
        $\tau \dot u = -u + R I / 10$ with threshold $1 + (\beta/10)\, a$, so

        - `v_rest = 0`, `v_reset = 0`, `v_th = 1`, `beta = 0.16`;
        - `tau = 20.`, `tau_a = 2000.`, `r = 1.` unchanged, `dt = 1.` ms
          (the decay $e^{-\Delta t/\tau} \approx 0.95$ per step).

        A constant input $x$ drives $v$ towards $v_\infty = x$: the neuron
        fires for $x > 1$ (one BrainPy unit here is 10 mV there), each spike
        raising the threshold by 0.16 for about `tau_a` ms.

        **Arguments:** `shape`; `**overrides`: any constructor argument,
        applied last (`ALIF.unit_scale(128, tau_a=200.)`).
        """
        kwargs: dict[str, Any] = dict(
            tau=20.0, tau_a=2000.0, r=1.0, beta=0.16, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=1.0
        )
        kwargs.update(overrides)
        return cls(shape, **kwargs)

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ALIFState:
        return ALIFState(v=self._full(self.v_init), a=self._full(self.a_init), spike=self._zeros())

    def threshold(self, a: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""The adaptive threshold $A = v_{th} + \beta a$ (mV)."""
        return self.v_th + self.beta * a

    def step(self, state: ALIFState, x: Float[ArrayLike, "..."]) -> tuple[ALIFState, Float[Array, "*shape"]]:
        x = self._check_step(state, ALIFState, x)
        v = exp_euler(state.v, self.v_rest + self.r * x, self.dt, self.tau)
        a = decay(self.dt, self.tau_a) * state.a
        v_th = self.threshold(state.a)
        # spike_and_reset's soft reset subtracts (threshold - reset); shifting the reset by
        # beta * a makes it subtract the base distance v_th - v_reset, as Bellec et al.
        v_reset = self.v_reset + self.beta * state.a if self.reset == "soft" else self.v_reset
        spike, v = spike_and_reset(v, v_th, v_reset, self.spike_fn, self.reset, self.detach_reset)
        return ALIFState(v=v, a=a + spike, spike=spike), spike
