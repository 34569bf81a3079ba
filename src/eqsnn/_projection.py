"""Align-post projections: comm -> syn -> out, as one dynamics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._core import AbstractComposition, AbstractDynamics, AbstractStateless, as_dynamics, is_stateless
from ._custom_types import Array, Float, PRNGKeyArray
from ._errors import check_input
from ._outputs import CUBA, AbstractOutput


class Projection(AbstractComposition[Any, Any, Any]):
    r"""BrainPy's align-post projection (`HalfProjAlignPost`), as a pure dynamics.

    $$ c_t = \mathrm{comm}(s^{pre}_t), \qquad g_t = \mathrm{syn}(g_{t-1}, c_t),
       \qquad I_t = \mathrm{out}(g_t, V^{post}) $$

    The state is the synapse's state. The input is the presynaptic activity
    $s^{pre}_t$; for an output that depends on the postsynaptic potential
    ([`eqsnn.outputs.COBA`][], [`eqsnn.outputs.MgBlock`][]) it is the pair
    `(pre, post_v)`, which an [`eqsnn.Graph`][] builds with
    `reads={"proj": ("post", lambda s: s.v)}`.

    **Hoisting.** `comm` is stateless: for a current-based output,
    [`eqsnn.run`][] (and a graph) applies it to the whole presynaptic
    sequence at once ([`eqsnn.nn.Linear`][]'s event-driven form included).

    **Arguments:** `comm` (a stateless layer such as [`eqsnn.nn.Linear`][],
    or any callable), `syn` (a synapse such as [`eqsnn.synapses.Expon`][]),
    `out` (default [`eqsnn.outputs.CUBA`][]).
    """

    comm: AbstractDynamics
    syn: AbstractDynamics
    out: AbstractOutput

    def __init__(self, comm: Any, syn: AbstractDynamics, out: AbstractOutput | None = None):
        comm = as_dynamics(comm, where="Projection", name="comm")
        if not is_stateless(comm):
            raise TypeError(f"Projection: `comm` must be a stateless layer (e.g. nn.Linear), got {type(comm).__name__}")
        if not isinstance(syn, AbstractDynamics) or is_stateless(syn):
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

    def _split(self, x: Any) -> tuple[Any, Any]:
        if self.out.needs_potential:
            if not (isinstance(x, tuple) and len(x) == 2):
                raise TypeError(
                    f"Projection: with {type(self.out).__name__} the input must be the pair (pre, post_v), "
                    f"got {type(x).__name__}"
                )
            return x
        return x, None

    def step(self, state: Any, x: Any) -> tuple[Any, Float[Array, "*shape"]]:
        pre, post_v = self._split(x)
        return self._syn_out(state, self.comm.step(None, pre)[1], post_v)

    def _syn_out(self, state: Any, c: Any, post_v: Any) -> tuple[Any, Any]:
        state, g = self.syn.step(state, c)
        if post_v is not None:
            # the potential of the postsynaptic population: a batch or another population would broadcast
            shape = getattr(self.syn, "shape", None)
            post_v = check_input("post_v", post_v, None if shape is None else tuple(shape), owner="Projection")
        return state, self.out(g, post_v)

    def _hoist(self) -> tuple[Callable[[Any], Any] | None, AbstractDynamics]:
        if self.out.needs_potential or not isinstance(self.comm, AbstractStateless):
            return None, self
        return self.comm.over_sequence, _ProjectionBody(self)


class _ProjectionBody(AbstractDynamics[Any, Any, Any]):
    """A current-based projection after its hoisted `comm`: the synapse and the output."""

    proj: Projection

    def init_state(self, *, key: PRNGKeyArray | None = None) -> Any:
        return self.proj.init_state(key=key)

    def step(self, state: Any, c: Any) -> tuple[Any, Any]:
        return self.proj._syn_out(state, c, None)
