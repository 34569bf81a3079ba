"""The Hodgkin-Huxley conductance-based neuron."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray
from .._integrate import exp_euler, exprel
from .._params import param
from .._population import AbstractNeuron, _spike_fn_or_default
from .._surrogate import AbstractSurrogate


class HHState(eqx.Module):
    """State of [`eqsnn.neurons.HH`][]: membrane potential `v` (mV), the gating
    variables `m`, `h`, `n` (in [0, 1]) and the last step's spikes `spike` (0/1),
    each of the population's shape."""

    v: Float[Array, "*shape"]
    m: Float[Array, "*shape"]
    h: Float[Array, "*shape"]
    n: Float[Array, "*shape"]
    spike: Float[Array, "*shape"]


#: The range (mV) over which the gate rates are evaluated; beyond it they are held at
#: their value at the bound, so that no exponential overflows (float32 overflows
#: below about -1650 mV) and the step stays finite under any input.
RATE_RANGE = (-200.0, 200.0)


def _rates(v: Any) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Opening and closing rates (1/ms) of the m, h, n gates at potential `v` (mV),
    with `v` clipped to `RATE_RANGE` (the physiological range lies well inside it)."""
    v = jnp.clip(v, *RATE_RANGE)
    m_alpha = 1.0 / exprel(-(v + 40.0) / 10.0)  # = 0.1 (v + 40) / (1 - exp(-(v + 40) / 10))
    m_beta = 4.0 * jnp.exp(-(v + 65.0) / 18.0)
    h_alpha = 0.07 * jnp.exp(-(v + 65.0) / 20.0)
    h_beta = 1.0 / (1.0 + jnp.exp(-(v + 35.0) / 10.0))
    n_alpha = 0.1 / exprel(-(v + 55.0) / 10.0)  # = 0.01 (v + 55) / (1 - exp(-(v + 55) / 10))
    n_beta = 0.125 * jnp.exp(-(v + 65.0) / 80.0)
    return m_alpha, m_beta, h_alpha, h_beta, n_alpha, n_beta


class HH(AbstractNeuron[HHState]):
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

    **Finite under any input:** the rates are evaluated with $v$ clipped to
    [-200, 200] mV (beyond it they are held at their value at the bound), so
    that no exponential overflows however far a strong current drives $v$
    (unclipped, float32 gives NaN from a constant $I = -70$). Inside the range,
    hence in every physiological regime, the model is BrainPy's.

    **Spike:** a threshold crossing from below,
    $s_t = S(v_t - v_{th}) \cdot [v_{t-1} < v_{th}]$, with the surrogate
    gradient through $S$ and none through the mask. There is no reset: the
    action potential is generated and ended by the dynamics.

    **Arguments** (units; default, as BrainPy):

    - `shape`: an int or a tuple (the population acts element-wise).
    - `e_na` (mV; `50.`), `g_na` (mS/cm²; `120.`), `e_k` (mV; `-77.`),
      `g_k` (mS/cm²; `36.`), `e_l` (mV; `-54.387`), `g_l` (mS/cm²; `0.03`),
      `c`: membrane capacitance (µF/cm²; `1.`).
    - `v_th`: spike-detection threshold (mV; `20.`).
    - `v_init`: initial potential (mV; `-65.`, the middle of BrainPy's random
      initial range [-70, -60); with these defaults the resting potential is
      about -70.7 mV); `m`, `h`, `n` start at their steady-state values
      $\alpha/(\alpha+\beta)$ at `v_init`.
    - `dt` (ms; `0.1`), `spike_fn` (`InvSquare(100.)`).

    Input: current (µA/cm²) of `shape` or a scalar; output: spikes of `shape`.
    """

    e_na: ParamLike = param(50.0, unit="mV", doc="sodium reversal potential")
    g_na: ParamLike = param(120.0, unit="mS/cm^2", constraint="nonnegative", doc="maximal sodium conductance")
    e_k: ParamLike = param(-77.0, unit="mV", doc="potassium reversal potential")
    g_k: ParamLike = param(36.0, unit="mS/cm^2", constraint="nonnegative", doc="maximal potassium conductance")
    e_l: ParamLike = param(-54.387, unit="mV", doc="leak reversal potential")
    g_l: ParamLike = param(0.03, unit="mS/cm^2", constraint="positive", doc="leak conductance")
    c: ParamLike = param(1.0, unit="uF/cm^2", constraint="positive", doc="membrane capacitance")
    v_th: ParamLike = param(20.0, unit="mV", doc="spike-detection threshold")
    v_init: ParamLike = param(-65.0, unit="mV", doc="initial potential")
    spike_fn: AbstractSurrogate = eqx.field(default=None, kw_only=True, converter=_spike_fn_or_default)

    def __check_init__(self) -> None:
        if not isinstance(self.spike_fn, AbstractSurrogate):
            raise TypeError(
                f"HH: `spike_fn` must be an eqsnn.surrogate module (e.g. InvSquare(100.)), "
                f"got {type(self.spike_fn).__name__}"
            )

    def init_state(self, *, key: PRNGKeyArray | None = None) -> HHState:
        v = self._full(self.v_init)
        ma, mb, ha, hb, na, nb = _rates(v)
        return HHState(v=v, m=ma / (ma + mb), h=ha / (ha + hb), n=na / (na + nb), spike=self._zeros())

    def step(self, state: HHState, x: Float[ArrayLike, "..."]) -> tuple[HHState, Float[Array, "*shape"]]:
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
