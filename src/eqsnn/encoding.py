r"""Spike encoders: turn analogue inputs (pixel intensities in $[0, 1]$) into spike trains.

Every encoder is a pure, vectorised, jittable function of ONE sample whose
output has time as its leading axis (`[num_steps, ...]`); `jax.vmap` over a
batch gives `[batch, num_steps, ...]`. Nothing here loops over samples in
Python.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Real, Shaped
import numpy as np

from ._custom_types import Array, ArrayLike, Float, Int, PRNGKeyArray, RealScalarLike
from ._errors import check_positive, check_size, is_concrete

__all__ = ["delta", "latency", "latency_steps", "poisson", "rows_as_sequence"]

#: Default step (ms), as everywhere in eqsnn.
DEFAULT_DT = 0.1


def _floating(name: str, x: Any, owner: str) -> Array:
    if isinstance(x, (float, int)) and not isinstance(x, bool):
        x = jnp.asarray(float(x))
    dtype = getattr(x, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        hint = " (scale 8-bit images to [0, 1] first, e.g. `images / 255`)" if dtype == np.uint8 else ""
        raise TypeError(f"{owner}: `{name}` must be a floating array with values in [0, 1], got dtype {dtype}{hint}")
    return jnp.asarray(x)


def latency_steps(
    x: Real[ArrayLike, "*shape"],
    num_steps: int,
    *,
    tau: RealScalarLike = 2.0,
    dt: RealScalarLike = DEFAULT_DT,
    threshold: RealScalarLike = 0.2,
    epsilon: float = 1e-7,
) -> Int[Array, "*shape"]:
    r"""Time-to-first-spike latency code: the step at which each input spikes.

    An input $x$ (a current, typically a pixel intensity in $[0, 1]$) drives a
    leaky integrator to threshold $\theta$ after

    $$ T(x) = \frac{\tau}{\Delta t} \log\frac{\tilde x}{\tilde x - \theta}
       \quad \text{steps}, \qquad \tilde x = \mathrm{clip}(x,\ \theta + \epsilon,\ 10^9), $$

    and spikes once, at step $\lfloor T \rfloor$ (truncation), if
    $\lfloor T \rfloor <$ `num_steps`. An input below threshold ($x < \theta$,
    or NaN) never spikes. Larger inputs spike earlier; $x \to \infty$ spikes
    at step 0.

    The defaults reproduce the usual Fashion-MNIST tutorial code
    (`tau_eff = 2 / dt = 20` steps for `dt = 0.1` ms, `thr = 0.2`, computed in
    `float32`). There, the clip is applied before the `x < thr` test, so an
    input below threshold gets $T = 20 \log((0.2 + 10^{-7}) / 10^{-7})
    \approx 290$ steps (289.3 in `float32`): identical to "no spike" whenever
    `num_steps <= 289`; here it never spikes.

    Precision: the formula is evaluated in the dtype of `x` (`float32` by
    default), with `tau / dt` and `threshold + epsilon` formed in Python
    first. In `float32` the clip bound $\theta + \epsilon$ is itself rounded
    ($\epsilon$ is about one ulp at 0.2), so inputs within $\sim 10^{-6}$ above
    threshold get $T \approx 289$ rather than the `float64` 290. Elsewhere the
    truncation differs from a `float64` evaluation only where $T$ lies within
    the rounding error of an integer (a few ulps, amplified by
    $x / (x - \theta)$ near threshold). For 8-bit images ($x = k/255$, all 256
    values checked) with the defaults, no pixel value is closer than
    $5 \cdot 10^{-3}$ steps to a boundary: `float32` and `float64` give the
    same spike steps.

    **Arguments:**

    - `x`: inputs, any shape, floating (scale 8-bit images by `1/255` first).
    - `num_steps`: length of the spike train (a positive int).
    - `tau`: time constant (ms; default `2.`).
    - `dt`: step (ms; default `0.1`).
    - `threshold`: $\theta$ (default `0.2`), `>= 0` (0: every input `>= 0` spikes at step 0).
    - `epsilon`: keeps the logarithm finite at threshold (default `1e-7`).

    **Returns:** `int32`, same shape as `x`: the spike step in
    $0, \dots,$ `num_steps - 1`, or `num_steps` for "no spike". This is the
    input of an event-driven layer; [`eqsnn.encoding.latency`][] expands it
    into a dense spike train.
    """
    owner = "latency_steps"
    x = _floating("x", x, owner)
    num_steps = check_size("num_steps", num_steps, owner=owner)
    check_positive("tau", tau, owner=owner)
    check_positive("dt", dt, owner=owner)
    check_positive("epsilon", epsilon, owner=owner)
    # a negative threshold would give log(x / (x - threshold)) < 0, i.e. negative steps
    check_positive("threshold", threshold, allow_zero=True, owner=owner)
    # tau / dt and thr + eps are formed before the cast to the dtype of x, as in the reference code.
    return _latency_kernel(x, num_steps, tau / dt, threshold, threshold + epsilon)


@functools.partial(jax.jit, static_argnums=1)
def _latency_kernel(x: Array, num_steps: int, tau_eff: Any, threshold: Any, lower: Any) -> Array:
    # Scalars take the dtype of x (weak typing), exactly as in an un-jitted evaluation.
    tau_eff, threshold, lower = (jnp.asarray(v, x.dtype) for v in (tau_eff, threshold, lower))
    xc = jnp.clip(x, lower, 1e9)
    t = tau_eff * jnp.log(xc / (xc - threshold))
    # Clamp before the cast so that no value overflows int32; T >= num_steps means "no spike".
    steps = jnp.minimum(t, num_steps).astype(jnp.int32)
    return jnp.where(x >= threshold, steps, num_steps).astype(jnp.int32)


def latency(
    x: Real[ArrayLike, "*shape"],
    num_steps: int,
    *,
    tau: RealScalarLike = 2.0,
    dt: RealScalarLike = DEFAULT_DT,
    threshold: RealScalarLike = 0.2,
    epsilon: float = 1e-7,
    dtype: Any = None,
) -> Shaped[Array, " time *shape"]:
    r"""Time-to-first-spike latency code as a dense spike train (one sample).

    $$ s_t = \begin{cases} 1 & t = \lfloor T(x) \rfloor < \text{num\_steps},\ x \ge \theta \\
       0 & \text{otherwise} \end{cases}, \qquad
       T(x) = \frac{\tau}{\Delta t} \log\frac{\tilde x}{\tilde x - \theta} $$

    with $T$, the clip and the rounding exactly as in
    [`eqsnn.encoding.latency_steps`][]: each input spikes at most once.

    **Arguments:** those of [`eqsnn.encoding.latency_steps`][] (`tau` ms,
    default `2.`; `dt` ms, default `0.1`; `threshold` default `0.2`;
    `epsilon` default `1e-7`), plus `dtype`, the output dtype (default: the
    dtype of `x`).

    **Returns:** `[num_steps, *x.shape]` of 0/1. For a batch `[B, n]`,
    `jax.vmap(lambda xi: latency(xi, T))(x)` gives `[B, T, n]`.
    """
    steps = latency_steps(x, num_steps, tau=tau, dt=dt, threshold=threshold, epsilon=epsilon)
    dtype = jnp.asarray(x).dtype if dtype is None else dtype
    t = jnp.arange(num_steps, dtype=jnp.int32).reshape((num_steps,) + (1,) * steps.ndim)
    return (t == steps[None]).astype(dtype)


def poisson(
    x: Real[ArrayLike, "*shape"],
    num_steps: int,
    *,
    key: PRNGKeyArray,
    max_rate: RealScalarLike,
    dt: RealScalarLike = DEFAULT_DT,
) -> Float[Array, " time *shape"]:
    r"""Poisson (Bernoulli per step) rate code (one sample).

    Each input fires independently at every step with probability

    $$ p = \mathrm{clip}\!\left(x \cdot r_{max} \cdot \frac{\Delta t}{1000},\ 0,\ 1\right), $$

    i.e. at rate $x \cdot r_{max}$ Hz, so the expected count over `num_steps`
    steps is `num_steps * p`. Draws are `jax.random.uniform(key, ...) < p`.

    **Arguments:**

    - `x`: inputs in $[0, 1]$, any shape, floating.
    - `num_steps`: length of the spike train (a positive int).
    - `key`: PRNG key (keyword-only; required).
    - `max_rate`: rate for $x = 1$ (Hz; required; `max_rate * dt / 1000`
      must be at most 1).
    - `dt`: step (ms; default `0.1`).

    **Returns:** `[num_steps, *x.shape]` of 0/1, in the dtype of `x`.
    """
    owner = "poisson"
    x = _floating("x", x, owner)
    num_steps = check_size("num_steps", num_steps, owner=owner)
    check_positive("max_rate", max_rate, allow_zero=True, owner=owner)
    check_positive("dt", dt, owner=owner)
    if is_concrete(max_rate) and is_concrete(dt):
        p_max = float(np.max(np.asarray(max_rate))) * float(np.max(np.asarray(dt))) / 1000.0
        if p_max > 1.0:
            raise ValueError(
                f"{owner}: `max_rate` * `dt` / 1000 (a spike probability per step) must be <= 1, "
                f"got {p_max} (max_rate={max_rate!r} Hz, dt={dt!r} ms)"
            )
    return _poisson_kernel(x, num_steps, key, max_rate * dt / 1000.0)


@functools.partial(jax.jit, static_argnums=1)
def _poisson_kernel(x: Array, num_steps: int, key: Any, p_max: Any) -> Array:
    p = jnp.clip(x * jnp.asarray(p_max, x.dtype), 0.0, 1.0)
    u = jax.random.uniform(key, (num_steps,) + x.shape, dtype=x.dtype)
    return (u < p[None]).astype(x.dtype)


def delta(
    x: Real[ArrayLike, " time *shape"],
    threshold: RealScalarLike = 0.1,
    *,
    padding: bool = False,
    off_spike: bool = False,
) -> Float[Array, " time *shape"]:
    r"""Delta (change) modulation of a time series (one sample, time first).

    With $d_t = x_t - x_{t-1}$ (the previous value of the first step is $0$,
    or $x_0$ when `padding=True`):

    $$ s_t = \mathbb{1}[d_t > \theta] \quad\text{or, with `off_spike`,}\quad
       s_t = \mathbb{1}[d_t > \theta] - \mathbb{1}[d_t < -\theta] . $$

    An input spikes when its value rises by strictly more than `threshold`
    between consecutive steps; with `off_spike=True` a fall by more than
    `threshold` gives $-1$ (an "off" event). Constant signals give no spikes
    after the first step.

    **Arguments:**

    - `x`: `[time, ...]`, floating.
    - `threshold`: $\theta \ge 0$ (same unit as `x`; default `0.1`).
    - `padding`: compare the first step with itself (no spike at $t=0$)
      instead of with 0 (default `False`).
    - `off_spike`: also emit $-1$ for falls (default `False`).

    **Returns:** same shape and dtype as `x`, values in $\{0, 1\}$ (or
    $\{-1, 0, 1\}$ with `off_spike`).
    """
    owner = "delta"
    x = _floating("x", x, owner)
    if x.ndim < 1:
        raise ValueError(f"{owner}: `x` must have a leading time axis, got a scalar")
    check_positive("threshold", threshold, allow_zero=True, owner=owner)
    first = x[:1] if padding else jnp.zeros_like(x[:1])
    d = x - jnp.concatenate([first, x[:-1]], axis=0)
    spikes = (d > threshold).astype(x.dtype)
    if off_spike:
        spikes = spikes - (d < -threshold).astype(x.dtype)
    return spikes


def rows_as_sequence(
    images: Shaped[ArrayLike, "*batch rows cols"], *, dtype: Any = jnp.float32
) -> Float[Array, "*batch rows cols"]:
    r"""Images as row sequences for a recurrent network: row $r$ is the input at step $r$.

    $$ x_{b, t, j} = \mathrm{image}_{b, t, j} / 255 \quad (\text{uint8}), \qquad
       x_{b, t, j} = \mathrm{image}_{b, t, j} \quad (\text{floating, assumed in } [0, 1]) $$

    A `uint8 [B, 28, 28]` batch becomes `[B, 28 (time), 28 (features)]` in
    $[0, 1]$: time is the leading axis of each sample, as `eqsnn.run` expects
    after `vmap`.

    **Arguments:** `images`: `[..., rows, cols]`, `uint8` or floating;
    `dtype`: output dtype (default `float32`).

    **Returns:** `[..., rows, cols]` in `dtype`.
    """
    images = jnp.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"rows_as_sequence: `images` must have shape [..., rows, cols], got shape {images.shape}")
    if images.dtype == jnp.uint8:
        return images.astype(dtype) / jnp.asarray(255, dtype)
    if jnp.issubdtype(images.dtype, jnp.floating):
        return images.astype(dtype)
    raise TypeError(f"rows_as_sequence: `images` must be uint8 or floating, got dtype {images.dtype}")
