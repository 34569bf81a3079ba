"""Reader for the IDX format (MNIST, Fashion-MNIST), raw or gzip-compressed.

An IDX file is a big-endian header followed by the elements, row-major:

* bytes 0-1: zero; byte 2: element type code; byte 3: number of dimensions `d`;
* `d` unsigned 32-bit big-endian sizes;
* `prod(sizes)` elements of the given type (big-endian for multi-byte types).
"""

from __future__ import annotations

import os
from pathlib import Path
import zlib

import numpy as np

#: IDX element type code -> NumPy dtype (big-endian where it matters).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_NDIM = 16


class IDXError(ValueError):
    """A file is not a valid IDX file (truncated, corrupt, or not what was expected)."""


def read_idx_bytes(path: str | os.PathLike[str]) -> bytes:
    """The IDX content of `path` as bytes, decompressing it when it is gzip (by magic number)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"read_idx: `path` must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            # wbits=31: gzip container. One call is much faster than `gzip.open(...).read()`.
            data = zlib.decompress(data, wbits=31)
        except zlib.error as err:
            raise IDXError(f"{path}: corrupt or truncated gzip data ({err})") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse IDX content (already decompressed) into a native-endian NumPy array.

    Raises `IDXError` naming `name` when the header or the size is invalid.
    """
    if len(data) < 4:
        raise IDXError(f"{name}: truncated IDX file: {len(data)} bytes, expected at least a 4-byte header")
    if data[0] != 0 or data[1] != 0:
        raise IDXError(f"{name}: not an IDX file: magic number must start with two zero bytes, got {data[:4].hex()!r}")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXError(f"{name}: unknown IDX element type code 0x{code:02X}, expected one of {known}")
    if not 1 <= ndim <= _MAX_NDIM:
        raise IDXError(f"{name}: IDX number of dimensions must be in 1..{_MAX_NDIM}, got {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{name}: truncated IDX header: {len(data)} bytes, expected {header} for {ndim} dimensions")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise IDXError(
            f"{name}: truncated IDX file: shape {shape} of {dtype.name} needs {expected} data bytes, found {found}"
        )
    if found > expected:
        raise IDXError(
            f"{name}: corrupt IDX file: shape {shape} of {dtype.name} needs {expected} data bytes, "
            f"found {found} ({found - expected} trailing bytes)"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or `.gz`, detected by content) into a NumPy array.

    The header (magic number, element type code, number of dimensions, sizes)
    and the element count are validated; a truncated, corrupt or oversized
    file raises `eqsnn.data.IDXError` (a `ValueError`) naming the file.

    **Arguments:**

    - `path`: the file.

    **Returns:** a writable, native-endian array with the file's shape and
    dtype (`uint8` for the MNIST family).
    """
    return parse_idx(read_idx_bytes(path), str(path))
