"""Type aliases used across eqsnn (one place, as in Diffrax)."""

from typing import TypeAlias

from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree

#: A real scalar hyper-parameter: a Python number (not trained) or a
#: floating array (trained when it is an inexact array leaf).
RealScalarLike: TypeAlias = float | int | Float[ArrayLike, ""]

#: A per-neuron parameter: a scalar or one value per neuron.
ParamLike: TypeAlias = float | int | Float[ArrayLike, ""] | Float[ArrayLike, " n"]

__all__ = [
    "Array",
    "ArrayLike",
    "Bool",
    "Float",
    "Int",
    "PRNGKeyArray",
    "PyTree",
    "RealScalarLike",
    "ParamLike",
]
