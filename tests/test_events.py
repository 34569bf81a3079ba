"""Event data: SHD/SSC HDF5 and N-MNIST binary readers (files written here in the official layouts),
downloads through a fake server, on-device binning against NumPy, the event-driven matmul against the
dense one, tonic-style interop, and the SHD example end to end."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import io
import json
import os
from pathlib import Path
import subprocess
import sys
import zipfile

from helpers import jaxpr_shapes, linear
from hypothesis import given, strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_data import FakeResponse, leftovers, serve

import eqsnn
from eqsnn.data import EventFileError, Events, EventSequence, _datasets, _nmnist, _shd, bin_events
from eqsnn.data._fetch import RemoteFile, Source

h5py = pytest.importorskip("h5py", reason="h5py (the `events` extra) reads the SHD/SSC files")

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- writers (independent of the readers)


def random_samples(seed: int, n: int, max_events: int = 60, num_units: int = 700, num_classes: int = 20):
    """Per-sample float16 seconds (sorted), uint16 channels, labels; sample 1 is empty."""
    rng = np.random.default_rng(seed)
    times, units = [], []
    for i in range(n):
        k = 0 if i == 1 else int(rng.integers(1, max_events))
        times.append(np.sort(rng.uniform(0.0, 1.4, k)).astype(np.float16))
        units.append(rng.integers(0, num_units, k).astype(np.uint16))
    labels = rng.integers(0, num_classes, n).astype(np.uint8)
    return times, units, labels


def write_hdf5(path: Path, times, units, labels, *, keys=None, speaker=None) -> Path:
    """A file in the official SHD/SSC layout, written with h5py variable-length datasets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float16))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ui) in enumerate(zip(times, units, strict=True)):
            t[i] = ti
            u[i] = ui
        f.create_dataset("labels", data=labels)
        if keys is not None:
            f.create_dataset("extra/keys", data=np.array([k.encode() for k in keys]))
        if speaker is not None:
            f.create_dataset("extra/speaker", data=speaker)
    return path


def expected_ms(t16: np.ndarray) -> np.ndarray:
    """The documented conversion: float16 seconds -> float64 -> x 1000 -> float32 ms."""
    return (t16.astype(np.float64) * 1000.0).astype(np.float32)


def nmnist_bytes(x, y, p, t_us) -> bytes:
    """5-byte big-endian records: x (8 bits), y (8), polarity (1), timestamp (23), packed as integers."""
    out = bytearray()
    for xi, yi, pi, ti in zip(x, y, p, t_us, strict=True):
        word = (int(xi) << 32) | (int(yi) << 24) | (int(pi) << 23) | (int(ti) & ((1 << 23) - 1))
        out += word.to_bytes(5, "big")
    return bytes(out)


def random_nmnist(seed: int, per_digit: int = 2):
    """{(digit, name): (x, y, p, t_us)} for a few samples per digit."""
    rng = np.random.default_rng(seed)
    out = {}
    for d in range(10):
        for j in range(per_digit):
            k = int(rng.integers(0, 40)) if (d, j) != (3, 0) else 0
            out[(d, f"{j:05d}.bin")] = (
                rng.integers(0, 34, k),
                rng.integers(0, 34, k),
                rng.integers(0, 2, k),
                np.sort(rng.integers(0, 300_000, k)),
            )
    return out


def write_nmnist_tree(base: Path, folder: str, samples) -> Path:
    for (d, name), rec in samples.items():
        (base / folder / str(d)).mkdir(parents=True, exist_ok=True)
        (base / folder / str(d) / name).write_bytes(nmnist_bytes(*rec))
    return base / folder


def nmnist_zip(folder: str, samples) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for (d, name), rec in samples.items():
            zf.writestr(f"{folder}/{d}/{name}", nmnist_bytes(*rec))
    return buf.getvalue()


def nmnist_expected(samples):
    """Samples sorted by digit then name: (ms times, channels, labels)."""
    keys = sorted(samples, key=lambda k: (k[0], k[1]))
    times = [(samples[k][3].astype(np.float64) / 1000.0).astype(np.float32) for k in keys]
    units = [(samples[k][0] + 34 * (samples[k][1] + 34 * samples[k][2])).astype(np.int32) for k in keys]
    return times, units, np.array([k[0] for k in keys], np.int32)


def assert_events_equal(ev: Events, times, units, labels):
    assert ev.times.dtype == np.float32 and ev.units.dtype == np.int32
    assert ev.counts.dtype == np.int32 and ev.labels.dtype == np.int32
    np.testing.assert_array_equal(ev.counts, [len(t) for t in times])
    np.testing.assert_array_equal(ev.labels, labels)
    assert ev.times.shape == ev.units.shape == (len(times), max(len(t) for t in times))
    for n, (t, u) in enumerate(zip(times, units, strict=True)):
        np.testing.assert_array_equal(ev.times[n, : len(t)], t)
        np.testing.assert_array_equal(ev.units[n, : len(u)], u)
        assert not ev.times[n, len(t) :].any() and not ev.units[n, len(u) :].any()  # padding is zeros


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(url, timeout):
        raise AssertionError(f"a test tried to open {url}")

    monkeypatch.setattr(_datasets, "_urlopen", refuse)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Isolated search path: a temporary cache and no $EQSNN_DATA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("EQSNN_DATA", raising=False)
    return tmp_path


# ---------------------------------------------------------------- SHD / SSC files


def test_shd_file_loads_exactly_the_events_written(env):
    times, units, labels = random_samples(0, 9)
    keys = [f"word-{i}" for i in range(20)]
    speaker = np.arange(9, dtype=np.int16) % 4
    write_hdf5(env / "root" / "shd_train.h5", times, units, labels, keys=keys, speaker=speaker)
    ev, extra = eqsnn.data.shd("train", root=env / "root", download=False, return_extra=True)
    assert_events_equal(ev, [expected_ms(t) for t in times], [u.astype(np.int32) for u in units], labels)
    assert extra["keys"] == keys
    np.testing.assert_array_equal(extra["speaker"], speaker)
    assert extra["speaker"].dtype == np.int32
    # plain call: events only
    assert isinstance(eqsnn.data.shd("train", root=env / "root", download=False), Events)


def test_float16_seconds_become_exact_float32_ms():
    # float16 seconds near the end of an SHD sample: in float16 arithmetic 1000 * t loses the sub-ms part
    # (and 1e6 * t, tonic's microseconds, overflows float16's 65504); the reader widens first.
    t16 = np.array([1.3994140625, 0.0009765625, 0.7001953125], np.float16)
    assert np.any(t16 * np.float16(1000) != expected_ms(t16))
    ev = eqsnn.data.pad_events([t16], [np.array([1, 2, 3])], [0], time_scale=1000.0)
    np.testing.assert_array_equal(ev.times[0], [1399.4140625, 0.9765625, 700.1953125])


def test_ssc_split_names_and_gz_files(env):
    times, units, labels = random_samples(1, 5, num_classes=35)
    root = env / "data"
    path = write_hdf5(env / "tmp" / "ssc_valid.h5", times, units, labels)
    (root / "ssc").mkdir(parents=True)
    (root / "ssc" / "ssc_valid.h5.gz").write_bytes(gzip.compress(path.read_bytes()))
    ev = eqsnn.data.ssc("valid", root=root, download=False)
    assert_events_equal(ev, [expected_ms(t) for t in times], [u.astype(np.int32) for u in units], labels)
    with pytest.raises(ValueError, match="`split` must be one of .*'train', 'valid', 'test'.*got 'dev'"):
        eqsnn.data.ssc("dev", download=False)


def test_search_order_root_env_cache(env, monkeypatch):
    def put(folder: Path, name: str, label: int):
        write_hdf5(folder / name, [np.zeros(1, np.float16)], [np.zeros(1, np.uint16)], np.array([label]))

    put(env / "xdg" / "eqsnn" / "shd", "shd_test.h5", 1)
    assert eqsnn.data.shd("test", download=False).labels[0] == 1
    monkeypatch.setenv("EQSNN_DATA", str(env / "envdata"))
    put(env / "envdata" / "shd", "shd_test.h5", 2)
    assert eqsnn.data.shd("test", download=False).labels[0] == 2
    put(env / "root", "shd_test.h5", 3)
    assert eqsnn.data.shd("test", root=env / "root", download=False).labels[0] == 3


def test_offline_error_says_what_to_do(env):
    with pytest.raises(FileNotFoundError) as info:
        eqsnn.data.shd("test", root=env / "nowhere", download=False)
    text = str(info.value)
    for folder in (env / "nowhere" / "shd", env / "nowhere", env / "xdg" / "eqsnn" / "shd"):
        assert str(folder) in text
    for hint in ("shd_test.h5", "download=True", "root=", "$EQSNN_DATA"):
        assert hint in text


def test_truncated_and_corrupt_hdf5_name_the_file(env):
    times, units, labels = random_samples(2, 30, max_events=400)
    good = write_hdf5(env / "good" / "shd_train.h5", times, units, labels).read_bytes()
    cases = {
        "cut": good[: len(good) // 2],
        "garbage": b"\x00not an hdf5 file" * 64,
        "flipped": good[:512] + bytes(b ^ 0xFF for b in good[512:4096]) + good[4096:],
    }
    for name, data in cases.items():
        root = env / name
        root.mkdir()
        (root / "shd_train.h5").write_bytes(data)
        with pytest.raises(EventFileError) as info:
            eqsnn.data.shd("train", root=root, download=False)
        assert str(root / "shd_train.h5") in str(info.value), name
        assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "change,message",
    [
        ("no_labels", "missing dataset 'labels'"),
        ("short_labels", "same length"),
        ("unit_700", r"channels must be in \[0, 700\)"),
        ("label_20", "labels must be in 0..19"),
        ("ragged", "sample 0 has 3 times but 2 units"),
        ("negative_time", "finite and >= 0"),
    ],
)
def test_wrong_layouts_raise_clear_errors(env, change, message):
    times = [np.array([0.1, 0.2, 0.3], np.float16), np.array([0.5], np.float16)]
    units = [np.array([1, 2, 3], np.uint16), np.array([4], np.uint16)]
    labels = np.array([0, 19])
    if change == "unit_700":
        units[1] = np.array([700], np.uint16)
    if change == "label_20":
        labels = np.array([0, 20])
    if change == "ragged":
        units[0] = units[0][:2]
    if change == "negative_time":
        times[1] = np.array([-0.5], np.float16)
    path = write_hdf5(env / "r" / "shd_train.h5", times, units, labels)
    if change in ("no_labels", "short_labels"):
        with h5py.File(path, "a") as f:
            del f["labels"]
            if change == "short_labels":
                f["labels"] = np.array([0])
    with pytest.raises(EventFileError, match=message) as info:
        eqsnn.data.shd("train", root=env / "r", download=False)
    assert str(path) in str(info.value)


def test_max_events_keeps_the_first_events(env):
    times, units, labels = random_samples(3, 6)
    write_hdf5(env / "r" / "shd_train.h5", times, units, labels)
    ev = eqsnn.data.shd("train", root=env / "r", download=False, max_events=5)
    assert ev.times.shape[1] == 5
    np.testing.assert_array_equal(ev.counts, [min(len(t), 5) for t in times])
    np.testing.assert_array_equal(ev.times[0, :5], expected_ms(times[0])[:5])


# ---------------------------------------------------------------- downloads (fake server)


def hdf5_bytes(tmp_path: Path, seed: int, name: str):
    times, units, labels = random_samples(seed, 4)
    path = write_hdf5(tmp_path / "served" / name, times, units, labels)
    return path.read_bytes(), (times, units, labels)


def fake_shd(monkeypatch, sources):
    spec = dataclasses.replace(_shd.SHD, files={"test": RemoteFile("shd_test.h5", tuple(sources))})
    monkeypatch.setattr(_shd, "SHD", spec)


def no_partial_files(directory: Path) -> bool:
    return not any(n.endswith(".part") or n.startswith(".") for n in leftovers(directory))


def test_download_gz_verifies_both_checksums_and_caches(env, monkeypatch):
    content, (times, units, labels) = hdf5_bytes(env, 4, "shd_test.h5")
    payload = gzip.compress(content, mtime=0)
    url_a, url_b = "http://mirror.invalid/a/shd_test.h5.gz", "http://mirror.invalid/b/shd_test.h5.gz"
    md5 = hashlib.md5(payload).hexdigest()
    fake_shd(
        monkeypatch,
        [Source(url_a, md5, "gz"), Source(url_b, md5, "gz", content_md5=hashlib.md5(content).hexdigest())],
    )
    log = serve(monkeypatch, {url_b: payload})  # the first mirror is down
    ev = eqsnn.data.shd("test")
    assert_events_equal(ev, [expected_ms(t) for t in times], [u.astype(np.int32) for u in units], labels)
    cache = env / "xdg" / "eqsnn" / "shd"
    assert leftovers(cache) == ["shd_test.h5"]
    assert (cache / "shd_test.h5").read_bytes() == content
    assert log == [url_a, url_b]
    eqsnn.data.shd("test")  # from the cache: no request
    assert log == [url_a, url_b]


@pytest.mark.parametrize("what", ["archive", "content"])
def test_checksum_mismatch_writes_nothing(env, monkeypatch, what):
    content, _ = hdf5_bytes(env, 5, "shd_test.h5")
    payload = gzip.compress(content)
    url = "http://mirror.invalid/shd_test.h5.gz"
    md5 = hashlib.md5(payload).hexdigest() if what == "content" else "0" * 32
    fake_shd(monkeypatch, [Source(url, md5, "gz", content_md5="f" * 32)])
    serve(monkeypatch, {url: payload})
    with pytest.raises(eqsnn.data.DownloadError, match="checksum mismatch") as info:
        eqsnn.data.shd("test")
    assert "nothing was written" in str(info.value)
    assert leftovers(env / "xdg" / "eqsnn" / "shd") == []


@pytest.mark.parametrize("how", ["reset", "short", "bad_gzip", "not_hdf5"])
def test_broken_downloads_leave_no_file(env, monkeypatch, how):
    content, _ = hdf5_bytes(env, 6, "shd_test.h5")
    if how == "not_hdf5":
        content = b"this is not an HDF5 file" * 100
    payload = gzip.compress(content)
    if how == "bad_gzip":
        payload = payload[: len(payload) // 2]
    url = "http://mirror.invalid/shd_test.h5.gz"
    fake_shd(monkeypatch, [Source(url, hashlib.md5(payload).hexdigest(), "gz")])
    if how == "reset":
        page = lambda: FakeResponse(payload, fail_after=len(payload) // 3)
    elif how == "short":
        page = lambda: FakeResponse(payload[: len(payload) // 3], length=len(payload))
    else:
        page = payload
    serve(monkeypatch, {url: page})
    with pytest.raises(eqsnn.data.DownloadError, match="connection reset|interrupted|gzip|not valid"):
        eqsnn.data.shd("test")
    cache = env / "xdg" / "eqsnn" / "shd"
    assert leftovers(cache) == [] and no_partial_files(env / "xdg")


def test_zip_source_and_md5sums_listing(env, monkeypatch):
    content, (times, _, _) = hdf5_bytes(env, 7, "shd_test.h5")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("shd_test.h5", content)
    zipped = buf.getvalue()
    gz = gzip.compress(content)
    listing = f"{hashlib.md5(gz).hexdigest()}  shd_test.h5.gz\n{'0' * 32}  other.h5.gz\n".encode()
    zip_url, gz_url = "http://z.invalid/d/shd_test.h5.zip", "http://c.invalid/d/shd_test.h5.gz"
    # the zip is corrupt (wrong md5): the next source, checked against md5sums.txt, serves
    fake_shd(monkeypatch, [Source(zip_url, "1" * 32, "zip"), Source(gz_url, None, "gz")])
    log = serve(monkeypatch, {zip_url: zipped, gz_url: gz, "http://c.invalid/d/md5sums.txt": listing})
    np.testing.assert_array_equal(eqsnn.data.shd("test").counts, [len(t) for t in times])
    assert "http://c.invalid/d/md5sums.txt" in log
    # a zip with the right md5 is unpacked
    (env / "xdg" / "eqsnn" / "shd" / "shd_test.h5").unlink()
    fake_shd(monkeypatch, [Source(zip_url, hashlib.md5(zipped).hexdigest(), "zip")])
    np.testing.assert_array_equal(eqsnn.data.shd("test").counts, [len(t) for t in times])


def test_file_missing_from_md5sums_is_refused(env, monkeypatch):
    content, _ = hdf5_bytes(env, 8, "shd_test.h5")
    url = "http://c.invalid/d/shd_test.h5.gz"
    fake_shd(monkeypatch, [Source(url, None, "gz")])
    serve(monkeypatch, {url: gzip.compress(content), "http://c.invalid/d/md5sums.txt": b"abc  other.h5.gz\n"})
    with pytest.raises(eqsnn.data.DownloadError, match="not listed in md5sums.txt"):
        eqsnn.data.shd("test")
    assert leftovers(env / "xdg" / "eqsnn" / "shd") == []


def test_built_in_sources_are_well_formed():
    for spec in (_shd.SHD, _shd.SSC):
        for file in spec.files.values():
            assert file.sources and file.name.endswith(".h5")
            for s in file.sources:
                assert s.url.startswith("https://") and s.url.endswith(file.name + "." + s.packing)
                assert s.md5 is None or (len(s.md5) == 32 and int(s.md5, 16) >= 0)
            assert any(s.md5 is not None for s in file.sources)
    for file in _nmnist.FILES.values():
        assert all(s.packing == "raw" and len(s.md5) == 32 for s in file.sources)


# ---------------------------------------------------------------- N-MNIST


def test_nmnist_folder_and_zip_give_exactly_the_events_written(env):
    samples = random_nmnist(0)
    write_nmnist_tree(env / "root", "Test", samples)
    expected = nmnist_expected(samples)
    assert_events_equal(eqsnn.data.nmnist("test", root=env / "root", download=False), *expected)
    (env / "z" / "nmnist").mkdir(parents=True)
    (env / "z" / "nmnist" / "Test.zip").write_bytes(nmnist_zip("Test", samples))
    assert_events_equal(eqsnn.data.nmnist("test", root=env / "z", download=False), *expected)


def test_nmnist_record_layout_by_hand():
    # x=5, y=7, p=1, t=0x012345 -> bytes 05 07 81 23 45; then an overflow marker (y=240), then t=1 again
    data = bytes([5, 7, 0x81, 0x23, 0x45]) + bytes([0, 240, 0, 0, 0]) + bytes([33, 33, 0, 0, 1])
    t, u = eqsnn.data.parse_nmnist(data)
    np.testing.assert_array_equal(t, [0x012345, 1 + (1 << 13)])
    np.testing.assert_array_equal(u, [5 + 34 * (7 + 34), 33 + 34 * 33])


def test_nmnist_truncated_and_corrupt_files_name_the_file(env):
    samples = random_nmnist(1, per_digit=1)
    folder = write_nmnist_tree(env / "root", "Train", samples)
    bad = folder / "4" / "00000.bin"
    bad.write_bytes(bad.read_bytes() + b"\x01\x02")
    with pytest.raises(EventFileError, match="truncated N-MNIST file") as info:
        eqsnn.data.nmnist("train", root=env / "root", download=False)
    assert str(bad) in str(info.value)
    bad.write_bytes(nmnist_bytes([40], [1], [0], [10]))
    with pytest.raises(EventFileError, match="coordinates must be < 34 x 34") as info:
        eqsnn.data.nmnist("train", root=env / "root", download=False)
    assert str(bad) in str(info.value)
    (env / "zroot").mkdir()
    zipped = nmnist_zip("Train", samples)
    (env / "zroot" / "Train.zip").write_bytes(zipped[: len(zipped) // 2])
    with pytest.raises(EventFileError, match="zip") as info:
        eqsnn.data.nmnist("train", root=env / "zroot", download=False)
    assert str(env / "zroot" / "Train.zip") in str(info.value)


def test_nmnist_download_keeps_the_verified_archive(env, monkeypatch):
    samples = random_nmnist(2, per_digit=1)
    zipped = nmnist_zip("Test", samples)
    url = "http://m.invalid/file_downloaded"
    file = RemoteFile("Test.zip", (Source(url, hashlib.md5(zipped).hexdigest(), "raw"),))
    monkeypatch.setattr(_nmnist, "FILES", {**_nmnist.FILES, "test": file})
    serve(monkeypatch, {url: zipped})
    assert_events_equal(eqsnn.data.nmnist("test"), *nmnist_expected(samples))
    assert leftovers(env / "xdg" / "eqsnn" / "nmnist") == ["Test.zip"]
    # a served file that is not a zip of the split: nothing kept
    (env / "xdg" / "eqsnn" / "nmnist" / "Test.zip").unlink()
    junk = b"PK not really"
    file = RemoteFile("Test.zip", (Source(url, hashlib.md5(junk).hexdigest(), "raw"),))
    monkeypatch.setattr(_nmnist, "FILES", {**_nmnist.FILES, "test": file})
    serve(monkeypatch, {url: junk})
    with pytest.raises(eqsnn.data.DownloadError, match="not valid"):
        eqsnn.data.nmnist("test")
    assert leftovers(env / "xdg" / "eqsnn" / "nmnist") == []
    with pytest.raises(FileNotFoundError, match=r"(?s)Test/ or Test.zip.*\$EQSNN_DATA"):
        eqsnn.data.nmnist("test", download=False)


# ---------------------------------------------------------------- binning against NumPy


def histogram_reference(times, units, count, num_steps, dt, num_units, binary=False):
    """np.histogram2d over half-open bins [k dt, (k+1) dt); one extra bin catches t = T dt."""
    t = np.asarray(times, np.float64)[:count]
    u = np.asarray(units)[:count]
    edges_t = np.arange(num_steps + 2) * dt
    edges_u = np.arange(num_units + 1) - 0.5
    h, _, _ = np.histogram2d(t, u, bins=[edges_t, edges_u])
    h = h[:num_steps]
    return np.minimum(h, 1) if binary else h


@st.composite
def event_sets(draw):
    num_steps = draw(st.integers(1, 12))
    num_units = draw(st.integers(1, 9))
    dt = draw(st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]))  # exact in binary: edges compare exactly
    n = draw(st.integers(0, 40))
    kinds = draw(st.lists(st.sampled_from(["free", "edge", "past", "before"]), min_size=n, max_size=n))
    times = []
    for kind in kinds:
        if kind == "free":
            times.append(draw(st.floats(0.0, num_steps * dt, width=32)))
        elif kind == "edge":
            times.append(draw(st.integers(0, num_steps + 1)) * dt)
        elif kind == "past":
            times.append(num_steps * dt + draw(st.floats(0.0, 10.0, width=32)))
        else:
            times.append(-draw(st.floats(0.0009765625, 5.0, width=32)))
    units = draw(st.lists(st.integers(0, num_units - 1), min_size=n, max_size=n))
    dup = draw(st.integers(0, n))  # duplicate the first `dup` events
    times, units = times + times[:dup], units + units[:dup]
    count = draw(st.integers(0, len(times)))
    pad = draw(st.integers(0, 5))  # padding with junk after `count`
    times = np.asarray(times + [0.5 * dt] * pad, np.float32)
    units = np.asarray(units + [0] * pad, np.int32)
    return times, units, count, num_steps, dt, num_units


@given(event_sets(), st.booleans())
def test_bin_events_equals_histogram2d(case, binary):
    times, units, count, num_steps, dt, num_units = case
    got = bin_events(times, units, count, num_steps=num_steps, dt=dt, num_units=num_units, binary=binary)
    assert got.shape == (num_steps, num_units) and got.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(got), histogram_reference(*case, binary=binary))
    seq = EventSequence.from_times(times, units, count, num_steps=num_steps, dt=dt, num_units=num_units)
    np.testing.assert_array_equal(np.asarray(seq.materialise()), histogram_reference(*case))


def test_bin_events_batched_under_jit_matches_per_sample():
    times, units, labels = random_samples(9, 16, max_events=200)
    ev = eqsnn.data.pad_events(times, [u.astype(np.int32) for u in units], labels, time_scale=1000.0)
    fn = functools.partial(bin_events, num_steps=50, dt=20.0, num_units=700)
    x = jax.jit(jax.vmap(fn))(ev.times, ev.units, ev.counts)
    for n in range(16):
        ref = histogram_reference(ev.times[n], ev.units[n], ev.counts[n], 50, 20.0, 700)
        np.testing.assert_array_equal(np.asarray(x[n]), ref)


def test_bin_events_drops_out_of_range_units_and_nan():
    x = bin_events(
        np.array([1.0, 1.0, np.nan, 2.0], np.float32), np.array([0, 3, 1, -1]), None, num_steps=4, dt=1.0, num_units=3
    )
    np.testing.assert_array_equal(np.asarray(x).sum(), 1.0)


def test_binning_errors_name_function_and_argument():
    t, u = np.zeros(3, np.float32), np.zeros(3, np.int32)
    # the test suite's jaxtyping hook checks annotations first (its message names both too);
    # `__wrapped__` is the function as users call it
    unchecked = getattr(bin_events, "__wrapped__", bin_events)
    for fn in (bin_events, unchecked):
        with pytest.raises(TypeError, match="(?s)bin_events.*times"):
            fn(u, u, 3, num_steps=2, dt=1.0, num_units=2)
        with pytest.raises(TypeError, match="(?s)bin_events.*units"):
            fn(t, u[:2], 3, num_steps=2, dt=1.0, num_units=2)
    with pytest.raises(TypeError, match="bin_events: `times` must be a floating array \\[E\\] \\(ms\\), got int32"):
        unchecked(u, u, 3, num_steps=2, dt=1.0, num_units=2)
    with pytest.raises(TypeError, match=r"bin_events: `units` must be an integer array \[E=3\]"):
        unchecked(t, u[:2], 3, num_steps=2, dt=1.0, num_units=2)
    with pytest.raises(ValueError, match="bin_events: `dt` must be > 0.*got -1.0"):
        bin_events(t, u, 3, num_steps=2, dt=-1.0, num_units=2)
    with pytest.raises(ValueError, match="bin_events: `num_steps` must be a positive int, got 0"):
        bin_events(t, u, 3, num_steps=0, dt=1.0, num_units=2)
    seq = EventSequence(u, u, 2, 5)
    with pytest.raises(ValueError, match=r"EventSequence.matmul: `weight` must have shape \[num_units=5, n_out\]"):
        seq.matmul(jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="pad_events: sample 0 has 1 times but 2 units"):
        eqsnn.data.pad_events([np.zeros(1)], [np.zeros(2, int)], [0])


# ---------------------------------------------------------------- event-driven matmul


def random_sequences(seed, batch, num_events, num_steps, num_units):
    rng = np.random.default_rng(seed)
    steps = rng.integers(-2, num_steps + 2, (batch, num_events)).astype(np.int32)  # some dropped
    units = rng.integers(0, num_units, (batch, num_events)).astype(np.int32)
    units[:, : num_events // 4] = units[:, :1]  # repeated channels
    counts = rng.integers(0, num_events + 1, batch).astype(np.int32)
    return steps, units, counts


def test_matmul_equals_dense_values_and_gradients(x64):
    T, U, N_OUT, B, E = 9, 13, 5, 6, 40
    steps, units, counts = random_sequences(0, B, E, T, U)
    rng = np.random.default_rng(1)
    weight = jnp.asarray(rng.normal(size=(U, N_OUT)))
    cot = jnp.asarray(rng.normal(size=(B, T, N_OUT)))
    assert weight.dtype == jnp.float64

    def make(s, u, c):
        return EventSequence(s, u, T, U, count=c)

    def loss(w, how):
        out = jax.vmap(lambda s, u, c: how(make(s, u, c), w))(steps, units, counts)
        return jnp.sum(jnp.sin(out) * cot), out

    event = lambda seq, w: seq.matmul(w)
    dense = lambda seq, w: seq.materialise() @ w
    (l_e, out_e), g_e = jax.value_and_grad(loss, has_aux=True)(weight, event)
    (l_d, out_d), g_d = jax.value_and_grad(loss, has_aux=True)(weight, dense)
    assert out_e.dtype == jnp.float64 and out_e.shape == (B, T, N_OUT)
    np.testing.assert_allclose(out_e, out_d, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g_e, g_d, rtol=1e-12, atol=1e-12)
    # per-example gradients (vmap of grad) and one sample's jvp
    per = jax.vmap(jax.grad(lambda w, s, u, c, k: jnp.sum(make(s, u, c).matmul(w) * k)), in_axes=(None, 0, 0, 0, 0))
    per_dense = jax.vmap(
        jax.grad(lambda w, s, u, c, k: jnp.sum((make(s, u, c).materialise() @ w) * k)), in_axes=(None, 0, 0, 0, 0)
    )
    np.testing.assert_allclose(per(weight, steps, units, counts, cot), per_dense(weight, steps, units, counts, cot))
    seq = make(steps[0], units[0], counts[0])
    _, tangent = jax.jvp(seq.matmul, (weight,), (jnp.cos(weight),))
    np.testing.assert_allclose(tangent, seq.materialise() @ jnp.cos(weight), rtol=1e-12, atol=1e-12)
    # jit
    np.testing.assert_allclose(jax.jit(lambda w: loss(w, event)[0])(weight), l_d, rtol=1e-12)


def test_matmul_segments_are_slices(x64):
    T, U, N_OUT = 12, 7, 3
    steps, units, counts = random_sequences(2, 1, 50, T, U)
    seq = EventSequence(steps[0], units[0], T, U, count=counts[0])
    weight = jnp.asarray(np.random.default_rng(3).normal(size=(U, N_OUT)))
    dense = seq.materialise()
    for start, size in ((0, 12), (0, 5), (5, 4), (11, 1)):
        part = seq.segment(jnp.int32(start), size)
        assert part.num_steps == size
        np.testing.assert_array_equal(part.materialise(), dense[start : start + size])
        np.testing.assert_allclose(part.matmul(weight), (dense @ weight)[start : start + size], atol=1e-12)


def test_batched_gradient_never_builds_gathered_rows():
    """Under vmap, the gradient loops over the batch: no [batch, E, n_out] array of weight rows."""
    T, U, N_OUT, B, E = 5, 11, 4, 3, 17
    steps, units, counts = random_sequences(4, B, E, T, U)
    weight = jnp.zeros((U, N_OUT))

    def loss(w):
        out = jax.vmap(lambda s, u, c: EventSequence(s, u, T, U, count=c).matmul(w))(steps, units, counts)
        return jnp.sum(out)

    shapes = jaxpr_shapes(jax.make_jaxpr(jax.grad(loss))(weight))
    assert (B, E, N_OUT) not in shapes and (B, U, N_OUT) not in shapes
    assert (U, N_OUT) in shapes


def test_event_sequence_runs_like_its_dense_train():
    T, U = 20, 30
    steps, units, counts = random_sequences(5, 3, 60, T, U)
    lif = eqsnn.neurons.LIF(U, v_th=1.0, v_reset=0.0, dt=1.0)  # any model: run() materialises the sequence
    # a Linear at the head of a chain is hoisted and takes the event path (EventSequence.matmul)
    model = linear(U, 8, scale=30.0, bias=1.0) >> eqsnn.neurons.LIF(8, v_th=1.0, v_reset=0.0, dt=1.0)
    seqs = jax.vmap(lambda s, u, c: EventSequence(s, u, T, U, count=c))(steps, units, counts)
    dense = jax.vmap(lambda s: s.materialise())(seqs)
    for m in (lif, model):
        _, ys = jax.vmap(lambda s, m=m: eqsnn.run(m, s))(seqs)
        _, ys_dense = jax.vmap(lambda x, m=m: eqsnn.run(m, x))(dense)
        _, ys_ck = jax.vmap(lambda s, m=m: eqsnn.run(m, s, remat=7))(seqs)
        np.testing.assert_allclose(ys, ys_dense, atol=1e-6)
        np.testing.assert_allclose(ys_ck, ys_dense, atol=1e-6)
    assert float(jnp.sum(ys)) > 0


# ---------------------------------------------------------------- tonic-style interop


def test_tonic_round_trip_shd_layout():
    rng = np.random.default_rng(6)
    dtype = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])
    samples = []
    for k in (5, 0, 12):
        a = np.zeros(k, dtype)
        a["t"], a["x"], a["p"] = np.sort(rng.integers(0, 1_400_000, k)), rng.integers(0, 700, k), 1
        samples.append((a, int(rng.integers(0, 20))))
    ev = eqsnn.data.from_tonic(samples, sensor_size=(700, 1, 1))
    np.testing.assert_array_equal(ev.labels, [s[1] for s in samples])
    np.testing.assert_array_equal(ev.units[0, :5], samples[0][0]["x"])
    np.testing.assert_allclose(ev.times[2, :12], samples[2][0]["t"] / 1000.0, rtol=1e-7)
    back = eqsnn.data.to_tonic(ev, sensor_size=(700, 1, 1))
    for got, (want, _) in zip(back, samples, strict=True):
        assert got.dtype.names == ("t", "x", "p")
        for f in ("t", "x", "p"):
            np.testing.assert_array_equal(got[f], want[f])


def test_tonic_round_trip_nmnist_layout():
    samples = random_nmnist(7, per_digit=1)
    dtype = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
    arrays = []
    for x, y, p, t in samples.values():
        a = np.zeros(len(x), dtype)
        a["x"], a["y"], a["t"], a["p"] = x, y, t, p
        arrays.append(a)
    ev = eqsnn.data.from_tonic(arrays, sensor_size=(34, 34, 2))
    np.testing.assert_array_equal(ev.labels, -1)
    # the same channels as the N-MNIST reader
    for n, (x, y, p, _) in enumerate(samples.values()):
        np.testing.assert_array_equal(ev.units[n, : len(x)], x + 34 * (y + 34 * p))
    for got, want in zip(eqsnn.data.to_tonic(ev, sensor_size=(34, 34, 2)), arrays, strict=True):
        assert got.dtype.names == ("x", "y", "t", "p")
        for f in want.dtype.names:
            np.testing.assert_array_equal(got[f], want[f])
    wide = np.zeros(1, dtype)
    wide["x"] = 20
    with pytest.raises(ValueError, match=r"from_tonic: field 'x' of sample 0 must be in \[0, 10\)"):
        eqsnn.data.from_tonic([wide], sensor_size=(10, 34, 2))


def test_with_tonic_itself():
    tonic = pytest.importorskip("tonic", reason="tonic is an optional extra; the round trip is tested without it")
    sensor = (34, 34, 2)
    dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
    ev = np.zeros(50, dtype)
    rng = np.random.default_rng(0)
    ev["x"], ev["y"], ev["t"], ev["p"] = rng.integers(0, 34, 50), rng.integers(0, 34, 50), np.arange(50) * 997, 1
    frames = tonic.transforms.ToFrame(sensor_size=sensor, n_time_bins=1)(ev)  # [1, P, H, W] event counts
    events = eqsnn.data.from_tonic([ev], sensor_size=sensor)
    x = bin_events(events.times[0], events.units[0], events.counts[0], num_steps=1, dt=1e3, num_units=34 * 34 * 2)
    np.testing.assert_array_equal(np.asarray(x).reshape(frames.shape), frames)


# ---------------------------------------------------------------- the SHD example


def test_shd_example_synthetic_run(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, str(ROOT / "examples" / "shd.py"), "--synthetic", "--limit-batches", "3", "--epochs", "1"]
    proc = subprocess.run(cmd + ["--out", str(out)], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("history.json", "summary.json", "curves.png", "raster.png", "synthetic_train.h5", "synthetic_test.h5"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    history = eqsnn.train.History.load(out / "history.json")
    assert history.num_epochs == 1 and len(history.metric("fit", "loss", per="step")) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert 0.0 <= summary["final_test_acc"] <= 1.0 and summary["hidden_rate"] > 0


def test_readme_event_snippet_runs(env, monkeypatch):
    import re

    times, units, labels = random_samples(11, 4)
    write_hdf5(env / "envdata" / "shd" / "shd_train.h5", times, units, labels)
    monkeypatch.setenv("EQSNN_DATA", str(env / "envdata"))
    section = (ROOT / "README.md").read_text().split("## Event data", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    x, seqs, got_labels = jax.jit(ns["inputs"])(ns["data"], jnp.arange(3))
    assert x.shape == (3, 100, 700)
    np.testing.assert_array_equal(got_labels, labels[:3])
    np.testing.assert_array_equal(jax.vmap(lambda s: s.materialise())(seqs), x)
