"""Built-in algorithm jobs through the control plane: the real hpjobs/mlp script in a real job."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from helpers import SCRIPTS, training_request, wait_for

from hpjobs.sagemaker.training_jobs import create_training_job, training_job_metrics


def _mlp_request(name: str, output: Path, **hyperparameters: str) -> dict[str, Any]:
    request = training_request(name, output)
    request["AlgorithmSpecification"] = {"TrainingImage": "hpjobs/mlp", "TrainingInputMode": "File"}
    request["HyperParameters"] = {"epochs": "3", "hidden_size": "16", **hyperparameters}
    return request


def test_builtin_job_on_the_shipped_sample_completes_with_metrics(output: Path) -> None:
    create_training_job(_mlp_request("mlp-ok", output, learning_rate="0.01", dropout="0.1"))
    description = wait_for("mlp-ok", timeout=120)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    names = [m["MetricName"] for m in description["FinalMetricDataList"]]
    assert names == ["train:loss", "train:accuracy", "validation:loss", "validation:accuracy"]
    accuracy = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert accuracy["validation:accuracy"] > 0.8
    epochs = sorted({p["Epoch"] for p in training_job_metrics("mlp-ok")})
    assert epochs == [1, 2, 3]
    with tarfile.open(output / "mlp-ok" / "output" / "model.tar.gz") as tar:
        assert {"model.pt", "model.json"} <= set(tar.getnames())
        member = tar.extractfile("model.json")
        assert member is not None
        assert "64" in json.dumps(json.load(member))  # 64 pixel features in


def test_builtin_bad_hyperparameter_fails_with_a_clear_reason(output: Path) -> None:
    create_training_job(_mlp_request("mlp-bad", output, learning_rate="-1"))
    description = wait_for("mlp-bad", timeout=120)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("ClientError: Hyperparameter learning_rate")
    assert "'-1'" in description["FailureReason"]


def test_package_entry_point_runs_as_a_module(output: Path, tmp_path: Path, home: Path) -> None:
    code = tmp_path / "package"
    code.mkdir()
    (code / "setup.py").write_text("from setuptools import setup\nsetup(name='report')\n")
    (code / "report.py").write_text((SCRIPTS / "report.py").read_text())
    request = training_request("pkg-job", output)
    request["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(str(code))
    create_training_job(request)
    description = wait_for("pkg-job")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    log = (home / "jobs" / "pkg-job" / "logs" / "algo-1.log").read_text()
    assert " -m report" in log.splitlines()[0]
