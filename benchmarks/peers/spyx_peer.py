"""Spyx 1.0 (Flax NNX) version of W2, driven by `benchmarks/peers/__init__.py` (run with Spyx's interpreter).

Protocol as in `brainpy_peer.py`: `python spyx_peer.py W2 DATA.npz`, one JSON line when ready (after one
warm-up step on batch 0), then one `{"s": seconds}` line per batch index read from stdin; an empty line ends it.

W2's network written the way Spyx's own examples write a network: `spyx.nn.Sequential` of `nnx.Linear(784, 100)`,
`spyx.nn.CuBaLIF` (synaptic decay exp(-0.1/10), membrane decay exp(-0.1/10), threshold 1, subtractive reset,
Spyx's default SuperSpike surrogate), `spyx.nn.ActivityRegularization` (the hidden spike counts, carried in the
scan), `nnx.Linear(100, 10)` and two `spyx.nn.LI` (the read-out's synapse, decay exp(-0.1/10), and membrane,
exp(-0.1/5)), run with `spyx.nn.run` over the time-major `[T, B, 784]` dense spike train, which is built from the
latency spike steps inside the timed step as the other peers do. Loss: CE of the max over time + 1e-5 L1 +
1e-5 L2 of the hidden spike counts; Adam 1e-3 through `nnx.Optimizer`, the step under `nnx.jit` (which
traces again on its second and third calls, so three warm-up steps run before `ready`). Weights are drawn as
eqsnn's (normal, std sqrt(2 / n_in)). Spyx's
`CuBaLIF` integrates its input without eqsnn's (1 - decay) factor, so the input currents are scaled by it, as
in `torch_peer.py`; the read-out's input is this step's spikes (eqsnn's sees the previous step's), and Spyx's
reset and surrogate differ, so the loss differs slightly; the work per step is the same.
"""

from __future__ import annotations

import math
import sys
import time

from _protocol import serve  # benchmarks/peers/_protocol.py, beside this script
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import spyx
import spyx.nn as snn

DT, TAU_MEM, TAU_SYN, TAU_OUT = 0.1, 10.0, 10.0, 5.0


class Scale(nnx.Module):
    """Multiply by a constant (eqsnn's exponential-Euler input factor)."""

    def __init__(self, factor: float):
        self.factor = factor

    def __call__(self, x):
        return x * self.factor


def build(rngs: nnx.Rngs) -> snn.Sequential:
    a_syn, a_mem, a_out = (math.exp(-DT / tau) for tau in (TAU_SYN, TAU_MEM, TAU_OUT))
    kaiming = nnx.initializers.variance_scaling(2.0, "fan_in", "normal")  # eqsnn's / BrainPy's init, std sqrt(2/n_in)
    return snn.Sequential(
        nnx.Linear(784, 100, kernel_init=kaiming, rngs=rngs),
        Scale(1.0 - a_mem),
        snn.CuBaLIF((100,), alpha=a_syn, beta=a_mem, threshold=1.0, rngs=rngs),
        snn.ActivityRegularization((100,)),
        nnx.Linear(100, 10, kernel_init=kaiming, rngs=rngs),
        snn.LI((10,), beta=a_syn, rngs=rngs),
        snn.LI((10,), beta=a_out, rngs=rngs),
    )


def loss_fn(model, x, y):
    outs, state = snn.run(model, x)  # [T, B, 10]
    counts = state[3]  # ActivityRegularization's carried spike counts [B, 100]
    l1 = 1e-5 * jnp.sum(counts)
    l2 = 1e-5 * jnp.mean(jnp.sum(counts, axis=0) ** 2)
    return optax.softmax_cross_entropy_with_integer_labels(outs.max(axis=0), y).mean() + l1 + l2


def main() -> None:
    workload, path = sys.argv[1], sys.argv[2]
    if workload != "W2":
        raise SystemExit(f"spyx_peer.py has W2 only, got {workload}")
    data = np.load(path)
    labels = [jnp.asarray(y) for y in data["labels"]]
    steps = [jnp.asarray(s) for s in data["steps"]]  # [B, 784] latency spike steps
    num_steps = int(data["num_steps"])
    model = build(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, s, y):
        x = (s[None, :, :] == jnp.arange(num_steps)[:, None, None]).astype(jnp.float32)  # [T, B, 784]
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)
        return loss

    def step(i):
        return jax.block_until_ready(train_step(model, optimizer, steps[i], labels[i]))

    t0 = time.perf_counter()
    loss = step(0)
    first_call_s = time.perf_counter() - t0
    for _ in range(2):  # nnx.jit traces again on the second and third calls (the optimiser state settles)
        step(0)
    info = dict(
        first_call_s=first_call_s,
        loss=float(np.asarray(loss)),
        version=spyx.__version__,
        jax=jax.__version__,
    )
    serve(step, info)


if __name__ == "__main__":
    main()
