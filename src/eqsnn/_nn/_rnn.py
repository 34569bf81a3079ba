"""Recurrent cells (LSTM, GRU, Elman RNN) as dynamics with explicit state."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.nn as jnn
import jax.numpy as jnp

from .._core import AbstractDynamics
from .._custom_types import Array, Float, PRNGKeyArray
from .._errors import check_choice, check_size


def _check_vector(name: str, x: Array, size: int, owner: str) -> None:
    if not hasattr(x, "dtype") or not jnp.issubdtype(x.dtype, jnp.floating):
        dtype = getattr(x, "dtype", type(x).__name__)
        raise TypeError(f"{owner}: `{name}` must be a floating array, got dtype {dtype}")
    if x.shape != (size,):
        raise ValueError(
            f"{owner}: `{name}` must have shape ({size},) (one sample, no batch axis; vmap for batches), "
            f"got shape {tuple(x.shape)}"
        )


def _check_hidden(name: str, h: object, size: int, owner: str) -> None:
    shape = getattr(h, "shape", None)
    if shape != (size,):
        raise TypeError(
            f"{owner}: `{name}` must be a hidden vector of shape ({size},) (from init_state), "
            f"got {type(h).__name__} with shape {shape}"
        )


class LSTMState(eqx.Module):
    """State of [`eqsnn.nn.LSTMCell`][]: hidden vector `h` and cell vector `c`,
    each `[hidden_size]`."""

    h: Float[Array, " hidden"]
    c: Float[Array, " hidden"]


class LSTMCell(AbstractDynamics[LSTMState, Array, Array]):
    r"""Long short-term memory cell (BrainPy's `LSTMCell`, Equinox's `eqx.nn.LSTMCell`).

    $$ \begin{aligned}
       [i, f, g, o] &= W_{ih} x_t + b + W_{hh} h_{t-1} \\
       c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g) \\
       h_t &= \sigma(o) \odot \tanh(c_t)
       \end{aligned} $$

    The state is [`eqsnn.nn.LSTMState`][] `(h, c)`, zeros at rest; the output
    of a step is $h_t$. The parameters are those of the wrapped
    `eqx.nn.LSTMCell` (field `cell`): `weight_ih` `[4H, in]`, `weight_hh`
    `[4H, H]`, `bias` `[4H]`, initialised uniformly in
    $\pm 1/\sqrt{H}$.

    **Arguments:**

    - `input_size`, `hidden_size`: sizes.
    - `use_bias`: whether to add `bias` (default `True`).
    - `key`: PRNG key for the initialisation (keyword-only).

    !!! example

        ```python
        model = eqsnn.Sequential(LSTMCell(28, 100, key=k1), Linear(100, 10, key=k2))
        _, ys = eqsnn.run(model, xs)  # xs: [T, 28] -> ys: [T, 10]
        ```
    """

    cell: eqx.nn.LSTMCell
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)

    def __init__(self, input_size: int, hidden_size: int, *, use_bias: bool = True, key: PRNGKeyArray):
        self.input_size = check_size("input_size", input_size, owner="LSTMCell")
        self.hidden_size = check_size("hidden_size", hidden_size, owner="LSTMCell")
        self.cell = eqx.nn.LSTMCell(input_size, hidden_size, use_bias=use_bias, key=key)

    def init_state(self, *, key: PRNGKeyArray | None = None) -> LSTMState:
        zeros = jnp.zeros((self.hidden_size,), self.cell.weight_hh.dtype)
        return LSTMState(h=zeros, c=zeros)

    def _input_projection(self, x: Array) -> Array:
        u = x @ self.cell.weight_ih.T
        return u if self.cell.bias is None else u + self.cell.bias

    def step(self, state: LSTMState, x: Float[Array, " in"]) -> tuple[LSTMState, Float[Array, " hidden"]]:
        _check_vector("x", x, self.input_size, "LSTMCell")
        if not isinstance(state, LSTMState):
            raise TypeError(f"LSTMCell: `state` must be an LSTMState (from init_state), got {type(state).__name__}")
        _check_hidden("state.h", state.h, self.hidden_size, "LSTMCell")
        _check_hidden("state.c", state.c, self.hidden_size, "LSTMCell")
        lin = self._input_projection(x) + self.cell.weight_hh @ state.h
        i, f, g, o = jnp.split(lin, 4)
        c = jnn.sigmoid(f) * state.c + jnn.sigmoid(i) * jnp.tanh(g)
        h = jnn.sigmoid(o) * jnp.tanh(c)
        return LSTMState(h=h, c=c), h


class GRUCell(AbstractDynamics[Array, Array, Array]):
    r"""Gated recurrent unit (BrainPy's `GRUCell`, Equinox's `eqx.nn.GRUCell`).

    $$ \begin{aligned}
       [a_r, a_z, a_n] &= W_{ih} x_t + b, \qquad [\hat a_r, \hat a_z, \hat a_n] = W_{hh} h_{t-1} \\
       r &= \sigma(a_r + \hat a_r), \quad z = \sigma(a_z + \hat a_z) \\
       n &= \tanh\big(a_n + r \odot (\hat a_n + b_n)\big) \\
       h_t &= n + z \odot (h_{t-1} - n)
       \end{aligned} $$

    The state is the hidden vector $h$ `[hidden_size]` (zeros at rest), which
    is also the output. Parameters are those of the wrapped `eqx.nn.GRUCell`
    (field `cell`), initialised uniformly in $\pm 1/\sqrt{H}$.

    **Arguments:** `input_size`, `hidden_size`; `use_bias` (default `True`);
    `key` (keyword-only).
    """

    cell: eqx.nn.GRUCell
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)

    def __init__(self, input_size: int, hidden_size: int, *, use_bias: bool = True, key: PRNGKeyArray):
        self.input_size = check_size("input_size", input_size, owner="GRUCell")
        self.hidden_size = check_size("hidden_size", hidden_size, owner="GRUCell")
        self.cell = eqx.nn.GRUCell(input_size, hidden_size, use_bias=use_bias, key=key)

    def init_state(self, *, key: PRNGKeyArray | None = None) -> Float[Array, " hidden"]:
        return jnp.zeros((self.hidden_size,), self.cell.weight_hh.dtype)

    def _input_projection(self, x: Array) -> Array:
        u = x @ self.cell.weight_ih.T
        return u if self.cell.bias is None else u + self.cell.bias

    def step(self, state: Float[Array, " hidden"], x: Float[Array, " in"]) -> tuple[Array, Float[Array, " hidden"]]:
        _check_vector("x", x, self.input_size, "GRUCell")
        _check_hidden("state", state, self.hidden_size, "GRUCell")
        u = self._input_projection(x)
        hg = self.cell.weight_hh @ state
        ir, iz, in_ = jnp.split(u, 3)
        hr, hz, hn = jnp.split(hg, 3)
        bias_n = 0.0 if self.cell.bias_n is None else self.cell.bias_n
        r = jnn.sigmoid(ir + hr)
        z = jnn.sigmoid(iz + hz)
        n = jnp.tanh(in_ + r * (hn + bias_n))
        h = n + z * (state - n)
        return h, h


class RNNCell(AbstractDynamics[Array, Array, Array]):
    r"""Elman recurrent cell (BrainPy's `RNNCell`).

    $$ h_t = \phi\big(W_{ih} x_t + W_{hh} h_{t-1} + b\big), \qquad \phi = \tanh \text{ (default) or ReLU} $$

    The state is the hidden vector $h$ `[hidden_size]` (zeros at rest), which
    is also the output.

    **Arguments:**

    - `input_size`, `hidden_size`: sizes.
    - `use_bias`: default `True`.
    - `nonlinearity`: `'tanh'` (default) or `'relu'`.
    - `key`: keyword-only. Weights and bias are uniform in $\pm 1/\sqrt{H}$
      (as Equinox's and PyTorch's cells).
    """

    weight_ih: Float[Array, "hidden in"]
    weight_hh: Float[Array, "hidden hidden"]
    bias: Float[Array, " hidden"] | None
    input_size: int = eqx.field(static=True)
    hidden_size: int = eqx.field(static=True)
    nonlinearity: str = eqx.field(static=True)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        use_bias: bool = True,
        nonlinearity: str = "tanh",
        key: PRNGKeyArray,
    ):
        self.input_size = check_size("input_size", input_size, owner="RNNCell")
        self.hidden_size = check_size("hidden_size", hidden_size, owner="RNNCell")
        check_choice("nonlinearity", nonlinearity, ("tanh", "relu"), owner="RNNCell")
        self.nonlinearity = nonlinearity
        lim = 1.0 / math.sqrt(hidden_size)
        kih, khh, kb = jax.random.split(key, 3)
        self.weight_ih = jax.random.uniform(kih, (hidden_size, input_size), minval=-lim, maxval=lim)
        self.weight_hh = jax.random.uniform(khh, (hidden_size, hidden_size), minval=-lim, maxval=lim)
        self.bias = jax.random.uniform(kb, (hidden_size,), minval=-lim, maxval=lim) if use_bias else None

    def init_state(self, *, key: PRNGKeyArray | None = None) -> Float[Array, " hidden"]:
        return jnp.zeros((self.hidden_size,), self.weight_hh.dtype)

    def _input_projection(self, x: Array) -> Array:
        u = x @ self.weight_ih.T
        return u if self.bias is None else u + self.bias

    def step(self, state: Float[Array, " hidden"], x: Float[Array, " in"]) -> tuple[Array, Float[Array, " hidden"]]:
        _check_vector("x", x, self.input_size, "RNNCell")
        _check_hidden("state", state, self.hidden_size, "RNNCell")
        a = self._input_projection(x) + self.weight_hh @ state
        h = jnp.tanh(a) if self.nonlinearity == "tanh" else jnn.relu(a)
        return h, h
