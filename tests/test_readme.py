"""The README's code sample runs, trains, and is the same network as `eqsnn.models.SNN`."""

from pathlib import Path
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import eqsnn

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_namespace() -> dict:
    text = README.read_text()
    section = text.split("## The tutorial's spiking network", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, str(README), "exec"), ns)
    return ns


def test_readme_snn_equals_packaged_snn(getkey):
    ns = _readme_namespace()
    mine = ns["SNN"](getkey(), dt=1.0)
    ref = eqsnn.models.SNN(784, 100, 10, key=getkey(), dt=1.0)
    # give the packaged model the README model's weights, then both must agree exactly
    ref = eqx.tree_at(lambda m: (m.i2r.comm, m.r2o.comm), ref, (mine.i2r.comm, mine.r2o.comm))
    xs = (jax.random.uniform(getkey(), (60, 784)) < 0.05).astype(jnp.float32) * 4.0
    _, y_mine, m_mine = eqsnn.run(mine, xs, monitor=lambda s: s["r"].spike)
    _, y_ref, m_ref = eqsnn.run(ref, xs, monitor=lambda s: s.r.spike)
    assert m_ref.sum() > 0, "the input should make some hidden neurons spike"
    np.testing.assert_array_equal(np.asarray(m_mine), np.asarray(m_ref))
    np.testing.assert_allclose(np.asarray(y_mine), np.asarray(y_ref), rtol=1e-6, atol=1e-6)


def test_readme_trainer_line_runs(getkey):
    ns = _readme_namespace()
    spikes = (jax.random.uniform(getkey(), (8, 30, 784)) < 0.05).astype(jnp.float32)
    labels = jnp.arange(8, dtype=jnp.int32) % 10
    trainer = ns["trainer"]
    trainer.progress = trainer.verbose = False
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes int and float internally
        model, history = trainer.fit(ns["SNN"](getkey()), (spikes, labels), num_epochs=2, batch_size=4, key=getkey())
    assert history.num_epochs == 2
    assert np.all(np.isfinite(history.metric("fit", "loss")))
    assert set(history.names("fit")) >= {"loss", "acc"}
