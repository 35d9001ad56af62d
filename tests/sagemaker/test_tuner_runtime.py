"""The tuner in this process: MaxRuntimeInSeconds of the tuning job (at least 120 s on AWS, so the
tuner's deadline is shortened here rather than waited for)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from helpers import SCRIPTS, wait_for

from hpjobs import shapes
from hpjobs.config import settings
from hpjobs.sagemaker._records import utcnow
from hpjobs.sagemaker._tuner import Tuner
from hpjobs.sagemaker._tuning_request import prepare_tuning_request
from hpjobs.sagemaker.tuning_jobs import (
    describe_hyper_parameter_tuning_job,
    list_training_jobs_for_hyper_parameter_tuning_job,
    tuning_job_arn,
)
from hpjobs.store import TuningJob, get_store


def _request(output: Path) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "deadline",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": 6,
                "MaxParallelTrainingJobs": 2,
                "MaxRuntimeInSeconds": 120,
            },
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "4"}]
            },
            "RandomSeed": 1,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": '"objective.py"',
                "sagemaker_submit_directory": json.dumps(str(SCRIPTS)),
                "epochs": "60",
                "seconds": "0.5",
            },
            "AlgorithmSpecification": {
                "TrainingImage": "hpjobs/pytorch",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "objective", "Regex": r"objective=([0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/test",
            "OutputDataConfig": {"S3OutputPath": output.as_uri()},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def test_max_runtime_of_the_tuning_job_stops_its_training_jobs(output: Path) -> None:
    plan = prepare_tuning_request(
        shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", _request(output))
    )
    now = utcnow()
    job = TuningJob(
        name="deadline",
        name_key="deadline",
        arn=tuning_job_arn("deadline"),
        request=plan.request,
        status="InProgress",
        creation_time=now,
        last_modified_time=now,
        job_dir=str(settings().home / "tuning" / "deadline"),
    )
    store = get_store()
    with store.write() as session:
        session.add(job)
    tuner = Tuner(store, job)
    tuner.deadline = time.monotonic() + 3  # in place of the request's 120 s
    started = time.monotonic()
    assert tuner.run() == 0
    assert time.monotonic() - started < 30
    description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "deadline"})
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    counters = description["TrainingJobStatusCounters"]
    assert counters["Stopped"] == 2 and counters["Completed"] == 0
    children = list_training_jobs_for_hyper_parameter_tuning_job(
        {"HyperParameterTuningJobName": "deadline"}
    )["TrainingJobSummaries"]
    assert len(children) == 2  # no new training job starts once the time is up
    for child in children:
        assert wait_for(child["TrainingJobName"])["TrainingJobStatus"] == "Stopped"
        assert child["ObjectiveStatus"] == "Succeeded"  # the last objective counts
    assert (
        description["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 0
    )
