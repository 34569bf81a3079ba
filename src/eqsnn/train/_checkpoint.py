"""Training checkpoints: one file, written to a temporary file then renamed.

Layout (format 2): the magic line, an 8-byte little-endian header length, a
JSON header (epoch, history, key, batch size, payload size), the payload (the
leaves of `(model, opt_state)` as written by `eqx.tree_serialise_leaves`),
then the SHA-256 digest (32 bytes) of *everything before it*: a reader trusts
nothing (neither the epoch nor a stored loss) that the checksum does not
cover. A file of format 1 (whose checksum covered the payload only) is
refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu

from .._custom_types import PyTree
from .._io import atomic_write

MAGIC = b"EQSNN-CHECKPOINT/2\n"
_MAGIC_V1 = b"EQSNN-CHECKPOINT/1\n"
_DIGEST = 32
FILENAME = "checkpoint.eqx"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated or does not match the model,
    or a checkpoint could not be written.

    **Attributes:** `model` and `history`: when [`eqsnn.train.BPTT.fit`][]
    fails to write a checkpoint, the model and history trained so far (so no
    training is lost); `None` otherwise.
    """

    model: Any = None
    history: Any = None


def checkpoint_path(directory: str | os.PathLike) -> Path:
    """The checkpoint file inside `directory`."""
    return Path(directory) / FILENAME


def save_checkpoint(path: str | os.PathLike, model: PyTree, opt_state: PyTree, meta: dict[str, Any]) -> None:
    """Write `(model, opt_state)` and the JSON-compatible `meta` to `path` atomically,
    with a SHA-256 digest of the whole file at its end."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, (model, opt_state))
    payload = buf.getvalue()
    header = dict(meta)
    header["payload_bytes"] = len(payload)
    hbytes = json.dumps(header).encode()
    body = MAGIC + len(hbytes).to_bytes(8, "little") + hbytes + payload
    atomic_write(path, body + hashlib.sha256(body).digest())


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files (`.<name>.*.part`) that a killed write of `path` left
    next to it; returns the paths removed."""
    path = Path(path)
    removed = []
    if path.parent.is_dir():
        for part in path.parent.glob(f".{path.name}.*.part"):
            part.unlink(missing_ok=True)
            removed.append(part)
    return removed


def _truncation(data: bytes) -> str | None:
    """A message when the (unverified) header says the file should be longer than it is."""
    pos = len(MAGIC)
    if len(data) < pos + 8:
        return "no header"
    hlen = int.from_bytes(data[pos : pos + 8], "little")
    try:
        header = json.loads(data[pos + 8 : pos + 8 + hlen].decode())
        expected = pos + 8 + hlen + int(header["payload_bytes"]) + _DIGEST
    except Exception:  # noqa: BLE001 - a corrupt header is reported as corrupt
        return None
    if len(data) < expected:
        return f"{len(data)} bytes, expected {expected}"
    return None


def load_checkpoint(path: str | os.PathLike, model_like: PyTree, opt_state_like: PyTree) -> tuple[PyTree, PyTree, dict]:
    """Read a checkpoint written by `save_checkpoint`; `*_like` give the structure.

    **Arguments:** `path` (the checkpoint file), `model_like` and
    `opt_state_like` (a model and an optimiser state of the structure,
    shapes and dtypes stored).

    **Returns:** `(model, opt_state, header)`, the header a dict (`epoch`,
    `history`, `key`, ...).

    Raises [`eqsnn.train.CheckpointError`][] when the file is missing,
    corrupt (any changed byte: the SHA-256 covers the whole file), truncated,
    of an older format, or does not match the structure of `model_like` /
    `opt_state_like`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_checkpoint: `path` must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint: no checkpoint file at {str(path)!r}") from e
    except OSError as e:
        raise CheckpointError(f"checkpoint: cannot read {str(path)!r}: {e}") from e
    if data.startswith(_MAGIC_V1):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} has format 1, whose checksum does not cover its header; "
            f"it cannot be trusted: start afresh (resume=False) or delete it"
        )
    if not data.startswith(MAGIC):
        raise CheckpointError(f"checkpoint: {str(path)!r} is not an eqsnn checkpoint (bad magic bytes)")
    if len(data) < len(MAGIC) + 8 + _DIGEST or hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:]:
        short = _truncation(data)
        if short is not None:
            raise CheckpointError(f"checkpoint: {str(path)!r} is truncated ({short})")
        raise CheckpointError(f"checkpoint: {str(path)!r} is corrupt (SHA-256 checksum mismatch)")
    pos = len(MAGIC)
    hlen = int.from_bytes(data[pos : pos + 8], "little")
    pos += 8
    try:
        header = json.loads(data[pos : pos + hlen].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint: {str(path)!r} has a corrupt header: {e}") from e
    payload = data[pos + hlen : -_DIGEST]
    if not isinstance(header, dict) or len(payload) != header.get("payload_bytes"):
        raise CheckpointError(f"checkpoint: {str(path)!r} is corrupt (inconsistent header)")
    try:
        model, opt_state = eqx.tree_deserialise_leaves(io.BytesIO(payload), (model_like, opt_state_like))
    except Exception as e:  # noqa: BLE001 - any mismatch is reported the same way
        raise CheckpointError(
            f"checkpoint: {str(path)!r} does not match the given model/optimizer (different structure, "
            f"shapes or dtypes): {type(e).__name__}: {e}"
        ) from e
    like_leaves = jtu.tree_leaves((model_like, opt_state_like))
    got_leaves = jtu.tree_leaves((model, opt_state))
    for i, (a, b) in enumerate(zip(like_leaves, got_leaves, strict=True)):
        if eqx.is_array(a) and (jnp.shape(a) != jnp.shape(b) or jnp.result_type(a) != jnp.result_type(b)):
            raise CheckpointError(
                f"checkpoint: {str(path)!r} does not match the given model/optimizer: leaf {i} has shape "
                f"{jnp.shape(b)} and dtype {jnp.result_type(b)}, expected {jnp.shape(a)} and {jnp.result_type(a)}"
            )
    return model, opt_state, header
