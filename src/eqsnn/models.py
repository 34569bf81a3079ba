"""Ready-made networks, composed of eqsnn's parts."""

from __future__ import annotations

from typing import Any

import jax

from ._custom_types import PRNGKeyArray, RealScalarLike
from ._graph import Graph, GraphState
from ._neurons._leaky import Leaky
from ._neurons._lif import LifRef
from ._nn._linear import Linear
from ._population import DEFAULT_DT
from ._projection import Projection
from ._surrogate import AbstractSurrogate
from ._synapses import Expon


def SNN(
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
) -> Graph:
    r"""The network of BrainPy's BPTT tutorial: one hidden layer of LIF neurons with
    current-based exponential synapses and a leaky read-out, as an [`eqsnn.Graph`][].

    Per step $t$ (BrainPy's update order):

    $$ g^{in}_t = e^{-\Delta t/\tau_s} g^{in}_{t-1} + W_{in}^\top x_t + b_{in}, \qquad
       g^{out}_t = e^{-\Delta t/\tau_s} g^{out}_{t-1} + W_{out}^\top s_{t-1} + b_{out} $$
    $$ v_t, s_t = \mathrm{LifRef}(v_{t-1}, I = g^{in}_t), \qquad
       y_t = e^{-\Delta t/\tau_o} y_{t-1} + g^{out}_t $$

    The read-out sees the hidden spikes of the previous step (a delayed edge
    `r -> r2o`); the hidden layer sees the current step's input. The nodes are
    `i2r` and `r2o` ([`eqsnn.Projection`][]s of a [`eqsnn.nn.Linear`][] and
    an [`eqsnn.synapses.Expon`][]), `r` ([`eqsnn.neurons.LifRef`][]) and `o`
    ([`eqsnn.neurons.Leaky`][]), so `model.i2r.comm.weight` is the input
    weight and `state["r"].spike` the hidden spikes.

    **Arguments** (units; default):

    - `num_in`, `num_hidden`, `num_out`: sizes.
    - `key`: PRNG key for the two `Linear` layers (He-normal init).
    - `dt`: step (ms; `0.1`).
    - `tau_mem`: hidden membrane time constant (ms; `10.`); `v_th` (mV; `1.`),
      `v_rest = v_reset = 0` mV; `tau_ref` (ms; `0.`).
    - `tau_syn`: both synapses' time constant (ms; `10.`).
    - `tau_out`: read-out time constant (ms; `5.`).
    - `spike_fn`: surrogate (default `InvSquare(100.)`).

    Input: `[num_in]` per step (spikes or currents), or an
    [`eqsnn.nn.SpikeSteps`][] for the whole sequence (event-driven: each
    spike adds one row of $W_{in}$, the `[T, num_in]` train is never built);
    output: the read-out `[num_out]`.
    """
    k1, k2 = jax.random.split(key)
    hidden = LifRef(num_hidden, tau=tau_mem, v_rest=0.0, v_reset=0.0, v_th=v_th, tau_ref=tau_ref, dt=dt,
                    spike_fn=spike_fn)  # fmt: skip
    return Graph(
        nodes={
            "i2r": Projection(Linear(num_in, num_hidden, key=k1), Expon(num_hidden, tau=tau_syn, dt=dt)),
            "r": hidden,
            "r2o": Projection(Linear(num_hidden, num_out, key=k2), Expon(num_out, tau=tau_syn, dt=dt)),
            "o": Leaky(num_out, tau=tau_out, dt=dt),
        },
        edges=[("input", "i2r"), ("i2r", "r"), ("r2o", "o")],
        delayed=[("r", "r2o")],
        output="o",
    )


def hidden_spikes(state: GraphState) -> dict[str, Any]:
    """A monitor for [`eqsnn.models.SNN`][]: `{'r.spike': state["r"].spike}`."""
    return {"r.spike": state["r"].spike}
