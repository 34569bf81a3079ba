"""The benchmark workloads written with eqsnn, and their plain-JAX twins (benchmarks/baselines.py).

Each `build_*` returns a dict of cases `name -> Case`; a case is one training
step with its inputs, a way to run it on batch `i`, and a way to get its
compiled memory figures. All cases of one workload share data and initial
weights, so the runner can time them interleaved (A B A B) in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import functools
import gzip
import importlib.util
import os
from pathlib import Path
import sys
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.data import Events, EventSequence, bin_events
from eqsnn.models import SNN, hidden_spikes
from eqsnn.nn import Linear, LSTMCell, SpikeSteps

from . import baselines as bl

FMNIST = "/usr/share/datasets/fashion-mnist"
BATCH = 256


@dataclass
class Case:
    """One training step: `run(i)` runs it on batch `i` and returns the loss
    (blocked); `lower()` returns the lowered step for compiled memory figures."""

    run: Callable[[int], Any]
    lower: Callable[[], Any]
    baseline: bool = False


# ---------------------------------------------------------------- data


def load_fashion_mnist(n: int | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 images [N, 784] and int32 labels [N] (random data of the same shape if the files are absent)."""
    img, lab = os.path.join(FMNIST, "train-images-idx3-ubyte.gz"), os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")
    if os.path.exists(img) and os.path.exists(lab):
        with gzip.open(img) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
        with gzip.open(lab) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int32)
        source = "Fashion-MNIST train"
    else:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (60000, 784), dtype=np.uint8)
        y = rng.integers(0, 10, 60000).astype(np.int32)
        source = "random uint8 (Fashion-MNIST files not found)"
    if n is not None:
        x, y = x[:n], y[:n]
    return x, y, source


def epoch_batches(key, num_samples: int, batch: int = BATCH) -> jax.Array:
    """Per-epoch work on device: a permutation cut into full batches of indices [steps, batch]."""
    steps = num_samples // batch
    return jax.random.permutation(key, num_samples)[: steps * batch].reshape(steps, batch)


epoch_batches_jit = jax.jit(epoch_batches, static_argnums=(1, 2))


# ---------------------------------------------------------------- W1: LSTM


def _lstm_model(key):
    k1, k2 = jax.random.split(key)
    return eqsnn.Sequential(LSTMCell(28, 100, key=k1), Linear(100, 10, key=k2))


def lstm_params(model) -> dict:
    cell, out = model.layers[0].cell, model.layers[1]
    return dict(w_ih=cell.weight_ih, w_hh=cell.weight_hh, b=cell.bias, w_out=out.weight, b_out=out.bias)


def build_w1(images, labels, idx, key) -> dict[str, Case]:
    optimizer = optax.adam(1e-3)
    model = _lstm_model(key)
    x_dev = jnp.asarray(images.reshape(-1, 28, 28), jnp.float32) / 255.0
    y_dev = jnp.asarray(labels)

    def loss_fn(model, batch):
        xs, ys, ix = batch
        x, y = xs[ix], ys[ix]
        _, out = jax.vmap(lambda seq: eqsnn.run(model, seq))(x)  # [B, 28, 10]
        logits = out.max(axis=1)
        return eqsnn.losses.cross_entropy(logits, y), {}

    step = eqsnn.train.make_step(loss_fn, optimizer)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    p = lstm_params(model)
    b_opt = optimizer.init(p)
    b_steps = {form: bl.make_lstm_step(optimizer, form) for form in ("stepwise", "hoisted")}
    cases = {
        "eqsnn": Case(
            run=lambda i: step(model, opt_state, (x_dev, y_dev, idx[i]))[2].block_until_ready(),
            lower=lambda: step.lower(model, opt_state, (x_dev, y_dev, idx[0])).compile(),
        ),
    }
    for form, b_step in b_steps.items():
        cases[f"plain JAX {form}"] = Case(
            run=lambda i, s=b_step: s(p, b_opt, x_dev, y_dev, idx[i])[2].block_until_ready(),
            lower=lambda s=b_step: s.lower(p, b_opt, x_dev, y_dev, idx[0]).compile(),
            baseline=form == "stepwise",  # the faster hand-written form on a CPU
        )
    return cases


# ---------------------------------------------------------------- W2/W3: SNN


def snn_model(key):
    return SNN(784, 100, 10, key=key)


def snn_params(model) -> dict:
    return dict(
        w_in=model.i2r.comm.weight, b_in=model.i2r.comm.bias, w_out=model.r2o.comm.weight, b_out=model.r2o.comm.bias
    )


def snn_loss_fn(num_steps: int, mode: str, checkpoint: int | None = None):
    """The seed's loss: CE on the max over time of the read-out + 1e-5 L1 + 1e-5 L2 spike regularisers."""

    def loss_fn(model, batch):
        images, labels, ix = batch
        x = images[ix].astype(jnp.float32) / 255.0
        steps = eqsnn.encoding.latency_steps(x, num_steps)
        if mode.startswith("event"):
            xs = jax.vmap(lambda s: SpikeSteps(s, num_steps))(steps)
        else:
            xs = jax.vmap(lambda s: SpikeSteps(s, num_steps).dense())(steps)
        reduce = "sum" if mode.endswith("+counts") else None  # spike counts summed inside the scan

        def one(seq):
            _, ys, mon = eqsnn.run(model, seq, monitor=hidden_spikes, reduce_monitor=reduce, remat=checkpoint)
            return ys, mon["r.spike"]

        ys, spikes = jax.vmap(one)(xs)
        logits = ys.max(axis=1)
        loss = eqsnn.losses.cross_entropy(logits, labels[ix])
        return loss + 1e-5 * eqsnn.losses.spike_l1(spikes) + 1e-5 * eqsnn.losses.spike_l2(spikes), {}

    return loss_fn


def build_snn(
    images,
    labels,
    idx,
    key,
    num_steps: int,
    modes=("event", "event+counts", "dense"),
    baselines=("dense", "event", "event+counts"),
    checkpoint=None,
) -> tuple[dict[str, Case], dict]:
    optimizer = optax.adam(1e-3)
    model = snn_model(key)
    x_dev, y_dev = jnp.asarray(images), jnp.asarray(labels)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    cases: dict[str, Case] = {}
    steps = {}
    for mode in modes:
        step = eqsnn.train.make_step(snn_loss_fn(num_steps, mode, checkpoint), optimizer)
        steps[mode] = step
        cases[f"eqsnn {mode}"] = Case(
            run=lambda i, step=step: step(model, opt_state, (x_dev, y_dev, idx[i]))[2].block_until_ready(),
            lower=lambda step=step: step.lower(model, opt_state, (x_dev, y_dev, idx[0])).compile(),
        )
    p = snn_params(model)
    b_opt = optimizer.init(p)
    for mode in baselines:
        b_step = bl.make_snn_step(optimizer, num_steps, mode, checkpoint)
        cases[f"plain JAX {mode}"] = Case(
            run=lambda i, s=b_step: s(p, b_opt, x_dev, y_dev, idx[i])[2].block_until_ready(),
            lower=lambda s=b_step: s.lower(p, b_opt, x_dev, y_dev, idx[0]).compile(),
            baseline=mode == "dense",
        )
    return cases, dict(model=model, x=x_dev, y=y_dev, steps=steps, opt_state=opt_state, optimizer=optimizer)


def snn_grads(model, x_dev, y_dev, ix, num_steps, checkpoint):
    """Gradients of the W2 loss (event path), for the plain-vs-checkpointed comparison."""
    loss = snn_loss_fn(num_steps, "event", checkpoint)
    return eqx.filter_jit(eqx.filter_grad(lambda m, b: loss(m, b)[0]))(model, (x_dev, y_dev, ix))


def build_w3(images, labels, idx, key, num_steps: int, segment: int) -> tuple[dict[str, Case], dict]:
    """W2's network at long T, batch 32: plain scan vs `run(..., remat=segment)`."""
    optimizer = optax.adam(1e-3)
    model = snn_model(key)
    x_dev, y_dev = jnp.asarray(images), jnp.asarray(labels)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    cases = {}
    for name, ck in (("eqsnn plain scan", None), (f"eqsnn remat={segment}", segment)):
        step = eqsnn.train.make_step(snn_loss_fn(num_steps, "event", ck), optimizer)
        cases[name] = Case(
            run=lambda i, step=step: step(model, opt_state, (x_dev, y_dev, idx[i]))[2].block_until_ready(),
            lower=lambda step=step: step.lower(model, opt_state, (x_dev, y_dev, idx[0])).compile(),
            baseline=ck is None,
        )
    return cases, dict(model=model, x=x_dev, y=y_dev)


# ---------------------------------------------------------------- W4: SHD-shaped recurrent SNN on events

SHD_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shd.py"
SHD_TRAIN_SAMPLES = 8156


def shd_example():
    """examples/shd.py as a module: its `RecurrentSNN` is the model timed here."""
    spec = importlib.util.spec_from_file_location("eqsnn_example_shd", SHD_EXAMPLE)
    if spec.name not in sys.modules:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[spec.name]


def synthetic_shd_events(num_samples: int, mean_events: float, seed: int = 0) -> Events:
    """SHD-shaped random events: Poisson(mean_events) events per sample, uniform over 1.4 s and 700 channels."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(mean_events, num_samples)
    total = int(counts.sum())
    times = np.sort(rng.uniform(0.0, 1.4, total).astype(np.float16).reshape(-1))  # float16 seconds, as the files
    cut = np.cumsum(counts)[:-1]
    per_t = [np.sort(t) for t in np.split(rng.permutation(times), cut)]
    per_u = np.split(rng.integers(0, 700, total).astype(np.uint16), cut)
    labels = rng.integers(0, 20, num_samples)
    return eqsnn.data.pad_events(per_t, per_u, labels, time_scale=1000.0)


def shd_params(model) -> dict:
    return dict(
        w_in=model.i2h.weight, b_in=model.i2h.bias, w_rec=model.h2h.weight, w_out=model.h2o.weight, b_out=model.h2o.bias
    )


def shd_loss_fn(num_steps: int, bin_ms: float, mode: str):
    """CE of each read-out's max over time; the batch is gathered and binned (or made events) inside the step."""

    def loss_fn(model, batch):
        data, ix = batch
        times, units, counts, labels = (a[ix] for a in data)
        if mode == "event":
            make = functools.partial(EventSequence.from_times, num_steps=num_steps, dt=bin_ms, num_units=700)
        else:
            make = functools.partial(bin_events, num_steps=num_steps, dt=bin_ms, num_units=700)
        xs = jax.vmap(make)(times, units, counts)
        _, ys = jax.vmap(lambda x: eqsnn.run(model, x))(xs)
        return eqsnn.losses.cross_entropy(ys.max(axis=1), labels), {}

    return loss_fn


def build_w4(events: Events, idx, key, num_steps: int = 100, bin_ms: float = 14.0, hidden: int = 256):
    """examples/shd.py's network at 700 -> 256 -> 20: eqsnn (event / binned input) vs plain JAX (binned / event)."""
    optimizer = optax.adam(1e-3)
    model = shd_example().RecurrentSNN(hidden, key=key)
    data = jax.device_put(tuple(events))
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    cases: dict[str, Case] = {}
    steps = {}
    for mode in ("event", "binned"):
        step = eqsnn.train.make_step(shd_loss_fn(num_steps, bin_ms, mode), optimizer)
        steps[mode] = step
        cases[f"eqsnn {mode}"] = Case(
            run=lambda i, step=step: step(model, opt_state, (data, idx[i]))[2].block_until_ready(),
            lower=lambda step=step: step.lower(model, opt_state, (data, idx[0])).compile(),
        )
    p = shd_params(model)
    b_opt = optimizer.init(p)
    for mode in ("binned", "event"):
        b_step = bl.make_shd_step(optimizer, num_steps, bin_ms, mode)
        cases[f"plain JAX {mode}"] = Case(
            run=lambda i, s=b_step: s(p, b_opt, *data, idx[i])[2].block_until_ready(),
            lower=lambda s=b_step: s.lower(p, b_opt, *data, idx[0]).compile(),
            baseline=mode == "binned",
        )
    return cases, dict(model=model, opt_state=opt_state, data=data, steps=steps)


# ---------------------------------------------------------------- W5: deep feed-forward SNN

DEEP_BATCH, DEEP_STEPS, DEEP_HIDDEN = 64, 100, 512


def deep_model(key, hidden: int = DEEP_HIDDEN):
    """784 -> three LIF layers of `hidden` -> 10 leaky read-out, one Sequential (dt = 1 ms)."""
    from eqsnn.neurons import LIF, Leaky

    ks = jax.random.split(key, 4)

    def lif():
        return LIF(hidden, tau=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=1.0)

    return eqsnn.Sequential(
        Linear(784, hidden, key=ks[0]), lif(),
        Linear(hidden, hidden, key=ks[1]), lif(),
        Linear(hidden, hidden, key=ks[2]), lif(),
        Linear(hidden, 10, key=ks[3]), Leaky(10, tau=5.0, dt=1.0),
    )  # fmt: skip


def deep_params(model) -> dict:
    lins = [layer for layer in model.layers if isinstance(layer, Linear)]
    return {k: v for i, lin in enumerate(lins) for k, v in ((f"w{i}", lin.weight), (f"b{i}", lin.bias))}


def build_w5(images, labels, idx, key, num_steps: int = DEEP_STEPS) -> dict[str, Case]:
    optimizer = optax.adam(1e-3)
    model = deep_model(key)
    x_dev, y_dev = jnp.asarray(images), jnp.asarray(labels)

    def loss_fn(model, batch):
        images, labels, ix = batch
        steps = eqsnn.encoding.latency_steps(images[ix].astype(jnp.float32) / 255.0, num_steps)
        xs = jax.vmap(lambda s: SpikeSteps(s, num_steps))(steps)
        _, ys = jax.vmap(lambda x: eqsnn.run(model, x))(xs)
        return eqsnn.losses.cross_entropy(ys.max(axis=1), labels[ix]), {}

    step = eqsnn.train.make_step(loss_fn, optimizer)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    p = deep_params(model)
    b_opt = optimizer.init(p)
    b_step = bl.make_deep_step(optimizer, num_steps)
    return {
        "eqsnn event": Case(
            run=lambda i: step(model, opt_state, (x_dev, y_dev, idx[i]))[2].block_until_ready(),
            lower=lambda: step.lower(model, opt_state, (x_dev, y_dev, idx[0])).compile(),
        ),
        "plain JAX event": Case(
            run=lambda i: b_step(p, b_opt, x_dev, y_dev, idx[i])[2].block_until_ready(),
            lower=lambda: b_step.lower(p, b_opt, x_dev, y_dev, idx[0]).compile(),
            baseline=True,
        ),
    }
