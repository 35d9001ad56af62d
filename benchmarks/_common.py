"""What the tuning benchmarks share: a fresh hpjobs home, and running a tuning job to its end."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).parent / "scripts"


def use_home(folder: Path) -> None:
    """Point hpjobs at a fresh home (its own SQLite store and job folders)."""
    os.environ["HPJOBS_HOME"] = str(folder)
    os.environ.pop("HPJOBS_DATABASE_URL", None)


def script_definition(
    program: str, output: Path, metric: str, regex: str, **static: str
) -> dict[str, Any]:
    """A TrainingJobDefinition running one of ``benchmarks/scripts`` in script mode."""
    return {
        "StaticHyperParameters": {
            "sagemaker_program": json.dumps(program),
            "sagemaker_submit_directory": json.dumps(str(SCRIPTS)),
            **static,
        },
        "AlgorithmSpecification": {
            "TrainingImage": "hpjobs/pytorch",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": metric, "Regex": regex}],
        },
        "RoleArn": "arn:aws:iam::000000000000:role/benchmark",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def run_tuning(request: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], float]:
    """Create the tuning job, wait for its end; (description, children summaries, seconds)."""
    import hpjobs

    client = hpjobs.client("sagemaker")
    name = request["HyperParameterTuningJobName"]
    started = time.perf_counter()
    client.create_hyper_parameter_tuning_job(**request)
    while True:
        description = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if description["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    children: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = client.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100, **token
        )
        children += page["TrainingJobSummaries"]
        if "NextToken" not in page:
            return description, children, elapsed
        token = {"NextToken": page["NextToken"]}
