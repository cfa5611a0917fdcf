"""``benchmarks/gpu_check.py --device cpu --quick``: every part runs, and its results file has every field filled."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


def empty_fields(value, where: str = "results") -> list[str]:
    """The places in a JSON value that hold None, an empty string, list or object."""
    if value is None or value in ("", [], {}):
        return [where]
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in empty_fields(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in empty_fields(v, f"{where}[{i}]")]
    return []


@pytest.mark.slow
def test_quick_cpu_run_fills_every_field(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--results", str(tmp_path),
                          "--work", str(tmp_path / "work")], capture_output=True, encoding="utf-8", timeout=2400)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    results = json.loads((tmp_path / "gpu_check_quick.json").read_text(encoding="utf-8"))

    assert empty_fields(results) == []
    assert [results[part]["status"] for part in ("steps", "study", "prediction")] == ["ok"] * 3
    assert results["quick"] is True and results["device"]["type"] == "cpu"
    assert {"torch", "nnunetv2"} <= set(results["versions"]) and results["commit"]

    steps = results["steps"]
    assert set(steps["eager"]) == {"plain", "seunet", "frozen_half", "hybrid_mul"}
    assert set(steps["compiled"]) == {"frozen_half"}
    for frozen in (steps["eager"]["frozen_half"], steps["compiled"]["frozen_half"]):
        assert frozen["frozen_tensors"] > 0 and frozen["frozen_bitwise_unchanged"] and frozen["trainable_changed"]
    for measured in (*steps["eager"].values(), *steps["compiled"].values()):
        assert len(measured["timed_steps_seconds"]) == results["settings"]["timed_steps"]
        assert measured["step_seconds"] > 0
    assert set(steps["ratios"]["step_seconds eager"]) == {"seunet / plain", "hybrid_mul / seunet",
                                                           "frozen_half / seunet"}
    assert "hybrid_mul / seunet" in run.stdout and "compiled / eager frozen_half" in run.stdout

    study = results["study"]
    assert "--preset paper" in study["command"] and "--strategies no-ft hybrid-mul" in study["command"]
    trained = {key for key in study["steps_seconds"] if key.startswith("train/")}
    assert trained == {f"train/seed_0/{role}/fold_0" for role in ("source", "no-ft", "hybrid-mul")}
    assert 0 < max(study["steps_seconds"].values()) < study["study_seconds"]

    prediction = results["prediction"]
    assert len(prediction["cases"]) >= 3  # the first case twice, then every T1 and T2 test case
    assert prediction["seconds_per_case"] > 0 and prediction["test_time_mirroring"] is False
