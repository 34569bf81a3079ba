"""Synaptic outputs: how a conductance becomes a current."""

from __future__ import annotations

import abc

import equinox as eqx

from ._custom_types import Array, Float, ParamLike


class AbstractOutput(eqx.Module):
    r"""Maps a conductance $g$ and the postsynaptic potential $V$ (mV) to a
    current: `out(g, v) -> current`, all `[size]`."""

    @abc.abstractmethod
    def __call__(self, g: Float[Array, " n"], v: Float[Array, "..."]) -> Float[Array, " n"]:
        """The synaptic current."""


class CUBA(AbstractOutput):
    r"""Current-based output (BrainPy's `CUBA`): $I = g$. The potential is ignored."""

    def __call__(self, g: Float[Array, " n"], v: Float[Array, "..."]) -> Float[Array, " n"]:
        return g
