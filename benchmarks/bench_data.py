"""Data pipeline benchmark: loading Fashion-MNIST and latency-encoding one training epoch.

Compares, in the same run:

* eqsnn: `latency` vmapped over a batch of 256 inside `jax.jit`, each batch gathered on
  device from `epoch_indices` (100 steps, dense float32 and bool `[256, 100, 784]`), and the
  event-driven form (`latency_steps` of all 60 000 images at once, `int32 [60000, 784]`);
* the baseline: the per-sample NumPy generator of the usual tutorial code (firing times of the
  whole set in NumPy, then a Python loop per sample per batch that scatters its spikes into a
  `[256, 100, 784]` array, then moved to the device), run for a few batches and extrapolated.

Usage: `python benchmarks/bench_data.py [--root DIR] [--baseline-batches 10] [--repeats 3]`.
Writes `benchmarks/results/data.json`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import eqsnn
from eqsnn import encoding

NUM_STEPS = 100
BATCH = 256
DEBIAN = "/usr/share/datasets/fashion-mnist"


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


# ---------------------------------------------------------------- baseline (tutorial-style)


def baseline_firing_times(x, tau=20.0, thr=0.2, tmax=1.0, epsilon=1e-7):
    x = np.clip(x, thr + epsilon, 1e9)
    t = tau * np.log(x / (x - thr))
    t = np.where(x < thr, tmax, t)
    return t


def baseline_generator(x, y, batch_size, nb_steps, nb_units, num_batches, rng):
    labels = np.array(y, dtype=np.int32)
    sample_index = np.arange(len(x))
    tau_eff = 2.0 / 0.1
    unit_numbers = np.arange(nb_units)
    firing_times = np.array(baseline_firing_times(x, tau=tau_eff, tmax=nb_steps), dtype=np.int32)
    rng.shuffle(sample_index)
    for counter in range(num_batches):
        batch_index = sample_index[batch_size * counter : batch_size * (counter + 1)]
        all_batch, all_times, all_units = [], [], []
        for bc, idx in enumerate(batch_index):
            c = firing_times[idx] < nb_steps
            times, units = firing_times[idx][c], unit_numbers[c]
            all_batch.append(bc * np.ones(len(times), dtype=np.int32))
            all_times.append(times)
            all_units.append(units)
        all_batch = np.concatenate(all_batch)
        all_times = np.concatenate(all_times)
        all_units = np.concatenate(all_units)
        x_batch = np.zeros((batch_size, nb_steps, nb_units), dtype=np.float32)
        x_batch[all_batch, all_times, all_units] = 1.0
        yield jnp.asarray(x_batch), jnp.asarray(labels[batch_index])


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=DEBIAN, help="folder holding the Fashion-MNIST files")
    parser.add_argument("--baseline-batches", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "data.json"))
    args = parser.parse_args()
    r = args.repeats

    # 1. Loading.
    load_min, load_med, (x, y) = timed(lambda: eqsnn.data.fashion_mnist("train", root=args.root, download=False), r)
    test_min, test_med, _ = timed(lambda: eqsnn.data.fashion_mnist("test", root=args.root, download=False), r)
    n = len(x)
    num_batches = n // BATCH  # full batches, as the tutorial's generator

    # 2. eqsnn, dense batches gathered on device.
    x_dev = jnp.asarray(x.reshape(n, -1)).astype(jnp.float32) / 255
    x_dev.block_until_ready()

    def make_encoder(dtype):
        @jax.jit
        def encode(x_all, idx):
            return jax.vmap(lambda xi: encoding.latency(xi, NUM_STEPS, dtype=dtype))(x_all[idx])

        return encode

    epoch_idx = jax.jit(eqsnn.data.epoch_indices, static_argnums=(0, 1))
    results_dense = {}
    for name, dtype in (("float32", jnp.float32), ("bool", jnp.bool_)):
        encode = make_encoder(dtype)
        t0 = time.perf_counter()
        idx = epoch_idx(n, BATCH, jax.random.key(0))
        encode(x_dev, idx[0]).block_until_ready()
        compile_s = time.perf_counter() - t0

        def epoch(encode=encode):
            idx = epoch_idx(n, BATCH, jax.random.key(1))
            out = None
            for b in range(num_batches):
                out = encode(x_dev, idx[b])
            out.block_until_ready()
            return out

        t_min, t_med, out = timed(epoch, r)
        assert out.shape == (BATCH, NUM_STEPS, 784)
        results_dense[name] = dict(min_s=t_min, median_s=t_med, compile_s=compile_s)

    # Memory-bound reference: writing the same bytes with a plain broadcast, per batch.
    @jax.jit
    def write_ref(x_all, idx):
        return jnp.broadcast_to(x_all[idx][:, None, :], (BATCH, NUM_STEPS, x_all.shape[1])) * 2.0

    def ref_epoch():
        idx = epoch_idx(n, BATCH, jax.random.key(1))
        out = None
        for b in range(num_batches):
            out = write_ref(x_dev, idx[b])
        return out.block_until_ready()

    ref_epoch()
    ref_min, ref_med, _ = timed(ref_epoch, r)

    # 3. eqsnn, event-driven form: per batch, and the whole set in one call.
    steps_batch = jax.jit(lambda x_all, i: encoding.latency_steps(x_all[i], NUM_STEPS))

    def steps_epoch():
        idx = epoch_idx(n, BATCH, jax.random.key(1))
        out = None
        for b in range(num_batches):
            out = steps_batch(x_dev, idx[b])
        return out.block_until_ready()

    steps_epoch()
    sb_min, sb_med, _ = timed(steps_epoch, r)

    steps_fn = jax.jit(encoding.latency_steps, static_argnums=1)
    steps_fn(x_dev, NUM_STEPS).block_until_ready()
    steps_min, steps_med, steps = timed(lambda: steps_fn(x_dev, NUM_STEPS).block_until_ready(), r)

    # 4. Baseline, a few batches, extrapolated to the epoch.
    x_host = np.asarray(x_dev)  # float32, as the tutorial's arrays
    k = min(args.baseline_batches, num_batches)

    def baseline():
        rng = np.random.default_rng(0)
        last = None
        for batch in baseline_generator(x_host, y, BATCH, NUM_STEPS, 784, k, rng):
            last = batch
        last[0].block_until_ready()
        return last

    base_min, base_med, (xb, _) = timed(baseline, r)
    # The firing-time pass over the whole set is paid once per epoch; time it alone to extrapolate fairly.
    ft_min, _, ft = timed(lambda: np.array(baseline_firing_times(x_host, tau=20.0, tmax=NUM_STEPS), np.int32), r)
    per_batch = (base_min - ft_min) / k
    base_epoch = ft_min + per_batch * num_batches
    # Same spike code: the baseline's firing times equal eqsnn's steps (clamped to "no spike").
    same = bool(np.array_equal(np.where(ft < NUM_STEPS, ft, NUM_STEPS), np.asarray(steps)))

    dense32 = results_dense["float32"]["min_s"]
    rows = [
        ("load train (60 000) from .gz", load_min, load_med, ""),
        ("load test (10 000) from .gz", test_min, test_med, ""),
        (
            f"eqsnn latency, {num_batches} batches x [256,100,784] f32, jit",
            dense32,
            results_dense["float32"]["median_s"],
            "",
        ),
        (
            f"eqsnn latency, {num_batches} batches x [256,100,784] bool, jit",
            results_dense["bool"]["min_s"],
            results_dense["bool"]["median_s"],
            "",
        ),
        (f"  reference: plain write of the same f32 bytes, {num_batches} batches", ref_min, ref_med, "memory bound"),
        (f"eqsnn latency_steps, {num_batches} batches x [256,784] int32, jit", sb_min, sb_med, ""),
        ("eqsnn latency_steps, [60000,784] int32, one call", steps_min, steps_med, ""),
        (f"baseline per-sample generator, epoch (from {k} batches)", base_epoch, base_epoch, "extrapolated"),
    ]
    print(
        f"\njax {jax.__version__}, backend {jax.default_backend()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    print(f"{'measurement':<64} {'min (s)':>9} {'median (s)':>11}")
    for label, a, b, note in rows:
        print(f"{label:<64} {a:>9.3f} {b:>11.3f} {note}")
    print(f"speed-up, dense float32 epoch vs baseline: {base_epoch / dense32:.1f}x")
    print(f"speed-up, dense bool epoch vs baseline:    {base_epoch / results_dense['bool']['min_s']:.1f}x")
    print(f"speed-up, batched spike steps vs baseline: {base_epoch / sb_min:.0f}x")
    print(f"baseline firing times == eqsnn latency_steps on all 60 000 images: {same}")

    result = dict(
        jax=jax.__version__,
        backend=jax.default_backend(),
        cpus=os.cpu_count(),
        num_steps=NUM_STEPS,
        batch_size=BATCH,
        num_batches=num_batches,
        load_train_s=dict(min=load_min, median=load_med),
        load_test_s=dict(min=test_min, median=test_med),
        eqsnn_dense_epoch_s=results_dense,
        reference_plain_write_f32_epoch_s=dict(min=ref_min, median=ref_med),
        eqsnn_latency_steps_batched_epoch_s=dict(min=sb_min, median=sb_med),
        eqsnn_latency_steps_epoch_s=dict(min=steps_min, median=steps_med),
        baseline=dict(
            batches_run=k,
            firing_times_s=ft_min,
            per_batch_s=per_batch,
            epoch_extrapolated_s=base_epoch,
        ),
        speedup_dense_float32=base_epoch / dense32,
        speedup_dense_bool=base_epoch / results_dense["bool"]["min_s"],
        speedup_latency_steps_batched=base_epoch / sb_min,
        same_spike_steps_as_baseline=same,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
