"""Stateless communication layers: weighted maps from presynaptic to postsynaptic."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._core import AbstractSequence, AbstractStateless
from .._custom_types import Array, ArrayLike, Bool, Float, PRNGKeyArray, RealScalarLike
from .._errors import check_callable, check_input, check_param_shape, check_size

Initializer = Callable[..., Array]

#: BrainPy's `KaimingNormal(scale=2.)`: variance 2 / fan_in, truncated normal.
HE_NORMAL: Initializer = jax.nn.initializers.he_normal()


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
        w_init: Initializer = HE_NORMAL,
        b_init: Initializer = jax.nn.initializers.zeros,
        use_bias: bool = True,
    ):
        self.in_features = check_size("in_features", in_features, owner="Linear")
        self.out_features = check_size("out_features", out_features, owner="Linear")
        check_callable("w_init", w_init, owner="Linear"), check_callable("b_init", b_init, owner="Linear")
        wkey, bkey = jax.random.split(key)
        self.weight = w_init(wkey, (in_features, out_features), jnp.zeros(()).dtype)
        self.bias = b_init(bkey, (out_features,), jnp.zeros(()).dtype) if use_bias else None

    def __call__(self, x: Float[Array, "... in"]) -> Float[Array, "... out"]:
        x = check_input("x", x, None, owner="Linear")
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear: `x` must end with in_features={self.in_features}, got shape {tuple(x.shape)}")
        y = x @ self.weight
        return y if self.bias is None else y + self.bias

    def over_sequence(self, xs: Float[Array, "T in"] | AbstractSequence) -> Float[Array, "T out"]:
        r"""The projection of a whole input sequence: one matmul for `[T, in]`
        arrays; an [`eqsnn.AbstractSequence`][] computes $x W$ itself
        (`matmul`), so for [`eqsnn.nn.SpikeSteps`][] each spike adds one row of
        $W$ and the `[T, in]` spike train is never built."""
        if isinstance(xs, AbstractSequence):
            u = xs.matmul(self.weight)
            return u if self.bias is None else u + self.bias
        return super().over_sequence(xs)


class OneToOne(AbstractStateless):
    r"""Element-wise map (BrainPy's `dnn.OneToOne`): neuron $i$ projects to neuron $i$ only.

    $$ y_i = w_i\, x_i $$

    **Arguments:**

    - `size`: the number of neurons on both sides.
    - `weight`: a scalar or an array `[size]` (default `1.`). A Python number is
      a fixed hyper-parameter; an inexact array is trained.

    Input `[size]` (or any `[..., size]`); output of the same shape.
    """

    weight: float | int | Float[ArrayLike, ""] | Float[ArrayLike, " size"]
    size: int = eqx.field(static=True)

    def __init__(self, size: int, *, weight: float | int | Float[ArrayLike, ""] | Float[ArrayLike, " size"] = 1.0):
        self.size = check_size("size", size, owner="OneToOne")
        check_param_shape("weight", weight, self.size, owner="OneToOne")
        self.weight = weight

    def __call__(self, x: Float[Array, "... size"]) -> Float[Array, "... size"]:
        x = check_input("x", x, None, owner="OneToOne")
        if x.shape[-1:] != (self.size,):
            raise ValueError(f"OneToOne: `x` must end with size={self.size}, got shape {tuple(x.shape)}")
        return x * self.weight


class FixedProb(AbstractStateless):
    r"""Sparse random connection with a fixed connection probability (BrainPy's
    `conn.FixedProb` with a dense weight matrix).

    $$ y = x\,(W \odot M), \qquad M_{ij} \sim \mathrm{Bernoulli}(p) \text{ i.i.d.} $$

    The mask $M$ is drawn once from `key` at construction and stored as a
    boolean array, which is not an inexact array: it is never trained, and
    `eqx.partition(layer, eqx.is_inexact_array)` leaves it out. Gradients flow
    only to the present connections ($\partial y / \partial W_{ij} = 0$ where
    $M_{ij} = 0$), so absent entries of $W$ never change under training.

    **Arguments:**

    - `in_features`, `out_features`: sizes. `prob`: connection probability in (0, 1].
    - `key`: PRNG key (keyword-only) for the mask and the initialiser.
    - `weight`: a scalar (every connection the same; a Python number is fixed,
      a 0-d inexact array is trained) or an array `[in_features, out_features]`.
      Default `None`: drawn with `w_init`.
    - `w_init`: a `jax.nn.initializers` function of `(key, shape, dtype)`; default
      He-normal for the expected fan-in $p\, n_{in}$
      (`variance_scaling(2 / prob, 'fan_in', 'truncated_normal')`).

    Input `[in_features]` (or any `[..., in_features]`); output `[out_features]`.
    """

    weight: float | int | Float[ArrayLike, ""] | Float[ArrayLike, "in out"]
    mask: Bool[Array, "in out"]
    prob: float = eqx.field(static=True)
    in_features: int = eqx.field(static=True)
    out_features: int = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        prob: RealScalarLike,
        *,
        key: PRNGKeyArray,
        weight: float | int | Float[ArrayLike, ""] | Float[ArrayLike, "in out"] | None = None,
        w_init: Initializer | None = None,
    ):
        self.in_features = check_size("in_features", in_features, owner="FixedProb")
        self.out_features = check_size("out_features", out_features, owner="FixedProb")
        if isinstance(prob, bool) or not isinstance(prob, (int, float, np.integer, np.floating)) or not 0 < prob <= 1:
            raise ValueError(f"FixedProb: `prob` must be a number in (0, 1], got {prob!r}")
        self.prob = float(prob)
        if w_init is not None:
            check_callable("w_init", w_init, owner="FixedProb")
        mkey, wkey = jax.random.split(key)
        shape = (in_features, out_features)
        self.mask = jax.random.bernoulli(mkey, self.prob, shape)
        if weight is None:
            init = jax.nn.initializers.variance_scaling(2.0 / self.prob, "fan_in", "truncated_normal")
            init = init if w_init is None else w_init
            weight = init(wkey, shape, jnp.zeros(()).dtype)
        elif np.shape(weight) not in ((), shape):
            raise ValueError(
                f"FixedProb: `weight` must be a scalar or have shape {shape}, got shape {np.shape(weight)}"
            )
        self.weight = weight

    def effective_weight(self) -> Float[Array, "in out"]:
        """The masked weight matrix $W \\odot M$."""
        return jnp.where(self.mask, self.weight, 0.0)

    def __call__(self, x: Float[Array, "... in"]) -> Float[Array, "... out"]:
        x = check_input("x", x, None, owner="FixedProb")
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"FixedProb: `x` must end with in_features={self.in_features}, got shape {tuple(x.shape)}")
        return x @ self.effective_weight()
