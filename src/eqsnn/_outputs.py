"""Synaptic outputs: how a conductance becomes a current."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp

from ._custom_types import Array, Float, ParamLike
from ._params import check_param, iter_params, param, strong_type


def _required(*, unit: str, constraint: str = "real", doc: str = "") -> Any:
    """A declared parameter without a default, which may be given positionally
    (`param` declares keyword-only parameters with a default)."""
    declared = param(dataclasses.MISSING, unit=unit, constraint=constraint, doc=doc)
    meta = {k: v for k, v in declared.metadata.items() if k != "converter"}
    return eqx.field(converter=strong_type, metadata=meta)


class AbstractOutput(eqx.Module):
    r"""Maps a conductance $g$ and the postsynaptic potential $V$ (mV) to a
    current: `out(g, v) -> current`, all of the postsynaptic population's shape.

    Parameters are declared with [`eqsnn.param`][], as a population's; this
    class's `__check_init__` validates every declared parameter of every
    subclass (a real, finite number or float array meeting its constraint), of
    any shape that broadcasts against the postsynaptic population.

    `needs_potential` (a class attribute) says whether the current depends on
    $V$; a [`eqsnn.Projection`][] with such an output takes `(pre, post_v)`.
    """

    needs_potential: ClassVar[bool] = True

    def __check_init__(self) -> None:
        owner = type(self).__name__
        for name, spec, value in iter_params(self):
            check_param(owner, name, spec, value, None)

    @abc.abstractmethod
    def __call__(self, g: Float[Array, "*shape"], v: Float[Array, "..."] | None) -> Float[Array, "*shape"]:
        """The synaptic current (`v` is `None` when `needs_potential` is false)."""


class CUBA(AbstractOutput):
    r"""Current-based output (BrainPy's `CUBA`): $I = g$. The potential is ignored."""

    needs_potential: ClassVar[bool] = False

    def __call__(self, g: Float[Array, "*shape"], v: Float[Array, "..."] | None = None) -> Float[Array, "*shape"]:
        return g


class COBA(AbstractOutput):
    r"""Conductance-based output (BrainPy's `COBA`).

    $$ I = g\,(E - V) $$

    The current is depolarising (positive) when $V < E$ and reverses sign at
    $V = E$.

    **Arguments** (units): `e`: the reversal potential $E$ (mV; required, as
    BrainPy; e.g. `0.` for excitatory AMPA, `-80.` for GABA-A), a scalar or
    an array broadcastable to the postsynaptic shape; an inexact array is trained.
    """

    e: ParamLike = _required(unit="mV", doc="reversal potential")

    def __call__(self, g: Float[Array, "*shape"], v: Float[Array, "..."]) -> Float[Array, "*shape"]:
        return g * (self.e - v)


class MgBlock(AbstractOutput):
    r"""Conductance-based output with a voltage-dependent magnesium block
    (BrainPy's `MgBlock`, Jahr & Stevens 1990), for [`eqsnn.synapses.NMDA`][].

    $$ I = \frac{g\,(E - V)}{1 + \frac{[Mg^{2+}]_o}{\beta}\, e^{\alpha (V_{offset} - V)}} $$

    **Arguments** (units; default, as BrainPy), all keyword-only, scalars or
    arrays broadcastable to the postsynaptic shape: `e`: reversal potential
    (mV; `0.`); `cc_mg`: extracellular magnesium concentration (mM; `1.2`);
    `alpha` (1/mV; `0.062`); `beta` (mM; `3.57`); `v_offset` (mV; `0.`).
    """

    e: ParamLike = param(0.0, unit="mV", doc="reversal potential")
    cc_mg: ParamLike = param(1.2, unit="mM", constraint="nonnegative", doc="extracellular magnesium concentration")
    alpha: ParamLike = param(0.062, unit="1/mV", doc="voltage sensitivity of the block")
    beta: ParamLike = param(3.57, unit="mM", constraint="positive", doc="magnesium sensitivity of the block")
    v_offset: ParamLike = param(0.0, unit="mV", doc="voltage offset of the block")

    def unblocked(self, v: Float[Array, "..."]) -> Float[Array, "..."]:
        r"""The unblocked fraction $\big(1 + \frac{[Mg]}{\beta} e^{\alpha (V_{offset} - V)}\big)^{-1}$."""
        return 1.0 / (1.0 + self.cc_mg / self.beta * jnp.exp(self.alpha * (self.v_offset - v)))

    def __call__(self, g: Float[Array, "*shape"], v: Float[Array, "..."]) -> Float[Array, "*shape"]:
        return g * (self.e - v) * self.unblocked(v)
