"""Names and keys that could make a path outside HPJOBS_HOME, the job's folder or the output
folder: channel names, S3 keys of an input channel, the entry point, a checkpoint's local path,
and job names (pattern-checked by botocore's model) as the CLI and the HTTP endpoint see them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import program, training_request, wait_for

from hpjobs.errors import ValidationException
from hpjobs.sagemaker.training_jobs import (
    create_training_job,
    describe_training_job,
    list_training_jobs,
)


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
    }


@pytest.mark.parametrize("name", [".", ".."])
def test_a_channel_named_dot_or_dotdot_is_refused_and_nothing_is_recorded(
    name: str, tmp_path: Path, output: Path, home: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hyperparameters.json").write_text('{"overwritten": "yes"}')
    request = training_request("dot-channel", output, InputDataConfig=[_channel(name, str(data))])
    with pytest.raises(ValidationException) as refused:
        create_training_job(request)
    assert refused.value.code == "ValidationException"
    assert refused.value.message == (
        f"Channel {name}: a channel's data is put in /opt/ml/input/data/<ChannelName>, so its "
        "name cannot be '.' or '..'."
    )
    assert list_training_jobs({})["TrainingJobSummaries"] == []
    assert not (home / "jobs" / "dot-channel").exists()


def test_channel_names_made_of_dots_and_dashes_stay_in_the_data_folder(
    tmp_path: Path, output: Path, home: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.csv").write_text("1\n")
    names = ["...", ".hidden", "a..b"]
    request = training_request(
        "dots-ok", output, InputDataConfig=[_channel(n, str(data)) for n in names]
    )
    create_training_job(request)
    assert wait_for("dots-ok")["TrainingJobStatus"] == "Completed"
    folder = home / "jobs" / "dots-ok" / "opt" / "ml" / "input" / "data"
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    assert all((folder / n / "x.csv").read_text() == "1\n" for n in names)


def test_s3_keys_that_climb_out_of_a_channel_fail_the_job_and_write_nothing(
    s3: tuple[Any, str], tmp_path: Path, output: Path, home: Path
) -> None:
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="train/a.csv", Body=b"1\n")
    client.put_object(Bucket=bucket, Key="train/../../escaped.csv", Body=b"escaped\n")
    request = training_request(
        "key-climb", output, InputDataConfig=[_channel("train", f"s3://{bucket}/train/")]
    )
    create_training_job(request)
    description = wait_for("key-climb")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        "ClientError: Data download failed: object key 'train/../../escaped.csv' would be "
        "written outside the destination folder"
    )
    data = home / "jobs" / "key-climb" / "opt" / "ml" / "input" / "data"
    assert list((data / "train").iterdir()) == []
    assert not list(tmp_path.rglob("escaped.csv"))


def test_keys_with_dots_inside_their_channel_are_staged_where_they_belong(
    s3: tuple[Any, str], output: Path, home: Path
) -> None:
    client, bucket = s3
    for key in ("train/a.csv", "train/sub/..b.csv", "train/./c.csv", "train//d.csv"):
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    request = training_request(
        "key-dots", output, InputDataConfig=[_channel("train", f"s3://{bucket}/train/")]
    )
    create_training_job(request)
    assert wait_for("key-dots")["TrainingJobStatus"] == "Completed"
    train = home / "jobs" / "key-dots" / "opt" / "ml" / "input" / "data" / "train"
    staged = {p.relative_to(train).as_posix(): p.read_text() for p in train.rglob("*.csv")}
    assert staged == {
        "a.csv": "train/a.csv",
        "sub/..b.csv": "train/sub/..b.csv",
        "c.csv": "train/./c.csv",
        "d.csv": "train//d.csv",
    }


@pytest.mark.parametrize("entry", ["../../../../escape.py", "/tmp/escape.py"])
def test_an_entry_point_outside_the_code_folder_is_refused(
    entry: str, tmp_path: Path, output: Path
) -> None:
    name = "entry-up" if entry.startswith("..") else "entry-abs"
    create_training_job(program(training_request(name, output), entry))
    description = wait_for(name)
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        f"ClientError: sagemaker_program {entry!r} is outside the code folder"
    )


def test_a_checkpoint_local_path_that_climbs_out_stays_in_the_job_folder(
    tmp_path: Path, output: Path, home: Path
) -> None:
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "previous.txt").write_text("restored")
    request = training_request(
        "ckpt-path",
        output,
        CheckpointConfig={
            "S3Uri": checkpoints.as_uri(),
            "LocalPath": "/opt/ml/../../../../../escaped-checkpoints",
        },
    )
    create_training_job(request)
    assert wait_for("ckpt-path")["TrainingJobStatus"] == "Completed"
    base = home / "jobs" / "ckpt-path" / "opt" / "ml"
    assert (base / "escaped-checkpoints" / "previous.txt").read_text() == "restored"
    assert list(tmp_path.rglob("escaped-checkpoints")) == [base / "escaped-checkpoints"]
    assert not Path("/escaped-checkpoints").exists()


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "/abs", "job.name"])
def test_a_job_name_that_is_not_a_plain_name_is_refused_by_the_model(
    name: str, output: Path, home: Path
) -> None:
    with pytest.raises(ValidationException) as refused:
        create_training_job(training_request(name, output))
    assert refused.value.message == (
        f"1 validation error detected: Value '{name}' at 'trainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )
    assert list_training_jobs({})["TrainingJobSummaries"] == []
    assert not (home / "jobs").exists() or list((home / "jobs").iterdir()) == []


def test_a_job_name_with_a_path_is_refused_by_the_cli_with_the_aws_message(
    output: Path, tmp_path: Path, home: Path
) -> None:
    request = training_request("../../escape", output)
    (tmp_path / "job.json").write_text(json.dumps(request))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpjobs",
            "sagemaker",
            "create-training-job",
            "--cli-input-json",
            f"file://{tmp_path / 'job.json'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "An error occurred (ValidationException) when calling the CreateTrainingJob operation: "
        "1 validation error detected: Value '../../escape' at 'trainingJobName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )
    assert "Traceback" not in done.stderr
    with pytest.raises(ValidationException):
        describe_training_job({"TrainingJobName": "escape"})
    assert not (home / "jobs").exists() or list((home / "jobs").iterdir()) == []


@pytest.mark.parametrize(
    ("member", "pattern"),
    [
        ("jobName", r"^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*"),
        ("customModelName", "^([0-9a-zA-Z][_-]?){1,63}"),
    ],
)
def test_customization_names_with_a_path_are_refused_and_nothing_is_recorded(
    member: str, pattern: str, tmp_path: Path, home: Path
) -> None:
    from hpjobs.bedrock.customization import (
        create_model_customization_job,
        list_custom_models,
        list_model_customization_jobs,
    )

    train = tmp_path / "train.jsonl"
    train.write_text('{"prompt": "a", "completion": "b"}\n')
    request = {
        "jobName": "plain-job",
        "customModelName": "plain-model",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "baseModelIdentifier": "amazon.titan-text-lite-v1:0:4k",
        "trainingDataConfig": {"s3Uri": str(train)},
        "outputDataConfig": {"s3Uri": (tmp_path / "out").as_uri()},
        member: "../../escape",
    }
    with pytest.raises(ValidationException) as refused:
        create_model_customization_job(request)
    assert refused.value.message == (
        f"1 validation error detected: Value '../../escape' at '{member}' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}"
    )
    assert list_model_customization_jobs({})["modelCustomizationJobSummaries"] == []
    assert list_custom_models({})["modelSummaries"] == []
    assert list_training_jobs({})["TrainingJobSummaries"] == []
    assert not (home / "custom-models").exists()
    assert not (tmp_path / "out").exists()


def test_a_new_hpjobs_home_is_readable_by_its_owner_only(home: Path) -> None:
    import stat

    from hpjobs.sagemaker.training_jobs import list_training_jobs

    assert not home.exists()
    list_training_jobs({})
    # the store inside it (and every job folder) is out of other users' reach through it
    assert (home / "hpjobs.db").is_file() and stat.S_IMODE(home.stat().st_mode) == 0o700
