"""Declared parameters: validation of every population (a user's own included), populations of
any shape, trained and constrained parameters, presets, and the silent-layer warning."""

import equinox as eqx
from hypothesis import given, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn import neurons, synapses
from eqsnn.nn import Linear


class Resonator(eqsnn.AbstractNeuron):
    """A user's damped oscillator (semi-implicit Euler): validation comes with the base."""

    omega: eqsnn.ParamLike = eqsnn.param(0.5, unit="1/ms", constraint="positive")
    damping: eqsnn.ParamLike = eqsnn.param(0.1, constraint="nonnegative")

    def init_state(self, *, key=None):
        return (self._zeros(), self._zeros())

    def step(self, state, x):
        v, w = state
        v, w = v + self.dt * w, w + self.dt * (x - self.omega**2 * v - self.damping * w)
        return (v, w), v


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (dict(omega=-1.0), ValueError, r"Resonator: `omega` must be > 0 \(1/ms\), got -1\.0"),
        (dict(omega=float("nan")), ValueError, r"Resonator: `omega` must be finite"),
        (dict(damping=-0.5), ValueError, r"Resonator: `damping` must be >= 0"),
        (dict(omega=None), TypeError, r"Resonator: `omega` must be a real number"),
        (dict(damping="abc"), TypeError, r"Resonator: `damping` .*got str"),
        (dict(omega=1 + 2j), TypeError, r"Resonator: `omega` must be .*complex"),
        (dict(dt=np.full(3, 0.1)), ValueError, r"Resonator: `dt` must be a scalar"),
        (dict(omega=jnp.ones(4)), ValueError, r"broadcastable to the population shape \(3,\)"),
    ],
)
def test_a_users_population_is_validated_without_code_of_its_own(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        Resonator(3, **kwargs)
    assert Resonator(3).omega == 0.5 and eqsnn.params_of(Resonator)["omega"].unit == "1/ms"


def test_populations_of_any_shape_act_elementwise(getkey):
    """LIF((2, 3, 4)) equals LIF(24) on the flattened input, step by step."""
    x = jax.random.uniform(getkey(), (20, 2, 3, 4), minval=0.0, maxval=40.0)
    tau = jax.random.uniform(getkey(), (2, 3, 4), minval=2.0, maxval=20.0)
    cube = neurons.LIF((2, 3, 4), tau=tau, dt=1.0)
    flat = neurons.LIF(24, tau=tau.reshape(24), dt=1.0)
    _, y_cube = eqsnn.run(cube, x)
    _, y_flat = eqsnn.run(flat, x.reshape(20, 24))
    np.testing.assert_array_equal(y_cube.reshape(20, 24), y_flat)
    assert float(y_cube.sum()) > 0
    assert cube.init_state().v.shape == (2, 3, 4) and cube.size == 24
    # a parameter broadcast along one axis
    per_channel = neurons.LIF((2, 3, 4), tau=jnp.asarray([5.0, 10.0])[:, None, None], dt=1.0)
    assert eqsnn.run(per_channel, x)[1].shape == (20, 2, 3, 4)


def test_integer_array_parameter_is_an_error_not_a_frozen_leaf():
    with pytest.raises(TypeError, match=r"LIF: `tau` is an integer array .*would silently not be trained"):
        neurons.LIF(3, tau=jnp.asarray([10, 20, 30]))
    assert neurons.LIF(3, tau=10).tau == 10  # a Python int is a fixed hyper-parameter


@given(st.floats(0.05, 50.0), st.floats(0.1, 100.0))
def test_positive_reparameterisation_round_trips(tau, lr):
    """The reparameterisation round-trips, and no step on theta, however large, reaches 0."""
    p = eqsnn.positive(jnp.asarray([tau]))
    np.testing.assert_allclose(eqsnn.unwrap(p), [tau], rtol=1e-4)
    stepped = eqx.tree_at(lambda q: q.args[0], p, p.args[0] - lr * 1e6)  # a huge step against it
    assert float(eqsnn.unwrap(stepped)[0]) > 0.0


def test_trained_tau_stays_positive_under_any_optimiser_step(getkey):
    """A plain float tau is driven below zero by a large SGD step; eqsnn.positive keeps it > 0
    and the model still runs and validates."""
    xs = jax.random.uniform(getkey(), (30, 4), minval=0.0, maxval=30.0)

    def loss(m):
        _, ys, v = eqsnn.run(m, xs, monitor=lambda s: s.v)
        return -jnp.sum(v)  # a faster membrane (smaller tau) lowers this loss: descent shrinks tau

    plain = neurons.LIF(4, tau=jnp.full(4, 2.0))
    wrapped = neurons.LIF(4, tau=eqsnn.positive(jnp.full(4, 2.0)))
    np.testing.assert_allclose(loss(plain), loss(wrapped), rtol=1e-5)
    opt = optax.sgd(100.0)
    for model, expect_positive in ((plain, False), (wrapped, True)):
        params = eqx.filter(model, eqx.is_inexact_array)
        grads = eqx.filter_grad(loss)(model)
        updates, _ = opt.update(grads, opt.init(params), params)
        model = eqx.apply_updates(model, updates)
        tau = eqsnn.unwrap(model).tau
        assert bool(jnp.all(tau > 0)) == expect_positive, tau
    assert np.all(np.isfinite(loss(model)))


def test_unit_scale_preset_fires_where_the_brainpy_default_is_silent():
    x = jnp.full((200, 8), 1.5)
    assert float(eqsnn.run(neurons.ALIF(8), x)[1].sum()) == 0.0
    assert float(eqsnn.run(neurons.ALIF.unit_scale(8), x)[1].sum()) > 0


def test_silent_layer_warning_names_the_layer(getkey):
    k1, k2 = jax.random.split(getkey())
    model = eqsnn.Graph(
        nodes={"w": Linear(6, 5, key=k1), "quiet": neurons.LIF(5, v_th=1e4), "w2": Linear(5, 2, key=k2),
               "loud": neurons.LIF(2, v_th=-1.0, v_rest=0.0, v_reset=-2.0)},
        edges=[("input", "w"), ("w", "quiet"), ("quiet", "w2"), ("w2", "loud")],
        output="loud",
    )  # fmt: skip
    assert eqsnn.train.silent_populations(model, jnp.ones((2, 5, 6))) == ["state.nodes['quiet'] (LIFState)"]
    trainer = eqsnn.train.BPTT(lambda ys, y, m: jnp.mean(ys**2), optax.sgd(1e-3), progress=False, verbose=False)
    data = (jnp.ones((4, 5, 6)), jnp.zeros(4))
    with pytest.warns(eqsnn.train.SilentLayerWarning, match=r"state\.nodes\['quiet'\] \(LIFState\) emitted no spike"):
        trainer.fit(model, data, num_epochs=1, batch_size=2, key=getkey())
    trainer.warn_silent = False
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error", eqsnn.train.SilentLayerWarning)
        trainer.fit(model, data, num_epochs=1, batch_size=2, key=getkey())


@pytest.mark.parametrize(
    "cls",
    [neurons.IF, neurons.LIF, neurons.LifRef, neurons.ALIF, neurons.ExpIF, neurons.AdEx, neurons.QuaIF,
     neurons.Izhikevich, neurons.HH, neurons.Leaky, neurons.Integrator, synapses.Expon, synapses.DualExpon,
     synapses.Alpha, synapses.NMDA, synapses.AMPA, synapses.GABAa],
)  # fmt: skip
@given(bad=st.sampled_from([float("nan"), float("inf"), -float("inf"), None, "x", [1.0, 2.0], 1j]))
def test_every_declared_parameter_of_every_population_is_checked(cls, bad):
    """Any declared parameter given NaN, inf, None, a string, a list or a complex is refused,
    with the class and the argument in the message (None is the "derived" default of a
    parameter declared with default None, such as `v_init`, and is accepted there)."""
    for name, spec in eqsnn.params_of(cls).items():
        if bad is None and spec.default is None:
            continue
        with pytest.raises((ValueError, TypeError), match=rf"{cls.__name__}: `{name}`"):
            cls(3, **{name: bad})
