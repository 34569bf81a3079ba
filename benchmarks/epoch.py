"""W2's real epoch loop, eqsnn against the hand-written JAX of the same math, with and without the host
allocator setting (`eqsnn.train.tune_host_allocator`).

`python -m benchmarks.epoch [--rounds 2] [--samples 60000] [--cases eqsnn,jax,eqsnn-default,jax-default,eqsnn-env,jax-env]`

Cases: `eqsnn` (make_step, which calls `tune_host_allocator`), `jax` (the hand-written step, after calling
`tune_host_allocator` itself), `*-default` (glibc's defaults), `*-env` (glibc's defaults in the code, the same
setting given as `MALLOC_*` environment variables, which glibc reads before any thread has its own arena).

Each trial is a fresh interpreter (the allocator setting is process-wide and cannot be undone, and a process
that has run other programs has a different heap): it builds W2's training step (`benchmarks.workloads`:
event input, spike counts summed in the scan; `baselines.make_snn_step(..., "event+counts")` for JAX), compiles
it, then times two epochs of the tutorial's loop (a permutation on device, 234 steps dispatched asynchronously,
one block at the end) and counts the minor page faults per step. Trials alternate case by case within a round,
so load changes hit every case alike. Writes `benchmarks/results/epoch.json` and prints a table.
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
# glibc reads these when the interpreter starts, before any thread has its own malloc arena
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1), "MALLOC_ARENA_MAX": "1"}

TRIAL = r"""
import json, resource, sys, time
import jax, jax.numpy as jnp, numpy as np, optax
import eqsnn
from benchmarks import workloads as wl, baselines as bl
case, n = sys.argv[1], int(sys.argv[2])
tuned = not case.endswith(("-default", "-env"))  # -env: glibc's MALLOC_* variables set before the interpreter starts
x, y, _ = wl.load_fashion_mnist(n)
xd, yd = jnp.asarray(x), jnp.asarray(y)
opt = optax.adam(1e-3)
model = wl.snn_model(jax.random.key(1))
if case.startswith("eqsnn"):
    step = eqsnn.train.make_step(wl.snn_loss_fn(100, "event+counts"), opt, tune_allocator=tuned)
    params, state = model, eqsnn.train.init_opt_state(opt, model)
    run = lambda p, s, ix: step(p, s, (xd, yd, ix))[:3]
else:
    if tuned:
        eqsnn.train.tune_host_allocator()
    jstep = bl.make_snn_step(opt, 100, "event+counts")
    params = wl.snn_params(model)
    state = opt.init(params)
    run = lambda p, s, ix: jstep(p, s, xd, yd, ix)
k = jax.random.key(1)
first = wl.epoch_batches_jit(k, n)
run(params, state, first[0])[2].block_until_ready()
epochs = []
for e in range(2):
    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    batches = wl.epoch_batches_jit(jax.random.fold_in(k, e + 2), n)
    p, s = params, state
    for i in range(n // wl.BATCH):
        p, s, loss = run(p, s, batches[i])
    loss.block_until_ready()
    steps = n // wl.BATCH
    epochs.append(dict(s=time.perf_counter() - t0, loss=float(loss),
                       faults_per_step=(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / steps))
print(json.dumps(dict(case=case, tuned=tuned, steps=n // wl.BATCH, epochs=epochs)))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.epoch")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--cases", default="eqsnn,jax,eqsnn-default,jax-default,eqsnn-env,jax-env")
    args = ap.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trials = []
    for r in range(args.rounds):
        for case in cases:
            env = dict(os.environ, **(MALLOC_ENV if case.endswith("-env") else {}))
            out = subprocess.run(
                [sys.executable, "-c", TRIAL, case, str(args.samples)],
                capture_output=True,
                text=True,
                check=True,
                cwd=root,
                env=env,
            )
            trial = json.loads(out.stdout.strip().splitlines()[-1])
            trials.append(trial)
            for e in trial["epochs"]:
                print(
                    f"round {r} {case:14}: epoch {e['s']:6.2f} s, {e['faults_per_step']:7.0f} page faults/step, "
                    f"final loss {e['loss']:.4f}",
                    flush=True,
                )
    summary = {}
    for case in cases:
        ep = [e for t in trials if t["case"] == case for e in t["epochs"]]
        summary[case] = dict(
            epoch_s_median=float(np.median([e["s"] for e in ep])),
            epoch_s=[e["s"] for e in ep],
            faults_per_step=[e["faults_per_step"] for e in ep],
        )
    print(f"\n{'case':16} {'median epoch s':>15} {'range s':>14} {'faults/step':>16}")
    for case, v in summary.items():
        lo, hi = min(v["epoch_s"]), max(v["epoch_s"])
        f = v["faults_per_step"]
        print(f"{case:16} {v['epoch_s_median']:15.2f} {lo:6.2f}-{hi:<7.2f} {min(f):7.0f}-{max(f):<8.0f}")
    ratios = {}
    pairs = (
        ("eqsnn", "jax"),
        ("eqsnn-default", "jax-default"),
        ("eqsnn-env", "jax-env"),
        ("eqsnn", "eqsnn-default"),
        ("eqsnn-env", "eqsnn-default"),
    )
    for a, b in pairs:
        if a in summary and b in summary:
            ratios[f"{a} / {b}"] = summary[a]["epoch_s_median"] / summary[b]["epoch_s_median"]
            print(f"{a} / {b}: {ratios[f'{a} / {b}']:.2f}")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "epoch.json"), "w") as f:
        json.dump(
            dict(
                date=time.strftime("%Y-%m-%dT%H:%M:%S"),
                samples=args.samples,
                trials=trials,
                summary=summary,
                ratios=ratios,
            ),
            f,
            indent=1,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
