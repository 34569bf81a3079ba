r"""Integration helpers shared by every population (neurons and synapses alike).

* [`eqsnn.decay`][] and [`eqsnn.exp_euler`][]: the exact update of linear
  dynamics over one step;
* [`eqsnn.exprel`][] and [`eqsnn.exp_euler_auto`][]: BrainPy's `exp_auto`
  scheme for non-linear element-wise dynamics;
* [`eqsnn.spike_and_reset`][]: threshold crossing through a surrogate, then
  the soft or hard reset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ._custom_types import Array, Float, RealScalarLike
from ._surrogate import AbstractSurrogate

__all__ = ["decay", "exp_euler", "exprel", "exp_euler_auto", "spike_and_reset"]


def decay(dt: RealScalarLike, tau: Any) -> Any:
    r"""The exact decay factor of $\tau \dot x = -x$ over one step of `dt` ms: $e^{-\Delta t / \tau}$."""
    return jnp.exp(-dt / jnp.asarray(tau))


def exp_euler(x: Array, x_inf: Array, dt: RealScalarLike, tau: Any) -> Array:
    r"""Exponential Euler step of $\tau \dot x = x_\infty - x$, exact for constant $x_\infty$:
    $x \leftarrow x_\infty + (x - x_\infty) e^{-\Delta t/\tau}$ (`dt`, `tau` in ms)."""
    return x_inf + (x - x_inf) * decay(dt, tau)


def exprel(z: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    r"""$\varphi(z) = (e^z - 1)/z$, with $\varphi(0) = 1$; finite value and gradient everywhere."""
    small = jnp.abs(z) < 1e-4
    z_safe = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2.0 + z * z / 6.0, jnp.expm1(z_safe) / z_safe)


def exp_euler_auto(
    f: Callable[[Array], Array], x: Float[Array, "*shape"], dt: RealScalarLike
) -> Float[Array, "*shape"]:
    r"""One exponential-Euler step of $\dot x = f(x)$ for an element-wise $f$,
    linearised automatically (BrainPy's `exp_auto`):

    $$ x \leftarrow x + \Delta t\, \frac{e^{\Delta t J} - 1}{\Delta t J}\, f(x),
       \qquad J = \partial f / \partial x \text{ (by forward-mode autodiff)}. $$

    Exact when $f$ is affine in $x$. `f` must act element-wise (its Jacobian
    diagonal), so that one JVP with a tangent of ones yields $J$.
    """
    fx, jac = jax.jvp(f, (x,), (jnp.ones_like(x),))
    return x + dt * exprel(dt * jac) * fx


def spike_and_reset(
    v: Float[Array, "*shape"],
    v_th: Any,
    v_reset: Any,
    spike_fn: AbstractSurrogate,
    reset: str,
    detach_reset: bool,
) -> tuple[Float[Array, "*shape"], Float[Array, "*shape"]]:
    r"""Spike $s = S(v - v_{th})$ and reset (potentials in mV).

    Soft: $v \leftarrow v - (v_{th} - v_{reset})\, s$; hard:
    $v \leftarrow v + (v_{reset} - v)\, s$. With `detach_reset`, the reset
    uses $\mathrm{stop\_gradient}(s)$, the returned spike keeps its gradient.

    **Returns:** `(spike, v)`.
    """
    spike = spike_fn(v - v_th)
    s = jax.lax.stop_gradient(spike) if detach_reset else spike
    if reset == "soft":
        v = v - (v_th - v_reset) * s
    else:
        v = v + (v_reset - v) * s
    return spike, v
