r"""The Heidelberg spiking data sets (SHD, SSC): official HDF5 files into padded NumPy events.

Layout of the official files (Cramer et al. 2020, IEEE TNNLS): `spikes/times`
(one variable-length `float16` array per sample, seconds), `spikes/units`
(one variable-length `uint16` array per sample, channels $0..699$ of the
cochlea model), `labels` (`[N]` classes), `extra/keys` (class names) and
`extra/speaker` (`[N]` speaker ids). `h5py` is needed (the `events` extra)
and imported only when a file is read.

Download sources and checksums: the `.h5.gz` files of `compneuro.net` (the
MD5s of the archive and of its content as Norse's SHD loader checks them),
the `.h5.zip` files of `zenkelab.org` (the MD5s tonic checks), and the lab's
`md5sums.txt` for the files whose checksum is not built in.
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import check_choice, check_size
from ._events import Events, pad_events
from ._fetch import EventFileError, RemoteFile, Source, cache_dir, data_dirs, download as fetch_file, not_found

NUM_UNITS = 700
_COMPNEURO = "https://compneuro.net/datasets/"
_ZENKE = "https://zenkelab.org/datasets/"
# what h5py raises on a damaged file, depending on where the damage is
_H5_ERRORS = (OSError, RuntimeError, ValueError, TypeError, KeyError)


@dataclasses.dataclass(frozen=True)
class _HDF5Set:
    name: str
    title: str
    num_classes: int
    files: dict[str, RemoteFile]


def _shd_file(split: str, gz_md5: str, content_md5: str, zip_md5: str) -> RemoteFile:
    name = f"shd_{split}.h5"
    return RemoteFile(
        name,
        (
            Source(_COMPNEURO + name + ".gz", gz_md5, "gz", content_md5=content_md5),
            Source(_ZENKE + name + ".zip", zip_md5, "zip"),
            Source(_ZENKE + name + ".gz", None, "gz"),
        ),
    )


def _ssc_file(split: str, zip_md5: str) -> RemoteFile:
    name = f"ssc_{split}.h5"
    return RemoteFile(
        name,
        (
            Source(_ZENKE + name + ".zip", zip_md5, "zip"),
            Source(_COMPNEURO + name + ".gz", None, "gz"),
            Source(_ZENKE + name + ".gz", None, "gz"),
        ),
    )


SHD = _HDF5Set(
    name="shd",
    title="SHD",
    num_classes=20,
    files={
        "train": _shd_file(
            "train",
            "d47c9825dee33347913e8ce0f2be08b0",
            "8e9877c85f29a28dd353ea6a54402667",
            "f3252aeb598ac776c1b526422d90eecb",
        ),
        "test": _shd_file(
            "test",
            "3062a80ec0c5719404d5b02e166543b1",
            "207ad1295a0ab611e22d1734989c254e",
            "1503a5064faa34311c398fb0a1ed0a6f",
        ),
    },
)

SSC = _HDF5Set(
    name="ssc",
    title="SSC",
    num_classes=35,
    files={
        "train": _ssc_file("train", "d102be95e7144fcc0553d1f45ba94170"),
        "valid": _ssc_file("valid", "b4eee3516a4a90dd0c71a6ac23a8ae43"),
        "test": _ssc_file("test", "a35ff1e9cffdd02a20eb850c17c37748"),
    },
)


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "reading SHD/SSC files needs h5py, which is an optional extra: pip install 'eqsnn[events]'"
        ) from e
    return h5py


def _open(path: Path) -> Any:
    """An open `h5py.File` for `path` (a `.gz` file is decompressed in memory first)."""
    h5py = _h5py()
    try:
        if path.name.endswith(".gz"):
            import gzip

            with gzip.open(path, "rb") as f:
                return h5py.File(io.BytesIO(f.read()), "r")
        return h5py.File(path, "r")
    except (OSError, EOFError) as err:
        raise EventFileError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {err}") from None


def _check_layout(f: Any, path: Path) -> None:
    try:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f:
                raise EventFileError(
                    f"{path}: missing dataset {key!r}; expected the SHD/SSC layout (spikes/times, spikes/units, labels)"
                )
        n = (len(f["spikes/times"]), len(f["spikes/units"]), len(f["labels"]))
    except _H5_ERRORS as err:
        raise EventFileError(f"{path}: could not read the file (truncated or corrupt?): {err}") from None
    if len(set(n)) != 1:
        raise EventFileError(
            f"{path}: spikes/times, spikes/units and labels must have the same length, got {n[0]}, {n[1]}, {n[2]}"
        )


def validate_hdf5(path: Path) -> None:
    """Raise `EventFileError` unless `path` opens as an HDF5 file in the SHD/SSC layout."""
    f = _open(path)
    try:
        _check_layout(f, path)
    finally:
        f.close()


def read_hdf5_events(
    path: str | os.PathLike[str],
    *,
    num_units: int = NUM_UNITS,
    num_classes: int | None = None,
    max_events: int | None = None,
) -> tuple[Events, dict[str, Any]]:
    r"""Read an HDF5 file in the SHD/SSC layout into padded events (times in ms).

    $$ t_{ms} = \mathrm{float32}(1000\, t_s) $$

    computed from the `float16` seconds after widening them (exact: no
    `float16` overflow). Raw `.h5` and gzip-compressed `.h5.gz` files are read.

    **Arguments:**

    - `path`: the file.
    - `num_units`: channels must be in `[0, num_units)` (default `700`).
    - `num_classes`: labels must be in `[0, num_classes)` (default `None`: any
      non-negative label).
    - `max_events`: keep at most this many events per sample (the first
      ones; the official files are time-sorted). Default `None`: all.

    **Returns:** `(events, extra)`: [`eqsnn.data.Events`][] and a dict with
    `'keys'` (the class names, a list of `str`, when the file has
    `extra/keys`) and `'speaker'` (`int32 [N]`, when it has `extra/speaker`).

    **Raises:** [`eqsnn.data.EventFileError`][] naming the file when it is
    truncated, corrupt, or not in the layout (missing datasets, mismatched
    lengths, channels or labels out of range, negative or non-finite times).
    """
    path = Path(path)
    num_units = check_size("num_units", num_units, owner="read_hdf5_events")
    f = _open(path)
    try:
        _check_layout(f, path)
        try:
            times = f["spikes/times"][()]
            units = f["spikes/units"][()]
            labels = np.asarray(f["labels"][()])
            extra: dict[str, Any] = {}
            if "extra/keys" in f:
                extra["keys"] = [k.decode() if isinstance(k, bytes) else str(k) for k in f["extra/keys"][()]]
            if "extra/speaker" in f:
                extra["speaker"] = np.asarray(f["extra/speaker"][()]).astype(np.int32)
        except _H5_ERRORS as err:
            raise EventFileError(f"{path}: could not read the data (truncated or corrupt?): {err}") from None
    finally:
        f.close()
    if not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
        raise EventFileError(f"{path}: labels must be integers [N], got {labels.dtype} {labels.shape}")
    try:
        events = pad_events(list(times), list(units), labels, max_events=max_events, time_scale=1000.0)
    except (ValueError, TypeError) as err:
        raise EventFileError(f"{path}: {err}") from None
    valid = np.arange(events.times.shape[1])[None, :] < events.counts[:, None]
    if events.units.size and (events.units[valid].max(initial=0) >= num_units):
        raise EventFileError(f"{path}: channels must be in [0, {num_units}), got {int(events.units[valid].max())}")
    t = events.times[valid]
    if t.size and not (np.all(np.isfinite(t)) and t.min() >= 0):
        raise EventFileError(f"{path}: spike times must be finite and >= 0 s, got values in [{t.min()}, {t.max()}] ms")
    if labels.size and (labels.min() < 0 or (num_classes is not None and labels.max() >= num_classes)):
        bound = "non-negative" if num_classes is None else f"in 0..{num_classes - 1}"
        raise EventFileError(f"{path}: labels must be {bound}, got values in [{labels.min()}, {labels.max()}]")
    return events, extra


def _load(spec: _HDF5Set, split: str, root: Any, download_missing: bool, max_events: int | None, return_extra: bool):
    check_choice("split", split, tuple(spec.files), owner=spec.name)
    file = spec.files[split]
    dirs = data_dirs(spec.name, root)
    path = None
    for directory in dirs:
        for candidate in (directory / file.name, directory / (file.name + ".gz")):
            if candidate.is_file():
                path = candidate
                break
        if path is not None:
            break
    target = cache_dir() / spec.name
    if path is None:
        if not download_missing:
            raise not_found(spec.title, split, (file.name, file.name + ".gz"), dirs, target)
        path = fetch_file(spec.title, file, target, validate_hdf5)
    events, extra = read_hdf5_events(path, num_classes=spec.num_classes, max_events=max_events)
    return (events, extra) if return_extra else events


def shd(
    split: str = "train",
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    max_events: int | None = None,
    return_extra: bool = False,
) -> Events | tuple[Events, dict[str, Any]]:
    r"""Load the Spiking Heidelberg Digits (spoken digits 0-9 in English and German, 20 classes,
    700 cochlea channels) as padded events, times in ms.

    $$ \mathrm{times}_{n,e} = 1000\, t^{(n)}_e \ \text{ms}, \qquad
       \mathrm{units}_{n,e} = c^{(n)}_e \in \{0, \dots, 699\} $$

    Files are searched, in order, in: `root`, `$EQSNN_DATA` (for each, first
    `<dir>/shd`, then `<dir>` itself), then the cache
    `$XDG_CACHE_HOME/eqsnn/shd` (`~/.cache/eqsnn/shd`); `shd_<split>.h5` and
    `shd_<split>.h5.gz` are read. If none is found and `download=True`, the
    file is downloaded into the cache (`compneuro.net`'s `.h5.gz`, checked
    against its known MD5 and the MD5 of the content; then `zenkelab.org`'s
    `.h5.zip` and `.h5.gz`), streamed to a temporary file, verified,
    unpacked, checked to be a valid file and only then renamed into place.

    **Arguments:**

    - `split`: `'train'` (8 156 samples) or `'test'` (2 264); default `'train'`.
    - `root`: a folder searched first (default `None`).
    - `download`: download into the cache when not found (default `True`).
    - `max_events`: as in [`eqsnn.data.read_hdf5_events`][] (default `None`).
    - `return_extra`: also return the dict of class names and speakers.

    **Returns:** [`eqsnn.data.Events`][] (`float32` ms times, `int32`
    channels $0..699$, counts, `int32` labels $0..19$), or `(events, extra)`.

    **Raises:** `FileNotFoundError` (not found, `download=False`; the message
    lists the folders searched), [`eqsnn.data.DownloadError`][] (every source
    failed; nothing written), [`eqsnn.data.EventFileError`][] (a corrupt
    file, named), `ImportError` without h5py.
    """
    return _load(SHD, split, root, download, max_events, return_extra)


def ssc(
    split: str = "train",
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    max_events: int | None = None,
    return_extra: bool = False,
) -> Events | tuple[Events, dict[str, Any]]:
    r"""Load the Spiking Speech Commands (35 classes, 700 channels) as padded events, times in ms.

    $$ \mathrm{times}_{n,e} = 1000\, t^{(n)}_e \ \text{ms} $$

    Same reader, search order and download checks as [`eqsnn.data.shd`][],
    with the folder name `ssc` and the files `ssc_<split>.h5[.gz]`. Sources:
    `zenkelab.org`'s `.h5.zip` (known MD5), then the `.h5.gz` files of
    `compneuro.net` and `zenkelab.org`, checked against the lab's
    `md5sums.txt` (a file not listed there is refused).

    **Arguments:** `split` (`'train'`, `'valid'` or `'test'`; default
    `'train'`), `root`, `download`, `max_events`, `return_extra` as for
    [`eqsnn.data.shd`][].

    **Returns:** [`eqsnn.data.Events`][] (labels $0..34$), or `(events, extra)`.
    """
    return _load(SSC, split, root, download, max_events, return_extra)
