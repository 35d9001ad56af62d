"""Training and tuning jobs sent to AWS (``--target aws``, ``hpjobs migrate``), against moto's
server standing in for S3, SageMaker, IAM and CloudWatch Logs.

The CLI runs in-process (click's runner) so the exact request boto3 sends to SageMaker can be
recorded; the round trips through the AWS CLI and a local run from S3 use real subprocesses.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from click.testing import CliRunner, Result

from hpjobs.algorithms import BUILTINS
from hpjobs.cli import cli

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
BUCKET = "hpjobs-test-bucket"
BUILTIN_JOB = ROOT / "templates" / "training-job.json"
SCRIPT_JOB = ROOT / "templates" / "script-mode" / "job.json"
TUNING_JOB = ROOT / "templates" / "tuning" / "mlp-random.json"
IMAGE = "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.8.0-cpu-py312"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto's server for every AWS service, a bucket and an execution role in it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import urllib.request

    # moto's state is per process, not per server: start every test from nothing
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "HPJOBS_AWS_POLL_SECONDS": "0.05",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="SageMakerExecution", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    try:
        yield {"endpoint": endpoint, "role": role, "s3": s3}
    finally:
        server.stop()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict[str, Any]]]:
    """Every request boto3 sends through hpjobs's clients, by operation name."""
    import cloud.aws

    requests: dict[str, list[dict[str, Any]]] = {}
    real_client = cloud.aws.client

    def recording_client(service: str, region: str | None = None) -> Any:
        client = real_client(service, region)

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            requests.setdefault(model.name, []).append(json.loads(json.dumps(params)))

        client.meta.events.register("provide-client-params", record)
        return client

    monkeypatch.setattr(cloud.aws, "client", recording_client)
    return requests


def hpjobs(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def keys(s3: Any, prefix: str = "") -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def archive_members(s3: Any, key: str) -> dict[str, bytes]:
    data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def stored(name: str) -> Any:
    from hpjobs.store import TrainingJob, get_store

    with get_store().read() as session:
        job = session.query(TrainingJob).filter_by(name=name).one()
        session.expunge(job)
        return job


def one_error_line(result: Result, text: str) -> None:
    assert result.exit_code == 253, result.output
    assert result.stderr.splitlines() == [f"Error: {text}"]
    assert "Traceback" not in result.output


# -- training jobs -------------------------------------------------------------------------------


def test_run_target_aws_sends_the_migrated_builtin_job(
    aws: dict[str, Any], sent: dict[str, list[dict[str, Any]]]
) -> None:
    result = hpjobs(
        "run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET, "--role", aws["role"]
    )
    assert result.exit_code == 0, result.output
    template = json.loads(BUILTIN_JOB.read_text())
    builtin = BUILTINS["hpjobs/mlp"]
    source = f"s3://{BUCKET}/hpjobs/mlp-digits/source/sourcedir.tar.gz"
    expected_hyperparameters = {
        **template["HyperParameters"],
        "sagemaker_program": '"mlp.py"',
        "sagemaker_submit_directory": json.dumps(source),
    }
    [request] = sent["CreateTrainingJob"]
    assert request == {
        "TrainingJobName": "mlp-digits",
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": builtin.metric_definitions(template["HyperParameters"]),
        },
        "HyperParameters": expected_hyperparameters,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/hpjobs/mlp-digits/input/{channel}/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
            for channel in ("train", "validation")
        ],
        "RoleArn": aws["role"],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/hpjobs"},
        "ResourceConfig": template["ResourceConfig"],
        "StoppingCondition": template["StoppingCondition"],
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
    }
    assert keys(aws["s3"]) == [
        "hpjobs/mlp-digits/input/train/train.csv",
        "hpjobs/mlp-digits/input/validation/validation.csv",
        "hpjobs/mlp-digits/source/sourcedir.tar.gz",
    ]
    members = archive_members(aws["s3"], "hpjobs/mlp-digits/source/sourcedir.tar.gz")
    assert members == {"mlp.py": builtin.script.read_bytes()}
    train = aws["s3"].get_object(Bucket=BUCKET, Key="hpjobs/mlp-digits/input/train/train.csv")
    assert train["Body"].read() == (builtin.script.parent / "data/digits/train.csv").read_bytes()
    # moto completes every job at once; the watch saw it and the store keeps it
    assert "Training job mlp-digits ended: Completed (Completed)" in result.stdout
    job = stored("mlp-digits")
    assert (job.target, job.status, job.secondary_status) == ("aws", "Completed", "Completed")
    assert job.arn == "arn:aws:sagemaker:us-west-2:123456789012:training-job/mlp-digits"
    assert job.request == request


def test_describe_and_list_go_to_aws_and_update_the_store(
    aws: dict[str, Any], sent: dict[str, list[dict[str, Any]]]
) -> None:
    created = hpjobs(
        "run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET, "--role", aws["role"],
        "--detach",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert stored("mlp-digits").status == "InProgress"  # nothing asked AWS yet
    listed = hpjobs("sagemaker", "list-training-jobs")
    assert listed.exit_code == 0, listed.output
    [summary] = json.loads(listed.stdout)["TrainingJobSummaries"]
    assert summary["TrainingJobStatus"] == "Completed"
    assert stored("mlp-digits").status == "Completed"
    described = hpjobs("sagemaker", "describe-training-job", "--training-job-name", "mlp-digits")
    description = json.loads(described.stdout)
    # moto's own answer, not a local one: its account and its made-up final metric
    assert description["TrainingJobArn"].startswith("arn:aws:sagemaker:us-west-2:123456789012:")
    assert description["FinalMetricDataList"][0]["MetricName"] == "train:progress"
    assert sent["DescribeTrainingJob"][-1] == {"TrainingJobName": "mlp-digits"}
    metrics = {p["MetricName"]: p["Value"] for p in _metrics("mlp-digits")}
    assert metrics == {"train:progress": 100.0}


def _metrics(name: str) -> list[dict[str, Any]]:
    from hpjobs.sagemaker.training_jobs import training_job_metrics

    return training_job_metrics(name)


def test_logs_of_an_aws_job_come_from_cloudwatch(aws: dict[str, Any]) -> None:
    created = hpjobs(
        "run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET, "--role", aws["role"],
        "--hp", "hf_token=hf-secret-value", "--detach",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    logs = boto3.client("logs", region_name=REGION)
    group = "/aws/sagemaker/TrainingJobs"
    from hpjobs.sagemaker.training_jobs import describe_training_job

    # before the job has logged anything (no log group yet, then no stream of this job): the
    # log is empty, and stderr says why
    for step in ("no group", "no stream"):
        empty = hpjobs("logs", "mlp-digits")
        assert empty.exit_code == 0, empty.output
        assert empty.stdout == "", step
        status = describe_training_job({"TrainingJobName": "mlp-digits"})["TrainingJobStatus"]
        still = "" if status in ("Completed", "Failed", "Stopped") else " yet"
        assert empty.stderr == (
            f"Training job mlp-digits ({status}) has no log streams in CloudWatch Logs "
            f"({group}, {REGION}){still}.\n"
        ), step
        if step == "no group":
            logs.create_log_group(logGroupName=group)
    now = int(time.time() * 1000)
    lines = {
        "mlp-digits/algo-1-1700000000": [(now, "epoch=1 loss=0.5"), (now + 20, "epoch=2 loss=0.4")],
        "mlp-digits/algo-2-1700000000": [(now + 10, "algo-2 ready with hf-secret-value")],
        "other-job/algo-1-1700000000": [(now + 5, "not this job")],
    }
    for stream, events in lines.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": t, "message": m} for t, m in events],
        )
    result = hpjobs("logs", "mlp-digits")
    assert result.exit_code == 0, result.output
    # A secret hyperparameter's value is masked in the lines CloudWatch holds, as in local logs.
    assert result.stdout.splitlines() == [
        "epoch=1 loss=0.5",
        "algo-2 ready with ****",
        "epoch=2 loss=0.4",
    ]
    followed = hpjobs("logs", "--follow", "mlp-digits")  # the job has ended: prints and returns
    assert followed.stdout.splitlines() == result.stdout.splitlines()


def test_stop_goes_to_aws_and_the_store_follows(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = hpjobs(
        "run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET, "--role", aws["role"],
        "--detach",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    import cloud.aws

    client = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("stop_training_job", {}, {"TrainingJobName": "mlp-digits"})
    arn = "arn:aws:sagemaker:us-west-2:123456789012:training-job/mlp-digits"
    stubber.add_response(
        "describe_training_job",
        {
            "TrainingJobName": "mlp-digits",
            "TrainingJobArn": arn,
            "ModelArtifacts": {"S3ModelArtifacts": ""},
            "TrainingJobStatus": "Stopping",
            "SecondaryStatus": "Stopping",
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"VolumeSizeInGB": 30},
            "StoppingCondition": {},
            "CreationTime": datetime(2026, 11, 26, 12, tzinfo=timezone.utc),
            "SecondaryStatusTransitions": [
                {
                    "Status": "Starting",
                    "StartTime": datetime(2026, 11, 26, 12, tzinfo=timezone.utc),
                },
                {
                    "Status": "Stopping",
                    "StartTime": datetime(2026, 11, 26, 12, 0, 30, tzinfo=timezone.utc),
                },
            ],
        },
        {"TrainingJobName": "mlp-digits"},
    )
    stubber.activate()
    monkeypatch.setattr(cloud.aws, "client", lambda service, region=None: client)
    result = hpjobs("sagemaker", "stop-training-job", "--training-job-name", "mlp-digits")
    assert result.exit_code == 0, result.output
    stubber.assert_no_pending_responses()
    job = stored("mlp-digits")
    assert (job.status, job.secondary_status) == ("Stopping", "Stopping")
    from hpjobs.store import StatusTransition, get_store

    with get_store().read() as session:
        rows = session.query(StatusTransition).filter_by(job_id=job.id).order_by("id").all()
        assert [(r.secondary_status, r.message) for r in rows] == [
            ("Starting", "Submitted to SageMaker"),
            ("Starting", "Starting"),
            ("Stopping", "Stopping"),
        ]


def test_an_error_sagemaker_answers_is_printed_as_the_aws_cli_does(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cloud.aws

    real_client = cloud.aws.client
    message = f"Could not assume role {aws['role']}. Please ensure that the role exists."

    def client(service: str, region: str | None = None) -> Any:
        made = real_client(service, region)
        if service == "sagemaker":
            stubber = Stubber(made)
            stubber.add_client_error("create_training_job", "ValidationException", message)
            stubber.activate()
        return made

    monkeypatch.setattr(cloud.aws, "client", client)
    result = hpjobs(
        "sagemaker", "create-training-job", "--cli-input-json", f"file://{BUILTIN_JOB}",
        "--role-arn", aws["role"], "--target", "aws", "--bucket", BUCKET,
    )  # fmt: skip
    assert result.exit_code == 254
    assert result.stderr.strip() == (
        "An error occurred (ValidationException) when calling the CreateTrainingJob operation: "
        + message
    )
    from hpjobs.sagemaker.training_jobs import list_training_jobs

    assert list_training_jobs({})["TrainingJobSummaries"] == []


def test_a_name_already_in_the_store_is_refused_before_anything_is_uploaded(
    aws: dict[str, Any], sent: dict[str, list[dict[str, Any]]]
) -> None:
    args = ["run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET]
    assert hpjobs(*args, "--role", aws["role"], "--detach").exit_code == 0
    aws["s3"].delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": key} for key in keys(aws["s3"])]}
    )
    again = hpjobs(*args, "--role", aws["role"], "--detach")
    assert again.exit_code == 254
    assert again.stderr.strip() == (
        "An error occurred (ResourceInUse) when calling the CreateTrainingJob operation: "
        "Training job names must be unique within an AWS account and region, and a training "
        "job with this name already exists (mlp-digits)"
    )
    assert keys(aws["s3"]) == []
    assert len(sent["CreateTrainingJob"]) == 1


# -- set-up problems: one line each --------------------------------------------------------------


def test_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    result = hpjobs(
        "run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET,
        "--role", "arn:aws:iam::123456789012:role/sm",
    )  # fmt: skip
    one_error_line(
        result,
        "no AWS credentials found: run 'aws configure', set AWS_PROFILE, or set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    )


def test_no_region(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = hpjobs("migrate", str(BUILTIN_JOB), "--bucket", BUCKET, "--role", "arn:aws:iam::1:r")
    one_error_line(
        result,
        "no AWS region: give --region, or set AWS_REGION (or a region in your AWS profile)",
    )


def test_no_bucket_for_local_data(aws: dict[str, Any]) -> None:
    result = hpjobs("run", str(BUILTIN_JOB), "--target", "aws", "--role", aws["role"])
    one_error_line(result, "mlp-digits has local data to upload: give an S3 bucket (--bucket)")


def test_a_bucket_that_does_not_exist(aws: dict[str, Any]) -> None:
    result = hpjobs(
        "run", str(BUILTIN_JOB), "--target", "aws", "--bucket", "no-such-bucket",
        "--role", aws["role"],
    )  # fmt: skip
    one_error_line(
        result,
        "the S3 bucket no-such-bucket does not exist: create it (aws s3 mb s3://no-such-bucket) "
        "or give another --bucket",
    )


def test_no_role(aws: dict[str, Any]) -> None:
    request = json.loads(BUILTIN_JOB.read_text())
    del request["RoleArn"]
    result = hpjobs("run", json.dumps(request), "--target", "aws", "--bucket", BUCKET)
    assert result.exit_code == 254  # the model requires RoleArn, as SageMaker does
    assert result.stderr.strip() == (
        "An error occurred (ValidationException) when calling the CreateTrainingJob operation: "
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null"
    )
    placeholder = hpjobs("run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET)
    one_error_line(
        placeholder,
        "the role arn:aws:iam::000000000000:role/hpjobs-local is a local placeholder, not a "
        "real role: give --role ARN",
    )


def test_a_role_that_does_not_exist(aws: dict[str, Any]) -> None:
    role = "arn:aws:iam::123456789012:role/missing"
    result = hpjobs("run", str(BUILTIN_JOB), "--target", "aws", "--bucket", BUCKET, "--role", role)
    one_error_line(
        result,
        f"the IAM role {role} does not exist: create a SageMaker execution role or give "
        "another --role",
    )
    assert keys(aws["s3"]) == []  # checked before uploading


# -- tuning jobs ---------------------------------------------------------------------------------


def test_create_tuning_job_target_aws(
    aws: dict[str, Any], sent: dict[str, list[dict[str, Any]]]
) -> None:
    result = hpjobs(
        "sagemaker", "create-hyper-parameter-tuning-job",
        "--cli-input-json", f"file://{TUNING_JOB}",
        "--target", "aws", "--bucket", BUCKET, "--prefix", "tuning",
    )  # fmt: skip
    # the template's role is the local placeholder
    one_error_line(
        result,
        "the role arn:aws:iam::000000000000:role/hpjobs-local is a local placeholder, not a "
        "real role: give --role ARN",
    )
    request = json.loads(TUNING_JOB.read_text())
    request["TrainingJobDefinition"]["RoleArn"] = aws["role"]
    request["TrainingJobDefinition"]["StaticHyperParameters"]["wandb_api_key"] = "k-1234567890"
    result = hpjobs(
        "sagemaker", "create-hyper-parameter-tuning-job", "--cli-input-json", json.dumps(request),
        "--target", "aws", "--bucket", BUCKET, "--prefix", "tuning",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    name = request["HyperParameterTuningJobName"]
    arn = json.loads(result.stdout)["HyperParameterTuningJobArn"]
    assert arn == f"arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/{name}"
    [sent_request] = sent["CreateHyperParameterTuningJob"]
    definition = sent_request["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    metric_names = [m["Name"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]]
    assert objective["MetricName"] in metric_names
    source = f"s3://{BUCKET}/tuning/{name}/source/sourcedir.tar.gz"
    assert definition["StaticHyperParameters"]["sagemaker_submit_directory"] == json.dumps(source)
    assert definition["StaticHyperParameters"]["sagemaker_program"] == '"mlp.py"'
    # SageMaker gets the secret; describing the job shows it masked, as for local jobs.
    assert definition["StaticHyperParameters"]["wandb_api_key"] == "k-1234567890"
    assert definition["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/tuning"}
    assert definition["RoleArn"] == aws["role"]
    assert sent_request["HyperParameterTuningJobConfig"] == request["HyperParameterTuningJobConfig"]
    assert keys(aws["s3"]) == [
        f"tuning/{name}/input/train/train.csv",
        f"tuning/{name}/input/validation/validation.csv",
        f"tuning/{name}/source/sourcedir.tar.gz",
    ]
    described = hpjobs(
        "sagemaker", "describe-hyper-parameter-tuning-job",
        "--hyper-parameter-tuning-job-name", name,
    )  # fmt: skip
    # moto's made-up best job shows this came from "AWS"
    assert json.loads(described.stdout)["BestTrainingJob"]["TrainingJobName"] == (
        "FakeTrainingJobName"
    )
    static = json.loads(described.stdout)["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["wandb_api_key"] == "****" and "k-1234567890" not in described.stdout
    listed = json.loads(hpjobs("sagemaker", "list-hyper-parameter-tuning-jobs").stdout)
    [summary] = listed["HyperParameterTuningJobSummaries"]
    assert summary["HyperParameterTuningJobStatus"] == "Completed"
    assert summary["TrainingJobStatusCounters"]["Completed"] == 1
    from hpjobs.store import TuningJob, get_store

    with get_store().read() as session:
        job = session.query(TuningJob).filter_by(name=name).one()
        assert (job.target, job.status, job.arn) == ("aws", "Completed", arn)


# -- the round trips -----------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpjobs", *args],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=120,
        check=False,
    )


def test_migrate_lists_uploads_and_its_output_goes_to_the_aws_cli(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    listed = _cli("migrate", str(SCRIPT_JOB), "--bucket", BUCKET, "--role", aws["role"])
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.splitlines() == [
        f"to upload: {SCRIPT_JOB.parent} (packed as sourcedir.tar.gz) -> "
        f"s3://{BUCKET}/hpjobs/wine-script-mode/source/sourcedir.tar.gz",
        f"to upload: {SCRIPT_JOB.parent / 'data'} -> s3://{BUCKET}/hpjobs/wine-script-mode/input/"
        "train/",
    ]
    assert keys(aws["s3"]) == []
    uploaded = _cli(
        "migrate", str(SCRIPT_JOB), "--bucket", BUCKET, "--role", aws["role"], "--upload"
    )
    assert uploaded.returncode == 0, uploaded.stderr
    assert uploaded.stdout == listed.stdout
    data = sorted(p.name for p in (SCRIPT_JOB.parent / "data").iterdir())
    assert keys(aws["s3"]) == [
        *(f"hpjobs/wine-script-mode/input/train/{name}" for name in data),
        "hpjobs/wine-script-mode/source/sourcedir.tar.gz",
    ]
    members = archive_members(aws["s3"], "hpjobs/wine-script-mode/source/sourcedir.tar.gz")
    assert members["train.py"] == (SCRIPT_JOB.parent / "train.py").read_bytes()
    migrated = tmp_path / "migrated.json"
    migrated.write_text(uploaded.stdout)
    aws_cli = Path(sys.executable).parent / "aws"
    created = subprocess.run(
        [
            str(aws_cli),
            "sagemaker",
            "create-training-job",
            "--cli-input-json",
            f"file://{migrated}",
            "--endpoint-url",
            aws["endpoint"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["TrainingJobArn"].endswith(":training-job/wine-script-mode")
    at_aws = boto3.client("sagemaker", region_name=REGION).describe_training_job(
        TrainingJobName="wine-script-mode"
    )
    request = json.loads(uploaded.stdout)
    assert at_aws["HyperParameters"] == request["HyperParameters"]
    assert at_aws["InputDataConfig"] == request["InputDataConfig"]
    assert at_aws["AlgorithmSpecification"]["TrainingImage"] == IMAGE


def test_a_request_written_for_sagemaker_runs_locally_from_s3(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    migrated = _cli(
        "migrate", str(BUILTIN_JOB), "--bucket", BUCKET, "--role", aws["role"], "--upload"
    )
    assert migrated.returncode == 0, migrated.stderr
    request = json.loads(migrated.stdout)
    assert request["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    job = tmp_path / "sagemaker-job.json"
    job.write_text(migrated.stdout)
    ran = _cli("run", str(job), "--name", "from-s3", "--hp", "epochs=1")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Training job from-s3 ended: Completed" in ran.stdout
    assert keys(aws["s3"], "hpjobs/from-s3/") == [
        "hpjobs/from-s3/output/model.tar.gz",
        "hpjobs/from-s3/output/output.tar.gz",
    ]
    assert stored("from-s3").target == "local"


def test_run_tuning_target_aws_watches_to_the_end(
    aws: dict[str, Any], sent: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cloud.aws

    name = json.loads(TUNING_JOB.read_text())["HyperParameterTuningJobName"]
    child = {
        "TrainingJobName": f"{name}-001-0123abcd",
        "TrainingJobArn": f"arn:aws:sagemaker:us-west-2:123456789012:training-job/{name}-001",
        "CreationTime": datetime(2026, 11, 26, 12, tzinfo=timezone.utc),
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"hidden_size": "64", "learning_rate": "0.01"},
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "MetricName": "validation:loss",
            "Value": 0.25,
        },
    }
    recording_client = cloud.aws.client

    def client(service: str, region: str | None = None) -> Any:
        made = recording_client(service, region)
        if service == "sagemaker":  # moto has no ListTrainingJobsForHyperParameterTuningJob

            def children(**_: Any) -> Any:
                ok = AWSResponse("", 200, {}, None)  # type: ignore[arg-type]
                return ok, {"TrainingJobSummaries": [child]}

            made.meta.events.register(
                "before-call.sagemaker.ListTrainingJobsForHyperParameterTuningJob", children
            )
        return made

    monkeypatch.setattr(cloud.aws, "client", client)
    # the best training job moto reports, made to exist so its artifact can be looked up
    best = json.loads(BUILTIN_JOB.read_text())
    best.update(TrainingJobName="FakeTrainingJobName", RoleArn=aws["role"])
    best["OutputDataConfig"]["S3OutputPath"] = f"s3://{BUCKET}/best"
    best["AlgorithmSpecification"]["TrainingImage"] = IMAGE
    boto3.client("sagemaker", region_name=REGION).create_training_job(**best)
    result = hpjobs(
        "run", str(TUNING_JOB), "--target", "aws", "--bucket", BUCKET, "--role", aws["role"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Created arn:aws:sagemaker:us-west-2:123456789012:hyper-parameter-tuning-job/{name}"
    )
    assert (
        f"{name}-001-0123abcd Completed  hidden_size=64 learning_rate=0.01  objective=0.25" in lines
    )
    assert f"Hyperparameter tuning job {name} ended: Completed after 123 s" in lines
    assert (
        "Model artifact: s3://hpjobs-test-bucket/best/FakeTrainingJobName/output/model.tar.gz"
        in lines
    )
    assert sent["ListTrainingJobsForHyperParameterTuningJob"][0] == {
        "HyperParameterTuningJobName": name,
        "MaxResults": 100,
    }
