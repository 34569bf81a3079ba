"""Stateless communication layers: weighted maps from presynaptic to postsynaptic."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._core import AbstractDynamics
from .._custom_types import Array, Float, PRNGKeyArray
from .._errors import check_size

Initializer = Callable[..., Array]


class AbstractStateless(AbstractDynamics[None, Array, Array]):
    """A layer without state: `init_state()` is `None` and `step(None, x)`
    returns `(None, layer(x))`."""

    def init_state(self, *, key: PRNGKeyArray | None = None) -> None:
        return None

    def step(self, state: None, x: Float[Array, "..."]) -> tuple[None, Float[Array, "..."]]:
        if state is not None:
            raise TypeError(f"{type(self).__name__}: `state` must be None (a stateless layer), got {type(state).__name__}")
        return None, self(x)

    def __call__(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        raise NotImplementedError


class Linear(AbstractStateless):
    r"""Dense map (BrainPy's `dnn.Linear`).

    $$ y = x W + b, \qquad W \in \mathbb{R}^{n_{in} \times n_{out}} $$

    **Arguments:**

    - `in_features`, `out_features`: sizes.
    - `key`: PRNG key for the initialisers (keyword-only).
    - `w_init`: a `jax.nn.initializers` function of `(key, shape, dtype)`;
      default `he_normal()` (variance $2/n_{in}$, truncated normal: BrainPy's
      `KaimingNormal(scale=2.)`).
    - `b_init`: default `zeros`; `use_bias` (`True`).

    Input `[in_features]` (or any `[..., in_features]`); output `[out_features]`.
    """

    weight: Float[Array, "in out"]
    bias: Float[Array, " out"] | None
    in_features: int = eqx.field(static=True)
    out_features: int = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        key: PRNGKeyArray,
        w_init: Initializer = jax.nn.initializers.he_normal(),
        b_init: Initializer = jax.nn.initializers.zeros,
        use_bias: bool = True,
    ):
        self.in_features = check_size("in_features", in_features, owner="Linear")
        self.out_features = check_size("out_features", out_features, owner="Linear")
        wkey, bkey = jax.random.split(key)
        self.weight = w_init(wkey, (in_features, out_features), jnp.zeros(()).dtype)
        self.bias = b_init(bkey, (out_features,), jnp.zeros(()).dtype) if use_bias else None

    def __call__(self, x: Float[Array, "... in"]) -> Float[Array, "... out"]:
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear: `x` must end with in_features={self.in_features}, got shape {tuple(x.shape)}"
            )
        y = x @ self.weight
        return y if self.bias is None else y + self.bias
