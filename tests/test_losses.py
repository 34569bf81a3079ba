"""Losses and regularisers against NumPy formulas written out by hand."""

from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eqsnn import losses


def _np_cross_entropy(logits, labels):
    logits = np.asarray(logits, np.float64)
    total = 0.0
    for row, y in zip(logits, labels, strict=True):
        m = row.max()
        total += m + np.log(np.sum(np.exp(row - m))) - row[y]
    return total / len(labels)


_jit_ce, _jit_acc = jax.jit(losses.cross_entropy), jax.jit(losses.accuracy)


@settings(deadline=None)
@given(
    b=st.integers(1, 3),
    c=st.integers(2, 4),
    seed=st.integers(0, 2**16),
    scale=st.floats(0.1, 30.0),
)
def test_cross_entropy_and_accuracy_match_formula(b, c, seed, scale):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((b, c)) * scale).astype(np.float32)
    labels = rng.integers(0, c, size=b).astype(np.int32)
    got = _jit_ce(jnp.asarray(logits), jnp.asarray(labels))
    np.testing.assert_allclose(float(got), _np_cross_entropy(logits, labels), rtol=1e-5, atol=1e-5)
    acc = _jit_acc(jnp.asarray(logits), jnp.asarray(labels))
    hits = sum(int(np.argmax(r) == y) for r, y in zip(logits, labels, strict=True))
    assert float(acc) == pytest.approx(hits / b)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = jnp.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    labels = jnp.array([2, 1])
    g = jax.grad(losses.cross_entropy)(logits, labels)
    e = np.exp(np.asarray(logits, np.float64))
    p = e / e.sum(-1, keepdims=True)
    onehot = np.eye(3)[np.asarray(labels)]
    np.testing.assert_allclose(g, (p - onehot) / 2, rtol=1e-5, atol=1e-6)


def test_mse():
    p = jnp.array([[1.0, 2.0], [3.0, 5.0]])
    t = jnp.array([[1.0, 0.0], [0.0, 5.0]])
    assert float(losses.mse(p, t)) == pytest.approx((0 + 4 + 9 + 0) / 4)


def test_spike_regularisers_follow_the_seed():
    # spikes [B=2, T=3, N=2]; neuron 0 fires 1+2 = 3 times, neuron 1 fires 1+1 = 2 times
    s = jnp.array(
        [
            [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]],
            [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
        ]
    )
    s = s.at[0, 2, 0].set(0.0)
    counts = np.array([3.0, 2.0])
    assert float(losses.spike_l1(s)) == pytest.approx(counts.sum())
    assert float(losses.spike_l2(s)) == pytest.approx(np.mean(counts**2))
    # the seed's own expression: mean(sum(sum(s, axis=0), axis=0) ** 2)
    seed_l2 = np.mean(np.sum(np.sum(np.asarray(s), axis=0), axis=0) ** 2)
    assert float(losses.spike_l2(s)) == pytest.approx(seed_l2)
    # d R2 / d s_btn = 2 count_n / N
    g = jax.grad(losses.spike_l2)(s)
    np.testing.assert_allclose(g, np.broadcast_to(2 * counts / 2, s.shape))


def test_bad_labels_are_rejected():
    logits = jnp.zeros((3, 4))
    with pytest.raises(Exception, match="labels"):
        losses.cross_entropy(logits, jnp.zeros((3,), jnp.float32))
    with pytest.raises(Exception, match="labels"):
        losses.accuracy(logits, jnp.zeros((2,), jnp.int32))
    with pytest.raises(Exception, match="targets"):
        losses.mse(jnp.zeros((3,)), jnp.zeros((4,)))
