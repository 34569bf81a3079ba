"""The host allocator setting (`eqsnn.train.tune_host_allocator`) on W2's real epoch loop.

`python -m benchmarks.allocator [--rounds 2] [--samples 60000]`

Each trial is a fresh interpreter (the setting is process-wide and cannot be undone) that builds W2's
training step (`benchmarks.workloads`, event input, counts summed in the scan) with
`make_step(..., tune_allocator=False)` or `True`, compiles it, then times two epochs of the tutorial's loop
(a permutation on device, 234 steps dispatched asynchronously, one block at the end) and counts the minor page
faults per step. Trials alternate (off, on, off, on ...). Writes `benchmarks/results/allocator.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

RESULTS = os.path.join(os.path.dirname(__file__), "results")

TRIAL = r"""
import json, resource, sys, time
import jax, numpy as np
import eqsnn
from benchmarks import workloads as wl
tuned, n = sys.argv[1] == "on", int(sys.argv[2])
x, y, _ = wl.load_fashion_mnist(n)
step = eqsnn.train.make_step(wl.snn_loss_fn(100, "event+counts"), __import__("optax").adam(1e-3), tune_allocator=tuned)
model = wl.snn_model(jax.random.key(1))
opt_state = eqsnn.train.init_opt_state(__import__("optax").adam(1e-3), model)
xd, yd = jax.numpy.asarray(x), jax.numpy.asarray(y)
k = jax.random.key(1)
first = wl.epoch_batches_jit(k, n)
step(model, opt_state, (xd, yd, first[0]))[2].block_until_ready()
epochs = []
for e in range(2):
    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    batches = wl.epoch_batches_jit(jax.random.fold_in(k, e + 2), n)
    m, o = model, opt_state
    for i in range(n // wl.BATCH):
        m, o, loss, _ = step(m, o, (xd, yd, batches[i]))
    loss.block_until_ready()
    epochs.append(dict(s=time.perf_counter() - t0,
                       faults_per_step=(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / (n // wl.BATCH),
                       loss=float(loss)))
print(json.dumps(dict(tuned=tuned, applied=eqsnn.train.tune_host_allocator() if tuned else False, epochs=epochs)))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.allocator")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=60000)
    args = ap.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trials = []
    for r in range(args.rounds):
        for mode in ("off", "on"):
            out = subprocess.run(
                [sys.executable, "-c", TRIAL, mode, str(args.samples)],
                capture_output=True,
                text=True,
                check=True,
                cwd=root,
            )
            trial = json.loads(out.stdout.strip().splitlines()[-1])
            trials.append(trial)
            for e in trial["epochs"]:
                print(
                    f"round {r} allocator {mode:3}: epoch {e['s']:6.2f} s, {e['faults_per_step']:8.0f} page faults/step, "
                    f"loss {e['loss']:.4f}",
                    flush=True,
                )
    summary = {}
    for mode, tuned in (("default", False), ("tuned", True)):
        ep = [e for t in trials if t["tuned"] is tuned for e in t["epochs"]]
        summary[mode] = dict(
            epoch_s_median=float(np.median([e["s"] for e in ep])),
            epoch_s=[e["s"] for e in ep],
            faults_per_step=[e["faults_per_step"] for e in ep],
        )
    summary["ratio_tuned_to_default"] = summary["tuned"]["epoch_s_median"] / summary["default"]["epoch_s_median"]
    print(
        f"median epoch: default {summary['default']['epoch_s_median']:.2f} s, tuned {summary['tuned']['epoch_s_median']:.2f} s "
        f"(ratio {summary['ratio_tuned_to_default']:.2f})"
    )
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "allocator.json"), "w") as f:
        json.dump(
            dict(date=time.strftime("%Y-%m-%dT%H:%M:%S"), samples=args.samples, trials=trials, summary=summary),
            f,
            indent=1,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
