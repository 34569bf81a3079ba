"""Training with back-propagation through time on Fashion-MNIST, three ways.

    python examples/bp_training.py                 # all three parts, defaults
    python examples/bp_training.py --part snn --dt 0.1
    python examples/bp_training.py --epochs 1 --limit-batches 3   # smoke run

1. ann:    LSTM(28 -> 100) + linear read-out over the image rows (28 steps),
           loss = cross-entropy of the read-out's maximum over time,
           `eqsnn.train.BPTT.fit` with a test set every epoch.
2. snn:    784 -> 100 -> 10 spiking network: latency-coded pixels (100 steps),
           LifRef hidden neurons, exponential current synapses, leaky read-out,
           surrogate gradients, hidden spike counts regularised through a monitor.
3. custom: the LSTM again, with a hand-written loop in plain Equinox + Optax.

Each part writes to `--out/<part>/`: `history.json`, `curves.png`,
`summary.json` (and `raster.png` for the SNN).
"""

from __future__ import annotations

import argparse
from datetime import datetime
import json
import math
from pathlib import Path
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.encoding import latency_steps, rows_as_sequence
from eqsnn.losses import accuracy, cross_entropy, spike_l1, spike_l2
from eqsnn.nn import GRUCell, Linear, LSTMCell, SpikeSteps  # noqa: F401  (GRUCell: try it in place of LSTMCell)
from eqsnn.train import BPTT, History

NUM_STEPS_SNN = 100
ENCODER_STEPS = 20.0  # latency-code time constant, in steps (the tutorial's 2 ms at dt = 0.1 ms)


# ----------------------------------------------------------------------------- data
def load(limit_batches: int | None, batch_size: int, eval_batch_size: int):
    x_train, y_train = eqsnn.data.fashion_mnist("train")
    x_test, y_test = eqsnn.data.fashion_mnist("test")
    if limit_batches is not None:
        x_train, y_train = x_train[: limit_batches * batch_size], y_train[: limit_batches * batch_size]
        x_test, y_test = x_test[: limit_batches * eval_batch_size], y_test[: limit_batches * eval_batch_size]
    return (x_train, y_train), (x_test, y_test)


def max_over_time_loss(outputs, targets, monitored):
    """Cross-entropy of the read-out's maximum over time (the tutorial's loss)."""
    logits = outputs.max(axis=1)
    return cross_entropy(logits, targets), {"acc": accuracy(logits, targets)}


# ----------------------------------------------------------------------------- part 1: LSTM with BPTT.fit
def part_ann(args, data, key):
    (x_train, y_train), test = data
    k_model, k_fit = jax.random.split(key)
    k1, k2 = jax.random.split(k_model)
    model = LSTMCell(28, 100, key=k1) >> Linear(100, 10, key=k2)
    trainer = BPTT(max_over_time_loss, optax.adam(1e-3), inputs=rows_as_sequence)
    return trainer.fit(
        model,
        (x_train, y_train),
        test,
        num_epochs=args.epochs or 10,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        key=k_fit,
    )


# ----------------------------------------------------------------------------- part 2: SNN with BPTT.fit
def snn_inputs(dt: float):
    """uint8 images [B, 28, 28] -> latency spike steps, encoded on device inside the jitted step."""

    def encode(images):
        x = images.reshape(images.shape[0], -1).astype(jnp.float32) / 255.0
        steps = latency_steps(x, NUM_STEPS_SNN, tau=ENCODER_STEPS * dt, dt=dt)
        return jax.vmap(lambda s: SpikeSteps(s, NUM_STEPS_SNN))(steps)

    return encode


def snn_loss(outputs, targets, monitored):
    """The tutorial's loss: cross-entropy of max over time + 1e-5 (L1 + L2) of hidden spike counts.

    `monitored["r.spike"]` holds each hidden neuron's spike count per image, `[B, 100]`: the monitor is summed
    over time inside the scan (`reduce_monitor="sum"`), which is all the L1/L2 terms need.
    """
    logits = outputs.max(axis=1)
    counts = monitored["r.spike"]
    loss = cross_entropy(logits, targets) + 1e-5 * spike_l1(counts) + 1e-5 * spike_l2(counts)
    return loss, {"acc": accuracy(logits, targets), "rate": counts.mean() / NUM_STEPS_SNN}


def part_snn(args, data, key):
    (x_train, y_train), test = data
    k_model, k_fit = jax.random.split(key)
    model = eqsnn.models.SNN(28 * 28, 100, 10, key=k_model, dt=args.dt)
    epochs = args.epochs or 5
    steps_per_epoch = max(1, len(x_train) // args.batch_size)
    lr = optax.cosine_decay_schedule(args.snn_lr, epochs * steps_per_epoch) if args.snn_lr_decay else args.snn_lr
    trainer = BPTT(
        snn_loss,
        optax.adam(lr),
        monitor={"r.spike": lambda state: state["r"].spike},
        reduce_monitor="sum",
        inputs=snn_inputs(args.dt),
    )
    model, history = trainer.fit(
        model,
        (x_train, y_train),
        test,
        num_epochs=epochs,
        batch_size=args.batch_size,
        eval_batch_size=args.eval_batch_size,
        key=k_fit,
    )
    # hidden spikes of a few test images, for the raster plot
    x_few = snn_inputs(args.dt)(jnp.asarray(test[0][:4]))
    _, _, mon = jax.vmap(lambda xs: eqsnn.run(model, xs, monitor=eqsnn.models.hidden_spikes))(x_few)
    return model, history, np.asarray(mon["r.spike"])


# ----------------------------------------------------------------------------- part 3: hand-written loop
def part_custom(args, data, key):
    """The LSTM with plain Equinox + Optax: no trainer, every piece in view."""
    (x_train, y_train), (x_test, y_test) = data
    k1, k2, k_shuffle = jax.random.split(key, 3)
    model = LSTMCell(28, 100, key=k1) >> Linear(100, 10, key=k2)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))  # only the trainable leaves

    def loss_fn(model, images, labels):
        xs = rows_as_sequence(images)  # [B, 28 rows (time), 28]
        ys = jax.vmap(lambda x: eqsnn.run(model, x)[1])(xs)  # [B, 28, 10]
        logits = ys.max(axis=1)
        return cross_entropy(logits, labels), accuracy(logits, labels)

    @eqx.filter_jit
    def train_step(model, opt_state, images, labels):
        (loss, acc), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model, images, labels)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss, acc

    @eqx.filter_jit
    def eval_step(model, images, labels):
        return loss_fn(model, images, labels)

    x_train_d, y_train_d = jnp.asarray(x_train), jnp.asarray(y_train)
    history = History()
    bs, step, print_every = args.batch_size, 0, 100
    num_batches = len(x_train) // bs
    for epoch in range(args.epochs or 10):
        t0 = time.perf_counter()
        perm = jax.random.permutation(jax.random.fold_in(k_shuffle, epoch), len(x_train))  # fresh each epoch
        run_loss, run_acc, n_run, ep_loss, ep_acc = 0.0, 0.0, 0, [], []
        t_print = time.perf_counter()
        for i in range(num_batches):
            idx = perm[i * bs : (i + 1) * bs]
            model, opt_state, loss, acc = train_step(model, opt_state, x_train_d[idx], y_train_d[idx])
            ep_loss.append(loss)
            ep_acc.append(acc)
            run_loss, run_acc, n_run, step = run_loss + loss, run_acc + acc, n_run + 1, step + 1
            if step % print_every == 0:  # one host sync per 100 steps
                print(
                    f"Step {step}, used {time.perf_counter() - t_print:.2f} s, "
                    f"loss {float(run_loss) / n_run:.4f}, acc {float(run_acc) / n_run:.4f}"
                )
                run_loss, run_acc, n_run, t_print = 0.0, 0.0, 0, time.perf_counter()
        step_loss, step_acc = np.asarray(jnp.stack(ep_loss)), np.asarray(jnp.stack(ep_acc))  # one sync per epoch
        fit = {"loss": float(step_loss.mean()), "acc": float(step_acc.mean())}
        ebs = args.eval_batch_size
        starts = range(0, len(x_test), ebs)
        tests = [eval_step(model, jnp.asarray(x_test[j : j + ebs]), jnp.asarray(y_test[j : j + ebs])) for j in starts]
        weights = np.array([min(ebs, len(x_test) - j) for j in starts], dtype=float)
        test = {
            "loss": float(np.average([float(t[0]) for t in tests], weights=weights)),
            "acc": float(np.average([float(t[1]) for t in tests], weights=weights)),
        }
        seconds = time.perf_counter() - t0
        history.add_epoch("fit", fit, {"loss": step_loss.tolist(), "acc": step_acc.tolist()})
        history.add_epoch("test", test)
        history.times.append(seconds)
        print(
            f"Epoch {epoch + 1}: {seconds:.1f} s, train loss {fit['loss']:.4f} acc {fit['acc']:.4f}, "
            f"test loss {test['loss']:.4f} acc {test['acc']:.4f}"
        )
    return model, history


# ----------------------------------------------------------------------------- outputs
def save_part(out: Path, name: str, history: History, seconds: float, extra: dict | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    history.save(out / "history.json")
    fig = eqsnn.plot.history_curves(history)
    fig.suptitle(f"{name}: loss and accuracy per epoch")
    fig.savefig(out / "curves.png", dpi=110)
    test_acc = history.metric("test", "acc")
    summary = {
        "part": name,
        "epochs": history.num_epochs,
        "final_test_acc": float(test_acc[-1]) if len(test_acc) else None,
        "final_train_acc": float(history.metric("fit", "acc")[-1]),
        "seconds_per_epoch": seconds / max(1, history.num_epochs),
        **(extra or {}),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{name}: wrote {out}/  (final test accuracy {summary['final_test_acc']})")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=["ann", "snn", "custom", "all"], default="all")
    p.add_argument("--epochs", type=int, default=None, help="epochs per part (default: ann 10, snn 5, custom 10)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--eval-batch-size", type=int, default=512)
    p.add_argument("--dt", type=float, default=1.0, help="SNN time step in ms (0.1 = the tutorial's exact setting)")
    p.add_argument(
        "--snn-lr",
        type=float,
        default=None,
        help="SNN Adam learning rate (default: 5e-3 with cosine decay; at --dt 0.1 the tutorial's constant 1e-3)",
    )
    p.add_argument("--no-snn-lr-decay", dest="snn_lr_decay", action="store_false", help="constant SNN learning rate")
    p.add_argument("--limit-batches", type=int, default=None, help="use only N batches of each split (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<timestamp>/)")
    args = p.parse_args(argv)
    if args.dt <= 0 or not math.isfinite(args.dt):
        p.error(f"--dt must be a positive number of ms, got {args.dt}")
    for name in ("batch_size", "eval_batch_size"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.snn_lr is None:  # the tutorial's exact setting at its own dt; the better-learning one otherwise
        tutorial = math.isclose(args.dt, 0.1)
        args.snn_lr = 1e-3 if tutorial else 5e-3
        args.snn_lr_decay = args.snn_lr_decay and not tutorial
    out = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    data = load(args.limit_batches, args.batch_size, args.eval_batch_size)
    key = jax.random.key(args.seed)
    parts = ["ann", "snn", "custom"] if args.part == "all" else [args.part]
    for name in parts:
        print(f"=== {name} ===")
        t0 = time.perf_counter()
        k = jax.random.fold_in(key, ["ann", "snn", "custom"].index(name))  # same key whether run alone or in "all"
        if name == "ann":
            _, history = part_ann(args, data, k)
            save_part(out / name, name, history, time.perf_counter() - t0)
        elif name == "snn":
            _, history, spikes = part_snn(args, data, k)
            extra = {"dt_ms": args.dt, "lr": args.snn_lr, "lr_decay": args.snn_lr_decay}
            save_part(out / name, name, history, time.perf_counter() - t0, extra)
            titles = [f"test image {k + 1}" for k in range(len(spikes))]
            fig = eqsnn.plot.raster(spikes, dt=args.dt, titles=titles, markersize=6.0)
            fig.suptitle("hidden-layer spikes of the trained SNN")
            fig.savefig(out / name / "raster.png", dpi=110)
        else:
            _, history = part_custom(args, data, k)
            save_part(out / name, name, history, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
