"""The runner <-> peer protocol, shared by the peer scripts (plain Python: each peer imports it from its own
interpreter, with no eqsnn installed).

After its warm-up the peer prints one JSON line `{"ready": true, ...info}`; then for each line `i` read from stdin
it runs one training step on batch `i` and prints `{"s": seconds}` (wall); an empty line ends it.
"""

from __future__ import annotations

from collections.abc import Callable
import json
import sys
import time
from typing import Any


def serve(step: Callable[[int], Any], info: dict[str, Any]) -> None:
    """Announce `info` (with `ready: true`), then time `step(i)` for every batch index the runner sends."""
    print(json.dumps(dict(ready=True, **info)), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            break
        t0 = time.perf_counter()
        step(int(line))
        print(json.dumps(dict(s=time.perf_counter() - t0)), flush=True)
