"""Type aliases used across eqsnn (one place, as in Diffrax)."""

from typing import Any, TypeAlias

from jaxtyping import Array, ArrayLike, Bool, Float, Int, PRNGKeyArray, PyTree

#: A real scalar hyper-parameter: a Python number (not trained) or a
#: floating array (trained when it is an inexact array leaf).
RealScalarLike: TypeAlias = float | int | Float[ArrayLike, ""]

#: A population parameter: a real number, a float array broadcastable to the
#: population's shape, or a reparameterised array (`eqsnn.positive`, `paramax`
#: wrappers). It is `Any` to the type checker on purpose: declared parameters are
#: validated by `eqsnn.AbstractPopulation.__check_init__` (one path, whose errors
#: name the class, the argument, the expected and the received value), which
#: accepts exactly the values above.
ParamLike: TypeAlias = Any

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
