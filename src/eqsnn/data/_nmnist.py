r"""N-MNIST (Orchard et al. 2015): the official binary event files into padded NumPy events.

Each sample is one file of 5-byte records, one per event, 40 bits big-endian:

| bits | 39-32 | 31-24 | 23 | 22-0 |
|---|---|---|---|---|
| field | $x$ | $y$ | polarity $p$ | timestamp (µs) |

The official distribution is one zip archive per split (`Train.zip`,
`Test.zip`) holding `Train/<digit>/<id>.bin` (`Test/...`); the digit folder
is the label. A record with $y = 240$ is not an event but a timestamp
overflow marker: it adds $2^{13}$ µs to the timestamps of all later records
(as in Orchard's reference reader and tonic; N-MNIST's 0.3 s samples do not
use it). Download sources and MD5s are those tonic uses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
import zipfile

from jaxtyping import Int32, Int64
import numpy as np

from .._errors import check_choice
from ._events import Events, pad_events
from ._fetch import EventFileError, RemoteFile, Source, cache_dir, data_dirs, download as fetch_file, not_found

#: Sensor width and height (pixels) and polarities: channel = x + 34 (y + 34 p).
WIDTH, HEIGHT, POLARITIES = 34, 34, 2
_OVERFLOW_Y = 240
_OVERFLOW_US = 1 << 13
_MENDELEY = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
_DROPBOX = "https://www.dropbox.com/sh/tg2ljlbmtzygrag/"

FILES = {
    "train": RemoteFile(
        "Train.zip",
        (
            Source(
                _MENDELEY + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
                "20959b8e626244a1b502305a9e6e2031",
                "raw",
            ),
            Source(_DROPBOX + "AABlMOuR15ugeOxMCX0Pvoxga/Train.zip?dl=1", "20959b8e626244a1b502305a9e6e2031", "raw"),
        ),
    ),
    "test": RemoteFile(
        "Test.zip",
        (
            Source(
                _MENDELEY + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
                "69ca8762b2fe404d9b9bad1103e97832",
                "raw",
            ),
            Source(_DROPBOX + "AADSKgJ2CjaBWh75HnTNZyhca/Test.zip?dl=1", "69ca8762b2fe404d9b9bad1103e97832", "raw"),
        ),
    ),
}


def parse_nmnist(data: bytes, name: str = "<bytes>") -> tuple[Int64[np.ndarray, " E"], Int32[np.ndarray, " E"]]:
    r"""Decode one N-MNIST sample (5-byte records) into event times and channels.

    $$ t = b_2' \cdot 2^{16} + b_3 \cdot 2^8 + b_4 \ \text{µs}, \qquad
       p = b_2 \gg 7, \qquad u = x + 34\,(y + 34\,p) $$

    with $b_2' = b_2 \,\&\, 127$; overflow markers ($y = 240$) are applied and dropped.

    **Arguments:** `data`, the file's bytes; `name`, for error messages.

    **Returns:** `(times_us, units)`: `int64 [E]` µs and `int32 [E]` channels in
    $[0, 2312)$.

    **Raises:** [`eqsnn.data.EventFileError`][] naming `name` when the size is
    not a multiple of 5 (truncated) or a coordinate is outside the 34 x 34 sensor.
    """
    if len(data) % 5:
        raise EventFileError(
            f"{name}: truncated N-MNIST file: {len(data)} bytes is not a whole number of 5-byte events"
        )
    raw = np.frombuffer(data, np.uint8).reshape(-1, 5).astype(np.int64)
    x, y = raw[:, 0], raw[:, 1]
    p = raw[:, 2] >> 7
    ts = ((raw[:, 2] & 127) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    overflow = y == _OVERFLOW_Y
    if overflow.any():
        ts = ts + _OVERFLOW_US * np.cumsum(overflow)
    keep = ~overflow
    x, y, p, ts = x[keep], y[keep], p[keep], ts[keep]
    if x.size and (x.max() >= WIDTH or y.max() >= HEIGHT):
        raise EventFileError(
            f"{name}: corrupt N-MNIST file: coordinates must be < {WIDTH} x {HEIGHT}, "
            f"got x up to {int(x.max())}, y up to {int(y.max())}"
        )
    return ts, (x + WIDTH * (y + HEIGHT * p)).astype(np.int32)


def _split_files(names: list[str], folder: str) -> list[tuple[str, int]]:
    """`(name, digit)` for every `<folder>/<digit>/<file>.bin`, sorted by digit then name."""
    out = []
    for n in names:
        parts = n.replace("\\", "/").split("/")
        if len(parts) >= 3 and parts[-3] == folder and parts[-2].isdigit() and parts[-1].endswith(".bin"):
            out.append((n, int(parts[-2])))
    return sorted(out, key=lambda item: (item[1], item[0]))


def validate_zip(path: Path, folder: str) -> None:
    """Raise `EventFileError` unless `path` is a zip archive holding `<folder>/<digit>/*.bin` files."""
    try:
        with zipfile.ZipFile(path) as zf:
            if not _split_files(zf.namelist(), folder):
                raise EventFileError(f"{path}: the archive holds no {folder}/<digit>/*.bin files")
    except (zipfile.BadZipFile, OSError) as err:
        raise EventFileError(f"{path}: not a readable zip archive (truncated or corrupt?): {err}") from None


def read_nmnist_split(path: str | os.PathLike[str], folder: str, *, max_events: int | None = None) -> Events:
    r"""Read every sample of an N-MNIST split from a folder or a zip archive.

    `path` is either the split folder itself (`.../Train`, holding `0/ ... 9/`)
    or the official archive (`Train.zip`, holding `Train/0/...`); `folder` is
    `'Train'` or `'Test'`. Samples come sorted by digit, then file name.
    Times become ms, $t_{ms} = t_{\mu s} / 1000$ (`float32`).

    **Arguments:** `path`; `folder`; `max_events` (keep the first events of
    each sample; default `None`: all).

    **Returns:** [`eqsnn.data.Events`][] (channels $x + 34 (y + 34 p)$, labels $0..9$).

    **Raises:** [`eqsnn.data.EventFileError`][] naming the file that is truncated or corrupt.
    """
    path = Path(path)
    times, units, labels = [], [], []
    if path.is_dir():
        names = [str(p.relative_to(path.parent)) for p in path.glob("*/*.bin")]
        for name, digit in _split_files(names, path.name):
            t, u = parse_nmnist((path.parent / name).read_bytes(), str(path.parent / name))
            times.append(t)
            units.append(u)
            labels.append(digit)
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                for name, digit in _split_files(zf.namelist(), folder):
                    try:
                        data = zf.read(name)
                    except (zipfile.BadZipFile, OSError, EOFError) as err:
                        raise EventFileError(f"{path}: member {name} is corrupt: {err}") from None
                    t, u = parse_nmnist(data, f"{path}:{name}")
                    times.append(t)
                    units.append(u)
                    labels.append(digit)
        except (zipfile.BadZipFile, OSError) as err:
            raise EventFileError(f"{path}: not a readable zip archive (truncated or corrupt?): {err}") from None
    if not labels:
        raise EventFileError(f"{path}: no {folder}/<digit>/*.bin files found")
    return pad_events(times, units, np.asarray(labels, np.int32), max_events=max_events, time_scale=1e-3)


def nmnist(
    split: str = "train",
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    max_events: int | None = None,
) -> Events:
    r"""Load N-MNIST (MNIST digits recorded by an event camera in three saccades, 34 x 34 pixels,
    two polarities, 10 classes) as padded events, times in ms.

    Searched, in order, in `root`, `$EQSNN_DATA` (for each, first
    `<dir>/nmnist`, then `<dir>`), then the cache `$XDG_CACHE_HOME/eqsnn/nmnist`:
    in each, the extracted folder `Train/` (`Test/`) or the official archive
    `Train.zip` (`Test.zip`). If none is found and `download=True`, the
    archive is downloaded into the cache (streamed to a temporary file, MD5
    checked, checked to be a zip of the split, then renamed) and read from
    there without unpacking. Reading parses one file per sample (60 000 for
    the training split); do it once and keep the arrays.

    The channel of an event at pixel $(x, y)$ with polarity $p$ is
    $u = x + 34 (y + 34 p) \in [0, 2312)$, row-major over `(p, y, x)`.

    **Arguments:**

    - `split`: `'train'` (60 000 samples) or `'test'` (10 000); default `'train'`.
    - `root`: a folder searched first (default `None`).
    - `download`: download into the cache when not found (default `True`).
    - `max_events`: keep at most this many events per sample (default `None`).

    **Returns:** [`eqsnn.data.Events`][] (labels $0..9$).

    **Raises:** `FileNotFoundError` (not found, `download=False`),
    [`eqsnn.data.DownloadError`][] (every source failed; nothing written),
    [`eqsnn.data.EventFileError`][] (a truncated or corrupt file, named).
    """
    check_choice("split", split, tuple(FILES), owner="nmnist")
    file = FILES[split]
    folder = file.name[: -len(".zip")]
    dirs = data_dirs("nmnist", root)
    found: Any = None
    for directory in dirs:
        if (directory / folder).is_dir() and any((directory / folder).glob("*/*.bin")):
            found = directory / folder
        elif (directory / file.name).is_file():
            found = directory / file.name
        if found is not None:
            break
    target = cache_dir() / "nmnist"
    if found is None:
        if not download:
            raise not_found("N-MNIST", split, (folder + "/", file.name), dirs, target)
        found = _download(file, target, folder)
    return read_nmnist_split(found, folder, max_events=max_events)


def _download(file: RemoteFile, target: Path, folder: str) -> Path:
    return fetch_file("N-MNIST", file, target, lambda p: validate_zip(p, folder))
