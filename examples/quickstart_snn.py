"""Quick start: BrainPy's BPTT tutorial SNN (784 -> 100 LIF -> 10 leaky read-out), written with eqsnn's parts.

Run: `python examples/quickstart_snn.py` (a few seconds on a CPU).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import eqsnn
from eqsnn.encoding import latency
from eqsnn.neurons import Leaky, LifRef
from eqsnn.nn import Linear
from eqsnn.outputs import CUBA
from eqsnn.synapses import Expon


def SNNModel(num_in, num_rec, num_out, *, key, dt=0.1):
    """The network as a graph of named parts; BrainPy's update order: the read-out sees the
    previous step's hidden spikes (a delayed edge)."""
    k1, k2 = jax.random.split(key)
    return eqsnn.Graph(
        nodes={
            "i2r": eqsnn.Projection(Linear(num_in, num_rec, key=k1), Expon(num_rec, tau=10.0, dt=dt), CUBA()),
            "r": LifRef(num_rec, tau=10.0, v_reset=0.0, v_rest=0.0, v_th=1.0, dt=dt),
            "r2o": eqsnn.Projection(Linear(num_rec, num_out, key=k2), Expon(num_out, tau=10.0, dt=dt), CUBA()),
            "o": Leaky(num_out, tau=5.0, dt=dt),
        },
        edges=[("input", "i2r"), ("i2r", "r"), ("r2o", "o")],
        delayed=[("r", "r2o")],
        output="o",
    )


def loss_fn(model, xs, labels):  # xs: [batch, time, 784] spikes; labels: [batch] ints
    run = lambda x: eqsnn.run(model, x, monitor={"r.spike": lambda s: s["r"].spike})
    _, ys, mon = jax.vmap(run)(xs)
    l1 = 1e-5 * jnp.sum(mon["r.spike"])  # L1 on the number of spikes
    l2 = 1e-5 * jnp.mean(jnp.sum(mon["r.spike"], axis=(0, 1)) ** 2)  # L2 on spikes per neuron
    return optax.softmax_cross_entropy_with_integer_labels(jnp.max(ys, axis=1), labels).mean() + l1 + l2


optim = optax.adam(1e-3)


@eqx.filter_jit
def train_step(model, opt_state, xs, labels):
    loss, grads = eqx.filter_value_and_grad(loss_fn)(model, xs, labels)
    updates, opt_state = optim.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
    return eqx.apply_updates(model, updates), opt_state, loss


if __name__ == "__main__":
    model_key, data_key = jax.random.split(jax.random.key(0))
    model = SNNModel(28 * 28, 100, 10, key=model_key)
    opt_state = optim.init(eqx.filter(model, eqx.is_inexact_array))
    for i, key in enumerate(jax.random.split(data_key, 5)):  # random "images", latency-coded over 100 steps
        images = jax.random.uniform(key, (16, 28 * 28))
        xs = jax.vmap(lambda x: latency(x, 100))(images)
        labels = jax.random.randint(jax.random.fold_in(key, 1), (16,), 0, 10)
        model, opt_state, loss = train_step(model, opt_state, xs, labels)
        print(f"step {i}: loss {float(loss):.4f}")
