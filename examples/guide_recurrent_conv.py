"""Recurrent and convolutional SNNs: Graph, delayed edges, reads, conv layers (docs/guides/recurrent-conv.md).

    python examples/guide_recurrent_conv.py --out DIR          # figures into DIR (about a minute on CPU)
    python examples/guide_recurrent_conv.py --smoke --out DIR  # tiny sizes, for the tests

Builds a recurrent ALIF network and a conductance-based E/I network as `eqsnn.Graph`s and a conv
SNN with `eqx.nn.Conv2d` and `eqx.nn.MaxPool2d`; trains the recurrent and the conv network for a
few steps on synthetic inputs. Writes `recurrent-raster.png` (hidden spikes after training) and
`recurrent-conv-loss.png` (the loss of both networks per training step).
"""

from __future__ import annotations

import argparse
from pathlib import Path

# --8<-- [start:imports]
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.neurons import ALIF, LIF, Leaky
from eqsnn.nn import FixedProb, Linear
from eqsnn.outputs import COBA
from eqsnn.synapses import Expon

# --8<-- [end:imports]


# --8<-- [start:recurrent]
def recurrent_alif(n_in: int, n_hidden: int, n_out: int, *, key):
    k1, k2, k3 = jax.random.split(key, 3)
    return eqsnn.Graph(
        nodes={
            "w_in": Linear(n_in, n_hidden, key=k1),
            "rec": Linear(n_hidden, n_hidden, key=k2, use_bias=False),
            "hidden": ALIF.unit_scale(n_hidden, tau_a=200.0),  # rest 0, threshold 1, dt = 1 ms
            "w_out": Linear(n_hidden, n_out, key=k3),
            "out": Leaky(n_out, tau=5.0, dt=1.0),
        },
        edges=[("input", "w_in"), ("w_in", "hidden"), ("rec", "hidden"), ("hidden", "w_out"), ("w_out", "out")],
        delayed=[("hidden", "rec")],  # rec sees the hidden spikes of the previous step
        output="out",
    )


# --8<-- [end:recurrent]


# --8<-- [start:coba]
def coba_ei(n_in: int = 10, n_e: int = 40, n_i: int = 10, p: float = 0.2, *, key):
    ks = jax.random.split(key, 4)
    lif = dict(tau=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=0.5)  # ms, threshold-scaled potentials

    def proj(k, n_pre, n_post, e_rev):  # sparse weights -> exponential conductance -> g (E - v)
        return eqsnn.Projection(FixedProb(n_pre, n_post, p, key=k), Expon(n_post, tau=5.0, dt=0.5), COBA(e=e_rev))

    return eqsnn.Graph(
        nodes={"drive": Linear(n_in, n_e, key=ks[0]), "E": LIF(n_e, **lif), "I": LIF(n_i, **lif),
               "EI": proj(ks[1], n_e, n_i, 4.0), "IE": proj(ks[2], n_i, n_e, -1.0), "EE": proj(ks[3], n_e, n_e, 4.0)},
        edges=[("input", "drive"), ("drive", "E"), ("EE", "E"), ("IE", "E"), ("EI", "I")],
        delayed=[("E", "EE"), ("E", "EI"), ("I", "IE")],
        # each projection reads the membrane potential of its target population (previous step)
        reads={"EE": ("E", lambda s: s.v), "IE": ("E", lambda s: s.v), "EI": ("I", lambda s: s.v)},
        output="E",
    )  # fmt: skip


# --8<-- [end:coba]


# --8<-- [start:conv]
def conv_snn(n_out: int, *, key, channels: int = 8):
    k1, k2 = jax.random.split(key)
    lif = dict(tau=5.0, v_rest=0.0, v_reset=0.0, v_th=0.5, dt=1.0)
    return (
        eqx.nn.Conv2d(2, channels, 3, padding=1, key=k1)  # [2, 34, 34] -> [8, 34, 34], stateless: hoisted
        >> LIF((channels, 34, 34), **lif)  # one neuron per pixel and channel
        >> eqx.nn.MaxPool2d(2, 2)  # -> [8, 17, 17]
        >> jnp.ravel
        >> Linear(channels * 17 * 17, n_out, key=k2)
        >> Leaky(n_out, tau=5.0, dt=1.0)
    )


# --8<-- [end:conv]


def channel_task(seed: int, batch: int, steps: int, n_in: int, n_classes: int):
    """Bernoulli spikes `[B, T, n_in]` of amplitude 8: class c fires its block of channels at 30 %, the rest at 5 %."""
    rng = np.random.default_rng(seed)  # NumPy: synthetic data needs no compilation
    labels = np.arange(batch) % n_classes
    block = (np.arange(n_in) * n_classes // n_in)[None, :] == labels[:, None]  # [B, n_in]
    rate = np.where(block, 0.3, 0.05)[:, None, :]
    xs = 8.0 * (rng.random((batch, steps, n_in)) < rate)
    return jnp.asarray(xs, jnp.float32), jnp.asarray(labels)


def frame_task(seed: int, batch: int, steps: int, n_classes: int = 4):
    """Event frames `[B, T, 2, 34, 34]` of amplitude 8: class c puts most events in quadrant c."""
    rng = np.random.default_rng(seed)
    labels = np.arange(batch) % n_classes
    top, left = np.arange(34)[:, None] < 17, np.arange(34)[None, :] < 17
    quadrants = np.stack([top & left, top & ~left, ~top & left, ~top & ~left])  # [4, 34, 34]
    rate = np.where(quadrants[labels], 0.2, 0.02)[:, None, None]  # [B, 1, 1, 34, 34]
    frames = 8.0 * (rng.random((batch, steps, 2, 34, 34)) < rate)
    return jnp.asarray(frames, jnp.float32), jnp.asarray(labels)


# --8<-- [start:train]
def train(model, xs, labels, *, num_steps: int, lr: float):
    """A few Adam steps on one batch: `xs` `[B, T, ...]`, `labels` `[B]`."""

    def loss_fn(model, batch):
        xs, labels = batch
        _, ys = jax.vmap(lambda x: eqsnn.run(model, x))(xs)  # [B, T, n_out]
        logits = ys.max(axis=1)  # each read-out's maximum over time
        return eqsnn.losses.cross_entropy(logits, labels), {"acc": eqsnn.losses.accuracy(logits, labels)}

    optimizer = optax.adam(lr)
    step = eqsnn.train.make_step(loss_fn, optimizer)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    losses = []
    for _ in range(num_steps):
        model, opt_state, loss, aux = step(model, opt_state, (xs, labels))
        losses.append(float(loss))
    return model, losses


# --8<-- [end:train]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes and few steps (tests)")
    p.add_argument("--out", type=Path, default=Path("runs/guide-recurrent-conv"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(0)
    k_rec, k_coba, k_conv = jax.random.split(key, 3)
    n_in, n_hidden, n_classes = 40, (32 if args.smoke else 64), 4
    batch, steps = (8, 30) if args.smoke else (32, 60)

    # --8<-- [start:run-recurrent]
    net = recurrent_alif(n_in, n_hidden, n_classes, key=k_rec)
    xs, labels = channel_task(1, batch, steps, n_in, n_classes)  # [B, T, 40] spikes, [B]

    @eqx.filter_jit
    def run_batch(model, xs):  # a monitor is any function of the state; vmap runs a batch
        return jax.vmap(lambda x: eqsnn.run(model, x, monitor=lambda state: state["hidden"].spike))(xs)

    final, ys, spikes = run_batch(net, xs)  # ys [B, T, 4], spikes [B, T, 64]
    # --8<-- [end:run-recurrent]
    print(f"recurrent ALIF: output {ys.shape}, hidden spikes {spikes.shape}, rate {float(spikes.mean()):.3f}/step")

    # --8<-- [start:hoisting]
    # run hoists w_in (fed by the input only) out of the time loop; a plain scan of step gives the same
    _, ys_scan = jax.jit(lambda x: jax.lax.scan(net.step, net.init_state(), x))(xs[0])
    print("run vs. scan of step, max |diff|:", float(jnp.abs(ys[0] - ys_scan).max()))
    # --8<-- [end:hoisting]

    coba = coba_ei(n_e=10 if args.smoke else 40, key=k_coba)  # smoke: one weight shape, fewer compilations
    drive = jnp.asarray(2.0 * (np.random.default_rng(3).random((steps, 10)) < 0.5), jnp.float32)
    _, e_spikes = eqx.filter_jit(eqsnn.run)(coba, drive)
    print(f"COBA E/I: E spikes {e_spikes.shape}, rate {float(e_spikes.mean()):.3f}/step")

    net, rec_losses = train(net, xs, labels, num_steps=8 if args.smoke else 60, lr=5e-3)
    print(f"recurrent ALIF: loss {rec_losses[0]:.3f} -> {rec_losses[-1]:.3f}")
    _, _, spikes = run_batch(net, xs)

    # --8<-- [start:run-conv]
    conv = conv_snn(n_classes, key=k_conv, channels=4 if args.smoke else 8)
    frames, frame_labels = frame_task(2, batch // 2, steps // 3)  # [B, T, 2, 34, 34]
    run_conv = eqx.filter_jit(lambda m, xs: jax.vmap(lambda x: eqsnn.run(m, x, monitor=lambda s: s[1].spike))(xs))
    _, ys_conv, conv_spikes = run_conv(conv, frames)
    # conv_spikes: [B, T, channels, 34, 34], the LIF layer's state is the second of the chain's states
    # --8<-- [end:run-conv]
    print(
        f"conv SNN: output {ys_conv.shape}, LIF spikes {conv_spikes.shape}, rate {float(conv_spikes.mean()):.3f}/step"
    )
    conv, conv_losses = train(conv, frames, frame_labels, num_steps=4 if args.smoke else 25, lr=5e-4)
    print(f"conv SNN: loss {conv_losses[0]:.3f} -> {conv_losses[-1]:.3f}")

    plot(spikes[:4], labels[:4], rec_losses, conv_losses, args.out)
    print(f"wrote {args.out}/recurrent-raster.png and recurrent-conv-loss.png")


def plot(spikes, labels, rec_losses, conv_losses, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = eqsnn.plot.raster(
        spikes, dt=1.0, titles=[f"class {int(c)}" for c in labels], markersize=1.0, figsize=(8.0, 2.6)
    )
    fig.suptitle("hidden ALIF spikes after training, one panel per sample", fontsize=9)
    fig.savefig(out / "recurrent-raster.png", dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.plot(rec_losses, label="recurrent ALIF")
    ax.plot(conv_losses, label="conv SNN")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "recurrent-conv-loss.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
