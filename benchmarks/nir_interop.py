"""Interoperability through NIR files with snnTorch and Norse (not run in CI).

snnTorch (and Norse) are never eqsnn dependencies: they live in a separate virtual environment,
whose Python this script runs as a subprocess.

    python3 -m venv /path/peers/snntorch
    /path/peers/snntorch/bin/pip install torch snntorch nir nirtorch
    /path/peers/snntorch/bin/pip install --no-deps norse      # optional, for --norse
    python benchmarks/nir_interop.py --peer-python /path/peers/snntorch/bin/python

Both directions, on the same random input:

1. eqsnn -> snnTorch: a forward-Euler LIF network (`eqsnn.nir.EulerLIF`, the update snnTorch's
   `Leaky` runs) is written with `eqsnn.nir.to_nir`, read by `snntorch.import_nir`, and both
   are run.
2. the same with a recurrent current-based LIF layer (an eqsnn Graph with a delayed edge;
   snnTorch reads it as an `RSynaptic`).
3. snnTorch -> eqsnn: `Linear -> Leaky -> Linear -> Leaky`, and the same with an `RSynaptic`
   hidden layer (which snnTorch writes as a recurrent subgraph), written with
   `snntorch.export_nir` and read with `eqsnn.nir.from_nir(..., method="euler")`.

With `--norse` (Norse installed in the same environment) the first file is also read with
`norse.torch.from_nir(..., dt=1e-4)`.

Measured with snnTorch 1.0.0 (torch 2.13 CPU, nir 1.0.8, nirtorch 2.6), 500 steps: the
`Leaky` networks give identical spike trains both ways (difference 0). The recurrent
current-based layer does not, in either direction:

- snnTorch -> eqsnn: snnTorch's `RSynaptic` resets to zero on the step after a spike (its reset
  is computed from the previous step's membrane potential), where NIR's `CubaLIF`, and eqsnn,
  reset right after the spike. Replaying the NIR file with that delayed reset in NumPy
  reproduces snnTorch's spikes exactly, so the difference is in that rule, not in the file.
- eqsnn -> snnTorch: a NumPy replay of the file's NIR equations gives eqsnn's spikes (29 at the
  output); snnTorch's imported `RSynaptic` gives 271, and neither a delayed reset nor no reset
  accounts for it. The cause is inside snnTorch's import of recurrent layers; not isolated.

Norse 1.1.0 reads the feed-forward eqsnn file with identical spikes too. The other way is not
compared: Norse 1.1.0's `to_nir` writes `tau = 1e-6` s for a `LIFBoxCell` with
`tau_mem_inv = 1000` (1/s), a thousandth of the time constant it runs with.

snnTorch works with a step of 1e-4 s, so eqsnn's `dt` here is 0.1 ms. For each direction
the script prints the largest difference of the outputs (the last layer's spikes), whether
the spike trains of the output layer are identical, and the number of spikes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import subprocess
import sys
import tempfile

DT_MS = 0.1  # snnTorch's NIR step, 1e-4 s
N_IN, N_HIDDEN, N_OUT = 20, 32, 4

PEER_SNNTORCH = r"""
import json, sys
import numpy as np, torch, nir, snntorch as snn
from snntorch.export_nir import export_to_nir
from snntorch.import_nir import import_from_nir

mode, path, xs_path, out_path = sys.argv[1:5]
xs = torch.tensor(np.load(xs_path), dtype=torch.float32)
n_in, n_hidden, n_out = (int(a) for a in sys.argv[5:8])

if mode.startswith("export"):
    torch.manual_seed(0)
    if mode == "export_leaky":
        hidden = snn.Leaky(beta=torch.full((n_hidden,), 0.9), threshold=torch.ones(n_hidden), init_hidden=True,
                           reset_mechanism="zero")
    else:  # a recurrent current-based layer
        hidden = snn.RSynaptic(alpha=torch.full((n_hidden,), 0.7), beta=torch.full((n_hidden,), 0.9),
                               threshold=torch.ones(n_hidden), linear_features=n_hidden, init_hidden=True,
                               reset_mechanism="zero")
    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, n_hidden),
        hidden,
        torch.nn.Linear(n_hidden, n_out),
        snn.Leaky(beta=torch.full((n_out,), 0.8), threshold=torch.ones(n_out), init_hidden=True,
                  reset_mechanism="zero"),
    )
    with torch.no_grad():
        net[0].weight.mul_(4.0)
        net[2].weight.mul_(4.0)
    nir.write(path, export_to_nir(net, torch.zeros(1, n_in), ignore_dims=[0]))
    for m in net:
        if hasattr(m, "reset_hidden"):
            m.reset_hidden()
    with torch.no_grad():
        ys = torch.stack([net(x[None])[0] for x in xs])
elif mode == "import_norse":
    import norse.torch as norse

    model = norse.from_nir(nir.read(path), dt=1e-4)
    state = None
    out = []
    with torch.no_grad():
        for x in xs:
            y, state = model(x[None], state)
            out.append(y[0])
    ys = torch.stack(out)
else:
    model = import_from_nir(nir.read(path))
    state = None
    out = []
    with torch.no_grad():
        for x in xs:
            y, state = model(x[None], state)
            out.append(y[0])
    ys = torch.stack(out)
np.save(out_path, ys.numpy())
"""


def _peer(python: str, mode: str, path: Path, xs_path: Path, out_path: Path) -> None:
    args = [python, "-c", PEER_SNNTORCH, mode, str(path), str(xs_path), str(out_path), str(N_IN), str(N_HIDDEN),
            str(N_OUT)]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the peer ({python}) failed:\n{done.stderr[-4000:]}")


def _compare(y_eqsnn, y_peer) -> dict:
    import numpy as np

    y_eqsnn, y_peer = np.asarray(y_eqsnn, np.float64), np.asarray(y_peer, np.float64)
    return {
        "max_abs_diff": float(np.max(np.abs(y_eqsnn - y_peer))),
        "spikes_identical": bool(np.array_equal(y_eqsnn, y_peer)),
        "spikes_eqsnn": int(y_eqsnn.sum()),
        "spikes_peer": int(y_peer.sum()),
        "steps_that_differ": int(np.sum(np.any(y_eqsnn != y_peer, axis=-1))),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-python", required=True, help="the Python of a venv with snnTorch, nir, nirtorch")
    parser.add_argument("--norse", action="store_true", help="also read the eqsnn file with Norse (same venv)")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--out", default=None, help="a folder for the files (default: a temporary one)")
    args = parser.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np

    import eqsnn
    from eqsnn import nn
    from eqsnn.nir import EulerIntegrator, EulerLIF, Scale, from_nir, to_nir

    out = Path(args.out or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    xs = (rng.uniform(0.0, 1.0, (args.steps, N_IN)) < 0.3).astype(np.float32)
    xs_path = out / "xs.npy"
    np.save(xs_path, xs)
    report = {}

    # 1. eqsnn -> NIR file -> snnTorch
    k1, k2 = jax.random.split(jax.random.key(0))
    lif = dict(v_th=1.0, v_rest=0.0, v_reset=0.0, reset="hard", dt=DT_MS)
    model = (
        nn.Linear(N_IN, N_HIDDEN, key=k1)
        >> EulerLIF(N_HIDDEN, tau=1.0, **lif)  # beta = 1 - dt / tau = 0.9
        >> nn.Linear(N_HIDDEN, N_OUT, key=k2)
        >> EulerLIF(N_OUT, tau=0.5, **lif)  # beta = 0.8
    )
    model = jax.tree_util.tree_map(lambda a: a * 10.0 if getattr(a, "ndim", 0) == 2 else a, model)
    path = out / "from_eqsnn.nir"
    import nir

    nir.write(path, to_nir(model, dt=DT_MS))
    _, y_eqsnn = eqsnn.run(model, jax.numpy.asarray(xs))
    _peer(args.peer_python, "import", path, xs_path, out / "peer_import.npy")
    report["eqsnn -> snnTorch"] = _compare(y_eqsnn, np.load(out / "peer_import.npy"))
    if args.norse:
        _peer(args.peer_python, "import_norse", path, xs_path, out / "norse_import.npy")
        report["eqsnn -> Norse"] = _compare(y_eqsnn, np.load(out / "norse_import.npy"))

    # 2. a recurrent current-based LIF layer (a CubaLIF with a recurrent weight), eqsnn -> snnTorch
    k3, k4, k5 = jax.random.split(k2, 3)
    rec = eqsnn.Graph(
        nodes={
            "w_in": nn.Linear(N_IN, N_HIDDEN, key=k3),
            # snnTorch reads a CubaLIF as syn <- alpha syn + x, mem <- beta mem + syn, which is NIR's
            # forward-Euler CubaLIF with w_in = tau_syn / dt and r = tau_mem / dt: alpha = 0.7, beta = 0.9
            "h": Scale(jnp.full(N_HIDDEN, 1.0 / 0.3))
            >> EulerIntegrator(N_HIDDEN, tau=DT_MS / 0.3, dt=DT_MS)
            >> EulerLIF(N_HIDDEN, tau=1.0, r=1.0 / DT_MS, **lif),
            "rec": nn.Linear(N_HIDDEN, N_HIDDEN, key=k4),
            "w_out": nn.Linear(N_HIDDEN, N_OUT, key=k5),
            "o": EulerLIF(N_OUT, tau=0.5, **lif),
        },
        edges=[("input", "w_in"), ("w_in", "h"), ("rec", "h"), ("h", "w_out"), ("w_out", "o")],
        delayed=[("h", "rec")],
        output="o",
    )
    rec = jax.tree_util.tree_map(lambda a: a * 3.0 if getattr(a, "ndim", 0) == 2 else a, rec)
    path = out / "from_eqsnn_recurrent.nir"
    nir.write(path, to_nir(rec, dt=DT_MS))
    _, y_eqsnn = eqsnn.run(rec, jax.numpy.asarray(xs))
    _peer(args.peer_python, "import", path, xs_path, out / "peer_import_rec.npy")
    report["eqsnn -> snnTorch (recurrent CubaLIF)"] = _compare(y_eqsnn, np.load(out / "peer_import_rec.npy"))

    # 3. snnTorch -> NIR file -> eqsnn, a Leaky network and one with an RSynaptic layer
    for mode, label in (("export_leaky", "snnTorch -> eqsnn"),
                        ("export_rsynaptic", "snnTorch -> eqsnn (RSynaptic)")):  # fmt: skip
        path = out / f"from_snntorch_{mode}.nir"
        _peer(args.peer_python, mode, path, xs_path, out / f"peer_{mode}.npy")
        imported = from_nir(path, dt=DT_MS, method="euler")
        _, y_eqsnn = eqsnn.run(imported, jax.numpy.asarray(xs))
        report[label] = _compare(y_eqsnn, np.load(out / f"peer_{mode}.npy"))

    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
