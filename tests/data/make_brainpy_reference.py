"""Generate `brainpy_seed_snn.npz`, the BrainPy reference for `tests/test_parity_brainpy.py`.

Run with a Python that has BrainPy 2.8 installed (BrainPy is not a dependency of
eqsnn; the test suite only reads the saved file):

    python tests/data/make_brainpy_reference.py

It builds the tutorial network (784 -> 100 LifRef -> 10 Leaky, exponential CUBA
synapses) in BrainPy's training mode with dt = 0.1 ms, runs one batch of
latency-coded inputs through `bp.BPTT` (batch-first data, state reset per
batch), and records the weights, outputs, hidden spikes, final hidden
potential, the loss and its gradients with respect to the four Linear arrays.
Everything is float32, as BrainPy computes by default.
"""

from __future__ import annotations

import os

import brainpy as bp
import brainpy.math as bm
import brainstate
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "brainpy_seed_snn.npz")

BATCH, STEPS, N_IN, N_HID, N_OUT = 4, 100, 784, 100, 10
DT = 0.1
# Multipliers on BrainPy's He-normal initial weights: at initialisation the tutorial's hidden layer
# hardly spikes on these inputs (well under 1% of neuron-steps); x40 gives 8%, so that spikes and their
# surrogate gradients are exercised. The read-out is scaled down so the logits stay O(10).
W_SCALE = 40.0
W2_SCALE = 0.01
SEED = 0


def latency_spikes(x: np.ndarray, num_steps: int, dt: float) -> np.ndarray:
    """The tutorial's latency code: spike time T = tau log(x / (x - thr)), tau = 2/dt, no spike for x < thr."""
    tau, thr = 2.0 / dt, 0.2
    xc = np.clip(x, thr + 1e-7, 1e9)
    t = tau * np.log(xc / (xc - thr))
    t = np.where(x < thr, num_steps, t).astype(np.int64)
    spikes = np.zeros(x.shape[:-1] + (num_steps, x.shape[-1]), dtype=bool)
    b, u = np.nonzero(t < num_steps)
    spikes[b, t[b, u], u] = True
    return spikes


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


def loss_fun(predicts, targets):
    """The tutorial's loss; the aux carries what the reference records."""
    outs, mon = predicts
    l1_loss = 1e-5 * bm.sum(mon["r.spike"])
    l2_loss = 1e-5 * bm.mean(bm.sum(bm.sum(mon["r.spike"], axis=0), axis=0) ** 2)
    logits = bm.max(outs, axis=1)
    loss = bp.losses.cross_entropy_loss(logits, targets)
    return loss + l2_loss + l1_loss, {"outs": outs, "spikes": mon["r.spike"], "v": mon["r.V"]}


def simulate(x_bool: np.ndarray, labels: np.ndarray, params: dict[str, np.ndarray] | None, rng) -> dict:
    """One BPTT gradient evaluation in the current float precision (`bm.float_`).

    With `params=None` the weights are BrainPy's own initialisation (rescaled, with small random
    biases); otherwise `params` (w1, b1, w2, b2) are loaded.
    """
    bm.set_mode(bm.training_mode)
    bm.set_dt(DT)
    model = SNNModel(N_IN, N_HID, N_OUT)
    lin1, lin2 = model.i2r.comm, model.r2o.comm
    if params is None:
        # Non-zero biases, so that the parity also checks that a Linear adds its bias every step.
        params = dict(
            w1=np.asarray(lin1.W.value) * W_SCALE,
            b1=rng.normal(0.0, 0.002, N_HID),
            w2=np.asarray(lin2.W.value) * W2_SCALE,
            b2=rng.normal(0.0, 2e-4, N_OUT),
        )
        params = {k: v.astype(np.float32) for k, v in params.items()}
    for var, name in ((lin1.W, "w1"), (lin1.b, "b1"), (lin2.W, "w2"), (lin2.b, "b2")):
        var.value = bm.asarray(params[name], dtype=bm.float_)

    # The surrogate used in training mode must be BrainPy's default InvSquareGrad(alpha=100).
    spk_fun = model.r.spk_fun
    assert type(spk_fun).__name__ == "InvSquareGrad" and float(spk_fun.alpha) == 100.0, spk_fun
    assert isinstance(model.mode, bm.TrainingMode)

    trainer = bp.BPTT(
        model,
        loss_fun=loss_fun,
        loss_has_aux=True,
        optimizer=bp.optim.Adam(lr=1e-3),
        monitors={"r.spike": model.r.spike, "r.V": model.r.V},
        data_first_axis="B",
        progress_bar=False,
    )
    xs = bm.asarray(x_bool, dtype=bm.float_)
    ys = bm.asarray(labels)

    # What `BPTT.fit` does for one batch (reset the state for the batch size, then the gradient
    # step), without the optimizer update.
    with brainstate.environ.context(fit=True):
        trainer.target.reset(BATCH)
        trainer.reset_state()
        grads, loss, aux = trainer.f_grad(bp.tools.DotDict(fit=True), xs, ys)

    names = {id(v): k for k, v in model.train_vars().unique().items()}
    out = dict(params=params, loss=float(loss))
    for var, name in ((lin1.W, "w1"), (lin1.b, "b1"), (lin2.W, "w2"), (lin2.b, "b2")):
        out["grad_" + name] = np.asarray(grads[names[id(var)]])
    out["outputs"] = np.asarray(aux["outs"])
    out["spikes"] = np.asarray(aux["spikes"])
    out["v"] = np.asarray(aux["v"])
    assert out["outputs"].shape == (BATCH, STEPS, N_OUT) and out["spikes"].shape == (BATCH, STEPS, N_HID)
    assert out["outputs"].dtype == np.dtype(bm.float_), out["outputs"].dtype
    assert np.all((out["spikes"] == 0) | (out["spikes"] == 1))
    return out


def main() -> None:
    bm.random.seed(SEED)
    rng = np.random.default_rng(SEED)

    # Latency-coded "images": 60% of the pixels lit with intensity U(0, 1).
    images = rng.uniform(0.0, 1.0, (BATCH, N_IN)) * (rng.uniform(size=(BATCH, N_IN)) < 0.6)
    x_bool = latency_spikes(images, STEPS, DT)  # [B, T, N_IN]
    labels = rng.integers(0, N_OUT, BATCH).astype(np.int32)

    r32 = simulate(x_bool, labels, None, rng)
    # The same float32 weights, computed in float64: separates float32 rounding from semantics.
    bm.enable_x64()
    r64 = simulate(x_bool, labels, r32["params"], rng)
    assert np.array_equal(r32["spikes"], r64["spikes"]), "float32 and float64 spikes differ"

    spikes = r32["spikes"]
    rate = float(spikes.mean())
    # How far the pre-reset potential ever is from the threshold: spike parity in float32 is only a
    # meaningful check if no potential sits within rounding error of V_th.  With a soft reset to 0
    # and V_th = 1, the pre-reset potential is V + spike.
    margin = float(np.min(np.abs(r64["v"] + spikes - 1.0)))

    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    np.savez_compressed(
        OUT,
        brainpy_version=np.array(bp.__version__),
        dt=np.float64(DT),
        num_steps=np.int32(STEPS),
        x_bits=np.packbits(x_bool, axis=1),  # [B, ceil(T/8), N_IN], bits packed over time
        labels=labels,
        **{k: f32(v) for k, v in r32["params"].items()},
        spike_bits=np.packbits(spikes.astype(bool), axis=1),  # [B, ceil(T/8), N_HID]
        # float32 run
        outputs=f32(r32["outputs"]),
        v_final=f32(r32["v"][:, -1]),
        loss=np.float32(r32["loss"]),
        **{k: f32(r32[k]) for k in ("grad_w1", "grad_b1", "grad_w2", "grad_b2")},
        # float64 run (same weights and inputs)
        outputs_f64=np.asarray(r64["outputs"], dtype=np.float64),
        v_final_f64=np.asarray(r64["v"][:, -1], dtype=np.float64),
        loss_f64=np.float64(r64["loss"]),
        **{k + "_f64": np.asarray(r64[k], dtype=np.float64) for k in ("grad_w1", "grad_b1", "grad_w2", "grad_b2")},
        spike_rate=np.float64(rate),
        threshold_margin=np.float64(margin),
    )
    g32, g64 = r32["grad_w1"], r64["grad_w1"]
    print(
        f"BrainPy {bp.__version__}: loss {r32['loss']:.6f} (f64 {r64['loss']:.9f}), "
        f"max |out| {np.abs(r32['outputs']).max():.2f}, hidden spike rate {rate:.3f}, "
        f"input spikes/sample {x_bool.sum() / BATCH:.0f}, min |V_pre - V_th| {margin:.2e}, "
        f"grad_w1 f32 vs f64 {np.linalg.norm(g32 - g64) / np.linalg.norm(g64):.2e}, "
        f"file {os.path.getsize(OUT) / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    main()
