"""Ready-made networks built from eqsnn's parts."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._core import AbstractDynamics
from ._custom_types import Array, ArrayLike, Float, PRNGKeyArray, RealScalarLike
from ._neurons._base import DEFAULT_DT
from ._neurons._leaky import Leaky, LeakyState
from ._neurons._lif import LifRef, LifRefState
from ._nn._event import SpikeSteps
from ._nn._linear import Linear
from ._outputs import CUBA
from ._projection import Projection
from ._surrogate import AbstractSurrogate
from ._synapses import Expon, ExponState


class SNNState(eqx.Module):
    """State of [`eqsnn.models.SNN`][]: the input synapse `i2r`, the
    hidden-to-output synapse `r2o`, the hidden neurons `r` and the read-out
    `o` (so `state.r.spike` is the hidden layer's spikes)."""

    i2r: ExponState
    r2o: ExponState
    r: LifRefState
    o: LeakyState


class SNN(AbstractDynamics[SNNState, Array, Array]):
    r"""A one-hidden-layer spiking network with current-based exponential
    synapses and a leaky read-out (the network of BrainPy's BPTT tutorial).

    Per step $t$, in this order (BrainPy's update order):

    $$ g^{in}_t = e^{-\Delta t/\tau_s} g^{in}_{t-1} + W_{in}^\top x_t + b_{in}, \qquad
       g^{out}_t = e^{-\Delta t/\tau_s} g^{out}_{t-1} + W_{out}^\top s_{t-1} + b_{out} $$
    $$ v_t, s_t = \mathrm{LifRef}(v_{t-1}, I = g^{in}_t), \qquad
       y_t = e^{-\Delta t/\tau_o} y_{t-1} + g^{out}_t $$

    The read-out sees the hidden spikes of the previous step; the hidden layer
    sees the current step's input.

    **Arguments** (units; default):

    - `num_in`, `num_hidden`, `num_out`: sizes.
    - `key`: PRNG key for the two `Linear` layers (He-normal init).
    - `dt`: step (ms; `0.1`).
    - `tau_mem`: hidden membrane time constant (ms; `10.`); `v_th` (mV; `1.`),
      `v_rest = v_reset = 0` mV; `tau_ref` (ms; `0.`).
    - `tau_syn`: both synapses' time constant (ms; `10.`).
    - `tau_out`: read-out time constant (ms; `5.`).
    - `spike_fn`: surrogate (default `InvSquare(100.)`).

    Input: `[num_in]` per step (spikes or currents); output: read-out `[num_out]`.

    **Event-driven input.** Given an [`eqsnn.nn.SpikeSteps`][] (a spike-once
    code such as a latency code, as spike steps) instead of a dense spike
    train, `prepare_inputs` projects it with [`eqsnn.nn.event_matmul`][]:
    each spike adds one row of $W_{in}$, and the `[T, num_in]` train is never
    built. Same values and gradients as the dense path; `eqsnn.run(model,
    SpikeSteps(latency_steps(x, T), T))` is the fast way to run a latency-coded
    sample.
    """

    i2r: Projection
    r2o: Projection
    r: LifRef
    o: Leaky

    def __init__(
        self,
        num_in: int,
        num_hidden: int,
        num_out: int,
        *,
        key: PRNGKeyArray,
        dt: RealScalarLike = DEFAULT_DT,
        tau_mem: RealScalarLike = 10.0,
        tau_syn: RealScalarLike = 10.0,
        tau_out: RealScalarLike = 5.0,
        v_th: RealScalarLike = 1.0,
        tau_ref: RealScalarLike = 0.0,
        spike_fn: AbstractSurrogate | None = None,
    ):
        k1, k2 = jax.random.split(key)
        self.r = LifRef(
            num_hidden, tau=tau_mem, v_rest=0.0, v_reset=0.0, v_th=v_th, tau_ref=tau_ref, dt=dt, spike_fn=spike_fn
        )
        self.o = Leaky(num_out, tau=tau_out, dt=dt)
        self.i2r = Projection(Linear(num_in, num_hidden, key=k1), Expon(num_hidden, tau=tau_syn, dt=dt), CUBA())
        self.r2o = Projection(Linear(num_hidden, num_out, key=k2), Expon(num_out, tau=tau_syn, dt=dt), CUBA())

    def init_state(self, *, key: PRNGKeyArray | None = None) -> SNNState:
        return SNNState(
            i2r=self.i2r.init_state(), r2o=self.r2o.init_state(), r=self.r.init_state(), o=self.o.init_state()
        )

    def step(self, state: SNNState, x: Float[ArrayLike, " n_in"]) -> tuple[SNNState, Float[Array, " n_out"]]:
        return self.step_prepared(state, self.prepare_inputs(jnp.asarray(x)[None])[0])

    def prepare_inputs(self, xs: Float[Array, "T n_in"] | SpikeSteps) -> Float[Array, "T n_hidden"]:
        """The input projection for the whole sequence at once (the input
        `Linear`'s fast path: one matmul, or event-driven for `SpikeSteps`)."""
        return self.i2r.prepare_inputs(xs)

    def step_prepared(self, state: SNNState, u: Float[Array, " n_hidden"]) -> tuple[SNNState, Float[Array, " n_out"]]:
        i2r, i_r = self.i2r.step_prepared(state.i2r, u, state.r.v)
        r2o, i_o = self.r2o.step(state.r2o, state.r.spike, state.o.x)
        r, _ = self.r.step(state.r, i_r)
        o, y = self.o.step(state.o, i_o)
        return SNNState(i2r=i2r, r2o=r2o, r=r, o=o), y


def hidden_spikes(state: SNNState) -> dict[str, Any]:
    """A monitor for [`eqsnn.models.SNN`][]: `{'r.spike': state.r.spike}`."""
    return {"r.spike": state.r.spike}
