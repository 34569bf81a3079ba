"""Fuzz: public constructors and entry points refuse bad values clearly, accept valid NumPy/JAX scalars.

A bad value (NaN, inf, None, complex, a string, a list, a wrong shape, an
integer array, out of range) raises `TypeError`/`ValueError` whose message
names the class or function and the argument (or, under the jaxtyping hook,
the hook's message naming the function and "parameter 'name'").
"""

import math

from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import encoding, losses, neurons as N, surrogate as S, synapses as Y
from eqsnn._params import params_of

POPULATIONS = [
    N.LIF,
    N.IF,
    N.LifRef,
    N.ALIF,
    N.ExpIF,
    N.AdEx,
    N.QuaIF,
    N.Izhikevich,
    N.HH,
    N.Leaky,
    Y.Expon,
    Y.DualExpon,
    Y.Alpha,
    Y.NMDA,
    Y.AMPA,
    Y.GABAa,
]
SURROGATES = [S.InvSquare, S.Sigmoid, S.ArcTan, S.Gaussian, S.Erf, S.QPseudoSpike, S.Triangle, S.Boxcar]

BAD_ANY = st.sampled_from(
    [math.nan, math.inf, -math.inf, None, 1 + 1j, "abc", [1.0], (1.0,), np.ones(4, dtype=np.int32), True]
)


def _assert_clear(excinfo, owner, name):
    msg = str(excinfo.value)
    assert (owner in msg and name in msg) or f"parameter '{name}'" in msg or f"'{name}'" in msg, msg


def _declared(cls):
    return [n for n, spec in params_of(cls).items() if spec.default is not None]


@pytest.mark.parametrize("cls", POPULATIONS, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_population_parameter_bad_value_is_refused(cls, data):
    name = data.draw(st.sampled_from(_declared(cls)), label="parameter")
    bad = data.draw(BAD_ANY | st.just(np.ones(3, dtype=np.float32)), label="value")
    with pytest.raises((TypeError, ValueError)) as excinfo:
        cls(4, **{name: bad})
    _assert_clear(excinfo, cls.__name__, name)


@pytest.mark.parametrize("cls", POPULATIONS, ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_population_parameter_numpy_and_jax_scalars_are_accepted(cls, data):
    name = data.draw(st.sampled_from(_declared(cls)), label="parameter")
    default = params_of(cls)[name].default
    conv = data.draw(
        st.sampled_from([np.float32, np.float64, lambda v: jnp.asarray(v, dtype=jnp.float32)]), label="type"
    )
    model = cls(4, **{name: conv(default)})
    state, out = eqsnn.run(model, jnp.zeros((3, 4)))
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves((state, out)))


@pytest.mark.parametrize("cls", SURROGATES, ids=lambda c: c.__name__)
@settings(max_examples=10, deadline=None)
@given(bad=BAD_ANY | st.floats(max_value=0.0, allow_nan=False))
def test_surrogate_bad_hyper_parameter_is_refused(cls, bad):
    name = next(iter(params_of(cls)))
    with pytest.raises((TypeError, ValueError)) as excinfo:
        cls(**{name: bad})
    _assert_clear(excinfo, cls.__name__, name)


@pytest.mark.parametrize("cls", SURROGATES, ids=lambda c: c.__name__)
def test_surrogate_accepts_python_and_numpy_inputs(cls):
    s = cls()
    assert float(s(0.5)) == 1.0 and float(s(np.float32(-0.5))) == 0.0
    assert np.isfinite(float(jax.grad(s)(0.0)))
    assert np.isfinite(float(jax.grad(cls(np.float32(3.0)))(0.0)))


def test_qpseudospike_alpha_as_array_is_checked():
    with pytest.raises(ValueError, match="QPseudoSpike: `alpha` must be > 1"):
        S.QPseudoSpike(alpha=jnp.asarray(0.5))


@pytest.mark.parametrize(
    "cls,kw",
    [
        (N.LIF, {"v_reset": 20.0}),
        (N.ExpIF, {"v_reset": -50.0}),
        (N.AdEx, {"v_reset": -50.0}),
        (N.QuaIF, {"v_reset": -20.0}),
        (N.Izhikevich, {"c": 40.0}),
        (N.ALIF, {"v_reset": -50.0}),
    ],
)
def test_reset_at_or_above_threshold_is_refused(cls, kw):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: `{next(iter(kw))}` must be < `v_th`"):
        cls(4, **kw)


@settings(max_examples=15, deadline=None)
@given(labels=st.lists(st.integers(-5, 10), min_size=2, max_size=2).filter(lambda v: min(v) < 0 or max(v) >= 3))
def test_out_of_range_labels_are_refused(labels):
    for fn, name in ((losses.cross_entropy, "cross_entropy"), (losses.accuracy, "accuracy")):
        with pytest.raises(ValueError, match=rf"{name}: `labels` must be class indices in \[0, 3\)"):
            fn(jnp.zeros((2, 3)), jnp.asarray(labels))


@settings(max_examples=10, deadline=None)
@given(bad=st.sampled_from([-0.5, math.nan, math.inf, "a", 1j, None]) | st.floats(max_value=-1e-6))
def test_latency_threshold_must_be_nonnegative_and_finite(bad):
    if bad is None:  # the default
        return
    with pytest.raises((TypeError, ValueError)) as excinfo:
        encoding.latency_steps(jnp.ones(3), 10, threshold=bad)
    _assert_clear(excinfo, "latency_steps", "threshold")


def test_valid_numpy_integers_and_floats_are_accepted(getkey):
    eqsnn.nn.FixedProb(3, 4, np.float32(0.5), key=getkey())
    import optax

    x = np.zeros((4, 3, 2), dtype=np.float32)
    y = np.zeros(4, dtype=np.int32)
    trainer = eqsnn.train.BPTT(lambda o, t, m: losses.cross_entropy(o[:, -1], t), optax.sgd(0.1), progress=False)
    model = eqsnn.Sequential(eqsnn.nn.Linear(2, 2, key=getkey()))
    _, history = trainer.fit(model, (x, y), num_epochs=np.int64(1), batch_size=np.int64(4), key=getkey())
    assert history.num_epochs == 1


def test_coba_projection_refuses_batched_post_v(getkey):
    proj = eqsnn.Projection(eqsnn.nn.Linear(3, 4, key=getkey()), Y.Expon(4), eqsnn.outputs.COBA(e=0.0))
    with pytest.raises((TypeError, ValueError)) as excinfo:
        proj.step(proj.init_state(), (jnp.ones(3), jnp.zeros((2, 4))))
    _assert_clear(excinfo, "Projection", "post_v")


@pytest.mark.parametrize(
    "call,owner,name",
    [
        (lambda: eqsnn.plot.raster(np.zeros((5, 3)), neurons=[10]), "raster", "neurons"),
        (lambda: losses.spike_l2([1.0, 2.0]), "spike_l2", "spikes"),
        (lambda: eqsnn.nn.Linear(3, 4, key=jax.random.key(0), w_init="abc"), "Linear", "w_init"),
        (lambda: eqsnn.train.History.from_dict({"format": "eqsnn.History/1"}), "History.from_dict", "epochs"),
        (lambda: eqsnn.train.load_checkpoint(None, None, None), "load_checkpoint", "path"),
        (lambda: eqsnn.data.read_idx(None), "read_idx", "path"),
        (lambda: eqsnn.data.fashion_mnist(root=123, download=False), "Fashion-MNIST", "root"),
        (lambda: eqsnn.run(N.LIF(2), jnp.ones((3, 2)), monitor="v"), "run", "monitor"),
        (lambda: eqsnn.is_stateless(None), "is_stateless", "model"),
    ],
    ids=[
        "raster",
        "spike_l2",
        "w_init",
        "history",
        "load_checkpoint",
        "read_idx",
        "fashion_mnist",
        "monitor",
        "stateless",
    ],
)
def test_former_crashes_are_clear_errors(call, owner, name):
    with pytest.raises((TypeError, ValueError)) as excinfo:
        call()
    _assert_clear(excinfo, owner, name)


def test_make_step_refuses_a_foreign_optimiser_state(getkey):
    import optax

    from eqsnn.train import init_opt_state, make_step

    model = eqsnn.nn.Linear(2, 2, key=getkey())
    opt = optax.sgd(0.1, momentum=0.9)
    step = make_step(lambda m, b: (jnp.sum(m.weight), {}), opt)
    for bad in (None, init_opt_state(opt, eqsnn.nn.Linear(3, 2, key=getkey()))):
        with pytest.raises(TypeError, match="make_step: `opt_state`"):
            step(model, bad, None)
    step(model, init_opt_state(opt, model), None)
