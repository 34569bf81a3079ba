"""make_step and the BPTT trainer: learning, tracing, history, failures."""

import contextlib
import io

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn import losses
from eqsnn.neurons import LIF, Leaky
from eqsnn.nn import GRUCell, Linear, LSTMCell, RNNCell
from eqsnn.synapses import Expon
from eqsnn.train import BPTT, History, TrainingDivergedError, load_checkpoint, make_step

T, IN, C = 8, 4, 3

# optax's Adam mixes float and int32 in its bias correction, which the test session's strict
# dtype promotion rejects; tests that use Adam (the seed's optimiser) run it under standard
# promotion, the others use strict-clean optimisers (RMSProp, SGD) so eqsnn itself stays checked.


def _classification(seed, n, t=T, n_in=IN):
    """Class = the channel (among the first C) with the largest mean over time."""
    x = np.random.default_rng(seed).standard_normal((n, t, n_in)).astype(np.float32)
    y = np.argmax(x[:, :, :C].mean(axis=1), axis=-1).astype(np.int32)
    return x, y


def _last_step_loss(outputs, targets, monitored):
    logits = outputs[:, -1]
    return losses.cross_entropy(logits, targets), {"acc": losses.accuracy(logits, targets)}


def _rnn(cls, key, hidden=16):
    k1, k2 = jax.random.split(key)
    return eqsnn.Sequential(cls(IN, hidden, key=k1), Linear(hidden, C, key=k2))


# -- a tiny SNN in the seed's layout: i -> [Expon] -> LIF -> [Expon] -> Leaky --------------


def TinySNN(n_in, n_rec, n_out, *, key):
    """The seed's update order: the read-out projection sees the previous step's spikes."""
    k1, k2 = jax.random.split(key)
    return eqsnn.Graph(
        nodes={
            "i2r": eqsnn.Projection(Linear(n_in, n_rec, key=k1), Expon(n_rec, tau=10.0, dt=1.0)),
            "r": LIF(n_rec, tau=10.0, v_rest=0.0, v_reset=0.0, v_th=1.0, dt=1.0),
            "r2o": eqsnn.Projection(Linear(n_rec, n_out, key=k2), Expon(n_out, tau=10.0, dt=1.0)),
            "o": Leaky(n_out, tau=5.0, dt=1.0),
        },
        edges=[("input", "i2r"), ("i2r", "r"), ("r2o", "o")],
        delayed=[("r", "r2o")],
        output="o",
    )


def _spike_data(seed, n, t=12, n_in=12):
    """Rate-coded classes: the group of inputs of class c fires with p=0.5, the rest p=0.05."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, size=n).astype(np.int32)
    group = np.arange(n_in) // (n_in // C)
    p = np.where(group[None, :] == y[:, None], 0.5, 0.05)
    x = (rng.random((n, t, n_in)) < p[:, None, :]).astype(np.float32)
    return x, y


# -- learning ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lstm_fit():
    x, y = _classification(0, 256)
    xt, yt = _classification(1, 64)
    traces = []

    def loss_fn(outputs, targets, monitored):
        traces.append(outputs.shape)
        return _last_step_loss(outputs, targets, monitored)

    trainer = BPTT(loss_fn, optax.adam(1e-2), progress=False, verbose=True)
    model0 = _rnn(LSTMCell, jax.random.key(0))
    printed = io.StringIO()
    with jax.numpy_dtype_promotion("standard"), contextlib.redirect_stdout(printed):
        model, history = trainer.fit(model0, (x, y), (xt, yt), num_epochs=3, batch_size=32, key=jax.random.key(1))
    return dict(trainer=trainer, model=model, history=history, traces=traces, printed=printed.getvalue())


def test_lstm_loss_decreases_and_traces_once(lstm_fit):
    h = lstm_fit["history"]
    fit_loss, test_loss = h.metric("fit", "loss"), h.metric("test", "loss")
    assert fit_loss.shape == (3,) and test_loss.shape == (3,)
    assert fit_loss[-1] < 0.8 * fit_loss[0]
    assert test_loss[-1] < test_loss[0]
    assert h.metric("test", "acc")[-1] > 0.5  # chance is 1/3
    # one trace for the training step, one for evaluation (64 = 2 x 32), over 3 epochs
    assert lstm_fit["traces"] == [(32, T, C), (32, T, C)]


@pytest.mark.parametrize("kind", ["gru", "snn"])
def test_gru_and_snn_loss_decreases(kind):
    if kind == "gru":
        x, y = _classification(2, 256)
        model = _rnn(GRUCell, jax.random.key(3))
        trainer = BPTT(_last_step_loss, optax.rmsprop(1e-2), progress=False, verbose=False)
    else:
        x, y = _spike_data(2, 256)
        model = TinySNN(12, 16, C, key=jax.random.key(3))

        def loss_fn(outputs, targets, monitored):
            logits = outputs.max(axis=1)  # the seed: max over time
            spikes = monitored["r.spike"]
            loss = (
                losses.cross_entropy(logits, targets) + 1e-5 * losses.spike_l1(spikes) + 1e-5 * losses.spike_l2(spikes)
            )
            return loss, {"acc": losses.accuracy(logits, targets), "count": losses.spike_l1(spikes)}

        trainer = BPTT(
            loss_fn, optax.rmsprop(1e-2), monitor={"r.spike": lambda s: s.r.spike}, progress=False, verbose=False
        )
    _, h = trainer.fit(model, (x, y), num_epochs=3, batch_size=32, key=jax.random.key(4))
    loss = h.metric("fit", "loss")
    assert loss[-1] < 0.8 * loss[0]
    if kind == "snn":
        # the monitor really saw the hidden spikes: count per step is a whole number > 0
        counts = h.metric("fit", "count", per="step")
        assert counts.shape == (3 * 8,)
        assert np.all(counts > 0) and np.allclose(counts, np.round(counts))


def test_epoch_lines_and_history(lstm_fit, tmp_path):
    h = lstm_fit["history"]
    # per-step values: 256 // 32 = 8 steps per epoch; the epoch value is their mean
    steps = h.metric("fit", "loss", per="step")
    assert steps.shape == (24,)
    np.testing.assert_allclose(h.metric("fit", "loss"), steps.reshape(3, 8).mean(axis=1), rtol=1e-12)
    assert h.metric("test", "loss", per="step").shape == (6,)  # 2 test batches per epoch
    assert h.names("fit") == ["loss", "acc"] and len(h.times) == 3
    # JSON round trip
    h.save(tmp_path / "h.json")
    h2 = History.load(tmp_path / "h.json")
    assert h2 == h
    for mode in ("fit", "test"):
        for per in ("epoch", "step"):
            np.testing.assert_array_equal(h2.metric(mode, "acc", per=per), h.metric(mode, "acc", per=per))
    assert [p.name for p in tmp_path.iterdir()] == ["h.json"]  # no temporary file left behind
    with pytest.raises(KeyError, match="'nope'"):
        h.metric("fit", "nope")
    (tmp_path / "bad.json").write_text('{"format": "eqsnn.History/1", "epo')
    with pytest.raises(ValueError, match="corrupt or truncated"):
        History.load(tmp_path / "bad.json")


def test_printed_epoch_lines(lstm_fit):
    lines = lstm_fit["printed"].strip().splitlines()
    assert [ln.split(" | ")[0] for ln in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    h = lstm_fit["history"]
    assert f"train loss {h.metric('fit', 'loss')[2]:.4f} acc {h.metric('fit', 'acc')[2]:.4f}" in lines[2]
    assert f"test loss {h.metric('test', 'loss')[2]:.4f}" in lines[2]


def test_evaluate_equals_direct_computation(lstm_fit):
    model = lstm_fit["model"]
    x, y = _classification(7, 100)  # 100 = 2 x 48 + 4: a partial last batch
    got = lstm_fit["trainer"].evaluate(model, (x, y), batch_size=48)
    _, ys = jax.jit(jax.vmap(lambda xs: eqsnn.run(model, xs)))(jnp.asarray(x))
    logits = np.asarray(ys[:, -1], np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -logp[np.arange(100), y].mean()
    acc = np.mean(logits.argmax(-1) == y)
    assert got["loss"] == pytest.approx(ce, rel=1e-5)
    assert got["acc"] == pytest.approx(acc, abs=1e-6)


# -- make_step and the hand-written loop -----------------------------------------------------


class _WithCounter(eqx.Module):
    net: eqsnn.Sequential
    calls: jax.Array  # an integer leaf: never differentiated


def test_make_step_traces_once_and_equals_plain_equinox_loop():
    opt = optax.adam(3e-3)
    x, y = _classification(8, 8 * 16)
    batches = [(jnp.asarray(x[i : i + 16]), jnp.asarray(y[i : i + 16])) for i in range(0, len(x), 16)]
    model0 = _WithCounter(_rnn(LSTMCell, jax.random.key(9), hidden=8), jnp.zeros((), jnp.int32))
    traces = {"n": 0}

    def forward(net, xb):
        return jax.vmap(lambda xs: eqsnn.run(net, xs)[1])(xb)[:, -1]

    def loss_fn(model, batch):
        traces["n"] += 1
        xb, yb = batch
        logits = forward(model.net, xb)
        return losses.cross_entropy(logits, yb), {"acc": losses.accuracy(logits, yb)}

    step = make_step(loss_fn, opt)
    model, opt_state = model0, eqsnn.train.init_opt_state(opt, model0)
    seen = []
    with jax.numpy_dtype_promotion("standard"):
        for _ in range(3):
            for b in batches:
                model, opt_state, loss, aux = step(model, opt_state, b)
                seen.append(float(loss))
        assert traces["n"] == 1  # 24 steps, one trace
        assert seen[-1] < seen[0]
        assert int(model.calls) == 0 and model.calls.dtype == jnp.int32  # the integer leaf is untouched

    # the same training, written by hand with plain Equinox + Optax (partition/combine, jax.jit)
    params, static = eqx.partition(model0, eqx.is_inexact_array)
    opt_state_h = opt.init(params)

    @jax.jit
    def manual(params, opt_state, xb, yb):
        def loss_of(p):
            m = eqx.combine(p, static)
            return losses.cross_entropy(forward(m.net, xb), yb)

        loss, grads = jax.value_and_grad(loss_of)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    with jax.numpy_dtype_promotion("standard"):
        for _ in range(3):
            for xb, yb in batches:
                params, opt_state_h, _ = manual(params, opt_state_h, xb, yb)
    hand = eqx.combine(params, static)
    for a, b in zip(jax.tree.leaves(model), jax.tree.leaves(hand), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # and it moved away from the start (the comparison is not trivially true)
    assert not np.allclose(model.net.layers[1].weight, model0.net.layers[1].weight)


def test_make_step_rejects_bad_arguments():
    with pytest.raises(TypeError, match="optimizer"):
        make_step(lambda m, b: (0.0, {}), "adam")
    with pytest.raises(TypeError, match="loss_fn"):
        make_step(3, optax.sgd(0.1))


# -- failures --------------------------------------------------------------------------------


def _batch_source(nan_at=None, kind="loss", num_batches=4):
    """A generator-style source (called once per epoch) that poisons one (epoch, batch)."""
    x, y = _classification(10, 16 * num_batches)
    targets = y.astype(np.float32)[:, None]
    state = {"epoch": 0}

    def source():
        state["epoch"] += 1
        for i in range(num_batches):
            xb, tb = x[16 * i : 16 * (i + 1)].copy(), targets[16 * i : 16 * (i + 1)].copy()
            if (state["epoch"], i + 1) == nan_at:
                if kind == "loss":
                    xb[3, 2, 1] = np.nan
                else:
                    tb[0, 0] = -100.0  # flag read by the loss below
            yield xb, tb

    return source


def _regression_loss(outputs, targets, monitored):
    pred = outputs[:, -1, :1]
    # finite value always; with the flag, d sqrt(u)/du at u = 0 is inf and the gradient is NaN
    eps = jnp.where(targets[0, 0] < -50.0, 0.0, 1.0)
    probe = outputs[0, 0, 0]
    return losses.mse(pred, targets) + 0.0 * jnp.sqrt(jnp.abs(probe - probe) + eps)


@pytest.mark.parametrize("kind", ["loss", "gradient"])
def test_non_finite_stops_with_epoch_and_step(kind, tmp_path):
    model = _rnn(RNNCell, jax.random.key(11), hidden=4)
    # check_every larger than an epoch: detection still names the exact step
    trainer = BPTT(_regression_loss, optax.rmsprop(1e-2), progress=False, verbose=False, check_every=1000)
    with pytest.raises(TrainingDivergedError, match=rf"non-finite {kind}.*epoch 2, step 3 \(global step 7\)") as info:
        trainer.fit(model, _batch_source((2, 3), kind), num_epochs=3, checkpoint_dir=tmp_path)
    err = info.value
    assert (err.epoch, err.step, err.global_step, err.what) == (2, 3, 7, kind)
    # updates stopped at the bad step: the model kept is finite
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(eqx.filter(err.model, eqx.is_array)))
    # the last good checkpoint (end of epoch 1) is kept
    opt_like = optax.rmsprop(1e-2).init(eqx.filter(model, eqx.is_inexact_array))
    _, _, meta = load_checkpoint(err.checkpoint, model, opt_like)
    assert meta["epoch"] == 1 and len(meta["history"]["epochs"]["fit"]) == 1


def test_bad_batches_fail_before_compiling():
    traces = []

    def loss_fn(outputs, targets, monitored):
        traces.append(1)
        return _last_step_loss(outputs, targets, monitored)

    trainer = BPTT(loss_fn, optax.sgd(0.1), progress=False, verbose=False)
    model = _rnn(RNNCell, jax.random.key(12), hidden=4)
    x, y = _classification(12, 64)

    # a later batch with another time length: named, and never traced
    def source():
        yield x[:16], y[:16]
        yield x[16:32, :5], y[16:32]

    with pytest.raises(ValueError, match=r"batch 2 of epoch 1 of `train_data` has inputs per sample \(5, 4\)"):
        trainer.fit(model, source, num_epochs=1)
    assert len(traces) == 1
    # float labels in the test set while training uses int labels: before anything runs
    with pytest.raises(ValueError, match=r"test_data.*targets per sample \(\) float32.*expected.*int32"):
        trainer.fit(model, (x, y), (x, y.astype(np.float32)), num_epochs=1, batch_size=16, key=jax.random.key(0))
    # inputs that do not fit the model: the model's own check, at trace time
    with pytest.raises(ValueError, match=r"`x` must have shape \(4,\)"):
        trainer.fit(model, (x[..., :3], y), num_epochs=1, batch_size=16, key=jax.random.key(0))
    # integer inputs, mismatched lengths, missing key
    with pytest.raises(TypeError, match="inputs must be a floating array"):
        trainer.fit(model, (x.astype(np.int32), y), num_epochs=1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="targets must have the inputs' leading size 64"):
        trainer.fit(model, (x, y[:10]), num_epochs=1, key=jax.random.key(0))
    with pytest.raises(TypeError, match="`key`"):
        trainer.fit(model, (x, y), num_epochs=1, batch_size=16)
    assert len(traces) == 1


def test_inputs_transform_runs_on_device_inside_the_step():
    """Compact uint8 data + an on-device transform == the same data converted beforehand."""
    rng = np.random.default_rng(13)
    raw = rng.integers(0, 256, size=(40, T, IN), dtype=np.uint8)
    y = rng.integers(0, C, size=40).astype(np.int32)
    model = _rnn(RNNCell, jax.random.key(13), hidden=4)
    seen = []

    def to_float(x):
        seen.append((x.shape, x.dtype))
        return x.astype(jnp.float32) / 255.0

    with_transform = BPTT(_last_step_loss, optax.sgd(0.1), inputs=to_float, progress=False, verbose=False)
    plain = BPTT(_last_step_loss, optax.sgd(0.1), progress=False, verbose=False)
    a = with_transform.evaluate(model, (raw, y), batch_size=40)
    b = plain.evaluate(model, (raw.astype(np.float32) / 255.0, y), batch_size=40)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-6) and a["acc"] == b["acc"]
    assert seen == [((40, T, IN), jnp.uint8)]  # the raw batch reached the transform, inside one trace
    with pytest.raises(TypeError, match="inputs must be a floating array"):
        plain.evaluate(model, (raw, y))
