"""The real Fashion-MNIST files (Debian's dataset-fashion-mnist, installed by `.ci/run`)."""

from __future__ import annotations

import hashlib
from pathlib import Path
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn import encoding
from eqsnn.data import _datasets

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

pytestmark = pytest.mark.skipif(
    not all((DEBIAN / (f + ".gz")).is_file() for f in FILES),
    reason=f"Fashion-MNIST not installed in {DEBIAN} (apt-get install dataset-fashion-mnist)",
)


@pytest.fixture(scope="module")
def debian_only(tmp_path_factory):
    """Load from the Debian folder only: empty cache, no $EQSNN_DATA, never download."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))
    mp.delenv("EQSNN_DATA", raising=False)
    mp.setattr(_datasets, "_urlopen", lambda url, timeout: pytest.fail(f"tried to download {url}"))
    train = eqsnn.data.fashion_mnist("train", download=False)
    test = eqsnn.data.fashion_mnist("test", download=False)
    mp.undo()
    return train, test


def test_sizes_dtypes_and_class_balance(debian_only):
    (x, y), (xt, yt) = debian_only
    assert x.shape == (60_000, 28, 28) and x.dtype == np.uint8
    assert xt.shape == (10_000, 28, 28) and xt.dtype == np.uint8
    assert y.shape == (60_000,) and yt.shape == (10_000,) and y.dtype == np.int32 and yt.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [6_000] * 10)
    np.testing.assert_array_equal(np.bincount(yt, minlength=10), [1_000] * 10)
    assert y.min() == 0 and y.max() == 9
    assert x.max() == 255 and x.min() == 0


def test_matches_a_plain_reader_and_the_known_checksums():
    # Decompress with zlib and slice the header by hand: independent of eqsnn's reader.
    contents = {f: zlib.decompress((DEBIAN / (f + ".gz")).read_bytes(), wbits=31) for f in FILES}
    for images_file, labels_file in _datasets.FASHION_MNIST.splits.values():
        for f in (images_file, labels_file):
            assert hashlib.sha256(contents[f.name]).hexdigest() == f.sha256
    images = eqsnn.data.read_idx(DEBIAN / "t10k-images-idx3-ubyte.gz")
    raw = contents["t10k-images-idx3-ubyte"]
    assert raw[:4] == b"\x00\x00\x08\x03"
    np.testing.assert_array_equal(images.reshape(-1), np.frombuffer(raw, np.uint8, offset=16))
    labels = eqsnn.data.read_idx(DEBIAN / "t10k-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(labels, np.frombuffer(contents["t10k-labels-idx1-ubyte"], np.uint8, offset=8))


def test_latency_on_real_images_matches_numpy(debian_only):
    (x, _), _ = debian_only
    images = x[:512].reshape(512, -1)
    num_steps = 100
    # The encoder on device (float32) ...
    scaled = jnp.asarray(images).astype(jnp.float32) / 255
    steps = np.asarray(jax.jit(encoding.latency_steps, static_argnums=1)(scaled, num_steps))
    dense = np.asarray(jax.jit(jax.vmap(lambda xi: encoding.latency(xi, num_steps)))(scaled))
    # ... against the formula in float64 NumPy.
    x64 = images.astype(np.float64) / 255.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = 20.0 * np.log(np.maximum(x64, 0.2 + 1e-7) / (np.maximum(x64, 0.2 + 1e-7) - 0.2))
    want = np.where((x64 >= 0.2) & (np.floor(t) < num_steps), np.floor(t), num_steps).astype(np.int32)
    np.testing.assert_array_equal(steps, want)
    b, n = np.nonzero(want < num_steps)
    expected = np.zeros((512, num_steps, 784), np.float32)
    expected[b, want[b, n], n] = 1.0
    np.testing.assert_array_equal(dense, expected)
    assert dense.sum(axis=1).max() == 1.0
