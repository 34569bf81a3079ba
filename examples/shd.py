"""Spiking Heidelberg Digits with a recurrent spiking network, trained with BPTT.

    python examples/shd.py                          # the real data (downloaded once into ~/.cache/eqsnn/shd)
    python examples/shd.py --data DIR               # DIR holds shd_train.h5 and shd_test.h5 (or .h5.gz)
    python examples/shd.py --data FILE.h5           # one file in the SHD layout, split 80/20 here
    python examples/shd.py --synthetic --epochs 5   # a small synthetic file in the SHD layout, written to --out
    python examples/shd.py --epochs 1 --limit-batches 3   # smoke run

The network is the usual SHD baseline: 700 input channels -> 128 recurrent LIF
(or ALIF with `--neuron alif`) -> 20 leaky read-out neurons; the loss is the
cross-entropy of each read-out's maximum over time; Adam (`--lr`, default 2e-3).

The data stay on the device as padded events (`eqsnn.data.Events`: ms times,
channels, a count per sample). Each jitted training step gathers its batch and
turns every sample into an `eqsnn.data.EventSequence` of `--num-steps` bins of
`--bin-ms` ms; the input layer adds one weight row per event
(`EventSequence.matmul`), so the `[T, 700]` spike train is never built
(`--input dense` bins it with `eqsnn.data.bin_events` and multiplies instead).

Time: as in Zenke's SpyTorch SHD tutorial, 100 bins of 14 ms cover 1.4 s and
each bin is one 1 ms step of the neurons (`--neuron-dt`), so the time
constants below count model steps. Neurons use unit-scale parameters
(rest 0, threshold 1, reset 0).

Writes to `--out` (default `runs/shd-<timestamp>/`): `history.json`,
`curves.png`, `raster.png` (input events and hidden spikes of a few test
samples) and `summary.json`.
"""

from __future__ import annotations

import argparse
from datetime import datetime
import functools
import json
from pathlib import Path
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

import eqsnn
from eqsnn.data import Events, EventSequence, bin_events
from eqsnn.losses import accuracy, cross_entropy
from eqsnn.neurons import ALIF, LIF, Leaky
from eqsnn.nn import Linear
from eqsnn.train import History

NUM_UNITS, NUM_CLASSES = 700, 20


# ----------------------------------------------------------------------------- the model
def RecurrentSNN(num_hidden: int, *, key, neuron: str = "lif", dt: float = 1.0, input_gain: float = 10.0):
    r"""700 -> recurrent spiking layer -> leaky read-out, one sample, as an `eqsnn.Graph`.

    $$ I_t = x_t W_{in} + b + s_{t-1} W_{rec}, \qquad (v_t, s_t) = \mathrm{LIF}(v_{t-1}, I_t), \qquad
       y_t = e^{-\Delta t/\tau_o} y_{t-1} + s_t W_{out} + b_{out} $$

    The input layer `i2h` is hoisted out of the time loop by `eqsnn.run`: for an `EventSequence` it adds
    one weight row per event. The recurrent edge `hidden -> h2h` is delayed (the last step's spikes).
    """
    k1, k2, k3 = jax.random.split(key, 3)
    # He-normal scaled up: with the exact exponential update a step adds (1 - exp(-dt/tau)) of the input
    w_in = jax.nn.initializers.variance_scaling(2.0 * input_gain**2, "fan_in", "truncated_normal")
    w_rec = jax.nn.initializers.variance_scaling(0.5 * input_gain**2, "fan_in", "truncated_normal")
    unit_scale = dict(v_rest=0.0, v_reset=0.0, v_th=1.0, dt=dt)
    if neuron == "alif":
        hidden = ALIF(num_hidden, tau=20.0, tau_a=200.0, beta=0.2, **unit_scale)
    else:
        hidden = LIF(num_hidden, tau=10.0, **unit_scale)
    return eqsnn.Graph(
        nodes={
            "i2h": Linear(NUM_UNITS, num_hidden, key=k1, w_init=w_in),
            "h2h": Linear(num_hidden, num_hidden, key=k2, w_init=w_rec, use_bias=False),
            "hidden": hidden,
            "h2o": Linear(num_hidden, NUM_CLASSES, key=k3),
            "out": Leaky(NUM_CLASSES, tau=20.0, dt=dt),
        },
        edges=[("input", "i2h"), ("i2h", "hidden"), ("h2h", "hidden"), ("hidden", "h2o"), ("h2o", "out")],
        delayed=[("hidden", "h2h")],
        output="out",
    )


# ----------------------------------------------------------------------------- data
def write_synthetic(path: Path, num_samples: int, seed: int) -> None:
    """A file in the official SHD layout (h5py variable-length float16 seconds, uint16 channels): class c
    is a band of channels sweeping up or down over about 0.9 s, plus background events everywhere."""
    import h5py

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, num_samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (num_samples,), dtype=h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (num_samples,), dtype=h5py.vlen_dtype(np.uint16))
        for n, c in enumerate(labels):
            k_signal, k_noise = rng.poisson(600), rng.poisson(300)
            onset = rng.uniform(0.0, 0.3)
            t_sig = onset + rng.uniform(0.0, 0.9, k_signal)
            up = c < 10
            start, slope = (40 + 30 * c, 250.0) if up else (660 - 30 * (c - 10), -250.0)  # slope: channels per s
            u_sig = start + slope * (t_sig - onset) + rng.normal(0.0, 12.0, k_signal)
            t = np.concatenate([t_sig, rng.uniform(0.0, 1.4, k_noise)])
            u = np.concatenate([u_sig, rng.uniform(0, NUM_UNITS, k_noise)])
            u = np.clip(np.rint(u), 0, NUM_UNITS - 1)
            order = np.argsort(t)
            times[n] = t[order].astype(np.float16)
            units[n] = u[order].astype(np.uint16)
        f.create_dataset("labels", data=labels.astype(np.uint8))
        f.create_dataset("extra/keys", data=np.array([f"class-{c}".encode() for c in range(NUM_CLASSES)]))
        f.create_dataset("extra/speaker", data=np.zeros(num_samples, np.uint8))


def split_events(ev: Events, fraction: float, seed: int) -> tuple[Events, Events]:
    perm = np.random.default_rng(seed).permutation(len(ev.labels))
    cut = int(round(fraction * len(perm)))
    take = lambda idx: Events(*(np.asarray(a)[idx] for a in ev))  # noqa: E731
    return take(perm[:cut]), take(perm[cut:])


def load_data(args) -> tuple[Events, Events, str]:
    if args.synthetic:
        train_file, test_file = args.out / "synthetic_train.h5", args.out / "synthetic_test.h5"
        write_synthetic(train_file, args.synthetic_samples, args.seed)
        write_synthetic(test_file, max(args.synthetic_samples // 4, args.batch_size), args.seed + 1)
        train, _ = eqsnn.data.read_hdf5_events(train_file, num_classes=NUM_CLASSES, max_events=args.max_events)
        test, _ = eqsnn.data.read_hdf5_events(test_file, num_classes=NUM_CLASSES, max_events=args.max_events)
        return train, test, f"synthetic SHD-layout files in {args.out}"
    if args.data is not None and args.data.is_file():
        ev, _ = eqsnn.data.read_hdf5_events(args.data, num_classes=NUM_CLASSES, max_events=args.max_events)
        train, test = split_events(ev, 0.8, args.seed)
        return train, test, f"{args.data} (80/20 split)"
    train = eqsnn.data.shd("train", root=args.data, max_events=args.max_events)
    test = eqsnn.data.shd("test", root=args.data, max_events=args.max_events)
    return train, test, "SHD" if args.data is None else f"SHD files in {args.data}"


# ----------------------------------------------------------------------------- training
def make_functions(args, total_steps: int):
    """The jitted train step and evaluation, both gathering and binning their batch on the device."""

    def forward(model, data, idx):
        times, units, counts, labels = (a[idx] for a in data)
        if args.input == "event":
            make = functools.partial(
                EventSequence.from_times, num_steps=args.num_steps, dt=args.bin_ms, num_units=NUM_UNITS
            )
            xs = jax.vmap(make)(times, units, counts)
        else:
            binned = functools.partial(bin_events, num_steps=args.num_steps, dt=args.bin_ms, num_units=NUM_UNITS)
            xs = jax.vmap(binned)(times, units, counts)  # [B, T, 700]
        monitor = lambda s: s["hidden"].spike  # noqa: E731
        _, ys, counts_h = jax.vmap(lambda x: eqsnn.run(model, x, monitor=monitor, reduce_monitor="sum"))(xs)
        logits = ys.max(axis=1)  # [B, 20]: each read-out's maximum over time
        rate = counts_h.mean() / args.num_steps  # spikes per hidden neuron per step
        return logits, labels, rate

    def loss_fn(model, batch):
        data, idx = batch
        logits, labels, rate = forward(model, data, idx)
        return cross_entropy(logits, labels), {"acc": accuracy(logits, labels), "rate": rate}

    optimizer = optax.adam(optax.cosine_decay_schedule(args.lr, total_steps) if args.lr_decay else args.lr)
    step = eqsnn.train.make_step(loss_fn, optimizer)

    @eqx.filter_jit
    def evaluate(model, data, idx, weight):
        logits, labels, rate = forward(model, data, idx)
        losses = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
        hits = (jnp.argmax(logits, axis=-1) == labels).astype(logits.dtype)
        return jnp.sum(losses * weight), jnp.sum(hits * weight), rate

    @eqx.filter_jit
    def record(model, data, idx):
        """Input trains and hidden spikes of a few samples, for the raster."""
        times, units, counts, _ = (a[idx] for a in data)
        binned = functools.partial(bin_events, num_steps=args.num_steps, dt=args.bin_ms, num_units=NUM_UNITS)
        xs = jax.vmap(binned)(times, units, counts)
        _, _, spikes = jax.vmap(lambda x: eqsnn.run(model, x, monitor=lambda s: s["hidden"].spike))(xs)
        return xs, spikes

    return optimizer, step, evaluate, record


def run_test(evaluate, model, data, num: int, batch_size: int, limit: int | None):
    starts = list(range(0, num, batch_size))[:limit]
    loss = hits = seen = 0.0
    rates = []
    for start in starts:  # fixed-size batches: the last one wraps around, with zero weight on the repeats
        idx = jnp.arange(start, start + batch_size) % num
        weight = (jnp.arange(start, start + batch_size) < num).astype(jnp.float32)
        l_sum, h_sum, rate = evaluate(model, data, idx, weight)
        loss, hits, seen = loss + l_sum, hits + h_sum, seen + min(batch_size, num - start)
        rates.append(rate)
    return {"loss": float(loss) / seen, "acc": float(hits) / seen, "rate": float(jnp.mean(jnp.stack(rates)))}


def train(args, train_ev: Events, test_ev: Events):
    key = jax.random.key(args.seed)
    k_model, k_shuffle = jax.random.split(key)
    model = RecurrentSNN(args.hidden, key=k_model, neuron=args.neuron, dt=args.neuron_dt)
    train_d, test_d = jax.device_put(tuple(train_ev)), jax.device_put(tuple(test_ev))  # once, on the device
    n_train, n_test = len(train_ev.labels), len(test_ev.labels)
    num_batches = n_train // args.batch_size
    if args.limit_batches is not None:
        num_batches = min(num_batches, args.limit_batches)
    if num_batches == 0:
        raise SystemExit(f"--batch-size {args.batch_size} is larger than the {n_train} training samples")
    optimizer, step, evaluate, record = make_functions(args, args.epochs * num_batches)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    history = History()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        perm = jax.random.permutation(jax.random.fold_in(k_shuffle, epoch), n_train)
        values = []
        bar = tqdm(range(num_batches), desc=f"Epoch {epoch + 1}/{args.epochs}", unit="batch", leave=False)
        for i in bar:
            idx = perm[i * args.batch_size : (i + 1) * args.batch_size]
            model, opt_state, loss, aux = step(model, opt_state, (train_d, idx))
            values.append({"loss": loss, **aux})
            if (i + 1) % 10 == 0:
                bar.set_postfix(loss=f"{float(loss):.3f}")
        bar.close()
        per_step = jax.device_get({k: jnp.stack([v[k] for v in values]) for k in values[0]})
        per_step = {k: np.asarray(v, np.float64).tolist() for k, v in per_step.items()}
        history.add_epoch("fit", {k: float(np.mean(v)) for k, v in per_step.items()}, per_step)
        test = run_test(evaluate, model, test_d, n_test, args.batch_size, args.limit_batches)
        history.add_epoch("test", test)
        history.times.append(time.perf_counter() - t0)
        fit = history.epochs["fit"][-1]
        print(
            f"Epoch {epoch + 1}/{args.epochs}: {history.times[-1]:.1f} s, train loss {fit['loss']:.4f} "
            f"acc {fit['acc']:.4f} rate {fit['rate']:.3f} | test loss {test['loss']:.4f} acc {test['acc']:.4f}",
            flush=True,
        )
    few = jnp.arange(min(3, n_test))
    inputs, spikes = record(model, test_d, few)
    return model, history, np.asarray(inputs), np.asarray(spikes), test_ev.labels[: len(few)]


# ----------------------------------------------------------------------------- outputs
def save(args, history: History, inputs, spikes, labels, source: str, seconds: float) -> None:
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    history.save(out / "history.json")
    fig = eqsnn.plot.history_curves(history)
    fig.suptitle("SHD, recurrent SNN: loss and accuracy per epoch")
    fig.savefig(out / "curves.png", dpi=110)
    titles = [f"label {int(c)}" for c in labels]
    both = np.concatenate([np.minimum(inputs, 1.0), np.zeros_like(inputs[:, :, :8]), spikes], axis=-1)
    fig = eqsnn.plot.raster(both, dt=args.bin_ms, titles=titles, markersize=1.0)
    fig.suptitle(f"test samples: input channels 0-699 (bottom), hidden neurons {NUM_UNITS + 8}+ (top)")
    fig.savefig(out / "raster.png", dpi=110)
    summary = {
        "data": source,
        "epochs": history.num_epochs,
        "final_train_acc": float(history.metric("fit", "acc")[-1]),
        "final_test_acc": float(history.metric("test", "acc")[-1]),
        "hidden_rate": float(history.metric("fit", "rate")[-1]),
        "seconds_per_epoch": float(np.mean(history.times)),
        "total_seconds": seconds,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}/ (final test accuracy {summary['final_test_acc']:.4f})")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None, help="a folder with shd_{train,test}.h5[.gz], or one .h5 file")
    p.add_argument("--synthetic", action="store_true", help="write and train on a small synthetic SHD-layout file")
    p.add_argument("--synthetic-samples", type=int, default=1024, help="training samples of --synthetic")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--limit-batches", type=int, default=None, help="use only N batches per epoch (smoke runs)")
    p.add_argument("--num-steps", type=int, default=100, help="time bins per sample")
    p.add_argument("--bin-ms", type=float, default=14.0, help="bin width in ms (100 x 14 ms = 1.4 s)")
    p.add_argument("--neuron-dt", type=float, default=1.0, help="the neurons' step in ms (one bin = one step)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--neuron", choices=["lif", "alif"], default="lif")
    p.add_argument("--input", choices=["event", "dense"], default="event", help="input projection")
    p.add_argument("--max-events", type=int, default=None, help="keep at most N events per sample")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--lr-decay", action="store_true", help="cosine-decay the learning rate to 0 over the run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/shd-<timestamp>/)")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "num_steps", "hidden", "synthetic_samples"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.bin_ms <= 0 or args.neuron_dt <= 0:
        p.error(f"--bin-ms and --neuron-dt must be positive ms, got {args.bin_ms} and {args.neuron_dt}")
    if args.synthetic and args.data is not None:
        p.error("--synthetic and --data exclude each other")
    args.out = args.out or Path("runs") / datetime.now().strftime("shd-%Y%m%d-%H%M%S")
    t0 = time.perf_counter()
    train_ev, test_ev, source = load_data(args)
    print(
        f"data: {source}: {len(train_ev.labels)} train / {len(test_ev.labels)} test samples, "
        f"up to {train_ev.times.shape[1]} events each ({float(np.mean(train_ev.counts)):.0f} on average)"
    )
    _, history, inputs, spikes, labels = train(args, train_ev, test_ev)
    save(args, history, inputs, spikes, labels, source, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
