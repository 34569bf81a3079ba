r"""Integrate-and-fire neurons with non-linear sub-threshold dynamics.

All are integrated with BrainPy's default `exp_auto` scheme (exponential Euler
with the automatic linearisation of each variable's own right-hand side):

$$ x \leftarrow x + \Delta t\, \varphi(\Delta t\, J)\, f(x), \qquad
   J = \frac{\partial f}{\partial x}, \qquad \varphi(z) = \frac{e^z - 1}{z}, $$

where the other variables are held at their values from the start of the
step. It is exact when $f$ is affine in $x$; for one variable under constant
input it is the exponential Rosenbrock-Euler method (second order); with
coupled variables frozen over the step it is first order.

**Finite under any input.** The non-linear term (the exponential of ExpIF
and AdEx, the quadratic right-hand side of QuaIF and Izhikevich) is
evaluated at $\min(v, v_{th})$: above the threshold, where the neuron has
already spiked, it is held at its value at $v_{th}$ (a bound on the
overshoot before the non-linearity, as Brian's and BrainPy's cut-offs do).
Below the threshold, hence in the normal range of each model, nothing
changes; without the bound a soft reset under a strong constant current
(2000 for ExpIF and AdEx, 5000 for QuaIF) leaves $v$ above threshold, the
non-linearity overflows and the state goes to inf, then NaN.
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray
from .._integrate import exp_euler, exp_euler_auto, spike_and_reset
from .._params import param
from .._population import AbstractSpikingNeuron


class ExpIFState(eqx.Module):
    """State of [`eqsnn.neurons.ExpIF`][]: membrane potential `v` (mV) and the
    last step's spikes `spike` (0/1), each of the population's shape."""

    v: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]


class QuaIFState(eqx.Module):
    """State of [`eqsnn.neurons.QuaIF`][]: membrane potential `v` (mV) and the
    last step's spikes `spike` (0/1), each of the population's shape."""

    v: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]


class AdExState(eqx.Module):
    """State of [`eqsnn.neurons.AdEx`][]: `v` (mV), the adaptation current `w`
    and the last step's spikes `spike` (0/1), each of the population's shape."""

    v: Float[Array, "*shape"]
    w: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]


class IzhikevichState(eqx.Module):
    """State of [`eqsnn.neurons.Izhikevich`][]: `v` (mV), the recovery
    variable `u` and the last step's spikes `spike` (0/1), each of the population's shape."""

    v: Float[Array, "*shape"]
    u: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]


class _NonlinearIF(AbstractSpikingNeuron[Any]):
    """Abstract base of the one- and two-variable non-linear IF neurons: the spike and reset."""

    def _spike(self, v: Float[Array, "*shape"], v_reset: Any) -> tuple[Float[Array, "*shape"], Float[Array, "*shape"]]:
        return spike_and_reset(v, self.v_th, v_reset, self.spike_fn, self.reset, self.detach_reset)


class _AbstractExpIF(_NonlinearIF):
    r"""Abstract base of [`eqsnn.neurons.ExpIF`][] and [`eqsnn.neurons.AdEx`][]:
    their shared parameters and the exponential term $\Delta_T e^{(v - v_T)/\Delta_T}$."""

    tau: ParamLike = param(10.0, unit="ms", constraint="positive", doc="membrane time constant")
    r: ParamLike = param(1.0, doc="resistance")
    v_rest: ParamLike = param(-65.0, unit="mV", doc="resting potential")
    v_reset: ParamLike = param(-68.0, unit="mV", doc="reset potential")
    v_th: ParamLike = param(-55.0, unit="mV", doc="numerical spike threshold")
    v_t: ParamLike = param(-59.9, unit="mV", doc="soft threshold of the exponential")
    delta_t: ParamLike = param(3.48, unit="mV", constraint="positive", doc="slope factor")
    v_init: ParamLike = param(None, unit="mV", doc="initial potential (default: v_rest)")

    def __post_init__(self) -> None:
        if self.v_init is None:
            self.v_init = self.v_rest

    def _exp_term(self, v: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        # bounded above the threshold (see the module docstring): finite under any input
        return self.delta_t * jnp.exp((jnp.minimum(v, self.v_th) - self.v_t) / self.delta_t)


class ExpIF(_AbstractExpIF):
    r"""Exponential integrate-and-fire neuron (Fourcaud-Trocmé et al. 2003; BrainPy's `ExpIF`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + \Delta_T\, e^{(v - v_T)/\Delta_T} + R\, I(t),
       \qquad s = H(v - v_{th}) $$

    **Integrator:** exponential Euler with automatic linearisation (BrainPy's
    `exp_auto`, see [`eqsnn.neurons.exp_euler_auto`][]), then spike and reset
    (soft: $v \leftarrow v - (v_{th} - v_{reset}) s$; hard: $v \leftarrow v_{reset}$).

    **Arguments** (units; default, as BrainPy):

    - `shape`: an int or a tuple (the population acts element-wise).
    - `tau`: membrane time constant (ms; `10.`). `r`: resistance (`1.`).
    - `v_rest`: resting potential (mV; `-65.`). `v_reset`: reset (mV; `-68.`).
    - `v_th`: numerical spike threshold (mV; `-55.`). `v_t`: soft threshold of the
      exponential (mV; `-59.9`). `delta_t`: slope factor (mV; `3.48`).
    - `v_init`: initial potential (mV; `v_rest`; BrainPy starts at `0.`, above
      threshold, which fires at once).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'soft'`), `detach_reset` (`False`).

    For inputs of order one, use [`eqsnn.neurons.ExpIF.unit_scale`][].
    """

    @classmethod
    def unit_scale(cls, shape: int | tuple[int, ...], **overrides: Any) -> ExpIF:
        r"""An ExpIF for inputs of order one, stepped at `dt = 1` ms.

        The BrainPy defaults with potentials measured from rest in units of
        the threshold distance $v_{th} - v_{rest} = 10$ mV: with
        $u = (v - v_{rest})/10$ and $\delta = \Delta_T/10$ the equation keeps
        its form, $\tau \dot u = -u + \delta\, e^{(u - u_T)/\delta} + R I/10$, so

        - `v_rest = 0`, `v_th = 1`, `v_t = 0.51`, `delta_t = 0.348`;
        - `tau = 10.`, `r = 1.` unchanged, `dt = 1.` ms;
        - `v_reset = 0` (BrainPy's reset, 0.3 below rest, is put at rest);
        - `reset = 'hard'` (the model's own reset): the exponential makes the
          overshoot past `v_th` in one step of 1 ms grow with the input, and a
          soft reset, which subtracts only 1, would leave $v$ above $v_T$ to
          run away.

        A constant input $x$ fires when it exceeds the rheobase
        $v_T - v_{rest} - \Delta_T = 0.162$ (1.62 mV in BrainPy's units), so
        inputs of order one fire at rates that grow with $x$.

        **Arguments:** `shape`; `**overrides`: any constructor argument,
        applied last.
        """
        kwargs: dict[str, Any] = dict(
            tau=10.0, r=1.0, v_rest=0.0, v_reset=0.0, v_th=1.0, v_t=0.51, delta_t=0.348, dt=1.0, reset="hard"
        )
        kwargs.update(overrides)
        return cls(shape, **kwargs)

    def dv(self, v: Float[Array, "*shape"], x: Float[ArrayLike, "..."]) -> Float[Array, "*shape"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        exp_v = self._exp_term(v)
        return (-(v - self.v_rest) + exp_v + self.r * x) / self.tau

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ExpIFState:
        return ExpIFState(v=self._full(self.v_init), spike=self._zeros())

    def step(self, state: ExpIFState, x: Float[ArrayLike, "..."]) -> tuple[ExpIFState, Float[Array, "*shape"]]:
        x = self._check_step(state, ExpIFState, x)
        v = exp_euler_auto(lambda v: self.dv(v, x), state.v, self.dt)
        spike, v = self._spike(v, self.v_reset)
        return ExpIFState(v=v, spike=spike), spike


class AdEx(_AbstractExpIF):
    r"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005; BrainPy's `AdExIF`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + \Delta_T\, e^{(v - v_T)/\Delta_T} - R\, w + R\, I(t), $$
    $$ \tau_w \frac{dw}{dt} = a\,(v - v_{rest}) - w, \qquad
       s = H(v - v_{th}),\quad w \leftarrow w + b\, s $$

    **Integrator:** exponential Euler with automatic linearisation for $v$
    (with $w$ held at its old value) and exact exponential Euler for $w$ (with
    $v$ held at its old value), as BrainPy's `exp_auto`; then spike, reset of
    $v$ (soft/hard) and $w \leftarrow w + b s$.

    **Arguments** (units; default, as BrainPy):

    - `shape`; `tau` (ms; `10.`); `tau_w` (ms; `30.`); `r` (`1.`).
    - `a`: sub-threshold adaptation (`1.`). `b`: spike-triggered adaptation (`1.`).
    - `v_rest` (mV; `-65.`), `v_reset` (mV; `-68.`), `v_th` (mV; `-55.`),
      `v_t` (mV; `-59.9`), `delta_t` (mV; `3.48`).
    - `v_init` (mV; `v_rest`; BrainPy starts at `0.`), `w_init` (`0.`).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'soft'`), `detach_reset` (`False`).

    For inputs of order one, use [`eqsnn.neurons.AdEx.unit_scale`][].
    """

    tau_w: ParamLike = param(30.0, unit="ms", constraint="positive", doc="adaptation time constant")
    a: ParamLike = param(1.0, doc="sub-threshold adaptation")
    b: ParamLike = param(1.0, doc="spike-triggered adaptation")
    w_init: ParamLike = param(0.0, doc="initial adaptation current")

    @classmethod
    def unit_scale(cls, shape: int | tuple[int, ...], **overrides: Any) -> AdEx:
        r"""An AdEx for inputs of order one, stepped at `dt = 1` ms.

        The BrainPy defaults with potentials, and the adaptation current $R w$
        with them, measured in units of $v_{th} - v_{rest} = 10$ mV, as
        [`eqsnn.neurons.ExpIF.unit_scale`][]: with $u = (v - v_{rest})/10$ and
        $w' = w/10$ the equations keep their form, $a$ (a ratio of
        conductances) is unchanged and the jump $b$ is divided by 10, so

        - `v_rest = 0`, `v_reset = 0`, `v_th = 1`, `v_t = 0.51`, `delta_t = 0.348`;
        - `a = 1.`, `b = 0.1`, `tau = 10.`, `tau_w = 30.`, `r = 1.`, `dt = 1.` ms;
        - `reset = 'hard'`, for the reason given for ExpIF.

        With $w$ at its steady state $a\,(v - v_{rest})$, a constant input
        fires above $(1 + aR)\big(v_T - \Delta_T + \Delta_T \ln(1 + aR)\big)
        \approx 0.81$ (lower inputs may fire a few spikes before $w$ builds up).

        **Arguments:** `shape`; `**overrides`: any constructor argument,
        applied last.
        """
        kwargs: dict[str, Any] = dict(
            tau=10.0,
            tau_w=30.0,
            r=1.0,
            a=1.0,
            b=0.1,
            v_rest=0.0,
            v_reset=0.0,
            v_th=1.0,
            v_t=0.51,
            delta_t=0.348,
            dt=1.0,
            reset="hard",
        )
        kwargs.update(overrides)
        return cls(shape, **kwargs)

    def dv(
        self, v: Float[Array, "*shape"], w: Float[Array, "*shape"], x: Float[ArrayLike, "..."]
    ) -> Float[Array, "*shape"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        exp_v = self._exp_term(v)
        return (-(v - self.v_rest) + exp_v - self.r * w + self.r * x) / self.tau

    def init_state(self, *, key: PRNGKeyArray | None = None) -> AdExState:
        return AdExState(v=self._full(self.v_init), w=self._full(self.w_init), spike=self._zeros())

    def step(self, state: AdExState, x: Float[ArrayLike, "..."]) -> tuple[AdExState, Float[Array, "*shape"]]:
        x = self._check_step(state, AdExState, x)
        v = exp_euler_auto(lambda v: self.dv(v, state.w, x), state.v, self.dt)
        w = exp_euler(state.w, self.a * (state.v - self.v_rest), self.dt, self.tau_w)
        spike, v = self._spike(v, self.v_reset)
        return AdExState(v=v, w=w + self.b * spike, spike=spike), spike


class QuaIF(_NonlinearIF):
    r"""Quadratic integrate-and-fire neuron (BrainPy's `QuaIF`).

    $$ \tau \frac{dv}{dt} = c\,(v - v_{rest})(v - v_c) + R\, I(t), \qquad s = H(v - v_{th}) $$

    **Integrator:** exponential Euler with automatic linearisation (BrainPy's
    `exp_auto`), then spike and reset (soft/hard, as [`eqsnn.neurons.ExpIF`][]).

    **Arguments** (units; default, as BrainPy):

    - `shape`; `tau` (ms; `10.`); `r` (`1.`).
    - `c`: curvature (1/mV; `0.07`). `v_c`: critical voltage (mV; `-50.`).
    - `v_rest` (mV; `-65.`), `v_reset` (mV; `-68.`), `v_th` (mV; `-30.`).
    - `v_init` (mV; `v_rest`; BrainPy starts at `0.`).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'soft'`), `detach_reset` (`False`).

    For inputs of order one, use [`eqsnn.neurons.QuaIF.unit_scale`][].
    """

    tau: ParamLike = param(10.0, unit="ms", constraint="positive", doc="membrane time constant")
    r: ParamLike = param(1.0, doc="resistance")
    c: ParamLike = param(0.07, unit="1/mV", doc="curvature")
    v_c: ParamLike = param(-50.0, unit="mV", doc="critical voltage")
    v_rest: ParamLike = param(-65.0, unit="mV", doc="resting potential")
    v_reset: ParamLike = param(-68.0, unit="mV", doc="reset potential")
    v_th: ParamLike = param(-30.0, unit="mV", doc="spike cut-off")
    v_init: ParamLike = param(None, unit="mV", doc="initial potential (default: v_rest)")

    def __post_init__(self) -> None:
        if self.v_init is None:
            self.v_init = self.v_rest

    @classmethod
    def unit_scale(cls, shape: int | tuple[int, ...], **overrides: Any) -> QuaIF:
        r"""A QuaIF for inputs of order one, stepped at `dt = 1` ms.

        The BrainPy defaults with potentials measured from rest in units of
        the cut-off distance $v_{th} - v_{rest} = 35$ mV: with
        $u = (v - v_{rest})/35$ the equation keeps its form,
        $\tau \dot u = 35c\, u\,(u - u_c) + R I/35$, so

        - `v_rest = 0`, `v_th = 1`, `v_c = 15/35` (= 3/7), `c = 0.07 * 35 = 2.45`;
        - `tau = 10.`, `r = 1.` unchanged, `dt = 1.` ms;
        - `v_reset = 0` (BrainPy's reset, 3 mV below rest, is put at rest);
        - `reset = 'hard'` (the model's own reset): the quadratic term makes
          the overshoot past `v_th` grow with the input, and a soft reset
          would leave $v$ above $v_c$ to run away.

        A constant input fires above the rheobase $c\, (v_c - v_{rest})^2/4
        \approx 0.11$ (3.9 mV in BrainPy's units).

        **Arguments:** `shape`; `**overrides`: any constructor argument,
        applied last.
        """
        kwargs: dict[str, Any] = dict(
            tau=10.0, r=1.0, c=0.07 * 35.0, v_c=15.0 / 35.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=1.0, reset="hard"
        )
        kwargs.update(overrides)
        return cls(shape, **kwargs)

    def dv(self, v: Float[Array, "*shape"], x: Float[ArrayLike, "..."]) -> Float[Array, "*shape"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        vb = jnp.minimum(v, self.v_th)  # bounded above the threshold: finite under any input
        return (self.c * (vb - self.v_rest) * (vb - self.v_c) + self.r * x) / self.tau

    def init_state(self, *, key: PRNGKeyArray | None = None) -> QuaIFState:
        return QuaIFState(v=self._full(self.v_init), spike=self._zeros())

    def step(self, state: QuaIFState, x: Float[ArrayLike, "..."]) -> tuple[QuaIFState, Float[Array, "*shape"]]:
        x = self._check_step(state, QuaIFState, x)
        v = exp_euler_auto(lambda v: self.dv(v, x), state.v, self.dt)
        spike, v = self._spike(v, self.v_reset)
        return QuaIFState(v=v, spike=spike), spike


class Izhikevich(_NonlinearIF):
    r"""Izhikevich neuron (Izhikevich 2003; BrainPy's `Izhikevich`).

    $$ \frac{dv}{dt} = p_1 v^2 + p_2 v + p_3 - u + I(t), \qquad
       \frac{du}{dt} = a\,(b\, v - u), $$
    $$ s = H(v - v_{th}), \qquad v \leftarrow c,\quad u \leftarrow u + d \quad \text{where } s = 1 $$

    **Integrator:** exponential Euler with automatic linearisation for $v$
    (with $u$ held at its old value) and exact exponential Euler for $u$ (with
    $v$ held at its old value), as BrainPy's `exp_auto`; then spike, reset
    and $u \leftarrow u + d s$.

    The reset is hard by default (BrainPy always sets $v \leftarrow c$);
    `reset='soft'` subtracts $v_{th} - c$ instead.

    **Arguments** (units; default, as BrainPy):

    - `shape`; `a` (1/ms; `0.02`); `b` (`0.2`); `c`: reset potential (mV; `-65.`);
      `d`: spike-triggered recovery increment (`8.`).
    - `v_th`: spike cut-off (mV; `30.`). `p1` (`0.04`), `p2` (`5.`), `p3` (`140.`).
    - `v_init` (mV; `-70.`, BrainPy's initial value), `u_init` (`b * v_init`).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'hard'`), `detach_reset` (`False`).

    For inputs of order one, use [`eqsnn.neurons.Izhikevich.unit_scale`][].
    """

    a: ParamLike = param(0.02, unit="1/ms", constraint="positive", doc="recovery rate")
    b: ParamLike = param(0.2, doc="recovery sensitivity")
    c: ParamLike = param(-65.0, unit="mV", doc="reset potential")
    d: ParamLike = param(8.0, doc="spike-triggered recovery increment")
    v_th: ParamLike = param(30.0, unit="mV", doc="spike cut-off")
    p1: ParamLike = param(0.04, doc="quadratic coefficient")
    p2: ParamLike = param(5.0, doc="linear coefficient")
    p3: ParamLike = param(140.0, doc="constant term")
    v_init: ParamLike = param(-70.0, unit="mV", doc="initial potential")
    u_init: ParamLike = param(None, doc="initial recovery variable (default: b * v_init)")
    reset: str = eqx.field(default="hard", kw_only=True, static=True)
    param_relations: ClassVar[tuple[tuple[str, str], ...]] = (("c", "v_th"),)

    @classmethod
    def unit_scale(cls, shape: int | tuple[int, ...], **overrides: Any) -> Izhikevich:
        r"""An Izhikevich neuron for inputs of order one, stepped at `dt = 1` ms
        (the step of Izhikevich 2003).

        The BrainPy defaults measured from rest in units of the cut-off
        distance $v_{th} - v_{rest} = 30 - (-70) = 100$ mV: with
        $v' = (v + 70)/100$ and $u' = (u + 70 b)/100$ (zero at rest, where
        $u = bv = -70 b$), the equations keep their form,
        $\dot v' = 100 p_1 v'^2 + (p_2 - 140 p_1) v' + p_3' - u' + I/100$ with
        $p_3' = (p_1 \cdot 70^2 - 70 p_2 + p_3 + 70 b)/100 = 0$, and
        $\dot u' = a\,(b v' - u')$, so

        - `p1 = 4.`, `p2 = -0.6`, `p3 = 0.`, `v_th = 1`, `v_init = 0` (rest,
          hence `u_init = b * v_init = 0`);
        - `c = 0.05` (the reset, -65 mV), `d = 0.08`;
        - `a = 0.02`, `b = 0.2` unchanged, `dt = 1.` ms, `reset = 'hard'`.

        The spiking behaviour is BrainPy's with the input multiplied by 100:
        a constant input fires above $0.04$ (4 mV), an input of order one
        fires fast at first, then slower as $u$ builds up.

        **Arguments:** `shape`; `**overrides`: any constructor argument,
        applied last (Izhikevich has no `tau`: its recovery time constant is
        `1 / a` ms).
        """
        kwargs: dict[str, Any] = dict(
            a=0.02, b=0.2, c=0.05, d=0.08, v_th=1.0, p1=4.0, p2=-0.6, p3=0.0, v_init=0.0, dt=1.0, reset="hard"
        )
        kwargs.update(overrides)
        return cls(shape, **kwargs)

    def dv(
        self, v: Float[Array, "*shape"], u: Float[Array, "*shape"], x: Float[ArrayLike, "..."]
    ) -> Float[Array, "*shape"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        vb = jnp.minimum(v, self.v_th)  # bounded above the threshold: finite under any input
        return self.p1 * vb * vb + self.p2 * vb + self.p3 - u + x

    def init_state(self, *, key: PRNGKeyArray | None = None) -> IzhikevichState:
        u_init = self.b * self.v_init if self.u_init is None else self.u_init
        return IzhikevichState(v=self._full(self.v_init), u=self._full(u_init), spike=self._zeros())

    def step(
        self, state: IzhikevichState, x: Float[ArrayLike, "..."]
    ) -> tuple[IzhikevichState, Float[Array, "*shape"]]:
        x = self._check_step(state, IzhikevichState, x)
        v = exp_euler_auto(lambda v: self.dv(v, state.u, x), state.v, self.dt)
        u = exp_euler(state.u, self.b * state.v, self.dt, 1.0 / jnp.asarray(self.a))
        spike, v = self._spike(v, self.c)
        return IzhikevichState(v=v, u=u + self.d * spike, spike=spike), spike
