"""Non-spiking read-out dynamics."""

from __future__ import annotations

import equinox as eqx

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray, RealScalarLike
from ._base import DEFAULT_DT, AbstractNeuron, decay, exp_euler


class LeakyState(eqx.Module):
    """State of [`eqsnn.neurons.Leaky`][] and [`eqsnn.neurons.Integrator`][]:
    the value `x`, `[size]`."""

    x: Float[Array, " n"]


class Leaky(AbstractNeuron):
    r"""Leaky read-out (BrainPy's `Leaky`): an exponentially decaying trace
    to which each step's input is added once (not scaled by `dt`).

    $$ x_t = e^{-\Delta t / \tau}\, x_{t-1} + I_t $$

    **Arguments** (units; default): `size`; `tau` (ms; `10.`); `dt` (ms; `0.1`).
    Input: `[size]` or scalar; output: `x` `[size]`.
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    dt: RealScalarLike

    def __init__(self, size: int, *, tau: ParamLike = 10.0, dt: RealScalarLike = DEFAULT_DT):
        self.size, self.tau, self.dt = size, tau, dt
        self._check_common(dict(tau=tau), positive=("tau",))

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LeakyState:
        return LeakyState(x=self._zeros())

    def step(self, state: LeakyState, x: Float[ArrayLike, "..."]) -> tuple[LeakyState, Float[Array, " n"]]:
        x = self._check_step(state, LeakyState, x)
        new = decay(self.dt, self.tau) * state.x + x
        return LeakyState(x=new), new


class Integrator(AbstractNeuron):
    r"""Continuous-time leaky integrator (BrainPy's `Integrator`).

    $$ \tau \frac{dx}{dt} = -x + I(t) $$

    Exponential Euler, exact for input held constant over a step:
    $x \leftarrow I + (x - I) e^{-\Delta t/\tau}$.

    **Arguments** (units; default): `size`; `tau` (ms; `10.`); `dt` (ms; `0.1`).
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    dt: RealScalarLike

    def __init__(self, size: int, *, tau: ParamLike = 10.0, dt: RealScalarLike = DEFAULT_DT):
        self.size, self.tau, self.dt = size, tau, dt
        self._check_common(dict(tau=tau), positive=("tau",))

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LeakyState:
        return LeakyState(x=self._zeros())

    def step(self, state: LeakyState, x: Float[ArrayLike, "..."]) -> tuple[LeakyState, Float[Array, " n"]]:
        x = self._check_step(state, LeakyState, x)
        new = exp_euler(state.x, x, self.dt, self.tau)
        return LeakyState(x=new), new
