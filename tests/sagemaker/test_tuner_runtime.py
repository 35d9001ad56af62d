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


def _tuner(request: dict[str, Any]) -> Tuner:
    """A tuner in this process for the tuning job ``request`` asks for, recorded InProgress."""
    plan = prepare_tuning_request(
        shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", request)
    )
    name = request["HyperParameterTuningJobName"]
    now = utcnow()
    job = TuningJob(
        name=name,
        name_key=name.lower(),
        arn=tuning_job_arn(name),
        request=plan.request,
        status="InProgress",
        creation_time=now,
        last_modified_time=now,
        job_dir=str(settings().home / "tuning" / name),
    )
    store = get_store()
    with store.write() as session:
        session.add(job)
    return Tuner(store, job)


def test_max_runtime_of_the_tuning_job_stops_its_training_jobs(
    output: Path, monkeypatch: Any
) -> None:
    """The tuning job's time runs out while both its training jobs train (the deadline is moved
    to a second after both have reported an objective, in place of the request's 120 s: on a busy
    machine their supervisors alone can take seconds to start)."""
    tuner = _tuner(_request(output))
    tuner.deadline = time.monotonic() + 120
    read_points = Tuner._read_objective
    reported: set[str] = set()

    def read_and_time(self: Tuner, child: Any) -> None:
        read_points(self, child)
        if child.last_value is not None and len(reported) < 2:
            reported.add(child.name)
            if len(reported) == 2:
                self.deadline = time.monotonic() + 1

    monkeypatch.setattr(Tuner, "_read_objective", read_and_time)
    started = time.monotonic()
    assert tuner.run() == 0
    assert len(reported) == 2
    assert time.monotonic() - started < 60
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


def test_a_child_that_ends_while_its_points_are_read_counts_its_last_objective(
    output: Path, monkeypatch: Any
) -> None:
    """The tuner reads a child's points, and the child ends before the tuner looks at its status
    (a busy machine can hold the tuner there for any time): the objective is still the child's
    last point, read once the end is seen."""
    from hpjobs.sagemaker.training_jobs import describe_training_job, training_job_metrics

    read_points = Tuner._read_objective
    held = []

    def read_then_wait_for_the_end(tuner: Tuner, child: Any) -> None:
        read_points(tuner, child)
        if not held:  # the first read of the child's points: the child ends right after it
            held.append(child.name)
            wait_for(child.name, timeout=60)

    monkeypatch.setattr(Tuner, "_read_objective", read_then_wait_for_the_end)
    request = _request(output)
    request["HyperParameterTuningJobName"] = "last-points"
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    limits.update(MaxNumberOfTrainingJobs=1, MaxParallelTrainingJobs=1)
    del limits["MaxRuntimeInSeconds"]
    request["TrainingJobDefinition"]["StaticHyperParameters"].update(epochs="3", seconds="0.2")
    tuner = _tuner(request)
    assert tuner.run() == 0
    [name] = held
    assert describe_training_job({"TrainingJobName": name})["TrainingJobStatus"] == "Completed"
    last = [p["Value"] for p in training_job_metrics(name) if p["MetricName"] == "objective"][-1]
    [child] = list_training_jobs_for_hyper_parameter_tuning_job(
        {"HyperParameterTuningJobName": "last-points"}
    )["TrainingJobSummaries"]
    assert child["ObjectiveStatus"] == "Succeeded"
    assert child["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == last
    description = describe_hyper_parameter_tuning_job(
        {"HyperParameterTuningJobName": "last-points"}
    )
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["BestTrainingJob"]["TrainingJobName"] == name
