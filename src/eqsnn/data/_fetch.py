"""Finding and downloading event data sets: the search order and mirrors of `_datasets`, streamed to disk.

The event archives are too large to hold in memory (SSC's training file and
N-MNIST's are gigabytes), so a download is streamed into a temporary file in
the target folder while its MD5 is computed, checked, unpacked into a second
temporary file, checked again, and only then renamed into place. Any failure
removes both temporary files: the cache holds complete, verified files or
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import contextlib
import dataclasses
import hashlib
import http.client
import os
from pathlib import Path
import sys
import tempfile
import zipfile
import zlib

from . import _datasets
from ._datasets import DATA_ENV, DownloadError, cache_dir, search_dirs


class EventFileError(ValueError):
    """An event file (HDF5 or N-MNIST binary) is truncated, corrupt, or not in the expected layout;
    the message names the file."""


@dataclasses.dataclass(frozen=True)
class Source:
    """One place serving a file: `url`; `md5`, the MD5 of what it serves (`None`: look it up in
    the `md5sums.txt` next to it); `packing`, `'gz'`, `'zip'` (extract `member`, default the one
    named like the file) or `'raw'` (stored as served); `content_md5`, the MD5 of the unpacked
    file when it is known."""

    url: str
    md5: str | None
    packing: str
    member: str | None = None
    content_md5: str | None = None


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """A file of a data set: its name in the cache and where to get it, in order."""

    name: str
    sources: tuple[Source, ...]


def data_dirs(name: str, root: str | os.PathLike[str] | None) -> list[Path]:
    """The folders searched for data set `name`, in the order of `eqsnn.data.fashion_mnist`."""
    return search_dirs(_datasets._Dataset(name=name, title=name, mirrors=(), splits={}, system_dirs=()), root)


def not_found(title: str, split: str, names: Sequence[str], dirs: Sequence[Path], cache: Path) -> FileNotFoundError:
    searched = "\n".join(f"  {d}" for d in dirs)
    return FileNotFoundError(
        f"{title} {split!r} data ({' or '.join(names)}) not found in:\n{searched}\n"
        f"pass download=True to download it into {cache}, put the file in one of these folders, "
        f"pass root=FOLDER, or set ${DATA_ENV}=FOLDER"
    )


def _md5_list(url: str) -> dict[str, str]:
    """`md5sums.txt` next to `url`, parsed as `{file name: md5}` (lines `<md5> <name>`)."""
    listing = url.rsplit("/", 1)[0] + "/md5sums.txt"
    text = _datasets._fetch(listing).decode("utf-8", errors="replace")
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 32:
            out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def _stream(url: str, fh, digest) -> None:
    """Copy the bytes served at `url` into `fh`, updating `digest`; raise if the transfer ends early."""
    received = 0
    with _datasets._urlopen(url, timeout=_datasets._TIMEOUT) as response:
        headers = getattr(response, "headers", None)
        length = headers.get("Content-Length") if headers is not None else None
        while chunk := response.read(_datasets._CHUNK):
            fh.write(chunk)
            digest.update(chunk)
            received += len(chunk)
    if length is not None and int(length) != received:
        raise DownloadError(f"interrupted transfer: received {received} of {int(length)} bytes")


def _temp(directory: Path, name: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


def _member(zf: zipfile.ZipFile, name: str) -> str:
    """The archive member whose base name is `name`."""
    for info in zf.infolist():
        if info.filename.rsplit("/", 1)[-1] == name:
            return info.filename
    raise DownloadError(f"the zip archive holds no {name!r}")


def _unpack(archive: Path, source: Source, out: Path, out_name: str, digest) -> None:
    with open(out, "wb") as dst:
        if source.packing == "gz":
            inflater = zlib.decompressobj(wbits=31)
            with open(archive, "rb") as src:
                while chunk := src.read(_datasets._CHUNK):
                    data = inflater.decompress(chunk)
                    dst.write(data)
                    digest.update(data)
            tail = inflater.flush()
            dst.write(tail)
            digest.update(tail)
            if not inflater.eof:
                raise DownloadError("corrupt or truncated gzip data (stream ended early)")
        elif source.packing == "zip":
            with zipfile.ZipFile(archive) as zf:
                member = source.member or _member(zf, out_name)
                with zf.open(member) as src:
                    while chunk := src.read(_datasets._CHUNK):
                        dst.write(chunk)
                        digest.update(chunk)
        else:
            raise ValueError(f"unknown packing {source.packing!r}")
        dst.flush()
        os.fsync(dst.fileno())


def download(title: str, file: RemoteFile, directory: Path, validate: Callable[[Path], None]) -> Path:
    """Fetch `file` from its first source that serves it with the right checksums and passes
    `validate(path)`; store it as `directory/<file.name>` (temporary file, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / file.name
    failures = []
    for source in file.sources:
        print(f"eqsnn: downloading {source.url} -> {dest}", file=sys.stderr)
        archive = _temp(directory, file.name)
        content = _temp(directory, file.name) if source.packing != "raw" else archive
        try:
            expected = source.md5
            if expected is None:
                name = source.url.rsplit("/", 1)[1]
                expected = _md5_list(source.url).get(name)
                if expected is None:
                    raise DownloadError(f"{name} is not listed in md5sums.txt; refusing an unverified file")
            digest = hashlib.md5()
            with open(archive, "wb") as fh:
                _stream(source.url, fh, digest)
                fh.flush()
                os.fsync(fh.fileno())
            if digest.hexdigest() != expected:
                raise DownloadError(f"checksum mismatch: expected md5 {expected}, got {digest.hexdigest()}")
            content_digest = hashlib.md5()
            if source.packing != "raw":
                _unpack(archive, source, content, file.name, content_digest)
                if source.content_md5 is not None and content_digest.hexdigest() != source.content_md5:
                    raise DownloadError(
                        f"checksum mismatch: expected md5 {source.content_md5} of the unpacked file, "
                        f"got {content_digest.hexdigest()}"
                    )
            try:
                validate(content)
            except EventFileError as err:
                raise DownloadError(f"the file served is not valid: {err}") from None
            os.replace(content, dest)
            return dest
        except (OSError, http.client.HTTPException, ValueError, zipfile.BadZipFile, zlib.error, KeyError) as err:
            failures.append(f"  {source.url}: {type(err).__name__}: {err}")
        finally:
            for tmp in (archive, content):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
    raise DownloadError(f"could not download {title} file {file.name!r}; nothing was written:\n" + "\n".join(failures))


__all__ = ["EventFileError", "RemoteFile", "Source", "cache_dir", "data_dirs", "download", "not_found"]
