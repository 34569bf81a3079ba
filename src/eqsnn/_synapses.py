"""Synaptic dynamics in the postsynaptic dimension (align-post)."""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import Array, ArrayLike, Float, ParamLike, PRNGKeyArray
from ._integrate import decay, exp_euler
from ._params import Param, check_param, param
from ._population import AbstractSynapse


class ExponState(eqx.Module):
    """State of [`eqsnn.synapses.Expon`][]: the conductance `g`, of the population's shape."""

    g: Float[Array, "*shape"]


class Expon(AbstractSynapse[ExponState]):
    r"""Exponentially decaying synapse (BrainPy's `Expon`).

    $$ \tau \frac{dg}{dt} = -g + \sum_k \delta(t - t_k)\, w, \qquad
       g_t = e^{-\Delta t/\tau} g_{t-1} + x_t $$

    The decay is exact; the input $x_t$ (the projection's communication output
    at step $t$, bias included) is added once per step.

    **Arguments** (units; default): `shape` (an int or a tuple); `tau` (ms;
    `8.`, as BrainPy); `dt` (ms; `0.1`).
    """

    tau: ParamLike = param(8.0, unit="ms", constraint="positive", doc="decay time constant")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> ExponState:
        return ExponState(g=self._zeros())

    def step(self, state: ExponState, x: Float[ArrayLike, "..."]) -> tuple[ExponState, Float[Array, "*shape"]]:
        x = self._check_step(state, ExponState, x)
        g = decay(self.dt, self.tau) * state.g + x
        return ExponState(g=g), g


class DualExponState(eqx.Module):
    """State of [`eqsnn.synapses.DualExpon`][]: the conductance `g` and the rise
    variable `h`, each of the population's shape."""

    g: Float[Array, "*shape"]
    h: Float[Array, "*shape"]


#: The declaration `DualExpon.__check_init__` validates `norm` against when it is given
#: (`norm` is not a `param` field, since `None`, its default, is a valid final value).
_NORM = Param(
    default=None,
    unit="1",
    constraint="real",
    scalar=False,
    doc="BrainPy's `A`, the kernel amplitude (None: peak-normalised)",
)


class DualExpon(AbstractSynapse[DualExponState]):
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

    **Arguments** (units; default, as BrainPy): `shape` (an int or a tuple);
    `tau_decay` (ms; `10.`); `tau_rise` (ms; `1.`); `norm`: BrainPy's `A`
    (`None`: peak-normalised); `dt` (ms; `0.1`).
    """

    tau_decay: ParamLike = param(10.0, unit="ms", constraint="positive", doc="decay time constant")
    tau_rise: ParamLike = param(1.0, unit="ms", constraint="positive", doc="rise time constant")
    norm: ParamLike | None = eqx.field(default=None, kw_only=True)

    def __check_init__(self) -> None:
        # Equinox runs this before the base class's check of `shape`; leave a bad shape to it.
        shape = self.shape
        valid_shape = isinstance(shape, tuple) and all(isinstance(s, int) and s > 0 for s in shape)
        if self.norm is not None and valid_shape:
            check_param(type(self).__name__, "norm", _NORM, self.norm, shape)

    def coefficient(self) -> Float[Array, "..."]:
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

    def step(self, state: DualExponState, x: Float[ArrayLike, "..."]) -> tuple[DualExponState, Float[Array, "*shape"]]:
        x = self._check_step(state, DualExponState, x)
        g = exp_euler(state.g, self.tau_decay * state.h, self.dt, self.tau_decay)
        h = decay(self.dt, self.tau_rise) * state.h + self.coefficient() * x
        return DualExponState(g=g, h=h), g


class AlphaState(eqx.Module):
    """State of [`eqsnn.synapses.Alpha`][]: the conductance `g` and the
    auxiliary variable `h`, each of the population's shape."""

    g: Float[Array, "*shape"]
    h: Float[Array, "*shape"]


class Alpha(AbstractSynapse[AlphaState]):
    r"""Alpha-function synapse (BrainPy's `Alpha`).

    $$ \frac{dg}{dt} = \frac{-g + h}{\tau_{decay}}, \qquad
       \frac{dh}{dt} = -\frac{h}{\tau_{decay}} + \sum_k \delta(t - t_k)\, w, $$

    whose response to one unit input at $t = 0$ is
    $g(t) = \frac{t}{\tau_{decay}} e^{-t/\tau_{decay}}$, with peak $1/e$ at
    $t^* = \tau_{decay}$.

    **Update order** (as BrainPy): exponential Euler for $g$ with $h$ held at
    its old value ($g \leftarrow h + (g - h) e^{-\Delta t/\tau}$), exact decay of
    $h$, then $h \leftarrow h + x_t$; the output is $g$.

    **Arguments** (units; default, as BrainPy): `shape` (an int or a tuple);
    `tau_decay` (ms; `10.`); `dt` (ms; `0.1`).
    """

    tau_decay: ParamLike = param(10.0, unit="ms", constraint="positive", doc="time constant")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> AlphaState:
        return AlphaState(g=self._zeros(), h=self._zeros())

    def step(self, state: AlphaState, x: Float[ArrayLike, "..."]) -> tuple[AlphaState, Float[Array, "*shape"]]:
        x = self._check_step(state, AlphaState, x)
        g = exp_euler(state.g, state.h, self.dt, self.tau_decay)
        h = decay(self.dt, self.tau_decay) * state.h + x
        return AlphaState(g=g, h=h), g


class NMDAState(eqx.Module):
    """State of [`eqsnn.synapses.NMDA`][]: the gating `g` (in [0, 1]) and the
    transmitter trace `x`, each of the population's shape."""

    g: Float[Array, "*shape"]
    x: Float[Array, "*shape"]


class NMDA(AbstractSynapse[NMDAState]):
    r"""NMDA receptor kinetics (BrainPy's `NMDA`); pair it with
    [`eqsnn.outputs.MgBlock`][] for the voltage-dependent magnesium block.

    $$ \frac{dg}{dt} = -\frac{g}{\tau_{decay}} + a\, x\, (1 - g), \qquad
       \frac{dx}{dt} = -\frac{x}{\tau_{rise}} + \sum_k \delta(t - t_k)\, w $$

    **Update order** (as BrainPy): $g$ by exponential Euler with $x$ held at its
    old value (linear in $g$, so
    $g \leftarrow g_\infty + (g - g_\infty) e^{-\Delta t\, k}$ with
    $k = 1/\tau_{decay} + a x$, $g_\infty = a x / k$), exact decay of $x$, then
    $x \leftarrow x + x^{in}_t$; the output is $g$.

    **Arguments** (units; default, as BrainPy): `shape` (an int or a tuple);
    `a` (1/ms; `0.5`); `tau_decay` (ms; `100.`); `tau_rise` (ms; `2.`);
    `dt` (ms; `0.1`).
    """

    a: ParamLike = param(0.5, unit="1/ms", constraint="nonnegative", doc="binding rate")
    tau_decay: ParamLike = param(100.0, unit="ms", constraint="positive", doc="decay time constant")
    tau_rise: ParamLike = param(2.0, unit="ms", constraint="positive", doc="transmitter trace time constant")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> NMDAState:
        return NMDAState(g=self._zeros(), x=self._zeros())

    def step(self, state: NMDAState, x: Float[ArrayLike, "..."]) -> tuple[NMDAState, Float[Array, "*shape"]]:
        x = self._check_step(state, NMDAState, x)
        k = 1.0 / jnp.asarray(self.tau_decay) + self.a * state.x
        g = exp_euler(state.g, self.a * state.x / k, self.dt, 1.0 / k)
        trace = decay(self.dt, self.tau_rise) * state.x + x
        return NMDAState(g=g, x=trace), g


class AMPAState(eqx.Module):
    """State of [`eqsnn.synapses.AMPA`][]: the open fraction `g` (in [0, 1]) and
    the last spike arrival time `spike_arrival_time` (ms, `-1e7` before any),
    each of the population's shape, and the current time `t` (ms, a scalar) of
    the next step."""

    g: Float[Array, "*shape"]
    spike_arrival_time: Float[Array, "*shape"]
    t: Float[Array, ""]


class GABAaState(eqx.Module):
    """State of [`eqsnn.synapses.GABAa`][]: the fields of [`eqsnn.synapses.AMPAState`][]."""

    g: Float[Array, "*shape"]
    spike_arrival_time: Float[Array, "*shape"]
    t: Float[Array, ""]


class AbstractTransmitterSynapse(AbstractSynapse[Any]):
    r"""Receptor kinetics driven by a transmitter pulse ([`eqsnn.synapses.AMPA`][],
    [`eqsnn.synapses.GABAa`][]): the shared update.

    $$ \frac{dg}{dt} = \alpha [T] (1 - g) - \beta g, \qquad
       [T] = T \;\text{ if } t - t_{spike} < T_{dur} \text{ else } 0 $$
    """

    alpha: eqx.AbstractVar[ParamLike]
    beta: eqx.AbstractVar[ParamLike]
    transmitter: eqx.AbstractVar[ParamLike]
    t_dur: eqx.AbstractVar[ParamLike]

    @abc.abstractmethod
    def _state_type(self) -> type:
        """The state class."""

    def init_state(self, *, key: PRNGKeyArray | None = None) -> Any:
        return self._state_type()(g=self._zeros(), spike_arrival_time=self._full(-1e7), t=jnp.zeros(()))

    def step(self, state: Any, x: Float[ArrayLike, "..."]) -> tuple[Any, Float[Array, "*shape"]]:
        x = self._check_step(state, self._state_type(), x)
        t = state.t
        arrival = jnp.where(jax.lax.stop_gradient(x) > 0, t, state.spike_arrival_time)
        conc = jnp.where(t - arrival < self.t_dur, self.transmitter, 0.0)
        rate = self.alpha * conc + self.beta
        g = exp_euler(state.g, self.alpha * conc / rate, self.dt, 1.0 / rate)
        return self._state_type()(g=g, spike_arrival_time=arrival, t=t + self.dt), g


class AMPA(AbstractTransmitterSynapse):
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
    the synapse (shape it as the presynaptic population), or train its
    parameters.

    **Arguments** (units; default, as BrainPy): `shape` (an int or a tuple);
    `alpha` (1/(mM ms); `0.98`); `beta` (1/ms; `0.18`); `transmitter`: $T$
    (mM; `0.5`); `t_dur`: pulse duration (ms; `0.5`); `dt` (ms; `0.1`).
    """

    alpha: ParamLike = param(0.98, unit="1/(mM ms)", constraint="nonnegative", doc="binding rate")
    beta: ParamLike = param(0.18, unit="1/ms", constraint="positive", doc="unbinding rate")
    transmitter: ParamLike = param(0.5, unit="mM", constraint="nonnegative", doc="transmitter concentration")
    t_dur: ParamLike = param(0.5, unit="ms", constraint="nonnegative", doc="transmitter pulse duration")

    def _state_type(self) -> type:
        return AMPAState


class GABAa(AbstractTransmitterSynapse):
    r"""GABA-A receptor kinetics (BrainPy's `GABAa`): the equations and update
    order of [`eqsnn.synapses.AMPA`][] with GABA-A defaults. Use with
    [`eqsnn.outputs.COBA`][] (`e=-80.`).

    $$ \frac{dg}{dt} = \alpha [T] (1 - g) - \beta g $$

    **Arguments** (units; default, as BrainPy): `shape` (an int or a tuple);
    `alpha` (1/(mM ms); `0.53`); `beta` (1/ms; `0.18`); `transmitter` (mM;
    `1.`); `t_dur` (ms; `1.`); `dt` (ms; `0.1`).
    """

    alpha: ParamLike = param(0.53, unit="1/(mM ms)", constraint="nonnegative", doc="binding rate")
    beta: ParamLike = param(0.18, unit="1/ms", constraint="positive", doc="unbinding rate")
    transmitter: ParamLike = param(1.0, unit="mM", constraint="nonnegative", doc="transmitter concentration")
    t_dur: ParamLike = param(1.0, unit="ms", constraint="nonnegative", doc="transmitter pulse duration")

    def _state_type(self) -> type:
        return GABAaState
