r"""Populations: neurons and synapses of any shape, with declared parameters.

A population of `shape` (an int or a tuple) acts element-wise, so
`LIF((8, 32, 32))` follows a convolution without reshaping. Its parameters
are declared once on the class with [`eqsnn.param`][]; the base class's
`__check_init__` validates every declared parameter of every subclass, a
user's own included.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, TypeVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._core import AbstractDynamics
from ._custom_types import Array, Float, ParamLike
from ._errors import check_input, check_state
from ._params import check_param, check_relations, iter_params, param
from ._surrogate import AbstractSurrogate, InvSquare

__all__ = [
    "DEFAULT_DT",
    "AbstractPopulation",
    "AbstractNeuron",
    "AbstractSpikingNeuron",
    "AbstractSynapse",
    "default_spike_fn",
]

State = TypeVar("State")

#: The default step (ms), as in BrainPy.
DEFAULT_DT = 0.1


def _as_shape(shape: Any) -> Any:
    """`4` -> `(4,)`; tuples of ints stay; anything else is left for `__check_init__` to reject."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        return (int(shape),)
    if isinstance(shape, (tuple, list)) and all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape
    ):
        return tuple(int(s) for s in shape)
    return shape


def default_spike_fn() -> AbstractSurrogate:
    """BrainPy's default surrogate, `InvSquare(alpha=100.)`."""
    return InvSquare(100.0)


def _spike_fn_or_default(spike_fn: Any) -> Any:
    return default_spike_fn() if spike_fn is None else spike_fn


class AbstractPopulation(AbstractDynamics[State, Array, Array]):
    r"""A population of neurons or synapses of any `shape`, for one sample, stepped by `dt` ms.

    **Fields every population has:**

    - `shape`: an int or a tuple of ints (stored as a tuple); the population
      acts element-wise, and its state arrays have this shape.
    - `dt`: the step (ms; default `0.1`, as BrainPy), a positive scalar.

    Subclasses declare their parameters with [`eqsnn.param`][]; the dataclass
    `__init__` takes them as keyword arguments, and `__check_init__` (here,
    inherited by every subclass) validates them all. The input `x` of `step`
    is a scalar or an array of `shape`.
    """

    #: Cross-parameter relations `(low, high)`, `low < high` element-wise, checked after
    #: the parameters themselves (see [`eqsnn.neurons.AbstractSpikingNeuron`][]).
    param_relations: ClassVar[tuple[tuple[str, str], ...]] = ()

    shape: tuple[int, ...] = eqx.field(static=True, converter=_as_shape)
    dt: ParamLike = param(DEFAULT_DT, unit="ms", constraint="positive", scalar=True, doc="integration step")

    def __check_init__(self) -> None:
        owner = type(self).__name__
        shape = self.shape
        if not (isinstance(shape, tuple) and len(shape) > 0 and all(isinstance(s, int) and s > 0 for s in shape)):
            raise ValueError(f"{owner}: `shape` must be a positive int or a tuple of positive ints, got {shape!r}")
        for name, spec, value in iter_params(self):
            check_param(owner, name, spec, value, shape)
        check_relations(owner, self)  # after each parameter is known to be valid

    @property
    def size(self) -> int:
        """The number of elements, $\\prod$ `shape`."""
        return math.prod(self.shape)

    def _zeros(self) -> Float[Array, "*shape"]:
        return jnp.zeros(self.shape)

    def _full(self, value: Any) -> Float[Array, "*shape"]:
        return jnp.broadcast_to(jnp.asarray(value, dtype=jnp.zeros(()).dtype), self.shape)

    def _check_step(self, state: Any, state_type: type, x: Any) -> Float[Array, "..."]:
        owner = type(self).__name__
        check_state("state", state, state_type, owner=owner, shape=self.shape)
        return check_input("x", x, self.shape, owner=owner)


class AbstractNeuron(AbstractPopulation[State]):
    """A population of neurons (spiking or not: [`eqsnn.neurons.Leaky`][] is a neuron)."""


class AbstractSpikingNeuron(AbstractNeuron[State]):
    r"""A neuron that emits spikes $s = S(v - v_{th}) \in \{0, 1\}$ through a surrogate.

    **Fields every spiking neuron has** (declared here once):

    - `spike_fn`: an [`eqsnn.surrogate.AbstractSurrogate`][] (default
      `InvSquare(100.)`, BrainPy's).
    - `reset`: `'soft'` (default; $v \leftarrow v - (v_{th} - v_{reset}) s$)
      or `'hard'` ($v \leftarrow v_{reset}$ where $s = 1$).
    - `detach_reset`: whether the reset carries no gradient (default `False`).

    A subclass must also have a threshold `v_th` (mV).

    **Relations** (`param_relations`, checked by `__check_init__` for every
    subclass): `v_reset < v_th` element-wise, since a reset at or above the
    threshold fires every step (or, with the non-linear models, diverges). A
    subclass whose reset has another name declares its own pair, as
    [`eqsnn.neurons.Izhikevich`][] does with `("c", "v_th")`.
    """

    param_relations: ClassVar[tuple[tuple[str, str], ...]] = (("v_reset", "v_th"),)

    spike_fn: AbstractSurrogate = eqx.field(default=None, kw_only=True, converter=_spike_fn_or_default)
    reset: str = eqx.field(default="soft", kw_only=True, static=True)
    detach_reset: bool = eqx.field(default=False, kw_only=True, static=True)
    v_th: eqx.AbstractVar[Any]

    def __check_init__(self) -> None:
        owner = type(self).__name__
        if not isinstance(self.reset, str) or self.reset not in ("soft", "hard"):
            raise ValueError(f"{owner}: `reset` must be one of ('soft', 'hard'), got {self.reset!r}")
        if not isinstance(self.detach_reset, (bool, np.bool_)):
            raise TypeError(f"{owner}: `detach_reset` must be a bool, got {self.detach_reset!r}")
        if not isinstance(self.spike_fn, AbstractSurrogate):
            raise TypeError(
                f"{owner}: `spike_fn` must be an eqsnn.surrogate module (e.g. InvSquare(100.)), "
                f"got {type(self.spike_fn).__name__}"
            )


class AbstractSynapse(AbstractPopulation[State]):
    r"""A synaptic variable per postsynaptic element (align-post).

    `step(state, x)` takes the communication output $x_t$ (weighted
    presynaptic spikes, of `shape`) and returns the conductance $g_t$, which
    an output ([`eqsnn.outputs.CUBA`][], ...) turns into a current.
    """
