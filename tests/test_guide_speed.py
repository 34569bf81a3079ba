"""examples/guide_speed_memory.py (the speed and memory guide) runs in its smoke mode, and its figures say what
the guide says: remat lowers the compiled memory and leaves the gradients as they are (timings are printed by the
script, never asserted)."""

import importlib.util
import json
from pathlib import Path

import jax

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "guide_speed_memory.py"


def test_speed_memory_guide_smoke(tmp_path):
    spec = importlib.util.spec_from_file_location("guide_speed_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with jax.numpy_dtype_promotion("standard"):
        summary = module.main(["--smoke", "--out", str(tmp_path)])
    assert (tmp_path / "remat_memory.png").stat().st_size > 0
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    mem = summary["temp_mb"]
    assert mem["remat=10"] < mem["remat=None"]
    assert summary["remat_grad_max_abs_diff"] < 1e-4
    assert summary["step_ms"]["event"] > 0 and summary["step_ms"]["dense"] > 0  # timings are reported, not asserted
