"""The soak in its short CI form: bench/soak for 15 s must pass (see bench/soak.py)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.serial
def test_a_short_soak_has_no_5xx_no_wrong_decision_and_flat_memory():
    seconds = os.environ.get("GATEKEEP_SOAK_SECONDS", "15")
    result = subprocess.run(
        [
            str(ROOT / ".venv/bin/python"),
            str(ROOT / "bench/soak.py"),
            "--seconds",
            seconds,
            "--rotate-every",
            "5",
            "--toggle-every",
            "3",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=float(seconds) + 120,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["requests"] > 1000, summary
    assert summary["5xx"] == 0, summary["examples"]
    assert summary["wrong_decisions"] == 0, summary["examples"]
    assert summary["transport_errors"] == 0, summary["examples"]
    assert summary["key_rotations"] >= 1 and summary["api_toggles"] >= 2, summary
    assert summary["by_scenario"].get("toggled-off", 0) > 0
    assert summary["worker_rss_growth_mb"] < 20, summary["worker_rss_mb"]
    assert summary["idp_jwks_fetches"] <= summary["idp_fetch_budget"], summary
    assert result.returncode == 0, result.stderr[-2000:]
