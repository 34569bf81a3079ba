"""The guides' scripts (docs/guides/*.md include their code) run in their smoke mode and print
sane numbers: each writes its figures, its losses fall, its fast paths equal the plain ones.

Run in-process, under the test session's runtime type checks; dtype promotion is the standard
one a user has (optax's Adam raises a float to its integer step count, which the session's strict
promotion rejects).
"""

import importlib.util
from pathlib import Path
import re

import jax
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(f"guide_{name}", EXAMPLES / f"guide_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with jax.numpy_dtype_promotion("standard"):
        module.main(["--smoke", "--out", str(tmp_path)])
    return capsys.readouterr().out


def _floats(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return [float(g) for g in match.groups()]


def _figures(tmp_path, *names):
    for name in names:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 5_000, f"{name} missing or empty"


def test_own_neuron_guide(tmp_path, capsys):
    out = _run("own_neuron", tmp_path, capsys)
    assert "ResonateAndFire: `tau` must be > 0 (ms), got -1.0" in out
    assert "property checks passed" in out
    counts = [int(c) for c in re.search(r"spikes per amplitude .*: \[(.*)\]", out).group(1).split(",")]
    assert counts[0] == 0 and counts[-1] > counts[1] > 0, counts  # subthreshold, onset only, tonic
    first, last, tau = _floats(r"loss (\S+) -> (\S+), tau 3.00 -> (\S+) ms", out)
    assert last < first and 3.0 < tau < 8.5
    _figures(tmp_path, "own-neuron-trace.png", "own-neuron-fit.png")


def test_recurrent_conv_guide(tmp_path, capsys):
    out = _run("recurrent_conv", tmp_path, capsys)
    (diff,) = _floats(r"run vs. scan of step, max \|diff\|: (\S+)", out)
    assert diff < 1e-5
    for net in ("recurrent ALIF", "conv SNN"):
        (rate,) = _floats(rf"{net}: output .* rate (\S+)/step", out)
        assert 0.0 < rate < 0.5, (net, rate)
        first, last = _floats(rf"{net}: loss (\S+) -> (\S+)", out)
        assert last < first, (net, first, last)
    _figures(tmp_path, "recurrent-raster.png", "recurrent-conv-loss.png")


def test_event_data_guide(tmp_path, capsys):
    pytest.importorskip("h5py")
    out = _run("event_data", tmp_path, capsys)
    assert (tmp_path / "data" / "shd_train.h5").is_file()
    kept, total = _floats(r"binned \(3, 100, 700\): (\d+) events of (\d+) kept", out)
    assert kept == total > 0
    (diff,) = _floats(r"event-driven vs. binned input, max \|diff\|: (\S+)", out)
    assert diff < 1e-5
    assert "tonic round trip: ('t', 'x', 'p') True" in out
    first, last = _floats(r"loss (\S+) -> (\S+) over", out)
    assert last < first
    _figures(tmp_path, "event-raster.png")
