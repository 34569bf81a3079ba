"""Data parallelism: 4 (forced host) devices give the same training as 1 device.

XLA's host device count must be set before JAX starts, so the comparison runs
in a subprocess; the rest of the test session keeps its single device.
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os
    assert "xla_force_host_platform_device_count=4" in os.environ["XLA_FLAGS"]
    import jax
    import equinox as eqx
    import numpy as np
    import optax
    import eqsnn
    from eqsnn import losses
    from eqsnn.nn import LSTMCell, Linear
    from eqsnn.train import BPTT

    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6, 3)).astype(np.float32)
    y = (x[:, :, 0].mean(axis=1) > 0).astype(np.int32)

    def loss_fn(outputs, targets, monitored):
        logits = outputs[:, -1]
        return losses.cross_entropy(logits, targets), {"acc": losses.accuracy(logits, targets),
                                                       "h": monitored["h"].mean()}

    def model():
        k1, k2 = jax.random.split(jax.random.key(0))
        return eqsnn.Sequential(LSTMCell(3, 8, key=k1), Linear(8, 2, key=k2))

    trainer = BPTT(loss_fn, optax.adam(1e-2), monitor={"h": lambda s: s[0].h}, progress=False, verbose=False)
    out = {}
    for name, devices in (("one", 1), ("four", 4)):
        m, h = trainer.fit(model(), (x, y), (x[:40], y[:40]), num_epochs=2, batch_size=16,
                           key=jax.random.key(1), devices=devices, eval_batch_size=16)
        leaves = jax.tree.leaves(eqx.filter(m, eqx.is_inexact_array))
        out[name] = dict(
            params=[np.asarray(a).tolist() for a in leaves],
            devices=sorted({len(a.sharding.device_set) for a in leaves}),
            fit=h.metric("fit", "loss", per="step").tolist(),
            test=h.metric("test", "loss").tolist(),
            h=h.metric("fit", "h").tolist(),
        )
    # a generator source is sharded the same way
    def source():
        for i in range(0, 96, 16):
            yield x[i:i + 16], y[i:i + 16]
    _, hg = trainer.fit(model(), source, num_epochs=1, devices=4)
    out["generator_steps"] = len(hg.metric("fit", "loss", per="step"))
    try:
        trainer.fit(model(), (x, y), num_epochs=1, batch_size=18, key=jax.random.key(1), devices=4)
    except ValueError as e:
        out["indivisible"] = str(e)
    print("RESULT" + json.dumps(out))
    """
)


def test_four_devices_equal_one_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    out = json.loads(line[len("RESULT") :])
    one, four = out["one"], out["four"]
    assert one["devices"] == [1] and four["devices"] == [4]  # parameters replicated on every device
    import numpy as np

    for a, b in zip(one["params"], four["params"], strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(four["fit"], one["fit"], rtol=1e-4)
    np.testing.assert_allclose(four["test"], one["test"], rtol=1e-4)
    np.testing.assert_allclose(four["h"], one["h"], rtol=1e-4, atol=1e-6)
    assert len(one["fit"]) == 2 * 6
    assert out["generator_steps"] == 6
    assert "batch_size`=18 must be a multiple of the 4 devices" in out["indivisible"]
