"""Hostile-input probe: counts, per class of defect, how public entry points react to bad
and to valid inputs.

Run: `python -m benchmarks.probe` (or `python benchmarks/probe.py`) with the eqsnn to probe
on `PYTHONPATH`. Each case is classified as

- `clear`: a bad input raised `TypeError`/`ValueError` (or a subclass) whose message names
  the function or class and the argument;
- `unclear`: a bad input raised `TypeError`/`ValueError` without naming both;
- `crash`: any other exception (`AttributeError`, `IndexError`, `KeyError`, ...);
- `silent`: a bad input was accepted, or a result that must be finite was not;
- `rejected`: a valid input raised;
- `ok`: a valid input was accepted (or a result stayed finite);
- `n/a`: the entry point does not exist in this version.

Prints one table of counts per class of defect and the totals.
"""

from __future__ import annotations

from collections import Counter, defaultdict
import importlib
import math
import os
import tempfile
import warnings

import jax
import jax.numpy as jnp
import numpy as np

warnings.filterwarnings("ignore")

BAD = {
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "None": None,
    "complex": 1 + 1j,
    "str": "abc",
    "list": [1.0],
    "wrong shape": np.ones(3, dtype=np.float32),
    "int array": np.ones(4, dtype=np.int32),
}
VALID_SCALARS = {
    "np.float32": lambda v: np.float32(v),
    "np.float64": lambda v: np.float64(v),
    "0-d jnp": lambda v: jnp.asarray(v, dtype=jnp.float32),
}

NEURON_PARAMS = {
    "neurons.LIF": {"tau": 10.0, "v_th": 20.0, "v_reset": -5.0, "dt": 0.1},
    "neurons.IF": {"v_th": 20.0, "dt": 0.1},
    "neurons.ALIF": {"tau": 10.0, "v_th": -60.0, "dt": 0.1},
    "neurons.ExpIF": {"tau": 10.0, "v_th": -55.0, "delta_t": 3.48, "v_t": -59.9},
    "neurons.AdEx": {"tau": 10.0, "a": 1.0, "b": 1.0, "v_th": -55.0},
    "neurons.QuaIF": {"tau": 10.0, "c": 0.07, "v_th": -30.0},
    "neurons.Izhikevich": {"a": 0.02, "c": -65.0, "v_th": 30.0},
    "neurons.HH": {"e_na": 50.0, "g_na": 120.0, "c": 1.0},
    "synapses.Expon": {"tau": 8.0},
    "synapses.NMDA": {"a": 0.5, "tau_decay": 100.0},
    "synapses.AMPA": {"alpha": 0.98, "beta": 0.18},
}
SURROGATES = ["InvSquare", "Sigmoid", "ArcTan", "Erf", "QPseudoSpike", "Triangle"]


def resolve(path: str):
    mod = importlib.import_module("eqsnn")
    obj = mod
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _names(msg: str, owner: str, arg: str) -> bool:
    return owner.split(".")[-1] in msg and (arg in msg or f"'{arg}'" in msg)


def _finite(tree) -> bool:
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "dtype")]
    return all(np.all(np.isfinite(x)) for x in leaves if np.issubdtype(x.dtype, np.inexact))


def classify(kind: str, fn, owner: str, arg: str) -> str:
    try:
        out = fn()
    except (TypeError, ValueError) as e:
        if kind == "valid":
            return "rejected"
        if kind == "finite":
            return "crash"
        return "clear" if _names(str(e), owner, arg) else "unclear"
    except Exception:  # noqa: BLE001 - anything else is a crash
        return "rejected" if kind == "valid" else "crash"
    if kind == "bad":
        return "silent"
    if kind == "finite":
        return "ok" if _finite(out) else "silent"
    return "ok"


def cases():
    """Yield `(defect class, description, kind, owner, arg, thunk)`; thunk None means n/a."""
    # Parameters: every bad value for each listed parameter, and v_reset >= v_th
    for path, params in NEURON_PARAMS.items():
        cls = resolve(path)
        for name, good in params.items():
            for label, bad in BAD.items():
                t = None if cls is None else (lambda c=cls, n=name, b=bad: c(4, **{n: b}))
                yield "parameters", f"{path}({name}={label})", "bad", path, name, t
            for label, conv in VALID_SCALARS.items():
                t = None if cls is None else (lambda c=cls, n=name, v=good, f=conv: c(4, **{n: f(v)}))
                yield "valid input", f"{path}({name}={label})", "valid", path, name, t
    for path, kw in [
        ("neurons.LIF", {"v_reset": 25.0}),
        ("neurons.ExpIF", {"v_reset": -50.0}),
        ("neurons.AdEx", {"v_reset": -50.0}),
        ("neurons.QuaIF", {"v_reset": -20.0}),
        ("neurons.Izhikevich", {"c": 40.0}),
    ]:
        cls = resolve(path)
        arg = next(iter(kw))
        yield "parameters", f"{path}({kw})", "bad", path, arg, None if cls is None else (lambda c=cls, k=kw: c(4, **k))
    # Surrogates
    for name in SURROGATES:
        cls = resolve(f"surrogate.{name}")
        for label, bad in BAD.items():
            if label in ("wrong shape", "int array"):
                continue
            t = None if cls is None else (lambda c=cls, b=bad: c(alpha=b))
            yield "parameters", f"{name}(alpha={label})", "bad", name, "alpha", t
        yield "valid input", f"{name}()(0.5)", "valid", name, "x", None if cls is None else (lambda c=cls: c()(0.5))
        yield (
            "valid input",
            f"grad({name}())(0.0)",
            "valid",
            name,
            "x",
            None if cls is None else (lambda c=cls: jax.grad(c())(0.0)),
        )
    qp = resolve("surrogate.QPseudoSpike")
    yield (
        "parameters",
        "QPseudoSpike(alpha=jnp 0.5)",
        "bad",
        "QPseudoSpike",
        "alpha",
        (None if qp is None else (lambda: qp(alpha=jnp.asarray(0.5)))),
    )
    # Valid inputs of NumPy types
    fp = resolve("nn.FixedProb")
    yield (
        "valid input",
        "FixedProb(prob=np.float32)",
        "valid",
        "FixedProb",
        "prob",
        (None if fp is None else (lambda: fp(3, 4, np.float32(0.5), key=jax.random.key(0)))),
    )
    run = resolve("run")
    lif = resolve("neurons.LIF")

    def _run_remat():
        try:
            return run(lif(2), jnp.ones((4, 2)), remat=np.int64(2))
        except TypeError as e:
            if "remat" in str(e):
                return run(lif(2), jnp.ones((4, 2)), checkpoint=np.int64(2))
            raise

    yield "valid input", "run(remat=np.int64(2))", "valid", "run", "remat", _run_remat
    # Losses and encoders
    ce, acc, lat = resolve("losses.cross_entropy"), resolve("losses.accuracy"), resolve("encoding.latency_steps")
    for lab in ([0, 10], [-1, 0], [3, 0]):
        yield (
            "losses/encoders",
            f"cross_entropy(labels={lab})",
            "bad",
            "cross_entropy",
            "labels",
            (lambda lab=lab: ce(jnp.zeros((2, 3)), jnp.asarray(lab))),
        )
        yield (
            "losses/encoders",
            f"accuracy(labels={lab})",
            "bad",
            "accuracy",
            "labels",
            (lambda lab=lab: acc(jnp.zeros((2, 3)), jnp.asarray(lab))),
        )
    for label, bad in [("-0.5", -0.5), ("-1e-3", -1e-3), ("nan", math.nan), ("inf", math.inf), ("str", "a")]:
        yield (
            "losses/encoders",
            f"latency_steps(threshold={label})",
            "bad",
            "latency_steps",
            "threshold",
            (lambda b=bad: lat(jnp.ones(3), 10, threshold=b)),
        )
    for label, bad in [("nan", math.nan), ("inf", math.inf), ("-1", -1.0), ("complex", 1j)]:
        yield (
            "losses/encoders",
            f"latency_steps(tau={label})",
            "bad",
            "latency_steps",
            "tau",
            (lambda b=bad: lat(jnp.ones(3), 10, tau=b)),
        )
    proj, expon, coba, lin = (resolve(p) for p in ("Projection", "synapses.Expon", "outputs.COBA", "nn.Linear"))

    def _coba_batch():
        p = proj(lin(3, 4, key=jax.random.key(0)), expon(4), coba(e=0.0))
        s = p.init_state()
        try:
            return p.step(s, (jnp.ones(3), jnp.zeros((2, 4))))
        except TypeError as e:
            if "pair" in str(e):
                raise
            return p.step(s, jnp.ones(3), jnp.zeros((2, 4)))

    yield "losses/encoders", "COBA Projection post_v (2, 4)", "bad", "Projection", "post_v", _coba_batch
    # Crashes / unclear errors
    plot_raster, spike_l2 = resolve("plot.raster"), resolve("losses.spike_l2")
    is_stateless = resolve("is_stateless")
    history = resolve("train.History")
    load = resolve("train.load_checkpoint")
    read_idx, fmnist = resolve("data.read_idx"), resolve("data.fashion_mnist")
    yield (
        "crashes",
        "is_stateless(None)",
        "bad",
        "is_stateless",
        "model",
        (None if is_stateless is None else (lambda: is_stateless(None))),
    )
    yield (
        "crashes",
        "raster(neurons=[10])",
        "bad",
        "raster",
        "neurons",
        (lambda: plot_raster(np.zeros((5, 3)), neurons=[10])),
    )
    yield "crashes", "spike_l2(list)", "bad", "spike_l2", "spikes", lambda: spike_l2([1.0, 2.0])
    yield (
        "crashes",
        "Linear(w_init='abc')",
        "bad",
        "Linear",
        "w_init",
        (lambda: lin(3, 4, key=jax.random.key(0), w_init="abc")),
    )
    yield "crashes", "run(monitor='v')", "bad", "run", "monitor", lambda: run(lif(2), jnp.ones((3, 2)), monitor="v")
    yield (
        "crashes",
        "History.from_dict(no epochs)",
        "bad",
        "History.from_dict",
        "epochs",
        (lambda: history.from_dict({"format": "eqsnn.History/1"})),
    )
    yield "crashes", "load_checkpoint(None)", "bad", "load_checkpoint", "path", (lambda: load(None, None, None))
    yield "crashes", "read_idx(None)", "bad", "read_idx", "path", lambda: read_idx(None)
    yield (
        "crashes",
        "fashion_mnist(root=123)",
        "bad",
        "Fashion-MNIST",
        "root",
        (lambda: fmnist(root=123, download=False)),
    )
    import optax

    make_step = resolve("train.make_step")
    init = resolve("train.init_opt_state")

    def _step(opt_state_of):
        m = lin(2, 2, key=jax.random.key(0))
        opt = optax.sgd(0.1, momentum=0.9)
        st = make_step(lambda mm, b: (jnp.sum(mm.weight), {}), opt)
        return st(m, opt_state_of(opt), None)

    yield "crashes", "make_step(opt_state=None)", "bad", "make_step", "opt_state", lambda: _step(lambda o: None)
    yield (
        "crashes",
        "make_step(opt_state of another model)",
        "bad",
        "make_step",
        "opt_state",
        (lambda: _step(lambda o: init(o, lin(3, 2, key=jax.random.key(0))))),
    )
    # Numerics: long runs stay finite
    for path, current in [
        ("neurons.ExpIF", 2000.0),
        ("neurons.AdEx", 2000.0),
        ("neurons.QuaIF", 5000.0),
        ("neurons.HH", -70.0),
        ("neurons.HH", -1e4),
        ("neurons.Izhikevich", 1e4),
        ("neurons.LIF", 1e4),
    ]:
        cls = resolve(path)
        yield (
            "numerics",
            f"{path} I={current}",
            "finite",
            path,
            "",
            (lambda c=cls, i=current: jax.jit(run)(c(2), jnp.full((10_000, 2), i, dtype=jnp.float32))),
        )
    # Checkpoints: a flipped header byte, a batch size changed on resume, an unwritable folder
    yield from _checkpoint_cases()


def _checkpoint_cases():
    import optax

    bptt, lin, seq = resolve("train.BPTT"), resolve("nn.Linear"), resolve("Sequential")
    ce = resolve("losses.cross_entropy")
    x = np.random.default_rng(0).standard_normal((16, 3, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int32)

    def fit(d, n, bs=8, resume=False):
        model = seq(lin(2, 2, key=jax.random.key(0)))
        tr = bptt(lambda o, t, m: ce(o[:, -1], t), optax.sgd(0.1), progress=False, verbose=False)
        return tr.fit(
            model, (x, y), num_epochs=n, batch_size=bs, key=jax.random.key(1), checkpoint_dir=d, resume=resume
        )

    def flipped_epoch():
        d = tempfile.mkdtemp()
        fit(d, 1)
        p = os.path.join(d, "checkpoint.eqx")
        data = open(p, "rb").read()
        open(p, "wb").write(data.replace(b'"epoch": 1', b'"epoch": 0', 1))
        return fit(d, 2, resume=True)  # accepted: trains 3 epochs instead of 2

    def flipped_loss():
        d = tempfile.mkdtemp()
        fit(d, 1)
        p = os.path.join(d, "checkpoint.eqx")
        data = bytearray(open(p, "rb").read())
        i = data.index(b'"loss": ') + 9
        data[i] ^= 0x01
        open(p, "wb").write(bytes(data))
        return fit(d, 2, resume=True)

    def other_batch():
        d = tempfile.mkdtemp()
        fit(d, 1)
        return fit(d, 2, bs=4, resume=True)

    def bad_dir():
        f = tempfile.mktemp()
        open(f, "w").write("x")
        return fit(f, 1)

    yield "checkpoints", "header epoch flipped", "bad", "checkpoint", "", flipped_epoch
    yield "checkpoints", "stored loss flipped", "bad", "checkpoint", "", flipped_loss
    yield "checkpoints", "resume with another batch_size", "bad", "fit", "batch_size", other_batch
    yield "checkpoints", "checkpoint_dir is a file", "bad", "fit", "checkpoint_dir", bad_dir


def main() -> None:
    table: dict[str, Counter] = defaultdict(Counter)
    for defect, _desc, kind, owner, arg, thunk in cases():
        if thunk is None:
            table[defect]["n/a"] += 1
            continue
        table[defect][classify(kind, thunk, owner, arg)] += 1
    cols = ["cases", "clear", "unclear", "crash", "silent", "rejected", "ok", "n/a"]
    print(f"{'defect class':<16}" + "".join(f"{c:>9}" for c in cols))
    total: Counter = Counter()
    for defect, counts in table.items():
        counts["cases"] = sum(counts.values())
        total.update(counts)
        print(f"{defect:<16}" + "".join(f"{counts[c]:>9}" for c in cols))
    print(f"{'total':<16}" + "".join(f"{total[c]:>9}" for c in cols))


if __name__ == "__main__":
    main()
