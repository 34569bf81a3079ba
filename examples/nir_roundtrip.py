"""Export an eqsnn SNN to a NIR file, read it back, and compare the two on the same input.

    python examples/nir_roundtrip.py [path.nir]

Needs `pip install eqsnn[nir]`. The guide docs/guides/nir.md walks through this script.
"""

from __future__ import annotations

from pathlib import Path
import sys
import tempfile

import jax
import jax.numpy as jnp
import nir

import eqsnn
from eqsnn import neurons, nn, synapses
from eqsnn.nir import from_nir, to_nir

DT = 1.0  # ms: every module's step, and the step the NIR file is read back with


def build_model(key: jax.Array) -> eqsnn.Sequential:
    """The tutorial network, with a hard reset (what NIR's neurons do)."""
    k1, k2 = jax.random.split(key)
    return (
        nn.Linear(20, 32, key=k1)
        >> synapses.Expon(32, tau=5.0, dt=DT)
        >> neurons.LIF(32, tau=10.0, v_th=1.0, v_reset=0.0, reset="hard", dt=DT)
        >> eqsnn.Delay(1)
        >> nn.Linear(32, 4, key=k2)
        >> synapses.Expon(4, tau=5.0, dt=DT)
        >> neurons.Leaky(4, tau=5.0, dt=DT)
    )


def main(path: str | Path, steps: int = 200) -> dict[str, float | bool]:
    key_model, key_input = jax.random.split(jax.random.key(0))
    model = build_model(key_model)

    graph = to_nir(model, dt=DT)  # times in seconds, weights [out, in]
    nir.write(path, graph)
    print("NIR nodes:", {name: type(node).__name__ for name, node in graph.nodes.items()})

    imported = from_nir(path, dt=DT)  # an eqsnn.Graph: jit, vmap and grad work as usual

    xs = (jax.random.uniform(key_input, (steps, 20)) < 0.2).astype(jnp.float32) * 3.0
    spikes = lambda state: [s.spike for s in jax.tree_util.tree_leaves(state, is_leaf=lambda s: hasattr(s, "spike"))
                            if hasattr(s, "spike")]  # fmt: skip
    _, y_model, s_model = eqsnn.run(model, xs, monitor=spikes)
    _, y_imported, s_imported = jax.jit(lambda m, x: eqsnn.run(m, x, monitor=spikes))(imported, xs)
    report = {
        "max_abs_diff": float(jnp.max(jnp.abs(y_model - y_imported))),
        "spikes_equal": all(bool(jnp.array_equal(a, b)) for a, b in zip(s_model, s_imported, strict=True)),
        "num_spikes": float(sum(jnp.sum(s) for s in s_model)),
    }
    print(report)
    return report


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else str(Path(tempfile.mkdtemp()) / "model.nir")
    main(out)
