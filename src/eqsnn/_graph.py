r"""A graph of named nodes: recurrent, branching and NIR-shaped networks as one dynamics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
import functools
import operator
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._core import AbstractComposition, AbstractDynamics, AbstractSequence, AbstractStateless, as_dynamics, probe_output
from ._custom_types import PRNGKeyArray

__all__ = ["Graph", "GraphState"]

INPUT = "input"


class GraphState(eqx.Module):
    """State of an [`eqsnn.Graph`][]: each node's state by name (`nodes`), and the last
    output of every source of a delayed edge (`delayed`).

    `state["hidden"]` (or `state.hidden`) is the node `hidden`'s state, so a
    monitor reads `state["hidden"].spike`."""

    nodes: dict[str, Any]
    delayed: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.nodes[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("nodes", "delayed"):
            raise AttributeError(name)
        try:
            return self.nodes[name]
        except KeyError:
            raise AttributeError(f"GraphState has no node {name!r}; nodes are {sorted(self.nodes)}") from None


def _pairs(edges: Iterable[Any], argname: str) -> tuple[tuple[str, str], ...]:
    out = []
    for i, edge in enumerate(edges):
        if not (isinstance(edge, (tuple, list)) and len(edge) == 2 and all(isinstance(e, str) for e in edge)):
            raise TypeError(f"Graph: `{argname}[{i}]` must be a pair of node names (source, target), got {edge!r}")
        out.append((edge[0], edge[1]))
    return tuple(out)


def _sum(values: list[Any]) -> Any:
    if len(values) == 1:
        return values[0]
    values = [v.materialise() if isinstance(v, AbstractSequence) else v for v in values]
    return functools.reduce(operator.add, values)


class Graph(AbstractComposition[GraphState, Any, Any]):
    r"""Named nodes joined by edges, evaluated once per time step (NIR's graph semantics).

    At step $t$, in the topological order of the undelayed edges, each node
    receives the sum of its incoming edges and steps:

    $$ u^{(n)}_t = \sum_{(m, n) \in E} y^{(m)}_t + \sum_{(m, n) \in D} y^{(m)}_{t-1},
       \qquad (s^{(n)}_t, y^{(n)}_t) = f_n(s^{(n)}_{t-1}, u^{(n)}_t) $$

    where $E$ are the undelayed edges (the graph input is the source
    `"input"`, $y^{(input)}_t = x_t$) and $D$ the delayed ones, which carry
    the previous step's output ($y_{-1} = 0$): recurrence, or a read-out that
    sees the last step's spikes. A cycle of undelayed edges is an error at
    construction. A node listed in `reads` receives the pair
    $(u^{(n)}_t, g(s^{(m)}_{t-1}))$ instead, a function of another node's
    state at the end of the previous step (a conductance-based
    [`eqsnn.Projection`][] reads the postsynaptic $V$).

    The state is a [`eqsnn.GraphState`][] keyed by node name. Nodes can be
    read as `graph["name"]` or `graph.name`. Any callable given as a node is
    wrapped in an [`eqsnn.Lambda`][].

    **Hoisting.** Stateless nodes fed only by the input (directly or through
    other such nodes) are applied to the whole sequence before the scan, and
    so is the hoistable head of a composition node fed that way (the `comm`
    of a current-based `Projection`).

    **Arguments:**

    - `nodes`: `{name: dynamics or callable}`; `"input"` is reserved.
    - `edges`: `[(source, target), ...]`, undelayed; a source is a node or
      `"input"`.
    - `output`: the name of the node whose output is the graph's output.
    - `delayed`: `[(source, target), ...]` carrying the previous step's
      output of `source` (default none). The source's output shape must be
      known without an input: a population, or a `Delay` with a `shape`.
    - `reads`: `{target: (source, fn)}`: `target` receives
      `(sum of its inputs, fn(state of source))` (default none).

    !!! example

        ```python
        net = eqsnn.Graph(
            nodes={"w_in": Linear(700, 128, key=k1), "rec": Linear(128, 128, key=k2),
                   "hidden": ALIF.unit_scale(128), "w_out": Linear(128, 20, key=k3), "out": Leaky(20)},
            edges=[("input", "w_in"), ("w_in", "hidden"), ("rec", "hidden"),
                   ("hidden", "w_out"), ("w_out", "out")],
            delayed=[("hidden", "rec")],
            output="out",
        )
        ```
    """

    nodes: dict[str, AbstractDynamics]
    edges: tuple[tuple[str, str], ...] = eqx.field(static=True)
    delayed: tuple[tuple[str, str], ...] = eqx.field(static=True)
    reads: tuple[tuple[str, str, Callable[[Any], Any]], ...] = eqx.field(static=True)
    output: str = eqx.field(static=True)
    order: tuple[str, ...] = eqx.field(static=True)
    delayed_shapes: tuple[tuple[str, tuple[int, ...]], ...] = eqx.field(static=True)

    def __init__(
        self,
        nodes: Mapping[str, Any],
        edges: Iterable[tuple[str, str]],
        output: str,
        *,
        delayed: Iterable[tuple[str, str]] = (),
        reads: Mapping[str, tuple[str, Callable[[Any], Any]]] | None = None,
    ):
        if not isinstance(nodes, Mapping) or not nodes:
            raise TypeError(f"Graph: `nodes` must be a non-empty dict {{name: layer}}, got {nodes!r}")
        built = {}
        for name, node in nodes.items():
            if not isinstance(name, str) or name == INPUT:
                raise ValueError(f"Graph: node names must be strings other than {INPUT!r}, got {name!r}")
            built[name] = as_dynamics(node, where="Graph", name=f"nodes[{name!r}]")
        edges, delayed = _pairs(edges, "edges"), _pairs(delayed, "delayed")
        for argname, pairs in (("edges", edges), ("delayed", delayed)):
            for src, dst in pairs:
                if src != INPUT and src not in built:
                    raise ValueError(f"Graph: `{argname}` source {src!r} is not a node; nodes are {sorted(built)}")
                if dst not in built:
                    raise ValueError(f"Graph: `{argname}` target {dst!r} is not a node; nodes are {sorted(built)}")
        if any(src == INPUT for src, _ in delayed):
            raise ValueError("Graph: `delayed` cannot start at 'input'; add a Delay node on the input instead")
        if not isinstance(output, str) or output not in built:
            raise ValueError(f"Graph: `output` must be the name of a node, one of {sorted(built)}, got {output!r}")
        read_list = []
        for dst, spec in (reads or {}).items():
            if dst not in built:
                raise ValueError(f"Graph: `reads` target {dst!r} is not a node; nodes are {sorted(built)}")
            if not (isinstance(spec, tuple) and len(spec) == 2 and spec[0] in built and callable(spec[1])):
                raise TypeError(
                    f"Graph: `reads[{dst!r}]` must be (source node name, function of its state), got {spec!r}"
                )
            read_list.append((dst, spec[0], spec[1]))
        self.nodes = built
        self.edges, self.delayed, self.reads, self.output = edges, delayed, tuple(read_list), output
        self.order = _topological_order(list(built), edges)
        shapes = []
        read_of = {dst: (src, fn) for dst, src, fn in read_list}
        for src in dict.fromkeys(src for src, _ in delayed):
            make = None
            if src in read_of:
                other, fn = read_of[src]
                make = lambda other=other, fn=fn: (jnp.zeros(()), fn(built[other].init_state()))
            spec = probe_output(built[src], make)
            if spec is None:
                raise ValueError(
                    f"Graph: the output shape of node {src!r}, the source of a delayed edge, cannot be known "
                    f"without an input; make the source a population or a Delay(steps, shape)"
                )
            shapes.append((src, tuple(spec.shape)))
        self.delayed_shapes = tuple(shapes)

    def __getitem__(self, name: str) -> AbstractDynamics:
        return self.nodes[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in type(self).__dataclass_fields__:
            raise AttributeError(name)
        nodes = self.__dict__.get("nodes", {})
        if name in nodes:
            return nodes[name]
        raise AttributeError(f"Graph has no attribute or node {name!r}; nodes are {sorted(nodes)}")

    def init_state(self, *, key: PRNGKeyArray | None = None) -> GraphState:
        keys = [None] * len(self.nodes) if key is None else list(jax.random.split(key, len(self.nodes)))
        states = {name: node.init_state(key=k) for (name, node), k in zip(self.nodes.items(), keys, strict=True)}
        return GraphState(states, {src: jnp.zeros(shape) for src, shape in self.delayed_shapes})

    def _check_state(self, state: Any) -> None:
        if not isinstance(state, GraphState) or set(state.nodes) != set(self.nodes):
            got = f"GraphState with nodes {sorted(state.nodes)}" if isinstance(state, GraphState) else type(state)
            raise TypeError(f"Graph: `state` must be a GraphState of nodes {sorted(self.nodes)}, got {got}")

    def step(self, state: GraphState, x: Any) -> tuple[GraphState, Any]:
        return self._step(state, x, {}, {})

    def _step(self, state: GraphState, x: Any, pre: dict[str, Any], bodies: dict[str, Any]) -> tuple[GraphState, Any]:
        """One step; `pre` holds this step's outputs of hoisted nodes (or hoisted heads, whose
        remaining part is in `bodies`)."""
        self._check_state(state)
        reads = {dst: (src, fn) for dst, src, fn in self.reads}
        outs: dict[str, Any] = {}
        new_nodes = dict(state.nodes)
        for name in self.order:
            node = self.nodes[name]
            if name in pre and name not in bodies:
                outs[name] = pre[name]
                continue
            if name in bodies:
                u = pre[name]
                node = bodies[name]
            else:
                incoming = [x if src == INPUT else outs[src] for src, dst in self.edges if dst == name]
                incoming += [state.delayed[src] for src, dst in self.delayed if dst == name]
                u = _sum(incoming) if incoming else jnp.zeros(())
            if name in reads:
                src, fn = reads[name]
                u = (u, fn(state.nodes[src]))
            new_nodes[name], outs[name] = node.step(state.nodes[name], u)
        delayed = {src: outs[src] for src, _ in self.delayed_shapes}
        return GraphState(new_nodes, delayed), outs[self.output]

    def _hoist(self) -> tuple[Callable[[Any], Any] | None, AbstractDynamics]:
        read_targets = {dst for dst, _, _ in self.reads}
        delayed_targets = {dst for _, dst in self.delayed}
        full: set[str] = set()  # stateless, wholly computed before the scan
        heads: dict[str, tuple[Callable[[Any], Any], AbstractDynamics]] = {}
        for name in self.order:
            sources = [src for src, dst in self.edges if dst == name]
            if not sources or name in read_targets or name in delayed_targets:
                continue
            if not all(src == INPUT or src in full for src in sources):
                continue
            node = self.nodes[name]
            if isinstance(node, AbstractStateless):
                full.add(name)
            elif isinstance(node, AbstractComposition):
                head, body = node._hoist()
                if head is not None:
                    heads[name] = (head, body)
        if not full and not heads:
            return None, self
        consumers = {src for src, dst in self.edges if dst not in full} | {src for src, _ in self.delayed}
        keep = [n for n in self.order if n in heads or (n in full and (n in consumers or n == self.output))]
        edges, order, nodes = self.edges, self.order, self.nodes

        def prepare(xs: Any) -> dict[str, Any]:
            seqs: dict[str, Any] = {}
            for name in order:
                if name not in full and name not in heads:
                    continue
                incoming = [xs if src == INPUT else seqs[src] for src, dst in edges if dst == name]
                u = _sum(incoming)
                seqs[name] = heads[name][0](u) if name in heads else nodes[name].over_sequence(u)
            return {name: seqs[name] for name in keep}

        return prepare, _GraphBody(self, {name: body for name, (_, body) in heads.items()})


class _GraphBody(AbstractDynamics[GraphState, Any, Any]):
    """A graph whose hoisted nodes' outputs arrive precomputed, step by step, as a dict."""

    graph: Graph
    bodies: dict[str, AbstractDynamics]

    def init_state(self, *, key: PRNGKeyArray | None = None) -> GraphState:
        return self.graph.init_state(key=key)

    def step(self, state: GraphState, pre: dict[str, Any]) -> tuple[GraphState, Any]:
        return self.graph._step(state, None, pre, self.bodies)


def _topological_order(names: list[str], edges: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Kahn's algorithm over the undelayed edges, ties broken by the order of `nodes`."""
    indegree = {n: 0 for n in names}
    for src, dst in edges:
        if src != INPUT:
            indegree[dst] += 1
    ready = [n for n in names if indegree[n] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for src, dst in edges:
            if src == n:
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    ready.append(dst)
    if len(order) != len(names):
        cycle = sorted(n for n in names if n not in order)
        raise ValueError(
            f"Graph: the undelayed edges form a cycle through {cycle}; make one edge of the cycle "
            f"delayed (`delayed=[(source, target)]`) so that it carries the previous step's output"
        )
    return tuple(order)
