"""Training jobs end to end through the Python API: real supervisor processes, real SQLite."""

from __future__ import annotations

import itertools
import json
import os
import signal
import tarfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import SCRIPTS, program, training_request, wait_for

from hpjobs.errors import ResourceInUse, ResourceNotFound, ValidationException
from hpjobs.sagemaker.training_jobs import (
    create_training_job,
    delete_training_job,
    describe_training_job,
    list_training_jobs,
    stop_training_job,
    training_job_metrics,
)


def _model_report(output: Path, name: str) -> dict[str, Any]:
    with tarfile.open(output / name / "output" / "model.tar.gz") as tar:
        member = tar.extractfile("report.json")
        assert member is not None
        report: dict[str, Any] = json.load(member)
        return report


def _secondary(description: dict[str, Any]) -> list[str]:
    return [t["Status"] for t in description["SecondaryStatusTransitions"]]


def test_create_returns_arn_at_once_and_job_completes(output: Path) -> None:
    started = time.monotonic()
    response = create_training_job(training_request("ok-job", output))
    assert time.monotonic() - started < 2
    assert response == {
        "TrainingJobArn": "arn:aws:sagemaker:us-west-2:000000000000:training-job/ok-job"
    }
    description = wait_for("ok-job")
    assert description["TrainingJobStatus"] == "Completed"
    assert description["SecondaryStatus"] == "Completed"
    assert _secondary(description) == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    messages = {t["Status"]: t["StatusMessage"] for t in description["SecondaryStatusTransitions"]}
    assert messages["Training"] == "Training image download completed. Training in progress."
    assert messages["Completed"] == "Training job completed"
    transitions = description["SecondaryStatusTransitions"]
    for before, after in itertools.pairwise(transitions):
        assert before["EndTime"] == after["StartTime"]
    assert description["TrainingStartTime"] <= description["TrainingEndTime"]
    assert description["LastModifiedTime"] >= description["TrainingEndTime"]
    assert description["TrainingTimeInSeconds"] >= 1
    assert description["BillableTimeInSeconds"] == description["TrainingTimeInSeconds"]
    assert "FailureReason" not in description
    artifact = output / "ok-job" / "output" / "model.tar.gz"
    assert description["ModelArtifacts"]["S3ModelArtifacts"] == artifact.as_uri()
    assert (output / "ok-job" / "output" / "output.tar.gz").is_file()


def test_model_archive_holds_the_model_folder_at_its_root(output: Path) -> None:
    create_training_job(training_request("tar-job", output))
    wait_for("tar-job")
    with tarfile.open(output / "tar-job" / "output" / "model.tar.gz") as tar:
        assert tar.getnames() == ["report.json"]
    with tarfile.open(output / "tar-job" / "output" / "output.tar.gz") as tar:
        assert tar.getnames() == ["extra.txt"]


def test_metrics_come_from_metric_definitions(output: Path) -> None:
    request = training_request("metrics-job", output)
    request["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "train:accuracy", "Regex": r"accuracy=([0-9.]+)"},
        {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
        {"Name": "never", "Regex": r"nothing-matches=([0-9.]+)"},
    ]
    create_training_job(request)
    description = wait_for("metrics-job")
    final = [(m["MetricName"], m["Value"]) for m in description["FinalMetricDataList"]]
    assert final == [("train:accuracy", 0.8), ("train:loss", 0.3333)]
    points = training_job_metrics("metrics-job")
    losses = [(p["Epoch"], p["Value"]) for p in points if p["MetricName"] == "train:loss"]
    assert losses == [(1, 1.0), (2, 0.5), (3, 0.3333)]
    assert all(p["Timestamp"].tzinfo is not None for p in points)


def test_log_holds_stdout_and_stderr(output: Path, home: Path) -> None:
    create_training_job(training_request("log-job", output))
    wait_for("log-job")
    log = (home / "jobs" / "log-job" / "logs" / "algo-1.log").read_text()
    assert "epoch=2 loss=0.5000" in log
    assert "this goes to stderr" in log
    assert "hpjobs: Invoking script with the following command:" in log


def test_failed_job_reports_the_log_tail(output: Path) -> None:
    create_training_job(
        program(training_request("fail-job", output), "report.py", behaviour="fail")
    )
    description = wait_for("fail-job")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["SecondaryStatus"] == "Failed"
    reason = description["FailureReason"]
    assert reason.startswith("AlgorithmError: the training process exited with status 3.")
    assert "about to fail: something went wrong" in reason
    assert _secondary(description)[-1] == "Failed"
    assert description["TrainingEndTime"] >= description["TrainingStartTime"]


def test_failure_file_becomes_the_reason_cut_at_1024(output: Path) -> None:
    request = program(
        training_request("fail-file", output), "report.py", behaviour="fail-with-file"
    )
    create_training_job(request)
    description = wait_for("fail-file")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == ("ClientError: " + "x" * 2000)[:1024]


def test_missing_program_fails_with_a_clear_reason(output: Path) -> None:
    request = training_request("no-program", output)
    del request["HyperParameters"]["sagemaker_program"]
    create_training_job(request)
    description = wait_for("no-program")
    assert description["TrainingJobStatus"] == "Failed"
    assert "set the sagemaker_program hyperparameter" in description["FailureReason"]


def test_missing_channel_data_fails_the_download(output: Path, tmp_path: Path) -> None:
    channel = {
        "ChannelName": "train",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (tmp_path / "absent").as_uri()}
        },
    }
    create_training_job(training_request("no-data", output, InputDataConfig=[channel]))
    description = wait_for("no-data")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("ClientError: Data download failed:")
    assert "Training" not in _secondary(description)


def test_stop_sends_sigterm_and_still_packs_artifacts(output: Path) -> None:
    request = program(
        training_request("stop-job", output), "report.py", behaviour="sigterm-save", seconds="60"
    )
    create_training_job(request)
    wait_for("stop-job", lambda d: d["SecondaryStatus"] == "Training")
    time.sleep(0.5)
    assert stop_training_job({"TrainingJobName": "stop-job"}) == {}
    stopping = describe_training_job({"TrainingJobName": "stop-job"})
    assert stopping["TrainingJobStatus"] in ("Stopping", "Stopped")
    description = wait_for("stop-job")
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "Stopped"
    assert _secondary(description)[-2:] == ["Stopping", "Stopped"]
    with tarfile.open(output / "stop-job" / "output" / "model.tar.gz") as tar:
        assert "saved-on-sigterm.txt" in tar.getnames()
    with pytest.raises(ValidationException) as error:
        stop_training_job({"TrainingJobName": "stop-job"})
    assert error.value.message == (
        "The request was rejected because the training job is in status Stopped."
    )


def test_script_ignoring_sigterm_is_killed_after_the_grace_period(output: Path) -> None:
    request = program(
        training_request("stubborn", output), "report.py", behaviour="ignore-sigterm", seconds="60"
    )
    create_training_job(request)
    wait_for("stubborn", lambda d: d["SecondaryStatus"] == "Training")
    time.sleep(0.5)
    stopped_at = time.monotonic()
    stop_training_job({"TrainingJobName": "stubborn"})
    description = wait_for("stubborn")
    elapsed = time.monotonic() - stopped_at
    assert description["TrainingJobStatus"] == "Stopped"
    assert 2 <= elapsed < 15  # HPJOBS_STOP_GRACE_SECONDS=2 in the tests


def test_max_runtime_ends_stopped_with_max_runtime_exceeded(output: Path) -> None:
    request = program(training_request("too-long", output), "report.py", seconds="60")
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 2}
    create_training_job(request)
    description = wait_for("too-long")
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert _secondary(description)[-2:] == ["Stopping", "MaxRuntimeExceeded"]
    assert (output / "too-long" / "output" / "model.tar.gz").is_file()
    assert description["TrainingTimeInSeconds"] < 20


def test_killed_supervisor_marks_the_job_failed_at_next_read(output: Path, home: Path) -> None:
    request = program(training_request("orphan", output), "report.py", seconds="60")
    create_training_job(request)
    log_file = home / "jobs" / "orphan" / "logs" / "algo-1.log"
    wait_for("orphan", lambda d: log_file.exists() and "sleeping" in log_file.read_text())
    from hpjobs.store import TrainingJob, get_store

    with get_store().read() as session:
        job = session.query(TrainingJob).filter_by(name="orphan").one()
        pid = job.supervisor_pid
    assert pid is not None
    supervisor = psutil.Process(pid)
    children = supervisor.children(recursive=True)
    os.kill(pid, signal.SIGKILL)
    psutil.wait_procs([supervisor], timeout=5)  # it may be reaped already: no lookup after kill
    description = describe_training_job({"TrainingJobName": "orphan"})
    assert description["TrainingJobStatus"] == "Failed"
    assert f"supervisor process (pid {pid}) ended unexpectedly" in description["FailureReason"]
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    assert "epoch=3" in log_file.read_text()


def test_duplicate_name_is_resource_in_use(output: Path) -> None:
    create_training_job(training_request("twice", output))
    with pytest.raises(ResourceInUse) as error:
        create_training_job(training_request("twice", output))
    assert error.value.code == "ResourceInUse"
    assert error.value.message == (
        "Training job names must be unique within an AWS account and region, and a training job "
        "with this name already exists "
        "(arn:aws:sagemaker:us-west-2:000000000000:training-job/twice)"
    )
    wait_for("twice")


def test_unknown_job_errors() -> None:
    with pytest.raises(ValidationException) as describe_error:
        describe_training_job({"TrainingJobName": "nobody"})
    assert describe_error.value.message == "Requested resource not found."
    for operation in (stop_training_job, delete_training_job):
        with pytest.raises(ResourceNotFound) as error:
            operation({"TrainingJobName": "nobody"})
        assert error.value.code == "ResourceNotFound"
        assert error.value.message == "Requested resource not found."


def test_delete_only_finished_jobs_and_reuse_the_name(output: Path, home: Path) -> None:
    request = program(training_request("del-job", output), "report.py", seconds="60")
    create_training_job(request)
    with pytest.raises(ResourceInUse) as error:
        delete_training_job({"TrainingJobName": "del-job"})
    assert error.value.message == (
        "The training job del-job is in status InProgress and cannot be deleted. "
        "Only jobs in status Completed, Failed or Stopped can be deleted."
    )
    stop_training_job({"TrainingJobName": "del-job"})
    wait_for("del-job")
    assert delete_training_job({"TrainingJobName": "del-job"}) == {}
    assert not (home / "jobs" / "del-job").exists()
    with pytest.raises(ValidationException):
        describe_training_job({"TrainingJobName": "del-job"})
    assert (output / "del-job" / "output" / "model.tar.gz").exists()
    create_training_job(training_request("del-job", output))
    assert wait_for("del-job")["TrainingJobStatus"] == "Completed"


def test_shell_entry_point(output: Path) -> None:
    create_training_job(program(training_request("shell-job", output), "train.sh"))
    description = wait_for("shell-job")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    with tarfile.open(output / "shell-job" / "output" / "model.tar.gz") as tar:
        assert tar.getnames() == ["from-shell.txt"]


def test_submit_directory_as_tar_gz(output: Path, tmp_path: Path) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(SCRIPTS / "report.py", arcname="report.py")
    request = training_request("tar-code", output)
    request["HyperParameters"]["sagemaker_submit_directory"] = str(archive)
    create_training_job(request)
    assert wait_for("tar-code")["TrainingJobStatus"] == "Completed"


def test_container_entrypoint_runs_instead_of_program(output: Path) -> None:
    request = training_request("entry-job", output)
    request["AlgorithmSpecification"]["ContainerEntrypoint"] = ["python3", "report.py"]
    request["AlgorithmSpecification"]["ContainerArguments"] = ["--behaviour", "ok"]
    create_training_job(request)
    assert wait_for("entry-job")["TrainingJobStatus"] == "Completed"
    assert _model_report(output, "entry-job")["argv"] == ["--behaviour", "ok"]


def _names(response: dict[str, Any]) -> list[str]:
    return [s["TrainingJobName"] for s in response["TrainingJobSummaries"]]


def test_list_filters_sorts_then_pages(output: Path) -> None:
    for name in ("list-b", "list-a", "list-c", "other-1"):
        create_training_job(training_request(name, output))
    create_training_job(
        program(training_request("list-fail", output), "report.py", behaviour="fail")
    )
    for name in ("list-b", "list-a", "list-c", "other-1", "list-fail"):
        wait_for(name)
    everything = list_training_jobs({})
    assert _names(everything) == ["list-b", "list-a", "list-c", "other-1", "list-fail"]
    by_name = list_training_jobs(
        {"NameContains": "list", "SortBy": "Name", "SortOrder": "Descending"}
    )
    assert _names(by_name) == ["list-fail", "list-c", "list-b", "list-a"]
    completed = list_training_jobs({"StatusEquals": "Completed", "SortBy": "Name", "MaxResults": 2})
    assert _names(completed) == ["list-a", "list-b"]
    second = list_training_jobs(
        {
            "StatusEquals": "Completed",
            "SortBy": "Name",
            "MaxResults": 2,
            "NextToken": completed["NextToken"],
        }
    )
    assert _names(second) == ["list-c", "other-1"]
    assert "NextToken" not in second
    failed = list_training_jobs({"StatusEquals": "Failed"})
    assert _names(failed) == ["list-fail"]
    summary = failed["TrainingJobSummaries"][0]
    assert set(summary) == {
        "TrainingJobName",
        "TrainingJobArn",
        "CreationTime",
        "TrainingEndTime",
        "LastModifiedTime",
        "TrainingJobStatus",
        "SecondaryStatus",
    }
    first = describe_training_job({"TrainingJobName": "list-b"})["CreationTime"]
    after = list_training_jobs({"CreationTimeAfter": first, "SortBy": "Name"})
    assert "list-b" not in _names(after) and len(_names(after)) == 4
    before = list_training_jobs({"CreationTimeBefore": first.timestamp() + 0.0001})
    assert _names(before) == ["list-b"]


def test_list_rejects_a_token_from_another_query(output: Path) -> None:
    for name in ("tok-a", "tok-b"):
        create_training_job(training_request(name, output))
    page = list_training_jobs({"MaxResults": 1})
    with pytest.raises(ValidationException) as error:
        list_training_jobs({"MaxResults": 1, "SortBy": "Name", "NextToken": page["NextToken"]})
    assert error.value.message.startswith("The NextToken is not valid for this request")
    for name in ("tok-a", "tok-b"):
        wait_for(name)
