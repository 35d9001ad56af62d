"""A tuner killed with SIGKILL in the middle of a tuning job: a real tuner process, real child
training jobs, real SQLite.

tests/sagemaker/test_tuning_jobs.py checks the plain case (the tuning job is Failed at the next
describe and its running children are stopped); this test adds a child that finished before the
tuner could look at it, the list as the reading call, metrics and processes.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from faults.support import (
    LOSS,
    SCRIPTS,
    gone,
    helper_pids,
    kill_and_wait,
    no_job_processes,
    wait_until,
)
from helpers import TERMINAL
from sqlalchemy import select

from hpjobs.sagemaker.training_jobs import describe_training_job, training_job_metrics
from hpjobs.sagemaker.tuning_jobs import (
    create_hyper_parameter_tuning_job,
    describe_hyper_parameter_tuning_job,
    list_hyper_parameter_tuning_jobs,
    list_training_jobs_for_hyper_parameter_tuning_job,
)
from hpjobs.store import TrainingJob, TuningJob, get_store


def _tuning_request(name: str, output: Path, *seconds: str) -> dict[str, Any]:
    """A grid over the worker's sleep after its steps (default: one child ends at once, the
    other sleeps a minute), all children at once."""
    seconds = seconds or ("0", "60")
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxParallelTrainingJobs": len(seconds)},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "seconds", "Values": list(seconds)}]
            },
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "hpjobs/pytorch",
                "TrainingInputMode": "File",
                "MetricDefinitions": [LOSS],
            },
            "StaticHyperParameters": {
                "sagemaker_program": json.dumps("worker.py"),
                "sagemaker_submit_directory": json.dumps(SCRIPTS.as_uri()),
                "steps": "5",
                "spawn": "true",
            },
            "RoleArn": "arn:aws:iam::123456789012:role/test",
            "OutputDataConfig": {"S3OutputPath": output.as_uri()},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    }


def _children(name: str) -> dict[str, dict[str, Any]]:
    """The children of tuning job ``name`` by the value of their ``seconds`` hyperparameter."""
    request = {"HyperParameterTuningJobName": name, "MaxResults": 100}
    summaries = list_training_jobs_for_hyper_parameter_tuning_job(request)["TrainingJobSummaries"]
    return {s["TunedHyperParameters"]["seconds"]: s for s in summaries}


def _supervisors(name: str) -> list[int | None]:
    """The supervisor pids of tuning job ``name``'s children (None: not yet started)."""
    with get_store().read() as session:
        tuning = session.scalar(select(TuningJob.id).where(TuningJob.name == name))
        query = select(TrainingJob.supervisor_pid).where(TrainingJob.tuning_job_id == tuning)
        return list(session.scalars(query))


def _tuner_pid(name: str) -> int:
    with get_store().read() as session:
        pid = session.scalar(select(TuningJob.tuner_pid).where(TuningJob.name == name))
    assert pid is not None
    return int(pid)


def test_killed_tuner_fails_the_tuning_job_keeps_finished_children_and_leaves_no_process(
    output: Path, home: Path
) -> None:
    create_hyper_parameter_tuning_job(_tuning_request("dies", output))
    wait_until(
        lambda: len(_supervisors("dies")) == 2 and None not in _supervisors("dies"),
        60,
        "the tuner did not start two children",
    )
    tuner = _tuner_pid("dies")
    # The tuner is frozen first, so the quick child ends while no tuner looks at it.
    os.kill(tuner, signal.SIGSTOP)
    try:
        wait_until(
            lambda: _children("dies")["0"]["TrainingJobStatus"] == "Completed",
            60,
            "the quick child did not complete",
        )
        slow = _children("dies")["60"]["TrainingJobName"]
        log = home / "jobs" / slow / "logs" / "algo-1.log"
        wait_until(
            lambda: log.exists() and "steps done" in log.read_text(), 60, "the slow child is idle"
        )
    finally:
        kill_and_wait(tuner)

    [summary] = list_hyper_parameter_tuning_jobs({})["HyperParameterTuningJobSummaries"]
    assert summary["HyperParameterTuningJobStatus"] == "Failed"
    description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "dies"})
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        f"InternalServerError: the tuner process (pid {tuner}) ended unexpectedly; its running "
        "training jobs were stopped."
    )
    assert "HyperParameterTuningEndTime" in description

    def children_ended() -> bool:
        return all(s["TrainingJobStatus"] in TERMINAL for s in _children("dies").values())

    wait_until(children_ended, 30, "the running child was not stopped")
    children = _children("dies")
    quick, slow_summary = children["0"], children["60"]
    assert quick["TrainingJobStatus"] == "Completed"
    assert slow_summary["TrainingJobStatus"] == "Stopped"
    # The child that finished keeps its metrics and counts: its objective is evaluated.
    losses = [round(1.0 / step, 6) for step in range(1, 6)]
    assert [p["Value"] for p in training_job_metrics(quick["TrainingJobName"])] == losses
    assert quick["ObjectiveStatus"] == "Succeeded"
    assert quick["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "loss",
        "Value": losses[-1],
    }
    assert slow_summary["ObjectiveStatus"] == "Failed"
    final = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "dies"})
    assert final["HyperParameterTuningJobStatus"] == "Failed"
    assert final["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 0, "Failed": 1}
    assert final["TrainingJobStatusCounters"]["Completed"] == 1
    assert final["TrainingJobStatusCounters"]["Stopped"] == 1
    assert final["BestTrainingJob"]["TrainingJobName"] == quick["TrainingJobName"]
    described = describe_training_job({"TrainingJobName": quick["TrainingJobName"]})
    assert described["FinalMetricDataList"][0]["Value"] == losses[-1]
    # No process of either child is left, nor anything they started.
    for child in children.values():
        child_log = (home / "jobs" / child["TrainingJobName"] / "logs" / "algo-1.log").read_text()
        assert len(helper_pids(child_log)) == 2
        assert no_job_processes(home, child["TrainingJobName"]) == []
        assert all(gone(pid) for pid in helper_pids(child_log))


def test_a_child_whose_supervisor_dies_ends_and_so_does_its_tuning_job(
    output: Path, home: Path
) -> None:
    """The tuner notices a child whose supervisor died by itself: nobody needs to describe the
    child for the tuning job to go on and end."""
    create_hyper_parameter_tuning_job(_tuning_request("orphaned", output, "60"))
    wait_until(lambda: _supervisors("orphaned") not in ([], [None]), 60, "no child started")
    [pid] = _supervisors("orphaned")
    assert pid is not None
    [child] = _children("orphaned").values()
    log = home / "jobs" / child["TrainingJobName"] / "logs" / "algo-1.log"
    wait_until(lambda: log.exists() and "steps done" in log.read_text(), 60, "the child is idle")
    kill_and_wait(pid)

    def ended() -> bool:
        request = {"HyperParameterTuningJobName": "orphaned"}
        status = describe_hyper_parameter_tuning_job(request)["HyperParameterTuningJobStatus"]
        return status in TERMINAL

    wait_until(ended, 30, "the tuning job waited for its dead child")
    description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "orphaned"})
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert description["TrainingJobStatusCounters"]["RetryableError"] == 1
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 1}
    [summary] = _children("orphaned").values()
    assert summary["TrainingJobStatus"] == "Failed"
    assert summary["FailureReason"].startswith(
        f"InternalServerError: the job's supervisor process (pid {pid}) ended unexpectedly"
    )
    assert (
        description["FailureReason"]
        == (
            "No training job reported the objective metric. The last failure: "
            + summary["FailureReason"]
        )[:1024]
    )
    assert len(training_job_metrics(summary["TrainingJobName"])) == 5
    assert no_job_processes(home, summary["TrainingJobName"]) == []
    assert all(gone(helper) for helper in helper_pids(log.read_text()))
