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


class SNNState(eqx.Module):
    i2r: eqsnn.synapses.ExponState
    r2o: eqsnn.synapses.ExponState
    r: eqsnn.neurons.LifRefState
    o: eqsnn.neurons.LeakyState


class SNNModel(eqsnn.AbstractDynamics):
    i2r: eqsnn.Projection
    r2o: eqsnn.Projection
    r: LifRef
    o: Leaky

    def __init__(self, num_in, num_rec, num_out, *, key, dt=0.1):
        k1, k2 = jax.random.split(key)
        self.r = LifRef(num_rec, tau=10.0, v_reset=0.0, v_rest=0.0, v_th=1.0, dt=dt)
        self.o = Leaky(num_out, tau=5.0, dt=dt)
        self.i2r = eqsnn.Projection(Linear(num_in, num_rec, key=k1), Expon(num_rec, tau=10.0, dt=dt), CUBA())
        self.r2o = eqsnn.Projection(Linear(num_rec, num_out, key=k2), Expon(num_out, tau=10.0, dt=dt), CUBA())

    def init_state(self, *, key=None):
        return SNNState(self.i2r.init_state(), self.r2o.init_state(), self.r.init_state(), self.o.init_state())

    def step(self, s, spike):  # BrainPy's update order: the read-out sees the previous step's hidden spikes
        i2r, i_r = self.i2r.step(s.i2r, spike, s.r.v)
        r2o, i_o = self.r2o.step(s.r2o, s.r.spike, s.o.x)
        r, _ = self.r.step(s.r, i_r)
        o, y = self.o.step(s.o, i_o)
        return SNNState(i2r, r2o, r, o), y


def loss_fn(model, xs, labels):  # xs: [batch, time, 784] spikes; labels: [batch] ints
    run = lambda x: eqsnn.run(model, x, monitor=lambda s: {"r.spike": s.r.spike})
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
