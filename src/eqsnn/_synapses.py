"""Synaptic dynamics in the postsynaptic dimension (align-post)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray, RealScalarLike
from ._errors import check_positive
from ._neurons._base import DEFAULT_DT, AbstractNeuron, decay, exp_euler


class AbstractSynapse(AbstractNeuron):
    r"""A synaptic variable per postsynaptic neuron.

    `step(state, x)` takes the communication output $x_t$ (weighted
    presynaptic spikes, `[size]`) and returns the conductance $g_t$ `[size]`,
    which an output ([`eqsnn.outputs.CUBA`][], ...) turns into a current.
    """


class ExponState(eqx.Module):
    """State of [`eqsnn.synapses.Expon`][]: the conductance `g`, `[size]`."""

    g: Float[Array, " n"]


class Expon(AbstractSynapse):
    r"""Exponentially decaying synapse (BrainPy's `Expon`).

    $$ \tau \frac{dg}{dt} = -g + \sum_k \delta(t - t_k)\, w, \qquad
       g_t = e^{-\Delta t/\tau} g_{t-1} + x_t $$

    The decay is exact; the input $x_t$ (the projection's communication output
    at step $t$, bias included) is added once per step.

    **Arguments** (units; default): `size`; `tau` (ms; `8.`, as BrainPy);
    `dt` (ms; `0.1`).
    """

    size: int = eqx.field(static=True)
    tau: ParamLike
    dt: RealScalarLike

    def __init__(self, size: int, *, tau: ParamLike = 8.0, dt: RealScalarLike = DEFAULT_DT):
        self.size, self.tau, self.dt = size, tau, dt
        self._check_common(dict(tau=tau), positive=("tau",))

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ExponState:
        return ExponState(g=self._zeros())

    def step(self, state: ExponState, x: Float[ArrayLike, "..."]) -> tuple[ExponState, Float[Array, " n"]]:
        x = self._check_step(state, ExponState, x)
        g = decay(self.dt, self.tau) * state.g + x
        return ExponState(g=g), g


class DualExponState(eqx.Module):
    """State of [`eqsnn.synapses.DualExpon`][]: the conductance `g` and the rise
    variable `h`, each `[size]`."""

    g: Float[Array, " n"]
    h: Float[Array, " n"]


class DualExpon(AbstractSynapse):
    r"""Difference-of-exponentials synapse (BrainPy's `DualExpon`).

    $$ \frac{dg}{dt} = -\frac{g}{\tau_{decay}} + h, \qquad
       \frac{dh}{dt} = -\frac{h}{\tau_{rise}} + a \sum_k \delta(t - t_k)\, w, $$

    whose response to one unit input at $t = 0$ is
    $g(t) = A\,(e^{-t/\tau_{decay}} - e^{-t/\tau_{rise}})$ with
    $a = \frac{\tau_{decay} - \tau_{rise}}{\tau_{rise}\tau_{decay}} A$. By default
    $A$ normalises the peak to 1:
    $a = \frac{1}{\tau_{rise}} (\tau_{rise}/\tau_{decay})^{\tau_{rise}/(\tau_{rise} - \tau_{decay})}$
    (and $a = e/\tau$ when $\tau_{rise} = \tau_{decay}$), reached at
    $t^* = \frac{\tau_{rise}\tau_{decay}}{\tau_{decay} - \tau_{rise}} \ln\frac{\tau_{decay}}{\tau_{rise}}$.

    **Update order** (as BrainPy): $g$ and $h$ are integrated by exponential
    Euler, each with the other held at its old value
    ($g \leftarrow \tau_{decay} h + (g - \tau_{decay} h) e^{-\Delta t/\tau_{decay}}$,
    $h \leftarrow h e^{-\Delta t/\tau_{rise}}$), then $h \leftarrow h + a x_t$;
    the output is $g$. An input at step $t$ therefore shows in $g$ from step $t+1$.

    **Arguments** (units; default, as BrainPy): `size`; `tau_decay` (ms; `10.`);
    `tau_rise` (ms; `1.`); `norm`: BrainPy's `A` (`None`: peak-normalised);
    `dt` (ms; `0.1`).
    """

    size: int = eqx.field(static=True)
    tau_decay: ParamLike
    tau_rise: ParamLike
    norm: ParamLike | None
    dt: RealScalarLike

    def __init__(
        self,
        size: int,
        *,
        tau_decay: ParamLike = 10.0,
        tau_rise: ParamLike = 1.0,
        norm: ParamLike | None = None,
        dt: RealScalarLike = DEFAULT_DT,
    ):
        self.size, self.tau_decay, self.tau_rise, self.norm, self.dt = size, tau_decay, tau_rise, norm, dt
        params = dict(tau_decay=tau_decay, tau_rise=tau_rise)
        if norm is not None:
            params["norm"] = norm
        self._check_common(params, positive=("tau_decay", "tau_rise"))

    def coefficient(self) -> Float[Array, "*n"]:
        r"""The jump $a$ of $h$ per unit input (1/ms)."""
        tau_d, tau_r = jnp.asarray(self.tau_decay), jnp.asarray(self.tau_rise)
        if self.norm is not None:
            return (tau_d - tau_r) / (tau_r * tau_d) * self.norm
        equal = tau_r == tau_d
        exponent = tau_r / jnp.where(equal, 1.0, tau_r - tau_d)
        general = (tau_r / tau_d) ** exponent / tau_r
        return jnp.where(equal, jnp.e / tau_r, general)

    def init_state(self, *, key: PRNGKeyArray | None = None) -> DualExponState:
        return DualExponState(g=self._zeros(), h=self._zeros())

    def step(self, state: DualExponState, x: Float[ArrayLike, "..."]) -> tuple[DualExponState, Float[Array, " n"]]:
        x = self._check_step(state, DualExponState, x)
        g = exp_euler(state.g, self.tau_decay * state.h, self.dt, self.tau_decay)
        h = decay(self.dt, self.tau_rise) * state.h + self.coefficient() * x
        return DualExponState(g=g, h=h), g


class AlphaState(eqx.Module):
    """State of [`eqsnn.synapses.Alpha`][]: the conductance `g` and the
    auxiliary variable `h`, each `[size]`."""

    g: Float[Array, " n"]
    h: Float[Array, " n"]


class Alpha(AbstractSynapse):
    r"""Alpha-function synapse (BrainPy's `Alpha`).

    $$ \frac{dg}{dt} = \frac{-g + h}{\tau_{decay}}, \qquad
       \frac{dh}{dt} = -\frac{h}{\tau_{decay}} + \sum_k \delta(t - t_k)\, w, $$

    whose response to one unit input at $t = 0$ is
    $g(t) = \frac{t}{\tau_{decay}} e^{-t/\tau_{decay}}$, with peak $1/e$ at
    $t^* = \tau_{decay}$.

    **Update order** (as BrainPy): exponential Euler for $g$ with $h$ held at
    its old value ($g \leftarrow h + (g - h) e^{-\Delta t/\tau}$), exact decay of
    $h$, then $h \leftarrow h + x_t$; the output is $g$.

    **Arguments** (units; default, as BrainPy): `size`; `tau_decay` (ms; `10.`);
    `dt` (ms; `0.1`).
    """

    size: int = eqx.field(static=True)
    tau_decay: ParamLike
    dt: RealScalarLike

    def __init__(self, size: int, *, tau_decay: ParamLike = 10.0, dt: RealScalarLike = DEFAULT_DT):
        self.size, self.tau_decay, self.dt = size, tau_decay, dt
        self._check_common(dict(tau_decay=tau_decay), positive=("tau_decay",))

    def init_state(self, *, key: PRNGKeyArray | None = None) -> AlphaState:
        return AlphaState(g=self._zeros(), h=self._zeros())

    def step(self, state: AlphaState, x: Float[ArrayLike, "..."]) -> tuple[AlphaState, Float[Array, " n"]]:
        x = self._check_step(state, AlphaState, x)
        g = exp_euler(state.g, state.h, self.dt, self.tau_decay)
        h = decay(self.dt, self.tau_decay) * state.h + x
        return AlphaState(g=g, h=h), g


class NMDAState(eqx.Module):
    """State of [`eqsnn.synapses.NMDA`][]: the gating `g` (in [0, 1]) and the
    transmitter trace `x`, each `[size]`."""

    g: Float[Array, " n"]
    x: Float[Array, " n"]


class NMDA(AbstractSynapse):
    r"""NMDA receptor kinetics (BrainPy's `NMDA`); pair it with
    [`eqsnn.outputs.MgBlock`][] for the voltage-dependent magnesium block.

    $$ \frac{dg}{dt} = -\frac{g}{\tau_{decay}} + a\, x\, (1 - g), \qquad
       \frac{dx}{dt} = -\frac{x}{\tau_{rise}} + \sum_k \delta(t - t_k)\, w $$

    **Update order** (as BrainPy): $g$ by exponential Euler with $x$ held at its
    old value (linear in $g$, so
    $g \leftarrow g_\infty + (g - g_\infty) e^{-\Delta t\, k}$ with
    $k = 1/\tau_{decay} + a x$, $g_\infty = a x / k$), exact decay of $x$, then
    $x \leftarrow x + x^{in}_t$; the output is $g$.

    **Arguments** (units; default, as BrainPy): `size`; `a` (1/ms; `0.5`);
    `tau_decay` (ms; `100.`); `tau_rise` (ms; `2.`); `dt` (ms; `0.1`).
    """

    size: int = eqx.field(static=True)
    a: ParamLike
    tau_decay: ParamLike
    tau_rise: ParamLike
    dt: RealScalarLike

    def __init__(
        self,
        size: int,
        *,
        a: ParamLike = 0.5,
        tau_decay: ParamLike = 100.0,
        tau_rise: ParamLike = 2.0,
        dt: RealScalarLike = DEFAULT_DT,
    ):
        self.size, self.a, self.tau_decay, self.tau_rise, self.dt = size, a, tau_decay, tau_rise, dt
        self._check_common(dict(a=a, tau_decay=tau_decay, tau_rise=tau_rise), positive=("tau_decay", "tau_rise"))
        check_positive("a", a, allow_zero=True, owner="NMDA")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> NMDAState:
        return NMDAState(g=self._zeros(), x=self._zeros())

    def step(self, state: NMDAState, x: Float[ArrayLike, "..."]) -> tuple[NMDAState, Float[Array, " n"]]:
        x = self._check_step(state, NMDAState, x)
        k = 1.0 / jnp.asarray(self.tau_decay) + self.a * state.x
        g = exp_euler(state.g, self.a * state.x / k, self.dt, 1.0 / k)
        trace = decay(self.dt, self.tau_rise) * state.x + x
        return NMDAState(g=g, x=trace), g


class AMPAState(eqx.Module):
    """State of [`eqsnn.synapses.AMPA`][]: the open fraction `g` (in [0, 1]) and
    the last spike arrival time `spike_arrival_time` (ms, `-1e7` before any),
    each `[size]`, and the current time `t` (ms, a scalar) of the next step."""

    g: Float[Array, " n"]
    spike_arrival_time: Float[Array, " n"]
    t: Float[Array, ""]


class GABAaState(AMPAState):
    """State of [`eqsnn.synapses.GABAa`][]: the fields of [`eqsnn.synapses.AMPAState`][]."""


class AMPA(AbstractSynapse):
    r"""AMPA receptor kinetics driven by a transmitter pulse (Destexhe et al.;
    BrainPy's `AMPA`). Use with [`eqsnn.outputs.COBA`][] (`e=0.`).

    $$ \frac{dg}{dt} = \alpha [T] (1 - g) - \beta g, \qquad
       [T] = T \;\text{ if } t - t_{spike} < T_{dur} \text{ else } 0 $$

    **Update order** (as BrainPy), at step time $t$ (starting at 0, advancing
    by `dt`): an input $x_t > 0$ marks a spike arrival, $t_{spike} \leftarrow t$;
    then $[T]$ is evaluated and $g$ is integrated by exponential Euler, exact
    for $[T]$ held over the step:
    $g \leftarrow g_\infty + (g - g_\infty) e^{-\Delta t (\alpha [T] + \beta)}$,
    $g_\infty = \alpha [T] / (\alpha [T] + \beta)$. The output is $g$.

    The input is an event (only $x_t > 0$ matters, as BrainPy's boolean
    spikes), so no gradient flows back through `x`; scale $g$ by weights after
    the synapse (size it as the presynaptic population), or train its
    parameters.

    **Arguments** (units; default, as BrainPy): `size`; `alpha` (1/(mM ms); `0.98`);
    `beta` (1/ms; `0.18`); `transmitter`: $T$ (mM; `0.5`); `t_dur`: pulse
    duration (ms; `0.5`); `dt` (ms; `0.1`).
    """

    size: int = eqx.field(static=True)
    alpha: ParamLike
    beta: ParamLike
    transmitter: ParamLike
    t_dur: ParamLike
    dt: RealScalarLike

    def __init__(
        self,
        size: int,
        *,
        alpha: ParamLike = 0.98,
        beta: ParamLike = 0.18,
        transmitter: ParamLike = 0.5,
        t_dur: ParamLike = 0.5,
        dt: RealScalarLike = DEFAULT_DT,
    ):
        self.size, self.alpha, self.beta, self.transmitter, self.t_dur, self.dt = (
            size,
            alpha,
            beta,
            transmitter,
            t_dur,
            dt,
        )
        params = dict(alpha=alpha, beta=beta, transmitter=transmitter, t_dur=t_dur)
        self._check_common(params, positive=("beta",))
        owner = type(self).__name__
        for name in ("alpha", "transmitter", "t_dur"):
            check_positive(name, params[name], allow_zero=True, owner=owner)

    def _state_type(self) -> type:
        return AMPAState

    def init_state(self, *, key: PRNGKeyArray | None = None) -> AMPAState:
        return self._state_type()(g=self._zeros(), spike_arrival_time=self._full(-1e7), t=jnp.zeros(()))

    def step(self, state: AMPAState, x: Float[ArrayLike, "..."]) -> tuple[AMPAState, Float[Array, " n"]]:
        x = self._check_step(state, self._state_type(), x)
        t = state.t
        arrival = jnp.where(jax.lax.stop_gradient(x) > 0, t, state.spike_arrival_time)
        conc = jnp.where(t - arrival < self.t_dur, self.transmitter, 0.0)
        rate = self.alpha * conc + self.beta
        g = exp_euler(state.g, self.alpha * conc / rate, self.dt, 1.0 / rate)
        return self._state_type()(g=g, spike_arrival_time=arrival, t=t + self.dt), g


class GABAa(AMPA):
    r"""GABA-A receptor kinetics (BrainPy's `GABAa`): the equations and update
    order of [`eqsnn.synapses.AMPA`][] with GABA-A defaults. Use with
    [`eqsnn.outputs.COBA`][] (`e=-80.`).

    $$ \frac{dg}{dt} = \alpha [T] (1 - g) - \beta g $$

    **Arguments** (units; default, as BrainPy): `size`; `alpha` (1/(mM ms); `0.53`);
    `beta` (1/ms; `0.18`); `transmitter` (mM; `1.`); `t_dur` (ms; `1.`); `dt` (ms; `0.1`).
    """

    def __init__(
        self,
        size: int,
        *,
        alpha: ParamLike = 0.53,
        beta: ParamLike = 0.18,
        transmitter: ParamLike = 1.0,
        t_dur: ParamLike = 1.0,
        dt: RealScalarLike = DEFAULT_DT,
    ):
        super().__init__(size, alpha=alpha, beta=beta, transmitter=transmitter, t_dur=t_dur, dt=dt)

    def _state_type(self) -> type:
        return GABAaState

    def init_state(self, *, key: PRNGKeyArray | None = None) -> GABAaState:
        return super().init_state(key=key)

    def step(self, state: GABAaState, x: Float[ArrayLike, "..."]) -> tuple[GABAaState, Float[Array, " n"]]:
        return super().step(state, x)
