"""Event data: SHD-layout files, padded Events, binning on device, EventSequence (docs/guides/event-data.md).

    python examples/guide_event_data.py --out DIR          # a few seconds on CPU
    python examples/guide_event_data.py --smoke --out DIR  # tiny sizes, for the tests

Writes a small synthetic file in the official SHD layout (with `examples/shd.py`'s writer), loads it
with `eqsnn.data.shd`, bins a few samples on the device, checks that the event-driven input equals the
binned one, converts to and from tonic's layout, and trains a feed-forward SNN for a few steps.
Writes `event-raster.png` (the binned input of three samples).
"""

from __future__ import annotations

# --8<-- [start:imports]
import argparse
import functools
from pathlib import Path
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.data import EventSequence, bin_events
from eqsnn.neurons import LIF, Leaky
from eqsnn.nn import Linear

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shd import write_synthetic  # noqa: E402  examples/shd.py: a file in the official SHD layout

# --8<-- [end:imports]

NUM_UNITS, NUM_CLASSES = 700, 20


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes and few steps (tests)")
    p.add_argument("--out", type=Path, default=Path("runs/guide-event-data"))
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    num_samples, num_train_steps = (32, 4) if args.smoke else (256, 30)

    # --8<-- [start:load]
    folder = args.out / "data"
    write_synthetic(folder / "shd_train.h5", num_samples, seed=0)  # the SHD layout: float16 s, uint16 channels
    train = eqsnn.data.shd("train", root=folder, download=False)  # found in root: nothing is downloaded
    print(f"{len(train.labels)} samples, padded to {train.times.shape[1]} events, "
          f"{train.counts.mean():.0f} on average, t in [0, {train.times.max():.0f}] ms")  # fmt: skip
    # --8<-- [end:load]

    # --8<-- [start:bin]
    num_steps, bin_ms = 100, 14.0  # 100 bins of 14 ms: 1.4 s
    binned = functools.partial(bin_events, num_steps=num_steps, dt=bin_ms, num_units=NUM_UNITS)
    data = jax.device_put(tuple(train))  # times, units, counts, labels: on the device, once
    idx = jnp.arange(3)
    xs = jax.jit(jax.vmap(binned))(data[0][idx], data[1][idx], data[2][idx])  # [3, 100, 700] counts
    # --8<-- [end:bin]
    print(f"binned {tuple(xs.shape)}: {int(xs.sum())} events of {int(train.counts[:3].sum())} kept")

    # --8<-- [start:events]
    key = jax.random.key(0)
    k1, k2, k3 = jax.random.split(key, 3)
    w_in = jax.nn.initializers.variance_scaling(200.0, "fan_in", "truncated_normal")  # scaled up: few events per bin
    model = (
        Linear(NUM_UNITS, 64, key=k1, w_init=w_in)  # stateless and first: hoisted out of the time loop
        >> LIF(64, tau=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=1.0)
        >> Linear(64, NUM_CLASSES, key=k2)
        >> Leaky(NUM_CLASSES, tau=20.0, dt=1.0)
    )
    as_events = functools.partial(EventSequence.from_times, num_steps=num_steps, dt=bin_ms, num_units=NUM_UNITS)
    seqs = jax.vmap(as_events)(data[0][idx], data[1][idx], data[2][idx])  # two integers per event, no [T, 700]

    run_batch = eqx.filter_jit(lambda m, xs: jax.vmap(lambda x: eqsnn.run(m, x))(xs))
    _, ys_events = run_batch(model, seqs)  # Linear adds one weight row per event
    _, ys_dense = run_batch(model, xs)  # the same network on the binned trains
    print("event-driven vs. binned input, max |diff|:", float(jnp.abs(ys_events - ys_dense).max()))
    # --8<-- [end:events]

    # --8<-- [start:tonic]
    as_tonic = eqsnn.data.to_tonic(train, sensor_size=(NUM_UNITS, 1, 1))  # structured arrays: t (µs), x, p
    back = eqsnn.data.from_tonic(as_tonic, sensor_size=(NUM_UNITS, 1, 1), labels=train.labels)
    print("tonic round trip:", as_tonic[0].dtype.names, bool(np.array_equal(back.units, train.units)))
    # --8<-- [end:tonic]

    # --8<-- [start:train]
    def loss_fn(model, batch):
        data, idx = batch
        times, units, counts, labels = (a[idx] for a in data)  # gather the batch on the device
        seqs = jax.vmap(as_events)(times, units, counts)  # binned inside the jitted step
        _, ys = jax.vmap(lambda x: eqsnn.run(model, x))(seqs)
        logits = ys.max(axis=1)
        return eqsnn.losses.cross_entropy(logits, labels), {"acc": eqsnn.losses.accuracy(logits, labels)}

    optimizer = optax.adam(5e-3)
    step = eqsnn.train.make_step(loss_fn, optimizer)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    losses = []
    for i in range(num_train_steps):
        batch_idx = jax.random.permutation(jax.random.fold_in(k3, i), len(train.labels))[:32]
        model, opt_state, loss, aux = step(model, opt_state, (data, batch_idx))
        losses.append(float(loss))
    # --8<-- [end:train]
    print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f} over {num_train_steps} steps")

    plot(np.asarray(xs), train.labels[:3], bin_ms, args.out / "event-raster.png")
    print(f"wrote {args.out}/event-raster.png")


def plot(xs, labels, bin_ms: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = eqsnn.plot.raster(
        xs, dt=bin_ms, titles=[f"label {int(c)}" for c in labels], markersize=0.6, figsize=(8.0, 2.8)
    )
    fig.suptitle("binned input of three synthetic SHD-layout samples (700 channels, 14 ms bins)", fontsize=9)
    fig.axes[0].set_ylabel("channel")
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
