"""Secrets in ``Environment`` and hyperparameters: masked as ``****`` wherever people read them
(describe output through the Python API and the CLI, the job's log, ``hpjobs logs``,
``hpjobs run``, a failure reason), while the job itself receives the real values."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import TERMINAL, serving, wait_for

from hpjobs.redaction import masked_training_description, masked_tuning_description
from hpjobs.sagemaker.training_jobs import describe_training_job, list_training_jobs
from hpjobs.sagemaker.tuning_jobs import (
    create_hyper_parameter_tuning_job,
    describe_hyper_parameter_tuning_job,
)
from local_runner.redaction import MASK, Redactor, is_secret_name, secret_values

# -- the rule ------------------------------------------------------------------------------------

SECRET_NAMES = [
    "api_key",
    "apiKey",
    "APIKey",
    "APIKEY",
    "api-key",
    "openai.api.key",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "HF_TOKEN",
    "hfToken",
    "GITHUB_TOKEN",
    "WANDB_API_KEY",
    "accesstoken",
    "token",
    "key",
    "Key",
    "password",
    "db_password",
    "PGPASSWORD",
    "MYSQL_PWD",
    "smtp-passwd",
    "ssh_passphrase",
    "clientSecret",
    "SECRET",
    "secrets_file",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "private_key",
    "signing_key2",
    "sort_key",
]
PLAIN_NAMES = [
    "monkey",
    "hotkey",
    "keyword",
    "key_size",
    "key_dim",
    "keys",
    "AWS_ACCESS_KEY_ID",
    "max_tokens",
    "maxTokenCount",
    "max_new_tokens",
    "token_dropout",
    "tokenizer",
    "tokens",
    "learning_rate",
    "epochs",
    "sagemaker_program",
    "",
    "_",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_names_that_hold_secrets(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_names_that_do_not(name: str) -> None:
    assert not is_secret_name(name)


def test_secret_values_are_found_in_every_form_the_program_sees() -> None:
    request = {
        "HyperParameters": {
            "api_key": '"sk-quoted-1234"',
            "db_password": "unquoted-5678",
            "auth_token": '{"user": "bob-the-user", "pin": 98765}',
            "flag_key": "true",
            "short_key": "abc",
            "learning_rate": "0.1",
        },
        "Environment": {"HF_TOKEN": "hf_line1\nhf_line2", "PLAIN": "visible-value"},
    }
    values = secret_values(request)
    assert set(values) == {
        "sk-quoted-1234",
        "unquoted-5678",
        '{"user": "bob-the-user", "pin": 98765}',
        "pin=98765,user=bob-the-user",
        "bob-the-user",
        "98765",
        "hf_line1\nhf_line2",
        "hf_line1",
        "hf_line2",
    }
    assert values == sorted(values, key=lambda v: (-len(v), v))  # longest first
    redact = Redactor(values)
    assert redact("--api_key sk-quoted-1234 --db_password unquoted-5678 rate 0.1") == (
        f"--api_key {MASK} --db_password {MASK} rate 0.1"
    )
    assert redact("--auth_token pin=98765,user=bob-the-user") == f"--auth_token {MASK}"
    assert redact('{"api_key": "sk-quoted-1234"}') == f'{{"api_key": "{MASK}"}}'
    assert redact("abc true visible-value hf_line2") == f"abc true visible-value {MASK}"
    assert Redactor([])("nothing to hide") == "nothing to hide"


def test_describe_masks_only_secret_named_members_and_leaves_its_input_alone() -> None:
    description = {
        "TrainingJobName": "x",
        "HyperParameters": {"api_key": "sk-1", "epochs": "3"},
        "Environment": {"HF_TOKEN": "hf-1", "MODE": "fast"},
    }
    assert masked_training_description(description) == {
        "TrainingJobName": "x",
        "HyperParameters": {"api_key": MASK, "epochs": "3"},
        "Environment": {"HF_TOKEN": MASK, "MODE": "fast"},
    }
    assert description["HyperParameters"]["api_key"] == "sk-1"
    tuning = {
        "TrainingJobDefinitions": [
            {"StaticHyperParameters": {"password": "p-1"}, "Environment": {"TOKEN": "t-1"}},
            {"StaticHyperParameters": {"x": "1"}},
        ]
    }
    assert masked_tuning_description(tuning) == {
        "TrainingJobDefinitions": [
            {"StaticHyperParameters": {"password": MASK}, "Environment": {"TOKEN": MASK}},
            {"StaticHyperParameters": {"x": "1"}},
        ]
    }
    assert tuning["TrainingJobDefinitions"][0]["StaticHyperParameters"] == {"password": "p-1"}


# -- a real job ----------------------------------------------------------------------------------

API_KEY = "sk-live-4f9a8b7c6d5e"
CLIENT_SECRET = "hunter2-hunter2"
HF_TOKEN = "hf_AbCdEf123456"
DB_PASSWORD = "correct horse battery staple"
SECRETS = (API_KEY, CLIENT_SECRET, HF_TOKEN, DB_PASSWORD)

#: Prints everything it was given, keeps a copy in the model folder, then (when asked) fails
#: with a reason that quotes a secret.
SCRIPT = """\
import json, os, sys
from pathlib import Path

print("argv: " + " ".join(sys.argv[1:]), flush=True)
print("token from the environment: " + os.environ["HF_TOKEN"], flush=True)
print("password on stderr: " + os.environ.get("DB_PASSWORD", ""), file=sys.stderr, flush=True)
print("hps: " + os.environ["SM_HPS"], flush=True)
print("objective=0.5", flush=True)
seen = {
    "argv": sys.argv[1:],
    "hps": json.loads(os.environ["SM_HPS"]),
    "env": {k: os.environ.get(k) for k in ("HF_TOKEN", "DB_PASSWORD", "PLAIN_SETTING")},
}
(Path(os.environ["SM_MODEL_DIR"]) / "seen.json").write_text(json.dumps(seen))
if os.environ.get("FAIL_LOUDLY"):
    failure = Path(os.environ["SM_OUTPUT_DIR"]) / "failure"
    failure.write_text("ClientError: could not log in with " + os.environ["DB_PASSWORD"])
    sys.exit(2)
"""


def _code(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "leak.py").write_text(SCRIPT)
    return code


def _seen(output: Path, name: str) -> dict[str, Any]:
    with tarfile.open(output / name / "output" / "model.tar.gz") as tar:
        member = tar.extractfile("seen.json")
        assert member is not None
        seen: dict[str, Any] = json.load(member)
        return seen


def _hpjobs(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpjobs", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "400"},
    )


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_a_training_job_gets_its_secrets_and_no_one_reads_them(
    tmp_path: Path, output: Path, home: Path
) -> None:
    request = {
        "TrainingJobName": "secret-job",
        "AlgorithmSpecification": {"TrainingImage": "hpjobs/pytorch", "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": '"leak.py"',
            "sagemaker_submit_directory": json.dumps(_code(tmp_path).as_uri()),
            "api_key": json.dumps(API_KEY),
            "clientSecret": CLIENT_SECRET,
            "key_size": "256",
            "max_tokens": "128",
        },
        "Environment": {
            "HF_TOKEN": HF_TOKEN,
            "DB_PASSWORD": DB_PASSWORD,
            "PLAIN_SETTING": "visible-value",
            "FAIL_LOUDLY": "1",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    (tmp_path / "job.json").write_text(json.dumps(request))

    # hpjobs run: creates the job and prints its log and summary as it goes
    ran = _hpjobs("run", str(tmp_path / "job.json"))
    assert ran.returncode == 1, ran.stderr
    _no_secret_in(ran.stdout + ran.stderr)
    assert f"argv: --api_key {MASK} --clientSecret {MASK} --key_size 256 --max_tokens 128" in (
        ran.stdout
    )
    assert f"Failure reason: ClientError: could not log in with {MASK}" in ran.stdout

    # the job itself received the real values: arguments, SM_HPS and environment
    seen = _seen(output, "secret-job")
    assert seen["argv"] == [
        "--api_key",
        API_KEY,
        "--clientSecret",
        CLIENT_SECRET,
        "--key_size",
        "256",
        "--max_tokens",
        "128",
    ]
    assert seen["hps"] == {
        "api_key": API_KEY,
        "clientSecret": CLIENT_SECRET,
        "key_size": 256,
        "max_tokens": 128,
    }
    assert seen["env"] == {
        "HF_TOKEN": HF_TOKEN,
        "DB_PASSWORD": DB_PASSWORD,
        "PLAIN_SETTING": "visible-value",
    }

    # the log: the program's output and hpjobs' own lines, secrets masked
    log = (home / "jobs" / "secret-job" / "logs" / "algo-1.log").read_text()
    _no_secret_in(log)
    lines = log.splitlines()
    invoked = next(line for line in lines if line.startswith("hpjobs: Invoking script"))
    assert invoked.endswith(
        f"leak.py --api_key {MASK} --clientSecret {MASK} --key_size 256 --max_tokens 128"
    )
    assert f"token from the environment: {MASK}" in lines
    assert f"password on stderr: {MASK}" in lines
    hps = json.loads(next(line for line in lines if line.startswith("hps: "))[len("hps: ") :])
    assert hps == {"api_key": MASK, "clientSecret": MASK, "key_size": 256, "max_tokens": 128}
    assert "objective=0.5" in lines

    # describe, through the Python API
    description = describe_training_job({"TrainingJobName": "secret-job"})
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == f"ClientError: could not log in with {MASK}"
    assert description["HyperParameters"] == {
        "sagemaker_program": '"leak.py"',
        "sagemaker_submit_directory": request["HyperParameters"]["sagemaker_submit_directory"],
        "api_key": MASK,
        "clientSecret": MASK,
        "key_size": "256",
        "max_tokens": "128",
    }
    assert description["Environment"] == {
        "HF_TOKEN": MASK,
        "DB_PASSWORD": MASK,
        "PLAIN_SETTING": "visible-value",
        "FAIL_LOUDLY": "1",
    }

    # describe and logs, through the CLI
    described = _hpjobs("sagemaker", "describe-training-job", "--training-job-name", "secret-job")
    assert described.returncode == 0, described.stderr
    _no_secret_in(described.stdout)
    cli = json.loads(described.stdout)
    assert cli["HyperParameters"] == description["HyperParameters"]
    assert cli["Environment"] == description["Environment"]
    assert cli["FailureReason"] == description["FailureReason"]
    logs = _hpjobs("logs", "secret-job")
    assert logs.returncode == 0, logs.stderr
    _no_secret_in(logs.stdout)
    assert logs.stdout == log

    # describe, through the HTTP endpoint (what the SDKs and the dashboard read)
    import boto3

    with serving(tmp_path) as url:
        client = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        served = client.describe_training_job(TrainingJobName="secret-job")
    assert served["HyperParameters"] == description["HyperParameters"]
    assert served["Environment"] == description["Environment"]
    assert served["FailureReason"] == description["FailureReason"]


# -- a tuning job --------------------------------------------------------------------------------


def test_a_tuning_job_and_its_trials_mask_static_secrets(
    tmp_path: Path, output: Path, home: Path
) -> None:
    definition = {
        "AlgorithmSpecification": {
            "TrainingImage": "hpjobs/pytorch",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "objective", "Regex": "objective=([0-9.]+)"}],
        },
        "StaticHyperParameters": {
            "sagemaker_program": '"leak.py"',
            "sagemaker_submit_directory": json.dumps(_code(tmp_path).as_uri()),
            "api_key": API_KEY,
            "epochs": "1",
        },
        "Environment": {"HF_TOKEN": HF_TOKEN, "PLAIN_SETTING": "visible-value"},
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    create_hyper_parameter_tuning_job(
        {
            "HyperParameterTuningJobName": "secret-tuning",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Random",
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 1, "MaxParallelTrainingJobs": 1},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]
                },
            },
            "TrainingJobDefinition": definition,
        }
    )
    deadline = time.monotonic() + 90
    while True:
        tuning = describe_hyper_parameter_tuning_job(
            {"HyperParameterTuningJobName": "secret-tuning"}
        )
        if tuning["HyperParameterTuningJobStatus"] in TERMINAL:
            break
        assert time.monotonic() < deadline, tuning
        time.sleep(0.1)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning.get("FailureReason")
    shown = tuning["TrainingJobDefinition"]
    assert shown["StaticHyperParameters"] == {
        **definition["StaticHyperParameters"],
        "api_key": MASK,
    }
    assert shown["Environment"] == {"HF_TOKEN": MASK, "PLAIN_SETTING": "visible-value"}

    (child,) = [s["TrainingJobName"] for s in list_training_jobs({})["TrainingJobSummaries"]]
    described = wait_for(child)
    assert described["HyperParameters"]["api_key"] == MASK
    assert described["Environment"]["HF_TOKEN"] == MASK
    log = (home / "jobs" / child / "logs" / "algo-1.log").read_text()
    _no_secret_in(log)
    assert re.search(rf"^argv: --api_key {re.escape(MASK)} --epochs 1 -x \S+$", log, re.M), log
    seen = _seen(output, child)
    assert seen["argv"][:2] == ["--api_key", API_KEY]
    assert seen["env"]["HF_TOKEN"] == HF_TOKEN
    assert seen["hps"]["api_key"] == API_KEY


def test_values_too_short_or_plain_to_be_secrets_are_not_searched_for_in_text() -> None:
    assert secret_values({"HyperParameters": {"key": "1", "token": "null"}}) == []
    text = "epoch=1 loss=1.0 null"
    assert Redactor(secret_values({"HyperParameters": {"key": "1"}}))(text) == text
