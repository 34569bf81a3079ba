"""The record of a training run: per-epoch and per-step metrics, JSON on disk."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write

MODES = ("fit", "test")
_FORMAT = "eqsnn.History/1"


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"History: `mode` must be one of {MODES}, got {mode!r}")


class History:
    """Metrics of a training run, per epoch and per step, for `'fit'` and `'test'`.

    `history.metric('fit', 'loss')` is the per-epoch training loss (the mean
    over that epoch's steps), a NumPy array of shape `[num_epochs]`;
    `history.metric('fit', 'loss', per='step')` concatenates the per-step
    values of every epoch. The `'test'` mode holds the evaluation after each
    epoch (its per-step values are the per-batch values). Epoch wall times (s)
    are in `history.times`.

    **Methods:** `metric`, `names`, `add_epoch`, `to_dict` / `from_dict`,
    `save(path)` / `History.load(path)` (JSON, written to a temporary file
    then renamed).
    """

    def __init__(self) -> None:
        self.epochs: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
        self.steps: dict[str, list[dict[str, list[float]]]] = {m: [] for m in MODES}
        self.times: list[float] = []

    # -- recording --------------------------------------------------------
    def add_epoch(
        self,
        mode: str,
        means: dict[str, float],
        per_step: dict[str, list[float]] | None = None,
    ) -> None:
        """Append one epoch's mean metrics (and optionally per-step values) for `mode`."""
        _check_mode(mode)
        self.epochs[mode].append({k: float(v) for k, v in means.items()})
        self.steps[mode].append({k: [float(x) for x in vs] for k, vs in (per_step or {}).items()})

    @property
    def num_epochs(self) -> int:
        """Number of training epochs recorded."""
        return len(self.epochs["fit"])

    # -- reading ----------------------------------------------------------
    def names(self, mode: str = "fit") -> list[str]:
        """The metric names recorded for `mode` (e.g. `['loss', 'acc']`)."""
        _check_mode(mode)
        seen: dict[str, None] = {}
        for rec in self.epochs[mode]:
            seen.update(dict.fromkeys(rec))
        return list(seen)

    def metric(self, mode: str, name: str = "loss", *, per: str = "epoch") -> np.ndarray:
        """The values of metric `name` for `mode` (`'fit'` or `'test'`).

        `per='epoch'` (default): one value per epoch, `[num_epochs]`.
        `per='step'`: every step of every epoch, concatenated.
        """
        _check_mode(mode)
        if per not in ("epoch", "step"):
            raise ValueError(f"History.metric: `per` must be 'epoch' or 'step', got {per!r}")
        if self.epochs[mode] and name not in self.names(mode):
            raise KeyError(f"History.metric: no metric {name!r} for mode {mode!r}; recorded: {self.names(mode)}")
        if per == "epoch":
            return np.asarray([rec.get(name, math.nan) for rec in self.epochs[mode]], dtype=np.float64)
        values: list[float] = []
        for rec in self.steps[mode]:
            values.extend(rec.get(name, []))
        return np.asarray(values, dtype=np.float64)

    # -- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        return {"format": _FORMAT, "epochs": self.epochs, "steps": self.steps, "times": self.times}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of `to_dict`."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            got = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"History.from_dict: expected a dict with format {_FORMAT!r}, got {got!r}")
        h = cls()
        try:
            for mode in MODES:
                h.epochs[mode] = [{k: float(v) for k, v in rec.items()} for rec in data["epochs"].get(mode, [])]
                h.steps[mode] = [
                    {k: [float(x) for x in vs] for k, vs in rec.items()} for rec in data["steps"].get(mode, [])
                ]
            h.times = [float(t) for t in data.get("times", [])]
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(
                f"History.from_dict: malformed history (needs 'epochs' and 'steps' as written by to_dict): "
                f"{type(e).__name__}: {e}"
            ) from e
        return h

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON to `path` (temporary file, then rename)."""
        path = Path(path)
        atomic_write(path, json.dumps(self.to_dict()).encode())

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by `save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"History.load: `path` {str(path)!r} is not valid JSON (corrupt or truncated): {e}") from e
        return cls.from_dict(data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        last = {m: self.epochs[m][-1] if self.epochs[m] else {} for m in MODES}
        return f"History(num_epochs={self.num_epochs}, last={last})"
