"""One compilation per training step function, whether array parameters are weakly or strongly typed.

Traces are counted with a Python side effect inside the loss (it runs once per trace).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn import neurons as N
from eqsnn.train import BPTT, init_opt_state, make_step

TAUS = {
    "weak": lambda: jnp.full(4, 10.0),  # weakly typed (a Python fill value)
    "strong": lambda: jnp.full(4, 10.0, dtype=jnp.float32),
    "numpy": lambda: np.full(4, 10.0, dtype=np.float32),
}


def _model(tau):
    return eqsnn.Sequential(eqsnn.nn.Linear(3, 4, key=jax.random.key(0)), N.LIF(4, tau=tau))


@pytest.mark.parametrize("kind", sorted(TAUS))
def test_weak_type_is_normalised_at_construction(kind):
    lif = N.LIF(4, tau=TAUS[kind]())
    assert not getattr(lif.tau, "weak_type", False)


@pytest.mark.parametrize("kind", sorted(TAUS))
def test_make_step_compiles_once(kind):
    traces = []

    def loss_fn(model, batch):
        traces.append(1)
        _, ys = jax.vmap(lambda xs: eqsnn.run(model, xs))(batch)
        return jnp.mean(ys), {}

    model = _model(TAUS[kind]())
    opt = optax.sgd(1e-2, momentum=0.9)
    opt_state = init_opt_state(opt, model)
    step = make_step(loss_fn, opt)
    batch = jnp.ones((2, 5, 3))
    for _ in range(4):
        model, opt_state, _, _ = step(model, opt_state, batch)
    assert len(traces) == 1


@pytest.mark.parametrize("kind", sorted(TAUS))
def test_fit_compiles_the_train_step_once(kind):
    traces = []

    def loss(outputs, y, monitored):
        traces.append(1)
        return eqsnn.losses.cross_entropy(outputs.sum(axis=1), y)

    model = _model(TAUS[kind]())
    trainer = BPTT(loss_fn=loss, optimizer=optax.sgd(1e-2, momentum=0.9))
    x = jnp.ones((8, 5, 3))
    y = jnp.zeros(8, dtype=jnp.int32)
    trainer.fit(model, (x, y), num_epochs=3, batch_size=4, key=jax.random.key(1))
    assert len(traces) == 1
