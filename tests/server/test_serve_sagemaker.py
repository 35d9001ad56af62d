"""SageMaker through the real ``hpjobs serve``: boto3's ``sagemaker`` client (JSON 1.1 over HTTP,
paginators and waiters included), raw HTTP for what boto3 cannot send, and the AWS CLI (v1)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError, WaiterError
from helpers import SCRIPTS, training_request

ARN = "arn:aws:sagemaker:us-west-2:000000000000:training-job/"
TUNING_ARN = "arn:aws:sagemaker:us-west-2:000000000000:hyper-parameter-tuning-job/"
FAST = {"Delay": 1, "MaxAttempts": 90}


def create(sagemaker: Any, name: str, output: Path, **hyperparameters: str) -> dict[str, Any]:
    request = training_request(name, output)
    request["HyperParameters"].update(hyperparameters)
    response: dict[str, Any] = sagemaker.create_training_job(**request)
    return response


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def is_utc_datetime(value: Any) -> bool:
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


# ------------------------------------------------------------------------------------------------
# Lifecycle
# ------------------------------------------------------------------------------------------------


def test_create_wait_and_describe_a_completed_job(sagemaker: Any, output: Path) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    created = create(sagemaker, "life-ok", output)
    assert created["TrainingJobArn"] == ARN + "life-ok"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert created["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/x-amz-json-1.1"
    )
    assert created["ResponseMetadata"]["RequestId"]

    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="life-ok", WaiterConfig=FAST
    )
    job = sagemaker.describe_training_job(TrainingJobName="life-ok")
    after = datetime.now(timezone.utc) + timedelta(seconds=1)

    assert job["TrainingJobName"] == "life-ok"
    assert job["TrainingJobArn"] == ARN + "life-ok"
    assert job["TrainingJobStatus"] == "Completed"
    assert job["SecondaryStatus"] == "Completed"
    assert "FailureReason" not in job
    assert job["ModelArtifacts"] == {
        "S3ModelArtifacts": f"{output.as_uri()}/life-ok/output/model.tar.gz"
    }
    assert job["HyperParameters"] == {
        "sagemaker_program": '"report.py"',
        "sagemaker_submit_directory": f'"{SCRIPTS.as_uri()}"',
    }
    assert job["AlgorithmSpecification"]["TrainingImage"] == "hpjobs/pytorch"
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert job["RoleArn"] == "arn:aws:iam::123456789012:role/test"
    assert job["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 1,
    }
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    for key in ("CreationTime", "TrainingStartTime", "TrainingEndTime", "LastModifiedTime"):
        assert is_utc_datetime(job[key]), (key, job[key])
        assert before <= job[key] <= after, (key, job[key])
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["TrainingEndTime"] <= job["LastModifiedTime"]
    assert isinstance(job["TrainingTimeInSeconds"], int)
    assert job["TrainingTimeInSeconds"] >= 1
    assert job["BillableTimeInSeconds"] == job["TrainingTimeInSeconds"]
    transitions = job["SecondaryStatusTransitions"]
    assert transitions[0]["Status"] == "Starting"
    assert transitions[-1]["Status"] == "Completed"
    assert all(is_utc_datetime(t["StartTime"]) for t in transitions)
    assert all(is_utc_datetime(t["EndTime"]) for t in transitions)
    # what the script wrote reached the output path: the job really ran the fixture
    assert (output / "life-ok" / "output" / "model.tar.gz").is_file()


def test_list_pages_through_botocore_paginator(sagemaker: Any, output: Path) -> None:
    names = ["page-a", "page-b", "page-c"]
    for name in names:
        create(sagemaker, name, output)
    paginator = sagemaker.get_paginator("list_training_jobs")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [2, 1]
    assert "NextToken" in pages[0]
    assert "NextToken" not in pages[1]
    listed = [s for p in pages for s in p["TrainingJobSummaries"]]
    assert [s["TrainingJobName"] for s in listed] == names  # CreationTime, Ascending
    assert [s["TrainingJobArn"] for s in listed] == [ARN + n for n in names]
    assert all(is_utc_datetime(s["CreationTime"]) for s in listed)
    assert all(is_utc_datetime(s["LastModifiedTime"]) for s in listed)

    everything = paginator.paginate(
        SortBy="Name", SortOrder="Descending", PaginationConfig={"PageSize": 1}
    ).build_full_result()
    assert [s["TrainingJobName"] for s in everything["TrainingJobSummaries"]] == names[::-1]
    capped = paginator.paginate(PaginationConfig={"PageSize": 1, "MaxItems": 2})
    result = capped.build_full_result()
    assert [s["TrainingJobName"] for s in result["TrainingJobSummaries"]] == names[:2]
    assert "NextToken" in result

    only_b = sagemaker.list_training_jobs(NameContains="-b")
    assert [s["TrainingJobName"] for s in only_b["TrainingJobSummaries"]] == ["page-b"]

    # timestamps travel as epoch seconds in JSON 1.1 requests
    now = datetime.now(timezone.utc)
    hour = timedelta(hours=1)
    for filters, expected in [
        ({"CreationTimeAfter": now - hour}, names),
        ({"CreationTimeAfter": now + hour}, []),
        ({"CreationTimeBefore": now - hour}, []),
        ({"CreationTimeBefore": now + hour, "LastModifiedTimeAfter": now - hour}, names),
    ]:
        listed_now = sagemaker.list_training_jobs(**filters)["TrainingJobSummaries"]
        assert [s["TrainingJobName"] for s in listed_now] == expected, filters

    for name in names:
        sagemaker.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig=FAST
        )
    completed = sagemaker.list_training_jobs(StatusEquals="Completed", SortBy="Name")
    summaries = completed["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in summaries] == names
    assert {s["TrainingJobStatus"] for s in summaries} == {"Completed"}
    assert all(is_utc_datetime(s["TrainingEndTime"]) for s in summaries)


def test_stop_then_delete(sagemaker: Any, output: Path) -> None:
    create(sagemaker, "life-stop", output, behaviour='"sleep"', seconds="60")
    with pytest.raises(sagemaker.exceptions.ResourceInUse) as in_use:
        sagemaker.delete_training_job(TrainingJobName="life-stop")
    assert error_of(in_use) == (
        "ResourceInUse",
        "The training job life-stop is in status InProgress and cannot be deleted. Only jobs in "
        "status Completed, Failed or Stopped can be deleted.",
        400,
    )

    stopped = sagemaker.stop_training_job(TrainingJobName="life-stop")
    assert stopped["ResponseMetadata"]["HTTPStatusCode"] == 200
    status = sagemaker.describe_training_job(TrainingJobName="life-stop")["TrainingJobStatus"]
    assert status in {"Stopping", "Stopped"}

    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="life-stop", WaiterConfig=FAST
    )
    job = sagemaker.describe_training_job(TrainingJobName="life-stop")
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "Stopped"
    assert is_utc_datetime(job["TrainingEndTime"])

    with pytest.raises(ClientError) as again:
        sagemaker.stop_training_job(TrainingJobName="life-stop")
    assert error_of(again) == (
        "ValidationException",
        "The request was rejected because the training job is in status Stopped.",
        400,
    )

    assert (
        sagemaker.delete_training_job(TrainingJobName="life-stop")["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 200
    )
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_training_job(TrainingJobName="life-stop")
    assert error_of(gone) == ("ValidationException", "Requested resource not found.", 400)
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


# ------------------------------------------------------------------------------------------------
# Waiter edges
# ------------------------------------------------------------------------------------------------


def test_waiter_fails_on_a_failed_job_and_on_an_unknown_one(sagemaker: Any, output: Path) -> None:
    create(sagemaker, "life-fail", output, behaviour='"fail"')
    waiter = sagemaker.get_waiter("training_job_completed_or_stopped")
    with pytest.raises(WaiterError) as failed:
        waiter.wait(TrainingJobName="life-fail", WaiterConfig=FAST)
    assert failed.value.last_response["TrainingJobStatus"] == "Failed"
    assert "Waiter encountered a terminal failure state" in str(failed.value)
    job = sagemaker.describe_training_job(TrainingJobName="life-fail")
    assert job["SecondaryStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith("AlgorithmError: the training process exited with status 3.")
    assert "about to fail: something went wrong" in reason

    with pytest.raises(WaiterError) as unknown:
        waiter.wait(TrainingJobName="never-created", WaiterConfig=FAST)
    assert unknown.value.last_response["Error"] == {
        "Code": "ValidationException",
        "Message": "Requested resource not found.",
    }


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_duplicate_name_is_resource_in_use(sagemaker: Any, output: Path) -> None:
    create(sagemaker, "life-dup", output)
    with pytest.raises(sagemaker.exceptions.ResourceInUse) as caught:
        create(sagemaker, "life-dup", output)
    assert error_of(caught) == (
        "ResourceInUse",
        "Training job names must be unique within an AWS account and region, and a training job "
        f"with this name already exists ({ARN}life-dup)",
        400,
    )


def test_unknown_job_errors(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as describe:
        sagemaker.describe_training_job(TrainingJobName="no-such-job")
    assert error_of(describe) == ("ValidationException", "Requested resource not found.", 400)
    assert type(describe.value) is ClientError  # ValidationException is not modelled

    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as stop:
        sagemaker.stop_training_job(TrainingJobName="no-such-job")
    assert error_of(stop) == ("ResourceNotFound", "Requested resource not found.", 400)

    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as delete:
        sagemaker.delete_training_job(TrainingJobName="no-such-job")
    assert error_of(delete) == ("ResourceNotFound", "Requested resource not found.", 400)


def test_bad_name_pattern(sagemaker: Any, output: Path) -> None:
    with pytest.raises(ClientError) as caught:
        create(sagemaker, "bad_name", output)
    assert error_of(caught) == (
        "ValidationException",
        "1 validation error detected: Value 'bad_name' at 'trainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
        400,
    )
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def _raw_post(url: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_unknown_target_over_raw_http(server: Any) -> None:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.FrobnicateTrainingJob",
    }
    status, response_headers, body = _raw_post(server.url, headers, b"{}")
    assert status == 400
    assert response_headers["content-type"] == "application/x-amz-json-1.1"
    assert response_headers["x-amzn-requestid"]
    assert json.loads(body) == {
        "__type": "UnknownOperationException",
        "message": "Operation FrobnicateTrainingJob is not supported by this endpoint.",
    }

    other = {**headers, "X-Amz-Target": "AmazonSageMakerService.ListTrainingJobs"}
    status, _, body = _raw_post(server.url, other, b"{}")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"

    missing = {"Content-Type": "application/x-amz-json-1.1"}
    status, _, body = _raw_post(server.url, missing, b"{}")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"

    known = {**headers, "X-Amz-Target": "SageMaker.ListTrainingJobs"}
    status, _, body = _raw_post(server.url, known, b"not json")
    assert status == 400
    assert json.loads(body) == {
        "__type": "SerializationException",
        "message": "The request body is not valid JSON.",
    }
    status, _, body = _raw_post(server.url, known, b"{}")
    assert (status, json.loads(body)) == (200, {"TrainingJobSummaries": []})


# ------------------------------------------------------------------------------------------------
# Tuning
# ------------------------------------------------------------------------------------------------


def _tuning_request(name: str, output: Path) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ResourceLimits": {"MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2"]}]
            },
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "hpjobs/pytorch",
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "objective", "Regex": "objective=([0-9.]+)"}],
            },
            "StaticHyperParameters": {
                "sagemaker_program": json.dumps("objective.py"),
                "sagemaker_submit_directory": json.dumps(SCRIPTS.as_uri()),
                "y": "-1",
                "epochs": "2",
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


def test_tuning_job_created_and_described(sagemaker: Any, output: Path) -> None:
    created = sagemaker.create_hyper_parameter_tuning_job(**_tuning_request("Tune-Grid", output))
    assert created["HyperParameterTuningJobArn"] == TUNING_ARN + "tune-grid"

    deadline = time.monotonic() + 90
    while True:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-grid")
        if job["HyperParameterTuningJobStatus"] not in {"InProgress", "Stopping"}:
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.5)

    assert job["HyperParameterTuningJobName"] == "Tune-Grid"
    assert job["HyperParameterTuningJobArn"] == TUNING_ARN + "tune-grid"
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["HyperParameterTuningJobConfig"]["Strategy"] == "Grid"
    assert is_utc_datetime(job["CreationTime"])
    assert is_utc_datetime(job["HyperParameterTuningEndTime"])
    assert job["CreationTime"] <= job["HyperParameterTuningEndTime"]
    assert job["TrainingJobStatusCounters"] == {
        "Completed": 2,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 0}
    best = job["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"x": "2"}
    assert best["TrainingJobStatus"] == "Completed"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "objective",
        "Value": pytest.approx(5.0),  # (2-2)^2 + (-1+1)^2 + 10/2
    }
    assert best["TrainingJobArn"] == ARN + best["TrainingJobName"]

    children = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="Tune-Grid", SortBy="FinalObjectiveMetricValue"
    )["TrainingJobSummaries"]
    assert [c["TunedHyperParameters"] for c in children] == [{"x": "2"}, {"x": "1"}]
    assert [c["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for c in children] == [
        pytest.approx(5.0),
        pytest.approx(6.0),
    ]

    with pytest.raises(sagemaker.exceptions.ResourceInUse) as duplicate:
        sagemaker.create_hyper_parameter_tuning_job(**_tuning_request("tune-GRID", output))
    assert error_of(duplicate) == (
        "ResourceInUse",
        "A hyperparameter tuning job with the name, tune-GRID, already exists. Choose a "
        "different name.",
        400,
    )
    with pytest.raises(sagemaker.exceptions.ResourceNotFound) as unknown:
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="DEMO-hpo")
    assert error_of(unknown) == (
        "ResourceNotFound",
        "Amazon SageMaker can't find a tuning job called DEMO-hpo. Type another name.",
        400,
    )


# ------------------------------------------------------------------------------------------------
# AWS CLI (v1)
# ------------------------------------------------------------------------------------------------


def aws(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
    }
    env.pop("AWS_PROFILE", None)
    command = [str(Path(sys.executable).with_name("aws")), *args, "--endpoint-url", server.url]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_aws_cli_create_and_describe(
    server: Any, make_client: Any, output: Path, tmp_path: Path
) -> None:
    request = training_request("cli-job", output)
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(request), encoding="utf-8")

    created = aws(
        server, "sagemaker", "create-training-job", "--cli-input-json", request_file.as_uri()
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout) == {"TrainingJobArn": ARN + "cli-job"}

    deadline = time.monotonic() + 60
    while (
        make_client("sagemaker", server.url).describe_training_job(TrainingJobName="cli-job")[
            "TrainingJobStatus"
        ]
        == "InProgress"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)

    described = aws(server, "sagemaker", "describe-training-job", "--training-job-name", "cli-job")
    assert described.returncode == 0, described.stderr
    job = json.loads(described.stdout)
    assert job["TrainingJobName"] == "cli-job"
    assert job["TrainingJobArn"] == ARN + "cli-job"
    assert job["TrainingJobStatus"] == "Completed"
    assert job["HyperParameters"] == request["HyperParameters"]
    # awscli v1 prints timestamps as they came on the wire: JSON 1.1 sends epoch seconds
    assert isinstance(job["CreationTime"], float)
    assert abs(job["CreationTime"] - time.time()) < 120
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]

    duplicate = aws(
        server, "sagemaker", "create-training-job", "--cli-input-json", request_file.as_uri()
    )
    assert duplicate.returncode == 255  # awscli v1: 255 for any service error
    assert duplicate.stdout == ""
    assert (
        "An error occurred (ResourceInUse) when calling the CreateTrainingJob operation: "
        "Training job names must be unique within an AWS account and region, and a training "
        f"job with this name already exists ({ARN}cli-job)"
    ) in duplicate.stderr

    unknown = aws(server, "sagemaker", "describe-training-job", "--training-job-name", "nope")
    assert unknown.returncode == 255
    assert (
        "An error occurred (ValidationException) when calling the DescribeTrainingJob "
        "operation: Requested resource not found."
    ) in unknown.stderr
