"""The shipped templates are requests hpjobs accepts, and the documented ones run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hpjobs import shapes
from hpjobs.sagemaker._request import prepare_training_request
from hpjobs.sagemaker._tuning_request import prepare_tuning_request

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((REPO / "templates").rglob("*.json"))


def test_there_is_a_tuning_template_per_strategy_for_both_examples() -> None:
    names = {p.name for p in (REPO / "templates" / "tuning").glob("*.json")}
    strategies = ("grid", "random", "bayesian", "hyperband")
    assert names == {f"{kind}-{s}.json" for kind in ("mlp", "script") for s in strategies}


@pytest.mark.parametrize("path", TEMPLATES, ids=[str(p.relative_to(REPO)) for p in TEMPLATES])
def test_template_is_a_valid_request(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    request = json.loads(path.read_text())
    if "HyperParameterTuningJobConfig" in request:
        parsed = shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", request)
        plan = prepare_tuning_request(parsed)
        assert plan.max_jobs >= 1
        strategy = request["HyperParameterTuningJobConfig"]["Strategy"]
        assert path.stem.endswith(strategy.lower())
    else:
        parsed = shapes.parse_request("sagemaker", "CreateTrainingJob", request)
        prepared = prepare_training_request(parsed)
        assert prepared.request["TrainingJobName"] == request["TrainingJobName"]


def test_script_mode_grid_template_runs_through_hpjobs_run() -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "hpjobs", "run", "templates/tuning/script-grid.json",
            "--name", "template-grid", "--hp", "epochs=3",
        ],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Hyperparameter tuning job template-grid ended: Completed" in result.stdout
    assert "Training jobs: Completed 6," in result.stdout
    assert "Best training job: template-grid-0" in result.stdout
