"""File writing shared by datasets, histories and checkpoints."""

from __future__ import annotations

import os
from pathlib import Path
import tempfile


def atomic_write(path: str | os.PathLike, content: bytes) -> None:
    """Write `content` to a temporary file next to `path`, fsync, then rename it over `path`.

    `path` is either its old self or complete, never half-written; on any
    failure the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
