"""MNIST and Fashion-MNIST: find the IDX files, download them if asked, load them once into NumPy."""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import hashlib
import http.client
import os
from pathlib import Path
import sys
import urllib.request
import zlib

from jaxtyping import Int32, UInt8
import numpy as np

from .._errors import check_choice
from .._io import atomic_write
from ._idx import IDXError, parse_idx, read_idx_bytes

#: Environment variable naming a folder searched after `root` (datasets in sub-folders or directly inside).
DATA_ENV = "EQSNN_DATA"

#: Seconds to wait for a mirror before trying the next one.
_TIMEOUT = 60.0
_CHUNK = 1 << 20


class DownloadError(OSError):
    """Every mirror failed (network error, interrupted transfer or checksum mismatch); nothing was written."""


@dataclasses.dataclass(frozen=True)
class _File:
    name: str  # IDX file name without `.gz`
    sha256: str | None  # of the decompressed IDX content
    gz_md5: str | None  # of the `.gz` file as served by the mirrors


@dataclasses.dataclass(frozen=True)
class _Dataset:
    name: str  # folder name in the cache and under `root` / $EQSNN_DATA
    title: str
    mirrors: tuple[str, ...]  # base URLs serving `<file>.gz`
    splits: dict[str, tuple[_File, _File]]  # split -> (images, labels)
    system_dirs: tuple[str, ...]  # read-only system copies (Debian packages)
    num_classes: int = 10


# SHA-256 of the decompressed standard files (identical to the ones Debian's
# dataset-fashion-mnist package ships, which are recompressed).
FASHION_MNIST = _Dataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    splits={
        "train": (
            _File("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", None),
            _File("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", None),
        ),
        "test": (
            _File("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", None),
            _File("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", None),
        ),
    },
    system_dirs=("/usr/share/datasets/fashion-mnist",),
)

# MD5 of the original `.gz` files (the checksums every MNIST loader publishes).
MNIST = _Dataset(
    name="mnist",
    title="MNIST",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    splits={
        "train": (
            _File("train-images-idx3-ubyte", None, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            _File("train-labels-idx1-ubyte", None, "d53e105ee54ea40749a09fcbcd1e9432"),
        ),
        "test": (
            _File("t10k-images-idx3-ubyte", None, "9fb629c4189551a2d022fa330f9573f3"),
            _File("t10k-labels-idx1-ubyte", None, "ec29112dd5afa0611ce80d1b7f02629c"),
        ),
    },
    system_dirs=("/usr/share/datasets/mnist",),
)


def cache_dir() -> Path:
    """The user cache folder of eqsnn: `$XDG_CACHE_HOME/eqsnn`, or `~/.cache/eqsnn` when unset.

    Downloaded datasets go to `<cache_dir()>/<dataset>` (`fashion-mnist`, `mnist`).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eqsnn"


def search_dirs(dataset: _Dataset, root: str | os.PathLike[str] | None) -> list[Path]:
    """The folders searched, in order: `root`, `$EQSNN_DATA` (each first `<dir>/<name>`,
    then `<dir>` itself), the cache, then the system copies."""
    dirs: list[Path] = []
    for base in (root, os.environ.get(DATA_ENV) or None):
        if base is not None:
            dirs += [Path(base) / dataset.name, Path(base)]
    dirs.append(cache_dir() / dataset.name)
    dirs += [Path(d) for d in dataset.system_dirs]
    return dirs


def _find(directory: Path, file: _File) -> Path | None:
    for candidate in (directory / file.name, directory / (file.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _urlopen(url: str, timeout: float):  # replaced in tests: never touch the network there
    return urllib.request.urlopen(url, timeout=timeout)


def _fetch(url: str) -> bytes:
    """All bytes served at `url`; raises when the transfer ends early."""
    buf = bytearray()
    with _urlopen(url, timeout=_TIMEOUT) as response:
        headers = getattr(response, "headers", None)
        length = headers.get("Content-Length") if headers is not None else None
        while chunk := response.read(_CHUNK):
            buf += chunk
    if length is not None and int(length) != len(buf):
        raise DownloadError(f"interrupted transfer: received {len(buf)} of {int(length)} bytes")
    return bytes(buf)


def _verified_content(payload: bytes, file: _File) -> bytes:
    """Check the `.gz` payload against the known checksums; return the decompressed IDX content."""
    if file.gz_md5 is not None:
        got = hashlib.md5(payload).hexdigest()
        if got != file.gz_md5:
            raise DownloadError(f"checksum mismatch: expected md5 {file.gz_md5} of the .gz file, got {got}")
    try:
        content = zlib.decompress(payload, wbits=31)
    except zlib.error as err:
        raise DownloadError(f"corrupt or truncated gzip data ({err})") from None
    if file.sha256 is not None:
        got = hashlib.sha256(content).hexdigest()
        if got != file.sha256:
            raise DownloadError(f"checksum mismatch: expected sha256 {file.sha256} of the content, got {got}")
    try:
        parse_idx(content, file.name)
    except IDXError as err:
        raise DownloadError(str(err)) from None
    return content


def download(dataset: _Dataset, file: _File, directory: Path, mirrors: Sequence[str] | None = None) -> Path:
    """Download `<file>.gz` from the first mirror that serves it with the right checksum;
    store the decompressed IDX content as `directory/<file.name>`."""
    dest = directory / file.name
    failures = []
    for base in dataset.mirrors if mirrors is None else mirrors:
        url = base + file.name + ".gz"
        print(f"eqsnn: downloading {url} -> {dest}", file=sys.stderr)
        try:
            content = _verified_content(_fetch(url), file)
        except (OSError, http.client.HTTPException, ValueError) as err:
            failures.append(f"  {url}: {type(err).__name__}: {err}")
            continue
        atomic_write(dest, content)
        return dest
    raise DownloadError(
        f"could not download {dataset.title} file {file.name!r}; nothing was written:\n" + "\n".join(failures)
    )


def _load_pair(dataset: _Dataset, images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = parse_idx(read_idx_bytes(images_path), str(images_path))
    labels = parse_idx(read_idx_bytes(labels_path), str(labels_path))
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IDXError(f"{images_path}: expected uint8 images of shape [N, 28, 28], got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXError(f"{labels_path}: expected uint8 labels of shape [N], got {labels.dtype} {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise IDXError(
            f"mismatched files: {images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels"
        )
    if labels.size and int(labels.max()) >= dataset.num_classes:
        raise IDXError(f"{labels_path}: labels must be in 0..{dataset.num_classes - 1}, got {int(labels.max())}")
    return images, labels.astype(np.int32)


def load(
    dataset: _Dataset, split: str, root: str | os.PathLike[str] | None, download_missing: bool
) -> tuple[np.ndarray, np.ndarray]:
    check_choice("split", split, tuple(dataset.splits), owner=dataset.title)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{dataset.title}: `root` must be a folder (str or os.PathLike) or None, got {root!r}")
    if not isinstance(download_missing, (bool, np.bool_)):
        raise TypeError(f"{dataset.title}: `download` must be a bool, got {download_missing!r}")
    images_file, labels_file = dataset.splits[split]
    dirs = search_dirs(dataset, root)
    for directory in dirs:
        images_path, labels_path = _find(directory, images_file), _find(directory, labels_file)
        if images_path is not None and labels_path is not None:
            return _load_pair(dataset, images_path, labels_path)
    searched = "\n".join(f"  {d}" for d in dirs)
    if not download_missing:
        raise FileNotFoundError(
            f"{dataset.title} {split!r} files ({images_file.name}[.gz], {labels_file.name}[.gz]) not found in:\n"
            f"{searched}\npass download=True, set ${DATA_ENV}, or pass root="
        )
    target = cache_dir() / dataset.name
    paths = []
    for file in (images_file, labels_file):
        found = _find(target, file)
        if found is None:
            try:
                found = download(dataset, file, target)
            except DownloadError as err:
                raise DownloadError(
                    f"{err}\nthe {dataset.title} {split!r} files ({images_file.name}[.gz], {labels_file.name}[.gz]) "
                    f"were not found in:\n{searched}\nto work offline, copy them into one of these folders, "
                    f"pass root=<folder> or set ${DATA_ENV}=<folder> (and download=False to fail at once)"
                ) from err
        paths.append(found)
    return _load_pair(dataset, paths[0], paths[1])


def fashion_mnist(
    split: str = "train", root: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[UInt8[np.ndarray, "N 28 28"], Int32[np.ndarray, " N"]]:
    r"""Load Fashion-MNIST (Zalando's 28x28 grey-scale clothing images, 10 classes) into NumPy.

    Files are searched, in order, in: `root`, `$EQSNN_DATA` (for each, first
    `<dir>/fashion-mnist`, then `<dir>` itself), the cache
    `$XDG_CACHE_HOME/eqsnn/fashion-mnist` (`~/.cache/eqsnn/fashion-mnist`), then
    `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist`). Raw
    IDX files and `.gz` files are both read. If none holds both files of the
    split and `download=True`, the missing files are downloaded from the
    official mirror into the cache; the SHA-256 of the decompressed content is
    checked and the file is written under a temporary name, then renamed.

    **Arguments:**

    - `split`: `'train'` (60 000 samples) or `'test'` (10 000); default `'train'`.
    - `root`: a folder searched first (default `None`).
    - `download`: download into the cache when not found (default `True`).

    **Returns:** `(images, labels)`: `uint8 [N, 28, 28]` pixel values in
    $0..255$, and `int32 [N]` classes in $0..9$.

    **Raises:** `FileNotFoundError` (not found, `download=False`),
    `eqsnn.data.DownloadError` (every mirror failed), `eqsnn.data.IDXError` (a
    corrupt, truncated or mismatched file, named in the message).
    """
    return load(FASHION_MNIST, split, root, download)


def mnist(
    split: str = "train", root: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[UInt8[np.ndarray, "N 28 28"], Int32[np.ndarray, " N"]]:
    r"""Load MNIST (28x28 grey-scale hand-written digits, 10 classes) into NumPy.

    Same reader and search order as [`eqsnn.data.fashion_mnist`][], with the
    folder name `mnist` (`<dir>/mnist`, the cache `.../eqsnn/mnist`,
    `/usr/share/datasets/mnist`). Downloads come from the PyTorch mirror
    (`https://ossci-datasets.s3.amazonaws.com/mnist/`, then LeCun's site) and
    are checked against the published MD5 of each `.gz` file, then stored
    decompressed.

    **Arguments:** `split` (`'train'`: 60 000, `'test'`: 10 000; default
    `'train'`), `root` (default `None`), `download` (default `True`).

    **Returns:** `(images, labels)`: `uint8 [N, 28, 28]` and `int32 [N]`.
    """
    return load(MNIST, split, root, download)
