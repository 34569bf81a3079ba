"""IDX reader, dataset search order and download (never over the network), and mini-batching."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
from pathlib import Path
import struct

from hypothesis import given, settings, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eqsnn
from eqsnn.data import _datasets
from eqsnn.data._datasets import _Dataset, _File

# ---------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray, code: int) -> bytes:
    """IDX content written by hand with `struct` (independent of the reader)."""
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(big).tobytes()


def tiny_split(n: int, marker: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` images whose pixels and labels identify where they were read from."""
    images = np.full((n, 28, 28), marker, dtype=np.uint8)
    images[:, 0, 0] = np.arange(n)
    labels = (np.arange(n) + marker) % 10
    return images, labels.astype(np.uint8)


def write_split(directory: Path, prefix: str, n: int, marker: int, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    directory.mkdir(parents=True, exist_ok=True)
    images, labels = tiny_split(n, marker)
    for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        content = idx_bytes(arr, 0x08)
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(content))
        else:
            (directory / name).write_bytes(content)
    return images, labels


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(url, timeout):
        raise AssertionError(f"a test tried to open {url}")

    monkeypatch.setattr(_datasets, "_urlopen", refuse)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated search path: a temporary cache, no $EQSNN_DATA, a temporary 'system' folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("EQSNN_DATA", raising=False)
    system = tmp_path / "system"
    monkeypatch.setattr(
        _datasets, "FASHION_MNIST", dataclasses.replace(_datasets.FASHION_MNIST, system_dirs=(str(system),))
    )
    monkeypatch.setattr(_datasets, "MNIST", dataclasses.replace(_datasets.MNIST, system_dirs=(str(system),)))
    return tmp_path


# ---------------------------------------------------------------- IDX reader


@pytest.mark.parametrize(
    "code,dtype",
    [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)],
)
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_every_dtype(tmp_path, code, dtype, gz):
    rng = np.random.default_rng(code)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    content = idx_bytes(arr, code)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(content) if gz else content)
    out = eqsnn.data.read_idx(path)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 1  # writable


def test_idx_magic_layout_by_hand(tmp_path):
    # The MNIST label file header, byte by byte: 00 00 08 01, then N = 3.
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 9]))
    np.testing.assert_array_equal(eqsnn.data.read_idx(path), [7, 2, 9])


@pytest.mark.parametrize(
    "content,message",
    [
        (b"\x00\x00", "truncated IDX file"),
        (bytes([1, 0, 8, 1, 0, 0, 0, 1, 5]), "magic number"),
        (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]), "element type code 0x42"),
        (bytes([0, 0, 8, 0]), "number of dimensions"),
        (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "truncated IDX header"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3]), "needs 4 data bytes, found 3"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]), "1 trailing bytes"),
        (bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]), "needs 8 data bytes, found 7"),
    ],
)
def test_idx_invalid_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(eqsnn.data.IDXError, match=message) as info:
        eqsnn.data.read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_idx_truncated_and_corrupt_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8), 0x08))
    for name, data in (("cut.gz", packed[: len(packed) // 2]), ("bad.gz", packed[:10] + b"\xff" * 20 + packed[30:])):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(eqsnn.data.IDXError, match="gzip") as info:
            eqsnn.data.read_idx(path)
        assert str(path) in str(info.value)


# ---------------------------------------------------------------- search order


def test_search_order_root_env_cache_system(env, monkeypatch):
    system = env / "system"
    cache = env / "xdg" / "eqsnn" / "fashion-mnist"
    data_env = env / "envdata"
    root = env / "root"
    write_split(system, "train", 3, marker=1, gz=True)
    # System copy only.
    assert eqsnn.data.fashion_mnist("train", download=False)[0][0, 1, 1] == 1
    # The cache wins over the system copy.
    write_split(cache, "train", 4, marker=2, gz=False)
    images, labels = eqsnn.data.fashion_mnist("train", download=False)
    assert images.shape == (4, 28, 28) and images[0, 1, 1] == 2
    np.testing.assert_array_equal(labels, (np.arange(4) + 2) % 10)
    # $EQSNN_DATA (datasets in sub-folders) wins over the cache.
    monkeypatch.setenv("EQSNN_DATA", str(data_env))
    write_split(data_env / "fashion-mnist", "train", 5, marker=3, gz=True)
    assert eqsnn.data.fashion_mnist("train", download=False)[0][0, 1, 1] == 3
    # `root` (files directly inside) wins over everything.
    write_split(root, "train", 6, marker=4, gz=False)
    images, labels = eqsnn.data.fashion_mnist("train", root=root, download=False)
    assert images[0, 1, 1] == 4 and images.dtype == np.uint8 and labels.dtype == np.int32
    # MNIST files in `<dir>/mnist` are not mistaken for Fashion-MNIST and vice versa.
    write_split(data_env / "mnist", "t10k", 2, marker=5, gz=True)
    assert eqsnn.data.mnist("test", download=False)[0][0, 1, 1] == 5
    with pytest.raises(FileNotFoundError, match="not found"):
        eqsnn.data.fashion_mnist("test", download=False)


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert eqsnn.data.cache_dir() == tmp_path / "eqsnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert eqsnn.data.cache_dir() == tmp_path / "home" / ".cache" / "eqsnn"


def test_missing_without_download_lists_the_folders(env):
    with pytest.raises(FileNotFoundError) as info:
        eqsnn.data.fashion_mnist("train", root=env / "nowhere", download=False)
    text = str(info.value)
    for folder in (env / "nowhere", env / "xdg" / "eqsnn" / "fashion-mnist", env / "system"):
        assert str(folder) in text


def test_mismatched_and_wrong_files(env):
    root = env / "root"
    write_split(root, "train", 3, marker=1, gz=False)
    labels = idx_bytes(np.zeros(4, dtype=np.uint8), 0x08)
    (root / "train-labels-idx1-ubyte").write_bytes(labels)
    with pytest.raises(eqsnn.data.IDXError, match="3 images but .* 4 labels"):
        eqsnn.data.fashion_mnist("train", root=root, download=False)
    (root / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([0, 1, 12], dtype=np.uint8), 0x08))
    with pytest.raises(eqsnn.data.IDXError, match="labels must be in 0..9, got 12"):
        eqsnn.data.fashion_mnist("train", root=root, download=False)
    (root / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 27, 28), dtype=np.uint8), 0x08))
    with pytest.raises(eqsnn.data.IDXError, match=r"shape \[N, 28, 28\]"):
        eqsnn.data.fashion_mnist("train", root=root, download=False)


def test_bad_split_names_the_argument(env):
    with pytest.raises(ValueError, match="`split` must be one of .*'validation'"):
        eqsnn.data.fashion_mnist("validation", download=False)


# ---------------------------------------------------------------- download (fake server)


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, *, length: int | None = None, fail_after: int | None = None):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data) if length is None else length)}
        self.fail_after = fail_after

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(n if self.fail_after is None else min(n, self.fail_after))


def serve(monkeypatch, pages: dict[str, object]) -> list[str]:
    """Route `_urlopen` to `pages` (url -> bytes or a callable returning a response); returns the log."""
    log: list[str] = []

    def opener(url, timeout):
        log.append(url)
        page = pages.get(url)
        if page is None:
            raise OSError(f"404 {url}")
        return page() if callable(page) else FakeResponse(page)

    monkeypatch.setattr(_datasets, "_urlopen", opener)
    return log


def fake_dataset(monkeypatch, *, use_md5: bool, mirrors=("http://mirror.invalid/a/", "http://mirror.invalid/b/")):
    """A tiny Fashion-MNIST stand-in with its own checksums (computed here with hashlib)."""
    images, labels = tiny_split(7, marker=9)
    contents = {"t10k-images-idx3-ubyte": idx_bytes(images, 0x08), "t10k-labels-idx1-ubyte": idx_bytes(labels, 0x08)}
    payloads = {name: gzip.compress(c, mtime=0) for name, c in contents.items()}

    def file(name):
        if use_md5:
            return _File(name, None, hashlib.md5(payloads[name]).hexdigest())
        return _File(name, hashlib.sha256(contents[name]).hexdigest(), None)

    spec = _Dataset(
        name="fashion-mnist",
        title="Fashion-MNIST",
        mirrors=mirrors,
        splits={"test": (file("t10k-images-idx3-ubyte"), file("t10k-labels-idx1-ubyte"))},
        system_dirs=(),
    )
    monkeypatch.setattr(_datasets, "FASHION_MNIST", spec)
    return images, labels, contents, payloads


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*")) if directory.exists() else []


@pytest.mark.parametrize("use_md5", [False, True])
def test_download_verifies_and_stores_decompressed(env, monkeypatch, use_md5):
    images, labels, contents, payloads = fake_dataset(monkeypatch, use_md5=use_md5)
    # The first mirror is down: the second one serves.
    log = serve(monkeypatch, {f"http://mirror.invalid/b/{n}.gz": p for n, p in payloads.items()})
    got_images, got_labels = eqsnn.data.fashion_mnist("test")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    cache = env / "xdg" / "eqsnn" / "fashion-mnist"
    assert leftovers(cache) == sorted(contents)
    for name, content in contents.items():
        assert (cache / name).read_bytes() == content
    assert log[:2] == [
        "http://mirror.invalid/a/t10k-images-idx3-ubyte.gz",
        "http://mirror.invalid/b/t10k-images-idx3-ubyte.gz",
    ]
    # Second call: read from the cache, no request at all.
    n_requests = len(log)
    eqsnn.data.fashion_mnist("test")
    assert len(log) == n_requests


@pytest.mark.parametrize("use_md5", [False, True])
def test_checksum_mismatch_raises_and_writes_nothing(env, monkeypatch, use_md5):
    _, _, contents, payloads = fake_dataset(monkeypatch, use_md5=use_md5)
    tampered = {}
    for name, content in contents.items():
        bad = bytearray(content)
        bad[-1] ^= 0xFF  # still a valid IDX file, different content
        tampered[f"http://mirror.invalid/a/{name}.gz"] = gzip.compress(bytes(bad))
        tampered[f"http://mirror.invalid/b/{name}.gz"] = gzip.compress(bytes(bad))
    serve(monkeypatch, tampered)
    with pytest.raises(eqsnn.data.DownloadError, match="checksum mismatch") as info:
        eqsnn.data.fashion_mnist("test")
    assert "nothing was written" in str(info.value)
    assert leftovers(env / "xdg") in ([], ["eqsnn", "fashion-mnist"])


@pytest.mark.parametrize("how", ["reset", "short"])
def test_interrupted_download_leaves_no_file(env, monkeypatch, how):
    _, _, _, payloads = fake_dataset(monkeypatch, use_md5=False, mirrors=("http://mirror.invalid/a/",))
    name = "t10k-images-idx3-ubyte"
    payload = payloads[name]
    if how == "reset":
        page = lambda: FakeResponse(payload, fail_after=len(payload) // 3)
    else:
        page = lambda: FakeResponse(payload[: len(payload) // 3], length=len(payload))
    serve(monkeypatch, {f"http://mirror.invalid/a/{name}.gz": page})
    with pytest.raises(eqsnn.data.DownloadError, match="connection reset|interrupted transfer"):
        eqsnn.data.fashion_mnist("test")
    cache = env / "xdg" / "eqsnn" / "fashion-mnist"
    assert not (cache / name).exists()
    assert leftovers(env / "xdg") in ([], ["eqsnn", "fashion-mnist"])


def test_atomic_write_failure_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out" / "file"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        _datasets.atomic_write(target, b"abc")
    assert leftovers(tmp_path / "out") == []


def test_real_mirror_urls_and_checksums_are_well_formed():
    for spec in (_datasets.FASHION_MNIST, _datasets.MNIST):
        assert all(m.startswith(("http://", "https://")) and m.endswith("/") for m in spec.mirrors)
        for images, labels in spec.splits.values():
            for f in (images, labels):
                assert (f.sha256 is None or len(f.sha256) == 64) and (f.gz_md5 is None or len(f.gz_md5) == 32)
                assert f.sha256 is not None or f.gz_md5 is not None


# ---------------------------------------------------------------- batches


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 16), drop_last=st.booleans(), seed=st.integers(0, 2**16))
def test_batches_cover_a_permutation(n, batch_size, drop_last, seed):
    x = np.arange(n) * 10
    y = np.arange(n)
    out = list(eqsnn.data.batches(x, y, batch_size=batch_size, key=jax.random.key(seed), drop_last=drop_last))
    sizes = [len(b[1]) for b in out]
    full, rest = divmod(n, batch_size)
    expected_sizes = [batch_size] * full + ([] if drop_last or rest == 0 else [rest])
    assert sizes == expected_sizes
    seen = np.concatenate([np.asarray(b[1]) for b in out]) if out else np.zeros(0, int)
    assert len(set(seen.tolist())) == len(seen)  # no repeats
    if not drop_last:
        assert sorted(seen.tolist()) == list(range(n))
    for bx, by in out:  # rows stay aligned across arrays
        np.testing.assert_array_equal(np.asarray(bx), np.asarray(by) * 10)


def test_batches_order_depends_only_on_the_key():
    x = np.arange(50)
    order = lambda key: np.concatenate([np.asarray(b[0]) for b in eqsnn.data.batches(x, batch_size=8, key=key)])
    a = order(jax.random.key(1))
    np.testing.assert_array_equal(a, order(jax.random.key(1)))
    np.testing.assert_array_equal(a, order(jax.random.PRNGKey(1)))  # raw keys work the same way
    assert not np.array_equal(a, order(jax.random.key(2)))
    assert not np.array_equal(a, np.arange(50))
    np.testing.assert_array_equal(order(None), np.arange(50))  # no key: in order


def test_batches_gather_multi_dimensional_arrays():
    x = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    (bx,), (last,) = list(eqsnn.data.batches(x, batch_size=3, key=None))
    np.testing.assert_array_equal(np.asarray(bx), x[:3])
    np.testing.assert_array_equal(np.asarray(last), x[3:])


def test_batches_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"same leading length, got lengths \[3, 4\]"):
        eqsnn.data.batches(np.zeros(3), np.zeros(4), batch_size=2)
    for bad in (0, -1, True):
        with pytest.raises(ValueError, match=f"`batch_size` must be a positive int, got {bad!r}"):
            eqsnn.data.batches(np.zeros(3), batch_size=bad)
    with pytest.raises(TypeError, match="at least one array"):
        eqsnn.data.batches(batch_size=2)
    with pytest.raises(ValueError, match="leading"):
        eqsnn.data.batches(np.float32(1.0), batch_size=2)


@pytest.mark.parametrize("n,batch_size", [(10, 3), (12, 4), (5, 8)])
def test_epoch_indices(n, batch_size):
    key = jax.random.key(0)
    perm = np.asarray(jax.random.permutation(key, n))
    full, rest = divmod(n, batch_size)
    if full:
        idx = eqsnn.data.epoch_indices(n, batch_size, key)
        assert idx.shape == (full, batch_size)
        np.testing.assert_array_equal(np.asarray(idx).ravel(), perm[: full * batch_size])
    else:
        with pytest.raises(ValueError, match="batch_size"):
            eqsnn.data.epoch_indices(n, batch_size, key)
    padded = np.asarray(eqsnn.data.epoch_indices(n, batch_size, key, drop_last=False))
    assert padded.shape == (-(-n // batch_size), batch_size)
    np.testing.assert_array_equal(padded.ravel()[:n], perm)
    assert set(padded.ravel().tolist()) == set(range(n))
    pad = padded.ravel()[n:]
    np.testing.assert_array_equal(pad, np.resize(perm, pad.shape))
    # Jittable: key traced, sizes static; same indices as eagerly.
    jitted = jax.jit(eqsnn.data.epoch_indices, static_argnums=(0, 1), static_argnames="drop_last")
    np.testing.assert_array_equal(np.asarray(jitted(n, batch_size, key, drop_last=False)), padded)


def test_epoch_indices_gather_inside_jit():
    x = jnp.arange(12.0) * 2

    @jax.jit
    def epoch_sums(key):
        idx = eqsnn.data.epoch_indices(12, 4, key)
        return jax.lax.map(lambda i: x[i].sum(), idx)

    sums = np.asarray(epoch_sums(jax.random.key(3)))
    assert sums.shape == (3,) and np.isclose(sums.sum(), np.asarray(x).sum())
    assert eqsnn.data.epoch_indices(12, 5, None).tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
