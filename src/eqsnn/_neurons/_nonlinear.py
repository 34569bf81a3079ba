r"""Integrate-and-fire neurons with non-linear sub-threshold dynamics.

All are integrated with BrainPy's default `exp_auto` scheme (exponential Euler
with the automatic linearisation of each variable's own right-hand side):

$$ x \leftarrow x + \Delta t\, \varphi(\Delta t\, J)\, f(x), \qquad
   J = \frac{\partial f}{\partial x}, \qquad \varphi(z) = \frac{e^z - 1}{z}, $$

where the other variables are held at their values from the start of the
step. It is exact when $f$ is affine in $x$; for one variable under constant
input it is the exponential Rosenbrock-Euler method (second order); with
coupled variables frozen over the step it is first order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray, RealScalarLike
from .._surrogate import AbstractSurrogate
from ._base import DEFAULT_DT, AbstractSpikingNeuron, default_spike_fn, exp_euler, spike_and_reset


def exprel(z: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    r"""$\varphi(z) = (e^z - 1)/z$, with $\varphi(0) = 1$; finite value and gradient everywhere."""
    small = jnp.abs(z) < 1e-4
    z_safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2.0 + z * z / 6.0, jnp.expm1(z_safe) / z_safe)


def exp_euler_auto(f: Callable[[Array], Array], x: Float[Array, " n"], dt: RealScalarLike) -> Float[Array, " n"]:
    r"""One exponential-Euler step of $\dot x = f(x)$ for an element-wise $f$,
    linearised automatically (BrainPy's `exp_auto`):

    $$ x \leftarrow x + \Delta t\, \frac{e^{\Delta t J} - 1}{\Delta t J}\, f(x),
       \qquad J = \partial f / \partial x \text{ (by forward-mode autodiff)}. $$

    Exact when $f$ is affine in $x$. `f` must act element-wise (its Jacobian
    diagonal), so that one JVP with a tangent of ones yields $J$.
    """
    fx, jac = jax.jvp(f, (x,), (jnp.ones_like(x),))
    return x + dt * exprel(dt * jac) * fx


class ExpIFState(eqx.Module):
    """State of [`eqsnn.neurons.ExpIF`][] and [`eqsnn.neurons.QuaIF`][]:
    membrane potential `v` (mV) and the last step's spikes `spike` (0/1), each `[size]`."""

    v: Float[Array, " n"]
    spike: Float[Array, " n"]


class AdExState(eqx.Module):
    """State of [`eqsnn.neurons.AdEx`][]: `v` (mV), the adaptation current `w`
    and the last step's spikes `spike` (0/1), each `[size]`."""

    v: Float[Array, " n"]
    w: Float[Array, " n"]
    spike: Float[Array, " n"]


class IzhikevichState(eqx.Module):
    """State of [`eqsnn.neurons.Izhikevich`][]: `v` (mV), the recovery
    variable `u` and the last step's spikes `spike` (0/1), each `[size]`."""

    v: Float[Array, " n"]
    u: Float[Array, " n"]
    spike: Float[Array, " n"]


class _NonlinearIF(AbstractSpikingNeuron):
    """Shared construction of the one- and two-variable non-linear IF neurons."""

    def _setup(self, size: int, dt: Any, spike_fn: Any, reset: str, detach_reset: bool, **params: Any) -> None:
        self.size = size
        for name, value in params.items():
            setattr(self, name, value)
        self.dt = dt
        self.spike_fn = default_spike_fn() if spike_fn is None else spike_fn
        self.reset, self.detach_reset = reset, detach_reset

    def _spike(self, v: Float[Array, " n"], v_reset: Any) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        return spike_and_reset(v, self.v_th, v_reset, self.spike_fn, self.reset, self.detach_reset)


class ExpIF(_NonlinearIF):
    r"""Exponential integrate-and-fire neuron (Fourcaud-Trocmé et al. 2003; BrainPy's `ExpIF`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + \Delta_T\, e^{(v - v_T)/\Delta_T} + R\, I(t),
       \qquad s = H(v - v_{th}) $$

    **Integrator:** exponential Euler with automatic linearisation (BrainPy's
    `exp_auto`, see [`eqsnn.neurons.exp_euler_auto`][]), then spike and reset
    (soft: $v \leftarrow v - (v_{th} - v_{reset}) s$; hard: $v \leftarrow v_{reset}$).

    **Arguments** (units; default, as BrainPy):

    - `size`: number of neurons.
    - `tau`: membrane time constant (ms; `10.`). `r`: resistance (`1.`).
    - `v_rest`: resting potential (mV; `-65.`). `v_reset`: reset (mV; `-68.`).
    - `v_th`: numerical spike threshold (mV; `-55.`). `v_t`: soft threshold of the
      exponential (mV; `-59.9`). `delta_t`: slope factor (mV; `3.48`).
    - `v_init`: initial potential (mV; `v_rest`; BrainPy starts at `0.`, above
      threshold, which fires at once).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'soft'`), `detach_reset` (`False`).
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    r: ParamLike
    v_rest: ParamLike
    v_reset: ParamLike
    v_th: ParamLike
    v_t: ParamLike
    delta_t: ParamLike
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
        v_rest: ParamLike = -65.0,
        v_reset: ParamLike = -68.0,
        v_th: ParamLike = -55.0,
        v_t: ParamLike = -59.9,
        delta_t: ParamLike = 3.48,
        v_init: ParamLike | None = None,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
        reset: str = "soft",
        detach_reset: bool = False,
    ):
        v_init = v_rest if v_init is None else v_init
        params = dict(tau=tau, r=r, v_rest=v_rest, v_reset=v_reset, v_th=v_th, v_t=v_t, delta_t=delta_t, v_init=v_init)
        self._setup(size, dt, spike_fn, reset, detach_reset, **params)
        self._check_common(params, positive=("tau", "delta_t"))

    def dv(self, v: Float[Array, " n"], x: Float[ArrayLike, "..."]) -> Float[Array, " n"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        exp_v = self.delta_t * jnp.exp((v - self.v_t) / self.delta_t)
        return (-(v - self.v_rest) + exp_v + self.r * x) / self.tau

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ExpIFState:
        return ExpIFState(v=self._full(self.v_init), spike=self._zeros())

    def step(self, state: ExpIFState, x: Float[ArrayLike, "..."]) -> tuple[ExpIFState, Float[Array, " n"]]:
        x = self._check_step(state, ExpIFState, x)
        v = exp_euler_auto(lambda v: self.dv(v, x), state.v, self.dt)
        spike, v = self._spike(v, self.v_reset)
        return ExpIFState(v=v, spike=spike), spike


class AdEx(_NonlinearIF):
    r"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005; BrainPy's `AdExIF`).

    $$ \tau \frac{dv}{dt} = -(v - v_{rest}) + \Delta_T\, e^{(v - v_T)/\Delta_T} - R\, w + R\, I(t), $$
    $$ \tau_w \frac{dw}{dt} = a\,(v - v_{rest}) - w, \qquad
       s = H(v - v_{th}),\quad w \leftarrow w + b\, s $$

    **Integrator:** exponential Euler with automatic linearisation for $v$
    (with $w$ held at its old value) and exact exponential Euler for $w$ (with
    $v$ held at its old value), as BrainPy's `exp_auto`; then spike, reset of
    $v$ (soft/hard) and $w \leftarrow w + b s$.

    **Arguments** (units; default, as BrainPy):

    - `size`; `tau` (ms; `10.`); `tau_w` (ms; `30.`); `r` (`1.`).
    - `a`: sub-threshold adaptation (`1.`). `b`: spike-triggered adaptation (`1.`).
    - `v_rest` (mV; `-65.`), `v_reset` (mV; `-68.`), `v_th` (mV; `-55.`),
      `v_t` (mV; `-59.9`), `delta_t` (mV; `3.48`).
    - `v_init` (mV; `v_rest`; BrainPy starts at `0.`), `w_init` (`0.`).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'soft'`), `detach_reset` (`False`).
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    tau_w: ParamLike
    r: ParamLike
    a: ParamLike
    b: ParamLike
    v_rest: ParamLike
    v_reset: ParamLike
    v_th: ParamLike
    v_t: ParamLike
    delta_t: ParamLike
    v_init: ParamLike
    w_init: ParamLike
    dt: RealScalarLike
    spike_fn: AbstractSurrogate
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        size: int,
        *,
        tau: ParamLike = 10.0,
        tau_w: ParamLike = 30.0,
        r: ParamLike = 1.0,
        a: ParamLike = 1.0,
        b: ParamLike = 1.0,
        v_rest: ParamLike = -65.0,
        v_reset: ParamLike = -68.0,
        v_th: ParamLike = -55.0,
        v_t: ParamLike = -59.9,
        delta_t: ParamLike = 3.48,
        v_init: ParamLike | None = None,
        w_init: ParamLike = 0.0,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
        reset: str = "soft",
        detach_reset: bool = False,
    ):
        v_init = v_rest if v_init is None else v_init
        params = dict(
            tau=tau,
            tau_w=tau_w,
            r=r,
            a=a,
            b=b,
            v_rest=v_rest,
            v_reset=v_reset,
            v_th=v_th,
            v_t=v_t,
            delta_t=delta_t,
            v_init=v_init,
            w_init=w_init,
        )
        self._setup(size, dt, spike_fn, reset, detach_reset, **params)
        self._check_common(params, positive=("tau", "tau_w", "delta_t"))

    def dv(self, v: Float[Array, " n"], w: Float[Array, " n"], x: Float[ArrayLike, "..."]) -> Float[Array, " n"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        exp_v = self.delta_t * jnp.exp((v - self.v_t) / self.delta_t)
        return (-(v - self.v_rest) + exp_v - self.r * w + self.r * x) / self.tau

    def init_state(self, *, key: PRNGKeyArray | None = None) -> AdExState:
        return AdExState(v=self._full(self.v_init), w=self._full(self.w_init), spike=self._zeros())

    def step(self, state: AdExState, x: Float[ArrayLike, "..."]) -> tuple[AdExState, Float[Array, " n"]]:
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

    - `size`; `tau` (ms; `10.`); `r` (`1.`).
    - `c`: curvature (1/mV; `0.07`). `v_c`: critical voltage (mV; `-50.`).
    - `v_rest` (mV; `-65.`), `v_reset` (mV; `-68.`), `v_th` (mV; `-30.`).
    - `v_init` (mV; `v_rest`; BrainPy starts at `0.`).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'soft'`), `detach_reset` (`False`).
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    r: ParamLike
    c: ParamLike
    v_c: ParamLike
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
        c: ParamLike = 0.07,
        v_c: ParamLike = -50.0,
        v_rest: ParamLike = -65.0,
        v_reset: ParamLike = -68.0,
        v_th: ParamLike = -30.0,
        v_init: ParamLike | None = None,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
        reset: str = "soft",
        detach_reset: bool = False,
    ):
        v_init = v_rest if v_init is None else v_init
        params = dict(tau=tau, r=r, c=c, v_c=v_c, v_rest=v_rest, v_reset=v_reset, v_th=v_th, v_init=v_init)
        self._setup(size, dt, spike_fn, reset, detach_reset, **params)
        self._check_common(params, positive=("tau",))

    def dv(self, v: Float[Array, " n"], x: Float[ArrayLike, "..."]) -> Float[Array, " n"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        return (self.c * (v - self.v_rest) * (v - self.v_c) + self.r * x) / self.tau

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ExpIFState:
        return ExpIFState(v=self._full(self.v_init), spike=self._zeros())

    def step(self, state: ExpIFState, x: Float[ArrayLike, "..."]) -> tuple[ExpIFState, Float[Array, " n"]]:
        x = self._check_step(state, ExpIFState, x)
        v = exp_euler_auto(lambda v: self.dv(v, x), state.v, self.dt)
        spike, v = self._spike(v, self.v_reset)
        return ExpIFState(v=v, spike=spike), spike


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

    - `size`; `a` (1/ms; `0.02`); `b` (`0.2`); `c`: reset potential (mV; `-65.`);
      `d`: spike-triggered recovery increment (`8.`).
    - `v_th`: spike cut-off (mV; `30.`). `p1` (`0.04`), `p2` (`5.`), `p3` (`140.`).
    - `v_init` (mV; `-70.`, BrainPy's initial value), `u_init` (`b * v_init`).
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`), `reset` (`'hard'`), `detach_reset` (`False`).
    """

    size: int = eqx.field(static=True)
    a: ParamLike
    b: ParamLike
    c: ParamLike
    d: ParamLike
    v_th: ParamLike
    p1: ParamLike
    p2: ParamLike
    p3: ParamLike
    v_init: ParamLike
    u_init: ParamLike | None
    dt: RealScalarLike
    spike_fn: AbstractSurrogate
    reset: str = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)

    def __init__(
        self,
        size: int,
        *,
        a: ParamLike = 0.02,
        b: ParamLike = 0.2,
        c: ParamLike = -65.0,
        d: ParamLike = 8.0,
        v_th: ParamLike = 30.0,
        p1: ParamLike = 0.04,
        p2: ParamLike = 5.0,
        p3: ParamLike = 140.0,
        v_init: ParamLike = -70.0,
        u_init: ParamLike | None = None,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
        reset: str = "hard",
        detach_reset: bool = False,
    ):
        params = dict(a=a, b=b, c=c, d=d, v_th=v_th, p1=p1, p2=p2, p3=p3, v_init=v_init, u_init=u_init)
        self._setup(size, dt, spike_fn, reset, detach_reset, **params)
        params["u_init"] = 0.0 if u_init is None else u_init
        self._check_common(params, positive=("a",))

    def dv(self, v: Float[Array, " n"], u: Float[Array, " n"], x: Float[ArrayLike, "..."]) -> Float[Array, " n"]:
        """The right-hand side $dv/dt$ (mV/ms)."""
        return self.p1 * v * v + self.p2 * v + self.p3 - u + x

    def init_state(self, *, key: PRNGKeyArray | None = None) -> IzhikevichState:
        v = self._full(self.v_init)
        u = self.b * v if self.u_init is None else self._full(self.u_init)
        return IzhikevichState(v=v, u=self._full(u), spike=self._zeros())

    def step(self, state: IzhikevichState, x: Float[ArrayLike, "..."]) -> tuple[IzhikevichState, Float[Array, " n"]]:
        x = self._check_step(state, IzhikevichState, x)
        v = exp_euler_auto(lambda v: self.dv(v, state.u, x), state.v, self.dt)
        u = exp_euler(state.u, self.b * state.v, self.dt, 1.0 / jnp.asarray(self.a))
        spike, v = self._spike(v, self.c)
        return IzhikevichState(v=v, u=u + self.d * spike, spike=spike), spike
