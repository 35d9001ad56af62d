"""Helpers the tests share: request builders and waiting for jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SCRIPTS = FIXTURES / "scripts"
TERMINAL = {"Completed", "Failed", "Stopped"}


def training_request(name: str, output: Path, **overrides: Any) -> dict[str, Any]:
    """A CreateTrainingJob request for script mode with a fixture script."""
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "hpjobs/pytorch", "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": '"report.py"',
            "sagemaker_submit_directory": f'"{SCRIPTS.as_uri()}"',
        },
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    return request


def program(request: dict[str, Any], script: str, **hyperparameters: str) -> dict[str, Any]:
    """``request`` running fixture ``script`` with extra hyperparameters."""
    request["HyperParameters"]["sagemaker_program"] = f'"{script}"'
    request["HyperParameters"].update(hyperparameters)
    return request


def wait_for(
    name: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 60
) -> dict[str, Any]:
    """Describe job ``name`` until ``until`` holds (default: a terminal status)."""
    from hpjobs.sagemaker.training_jobs import describe_training_job

    until = until or (lambda d: d["TrainingJobStatus"] in TERMINAL)
    deadline = time.monotonic() + timeout
    while True:
        description = describe_training_job({"TrainingJobName": name})
        if until(description):
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} did not get there in {timeout} s: {description}")
        time.sleep(0.05)
