r"""The small layers NIR needs that eqsnn's core has no exact counterpart for.

Each is an ordinary eqsnn dynamics (trainable, jittable, vmappable); [`eqsnn.nir.from_nir`][]
builds networks of them and [`eqsnn.nir.to_nir`][] exports them back.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ._core import AbstractStateless
from ._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray
from ._neurons._leaky import Integrator, LeakyState
from ._neurons._lif import LIF
from ._params import param
from ._population import AbstractNeuron, default_spike_fn
from ._surrogate import AbstractSurrogate


class Scale(AbstractStateless):
    r"""Element-wise scale and offset: $y = s \odot x + b$ (NIR's `Scale` when $b$ is absent).

    In front of an [`eqsnn.neurons.Integrator`][] it gives NIR's leaky integrator
    ($s = R$, $b = v_{leak}$) or the input weight $w_{in}$ of a current-based neuron.

    **Arguments:** `scale` (an array, trained), `offset` (an array or `None`, default `None`).
    """

    scale: Float[ArrayLike, "..."]
    offset: Float[ArrayLike, "..."] | None = None

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        y = jnp.asarray(x) * self.scale
        return y if self.offset is None else y + self.offset


class Identity(AbstractStateless):
    r"""$y = x$, broadcast to `shape`.

    [`eqsnn.nir.from_nir`][] puts one at the source of a recurrent (delayed) edge whose
    source has no shape of its own (a weight matrix), because an [`eqsnn.Graph`][] must know
    the shape of a delayed edge before the first step; [`eqsnn.nir.to_nir`][] removes it.

    **Arguments:** `shape`, a tuple of ints.
    """

    shape: tuple[int, ...] = eqx.field(static=True)

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return jnp.broadcast_to(jnp.asarray(x), self.shape)


class Flatten(AbstractStateless):
    r"""Merge the axes `start_dim` to `end_dim` (inclusive) of one sample into one (NIR's `Flatten`).

    The axes are those of one sample (no batch axis), as NIR's `input_type`.

    **Arguments:** `start_dim` (default `0`), `end_dim` (default `-1`).
    """

    start_dim: int = eqx.field(default=0, static=True)
    end_dim: int = eqx.field(default=-1, static=True)

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        x = jnp.asarray(x)
        start = self.start_dim % x.ndim
        end = self.end_dim % x.ndim
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])


class Threshold(AbstractStateless):
    r"""A spike where the input reaches a threshold: $z = S(x - \theta)$ (NIR's `Threshold`).

    $S$ is the Heaviside step forward (so $z = 1$ for $x \ge \theta$) and a surrogate backward.

    **Arguments:** `threshold` (an array), `spike_fn` (default `InvSquare(100.)`).
    """

    threshold: Float[ArrayLike, "..."]
    spike_fn: AbstractSurrogate = eqx.field(default_factory=default_spike_fn)

    def __call__(self, x: Float[ArrayLike, "..."]) -> Float[Array, "..."]:
        return self.spike_fn(jnp.asarray(x) - self.threshold)


class SumPool2d(AbstractStateless):
    r"""Sum over windows of a `[C, H, W]` input (NIR's `SumPool2d`), zero-padded.

    **Arguments:** `kernel_size`, `stride`, `padding`: pairs of ints (height, width).
    """

    kernel_size: tuple[int, int] = eqx.field(static=True)
    stride: tuple[int, int] = eqx.field(static=True)
    padding: tuple[int, int] = eqx.field(static=True)

    def __call__(self, x: Float[ArrayLike, "C H W"]) -> Float[Array, "C h w"]:
        x = jnp.asarray(x)
        pad = ((0, 0), (self.padding[0], self.padding[0]), (self.padding[1], self.padding[1]))
        return jax.lax.reduce_window(
            x, jnp.zeros((), x.dtype), jax.lax.add, (1, *self.kernel_size), (1, *self.stride), pad
        )


class Integrate(AbstractNeuron[LeakyState]):
    r"""A perfect integrator (NIR's `I`): $\frac{dx}{dt} = R\, I(t)$, $x \leftarrow x + \Delta t\, R\, I$.

    Exact for input held constant over a step (so the same in both of
    [`eqsnn.nir.from_nir`][]'s methods). Output: $x$.

    **Arguments** (units; default): `shape`; `r` (1/ms; `1.`); `dt` (ms; `0.1`).
    """

    r: ParamLike = param(1.0, unit="1/ms", doc="gain")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LeakyState:
        return LeakyState(x=self._zeros())

    def step(self, state: LeakyState, x: Float[ArrayLike, "..."]) -> tuple[LeakyState, Float[Array, "*shape"]]:
        x = self._check_step(state, LeakyState, x)
        new = state.x + self.dt * self.r * x
        return LeakyState(x=new), new


class EulerLIF(LIF):
    r"""[`eqsnn.neurons.LIF`][] integrated by forward Euler instead of exactly.

    $$ v \leftarrow v + \frac{\Delta t}{\tau}\big(v_{rest} - v + R\, I\big) $$

    then spike and reset as `LIF`. This is the update snnTorch's `Leaky` and Norse's
    `LIFBox` run; [`eqsnn.nir.from_nir`][] builds it with `method="euler"`.
    """

    def integrate(self, v: Float[Array, "*shape"], x: Float[ArrayLike, "..."]) -> Float[Array, "*shape"]:
        return v + self.dt / self.tau * (self.v_rest + self.r * x - v)


class EulerIntegrator(Integrator):
    r"""[`eqsnn.neurons.Integrator`][] integrated by forward Euler instead of exactly.

    $$ x \leftarrow x + \frac{\Delta t}{\tau}\big(I - x\big) $$
    """

    def step(self, state: LeakyState, x: Float[ArrayLike, "..."]) -> tuple[LeakyState, Float[Array, "*shape"]]:
        x = self._check_step(state, LeakyState, x)
        new = state.x + self.dt / self.tau * (x - state.x)
        return LeakyState(x=new), new
