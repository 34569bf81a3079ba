"""Checkpoint and resume: a resumed run equals an uninterrupted one, bit for bit (CPU)."""

import equinox as eqx
import jax
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn import losses
from eqsnn.nn import GRUCell, Linear
from eqsnn.train import BPTT, CheckpointError, load_checkpoint
from eqsnn.train._checkpoint import save_checkpoint


def _data(seed, n):
    x = np.random.default_rng(seed).standard_normal((n, 6, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.int32)
    return x, y


def _loss(outputs, targets, monitored):
    logits = outputs[:, -1]
    return losses.cross_entropy(logits, targets), {"acc": losses.accuracy(logits, targets)}


def _model(hidden=5):
    k1, k2 = jax.random.split(jax.random.key(0))
    return eqsnn.Sequential(GRUCell(3, hidden, key=k1), Linear(hidden, 2, key=k2))


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    x, y = _data(0, 72)  # 72 = 4 x 16 + 8: the permutation's tail is left out, differently each epoch
    xt, yt = _data(1, 32)
    opt = optax.rmsprop(1e-2, momentum=0.5)
    trainer = BPTT(_loss, opt, progress=False, verbose=False)
    key = jax.random.key(42)
    kw = dict(batch_size=16, key=key)
    full_dir, part_dir = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("part")
    full, h_full = trainer.fit(_model(), (x, y), (xt, yt), num_epochs=3, checkpoint_dir=full_dir, **kw)
    _, h_part = trainer.fit(_model(), (x, y), (xt, yt), num_epochs=1, checkpoint_dir=part_dir, **kw)
    resumed, h_res = trainer.fit(_model(), (x, y), (xt, yt), num_epochs=3, checkpoint_dir=part_dir, resume=True, **kw)
    return dict(
        trainer=trainer,
        opt=opt,
        data=(x, y, xt, yt),
        key=key,
        full=full,
        resumed=resumed,
        h_full=h_full,
        h_part=h_part,
        h_res=h_res,
        full_dir=full_dir,
        part_dir=part_dir,
    )


def test_resume_equals_uninterrupted_bitwise(runs):
    assert runs["h_part"].num_epochs == 1 and runs["h_res"].num_epochs == 3
    full, resumed = _leaves(runs["full"]), _leaves(runs["resumed"])
    assert len(full) == len(resumed) > 0
    for a, b in zip(full, resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(full[0], _leaves(_model())[0])  # training did change the parameters
    for mode in ("fit", "test"):
        for per in ("epoch", "step"):
            np.testing.assert_array_equal(
                runs["h_full"].metric(mode, "loss", per=per), runs["h_res"].metric(mode, "loss", per=per)
            )
    # the optimiser state in the two final checkpoints is identical too
    like = runs["opt"].init(eqx.filter(_model(), eqx.is_inexact_array))
    ckpt = "checkpoint.eqx"
    m1, o1, meta1 = load_checkpoint(runs["full_dir"] / ckpt, _model(), like)
    m2, o2, meta2 = load_checkpoint(runs["part_dir"] / ckpt, _model(), like)
    assert meta1["epoch"] == meta2["epoch"] == 3
    assert meta1["key"] == meta2["key"] == [int(v) for v in jax.random.key_data(runs["key"])]
    for a, b in zip(_leaves((m1, o1)), _leaves((m2, o2)), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_leaves(m1), full, strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in runs["part_dir"].iterdir()) == [ckpt]  # no temporary files left


def test_resume_when_finished_and_with_wrong_key(runs):
    x, y, xt, yt = runs["data"]
    trainer = runs["trainer"]
    again, h = trainer.fit(
        _model(), (x, y), num_epochs=3, batch_size=16, key=runs["key"], checkpoint_dir=runs["part_dir"], resume=True
    )
    assert h.num_epochs == 3
    for a, b in zip(_leaves(again), _leaves(runs["full"]), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="`key` differs"):
        trainer.fit(
            _model(),
            (x, y),
            num_epochs=4,
            batch_size=16,
            key=jax.random.key(7),
            checkpoint_dir=runs["part_dir"],
            resume=True,
        )
    with pytest.raises(ValueError, match="checkpoint_dir"):
        trainer.fit(_model(), (x, y), num_epochs=1, batch_size=16, key=runs["key"], resume=True)


def test_corrupt_truncated_and_mismatched_checkpoints(tmp_path):
    model = _model()
    opt_state = optax.sgd(0.1).init(eqx.filter(model, eqx.is_inexact_array))
    path = tmp_path / "checkpoint.eqx"
    save_checkpoint(path, model, opt_state, {"epoch": 1})
    m, _, meta = load_checkpoint(path, model, opt_state)
    assert meta["epoch"] == 1
    for a, b in zip(_leaves(m), _leaves(model), strict=True):
        np.testing.assert_array_equal(a, b)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path, model, opt_state)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path, model, opt_state)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not an eqsnn checkpoint"):
        load_checkpoint(path, model, opt_state)
    save_checkpoint(path, model, opt_state, {"epoch": 1})
    other = _model(hidden=6)
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path, other, optax.sgd(0.1).init(eqx.filter(other, eqx.is_inexact_array)))
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "missing.eqx", model, opt_state)
