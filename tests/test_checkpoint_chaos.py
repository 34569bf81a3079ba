"""Checkpoint chaos: bit flips anywhere, truncation, killed writes, bad folders.

After any damage, resuming either raises a clear `CheckpointError` or gives a
result bit-identical to the uninterrupted run, never a silently different history.
"""

import os
from pathlib import Path
import shutil
import stat

import equinox as eqx
from hypothesis import given, settings, strategies as st
import jax
import numpy as np
import optax
import pytest

import eqsnn
from eqsnn import losses
from eqsnn.nn import Linear
from eqsnn.train import BPTT, CheckpointError, History

KEY = jax.random.key(3)
BATCH = 8


def _data():
    x = np.random.default_rng(0).standard_normal((16, 3, 2)).astype(np.float32)
    return x, (x[:, :, 0].sum(axis=1) > 0).astype(np.int32)


def _loss(outputs, targets, monitored):
    return losses.cross_entropy(outputs[:, -1], targets)


def _model():
    return eqsnn.Sequential(Linear(2, 2, key=jax.random.key(0)))


def _trainer():
    return BPTT(_loss, optax.sgd(0.1, momentum=0.5), progress=False, verbose=False)


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def _fit(directory, num_epochs, resume=False, batch_size=BATCH):
    return _trainer().fit(
        _model(),
        _data(),
        num_epochs=num_epochs,
        batch_size=batch_size,
        key=KEY,
        checkpoint_dir=directory,
        resume=resume,
    )


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """The uninterrupted 2-epoch run, and the checkpoint bytes after epoch 1."""
    full, h_full = _fit(tmp_path_factory.mktemp("full"), 2)
    one = tmp_path_factory.mktemp("one")
    _fit(one, 1)
    return {"model": full, "history": h_full, "ckpt1": (one / "checkpoint.eqx").read_bytes()}


def _resume_from(tmp_path, content, ref):
    """Resume a 2-epoch run from `content`; check 'clear error or bit-identical'."""
    d = tmp_path / "run"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    (d / "checkpoint.eqx").write_bytes(content)
    try:
        model, history = _fit(d, 2, resume=True)
    except CheckpointError as e:
        assert "checkpoint" in str(e)
        return "error"
    for a, b in zip(_leaves(model), _leaves(ref["model"]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (history.epochs, history.steps) == (ref["history"].epochs, ref["history"].steps)
    return "identical"


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_any_single_bit_flip_is_refused(tmp_path_factory, ref, data):
    content = bytearray(ref["ckpt1"])
    i = data.draw(st.integers(0, len(content) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    content[i] ^= 1 << bit
    # the SHA-256 covers the whole file, so any flip is an error
    assert _resume_from(tmp_path_factory.mktemp("flip"), bytes(content), ref) == "error"


@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_truncation_at_any_length_is_refused(tmp_path_factory, ref, data):
    n = data.draw(st.integers(0, len(ref["ckpt1"]) - 1), label="length")
    assert _resume_from(tmp_path_factory.mktemp("trunc"), ref["ckpt1"][:n], ref) == "error"


def test_header_epoch_flip_is_refused(tmp_path, ref):
    content = ref["ckpt1"].replace(b'"epoch": 1', b'"epoch": 0', 1)
    assert content != ref["ckpt1"]
    assert _resume_from(tmp_path, content, ref) == "error"


@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_killed_write_leaves_old_checkpoint_or_nothing(tmp_path_factory, ref, data):
    """A kill mid-write leaves a partial `.part` next to the old file (or no file at all):
    resuming gives the uninterrupted result and removes the `.part`."""
    d = tmp_path_factory.mktemp("kill")
    n = data.draw(st.integers(0, len(ref["ckpt1"])), label="written")
    had_old = data.draw(st.booleans(), label="old checkpoint present")
    if had_old:
        (d / "checkpoint.eqx").write_bytes(ref["ckpt1"])
    part = d / ".checkpoint.eqx.abc123.part"
    part.write_bytes(ref["ckpt1"][:n])
    model, history = _fit(d, 2, resume=True)
    for a, b in zip(_leaves(model), _leaves(ref["model"]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (history.epochs, history.steps) == (ref["history"].epochs, ref["history"].steps)
    assert not part.exists()
    assert sorted(p.name for p in d.iterdir()) == ["checkpoint.eqx"]


def test_resume_with_another_batch_size_is_refused(tmp_path, ref):
    (tmp_path / "checkpoint.eqx").write_bytes(ref["ckpt1"])
    with pytest.raises(CheckpointError, match="batch_size"):
        _fit(tmp_path, 2, resume=True, batch_size=4)


def test_unwritable_checkpoint_dir_fails_before_training(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(CheckpointError, match="checkpoint_dir"):
        _fit(a_file, 1)
    with pytest.raises(TypeError, match="checkpoint_dir"):
        _fit(123, 1)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write a read-only folder")
def test_read_only_checkpoint_dir_fails_before_training(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(CheckpointError, match="not a writable folder"):
            _fit(d, 1)
    finally:
        d.chmod(stat.S_IRWXU)


def test_save_failure_hands_back_the_trained_model(tmp_path, monkeypatch):
    import eqsnn.train._bptt as bptt

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bptt, "save_checkpoint", fail)
    with pytest.raises(CheckpointError, match="attached") as info:
        _fit(tmp_path, 1)
    assert isinstance(info.value.history, History) and info.value.history.num_epochs == 1
    assert isinstance(info.value.model, eqsnn.Sequential)


def test_old_format_is_refused(tmp_path, ref):
    content = ref["ckpt1"].replace(b"EQSNN-CHECKPOINT/2", b"EQSNN-CHECKPOINT/1", 1)
    assert _resume_from(tmp_path, content, ref) == "error"
    assert Path(tmp_path / "run" / "checkpoint.eqx").exists()
