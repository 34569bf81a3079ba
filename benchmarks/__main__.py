"""Benchmark runner: `python -m benchmarks [--quick] [--only W1,W2,W3,W4,W5] [--repeats N] [--peers DIR]`.

Every case of a workload is timed interleaved (A B A B ...) in this one
process, on the same batches, after one warm-up call that traces and
compiles (its extra time is reported as compile time). Reported per case:
median / min / max seconds per training step, the ratio of the median to the
hand-written plain-JAX baseline, the compile time, and XLA's compiled memory
figures (temporary buffers of the step: deterministic, unlike RSS). The table
is printed and written to `benchmarks/results/{quick,full}.json`. With
`--peers DIR`, BrainPy, PyTorch/snnTorch and Spyx versions of W1/W2
(`benchmarks/peers`, each run by `DIR/<venv>/bin/python` in its own process)
are timed in the same rounds, on the same batches.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import eqsnn

from . import workloads as wl

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def _stats(xs):
    return dict(median=float(np.median(xs)), min=float(np.min(xs)), max=float(np.max(xs)), n=len(xs))


def time_interleaved(cases: dict, repeats: int, num_batches: int) -> dict:
    out = {}
    # a peer (another library in its own process, benchmarks/peers) compiled when it started and
    # reports its own step time; its rounds alternate with the in-process cases' like any other case
    for name, case in cases.items():
        if getattr(case, "external", False):
            out[name] = dict(first_call_s=case.info["first_call_s"], times=[], cpu=[], peer=case.info)
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        case.run(0)
        out[name] = dict(first_call_s=time.perf_counter() - t0, first_call_cpu_s=time.process_time() - c0, times=[])
        out[name]["cpu"] = []
    for r in range(repeats):
        for name, case in cases.items():
            t0, c0 = time.perf_counter(), time.process_time()
            ret = case.run(1 + r % (num_batches - 1))
            if getattr(case, "external", False):
                out[name]["times"].append(ret["s"])
                continue
            out[name]["times"].append(time.perf_counter() - t0)
            out[name]["cpu"].append(time.process_time() - c0)
    for res in out.values():
        res.update(_stats(res["times"]))
        # trace + compile: the first call's extra time (wall; and process CPU time, robust to a shared machine)
        res["compile_s"] = max(res["first_call_s"] - res["median"], 0.0)
        if res["cpu"]:
            res["compile_cpu_s"] = max(res["first_call_cpu_s"] - float(np.median(res["cpu"])), 0.0)
            res["step_cpu_s"] = float(np.median(res["cpu"]))
        res.pop("times")
        res.pop("cpu")
    return out


def with_peers(args, workload: str, cases: dict, arrays: dict) -> tuple[dict, dict]:
    """`cases` plus the peers of `workload` found under `--peers DIR` (fed `arrays`, the same batches)."""
    if not args.peers:
        return cases, {}
    import tempfile

    from .peers import start_peers

    path = os.path.join(tempfile.mkdtemp(prefix="eqsnn-peers-"), f"{workload}.npz")
    np.savez(path, **arrays)
    peers, notes = start_peers(
        args.peers, workload, path, getattr(args, "peer_threads", None), getattr(args, "peer_malloc", False)
    )
    for name, note in notes.items():
        print(f"{workload} {name}: {note}", file=sys.stderr, flush=True)
    return {**cases, **peers}, dict(notes=notes, started=peers)


def close_peers(ctx: dict) -> None:
    for peer in ctx.get("started", {}).values():
        peer.close()


def side_by_side(res: dict, ours: tuple[str, ...]) -> dict:
    """Ratio of each of `ours` to every other case: `{ours: {other: ours / other}}` (< 1: ours is faster)."""
    return {a: {b: res[a]["median"] / res[b]["median"] for b in res if b != a} for a in ours if a in res}


def memory(case) -> dict:
    t0 = time.perf_counter()
    compiled = case.lower()
    m = compiled.memory_analysis()
    return dict(
        temp_bytes=int(m.temp_size_in_bytes),
        argument_bytes=int(m.argument_size_in_bytes),
        output_bytes=int(m.output_size_in_bytes),
        aot_compile_s=time.perf_counter() - t0,
    )


def add_ratios(res: dict, cases: dict) -> None:
    base = [n for n, c in cases.items() if c.baseline]
    if not base:
        return
    b = res[base[0]]["median"]
    for name in res:
        res[name]["ratio_vs_baseline"] = res[name]["median"] / b
        res[name]["baseline"] = base[0]


def run_w1(args, data, key) -> dict:
    images, labels, idx = data
    cases = wl.build_w1(images, labels, idx, key)
    ix = np.asarray(idx)
    arrays = dict(x=(images[ix].reshape(*ix.shape, 28, 28) / 255.0).astype(np.float32), labels=labels[ix])
    cases, peers = with_peers(args, "W1", cases, arrays)
    try:
        res = time_interleaved(cases, args.repeats, idx.shape[0])
    finally:
        close_peers(peers)
    if not args.quick:
        for name, case in cases.items():
            if not getattr(case, "external", False):
                res[name].update(memory(case))
    add_ratios(res, cases)
    out = dict(cases=res, note="LSTM(28->100) + Linear(100->10), 28 steps, batch 256, Adam 1e-3")
    if peers:
        out["side_by_side"] = side_by_side(res, ("eqsnn",))
        out["peer_notes"] = peers["notes"]
    return out


def run_w2(args, data, key) -> dict:
    images, labels, idx = data
    cases, ctx = wl.build_snn(images, labels, idx, key, num_steps=100)
    ix = np.asarray(idx)
    steps = np.asarray(wl.bl.latency_steps(jnp.asarray(images[ix], jnp.float32) / 255.0, 100))
    all_cases, peers = with_peers(args, "W2", cases, dict(steps=steps, num_steps=np.int32(100), labels=labels[ix]))
    try:
        res = time_interleaved(all_cases, args.repeats, idx.shape[0])
    finally:
        close_peers(peers)
    for name in ("eqsnn event", "plain JAX dense") if args.quick else cases:
        res[name].update(memory(cases[name]))
    add_ratios(res, cases)
    # the event path against the plain-JAX event loop: the library's own overhead on the fast path
    res["eqsnn event"]["ratio_vs_plain_event"] = res["eqsnn event"]["median"] / res["plain JAX event"]["median"]
    res["eqsnn dense"]["ratio_vs_plain_dense"] = res["eqsnn dense"]["median"] / res["plain JAX dense"]["median"]
    # per-epoch work (permutation + batching on device) and the estimated epoch
    n = images.shape[0] if args.epoch_samples is None else args.epoch_samples
    steps_per_epoch = n // wl.BATCH
    k = jax.random.key(1)
    wl.epoch_batches_jit(k, n).block_until_ready()
    t0 = time.perf_counter()
    wl.epoch_batches_jit(jax.random.fold_in(k, 1), n).block_until_ready()
    perm_s = time.perf_counter() - t0
    epoch = {name: dict(estimated_epoch_s=steps_per_epoch * r["median"] + perm_s) for name, r in res.items()}
    out = dict(
        cases=res,
        epoch=dict(samples=n, steps=steps_per_epoch, per_epoch_work_s=perm_s, estimate=epoch),
        note="SNN 784->100->10, latency code, 100 steps, batch 256, Adam 1e-3; data prep inside the step",
    )
    if peers:
        out["side_by_side"] = side_by_side(res, ("eqsnn event", "eqsnn event+counts"))
        out["peer_notes"] = peers["notes"]
    if args.full_epoch:
        # a real epoch of each eqsnn event step, data on device, shuffled on device
        for mode in ("event", "event+counts"):
            model, opt_state, step = ctx["model"], ctx["opt_state"], ctx["steps"][mode]
            t0 = time.perf_counter()
            batches = wl.epoch_batches_jit(jax.random.fold_in(k, 2), n)
            loss = None
            for i in range(steps_per_epoch):
                model, opt_state, loss, _ = step(model, opt_state, (ctx["x"], ctx["y"], batches[i]))
            loss.block_until_ready()
            out["epoch"][f"measured_eqsnn_{mode}_s"] = time.perf_counter() - t0
            out["epoch"][f"measured_final_loss_{mode}"] = float(loss)
    return out


def run_w3(args, data, key) -> dict:
    images, labels, _ = data
    rng = np.random.default_rng(3)
    idx = jnp.asarray(rng.integers(0, images.shape[0], (4, 32)).astype(np.int32))
    out = {}
    for num_steps, segment in ((1000, 32), (5000, 100)):
        cases, ctx = wl.build_w3(images, labels, idx, key, num_steps, segment)
        # quick: T=5000 is compiled for its memory figures only
        full = not args.quick or num_steps == 1000
        res = time_interleaved(cases, 2 if args.quick else 5, idx.shape[0]) if full else {n: {} for n in cases}
        for name, case in cases.items():
            res[name].update(memory(case))
        if full:
            add_ratios(res, cases)
        names = list(cases)
        plain, ck = res[names[0]]["temp_bytes"], res[names[1]]["temp_bytes"]
        entry = dict(cases=res, temp_memory_reduction=plain / max(ck, 1), segment=segment)
        if full:
            g_plain = wl.snn_grads(ctx["model"], ctx["x"], ctx["y"], idx[0], num_steps, None)
            g_ck = wl.snn_grads(ctx["model"], ctx["x"], ctx["y"], idx[0], num_steps, segment)
            la, lb = jax.tree_util.tree_leaves(g_plain), jax.tree_util.tree_leaves(g_ck)
            entry["grad_max_abs_diff"] = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(la, lb, strict=True))
            entry["grad_max_abs"] = max(float(jnp.max(jnp.abs(a))) for a in la)
        out[f"T={num_steps}"] = entry
    out["note"] = "W2's network, batch 32, event input, BPTT through T steps; memory = XLA temp buffers of the step"
    return out


def host_bin_loop(events, idx, num_steps: int, bin_ms: float) -> np.ndarray:
    """The usual host-side pipeline: a Python loop over the batch, NumPy binning per sample, then one transfer."""
    out = np.zeros((len(idx), num_steps, 700), np.float32)
    for b, n in enumerate(idx):
        c = int(events.counts[n])
        k = np.floor(events.times[n, :c] / bin_ms).astype(np.int64)
        keep = (k >= 0) & (k < num_steps)
        np.add.at(out[b], (k[keep], events.units[n, :c][keep]), 1.0)
    return jax.device_put(out).block_until_ready()


def hdf5_load_time(events, num_samples: int) -> dict:
    """Write `num_samples` of `events` as an SHD-layout HDF5 file (float16 s, uint16 channels), time its loading."""
    try:
        import h5py
    except ImportError:
        return dict(skipped="h5py is not installed (pip install 'eqsnn[events]')")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "shd_train.h5")
        with h5py.File(path, "w") as f:
            t = f.create_dataset("spikes/times", (num_samples,), dtype=h5py.vlen_dtype(np.float16))
            u = f.create_dataset("spikes/units", (num_samples,), dtype=h5py.vlen_dtype(np.uint16))
            for n in range(num_samples):
                c = int(events.counts[n])
                t[n] = (events.times[n, :c] / 1000.0).astype(np.float16)
                u[n] = events.units[n, :c].astype(np.uint16)
            f.create_dataset("labels", data=np.asarray(events.labels[:num_samples], np.uint8))
        size = os.path.getsize(path)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            loaded = eqsnn.data.shd("train", root=tmp, download=False)
            times.append(time.perf_counter() - t0)
    seconds = min(times)
    return dict(
        samples=num_samples,
        events=int(loaded.counts.sum()),
        file_mb=size / 2**20,
        load_s=seconds,
        events_per_s=float(loaded.counts.sum()) / seconds,
        scaled_to_shd_train_s=seconds * wl.SHD_TRAIN_SAMPLES / num_samples,
    )


def run_w4(args, data, key) -> dict:
    num_steps, bin_ms, mean_events = 100, 14.0, args.shd_events
    n = 8 * wl.BATCH if args.quick else wl.SHD_TRAIN_SAMPLES
    t0 = time.perf_counter()
    events = wl.synthetic_shd_events(n, mean_events)
    gen_s = time.perf_counter() - t0
    idx = jnp.asarray(np.random.default_rng(4).permutation(n)[: 8 * wl.BATCH].reshape(8, wl.BATCH).astype(np.int32))
    cases, ctx = wl.build_w4(events, idx, key, num_steps=num_steps, bin_ms=bin_ms)
    res = time_interleaved(cases, args.repeats, idx.shape[0])
    for name, case in cases.items():
        res[name].update(memory(case))
    add_ratios(res, cases)
    losses = {name: float(case.run(0)) for name, case in cases.items()}  # the same math: the same loss
    res["eqsnn event"]["ratio_vs_plain_event"] = res["eqsnn event"]["median"] / res["plain JAX event"]["median"]
    res["eqsnn binned"]["ratio_vs_plain_binned"] = res["eqsnn binned"]["median"] / res["plain JAX binned"]["median"]
    # binning alone: on device (jit of vmap, the batch gathered from device-resident events) vs a host loop
    data_dev = ctx["data"]
    binner = functools.partial(eqsnn.data.bin_events, num_steps=num_steps, dt=bin_ms, num_units=700)
    on_device = jax.jit(lambda d, ix: jax.vmap(binner)(d[0][ix], d[1][ix], d[2][ix]))
    on_device(data_dev, idx[0]).block_until_ready()
    dev_times, host_times = [], []
    for r in range(max(3, args.repeats)):
        t0 = time.perf_counter()
        on_device(data_dev, idx[1 + r % 7]).block_until_ready()
        dev_times.append(time.perf_counter() - t0)
    for r in range(2 if args.quick else 5):
        t0 = time.perf_counter()
        host_bin_loop(events, np.asarray(idx[1 + r % 7]), num_steps, bin_ms)
        host_times.append(time.perf_counter() - t0)
    binning = dict(
        batch=wl.BATCH,
        device_s=float(np.median(dev_times)),
        host_loop_s=float(np.median(host_times)),
        device_samples_per_s=wl.BATCH / float(np.median(dev_times)),
        host_loop_samples_per_s=wl.BATCH / float(np.median(host_times)),
    )
    load = hdf5_load_time(events, 1000)
    steps_per_epoch = wl.SHD_TRAIN_SAMPLES // wl.BATCH
    k = jax.random.key(1)
    wl.epoch_batches_jit(k, wl.SHD_TRAIN_SAMPLES).block_until_ready()
    t0 = time.perf_counter()
    wl.epoch_batches_jit(jax.random.fold_in(k, 1), wl.SHD_TRAIN_SAMPLES).block_until_ready()
    perm_s = time.perf_counter() - t0
    epoch = dict(
        samples=wl.SHD_TRAIN_SAMPLES,
        steps=steps_per_epoch,
        per_epoch_work_s=perm_s,
        estimate={name: dict(estimated_epoch_s=steps_per_epoch * r["median"] + perm_s) for name, r in res.items()},
    )
    if not args.quick:  # a real epoch of each eqsnn step: gather + binning/events + model + Adam, on device
        for mode in ("event", "binned"):
            model, opt_state, step = ctx["model"], ctx["opt_state"], ctx["steps"][mode]
            t0 = time.perf_counter()
            batches = wl.epoch_batches_jit(jax.random.fold_in(k, 2), wl.SHD_TRAIN_SAMPLES)
            loss = None
            for i in range(steps_per_epoch):
                model, opt_state, loss, _ = step(model, opt_state, (data_dev, batches[i]))
            loss.block_until_ready()
            epoch[f"measured_eqsnn_{mode}_s"] = time.perf_counter() - t0
    return dict(
        cases=res,
        epoch=epoch,
        binning=binning,
        load=load,
        first_batch_loss=losses,
        data=dict(samples=n, mean_events=mean_events, max_events=int(events.times.shape[1]), generate_s=gen_s),
        note=(
            f"examples/shd.py's RecurrentSNN 700->256 rec. LIF->20, {num_steps} bins of {bin_ms} ms, batch 256, "
            f"Adam 1e-3; synthetic SHD-shaped events (Poisson mean {mean_events:.0f} per sample), gathered and "
            "binned inside the step"
        ),
    )


def run_w5(args, data, key) -> dict:
    images, labels, idx = data
    small = idx[:, : wl.DEEP_BATCH]
    cases = wl.build_w5(images, labels, small, key)
    res = time_interleaved(cases, args.repeats, idx.shape[0])
    for name, case in cases.items():
        res[name].update(memory(case))
    add_ratios(res, cases)
    losses = {name: float(case.run(0)) for name, case in cases.items()}
    return dict(
        cases=res,
        first_batch_loss=losses,
        note=(
            f"deep: 784 -> 3 x {wl.DEEP_HIDDEN} LIF -> 10 leaky, one Sequential, latency events, {wl.DEEP_STEPS} steps, "
            f"batch {wl.DEEP_BATCH}, Adam 1e-3"
        ),
    )


def fmt_table(results: dict, peers: dict | None) -> str:
    lines = []
    head = f"{'workload':8} {'case':28} {'median s':>9} {'min s':>8} {'max s':>8} {'ratio':>6} {'compile s':>9} {'temp MB':>8}"
    for wname, w in results["workloads"].items():
        lines.append(f"\n[{wname}] {w.get('note', '')}")
        lines.append(head)
        groups = {k: v for k, v in w.items() if k.startswith("T=")} or {"": w}
        for gname, g in groups.items():
            for cname, r in g["cases"].items():
                med = r.get("median")
                row = f"{(wname + ' ' + gname).strip():8} {cname:28} "
                row += (
                    f"{med:9.4f} {r['min']:8.4f} {r['max']:8.4f} "
                    if med is not None
                    else f"{'-':>9} {'-':>8} {'-':>8} "
                )
                row += f"{r.get('ratio_vs_baseline', float('nan')):6.2f} " if med is not None else f"{'-':>6} "
                row += f"{r.get('compile_s', float('nan')):9.2f} " if med is not None else f"{'-':>9} "
                row += f"{r['temp_bytes'] / 2**20:8.1f}" if "temp_bytes" in r else f"{'-':>8}"
                lines.append(row)
            if gname:
                grads = (
                    f"; grads max |diff| {g['grad_max_abs_diff']:.2e} (max |grad| {g['grad_max_abs']:.2e})"
                    if "grad_max_abs_diff" in g
                    else ""
                )
                lines.append(f"{'':8} temp memory, plain / checkpointed: {g['temp_memory_reduction']:.1f}x{grads}")
        if peers and wname in peers:
            base = [w["cases"][c["baseline"]]["median"] for c in w.get("cases", {}).values() if "baseline" in c][:1]
            for pname, r in peers[wname].items():
                ratio = r["median"] / base[0] if base else float("nan")
                lines.append(
                    f"{wname:8} {pname + ' (separate run)':28} {r['median']:9.4f} {r['min']:8.4f} {r['max']:8.4f} {ratio:6.2f}"
                )
        for ours, ratios in w.get("side_by_side", {}).items():
            lines.append(
                f"{ours} / other (< 1: {ours} faster): " + ", ".join(f"{b} {r:.2f}" for b, r in ratios.items())
            )
        for pname, note in w.get("peer_notes", {}).items():
            lines.append(f"{pname}: {note}")
        if "epoch" in w:
            e = w["epoch"]
            est = ", ".join(f"{n}: {v['estimated_epoch_s']:.1f} s" for n, v in e["estimate"].items())
            lines.append(
                f"epoch estimate ({e['steps']} steps + {e['per_epoch_work_s'] * 1e3:.1f} ms per-epoch work): {est}"
            )
            for key, value in e.items():
                if key.startswith("measured_eqsnn_") and key.endswith("_s"):
                    lines.append(f"measured epoch, eqsnn {key[len('measured_eqsnn_') : -2]}: {value:.1f} s")
        if "binning" in w:
            b = w["binning"]
            lines.append(
                f"binning a batch of {b['batch']}: on device {b['device_samples_per_s']:.0f} samples/s, "
                f"host loop {b['host_loop_samples_per_s']:.0f} samples/s "
                f"({b['host_loop_s'] / b['device_s']:.1f}x slower)"
            )
        if "load" in w and "load_s" in w["load"]:
            ld = w["load"]
            lines.append(
                f"loading an SHD-layout HDF5 file of {ld['samples']} samples ({ld['events'] / ld['samples']:.0f} "
                f"events each, {ld['file_mb']:.0f} MB): {ld['load_s']:.2f} s, {ld['events_per_s'] / 1e6:.1f} M "
                f"events/s; scaled to SHD's {wl.SHD_TRAIN_SAMPLES} training samples: {ld['scaled_to_shd_train_s']:.1f} s"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few repeats, no full epoch (about 75 s)")
    ap.add_argument(
        "--only", default=None, help="comma-separated workloads (default W1-W5; with --quick W1-W4, under 90 s)"
    )
    ap.add_argument("--repeats", type=int, default=None, help="timed steps per case (default 4 quick, 30 full)")
    ap.add_argument("--epoch-samples", type=int, default=None, help="samples per epoch (default: the dataset)")
    ap.add_argument("--shd-events", type=float, default=8000.0, help="W4: mean events per sample")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument(
        "--peers",
        default=None,
        metavar="DIR",
        help="time BrainPy / PyTorch+snnTorch / Spyx (benchmarks/peers) side by side, each with DIR/<venv>/bin/python",
    )
    ap.add_argument(
        "--peer-threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS for the PyTorch peers (default: PyTorch's own; 1 on a machine shared with other jobs, "
        "where OpenMP's spinning threads slow PyTorch down several-fold)",
    )
    ap.add_argument(
        "--peer-malloc",
        action="store_true",
        help="run the peers with glibc's MALLOC_* environment equal to eqsnn.train.tune_host_allocator's setting",
    )
    args = ap.parse_args(argv)
    args.repeats = args.repeats or (4 if args.quick else 30)
    args.full_epoch = not args.quick
    if args.only is None:
        args.only = "W1,W2,W3,W4" if args.quick else "W1,W2,W3,W4,W5"
    only = [w.strip().upper() for w in args.only.split(",") if w.strip()]

    t_start = time.perf_counter()
    if any(w in only for w in ("W1", "W2", "W3", "W5")):
        images, labels, source = wl.load_fashion_mnist()
    else:  # W4 alone brings its own data
        images, labels, source = np.zeros((8 * wl.BATCH, 784), np.uint8), np.zeros(8 * wl.BATCH, np.int32), "none"
    rng = np.random.default_rng(0)
    idx = jnp.asarray(rng.permutation(images.shape[0])[: 8 * wl.BATCH].reshape(8, wl.BATCH).astype(np.int32))
    key = jax.random.key(0)
    data = (images, labels, idx)
    runners = dict(W1=run_w1, W2=run_w2, W3=run_w3, W4=run_w4, W5=run_w5)
    results = dict(
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        mode="quick" if args.quick else "full",
        versions=dict(
            python=platform.python_version(),
            jax=jax.__version__,
            equinox=__import__("equinox").__version__,
            optax=__import__("optax").__version__,
            eqsnn=__import__("eqsnn").__version__,
        ),
        machine=dict(platform=platform.platform(), cpus=os.cpu_count(), device=str(jax.devices()[0])),
        # process-wide, so the in-process hand-written JAX runs with it too (make_step would set it anyway)
        host_allocator_tuned=eqsnn.train.tune_host_allocator(),
        peer_malloc=args.peer_malloc,
        data=source,
        repeats=args.repeats,
        workloads={},
    )
    for w in only:
        if w not in runners:
            print(f"unknown workload {w!r}; choose from {sorted(runners)}", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        results["workloads"][w] = runners[w](args, data, key)
        print(f"{w} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    peers = None
    results["total_s"] = time.perf_counter() - t_start
    print(fmt_table(results, peers))
    print(f"\ntotal {results['total_s']:.1f} s")
    if not args.no_save:
        os.makedirs(RESULTS, exist_ok=True)
        # a subset of the workloads goes to its own file, so it never overwrites a complete run's results
        complete = {"W1", "W2", "W3", "W4"} if args.quick else set(runners)
        suffix = "" if set(only) >= complete else "-" + "-".join(only)
        path = os.path.join(RESULTS, f"{results['mode']}{suffix}.json")
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
