"""The shipped templates are requests hpjobs accepts, and the documented ones run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hpjobs import shapes
from hpjobs.bedrock.families import Target, family
from hpjobs.bedrock.runtime import converse
from hpjobs.generation.registry import FAMILIES
from hpjobs.sagemaker._request import prepare_training_request
from hpjobs.sagemaker._tuning_request import prepare_tuning_request

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((REPO / "templates").rglob("*.json"))


def test_there_is_a_tuning_template_per_strategy_for_both_examples() -> None:
    names = {p.name for p in (REPO / "templates" / "tuning").glob("*.json")}
    strategies = ("grid", "random", "bayesian", "hyperband")
    assert names == {f"{kind}-{s}.json" for kind in ("mlp", "script") for s in strategies}


def _check_sagemaker(request: dict[str, Any]) -> None:
    if "HyperParameterTuningJobConfig" in request:
        parsed = shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", request)
        assert prepare_tuning_request(parsed).max_jobs >= 1
    else:
        parsed = shapes.parse_request("sagemaker", "CreateTrainingJob", request)
        prepared = prepare_training_request(parsed)
        assert prepared.request["TrainingJobName"] == request["TrainingJobName"]


def _check_bedrock(path: Path, request: dict[str, Any]) -> None:
    if path.name == "converse.json":
        reply = converse(request)
        assert reply["usage"]["outputTokens"] >= 1
        return
    name = path.stem.removeprefix("invoke-")
    assert name in FAMILIES
    body = family(name).parse(request, Target(f"{name}-template", name, 256))
    assert body.generation.max_tokens == 120


@pytest.mark.parametrize("path", TEMPLATES, ids=[str(p.relative_to(REPO)) for p in TEMPLATES])
def test_template_is_a_valid_request(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    request = json.loads(path.read_text())
    kind = path.relative_to(REPO / "templates").parts[0]
    if kind == "bedrock":
        _check_bedrock(path, request)
    elif kind == "customization":
        parsed = shapes.parse_request("bedrock", "CreateModelCustomizationJob", request)
        assert parsed["customizationType"] in ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
    else:
        _check_sagemaker(request)
        if "HyperParameterTuningJobConfig" in request:
            strategy = request["HyperParameterTuningJobConfig"]["Strategy"]
            assert path.stem.endswith(strategy.lower())


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
