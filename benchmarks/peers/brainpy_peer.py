"""BrainPy 2.8 versions of W1 and W2, driven by `benchmarks/peers/__init__.py` (run with BrainPy's interpreter).

Protocol: `python brainpy_peer.py W1|W2 DATA.npz`; after building and compiling (one warm-up step on batch 0)
it prints one JSON line `{"ready": true, ...}`, then for each line `i` read from stdin it runs one training
step on batch `i` and prints `{"s": seconds}` (wall, blocked on the loss). An empty line ends it.
The models are BrainPy's own tutorial code (the W2 network is `tests/data/make_brainpy_reference.py`'s),
trained with `bp.BPTT` the way `BPTT.fit` does per batch: reset the state, then its jitted `f_train`.
"""

from __future__ import annotations

import sys
import time

from _protocol import serve  # benchmarks/peers/_protocol.py, beside this script
import brainpy as bp
import brainpy.math as bm
import brainstate
import jax
import jax.numpy as jnp
import numpy as np


class LSTMNet(bp.DynamicalSystem):
    def __init__(self):
        super().__init__()
        self.cell = bp.dyn.LSTMCell(28, 100)
        self.out = bp.dnn.Linear(100, 10)

    def update(self, x):
        return self.out(self.cell(x))


class SNNModel(bp.DynamicalSystem):
    """The network of BrainPy's BPTT tutorial, unchanged."""

    def __init__(self, num_in, num_rec, num_out):
        super().__init__()
        self.r = bp.dyn.LifRef(num_rec, tau=10, V_reset=0, V_rest=0, V_th=1.0)
        self.o = bp.dyn.Leaky(num_out, tau=5)
        self.i2r = bp.dyn.HalfProjAlignPost(
            comm=bp.dnn.Linear(num_in, num_rec, bp.init.KaimingNormal(scale=2.0)),
            syn=bp.dyn.Expon(num_rec, tau=10.0),
            out=bp.dyn.CUBA(),
            post=self.r,
        )
        self.r2o = bp.dyn.HalfProjAlignPost(
            comm=bp.dnn.Linear(num_rec, num_out, bp.init.KaimingNormal(scale=2.0)),
            syn=bp.dyn.Expon(num_out, tau=10.0),
            out=bp.dyn.CUBA(),
            post=self.o,
        )

    def update(self, spike):
        self.i2r(spike)
        self.r2o(self.r.spike.value)
        self.r()
        self.o()
        return self.o.x.value


def lstm_loss(predicts, targets):
    return bp.losses.cross_entropy_loss(bm.max(predicts, axis=1), targets)


def snn_loss(predicts, targets):
    outs, mon = predicts
    l1 = 1e-5 * bm.sum(mon["r.spike"])
    l2 = 1e-5 * bm.mean(bm.sum(bm.sum(mon["r.spike"], axis=0), axis=0) ** 2)
    return bp.losses.cross_entropy_loss(bm.max(outs, axis=1), targets) + l2 + l1


def main() -> None:
    workload, path = sys.argv[1], sys.argv[2]
    data = np.load(path)
    labels = [jnp.asarray(y) for y in data["labels"]]
    bm.set_mode(bm.training_mode)
    if workload == "W1":
        model = LSTMNet()
        trainer = bp.BPTT(
            model, loss_fun=lstm_loss, optimizer=bp.optim.Adam(lr=1e-3), data_first_axis="B", progress_bar=False
        )
        inputs = [jnp.asarray(x) for x in data["x"]]  # [B, 28, 28] float32 rows
        make = lambda i: inputs[i]  # noqa: E731
    else:
        bm.set_dt(0.1)
        num_steps = int(data["num_steps"])
        model = SNNModel(784, 100, 10)
        trainer = bp.BPTT(
            model,
            loss_fun=snn_loss,
            optimizer=bp.optim.Adam(lr=1e-3),
            monitors={"r.spike": model.r.spike},
            data_first_axis="B",
            progress_bar=False,
        )
        steps = [jnp.asarray(s) for s in data["steps"]]  # [B, 784] latency spike steps
        dense = jax.jit(lambda s: (s[:, None, :] == jnp.arange(num_steps)[None, :, None]).astype(jnp.float32))
        make = lambda i: dense(steps[i])  # noqa: E731  the [B, T, 784] train, built on device per step

    def step(i):
        x = make(i)
        with brainstate.environ.context(fit=True):
            model.reset(x.shape[0])
            trainer.reset_state()
            res = trainer.f_train(bp.tools.DotDict(fit=True), x, labels[i])
        return jax.block_until_ready(res[0])

    t0 = time.perf_counter()
    loss = step(0)
    info = dict(first_call_s=time.perf_counter() - t0, loss=float(np.asarray(loss)), version=bp.__version__)
    serve(step, dict(info, jax=jax.__version__))


if __name__ == "__main__":
    main()
