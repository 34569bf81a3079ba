"""Figures: curves labelled correctly, rasters with one point per spike, PNGs on disk."""

import sys

import numpy as np
import pytest

from eqsnn import plot
from eqsnn.train import History

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history():
    h = History()
    fit = [(1.5, 0.4), (1.0, 0.6), (0.7, 0.8)]
    test = [(1.6, 0.35), (1.2, 0.55), (0.9, 0.7)]
    for (fl, fa), (tl, ta) in zip(fit, test, strict=True):
        h.add_epoch("fit", {"loss": fl, "acc": fa}, {"loss": [fl + 0.1, fl - 0.1], "acc": [fa, fa]})
        h.add_epoch("test", {"loss": tl, "acc": ta}, {"loss": [tl], "acc": [ta]})
        h.times.append(0.1)
    return h, fit, test


def _check_png(path, min_size=50):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= min_size
    assert img.std() > 0  # not a blank image


def test_history_curves_labels_and_data(tmp_path):
    h, fit, test = _history()
    fig = plot.history_curves(h)
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["Loss", "Accuracy"]
    for i, ax in enumerate(axes):
        lines = ax.get_lines()
        assert [ln.get_label() for ln in lines] == ["train", "test"]
        np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(lines[0].get_ydata(), [r[i] for r in fit])
        np.testing.assert_allclose(lines[1].get_ydata(), [r[i] for r in test])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]
    fig.savefig(tmp_path / "curves.png")
    _check_png(tmp_path / "curves.png")

    steps = plot.history_curves(h, ["loss"], per="step")
    (ax,) = steps.axes
    train, tst = ax.get_lines()
    np.testing.assert_allclose(train.get_ydata(), [1.6, 1.4, 1.1, 0.9, 0.8, 0.6])
    np.testing.assert_array_equal(tst.get_xdata(), [2, 4, 6])  # test drawn at each epoch's last step
    with pytest.raises(ValueError, match="'f1'"):
        plot.history_curves(h, ["f1"])


def test_raster_has_one_point_per_spike(tmp_path):
    rng = np.random.default_rng(0)
    spikes = (rng.random((50, 8)) < 0.1).astype(np.float32)
    fig = plot.raster(spikes, dt=0.5)
    (ax,) = fig.axes
    (points,) = ax.collections
    offsets = np.asarray(points.get_offsets())
    t_idx, n_idx = np.nonzero(spikes)
    assert len(offsets) == spikes.sum() > 0
    np.testing.assert_allclose(sorted(map(tuple, offsets)), sorted(zip(t_idx * 0.5, n_idx, strict=True)))
    assert ax.get_xlabel() == "Time (ms)"
    fig.savefig(tmp_path / "raster.png")
    _check_png(tmp_path / "raster.png")
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        plot.raster(np.zeros((2, 3, 4, 5)))


def test_raster_of_several_samples_has_one_panel_each():
    rng = np.random.default_rng(1)
    spikes = (rng.random((3, 40, 6)) < 0.1).astype(np.float32)
    fig = plot.raster(spikes, titles=["a", "b", "c"])
    assert len(fig.axes) == 3
    for ax, sample, title in zip(fig.axes, spikes, "abc", strict=True):
        (points,) = ax.collections
        t_idx, n_idx = np.nonzero(sample)
        offsets = np.asarray(points.get_offsets()).reshape(-1, 2)
        np.testing.assert_allclose(sorted(map(tuple, offsets)), sorted(zip(t_idx, n_idx, strict=True)))
        assert ax.get_title() == title
    with pytest.raises(ValueError, match="titles"):
        plot.raster(spikes, titles=["a"])


def test_plot_without_matplotlib(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    h, _, _ = _history()
    with pytest.raises(ImportError, match=r"eqsnn\[plot\]"):
        plot.history_curves(h)
    with pytest.raises(ImportError, match="optional extra"):
        plot.raster(np.zeros((3, 2)))


def test_import_eqsnn_without_matplotlib():
    import subprocess

    code = "import sys; sys.modules['matplotlib'] = None; import eqsnn, eqsnn.plot; print('ok', eqsnn.plot.raster.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok raster"
