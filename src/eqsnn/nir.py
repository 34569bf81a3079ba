r"""Exchange models with NIR, the Neuromorphic Intermediate Representation.

[`eqsnn.nir.to_nir`][] writes an eqsnn model as a `nir.NIRGraph`;
[`eqsnn.nir.from_nir`][] reads one (or a file written by `nir.write`) as an
[`eqsnn.Graph`][], trainable, jittable and vmappable like any other model. Needs
the optional `nir` package (`pip install eqsnn[nir]`).

**Units.** NIR's equations are in continuous time, in seconds; eqsnn's times
are in ms. One factor converts them, `time_scale`, the seconds per eqsnn time
unit (default `1e-3`): $\tau_{NIR} = \tau \cdot$ `time_scale`, and `dt` (ms) is
the step of every imported module. Potentials, $R$, $v_{leak}$, thresholds and
$w_{in}$ carry no time unit and are copied; only NIR's `IF` and `I`, whose
$R$ is per second, are rescaled.

**The correspondence** (with $a = e^{-\Delta t/\tau}$, NIR's input held over a step):

| NIR | eqsnn, `method="exact"` (default) |
|---|---|
| `LIF`: $\tau \dot v = v_{leak} - v + R I$ | [`eqsnn.neurons.LIF`][]: $v \leftarrow v_\infty + (v - v_\infty) a$, $v_\infty = v_{leak} + R I$ |
| `LI`: $\tau \dot v = v_{leak} - v + R I$ | `Scale(R, v_leak) >> Integrator(tau)` |
| `CubaLIF`: $\tau_{syn} \dot I = -I + w_{in} S$, then `LIF` | `Scale(w_in) >> Integrator(tau_syn) >> LIF` |
| `CubaLI` | `Scale(w_in) >> Integrator(tau_syn) >> Scale(R, v_leak) >> Integrator(tau_mem)` |
| `IF`: $\dot v = R I$ | [`eqsnn.neurons.IF`][] with $\tau = 1$ ms, $R_{eqsnn} = R \cdot$ `time_scale` |
| `I`: $\dot v = R I$ | [`eqsnn.nir.Integrate`][] with $R_{eqsnn} = R \cdot$ `time_scale` |
| `Affine` ($y = W x + b$, $W$ `[out, in]`), `Linear` | [`eqsnn.nn.Linear`][] with weight $W^\top$ (`[in, out]`) |
| `Scale`, `Threshold`, `Flatten`, `SumPool2d` | [`eqsnn.nir.Scale`][], [`eqsnn.nir.Threshold`][], [`eqsnn.nir.Flatten`][], [`eqsnn.nir.SumPool2d`][] |
| `Conv1d`, `Conv2d`, `AvgPool2d` | `eqx.nn.Conv1d`, `eqx.nn.Conv2d`, `eqx.nn.AvgPool2d` in an [`eqsnn.Lambda`][] |
| `Delay` ($y(t) = x(t - d)$) | [`eqsnn.Delay`][] of $d / \Delta t$ steps |
| `NIRGraph` (nested) | an [`eqsnn.Graph`][] node |

With `method="euler"` each $\tau \dot x = f(x)$ is stepped by forward Euler,
$x \leftarrow x + \frac{\Delta t}{\tau} f(x)$ ([`eqsnn.nir.EulerLIF`][],
[`eqsnn.nir.EulerIntegrator`][]), the update snnTorch and Norse run. Within a
step a `CubaLIF` updates its current first and the potential with the new
current. A spiking neuron then compares with the threshold and resets to
$v_{reset}$. States start at zero.

On export, eqsnn's read-outs map to NIR's leaky integrator with the gain that
makes the exact update equal: [`eqsnn.synapses.Expon`][] and
[`eqsnn.neurons.Leaky`][] ($x_t = a x_{t-1} + I_t$) become `LI` with
$R = 1/(1 - a)$, and `Expon` just before a LIF becomes a `CubaLIF` with
$w_{in} = 1/(1 - a_{syn})$ (exact at the model's `dt` only).

**What NIR cannot say.** [`eqsnn.nir.to_nir`][] never exports a different
model silently; it raises a `ValueError` naming the node for:

- a soft (subtractive) reset, eqsnn's default: NIR's neurons reset to
  $v_{reset}$. Build the neuron with `reset="hard"`, or pass
  `reset_metadata=True` to record `{"eqsnn_reset": "soft"}` in the node's
  metadata (read back by `from_nir`; other tools ignore it);
- a refractory period ([`eqsnn.neurons.LifRef`][] with `tau_ref > 0`;
  `tau_ref = 0` is a LIF), and any neuron without a NIR counterpart
  (adaptive neurons among them);
- max pooling, and a callable it cannot look into (an [`eqsnn.Lambda`][] of
  anything but `jnp.ravel`, `eqx.nn.Conv1d`/`Conv2d`/`AvgPool2d`).

**Threshold.** NIR states $z = 1$ for $v > v_{thr}$, eqsnn fires for
$v \ge v_{th}$; the two differ only when $v$ equals the threshold exactly.
Exported spiking nodes record `{"eqsnn_threshold": ">="}` in their metadata.

**Recurrence.** NIR graphs may contain cycles (snnTorch and Norse write a
recurrent layer as a subgraph `input -> lif -> w_rec -> lif -> output`).
`from_nir` makes them delayed edges by one rule: a depth-first search from
the `Input` node (then from the other nodes, in the graph's order), following
edges in the order of the edge list; an edge into a node still on the search
stack (a back edge) carries the previous step's output. `to_nir` writes a
delayed edge of an [`eqsnn.Graph`][] as a plain edge when it is such a back
edge, and otherwise through a NIR `Delay` node of one step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import paramax

from ._core import Delay, Lambda, Sequential
from ._graph import Graph
from ._neurons._leaky import Integrator, Leaky
from ._neurons._lif import IF, LIF, AbstractLIF, LifRef
from ._nir_layers import (
    EulerIntegrator as EulerIntegrator,
    EulerLIF as EulerLIF,
    Flatten as Flatten,
    Identity as Identity,
    Integrate as Integrate,
    Scale as Scale,
    SumPool2d as SumPool2d,
    Threshold as Threshold,
)
from ._nn._linear import Linear, OneToOne
from ._outputs import CUBA
from ._population import AbstractPopulation, AbstractSpikingNeuron
from ._projection import Projection
from ._surrogate import AbstractSurrogate
from ._synapses import Expon

__all__ = [
    "to_nir",
    "from_nir",
    "Scale",
    "Identity",
    "Flatten",
    "Threshold",
    "SumPool2d",
    "Integrate",
    "EulerLIF",
    "EulerIntegrator",
]

_SECONDS_PER_MS = 1e-3


def _nir() -> Any:
    try:
        import nir
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("eqsnn.nir needs the `nir` package: pip install 'eqsnn[nir]'") from e
    return nir


# --------------------------------------------------------------------------- #
# from_nir
# --------------------------------------------------------------------------- #


class _ImportContext:
    def __init__(self, dt: float, method: str, time_scale: float, spike_fn: AbstractSurrogate | None):
        self.dt, self.method, self.ts, self.spike_fn = dt, method, time_scale, spike_fn
        self.dtype = jnp.zeros(()).dtype

    def arr(self, value: Any) -> jax.Array:
        return jnp.asarray(np.asarray(value, dtype=np.float64), dtype=self.dtype)

    def spike_kwargs(self, node: Any) -> dict[str, Any]:
        reset = "soft" if (node.metadata or {}).get("eqsnn_reset") == "soft" else "hard"
        kwargs: dict[str, Any] = {"reset": reset}
        if self.spike_fn is not None:
            kwargs["spike_fn"] = self.spike_fn
        return kwargs


def _shape_of(name: str, node: Any, *params: Any) -> tuple[int, ...]:
    shape = np.broadcast_shapes(*(np.shape(p) for p in params))
    in_type = getattr(node, "input_type", None) or {}
    t = in_type.get("input") if isinstance(in_type, dict) else None
    if t is not None and np.size(t) > 0 and int(np.prod(t)) > int(np.prod(shape)):
        shape = tuple(int(s) for s in np.asarray(t).ravel())
    shape = tuple(int(s) for s in shape)
    if not shape:
        raise ValueError(f"from_nir: node {name!r} ({type(node).__name__}) has scalar parameters and no "
                         "input_type, so its number of neurons is unknown; give it array parameters")  # fmt: skip
    return shape


def _v_init(ctx: _ImportContext, node: Any, shape: tuple[int, ...]) -> jax.Array:
    value = (node.metadata or {}).get("eqsnn_v_init", 0.0)
    return jnp.broadcast_to(ctx.arr(value), shape)


def _full(ctx: _ImportContext, value: Any, shape: tuple[int, ...]) -> jax.Array:
    return jnp.broadcast_to(ctx.arr(value), shape)


def _lif(ctx: _ImportContext, node: Any, tau: Any, shape: tuple[int, ...]) -> LIF:
    cls = EulerLIF if ctx.method == "euler" else LIF
    return cls(
        shape,
        tau=_full(ctx, np.asarray(tau) / ctx.ts, shape),
        r=_full(ctx, node.r, shape),
        v_rest=_full(ctx, node.v_leak, shape),
        v_reset=_full(ctx, node.v_reset, shape),
        v_th=_full(ctx, node.v_threshold, shape),
        v_init=_v_init(ctx, node, shape),
        dt=ctx.dt,
        **ctx.spike_kwargs(node),
    )


def _integrator(ctx: _ImportContext, tau: Any, shape: tuple[int, ...]) -> Integrator:
    cls = EulerIntegrator if ctx.method == "euler" else Integrator
    return cls(shape, tau=_full(ctx, np.asarray(tau) / ctx.ts, shape), dt=ctx.dt)


def _pair(value: Any) -> tuple[int, int]:
    arr = np.asarray(value).ravel()
    if arr.size == 1:
        return (int(arr[0]), int(arr[0]))
    return (int(arr[0]), int(arr[1]))


def _import_conv(ctx: _ImportContext, node: Any, name: str, dims: int) -> Lambda:
    weight = np.asarray(node.weight)
    c_out, c_in_per_group = weight.shape[:2]
    groups = int(node.groups)
    padding = node.padding
    if isinstance(padding, str):
        padding = padding.upper()
    else:
        padding = tuple(int(p) for p in np.asarray(padding).ravel()) if np.ndim(padding) else int(padding)
    cls = eqx.nn.Conv1d if dims == 1 else eqx.nn.Conv2d
    conv = cls(
        c_in_per_group * groups,
        c_out,
        tuple(weight.shape[2:]),
        stride=tuple(int(s) for s in np.atleast_1d(node.stride)) if dims == 2 else int(np.ravel(node.stride)[0]),
        padding=padding,
        dilation=tuple(int(s) for s in np.atleast_1d(node.dilation)) if dims == 2 else int(np.ravel(node.dilation)[0]),
        groups=groups,
        use_bias=True,
        key=jax.random.key(0),
    )
    bias = np.zeros(c_out) if node.bias is None else np.broadcast_to(np.asarray(node.bias), (c_out,))
    conv = eqx.tree_at(
        lambda c: (c.weight, c.bias), conv, (ctx.arr(weight), ctx.arr(bias).reshape((c_out,) + (1,) * dims))
    )
    return Lambda(conv)


def _import_node(ctx: _ImportContext, node: Any, name: str) -> Any:
    nir = _nir()
    if isinstance(node, nir.NIRGraph):
        return _import_graph(ctx, node, name)
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = np.asarray(node.weight)
        if weight.ndim != 2:
            raise ValueError(f"from_nir: node {name!r} ({type(node).__name__}) has a weight of shape "
                             f"{weight.shape}; only 2-d weights [out, in] are supported")  # fmt: skip
        bias = getattr(node, "bias", None)
        use_bias = bias is not None
        lin = Linear(weight.shape[1], weight.shape[0], key=jax.random.key(0), use_bias=use_bias)
        lin = eqx.tree_at(lambda m: m.weight, lin, ctx.arr(weight.T))
        if use_bias:
            lin = eqx.tree_at(lambda m: m.bias, lin, jnp.broadcast_to(ctx.arr(bias), (weight.shape[0],)))
        return lin
    if isinstance(node, nir.Scale):
        return Scale(ctx.arr(node.scale))
    if isinstance(node, nir.LIF):
        shape = _shape_of(name, node, node.tau, node.r, node.v_leak, node.v_threshold)
        return _lif(ctx, node, node.tau, shape)
    if isinstance(node, nir.CubaLIF):
        shape = _shape_of(name, node, node.tau_mem, node.tau_syn, node.v_threshold, node.w_in)
        return Sequential(Scale(_full(ctx, node.w_in, shape)), _integrator(ctx, node.tau_syn, shape),
                          _lif(ctx, node, node.tau_mem, shape))  # fmt: skip
    if isinstance(node, nir.LI):
        shape = _shape_of(name, node, node.tau, node.r, node.v_leak)
        return Sequential(Scale(_full(ctx, node.r, shape), _full(ctx, node.v_leak, shape)),
                          _integrator(ctx, node.tau, shape))  # fmt: skip
    if isinstance(node, nir.CubaLI):
        shape = _shape_of(name, node, node.tau_mem, node.tau_syn, node.r, node.v_leak, node.w_in)
        return Sequential(
            Scale(_full(ctx, node.w_in, shape)),
            _integrator(ctx, node.tau_syn, shape),
            Scale(_full(ctx, node.r, shape), _full(ctx, node.v_leak, shape)),
            _integrator(ctx, node.tau_mem, shape),
        )
    if isinstance(node, nir.IF):
        shape = _shape_of(name, node, node.r, node.v_threshold)
        return IF(
            shape,
            tau=1.0,
            r=_full(ctx, np.asarray(node.r) * ctx.ts, shape),
            v_th=_full(ctx, node.v_threshold, shape),
            v_reset=_full(ctx, node.v_reset, shape),
            v_init=_v_init(ctx, node, shape),
            dt=ctx.dt,
            **ctx.spike_kwargs(node),
        )
    if isinstance(node, nir.I):
        shape = _shape_of(name, node, node.r)
        return Integrate(shape, r=_full(ctx, np.asarray(node.r) * ctx.ts, shape), dt=ctx.dt)
    if isinstance(node, nir.Threshold):
        kwargs = {} if ctx.spike_fn is None else {"spike_fn": ctx.spike_fn}
        return Threshold(ctx.arr(node.threshold), **kwargs)
    if isinstance(node, nir.Flatten):
        return Flatten(int(node.start_dim), int(node.end_dim))
    if isinstance(node, nir.Delay):
        delay = np.asarray(node.delay, dtype=np.float64)
        steps = delay / (ctx.dt * ctx.ts)
        if delay.size == 0 or not np.allclose(steps, steps.ravel()[0], rtol=1e-6, atol=1e-6):
            raise ValueError(f"from_nir: node {name!r} (Delay) has delays that differ between elements; "
                             "eqsnn.Delay holds one delay for the whole population")  # fmt: skip
        n = float(steps.ravel()[0])
        if abs(n - round(n)) > 1e-6 * max(1.0, abs(n)) or round(n) < 0:
            raise ValueError(f"from_nir: node {name!r} (Delay) has a delay of {delay.ravel()[0]!r} s, not a "
                             f"whole number of steps of dt={ctx.dt} ms (time_scale={ctx.ts})")  # fmt: skip
        shape = _shape_of(name, node, delay)
        return Identity(shape) if round(n) == 0 else Delay(int(round(n)), shape)
    if isinstance(node, nir.Conv1d):
        return _import_conv(ctx, node, name, 1)
    if isinstance(node, nir.Conv2d):
        return _import_conv(ctx, node, name, 2)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        k, s, p = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
        if isinstance(node, nir.SumPool2d):
            return SumPool2d(k, s, p)
        return Lambda(eqx.nn.AvgPool2d(k, s, p))
    raise ValueError(f"from_nir: node {name!r} is a NIR {type(node).__name__}, which eqsnn.nir does not import")


def _back_edges(nodes: list[str], edges: list[tuple[str, str]], roots: list[str]) -> set[tuple[str, str]]:
    """The back edges of a depth-first search from `roots`, then from the other `nodes` in
    order, following `edges` in their order: the edges that close a cycle."""
    adjacency: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        adjacency.setdefault(a, []).append(b)
        adjacency.setdefault(b, [])
    state: dict[str, int] = {}
    found: set[tuple[str, str]] = set()
    for root in [*roots, *nodes]:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(adjacency[root]))]
        while stack:
            u, it = stack[-1]
            v = next(it, None)
            if v is None:
                state[u] = 2
                stack.pop()
            elif state.get(v) == 1:
                found.add((u, v))
            elif v not in state:
                state[v] = 1
                stack.append((v, iter(adjacency[v])))
    return found


def _reaches(edges: list[tuple[str, str]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        u = todo.pop()
        if u == goal:
            return True
        for a, b in edges:
            if a == u and b not in seen:
                seen.add(b)
                todo.append(b)
    return False


def _output_shape(node: Any) -> tuple[int, ...] | None:
    out = getattr(node, "output_type", None) or {}
    t = out.get("output") if isinstance(out, dict) else None
    if t is None:
        return None
    return tuple(int(s) for s in np.asarray(t).ravel())


def _import_graph(ctx: _ImportContext, graph: Any, where: str) -> Graph:
    nir = _nir()
    label = where or "the top-level graph"
    inputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)]
    outputs = [k for k, n in graph.nodes.items() if isinstance(n, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"from_nir: graph {label!r} has {len(inputs)} Input and {len(outputs)} Output nodes; "
                         "eqsnn imports graphs with exactly one of each")  # fmt: skip
    (inp,), (outp,) = inputs, outputs
    names: dict[str, str] = {inp: "input"}
    taken = {"input"}
    for k in graph.nodes:
        if k in (inp, outp):
            continue
        new = k if k not in taken else f"{k}_"
        while new in taken:
            new += "_"
        names[k] = new
        taken.add(new)
    nodes = {names[k]: _import_node(ctx, n, f"{where}.{k}" if where else k)
             for k, n in graph.nodes.items() if k not in (inp, outp)}  # fmt: skip
    edges = [(str(a), str(b)) for a, b in graph.edges]
    back = _back_edges(list(graph.nodes), edges, [inp])
    plain, delayed = [], []
    held: dict[str, str] = {}
    for a, b in edges:
        if b == outp:
            continue
        if a == outp or b == inp:
            raise ValueError(f"from_nir: graph {label!r} has an edge ({a!r}, {b!r}) out of its Output "
                             "or into its Input node")  # fmt: skip
        src, dst = names[a], names[b]
        if (a, b) not in back:
            plain.append((src, dst))
            continue
        if a == inp:
            raise ValueError(f"from_nir: graph {label!r}: the recurrent edge ({a!r}, {b!r}) starts at the Input node")
        if isinstance(nodes[src], AbstractPopulation) or isinstance(nodes[src], Delay):
            delayed.append((src, dst))
            continue
        if src not in held:
            shape = _shape_of_output(nodes[src], graph.nodes[a])
            if shape is None:
                raise ValueError(f"from_nir: node {a!r} in graph {label!r} is the source of a recurrent edge "
                                 "but its output shape is not known; give it an output_type")  # fmt: skip
            name = f"{src}_out"
            while name in taken:
                name += "_"
            taken.add(name)
            nodes[name] = Identity(shape)
            plain.append((src, name))
            held[src] = name
        delayed.append((held[src], dst))
    into_output = [names[a] for a, b in edges if b == outp]
    if len(into_output) == 1 and into_output[0] != "input":
        output = into_output[0]
    else:
        shape = _output_shape(graph.nodes[outp])
        if shape is None or not into_output:
            raise ValueError(f"from_nir: the Output node {outp!r} of graph {label!r} has no single source "
                             "and no output_type")  # fmt: skip
        output = "output" if "output" not in taken else f"{outp}_sum"
        nodes[output] = Identity(shape)
        plain += [(src, output) for src in into_output]
    return Graph(nodes, plain, output, delayed=delayed)


def _shape_of_output(module: Any, node: Any) -> tuple[int, ...] | None:
    if isinstance(module, Linear):
        return (module.out_features,)
    return _output_shape(node)


def from_nir(
    graph: Any,
    *,
    dt: float,
    method: str = "exact",
    time_scale: float = _SECONDS_PER_MS,
    spike_fn: AbstractSurrogate | None = None,
) -> Any:
    r"""An eqsnn model of a NIR graph.

    **Arguments:**

    - `graph`: a `nir.NIRGraph` (or a single NIR node), or the path of a file
      written by `nir.write`.
    - `dt`: the step (ms) of every imported module.
    - `method`: `"exact"` (default: exponential Euler, exact for input held over
      a step, as eqsnn's neurons) or `"euler"` (forward Euler, as snnTorch and
      Norse). See the module docstring for the equations.
    - `time_scale`: seconds per eqsnn time unit (default `1e-3`: NIR's seconds, eqsnn's ms).
    - `spike_fn`: the surrogate of the spiking neurons (default `InvSquare(100.)`).

    **Returns:** an [`eqsnn.Graph`][] (or, for a single node, the module); nested
    NIR graphs become nested `Graph` nodes, cycles delayed edges.

    **Raises:** `ValueError` naming the node for anything eqsnn cannot import.
    """
    nir = _nir()
    if method not in ("exact", "euler"):
        raise ValueError(f"from_nir: `method` must be 'exact' or 'euler', got {method!r}")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise ValueError(f"from_nir: `dt` must be a positive number (ms), got {dt!r}")
    if isinstance(graph, (str, Path)):
        graph = nir.read(str(graph))
    ctx = _ImportContext(float(dt), method, float(time_scale), spike_fn)
    if isinstance(graph, nir.NIRGraph):
        return _import_graph(ctx, graph, "")
    if isinstance(graph, nir.NIRNode):
        return _import_node(ctx, graph, type(graph).__name__)
    raise TypeError(f"from_nir: `graph` must be a nir.NIRGraph, a NIR node or a path, got {type(graph).__name__}")


# --------------------------------------------------------------------------- #
# to_nir
# --------------------------------------------------------------------------- #


def _np(value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return np.array(np.broadcast_to(arr, shape)) if shape is not None else np.array(arr)


class _Fragment:
    """Part of the NIR graph for one eqsnn module: its entry nodes, its exit node, its output shape."""

    def __init__(self, entries: list[str], exit: str, shape: tuple[int, ...] | None):
        self.entries, self.exit, self.shape = entries, exit, shape


class _Exporter:
    def __init__(self, dt: float, ts: float, reset_metadata: bool):
        self.dt, self.ts, self.reset_metadata = dt, ts, reset_metadata
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []
        self.delayed: list[tuple[str, str, tuple[int, ...] | None]] = []
        self.identities: set[str] = set()
        self.shapes: dict[str, tuple[int, ...] | None] = {}

    def name(self, base: str) -> str:
        base = base or "node"
        name, i = base, 1
        while name in self.nodes or name in ("input", "output"):
            name, i = f"{base}_{i}", i + 1
        return name

    def emit(self, base: str, node: Any, shape: tuple[int, ...] | None) -> _Fragment:
        name = self.name(base)
        self.nodes[name] = node
        self.shapes[name] = shape
        return _Fragment([name], name, shape)

    def check_dt(self, module: Any, name: str) -> None:
        dt = float(np.asarray(module.dt))
        if not np.isclose(dt, self.dt, rtol=1e-9, atol=0.0):
            raise ValueError(f"to_nir: node {name!r} ({type(module).__name__}) has dt={dt} ms, but the export "
                             f"uses dt={self.dt} ms; give every module the same dt")  # fmt: skip

    def spiking_metadata(self, module: AbstractSpikingNeuron, name: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"eqsnn_threshold": ">="}
        if module.reset == "soft":
            if not self.reset_metadata:
                raise ValueError(
                    f"to_nir: node {name!r} ({type(module).__name__}) uses reset='soft' "
                    "(v <- v - (v_th - v_reset) s), but NIR's neurons reset to v_reset; build it with "
                    "reset='hard', or pass reset_metadata=True to record the soft reset in the node's metadata"
                )
            meta["eqsnn_reset"] = "soft"
        v_init = np.asarray(module.v_init)
        if np.any(v_init != 0):
            meta["eqsnn_v_init"] = _np(v_init, module.shape)
        return meta

    # -- single modules ---------------------------------------------------- #

    def lif_params(self, m: AbstractLIF, name: str) -> dict[str, np.ndarray]:
        self.check_dt(m, name)
        if isinstance(m, LifRef) and np.any(np.asarray(m.tau_ref) > 0):
            raise ValueError(f"to_nir: node {name!r} (LifRef) has a refractory period tau_ref > 0, which NIR's "
                             "LIF does not have; use tau_ref=0 (or eqsnn.neurons.LIF)")  # fmt: skip
        if type(m) not in (LIF, LifRef, EulerLIF):
            raise ValueError(f"to_nir: node {name!r} is a {type(m).__name__}, which has no NIR counterpart")
        s = m.shape
        return {"r": _np(m.r, s), "v_leak": _np(m.v_rest, s), "v_threshold": _np(m.v_th, s),
                "v_reset": _np(m.v_reset, s)}  # fmt: skip

    def tau(self, m: Any) -> np.ndarray:
        return _np(np.asarray(m.tau, dtype=np.float64) * self.ts, m.shape)

    def gain(self, m: Any) -> np.ndarray:
        """$1/(1 - e^{-dt/tau})$: the R (or w_in) that makes NIR's LI equal `x = a x + I`."""
        a = np.exp(-np.asarray(m.dt, dtype=np.float64) / np.asarray(m.tau, dtype=np.float64))
        return _np(1.0 / (1.0 - a), m.shape)

    def module(self, m: Any, name: str, shape: tuple[int, ...] | None) -> _Fragment:
        nir = _nir()
        if isinstance(m, Sequential):
            return self.sequence(list(m.layers), name, shape)
        if isinstance(m, Graph):
            return self.graph(m, name, shape)
        if isinstance(m, Projection):
            if not isinstance(m.out, CUBA):
                raise ValueError(f"to_nir: node {name!r} is a Projection with output {type(m.out).__name__}; "
                                 "NIR expresses only current-based (CUBA) projections")  # fmt: skip
            return self.sequence([m.comm, m.syn], name, shape)
        if isinstance(m, Linear):
            w = _np(m.weight).T
            node = nir.Linear(weight=w) if m.bias is None else nir.Affine(weight=w, bias=_np(m.bias))
            return self.emit(name, node, (m.out_features,))
        if isinstance(m, OneToOne):
            return self.emit(name, nir.Scale(scale=_np(m.weight, (m.size,))), (m.size,))
        if isinstance(m, Scale):
            if m.offset is not None:
                raise ValueError(f"to_nir: node {name!r} is a Scale with an offset; NIR has it only as the "
                                 "v_leak of a leaky integrator (Scale(r, v_leak) >> Integrator)")  # fmt: skip
            return self.emit(name, nir.Scale(scale=_np(m.scale, shape)), shape)
        if isinstance(m, Identity):
            fragment = self.emit(name, nir.Scale(scale=np.ones(m.shape)), m.shape)
            self.identities.add(fragment.exit)
            return fragment
        if isinstance(m, Flatten):
            return self.flatten(name, shape, m.start_dim, m.end_dim)
        if isinstance(m, Threshold):
            return self.emit(
                name, nir.Threshold(threshold=_np(m.threshold, shape), metadata={"eqsnn_threshold": ">="}), shape
            )
        if isinstance(m, SumPool2d):
            node = nir.SumPool2d(kernel_size=np.array(m.kernel_size), stride=np.array(m.stride),
                                 padding=np.array(m.padding))  # fmt: skip
            return self.emit(name, node, self.eval_shape(m, shape))
        if isinstance(m, Delay):
            d_shape = m.shape if m.shape is not None else shape
            if d_shape is None:
                raise ValueError(f"to_nir: node {name!r} (Delay) has no shape; give Delay(steps, shape)")
            node = nir.Delay(delay=np.full(d_shape, m.steps * self.dt * self.ts))
            return self.emit(name, node, d_shape)
        if isinstance(m, (LIF, LifRef, EulerLIF)) or isinstance(m, AbstractLIF):
            p = self.lif_params(m, name)
            node = nir.LIF(tau=self.tau(m), **p, metadata=self.method_meta(m, self.spiking_metadata(m, name)))
            return self.emit(name, node, m.shape)
        if isinstance(m, IF):
            self.check_dt(m, name)
            s = m.shape
            r = _np(np.asarray(m.r, np.float64) / (np.asarray(m.tau, np.float64) * self.ts), s)
            node = nir.IF(r=r, v_threshold=_np(m.v_th, s), v_reset=_np(m.v_reset, s),
                          metadata=self.spiking_metadata(m, name))  # fmt: skip
            return self.emit(name, node, s)
        if isinstance(m, Integrate):
            self.check_dt(m, name)
            return self.emit(name, nir.I(r=_np(np.asarray(m.r, np.float64) / self.ts, m.shape)), m.shape)
        if isinstance(m, (Integrator, EulerIntegrator)):
            self.check_dt(m, name)
            s = m.shape
            node = nir.LI(tau=self.tau(m), r=np.ones(s), v_leak=np.zeros(s), metadata=self.method_meta(m, {}))
            return self.emit(name, node, s)
        if isinstance(m, (Expon, Leaky)) and type(m) in (Expon, Leaky):
            self.check_dt(m, name)
            s = m.shape
            return self.emit(name, nir.LI(tau=self.tau(m), r=self.gain(m), v_leak=np.zeros(s)), s)
        if isinstance(m, Lambda):
            return self.callable(m.fn, name, shape)
        if isinstance(m, AbstractSpikingNeuron) or isinstance(m, AbstractPopulation):
            raise ValueError(f"to_nir: node {name!r} is a {type(m).__name__}, which has no NIR counterpart "
                             "(NIR has LIF, CubaLIF, LI, CubaLI, IF and I neurons)")  # fmt: skip
        raise ValueError(f"to_nir: node {name!r} is a {type(m).__name__}, which eqsnn.nir cannot export")

    def method_meta(self, m: Any, meta: dict[str, Any]) -> dict[str, Any]:
        if isinstance(m, (EulerLIF, EulerIntegrator)):
            meta = {**meta, "eqsnn_method": "euler"}
        return meta

    def eval_shape(self, fn: Callable[[Any], Any], shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if shape is None:
            return None
        return tuple(jax.eval_shape(fn, jax.ShapeDtypeStruct(shape, jnp.zeros(()).dtype)).shape)

    def flatten(self, name: str, shape: tuple[int, ...] | None, start: int, end: int) -> _Fragment:
        nir = _nir()
        if shape is None:
            raise ValueError(f"to_nir: node {name!r} (a flatten) needs its input shape; pass input_shape=")
        node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=start, end_dim=end)
        return self.emit(name, node, self.eval_shape(Flatten(start, end), shape))

    def callable(self, fn: Any, name: str, shape: tuple[int, ...] | None) -> _Fragment:
        nir = _nir()
        if fn is jnp.ravel or fn is np.ravel:
            return self.flatten(name, shape, 0, -1)
        if isinstance(fn, (eqx.nn.Conv1d, eqx.nn.Conv2d)):
            dims = fn.num_spatial_dims
            if fn.padding_mode != "ZEROS":
                raise ValueError(f"to_nir: node {name!r} ({type(fn).__name__}) pads with {fn.padding_mode}; "
                                 "NIR convolutions pad with zeros")  # fmt: skip
            padding = fn.padding
            if isinstance(padding, str):
                pad: Any = padding.lower()
            else:
                if any(lo != hi for lo, hi in padding):
                    raise ValueError(f"to_nir: node {name!r} ({type(fn).__name__}) pads asymmetrically "
                                     f"{padding}; NIR has one padding per axis")  # fmt: skip
                pad = tuple(int(lo) for lo, _ in padding)
            c_out = fn.out_channels
            bias = np.zeros(c_out) if fn.bias is None else _np(fn.bias).reshape(c_out)
            out_shape = self.eval_shape(fn, shape)
            spatial = None if shape is None else (tuple(shape[1:]) if dims == 2 else int(shape[1]))
            if dims == 1:
                node = nir.Conv1d(input_shape=spatial, weight=_np(fn.weight), stride=int(fn.stride[0]),
                                  padding=pad if isinstance(pad, str) else pad[0], dilation=int(fn.dilation[0]),
                                  groups=int(fn.groups), bias=bias)  # fmt: skip
            else:
                node = nir.Conv2d(input_shape=spatial, weight=_np(fn.weight), stride=tuple(fn.stride),
                                  padding=pad, dilation=tuple(fn.dilation), groups=int(fn.groups), bias=bias)  # fmt: skip
            return self.emit(name, node, out_shape)
        if isinstance(fn, eqx.nn.MaxPool2d) or type(fn).__name__.startswith("MaxPool"):
            raise ValueError(f"to_nir: node {name!r} is max pooling ({type(fn).__name__}), which NIR does not "
                             "have; use eqx.nn.AvgPool2d or eqsnn.nir.SumPool2d")  # fmt: skip
        if isinstance(fn, eqx.nn.AvgPool2d):
            pads = fn.padding
            if any(lo != hi for lo, hi in pads) or getattr(fn, "use_ceil", False):
                raise ValueError(f"to_nir: node {name!r} (AvgPool2d) pads asymmetrically or rounds up; "
                                 "NIR's AvgPool2d cannot say so")  # fmt: skip
            node = nir.AvgPool2d(kernel_size=np.array(fn.kernel_size), stride=np.array(fn.stride),
                                 padding=np.array([lo for lo, _ in pads]))  # fmt: skip
            return self.emit(name, node, self.eval_shape(fn, shape))
        raise ValueError(
            f"to_nir: node {name!r} is an eqsnn.Lambda of {getattr(fn, '__name__', type(fn).__name__)}, a "
            "callable eqsnn.nir cannot look into; use an eqsnn/eqx layer NIR has (nn.Linear, eqx.nn.Conv2d, "
            "eqx.nn.AvgPool2d, jnp.ravel or eqsnn.nir.Flatten, ...)"
        )

    # -- compositions ------------------------------------------------------ #

    def group(self, layers: list[Any], i: int, name: str) -> tuple[Any, int, tuple[int, ...]] | None:
        """A NIR neuron made of `layers[i:j]` (the shapes from_nir builds), as `(node, j)`."""
        nir = _nir()
        rest = layers[i:]
        w_in = None
        k = 0
        if rest and isinstance(rest[0], Scale) and len(rest) > 1 and type(rest[1]) in (Integrator, EulerIntegrator):
            w_in, offset = rest[0].scale, rest[0].offset
            syn = rest[1]
            k = 2
        elif rest and type(rest[0]) in (Integrator, EulerIntegrator, Expon):
            offset, syn = None, rest[0]
            k = 1
        else:
            return None
        euler = isinstance(syn, EulerIntegrator)
        s = syn.shape
        nxt = rest[k] if len(rest) > k else None
        neuron_types = (EulerLIF,) if euler else (LIF, LifRef)
        if offset is None and nxt is not None and type(nxt) in neuron_types and nxt.shape == s:
            self.check_dt(syn, name)
            p = self.lif_params(nxt, name)
            w = self.gain(syn) if isinstance(syn, Expon) else _np(1.0 if w_in is None else w_in, s)
            meta = self.method_meta(nxt, self.spiking_metadata(nxt, name))
            node = nir.CubaLIF(tau_syn=self.tau(syn), tau_mem=self.tau(nxt), w_in=w, metadata=meta, **p)
            return node, i + k + 1, s
        if isinstance(syn, Expon):
            return None
        self.check_dt(syn, name)
        r = _np(1.0 if w_in is None else w_in, s)
        v_leak = _np(0.0 if offset is None else offset, s)
        return nir.LI(tau=self.tau(syn), r=r, v_leak=v_leak, metadata=self.method_meta(syn, {})), i + k, s

    def sequence(self, layers: list[Any], name: str, shape: tuple[int, ...] | None) -> _Fragment:
        first: _Fragment | None = None
        prev: _Fragment | None = None
        i = 0
        while i < len(layers):
            sub = f"{name}_{i}" if name else str(i)
            grouped = self.group(layers, i, sub)
            if grouped is not None:
                node, i, out_shape = grouped
                frag = self.emit(sub, node, out_shape)
            else:
                frag = self.module(layers[i], sub, shape)
                i += 1
            if prev is not None:
                self.edges += [(prev.exit, e) for e in frag.entries]
            first = first or frag
            prev = frag
            shape = frag.shape
        assert first is not None and prev is not None
        return _Fragment(first.entries, prev.exit, prev.shape)

    def graph(self, g: Graph, name: str, shape: tuple[int, ...] | None) -> _Fragment:
        frags: dict[str, _Fragment] = {}
        delayed_shapes = dict(g.delayed_shapes)
        for n in g.order:
            sources = [a for a, b in g.edges if b == n] + [a for a, b in g.delayed if b == n]
            in_shape = None
            for a in sources:
                if a == "input":
                    in_shape = shape
                elif a in frags:
                    in_shape = frags[a].shape
                elif a in delayed_shapes:
                    in_shape = delayed_shapes[a]
                if in_shape is not None:
                    break
            frags[n] = self.module(g.nodes[n], f"{name}_{n}" if name else n, in_shape)
        entries: list[str] = []
        for a, b in g.edges:
            if a == "input":
                entries += frags[b].entries
            else:
                self.edges += [(frags[a].exit, e) for e in frags[b].entries]
        for a, b in g.delayed:
            self.delayed += [(frags[a].exit, e, frags[a].shape) for e in frags[b].entries]
        if g.reads:
            raise ValueError(f"to_nir: graph {name or 'model'!r} has `reads` (a node reading another's state), "
                             "which NIR cannot express")  # fmt: skip
        out = frags[g.output]
        return _Fragment(entries, out.exit, out.shape)

    # -- the whole graph --------------------------------------------------- #

    def shift_delays(self, nodes: dict[str, Any], edges: list[tuple[str, str]], delayed: list[Any]) -> list[Any]:
        nir = _nir()
        stateless = (nir.Affine, nir.Linear, nir.Scale, nir.Conv1d, nir.Conv2d, nir.Flatten,
                     nir.SumPool2d, nir.AvgPool2d)  # fmt: skip
        changed = True
        while changed:
            changed = False
            back = _back_edges(list(nodes), edges + [(a, b) for a, b, _ in delayed], ["input"])
            for a, b, _ in delayed:
                if (a, b) in back or not isinstance(nodes.get(b), stateless):
                    continue
                if any(dst == b for _, dst in edges) or sum(dst == b for _, dst, _ in delayed) != 1:
                    continue
                if not _reaches(edges + [(x, y) for x, y, _ in delayed], b, a):
                    continue
                outs = [dst for src, dst in edges if src == b]
                edges[:] = [(x, y) for x, y in edges if x != b] + [(a, b)]
                delayed = [d for d in delayed if d[:2] != (a, b)] + [(b, dst, self.shapes.get(b)) for dst in outs]
                changed = True
                break
        return delayed

    def finish(self, top: _Fragment, input_shape: tuple[int, ...] | None) -> Any:
        nir = _nir()
        edges = [("input", e) for e in top.entries] + self.edges + [(top.exit, "output")]
        nodes = dict(self.nodes)
        delayed = list(self.delayed)
        # Identity nodes (from an imported graph) are removed: edges through them are joined.
        for ident in sorted(self.identities):
            ins = [a for a, b in edges if b == ident]
            outs = [b for a, b in edges if a == ident]
            d_ins = [(a, s) for a, b, s in delayed if b == ident]
            d_outs = [(b, s) for a, b, s in delayed if a == ident]
            if d_ins or len(ins) != 1:
                continue
            edges = [(a, b) for a, b in edges if ident not in (a, b)] + [(ins[0], b) for b in outs]
            delayed = [(a, b, s) for a, b, s in delayed if a != ident] + [(ins[0], b, s) for b, s in d_outs]
            del nodes[ident]
        # from_nir delays the edge that closes a cycle into the node first reached from the input
        # (snnTorch's and Norse's `w_rec -> lif`); eqsnn graphs delay the population's output
        # (`lif -> w_rec`). When the target is a stateless layer fed only by that delayed edge, the
        # two are the same network: move the delay past the layer.
        delayed = self.shift_delays(nodes, edges, delayed)
        plain_delayed = [(a, b) for a, b, _ in delayed]
        back = _back_edges(list(nodes), edges + plain_delayed, ["input"])
        for a, b, s in delayed:
            if (a, b) in back:
                edges.append((a, b))
                continue
            if s is None:
                raise ValueError(f"to_nir: the delayed edge ({a!r}, {b!r}) needs the shape of {a!r}")
            d = f"{a}_delay"
            while d in nodes:
                d += "_"
            nodes[d] = nir.Delay(delay=np.full(s, self.dt * self.ts))
            edges += [(a, d), (d, b)]
        check = _back_edges(list(nodes), edges, ["input"])
        expected = {(a, b) for a, b, _ in delayed if (a, b) in back}
        if check != expected:
            wrong = sorted(check - expected) or sorted(expected - check)
            raise ValueError(f"to_nir: the recurrent edges {wrong} would not be read back as the delayed edges "
                             "of this graph (from_nir delays the back edges of a depth-first search from the "
                             "input); reorder the graph's nodes or edges")  # fmt: skip
        if input_shape is None:
            for entry in top.entries:
                t = (getattr(nodes[entry], "input_type", None) or {}).get("input")
                if t is not None:
                    input_shape = tuple(int(d) for d in np.asarray(t).ravel())
                    break
        if input_shape is None or top.shape is None:
            raise ValueError("to_nir: the shape of the model's input (or output) is not known; pass input_shape=")
        nodes["input"] = nir.Input(input_type={"input": np.array(input_shape)})
        nodes["output"] = nir.Output(output_type={"output": np.array(top.shape)})
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False,
                            metadata={"eqsnn_dt_ms": self.dt, "eqsnn_time_scale": self.ts})  # fmt: skip


def to_nir(
    model: Any,
    *,
    dt: float,
    input_shape: int | tuple[int, ...] | None = None,
    time_scale: float = _SECONDS_PER_MS,
    reset_metadata: bool = False,
) -> Any:
    r"""A `nir.NIRGraph` of an eqsnn model (`nir.write(path, graph)` saves it).

    **Arguments:**

    - `model`: any composition of the parts listed in the module docstring
      (an [`eqsnn.Sequential`][], an [`eqsnn.Graph`][], a single layer).
    - `dt`: the step (ms) of the model; every population must have it (checked), and
      delays are converted with it.
    - `input_shape`: the shape of one step's input (needed when a convolution or a
      flatten comes before any layer with a shape of its own).
    - `time_scale`: seconds per eqsnn time unit (default `1e-3`).
    - `reset_metadata`: export a soft reset as NIR's reset, recording
      `{"eqsnn_reset": "soft"}` in the node's metadata (default `False`: a soft
      reset is an error).

    **Raises:** `ValueError` naming the node for anything NIR cannot express exactly.
    """
    _nir()
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise ValueError(f"to_nir: `dt` must be a positive number (ms), got {dt!r}")
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    model = paramax.unwrap(model)
    exporter = _Exporter(float(dt), float(time_scale), bool(reset_metadata))
    top = exporter.module(model, "", None if input_shape is None else tuple(input_shape))
    return exporter.finish(top, None if input_shape is None else tuple(input_shape))
