"""Writing your own neuron: a resonate-and-fire neuron, tested and trained (docs/guides/own-neuron.md).

    python examples/guide_own_neuron.py --out DIR     # figures into DIR (a few seconds on CPU)
    python examples/guide_own_neuron.py --smoke --out DIR   # tiny sizes, for the tests

Writes `own-neuron-trace.png` (membrane trace and spikes for three step currents) and
`own-neuron-fit.png` (a trained time constant converging to the one that made the data).
"""

from __future__ import annotations

import argparse
from pathlib import Path

# --8<-- [start:neuron]
import equinox as eqx
import jax
import jax.numpy as jnp

import eqsnn
from eqsnn import neurons


class ResonatorState(eqx.Module):
    v: jax.Array  # mV, the real part of z
    u: jax.Array  # mV, the imaginary part of z
    spike: jax.Array  # 0/1


class ResonateAndFire(eqsnn.AbstractSpikingNeuron):
    r"""Izhikevich's resonate-and-fire neuron: $\dot z = (-1/\tau + i\omega)\, z + I$, $v = \mathrm{Re}\, z$.

    A spike when $v \ge v_{th}$, then the reset of `AbstractSpikingNeuron`. Integrated exactly
    over a step without input (a damped rotation); the input adds $\Delta t\, I$ to $v$.
    """

    tau: eqsnn.ParamLike = eqsnn.param(5.0, unit="ms", constraint="positive", doc="damping time")
    omega: eqsnn.ParamLike = eqsnn.param(0.5, unit="rad/ms", constraint="positive", doc="angular frequency")
    v_th: eqsnn.ParamLike = eqsnn.param(1.0, unit="mV", doc="threshold")
    v_reset: eqsnn.ParamLike = eqsnn.param(0.0, unit="mV", doc="reset potential")

    def init_state(self, *, key=None):
        zeros = jnp.zeros(self.shape)
        return ResonatorState(v=zeros, u=zeros, spike=zeros)

    def step(self, state, x):
        decay, angle = jnp.exp(-self.dt / self.tau), self.omega * self.dt
        cos, sin = decay * jnp.cos(angle), decay * jnp.sin(angle)
        v = cos * state.v - sin * state.u + self.dt * jnp.broadcast_to(x, self.shape)
        u = sin * state.v + cos * state.u
        spike, v = neurons.spike_and_reset(v, self.v_th, self.v_reset, self.spike_fn, self.reset, self.detach_reset)
        return ResonatorState(v=v, u=u, spike=spike), spike


# --8<-- [end:neuron]


def show_validation() -> str:
    # --8<-- [start:validation]
    print(eqsnn.params_of(ResonateAndFire))  # dt, tau, omega, v_th, v_reset: default, unit, constraint
    try:
        ResonateAndFire(4, tau=-1.0)
    except ValueError as err:
        message = str(err)
        print(message)  # ResonateAndFire: `tau` must be > 0 (ms), got -1.0 ...
    # --8<-- [end:validation]
    return message


def run_property_tests(max_examples: int) -> None:
    # --8<-- [start:testing]
    from hypothesis import given, settings

    import eqsnn.testing as et

    SHAPE, T = (3,), 40
    jit_run = eqx.filter_jit(eqsnn.run)

    @settings(max_examples=max_examples, deadline=None)
    @given(et.params_for(ResonateAndFire, shape=SHAPE, arrays=True), et.currents(SHAPE, T, max_value=20.0))
    def test_resonator(params, xs):
        model = ResonateAndFire(SHAPE, **params)
        et.check_spikes_binary(model, xs)
        et.check_run_equals_scan(model, xs)
        # a resonator overshoots rest on its way back: the default (not monotone) check allows that
        et.check_decays_without_input(model, jit_run(model, xs)[0], 200, settle=0.1)

    test_resonator()
    # --8<-- [end:testing]


def step_responses(duration: float, dt: float):
    # --8<-- [start:step]
    model = ResonateAndFire(3, dt=dt)  # three neurons, one per amplitude
    t = dt * jnp.arange(int(round(duration / dt)), dtype=float)  # ms
    amplitudes = jnp.array([0.5, 0.8, 1.2])  # mV/ms
    xs = jnp.where(t[:, None] >= 10.0, amplitudes, 0.0)  # [T, 3]: a step at 10 ms
    _, spikes, v = eqsnn.run(model, xs, monitor=lambda s: s.v)  # spikes and v: [T, 3]
    # --8<-- [end:step]
    return t, amplitudes, v, spikes, model


def fit_time_constant(duration: float, dt: float, num_steps: int, key):
    # --8<-- [start:fit]
    import optax

    teacher = ResonateAndFire(1, tau=8.0, dt=dt)
    xs = 0.3 * jax.random.normal(key, (int(round(duration / dt)), 1))  # a subthreshold noisy current
    _, _, v_target = eqsnn.run(teacher, xs, monitor=lambda s: s.v)

    student = ResonateAndFire(1, tau=eqsnn.positive(jnp.array(3.0)), dt=dt)  # the only float array: trained

    def loss_fn(model, batch):
        xs, v_target = batch
        _, _, v = eqsnn.run(model, xs, monitor=lambda s: s.v)  # run unwraps the positive tau
        return jnp.mean((v - v_target) ** 2), eqsnn.unwrap(model.tau)

    optimizer = optax.adam(0.1)
    step = eqsnn.train.make_step(loss_fn, optimizer)
    opt_state = eqsnn.train.init_opt_state(optimizer, student)
    losses, taus = [], []
    for _ in range(num_steps):
        student, opt_state, loss, tau = step(student, opt_state, (xs, v_target))
        losses.append(float(loss))
        taus.append(float(tau))
    # --8<-- [end:fit]
    return losses, taus


def plot_trace(t, amplitudes, v, spikes, model, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(amplitudes), 1, figsize=(6.4, 4.6), sharex=True)
    for i, ax in enumerate(axes):
        ax.plot(t, v[:, i], lw=1.0, color="C0")
        ax.axhline(float(model.v_th), color="0.6", lw=0.8, ls="--")
        for ts in t[spikes[:, i] > 0]:
            ax.axvline(float(ts), color="C3", lw=0.8)
        ax.set_ylabel("v (mV)")
        ax.set_title(f"I = {float(amplitudes[i]):.1f} mV/ms from 10 ms: {int(spikes[:, i].sum())} spikes", fontsize=9)
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_fit(losses, taus, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(6.4, 2.4))
    a.semilogy(losses)
    a.set_xlabel("training step")
    a.set_ylabel("MSE of v (mV²)")
    b.plot(taus)
    b.axhline(8.0, color="0.6", ls="--", lw=0.8)
    b.set_xlabel("training step")
    b.set_ylabel("τ (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes and few steps (tests)")
    p.add_argument("--out", type=Path, default=Path("runs/guide-own-neuron"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    show_validation()
    run_property_tests(max_examples=3 if args.smoke else 25)
    print("property checks passed")

    t, amplitudes, v, spikes, model = step_responses(duration=40.0 if args.smoke else 60.0, dt=0.1)
    counts = [int(c) for c in spikes.sum(axis=0)]
    print(f"spikes per amplitude {[round(float(a), 2) for a in amplitudes]} mV/ms: {counts}")
    plot_trace(t, amplitudes, v, spikes, model, args.out / "own-neuron-trace.png")

    losses, taus = fit_time_constant(
        duration=20.0 if args.smoke else 50.0, dt=0.1, num_steps=15 if args.smoke else 150, key=jax.random.key(0)
    )
    print(f"loss {losses[0]:.4g} -> {losses[-1]:.4g}, tau 3.00 -> {taus[-1]:.2f} ms (teacher 8.00 ms)")
    plot_fit(losses, taus, args.out / "own-neuron-fit.png")
    print(f"wrote {args.out}/own-neuron-trace.png and own-neuron-fit.png")


if __name__ == "__main__":
    main()
