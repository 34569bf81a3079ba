"""Align-post projections: comm -> syn -> out."""

from __future__ import annotations

from typing import Any

import equinox as eqx

from ._core import AbstractDynamics
from ._custom_types import Array, Float, PRNGKeyArray
from ._outputs import CUBA, AbstractOutput


class Projection(eqx.Module):
    r"""BrainPy's align-post projection (`HalfProjAlignPost`), as a pure module.

    $$ c_t = \mathrm{comm}(s^{pre}_t), \qquad (g_t) = \mathrm{syn}(g_{t-1}, c_t),
       \qquad I_t = \mathrm{out}(g_t, V^{post}) $$

    `step(state, pre_spike, post_v) -> (state, current)`; the state is the
    synapse's state. The enclosing model decides the update order (which
    presynaptic spikes, which postsynaptic potential), as a BrainPy `update`
    does.

    **Fast path:** `comm` is stateless, so `prepare_inputs(pre_seq)` hands a
    whole presynaptic sequence to `comm.prepare_inputs` at once, and
    `step_prepared(state, c_t, post_v)` continues from its output.

    **Arguments:** `comm` (a stateless dynamics such as
    [`eqsnn.nn.Linear`][]), `syn` (a synapse such as
    [`eqsnn.synapses.Expon`][]), `out` (default [`eqsnn.outputs.CUBA`][]).
    """

    comm: AbstractDynamics
    syn: AbstractDynamics
    out: AbstractOutput

    def __init__(self, comm: AbstractDynamics, syn: AbstractDynamics, out: AbstractOutput | None = None):
        if not isinstance(comm, AbstractDynamics) or comm.init_state() is not None:
            raise TypeError(
                f"Projection: `comm` must be a stateless eqsnn layer (e.g. nn.Linear), got {type(comm).__name__}"
            )
        if not isinstance(syn, AbstractDynamics):
            raise TypeError(
                f"Projection: `syn` must be an eqsnn synapse (e.g. synapses.Expon), got {type(syn).__name__}"
            )
        out = CUBA() if out is None else out
        if not isinstance(out, AbstractOutput):
            raise TypeError(
                f"Projection: `out` must be an eqsnn output (e.g. outputs.CUBA()), got {type(out).__name__}"
            )
        self.comm, self.syn, self.out = comm, syn, out

    def init_state(self, *, key: PRNGKeyArray | None = None) -> Any:
        return self.syn.init_state(key=key)

    def step(
        self, state: Any, pre_spike: Float[Array, "..."], post_v: Float[Array, "..."]
    ) -> tuple[Any, Float[Array, " n"]]:
        _, c = self.comm.step(None, pre_spike)
        return self._syn_out(state, c, post_v)

    def prepare_inputs(self, pre_seq: Any) -> Float[Array, "T ..."]:
        """The communication output for a whole presynaptic sequence: `comm`'s
        own sequence fast path (e.g. the event-driven projection of
        [`eqsnn.nn.SpikeSteps`][] by [`eqsnn.nn.Linear`][])."""
        return self.comm.prepare_inputs(pre_seq)

    def step_prepared(
        self, state: Any, c: Float[Array, "..."], post_v: Float[Array, "..."]
    ) -> tuple[Any, Float[Array, " n"]]:
        _, c = self.comm.step_prepared(None, c)  # the rest of comm's step, if its fast path left any
        return self._syn_out(state, c, post_v)

    def _syn_out(self, state: Any, c: Any, post_v: Any) -> tuple[Any, Any]:
        state, g = self.syn.step(state, c)
        return state, self.out(g, post_v)
