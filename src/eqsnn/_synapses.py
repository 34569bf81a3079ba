"""Synaptic dynamics in the postsynaptic dimension (align-post)."""

from __future__ import annotations

import equinox as eqx

from ._custom_types import Array, Float, ParamLike, PRNGKeyArray, RealScalarLike
from ._neurons._base import DEFAULT_DT, AbstractNeuron, decay


class AbstractSynapse(AbstractNeuron):
    r"""A synaptic variable per postsynaptic neuron.

    `step(state, x)` takes the communication output $x_t$ (weighted
    presynaptic spikes, `[size]`) and returns the conductance $g_t$ `[size]`,
    which an output ([`eqsnn.outputs.CUBA`][], ...) turns into a current.
    """


class ExponState(eqx.Module):
    """State of [`eqsnn.synapses.Expon`][]: the conductance `g`, `[size]`."""

    g: Float[Array, " n"]


class Expon(AbstractSynapse):
    r"""Exponentially decaying synapse (BrainPy's `Expon`).

    $$ \tau \frac{dg}{dt} = -g + \sum_k \delta(t - t_k)\, w, \qquad
       g_t = e^{-\Delta t/\tau} g_{t-1} + x_t $$

    The decay is exact; the input $x_t$ (the projection's communication output
    at step $t$, bias included) is added once per step.

    **Arguments** (units; default): `size`; `tau` (ms; `8.`, as BrainPy);
    `dt` (ms; `0.1`).
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    dt: RealScalarLike

    def __init__(self, size: int, *, tau: ParamLike = 8.0, dt: RealScalarLike = DEFAULT_DT):
        self.size, self.tau, self.dt = size, tau, dt
        self._check_common(dict(tau=tau), positive=("tau",))

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ExponState:
        return ExponState(g=self._zeros())

    def step(self, state: ExponState, x: Float[Array, "..."]) -> tuple[ExponState, Float[Array, " n"]]:
        x = self._check_step(state, ExponState, x)
        g = decay(self.dt, self.tau) * state.g + x
        return ExponState(g=g), g
