"""The Hodgkin-Huxley conductance-based neuron."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray, RealScalarLike
from .._errors import check_positive
from .._surrogate import AbstractSurrogate
from ._base import DEFAULT_DT, AbstractNeuron, default_spike_fn, exp_euler
from ._nonlinear import exprel


class HHState(eqx.Module):
    """State of [`eqsnn.neurons.HH`][]: membrane potential `v` (mV), the gating
    variables `m`, `h`, `n` (in [0, 1]) and the last step's spikes `spike` (0/1),
    each `[size]`."""

    v: Float[Array, " n"]
    m: Float[Array, " n"]
    h: Float[Array, " n"]
    n: Float[Array, " n"]
    spike: Float[Array, " n"]


def _rates(v: Any) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Opening and closing rates (1/ms) of the m, h, n gates at potential `v` (mV)."""
    m_alpha = 1.0 / exprel(-(v + 40.0) / 10.0)  # = 0.1 (v + 40) / (1 - exp(-(v + 40) / 10))
    m_beta = 4.0 * jnp.exp(-(v + 65.0) / 18.0)
    h_alpha = 0.07 * jnp.exp(-(v + 65.0) / 20.0)
    h_beta = 1.0 / (1.0 + jnp.exp(-(v + 35.0) / 10.0))
    n_alpha = 0.1 / exprel(-(v + 55.0) / 10.0)  # = 0.01 (v + 55) / (1 - exp(-(v + 55) / 10))
    n_beta = 0.125 * jnp.exp(-(v + 65.0) / 80.0)
    return m_alpha, m_beta, h_alpha, h_beta, n_alpha, n_beta


class HH(AbstractNeuron):
    r"""Hodgkin-Huxley neuron (Hodgkin & Huxley 1952; BrainPy's `HH`).

    $$ C \frac{dv}{dt} = -\bar g_{Na} m^3 h (v - E_{Na}) - \bar g_K n^4 (v - E_K)
       - g_L (v - E_L) + I(t), $$
    $$ \frac{dz}{dt} = \alpha_z(v)(1 - z) - \beta_z(v)\, z, \qquad z \in \{m, h, n\}, $$

    with $\alpha_m = \frac{0.1(v+40)}{1 - e^{-(v+40)/10}}$,
    $\beta_m = 4 e^{-(v+65)/18}$, $\alpha_h = 0.07 e^{-(v+65)/20}$,
    $\beta_h = \frac{1}{1 + e^{-(v+35)/10}}$,
    $\alpha_n = \frac{0.01(v+55)}{1 - e^{-(v+55)/10}}$,
    $\beta_n = 0.125 e^{-(v+65)/80}$ (1/ms, $v$ in mV).

    **Integrator:** exponential Euler for every variable with the others held
    at their values from the start of the step (BrainPy's `exp_auto`). Each
    equation is linear in its own variable, so this is exact for frozen
    coefficients: $v \leftarrow v_\infty + (v - v_\infty) e^{-\Delta t\, g/C}$
    with $g = \bar g_{Na} m^3 h + \bar g_K n^4 + g_L$ and
    $v_\infty = (\bar g_{Na} m^3 h E_{Na} + \bar g_K n^4 E_K + g_L E_L + I)/g$;
    $z \leftarrow z_\infty + (z - z_\infty) e^{-\Delta t (\alpha_z + \beta_z)}$.

    **Spike:** a threshold crossing from below,
    $s_t = S(v_t - v_{th}) \cdot [v_{t-1} < v_{th}]$, with the surrogate
    gradient through $S$ and none through the mask. There is no reset: the
    action potential is generated and ended by the dynamics.

    **Arguments** (units; default, as BrainPy):

    - `size`: number of neurons.
    - `e_na` (mV; `50.`), `g_na` (mS/cm²; `120.`), `e_k` (mV; `-77.`),
      `g_k` (mS/cm²; `36.`), `e_l` (mV; `-54.387`), `g_l` (mS/cm²; `0.03`),
      `c`: membrane capacitance (µF/cm²; `1.`).
    - `v_th`: spike-detection threshold (mV; `20.`).
    - `v_init`: initial potential (mV; `-65.`, the middle of BrainPy's random
      initial range [-70, -60); with these defaults the resting potential is
      about -70.7 mV); `m`, `h`, `n` start at their steady-state values
      $\alpha/(\alpha+\beta)$ at `v_init`.
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`).

    Input: current (µA/cm²) `[size]` or scalar; output: spikes `[size]`.
    """

    size: int = eqx.field(static=True)
    e_na: ParamLike
    g_na: ParamLike
    e_k: ParamLike
    g_k: ParamLike
    e_l: ParamLike
    g_l: ParamLike
    c: ParamLike
    v_th: ParamLike
    v_init: ParamLike
    dt: RealScalarLike
    spike_fn: AbstractSurrogate

    def __init__(
        self,
        size: int,
        *,
        e_na: ParamLike = 50.0,
        g_na: ParamLike = 120.0,
        e_k: ParamLike = -77.0,
        g_k: ParamLike = 36.0,
        e_l: ParamLike = -54.387,
        g_l: ParamLike = 0.03,
        c: ParamLike = 1.0,
        v_th: ParamLike = 20.0,
        v_init: ParamLike = -65.0,
        dt: RealScalarLike = DEFAULT_DT,
        spike_fn: AbstractSurrogate | None = None,
    ):
        self.size = size
        self.e_na, self.g_na, self.e_k, self.g_k, self.e_l, self.g_l = e_na, g_na, e_k, g_k, e_l, g_l
        self.c, self.v_th, self.v_init = c, v_th, v_init
        self.dt = dt
        self.spike_fn = default_spike_fn() if spike_fn is None else spike_fn
        params = dict(e_na=e_na, g_na=g_na, e_k=e_k, g_k=g_k, e_l=e_l, g_l=g_l, c=c, v_th=v_th, v_init=v_init)
        self._check_common(params, positive=("c", "g_l"))
        for name in ("g_na", "g_k"):
            check_positive(name, params[name], allow_zero=True, owner="HH")
        if not isinstance(self.spike_fn, AbstractSurrogate):
            raise TypeError(
                f"HH: `spike_fn` must be an eqsnn.surrogate module (e.g. InvSquare(100.)), "
                f"got {type(self.spike_fn).__name__}"
            )

    def init_state(self, *, key: PRNGKeyArray | None = None) -> HHState:
        v = self._full(self.v_init)
        ma, mb, ha, hb, na, nb = _rates(v)
        return HHState(v=v, m=ma / (ma + mb), h=ha / (ha + hb), n=na / (na + nb), spike=self._zeros())

    def step(self, state: HHState, x: Float[ArrayLike, "..."]) -> tuple[HHState, Float[Array, " n"]]:
        x = self._check_step(state, HHState, x)
        v, m, h, n = state.v, state.m, state.h, state.n
        g_na = self.g_na * m**3 * h
        g_k = self.g_k * n**4
        g = g_na + g_k + self.g_l
        v_inf = (g_na * self.e_na + g_k * self.e_k + self.g_l * self.e_l + x) / g
        v_new = exp_euler(v, v_inf, self.dt, self.c / g)
        ma, mb, ha, hb, na, nb = _rates(v)
        m = exp_euler(m, ma / (ma + mb), self.dt, 1.0 / (ma + mb))
        h = exp_euler(h, ha / (ha + hb), self.dt, 1.0 / (ha + hb))
        n = exp_euler(n, na / (na + nb), self.dt, 1.0 / (na + nb))
        below = jax.lax.stop_gradient((v < self.v_th).astype(v.dtype))
        spike = self.spike_fn(v_new - self.v_th) * below
        return HHState(v=v_new, m=m, h=h, n=n, spike=spike), spike
