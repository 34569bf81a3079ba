"""Figures: training curves and spike rasters (needs the optional `plot` extra: matplotlib).

The functions return a `matplotlib.figure.Figure` (not attached to pyplot),
which a notebook displays and `fig.savefig("curves.png")` writes. matplotlib is
imported only when a function is called, so `import eqsnn` works without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .train import History

#: A `matplotlib.figure.Figure` (matplotlib is imported lazily).
Figure = Any

__all__ = ["history_curves", "raster"]

_LABELS = {"fit": "train", "test": "test"}


def _figure_cls() -> type:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("eqsnn.plot needs matplotlib, which is an optional extra: pip install 'eqsnn[plot]'") from e
    return Figure


def history_curves(
    history: History,
    metrics: Sequence[str] | None = None,
    *,
    per: str = "epoch",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Training curves: one panel per metric, the training (`'fit'`, labelled
    "train") and the test (labelled "test") values against the epoch.

    **Arguments:**

    - `history`: an [`eqsnn.train.History`][].
    - `metrics`: the metrics to draw, one panel each; default `('loss',)`
      plus `'acc'` when it was recorded.
    - `per`: `'epoch'` (default; x axis: epoch 1..E) or `'step'` (training
      values per step; test values are drawn at the last step of each epoch).
    - `figsize`: matplotlib figure size (inches); default 4.5 in per panel.

    **Returns:** the `Figure`; `fig.savefig('curves.png')` writes it.
    """
    figure = _figure_cls()
    if not isinstance(history, History):
        raise TypeError(f"history_curves: `history` must be an eqsnn.train.History, got {type(history).__name__}")
    if per not in ("epoch", "step"):
        raise ValueError(f"history_curves: `per` must be 'epoch' or 'step', got {per!r}")
    names = history.names("fit")
    if metrics is None:
        metrics = ["loss"] + (["acc"] if "acc" in names else [])
    metrics = list(metrics)
    if not metrics:
        raise ValueError("history_curves: `metrics` must name at least one metric, got none")
    for m in metrics:
        if m not in names:
            raise ValueError(f"history_curves: `metrics` entry {m!r} was not recorded; recorded: {names}")
    fig = figure(figsize=figsize or (4.5 * len(metrics), 3.5), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    steps_per_epoch = [len(next(iter(rec.values()), [])) for rec in history.steps["fit"]]
    for ax, name in zip(axes, metrics, strict=True):
        for mode in ("fit", "test"):
            if not history.epochs[mode] or name not in history.names(mode):
                continue
            if per == "epoch" or mode == "test":
                y = history.metric(mode, name)
                x = np.arange(1, len(y) + 1) if per == "epoch" else np.cumsum(steps_per_epoch)[: len(y)]
                ax.plot(x, y, marker="o" if len(y) < 30 else None, label=_LABELS[mode])
            else:
                y = history.metric(mode, name, per="step")
                ax.plot(np.arange(1, len(y) + 1), y, label=_LABELS[mode])
        ax.set_xlabel("Epoch" if per == "epoch" else "Step")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel({"loss": "Loss", "acc": "Accuracy"}.get(name, name))
        ax.legend()
    return fig


def raster(
    spikes: Any,
    *,
    dt: float | None = None,
    neurons: Sequence[int] | None = None,
    titles: Sequence[str] | None = None,
    figsize: tuple[float, float] | None = None,
    markersize: float = 2.0,
) -> Figure:
    r"""Spike raster: a dot at (time, neuron) for every spike.

    **Arguments:**

    - `spikes`: `[T, N]` for one sample, or `[S, T, N]` for `S` samples drawn
      side by side (one panel each, sharing the neuron axis); nonzero = spike.
    - `dt`: step (ms); if given the x axis is time in ms ($t = k\,\Delta t$),
      otherwise the step index $k$.
    - `neurons`: optional subset of neuron indices to draw.
    - `titles`: optional panel titles, one per sample.
    - `figsize`: appearance (default 6 x 3.5 in, 3.2 in wide per panel for
      several samples); `markersize`: dot size.

    **Returns:** the `Figure`, with one scatter collection per panel holding
    one point per spike.
    """
    figure = _figure_cls()
    s = np.asarray(spikes)
    if s.ndim not in (2, 3):
        raise ValueError(
            f"raster: `spikes` must have shape [T, N] (one sample) or [S, T, N] (several), got shape {s.shape}"
        )
    samples = s[None] if s.ndim == 2 else s
    if neurons is not None:
        idx = np.asarray(list(neurons) if not isinstance(neurons, np.ndarray) else neurons)
        n = samples.shape[2]
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < -n or idx.max() >= n):
            raise ValueError(
                f"raster: `neurons` must be integer indices in [0, {n}) (the neuron axis), got {neurons!r}"
            )
        samples = samples[:, :, idx.astype(int)]
    if titles is not None and len(titles) != len(samples):
        raise ValueError(f"raster: `titles` must have one entry per sample ({len(samples)}), got {len(titles)}")
    num_steps, num_neurons = samples.shape[1], samples.shape[2]
    size = figsize or ((6.0, 3.5) if len(samples) == 1 else (3.2 * len(samples), 3.5))
    fig = figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, len(samples), squeeze=False, sharey=True)[0]
    for k, (ax, sample) in enumerate(zip(axes, samples, strict=True)):
        t_idx, n_idx = np.nonzero(sample)
        t = t_idx * dt if dt is not None else t_idx
        ax.scatter(t, n_idx, s=markersize, c="k", marker="|" if markersize > 4 else ".")
        ax.set_xlabel("Time (ms)" if dt is not None else "Step")
        ax.set_xlim(0, (num_steps * dt) if dt is not None else num_steps)
        ax.set_ylim(-0.5, num_neurons - 0.5)
        if titles is not None:
            ax.set_title(titles[k])
    axes[0].set_ylabel("Neuron")
    return fig
