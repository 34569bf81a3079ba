"""The five everyday networks of the core protocol, each in a few lines of user code.

For each network: a vmapped batch equals a loop over samples; jit equals eager; the hoisted
fast path of `eqsnn.run` equals a plain `lax.scan` of `model.step` (values and gradients,
float64); and a loss falls over a few training steps. The tutorial chain also equals
`eqsnn.models.SNN` bit for bit.

The lines between `# --- user code` and `# ---` are what a user writes (counted in the
closing note of the core issue).
"""

import equinox as eqx
from helpers import tree_allclose, tree_max_abs_diff
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn import models
from eqsnn.neurons import ALIF, LIF, Leaky, LifRef
from eqsnn.nn import FixedProb, Linear
from eqsnn.outputs import COBA
from eqsnn.synapses import Expon


# --- user code: the tutorial's SNN as a chain of parts (7 lines)
def tutorial_chain(key, dt=1.0):
    k1, k2 = jax.random.split(key)
    return (
        Linear(784, 100, key=k1) >> Expon(100, tau=10.0, dt=dt)
        >> LifRef(100, tau=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=dt) >> eqsnn.Delay(1)
        >> Linear(100, 10, key=k2) >> Expon(10, tau=10.0, dt=dt) >> Leaky(10, tau=5.0, dt=dt)
    )  # fmt: skip


# ---


# --- user code: a recurrent ALIF network 700 -> 128 (recurrent) -> 20 (11 lines)
def recurrent_alif(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return eqsnn.Graph(
        nodes={"w_in": Linear(700, 128, key=k1), "rec": Linear(128, 128, key=k2),
               "hidden": ALIF.unit_scale(128), "w_out": Linear(128, 20, key=k3),
               "out": Leaky(20, tau=5.0, dt=1.0)},
        edges=[("input", "w_in"), ("w_in", "hidden"), ("rec", "hidden"), ("hidden", "w_out"), ("w_out", "out")],
        delayed=[("hidden", "rec")],
        output="out",
    )  # fmt: skip


# ---


# --- user code: a COBA excitatory/inhibitory network with FixedProb connectivity and a read-out (18 lines)
def coba_ei(key, n_in=10, n_e=40, n_i=10, p=0.2):
    ks = jax.random.split(key, 7)
    lif = dict(tau=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=0.5)
    proj = lambda k, a, b, e: eqsnn.Projection(FixedProb(a, b, p, key=k), Expon(b, tau=5.0, dt=0.5), COBA(e=e))
    return eqsnn.Graph(
        nodes={"drive_e": Linear(n_in, n_e, key=ks[0]), "drive_i": Linear(n_in, n_i, key=ks[1]),
               "E": LIF(n_e, **lif), "I": LIF(n_i, **lif),
               "EE": proj(ks[2], n_e, n_e, 4.0), "EI": proj(ks[3], n_e, n_i, 4.0),
               "IE": proj(ks[4], n_i, n_e, -1.0), "II": proj(ks[5], n_i, n_i, -1.0),
               "w_out": Linear(n_e, 4, key=ks[6]), "out": Leaky(4, tau=5.0, dt=0.5)},
        edges=[("input", "drive_e"), ("input", "drive_i"), ("drive_e", "E"), ("drive_i", "I"),
               ("EE", "E"), ("IE", "E"), ("EI", "I"), ("II", "I"), ("E", "w_out"), ("w_out", "out")],
        delayed=[("E", "EE"), ("E", "EI"), ("I", "IE"), ("I", "II")],
        reads={"EE": ("E", lambda s: s.v), "IE": ("E", lambda s: s.v),
               "EI": ("I", lambda s: s.v), "II": ("I", lambda s: s.v)},
        output="out",
    )  # fmt: skip


# ---


# --- user code: a conv SNN on [2, 34, 34] frames with real eqx.nn layers (6 lines)
def conv_snn(key):
    k1, k2 = jax.random.split(key)
    lif = dict(tau=5.0, v_rest=0.0, v_reset=0.0, v_th=0.5, dt=1.0)
    return (eqx.nn.Conv2d(2, 4, 3, padding=1, key=k1) >> LIF((4, 34, 34), **lif) >> eqx.nn.MaxPool2d(2, 2)
            >> jnp.ravel >> Linear(4 * 17 * 17, 10, key=k2) >> Leaky(10, tau=5.0, dt=1.0))  # fmt: skip


# ---


# --- user code: a feed-forward chain with >> (4 lines)
def feed_forward(key):
    k1, k2 = jax.random.split(key)
    lif = dict(tau=5.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=1.0)
    return Linear(20, 32, key=k1) >> LIF(32, **lif) >> Linear(32, 5, key=k2) >> Leaky(5, tau=5.0, dt=1.0)


# ---


def _inputs(name, key, batch, steps):
    """Inputs that make each network spike: Bernoulli spikes, or frames of events."""
    shapes = {"tutorial": (784,), "alif": (700,), "coba": (10,), "conv": (2, 34, 34), "ff": (20,)}
    rates = {"tutorial": 0.1, "alif": 0.2, "coba": 0.5, "conv": 0.3, "ff": 0.3}
    scale = {"tutorial": 2.0, "alif": 6.0, "coba": 2.0, "conv": 2.0, "ff": 2.0}
    spikes = jax.random.bernoulli(key, rates[name], (batch, steps, *shapes[name]))
    return spikes.astype(jnp.zeros(()).dtype) * scale[name]


NETWORKS = {
    "tutorial": tutorial_chain,
    "alif": recurrent_alif,
    "coba": coba_ei,
    "conv": conv_snn,
    "ff": feed_forward,
}
NUM_OUT = {"tutorial": 10, "alif": 20, "coba": 4, "conv": 10, "ff": 5}


def _batched(model, xs):
    return jax.vmap(lambda x: eqsnn.run(model, x))(xs)


def _plain_scan(model, xs):
    """The step path: `lax.scan(model.step, ...)`, no hoisting, per sample."""
    return jax.vmap(lambda x: jax.lax.scan(model.step, model.init_state(), x))(xs)


def _loss(model, xs, labels, runner):
    _, ys = runner(model, xs)
    logits = ys.max(axis=1)
    return eqsnn.losses.cross_entropy(logits, labels)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_vmap_equals_loop_and_jit_equals_eager(name, getkey):
    model = NETWORKS[name](getkey())
    xs = _inputs(name, getkey(), 3, 12)
    batched = eqx.filter_jit(_batched)(model, xs)
    looped = [eqsnn.run(model, x) for x in xs]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *looped)
    assert tree_allclose(batched, stacked, rtol=1e-5, atol=1e-5), tree_max_abs_diff(batched, stacked)
    eager = _batched(model, xs)
    assert tree_allclose(eager, batched, rtol=1e-5, atol=1e-5)
    ys = batched[1]
    assert ys.shape == (3, 12, NUM_OUT[name])
    assert float(jnp.abs(ys).sum()) > 0


@pytest.mark.parametrize("name", list(NETWORKS))
def test_fast_path_equals_step_path_values_and_gradients(name, getkey, x64):
    model = NETWORKS[name](getkey())
    xs = _inputs(name, getkey(), 2, 15)
    labels = jnp.arange(2) % NUM_OUT[name]
    fast = eqx.filter_jit(_batched)(model, xs)
    slow = eqx.filter_jit(_plain_scan)(model, xs)
    assert tree_allclose(fast, slow, rtol=1e-10, atol=1e-10), tree_max_abs_diff(fast, slow)
    g_fast = eqx.filter_jit(eqx.filter_grad(lambda m, x, y: _loss(m, x, y, _batched)))(model, xs, labels)
    g_slow = eqx.filter_jit(eqx.filter_grad(lambda m, x, y: _loss(m, x, y, _plain_scan)))(model, xs, labels)
    assert tree_allclose(g_fast, g_slow, rtol=1e-8, atol=1e-10), tree_max_abs_diff(g_fast, g_slow)
    leaves = jax.tree_util.tree_leaves(eqx.filter(g_fast, eqx.is_inexact_array))
    assert sum(float(jnp.abs(g).sum()) for g in leaves) > 0, "the gradient should not vanish"


@pytest.mark.parametrize("name", list(NETWORKS))
def test_loss_falls_over_a_few_training_steps(name, getkey):
    model = NETWORKS[name](getkey())
    xs = _inputs(name, getkey(), 4, 12)
    labels = jnp.arange(4) % NUM_OUT[name]
    optimizer = optax.sgd(0.01)

    def loss_fn(m, batch):
        return _loss(m, *batch, _batched), {}

    step = eqsnn.train.make_step(loss_fn, optimizer)
    opt_state = eqsnn.train.init_opt_state(optimizer, model)
    losses = []
    for _ in range(6):
        model, opt_state, loss, _ = step(model, opt_state, (xs, labels))
        losses.append(float(loss))
    assert losses[-1] < losses[0], losses


def test_tutorial_chain_equals_models_snn_bit_for_bit(getkey):
    """The plain chain with a one-step delay and the packaged graph give identical outputs,
    spikes and gradients with the same weights."""
    chain = tutorial_chain(getkey(), dt=1.0)
    snn = models.SNN(784, 100, 10, key=getkey(), dt=1.0)
    snn = eqx.tree_at(lambda m: (m.i2r.comm, m.r2o.comm), snn, (chain.layers[0], chain.layers[4]))
    xs = _inputs("tutorial", getkey(), 2, 25)
    _, y_chain, s_chain = jax.vmap(lambda x: eqsnn.run(chain, x, monitor=lambda s: s[2].spike))(xs)
    _, y_snn, s_snn = jax.vmap(lambda x: eqsnn.run(snn, x, monitor=lambda s: s["r"].spike))(xs)
    assert float(s_snn.sum()) > 0
    np.testing.assert_array_equal(s_chain, s_snn)
    np.testing.assert_array_equal(y_chain, y_snn)

    def loss(m, get):
        _, ys, spk = jax.vmap(lambda x: eqsnn.run(m, x, monitor=get))(xs)
        return jnp.sum(ys.max(axis=1) ** 2) + 1e-3 * jnp.sum(spk)

    g_chain = eqx.filter_grad(loss)(chain, lambda s: s[2].spike)
    g_snn = eqx.filter_grad(loss)(snn, lambda s: s["r"].spike)
    for a, b in ((g_chain.layers[0], g_snn.i2r.comm), (g_chain.layers[4], g_snn.r2o.comm)):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.bias, b.bias)


def test_graph_reads_and_delays_follow_their_definition(x64):
    """A two-node graph against a NumPy loop: `acc` integrates the input plus the previous
    output of `fb`; `fb` reads acc's state of the previous step (its value) and halves it."""

    class Acc(eqsnn.AbstractDynamics):
        def init_state(self, *, key=None):
            return jnp.zeros(())

        def step(self, s, x):
            return s + x, s + x

    class Half(eqsnn.AbstractDynamics):
        def init_state(self, *, key=None):
            return jnp.zeros(())

        def step(self, s, x):
            u, read = x
            return s, 0.5 * (u + read)

    net = eqsnn.Graph(
        nodes={"acc": Acc(), "fb": Half(), "d": eqsnn.Delay(1, ())},
        edges=[("input", "acc"), ("acc", "d"), ("d", "fb")],
        delayed=[("fb", "acc")],
        reads={"fb": ("acc", lambda s: s)},
        output="acc",
    )
    xs = jnp.arange(1.0, 8.0)
    _, ys = eqsnn.run(net, xs)
    acc, fb_prev, d_buf, ref = 0.0, 0.0, 0.0, []
    for x in np.arange(1.0, 8.0):
        acc_prev = acc
        acc = acc + x + fb_prev
        d_out, d_buf = d_buf, acc
        fb_prev = 0.5 * (d_out + acc_prev)
        ref.append(acc)
    np.testing.assert_allclose(ys, ref, rtol=1e-12)


def test_graph_construction_errors():
    lif = LIF(3)
    with pytest.raises(ValueError, match=r"Graph: the undelayed edges form a cycle through \['a', 'b'\]"):
        eqsnn.Graph({"a": lif, "b": LIF(3)}, [("input", "a"), ("a", "b"), ("b", "a")], "b")
    with pytest.raises(ValueError, match=r"Graph: `edges` target 'c' is not a node"):
        eqsnn.Graph({"a": lif}, [("input", "c")], "a")
    with pytest.raises(ValueError, match=r"Graph: `output` must be the name of a node"):
        eqsnn.Graph({"a": lif}, [("input", "a")], "z")
    with pytest.raises(ValueError, match=r"Graph: the output shape of node 'w'"):
        eqsnn.Graph({"w": Linear(3, 3, key=jax.random.key(0)), "a": lif}, [("input", "a")], "a", delayed=[("w", "a")])
    with pytest.raises(TypeError, match=r"Graph: `edges\[0\]` must be a pair|parameter 'edges'"):
        eqsnn.Graph({"a": lif}, [("input",)], "a")
    with pytest.raises(ValueError, match=r"node names must be strings other than 'input'"):
        eqsnn.Graph({"input": lif}, [], "input")


def test_delay_is_a_shift_by_steps(x64):
    xs = jnp.arange(1.0, 11.0)[:, None] * jnp.ones((1, 2))
    _, ys = eqsnn.run(eqsnn.Delay(3, 2), xs)
    np.testing.assert_array_equal(ys[:3], 0.0)
    np.testing.assert_array_equal(ys[3:], xs[:-3])
    with pytest.raises(ValueError, match=r"Delay: `steps` must be a positive int"):
        eqsnn.Delay(0)
    with pytest.raises(ValueError, match=r"Delay: `shape` is unknown"):
        eqsnn.Delay(1).init_state()
    assert (LIF((2, 3)) >> eqsnn.Delay(2)).layers[1].shape == (2, 3)


def test_any_equinox_layer_or_callable_composes(getkey):
    conv = eqx.nn.Conv2d(2, 3, 3, padding=1, key=getkey())
    net = conv >> LIF((3, 8, 8), v_th=0.5, v_rest=0.0, v_reset=0.0, dt=1.0) >> eqx.nn.MaxPool2d(2, 2)
    assert isinstance(net.layers[0], eqsnn.Lambda) and net.layers[0].fn is conv
    x = jax.random.uniform(getkey(), (2, 8, 8))
    _, y = net.step(net.init_state(), x)
    assert y.shape == (3, 4, 4)
    # the conv's weights are trainable parameters of the composition
    params = eqx.filter(net, eqx.is_inexact_array)
    assert params.layers[0].fn.weight.shape == conv.weight.shape
    with pytest.raises(TypeError, match=r"Lambda: `fn` must be a callable|parameter 'fn'"):
        eqsnn.Lambda(3)
