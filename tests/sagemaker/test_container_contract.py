"""The SageMaker container contract, as a script inside a job sees it (reference §3)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from helpers import SCRIPTS, training_request, wait_for

from hpjobs.sagemaker.training_jobs import create_training_job


def _channel(name: str, uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
        **extra,
    }


def _report_from_tar(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("report.json")
        assert member is not None
        report: dict[str, Any] = json.load(member)
        return report


def _run_reporting_job(name: str, output: Path, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    folder = tmp_path / "train-data"
    (folder / "part").mkdir(parents=True)
    (folder / "a.csv").write_text("1,2\n")
    (folder / "part" / "b.csv").write_text("3,4\n")
    single = tmp_path / "single.csv"
    single.write_text("5,6\n")
    request = training_request(
        name,
        output,
        InputDataConfig=[
            _channel("train", f"file://{folder}", ContentType="text/csv"),
            _channel("validation", str(single)),
        ],
        Environment={"MY_SETTING": "on"},
        **overrides,
    )
    request["HyperParameters"].update(
        {
            "epochs": "10",
            "learning-rate": "0.01",
            "optimizer": "adam",
            "b": '"x"',
            "nested": '{"a": 1}',
            "flag": "true",
            "_tuning_objective_metric": "validation:loss",
            "sagemaker_container_log_level": "20",
            "sagemaker_mpi_enabled": "true",
        }
    )
    create_training_job(request)
    description = wait_for(name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return _report_from_tar(output / name / "output" / "model.tar.gz")


def test_hyperparameters_become_arguments_by_the_toolkit_rules(
    output: Path, tmp_path: Path
) -> None:
    report = _run_reporting_job("args-job", output, tmp_path)
    assert report["argv"] == [
        "-b", "x", "--epochs", "10", "--flag", "True", "--learning-rate", "0.01",
        "--nested", "a=1", "--optimizer", "adam",
    ]  # fmt: skip
    env = report["env"]
    assert json.loads(env["SM_USER_ARGS"]) == report["argv"]
    assert json.loads(env["SM_HPS"]) == {
        "b": "x", "epochs": 10, "flag": True, "learning-rate": 0.01, "nested": {"a": 1},
        "optimizer": "adam",
    }  # fmt: skip
    assert env["SM_HP_EPOCHS"] == "10"
    assert env["SM_HP_LEARNING-RATE"] == "0.01"
    assert env["SM_HP_NESTED"] == '{"a":1}'
    assert env["SM_HP_FLAG"] == "true"
    assert env["SM_HP_B"] == "x"
    assert not any("_TUNING_OBJECTIVE_METRIC" in key for key in env)
    assert "_tuning_objective_metric" not in env["SM_TRAINING_ENV"]
    assert json.loads(env["SM_FRAMEWORK_PARAMS"]) == {"sagemaker_mpi_enabled": True}


def test_environment_variables(output: Path, tmp_path: Path, home: Path) -> None:
    report = _run_reporting_job("env-job", output, tmp_path)
    env = report["env"]
    base = home / "jobs" / "env-job" / "opt" / "ml"
    assert env["SM_MODEL_DIR"] == str(base / "model")
    assert env["SM_OUTPUT_DIR"] == str(base / "output")
    assert env["SM_OUTPUT_DATA_DIR"] == str(base / "output" / "data")
    assert env["SM_OUTPUT_INTERMEDIATE_DIR"] == str(base / "output" / "intermediate")
    assert env["SM_INPUT_DIR"] == str(base / "input")
    assert env["SM_INPUT_CONFIG_DIR"] == str(base / "input" / "config")
    assert env["SM_CHANNEL_TRAIN"] == str(base / "input" / "data" / "train")
    assert env["SM_CHANNEL_VALIDATION"] == str(base / "input" / "data" / "validation")
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large"
    assert env["SM_CURRENT_INSTANCE_GROUP"] == "homogeneousCluster"
    assert env["SM_NETWORK_INTERFACE_NAME"] == "eth0"
    assert env["SM_IS_HETERO"] == "false"
    assert env["SM_NUM_GPUS"] == "0"
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert env["SM_LOG_LEVEL"] == "20"
    assert env["SM_USER_ENTRY_POINT"] == "report.py"
    assert env["SM_MODULE_NAME"] == "report"
    assert env["SM_MODULE_DIR"] == SCRIPTS.as_uri()
    assert json.loads(env["SM_INPUT_DATA_CONFIG"]) == {
        "train": {
            "ContentType": "text/csv",
            "RecordWrapperType": "None",
            "S3DistributionType": "FullyReplicated",
            "TrainingInputMode": "File",
        },
        "validation": {
            "RecordWrapperType": "None",
            "S3DistributionType": "FullyReplicated",
            "TrainingInputMode": "File",
        },
    }
    training_env = json.loads(env["SM_TRAINING_ENV"])
    assert training_env["job_name"] == "env-job"
    assert training_env["is_master"] is True
    assert training_env["channel_input_dirs"]["train"] == env["SM_CHANNEL_TRAIN"]
    assert env["TRAINING_JOB_NAME"] == "env-job"
    assert (
        env["TRAINING_JOB_ARN"] == "arn:aws:sagemaker:us-west-2:000000000000:training-job/env-job"
    )
    assert env["MY_SETTING"] == "on"
    assert env["SAGEMAKER_BASE_DIR"] == str(base)
    assert env["CURRENT_HOST"] == "algo-1"
    assert report["cwd"] == str(base / "code")


def test_config_files_and_staged_channels(output: Path, tmp_path: Path) -> None:
    report = _run_reporting_job("files-job", output, tmp_path)
    assert report["channels"] == {"train": ["a.csv", "part/b.csv"], "validation": ["single.csv"]}
    config = report["config"]
    assert config["hyperparameters.json"]["epochs"] == "10"
    assert config["hyperparameters.json"]["b"] == '"x"'
    assert config["inputdataconfig.json"]["train"]["ContentType"] == "text/csv"
    assert config["resourceconfig.json"] == {
        "current_host": "algo-1",
        "current_instance_type": "ml.m5.large",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.m5.large",
                "hosts": ["algo-1"],
            }
        ],
        "network_interface_name": "eth0",
    }


def test_s3_channels_code_and_outputs_through_boto3(output: Path, moto_s3: Any, home: Path) -> None:
    moto_s3.create_bucket(
        Bucket="data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    moto_s3.put_object(Bucket="data", Key="train/x.csv", Body=b"1,2\n")
    moto_s3.put_object(Bucket="data", Key="train/sub/y.csv", Body=b"3,4\n")
    moto_s3.put_object(Bucket="data", Key="other/z.csv", Body=b"no\n")
    code = io.BytesIO()
    with tarfile.open(fileobj=code, mode="w:gz") as tar:
        tar.add(SCRIPTS / "report.py", arcname="report.py")
    moto_s3.put_object(Bucket="data", Key="code/sourcedir.tar.gz", Body=code.getvalue())
    request = training_request(
        "s3-job",
        output,
        InputDataConfig=[_channel("train", "s3://data/train")],
        OutputDataConfig={"S3OutputPath": "s3://data/results"},
        CheckpointConfig={"S3Uri": "s3://data/checkpoints"},
        Environment={"CHECKPOINT_DIR": str(home / "jobs" / "s3-job" / "opt/ml/checkpoints")},
    )
    request["HyperParameters"]["sagemaker_submit_directory"] = '"s3://data/code/sourcedir.tar.gz"'
    create_training_job(request)
    description = wait_for("s3-job")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert description["ModelArtifacts"]["S3ModelArtifacts"] == (
        "s3://data/results/s3-job/output/model.tar.gz"
    )
    body = moto_s3.get_object(Bucket="data", Key="results/s3-job/output/model.tar.gz")["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as tar:
        member = tar.extractfile("report.json")
        assert member is not None
        report = json.load(member)
    assert report["channels"] == {"train": ["sub/y.csv", "x.csv"]}
    keys = [o["Key"] for o in moto_s3.list_objects_v2(Bucket="data", Prefix="results/")["Contents"]]
    assert sorted(keys) == [
        "results/s3-job/output/model.tar.gz",
        "results/s3-job/output/output.tar.gz",
    ]
    checkpoint = moto_s3.get_object(Bucket="data", Key="checkpoints/step.txt")["Body"].read()
    assert checkpoint == b"42"


def test_checkpoints_are_restored_and_saved(output: Path, tmp_path: Path, home: Path) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "previous.txt").write_text("from an earlier run")
    request = training_request(
        "ckpt-job",
        output,
        CheckpointConfig={"S3Uri": checkpoints.as_uri(), "LocalPath": "/opt/ml/checkpoints"},
        Environment={"CHECKPOINT_DIR": str(home / "jobs" / "ckpt-job" / "opt/ml/checkpoints")},
    )
    create_training_job(request)
    description = wait_for("ckpt-job")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    local = home / "jobs" / "ckpt-job" / "opt" / "ml" / "checkpoints"
    assert (local / "previous.txt").read_text() == "from an earlier run"
    assert (checkpoints / "step.txt").read_text() == "42"
    assert description["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
