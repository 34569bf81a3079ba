"""make_step / BPTT's jit wrapper: eqx.filter_jit's rule (array leaves traced, other leaves static) with
JAX's asynchronous dispatch (eqx.filter_jit 0.13 blocks on every call)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqsnn
from eqsnn.train._jit import async_filter_jit


class Scaled(eqx.Module):
    weight: jax.Array
    gain: float  # a Python float leaf: static under filter_jit's rule
    name: str = eqx.field(static=True, default="w")


def f(m: Scaled, x, power: int, *, shift=0.0):
    y = (m.weight * x) ** power * m.gain + shift
    return {"y": y, "tag": m.name, "gain": m.gain}, jnp.sum(y)


def test_same_results_and_static_leaves_as_filter_jit():
    m = Scaled(jnp.arange(3.0), 2.0)
    x = jnp.array([1.0, -2.0, 0.5])
    ours = async_filter_jit(f)(m, x, 3, shift=1.5)
    theirs = eqx.filter_jit(f)(m, x, 3, shift=1.5)
    np.testing.assert_array_equal(ours[0]["y"], theirs[0]["y"])
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[0]["tag"] == "w" and ours[0]["gain"] == 2.0  # non-array outputs come back as they were
    # the independent truth: the same numbers in NumPy
    np.testing.assert_allclose(ours[0]["y"], (np.arange(3.0) * np.array([1.0, -2.0, 0.5])) ** 3 * 2.0 + 1.5)


def test_traces_once_per_static_value_and_shape():
    traces = []

    def g(m, x):
        traces.append(1)
        return m.weight * x * m.gain

    jg = async_filter_jit(g)
    m = Scaled(jnp.ones(3), 2.0)
    for _ in range(3):
        jg(m, jnp.ones(3))
    assert len(traces) == 1  # same shapes and static leaves: one trace
    jg(Scaled(jnp.zeros(3), 2.0), jnp.ones(3))
    assert len(traces) == 1  # new array values: no retrace
    jg(Scaled(jnp.ones(3), 3.0), jnp.ones(3))
    assert len(traces) == 2  # a new Python-float leaf is a new static value, as with filter_jit
    jg(Scaled(jnp.ones(4), 2.0), jnp.ones(4))
    assert len(traces) == 3  # a new shape


def test_two_wrappers_of_different_functions_never_share_a_compilation():
    m, x = Scaled(jnp.ones(2), 1.0), jnp.full(2, 3.0)
    a = async_filter_jit(lambda m, x: m.weight + x)
    b = async_filter_jit(lambda m, x: m.weight * x)
    np.testing.assert_array_equal(a(m, x), [4.0, 4.0])
    np.testing.assert_array_equal(b(m, x), [3.0, 3.0])


def test_make_step_returns_before_the_step_has_run():
    """The call only queues the work: right after it returns, a step doing ~1 s of matmuls is not ready
    (eqx.filter_jit would have waited for it)."""
    big = jax.random.normal(jax.random.key(0), (1500, 1500))

    def loss_fn(w, batch):
        h = batch
        for _ in range(6):
            h = jnp.tanh(h @ w)
        return jnp.mean(h), {}

    opt = optax.sgd(1e-3)
    step = eqsnn.train.make_step(loss_fn, opt)
    state = eqsnn.train.init_opt_state(opt, big)
    jax.block_until_ready(step(big, state, big))  # compile
    _, _, loss, _ = step(big, state, big)
    queued = not loss.is_ready()
    loss.block_until_ready()
    assert queued


def test_make_step_lower_compiles_the_plain_equinox_step():
    """`step.lower(...).compile()` is the compiled training step: the same flops and temporary memory as the
    plain Equinox + Optax step written by hand under `eqx.filter_jit`."""
    opt = optax.sgd(1e-3)
    model = eqsnn.models.SNN(4, 8, 2, key=jax.random.key(1))
    xs = jnp.ones((2, 5, 4))

    def loss(m, xs):
        return jax.vmap(lambda x: eqsnn.run(m, x)[1])(xs).sum()

    @eqx.filter_jit
    def by_hand(m, state, xs):
        value, grads = eqx.filter_value_and_grad(loss)(m, xs)
        updates, state = opt.update(grads, state, eqx.filter(m, eqx.is_inexact_array))
        return eqx.apply_updates(m, updates), state, value

    state = eqsnn.train.init_opt_state(opt, model)
    ours = eqsnn.train.make_step(lambda m, b: (loss(m, b), {}), opt).lower(model, state, xs).compile()
    theirs = by_hand.lower(model, state, xs).compile().compiled
    assert ours.cost_analysis()["flops"] == theirs.cost_analysis()["flops"] > 0
    assert ours.memory_analysis().temp_size_in_bytes == theirs.memory_analysis().temp_size_in_bytes
