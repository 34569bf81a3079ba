"""Non-spiking read-out dynamics."""

from __future__ import annotations

import equinox as eqx

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray
from .._integrate import decay, exp_euler
from .._params import param
from .._population import AbstractNeuron


class LeakyState(eqx.Module):
    """State of [`eqsnn.neurons.Leaky`][] and [`eqsnn.neurons.Integrator`][]:
    the value `x`, of the population's shape."""

    x: Float[Array, "*shape"]


class Leaky(AbstractNeuron[LeakyState]):
    r"""Leaky read-out (BrainPy's `Leaky`): an exponentially decaying trace
    to which each step's input is added once (not scaled by `dt`).

    $$ x_t = e^{-\Delta t / \tau}\, x_{t-1} + I_t $$

    **Arguments** (units; default): `shape` (an int or a tuple); `tau` (ms;
    `10.`); `dt` (ms; `0.1`). Input: of `shape` or a scalar; output: `x`.
    """

    tau: ParamLike = param(10.0, unit="ms", constraint="positive", doc="time constant")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LeakyState:
        return LeakyState(x=self._zeros())

    def step(self, state: LeakyState, x: Float[ArrayLike, "..."]) -> tuple[LeakyState, Float[Array, "*shape"]]:
        x = self._check_step(state, LeakyState, x)
        new = decay(self.dt, self.tau) * state.x + x
        return LeakyState(x=new), new


class Integrator(AbstractNeuron[LeakyState]):
    r"""Continuous-time leaky integrator (BrainPy's `Integrator`).

    $$ \tau \frac{dx}{dt} = -x + I(t) $$

    Exponential Euler, exact for input held constant over a step:
    $x \leftarrow I + (x - I) e^{-\Delta t/\tau}$.

    **Arguments** (units; default): `shape` (an int or a tuple); `tau` (ms;
    `10.`); `dt` (ms; `0.1`).
    """

    tau: ParamLike = param(10.0, unit="ms", constraint="positive", doc="time constant")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LeakyState:
        return LeakyState(x=self._zeros())

    def step(self, state: LeakyState, x: Float[ArrayLike, "..."]) -> tuple[LeakyState, Float[Array, "*shape"]]:
        x = self._check_step(state, LeakyState, x)
        new = exp_euler(state.x, x, self.dt, self.tau)
        return LeakyState(x=new), new
