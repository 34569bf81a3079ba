"""Synaptic outputs: how a conductance becomes a current."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._custom_types import Array, Float, ParamLike
from ._errors import check_positive, is_concrete


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


class COBA(AbstractOutput):
    r"""Conductance-based output (BrainPy's `COBA`).

    $$ I = g\,(E - V) $$

    The current is depolarising (positive) when $V < E$ and reverses sign at
    $V = E$.

    **Arguments** (units): `e`: the reversal potential $E$ (mV; required, as
    BrainPy; e.g. `0.` for excitatory AMPA, `-80.` for GABA-A), a scalar or
    `[size]`; an inexact array is trained.
    """

    e: ParamLike

    def __init__(self, e: ParamLike):
        _check_real("COBA", "e", e)
        self.e = e

    def __call__(self, g: Float[Array, " n"], v: Float[Array, "..."]) -> Float[Array, " n"]:
        return g * (self.e - v)


class MgBlock(AbstractOutput):
    r"""Conductance-based output with a voltage-dependent magnesium block
    (BrainPy's `MgBlock`, Jahr & Stevens 1990), for [`eqsnn.synapses.NMDA`][].

    $$ I = \frac{g\,(E - V)}{1 + \frac{[Mg^{2+}]_o}{\beta}\, e^{\alpha (V_{offset} - V)}} $$

    **Arguments** (units; default, as BrainPy), all keyword-only, scalars or
    `[size]`: `e`: reversal potential (mV; `0.`); `cc_mg`: extracellular
    magnesium concentration (mM; `1.2`); `alpha` (1/mV; `0.062`); `beta` (mM; `3.57`);
    `v_offset` (mV; `0.`).
    """

    e: ParamLike
    cc_mg: ParamLike
    alpha: ParamLike
    beta: ParamLike
    v_offset: ParamLike

    def __init__(
        self,
        *,
        e: ParamLike = 0.0,
        cc_mg: ParamLike = 1.2,
        alpha: ParamLike = 0.062,
        beta: ParamLike = 3.57,
        v_offset: ParamLike = 0.0,
    ):
        for name, value in dict(e=e, cc_mg=cc_mg, alpha=alpha, beta=beta, v_offset=v_offset).items():
            _check_real("MgBlock", name, value)
        check_positive("cc_mg", cc_mg, allow_zero=True, owner="MgBlock")
        check_positive("beta", beta, owner="MgBlock")
        self.e, self.cc_mg, self.alpha, self.beta, self.v_offset = e, cc_mg, alpha, beta, v_offset

    def unblocked(self, v: Float[Array, "..."]) -> Float[Array, "..."]:
        r"""The unblocked fraction $\big(1 + \frac{[Mg]}{\beta} e^{\alpha (V_{offset} - V)}\big)^{-1}$."""
        return 1.0 / (1.0 + self.cc_mg / self.beta * jnp.exp(self.alpha * (self.v_offset - v)))

    def __call__(self, g: Float[Array, " n"], v: Float[Array, "..."]) -> Float[Array, " n"]:
        return g * (self.e - v) * self.unblocked(v)


def _check_real(owner: str, name: str, value: Any) -> None:
    shape = np.shape(value)
    if len(shape) > 1:
        raise ValueError(f"{owner}: `{name}` must be a scalar or have shape (size,), got shape {shape}")
    if not np.issubdtype(np.asarray(value).dtype if is_concrete(value) else value.dtype, np.number):
        raise TypeError(f"{owner}: `{name}` must be a real number, got {value!r}")
