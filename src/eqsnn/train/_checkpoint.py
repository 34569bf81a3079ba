"""Training checkpoints: one file, written to a temporary file then renamed.

Layout: the magic line, an 8-byte little-endian header length, a JSON header
(epoch, history, key, payload size and SHA-256), then the payload: the leaves
of `(model, opt_state)` as written by `eqx.tree_serialise_leaves`.
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

MAGIC = b"EQSNN-CHECKPOINT/1\n"
FILENAME = "checkpoint.eqx"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated or does not match the model."""


def checkpoint_path(directory: str | os.PathLike) -> Path:
    """The checkpoint file inside `directory`."""
    return Path(directory) / FILENAME


def save_checkpoint(path: str | os.PathLike, model: PyTree, opt_state: PyTree, meta: dict[str, Any]) -> None:
    """Write `(model, opt_state)` and the JSON-compatible `meta` to `path` atomically."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, (model, opt_state))
    payload = buf.getvalue()
    header = dict(meta)
    header["payload_bytes"] = len(payload)
    header["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    hbytes = json.dumps(header).encode()
    atomic_write(path, MAGIC + len(hbytes).to_bytes(8, "little") + hbytes + payload)


def load_checkpoint(path: str | os.PathLike, model_like: PyTree, opt_state_like: PyTree) -> tuple[PyTree, PyTree, dict]:
    """Read a checkpoint written by `save_checkpoint`; `*_like` give the structure.

    Raises [`eqsnn.train.CheckpointError`][] when the file is corrupt, truncated
    or does not match the structure of `model_like` / `opt_state_like`.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint: no checkpoint file at {str(path)!r}") from e
    if not data.startswith(MAGIC):
        raise CheckpointError(f"checkpoint: {str(path)!r} is not an eqsnn checkpoint (bad magic bytes)")
    pos = len(MAGIC)
    if len(data) < pos + 8:
        raise CheckpointError(f"checkpoint: {str(path)!r} is truncated (no header)")
    hlen = int.from_bytes(data[pos : pos + 8], "little")
    pos += 8
    try:
        header = json.loads(data[pos : pos + hlen].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint: {str(path)!r} has a corrupt or truncated header: {e}") from e
    payload = data[pos + hlen :]
    if len(payload) != header.get("payload_bytes"):
        raise CheckpointError(
            f"checkpoint: {str(path)!r} is truncated: payload has {len(payload)} bytes, "
            f"expected {header.get('payload_bytes')}"
        )
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise CheckpointError(f"checkpoint: {str(path)!r} is corrupt (payload checksum mismatch)")
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
