"""eqsnn.nir: round trips through NIR files, and imported graphs against a NumPy simulator of
NIR's equations written here (independently of eqsnn)."""

import importlib.util
from pathlib import Path
import subprocess
import sys

import equinox as eqx
from helpers import linear, tree_max_abs_diff, uniform
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import Graph, neurons, synapses

nir = pytest.importorskip("nir")
enir = pytest.importorskip("eqsnn.nir")

DT_MS = 1.0
DT_S = DT_MS * 1e-3


# --------------------------------------------------------------------------- #
# A reference simulator of NIR's equations (NumPy, float64)
# --------------------------------------------------------------------------- #


def ref_back_edges(graph):
    """Depth-first search from the Input node, then the other nodes in order, edges in list
    order; an edge into a node on the current path closes a cycle."""
    succ = {k: [] for k in graph.nodes}
    for a, b in graph.edges:
        succ[a].append(b)
    roots = [k for k, n in graph.nodes.items() if isinstance(n, nir.Input)] + list(graph.nodes)
    on_path, done, back = set(), set(), set()

    def visit(u):
        on_path.add(u)
        for v in succ[u]:
            if v in on_path:
                back.add((u, v))
            elif v not in done:
                visit(v)
        on_path.discard(u)
        done.add(u)

    for r in roots:
        if r not in done:
            visit(r)
    return back


def ref_conv2d(x, w, b, stride, padding, groups):
    c_out, c_in_g, kh, kw = w.shape
    ph, pw = padding
    x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    sh, sw = stride
    ho = (x.shape[1] - kh) // sh + 1
    wo = (x.shape[2] - kw) // sw + 1
    out = np.zeros((c_out, ho, wo))
    per_group = c_out // groups
    for o in range(c_out):
        g = o // per_group
        xs = x[g * c_in_g : (g + 1) * c_in_g]
        for i in range(ho):
            for j in range(wo):
                out[o, i, j] = np.sum(xs[:, i * sh : i * sh + kh, j * sw : j * sw + kw] * w[o]) + b[o]
    return out


def ref_pool(x, kernel, stride, padding, average):
    kh, kw = (int(k) for k in kernel)
    sh, sw = (int(s) for s in stride)
    ph, pw = (int(p) for p in padding)
    x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    ho = (x.shape[1] - kh) // sh + 1
    wo = (x.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, i, j] = x[:, i * sh : i * sh + kh, j * sw : j * sw + kw].sum(axis=(1, 2))
    return out / (kh * kw) if average else out


class RefSim:
    """One NIR graph stepped in discrete time: `method` is 'exact' (zero-order hold) or 'euler'."""

    def __init__(self, graph, dt, method):
        self.g, self.dt, self.method = graph, dt, method
        self.back = ref_back_edges(graph)
        self.state = {}
        self.prev = {}
        self.subs = {k: RefSim(n, dt, method) for k, n in graph.nodes.items() if isinstance(n, nir.NIRGraph)}
        self.order = self._order()

    def _order(self):
        fwd = [(a, b) for a, b in self.g.edges if (a, b) not in self.back]
        indeg = {k: 0 for k in self.g.nodes}
        for _, b in fwd:
            indeg[b] += 1
        ready = [k for k in self.g.nodes if indeg[k] == 0]
        order = []
        while ready:
            u = ready.pop(0)
            order.append(u)
            for a, b in fwd:
                if a == u:
                    indeg[b] -= 1
                    if indeg[b] == 0:
                        ready.append(b)
        return order

    def relax(self, x, x_inf, tau):
        if self.method == "exact":
            return x_inf + (x - x_inf) * np.exp(-self.dt / tau)
        return x + self.dt / tau * (x_inf - x)

    def node(self, k, n, u):
        s = self.state.get(k)
        if isinstance(n, nir.NIRGraph):
            return self.subs[k].step(u)
        if isinstance(n, nir.Affine):
            return n.weight @ u + n.bias
        if isinstance(n, nir.Linear):
            return n.weight @ u
        if isinstance(n, nir.Scale):
            return n.scale * u
        if isinstance(n, nir.Threshold):
            return (u > n.threshold).astype(float)
        if isinstance(n, nir.Flatten):
            start, end = n.start_dim % u.ndim, n.end_dim % u.ndim
            return u.reshape(u.shape[:start] + (-1,) + u.shape[end + 1 :])
        if isinstance(n, nir.Conv2d):
            return ref_conv2d(u, n.weight, n.bias, n.stride, n.padding, n.groups)
        if isinstance(n, (nir.SumPool2d, nir.AvgPool2d)):
            return ref_pool(u, n.kernel_size, n.stride, n.padding, isinstance(n, nir.AvgPool2d))
        if isinstance(n, nir.Delay):
            steps = int(round(float(np.ravel(n.delay)[0]) / self.dt))
            buf = s if s is not None else [np.zeros_like(u) for _ in range(steps)]
            buf.append(u)
            self.state[k] = buf
            return buf.pop(0)
        if isinstance(n, (nir.LIF, nir.LI)):
            v = np.zeros_like(n.tau) if s is None else s
            v = self.relax(v, n.v_leak + n.r * u, n.tau)
            if isinstance(n, nir.LI):
                self.state[k] = v
                return v
            z = v > n.v_threshold
            self.state[k] = np.where(z, n.v_reset, v)
            return z.astype(float)
        if isinstance(n, (nir.CubaLIF, nir.CubaLI)):
            i, v = (np.zeros_like(n.tau_mem), np.zeros_like(n.tau_mem)) if s is None else s
            i = self.relax(i, n.w_in * u, n.tau_syn)
            v = self.relax(v, n.v_leak + n.r * i, n.tau_mem)
            if isinstance(n, nir.CubaLI):
                self.state[k] = (i, v)
                return v
            z = v > n.v_threshold
            self.state[k] = (i, np.where(z, n.v_reset, v))
            return z.astype(float)
        if isinstance(n, (nir.IF, nir.I)):
            v = np.zeros_like(n.r) if s is None else s
            v = v + self.dt * n.r * u
            if isinstance(n, nir.I):
                self.state[k] = v
                return v
            z = v > n.v_threshold
            self.state[k] = np.where(z, n.v_reset, v)
            return z.astype(float)
        raise NotImplementedError(type(n).__name__)

    def step(self, x):
        out = {}
        for k in self.order:
            n = self.g.nodes[k]
            if isinstance(n, nir.Input):
                out[k] = np.asarray(x)
                continue
            ins = [out[a] for a, b in self.g.edges if b == k and (a, b) not in self.back]
            ins += [self.prev.get(a, 0.0) for a, b in self.g.edges if b == k and (a, b) in self.back]
            u = sum(ins[1:], ins[0])
            out[k] = u if isinstance(n, nir.Output) else self.node(k, n, u)
        self.prev = out
        (o,) = [out[k] for k, n in self.g.nodes.items() if isinstance(n, nir.Output)]
        return o

    def run(self, xs):
        return np.stack([self.step(x) for x in np.asarray(xs)])


# --------------------------------------------------------------------------- #
# NIR graphs built here
# --------------------------------------------------------------------------- #


def rng(seed):
    return np.random.default_rng(seed)


def lif(n, seed, v_leak=0.1):
    r = rng(seed)
    return nir.LIF(tau=r.uniform(5e-3, 2e-2, n), r=r.uniform(0.8, 1.5, n), v_leak=np.full(n, v_leak),
                   v_threshold=r.uniform(0.4, 0.8, n), v_reset=np.full(n, -0.1))  # fmt: skip


def cuba_lif(n, seed):
    r = rng(seed)
    return nir.CubaLIF(tau_syn=r.uniform(3e-3, 8e-3, n), tau_mem=r.uniform(5e-3, 2e-2, n), r=r.uniform(0.8, 1.5, n),
                       v_leak=np.full(n, 0.05), v_threshold=r.uniform(0.3, 0.6, n), v_reset=np.zeros(n),
                       w_in=r.uniform(1.0, 2.0, n))  # fmt: skip


def li(n, seed):
    r = rng(seed)
    return nir.LI(tau=r.uniform(5e-3, 2e-2, n), r=r.uniform(0.5, 2.0, n), v_leak=np.full(n, 0.2))


def affine(n_in, n_out, seed, scale=1.5):
    r = rng(seed)
    return nir.Affine(weight=r.normal(0, scale / np.sqrt(n_in), (n_out, n_in)), bias=r.normal(0, 0.1, n_out))


def graph_of(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def feed_forward():
    return graph_of(
        {"input": nir.Input(input_type=np.array([5])), "a1": affine(5, 7, 1), "cuba": cuba_lif(7, 2),
         "a2": affine(7, 6, 3), "lif": lif(6, 4), "a3": affine(6, 4, 5), "li": li(4, 6),
         "output": nir.Output(output_type=np.array([4]))},
        [("input", "a1"), ("a1", "cuba"), ("cuba", "a2"), ("a2", "lif"), ("lif", "a3"), ("a3", "li"), ("li", "output")],
    )  # fmt: skip


def integrators():
    r = rng(7)
    return graph_of(
        {"input": nir.Input(input_type=np.array([5])), "s": nir.Scale(scale=r.uniform(0.5, 1.5, 5)),
         "if": nir.IF(r=r.uniform(200.0, 400.0, 5), v_threshold=np.full(5, 0.5), v_reset=np.full(5, 0.1)),
         "lin": nir.Linear(weight=r.normal(0, 1, (3, 5))), "i": nir.I(r=np.full(3, 100.0)),
         "th": nir.Threshold(threshold=np.full(3, 0.2)), "cli": nir.CubaLI(tau_syn=np.full(3, 4e-3),
         tau_mem=np.full(3, 9e-3), r=np.full(3, 1.3), v_leak=np.full(3, 0.1), w_in=np.full(3, 1.5)),
         "output": nir.Output(output_type=np.array([3]))},
        [("input", "s"), ("s", "if"), ("if", "lin"), ("lin", "i"), ("i", "th"), ("th", "cli"), ("cli", "output")],
    )  # fmt: skip


def recurrent():
    r = rng(8)
    return graph_of(
        {"input": nir.Input(input_type=np.array([5])), "a1": affine(5, 6, 9), "lif": lif(6, 10),
         "rec": nir.Linear(weight=r.normal(0, 0.6, (6, 6))), "a2": affine(6, 3, 11), "li": li(3, 12),
         "output": nir.Output(output_type=np.array([3]))},
        [("input", "a1"), ("a1", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "a2"), ("a2", "li"), ("li", "output")],
    )  # fmt: skip


def conv():
    r = rng(13)
    shape = (2, 6, 6)
    return graph_of(
        {"input": nir.Input(input_type=np.array(shape)),
         "conv": nir.Conv2d(input_shape=(6, 6), weight=r.normal(0, 0.5, (3, 2, 3, 3)), stride=1, padding=1,
                            dilation=1, groups=1, bias=r.normal(0, 0.1, 3)),
         "lif": nir.LIF(tau=np.full((3, 6, 6), 1e-2), r=np.ones((3, 6, 6)), v_leak=np.zeros((3, 6, 6)),
                        v_threshold=np.full((3, 6, 6), 0.3), v_reset=np.zeros((3, 6, 6))),
         "sum": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
         "avg": nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([1, 1]), padding=np.array([1, 1])),
         "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0, end_dim=-1),
         "a": affine(27, 4, 14), "li": li(4, 15), "output": nir.Output(output_type=np.array([4]))},
        [("input", "conv"), ("conv", "lif"), ("lif", "sum"), ("sum", "avg"), ("avg", "flat"), ("flat", "a"),
         ("a", "li"), ("li", "output")],
    )  # fmt: skip


def snntorch_style_rsynaptic(n=6, seed=16):
    """A recurrent CubaLIF as snnTorch's export_nir writes an RSynaptic layer: a subgraph
    `input -> lif -> w_rec -> lif -> output`, with snnTorch's dt = 1e-4 s conventions."""
    r = rng(seed)
    dt = 1e-4
    alpha, beta = r.uniform(0.5, 0.9, n), r.uniform(0.8, 0.95, n)
    tau_syn, tau_mem = dt / (1 - alpha), dt / (1 - beta)
    return graph_of(
        {"input": nir.Input(input_type=np.array([n])),
         "lif": nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt, v_leak=np.zeros(n),
                            v_threshold=np.ones(n), w_in=tau_syn / dt),
         "w_rec": nir.Affine(weight=r.normal(0, 0.3, (n, n)), bias=r.normal(0, 0.05, n)),
         "output": nir.Output(output_type=np.array([n]))},
        [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )  # fmt: skip


def with_subgraph():
    return graph_of(
        {"input": nir.Input(input_type=np.array([5])), "a1": affine(5, 6, 17, scale=3.0),
         "rsyn": snntorch_style_rsynaptic(), "a2": affine(6, 3, 18), "li": li(3, 19),
         "output": nir.Output(output_type=np.array([3]))},
        [("input", "a1"), ("a1", "rsyn"), ("rsyn", "a2"), ("a2", "li"), ("li", "output")],
    )  # fmt: skip


def with_delay():
    return graph_of(
        {"input": nir.Input(input_type=np.array([5])), "a1": affine(5, 6, 20), "d": nir.Delay(delay=np.full(6, 3 * DT_S)),
         "lif": lif(6, 21), "skip": affine(5, 6, 22), "output": nir.Output(output_type=np.array([6]))},
        [("input", "a1"), ("a1", "d"), ("d", "lif"), ("input", "skip"), ("skip", "lif"), ("lif", "output")],
    )  # fmt: skip


GRAPHS = {"feed_forward": (feed_forward, (5,)), "integrators": (integrators, (5,)), "recurrent": (recurrent, (5,)),
          "conv": (conv, (2, 6, 6)), "subgraph": (with_subgraph, (5,)), "delay": (with_delay, (5,))}  # fmt: skip


def inputs(shape, steps=60, seed=0, high=1.0):
    return uniform((steps, *shape), 0.0, high, seed=seed)


@pytest.mark.parametrize("method", ["exact", "euler"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_import_matches_reference(x64, name, method, tmp_path):
    make, shape = GRAPHS[name]
    path = tmp_path / f"{name}.nir"
    nir.write(path, make())
    model = enir.from_nir(path, dt=DT_MS, method=method)
    xs = inputs(shape, high=2.0 if name == "subgraph" else 1.0)
    _, ys = eqsnn.run(model, xs)
    ref = RefSim(make(), DT_S, method).run(np.asarray(xs))
    assert ys.shape == ref.shape
    np.testing.assert_allclose(np.asarray(ys), ref, rtol=1e-9, atol=1e-9)


def spikes_of(graph_nir, xs, method):
    """The number of spikes of every spiking node (subgraphs included) in the reference."""
    sim = RefSim(graph_nir, DT_S, method)

    def count(s):
        total = sum(
            float(np.sum(s.prev[k])) for k, n in s.g.nodes.items() if isinstance(n, (nir.LIF, nir.CubaLIF, nir.IF))
        )
        return total + sum(count(sub) for sub in s.subs.values())

    counts = 0.0
    for x in np.asarray(xs):
        sim.step(x)
        counts += count(sim)
    return counts


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_reference_graphs_spike(x64, name):
    make, shape = GRAPHS[name]
    assert spikes_of(make(), inputs(shape, high=2.0 if name == "subgraph" else 1.0), "exact") > 0


@pytest.mark.parametrize("method", ["exact", "euler"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_nir_eqsnn_nir_round_trip(x64, name, method, tmp_path):
    """NIR -> eqsnn -> NIR file -> eqsnn runs the same network (export of every imported part)."""
    make, shape = GRAPHS[name]
    model = enir.from_nir(make(), dt=DT_MS, method=method)
    path = tmp_path / "again.nir"
    nir.write(path, enir.to_nir(model, dt=DT_MS, input_shape=shape))
    again = enir.from_nir(path, dt=DT_MS, method=method)
    xs = inputs(shape, seed=1, high=2.0 if name == "subgraph" else 1.0)
    _, y1 = eqsnn.run(model, xs)
    _, y2 = eqsnn.run(again, xs)
    assert tree_max_abs_diff(y1, y2) < 1e-9


def test_snntorch_rsynaptic_imports_and_runs(x64, tmp_path):
    path = tmp_path / "rsyn.nir"
    nir.write(path, snntorch_style_rsynaptic())
    # snnTorch's own step is 1e-4 s: import it with dt = 0.1 ms and forward Euler.
    model = enir.from_nir(path, dt=0.1, method="euler")
    assert isinstance(model, Graph) and model.delayed
    xs = inputs((6,), high=1.5)
    _, ys = jax.jit(eqsnn.run)(model, xs)
    ref = RefSim(snntorch_style_rsynaptic(), 1e-4, "euler").run(np.asarray(xs))
    np.testing.assert_array_equal(np.asarray(ys), ref)
    assert ref.sum() > 0


def test_imported_model_trains_and_vmaps():
    model = enir.from_nir(recurrent(), dt=DT_MS)
    xs = jnp.stack([inputs((5,), seed=s, steps=20) for s in range(3)])

    def loss(m):
        return jnp.sum(jax.vmap(lambda x: eqsnn.run(m, x)[1])(xs) ** 2)

    grads = eqx.filter_grad(loss)(model)
    g = grads.nodes["a1"].weight
    assert g.shape == (5, 6) and bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) > 0


# --------------------------------------------------------------------------- #
# eqsnn -> NIR file -> eqsnn
# --------------------------------------------------------------------------- #


def tutorial_chain(reset="hard"):
    return (
        linear(5, 8, seed=1, scale=4.0, bias=0.05)
        >> synapses.Expon(8, tau=5.0, dt=DT_MS)
        >> neurons.LifRef(8, tau=10.0, v_th=1.0, v_rest=0.0, v_reset=0.0, tau_ref=0.0, reset=reset, dt=DT_MS)
        >> eqsnn.Delay(1)
        >> linear(8, 3, seed=2)
        >> synapses.Expon(3, tau=5.0, dt=DT_MS)
        >> neurons.Leaky(3, tau=5.0, dt=DT_MS)
    )


def recurrent_graph():
    return Graph(
        nodes={"w_in": linear(5, 8, seed=3, scale=4.0), "rec": linear(8, 8, seed=4), "h": neurons.LIF(8, v_th=0.5,
               v_rest=0.1, v_reset=-0.2, reset="hard", dt=DT_MS), "w_out": linear(8, 3, seed=5),
               "o": neurons.Leaky(3, dt=DT_MS)},
        edges=[("input", "w_in"), ("w_in", "h"), ("rec", "h"), ("h", "w_out"), ("w_out", "o")],
        delayed=[("h", "rec")],
        output="o",
    )  # fmt: skip


def conv_snn():
    conv = eqx.nn.Conv2d(2, 3, 3, padding=1, key=jax.random.key(0))
    conv = eqx.tree_at(lambda c: c.weight, conv, jnp.asarray(rng(30).normal(0, 0.6, (3, 2, 3, 3)), jnp.zeros(()).dtype))
    return eqsnn.Sequential(
        eqsnn.Lambda(conv),
        neurons.LIF((3, 6, 6), v_th=0.3, reset="hard", dt=DT_MS),
        eqsnn.Lambda(eqx.nn.AvgPool2d(2, 2)),
        jnp.ravel,
        linear(27, 4, seed=31),
        neurons.Leaky(4, dt=DT_MS),
    )


def euler_chain():
    return (
        linear(5, 6, seed=6, scale=4.0)
        >> enir.Scale(jnp.full(6, 1.5))
        >> enir.EulerIntegrator(6, tau=4.0, dt=DT_MS)
        >> enir.EulerLIF(6, tau=8.0, v_th=0.4, reset="hard", dt=DT_MS)
        >> linear(6, 2, seed=7)
        >> enir.EulerIntegrator(2, tau=3.0, dt=DT_MS)
    )


MODELS = {
    "tutorial_chain": (tutorial_chain, (5,), {}),
    "snn": (lambda: eqsnn.models.SNN(5, 8, 3, key=jax.random.key(1), dt=DT_MS), (5,), {"reset_metadata": True}),
    "soft_reset_chain": (lambda: tutorial_chain("soft"), (5,), {"reset_metadata": True}),
    "recurrent_graph": (recurrent_graph, (5,), {}),
    "conv_snn": (conv_snn, (2, 6, 6), {"input_shape": (2, 6, 6)}),
    "euler_chain": (euler_chain, (5,), {}),
}


def spike_monitor(model):
    """Every spiking population's spikes, by path, from the state."""

    def monitor(state):
        leaves = jax.tree_util.tree_leaves_with_path(state, is_leaf=lambda s: hasattr(s, "spike"))
        return [s.spike for _, s in leaves if hasattr(s, "spike")]

    return monitor


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_through_a_file(x64, name, tmp_path):
    make, shape, kwargs = MODELS[name]
    model = make()
    graph = enir.to_nir(model, dt=DT_MS, **kwargs)
    path = tmp_path / f"{name}.nir"
    nir.write(path, graph)
    back = enir.from_nir(path, dt=DT_MS, method="euler" if name == "euler_chain" else "exact")
    xs = inputs(shape, seed=3, high=2.0)
    _, y1, s1 = eqsnn.run(model, xs, monitor=spike_monitor(model))
    _, y2, s2 = eqsnn.run(back, xs, monitor=spike_monitor(back))
    assert tree_max_abs_diff(y1, y2) < 1e-9, tree_max_abs_diff(y1, y2)
    total1 = sorted(float(jnp.sum(s)) for s in s1)
    total2 = sorted(float(jnp.sum(s)) for s in s2)
    assert total1 == total2
    if s1:
        assert sum(total1) > 0
    # the same spike trains, population by population (matched by their totals and shapes)
    for a in s1:
        assert any(b.shape == a.shape and bool(jnp.array_equal(a, b)) for b in s2)


def test_exported_graph_matches_reference(x64):
    """The NIR file of an eqsnn model, run by the reference simulator, gives eqsnn's outputs."""
    model = recurrent_graph()
    graph = enir.to_nir(model, dt=DT_MS)
    xs = inputs((5,), seed=4, high=2.0)
    _, ys = eqsnn.run(model, xs)
    np.testing.assert_allclose(np.asarray(ys), RefSim(graph, DT_S, "exact").run(np.asarray(xs)), atol=1e-9)


def test_round_trip_float32(tmp_path):
    model = tutorial_chain()
    path = tmp_path / "f32.nir"
    nir.write(path, enir.to_nir(model, dt=DT_MS))
    back = enir.from_nir(path, dt=DT_MS)
    xs = inputs((5,), seed=5, high=2.0)
    assert xs.dtype == jnp.float32
    _, y1 = eqsnn.run(model, xs)
    _, y2 = jax.jit(eqsnn.run)(back, xs)
    assert y2.dtype == jnp.float32 and tree_max_abs_diff(y1, y2) < 1e-4


def test_metadata_and_units():
    g = enir.to_nir(tutorial_chain("soft"), dt=DT_MS, reset_metadata=True)
    cuba = g.nodes["1"]
    assert isinstance(cuba, nir.CubaLIF)
    np.testing.assert_allclose(cuba.tau_syn, 5e-3)
    np.testing.assert_allclose(cuba.tau_mem, 1e-2)
    np.testing.assert_allclose(cuba.w_in, 1 / (1 - np.exp(-DT_MS / 5.0)))
    assert cuba.metadata["eqsnn_reset"] == "soft" and cuba.metadata["eqsnn_threshold"] == ">="
    assert isinstance(g.nodes["3"], nir.Delay)
    np.testing.assert_allclose(g.nodes["3"].delay, DT_S)
    w = g.nodes["0"].weight
    assert w.shape == (8, 5)  # NIR's [out, in]


# --------------------------------------------------------------------------- #
# What NIR cannot say: errors naming the node
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "model, match",
    [
        (lambda: linear(3, 4) >> neurons.LIF(4, dt=DT_MS), r"node '1'.*reset='soft'.*reset_metadata=True"),
        (lambda: linear(3, 4) >> neurons.LifRef(4, tau_ref=2.0, reset="hard", dt=DT_MS), r"node '1'.*tau_ref"),
        (lambda: linear(3, 4) >> neurons.ALIF(4, dt=DT_MS), r"node '1' is a ALIF.*no NIR counterpart"),
        (lambda: linear(3, 4) >> jax.nn.relu, r"node '1'.*Lambda of relu.*cannot look into"),
        (lambda: eqsnn.Lambda(eqx.nn.MaxPool2d(2, 2)) >> jnp.ravel, r"node '0' is max pooling"),
        (lambda: linear(3, 4) >> neurons.LIF(4, reset="hard", dt=0.5), r"node '1'.*dt=0.5"),
    ],
)
def test_export_errors_name_the_node(model, match):
    with pytest.raises(ValueError, match=match):
        enir.to_nir(model(), dt=DT_MS, input_shape=(3,) if "MaxPool" not in match else (1, 4, 4))


def test_import_errors_name_the_node():
    g = feed_forward()
    g.nodes["d"] = nir.Delay(delay=np.array([1e-3, 2e-3, 1e-3, 1e-3]))
    g.edges = [*g.edges[:-1], ("li", "d"), ("d", "output")]
    with pytest.raises(ValueError, match=r"node 'd' \(Delay\).*differ"):
        enir.from_nir(g, dt=DT_MS)
    g.nodes["d"] = nir.Delay(delay=np.full(4, 1.5e-3))
    with pytest.raises(ValueError, match=r"node 'd' \(Delay\).*whole number of steps"):
        enir.from_nir(g, dt=DT_MS)

    g2 = feed_forward()
    g2.nodes["a2"] = type("Unknown", (), {"metadata": {}})()
    with pytest.raises(ValueError, match=r"node 'a2' is a NIR Unknown"):
        enir.from_nir(g2, dt=DT_MS)
    with pytest.raises(ValueError, match="method"):
        enir.from_nir(feed_forward(), dt=DT_MS, method="rk4")


# --------------------------------------------------------------------------- #
# The example the guide shows
# --------------------------------------------------------------------------- #


def test_example_script_smoke(tmp_path):
    script = Path(__file__).resolve().parent.parent / "examples" / "nir_roundtrip.py"
    spec = importlib.util.spec_from_file_location("nir_roundtrip", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    report = mod.main(tmp_path / "model.nir", steps=20)
    assert report["max_abs_diff"] < 1e-4 and report["spikes_equal"]


def test_interop_script_runs_without_peers(tmp_path):
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "nir_interop.py"
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--peer-python" in out.stdout


def test_export_errors_for_graph_constructs():
    coba = eqsnn.Projection(linear(3, 4), synapses.Expon(4, dt=DT_MS), eqsnn.outputs.COBA(e=0.0))
    hidden = neurons.LIF(4, reset="hard", dt=DT_MS)
    g = Graph({"p": coba, "h": hidden}, [("input", "p"), ("p", "h")], "h", reads={"p": ("h", lambda s: s.v)})
    with pytest.raises(ValueError, match=r"node 'p' is a Projection with output COBA"):
        enir.to_nir(g, dt=DT_MS)
    conv = eqx.nn.Conv2d(1, 2, 3, padding=1, padding_mode="CIRCULAR", key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"node '0'.*CIRCULAR"):
        enir.to_nir(eqsnn.Lambda(conv) >> neurons.LIF((2, 4, 4), reset="hard", dt=DT_MS), dt=DT_MS,
                    input_shape=(1, 4, 4))  # fmt: skip


def test_import_error_for_a_neuron_of_unknown_size():
    g = graph_of(
        {"input": nir.Input(input_type=np.array([3])), "lif": nir.LIF(tau=np.array(0.01), r=np.array(1.0),
         v_leak=np.array(0.0), v_threshold=np.array(1.0)), "output": nir.Output(output_type=np.array([3]))},
        [("input", "lif"), ("lif", "output")],
    )  # fmt: skip
    g.nodes["lif"].input_type = {"input": None}
    with pytest.raises(ValueError, match=r"node 'lif' \(LIF\).*number of neurons is unknown"):
        enir.from_nir(g, dt=DT_MS)
