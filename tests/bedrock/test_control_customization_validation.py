"""CreateModelCustomizationJob requests that are refused before any training starts: the model's
constraints, the customization types, base models, hyperparameter names and ranges, data
locations, names in use and idempotency tokens. Each error is checked by code and full text."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import torch
from sqlalchemy import func, select

from hpjobs.algorithms.lm import ByteTransformer, ModelConfig
from hpjobs.bedrock.customization import create_model_customization_job
from hpjobs.errors import SerializationException, ServiceError, ValidationException
from hpjobs.store import CustomizationJob, CustomModel, get_store

BASE_ID = "amazon.titan-text-lite-v1:0:4k"
INVALID_MODEL = "The provided model identifier is invalid."


@pytest.fixture
def base(home: Path, tmp_path: Path) -> Path:
    """A tiny hpjobs/lm model registered as ``BASE_ID`` in ``$HPJOBS_HOME/models.json``, plus
    ``no.weights-v1:0`` whose folder is empty."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    model = ByteTransformer(ModelConfig(context_length=64, width=32, depth=1, heads=2))
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(asdict(model.config)))
    (tmp_path / "empty").mkdir()
    entries = {
        BASE_ID: {"name": "Tiny", "provider": "Amazon", "family": "titan", "path": str(folder)},
        "no.weights-v1:0": {"family": "titan", "path": str(tmp_path / "empty")},
    }
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.json").write_text(json.dumps({"models": entries}))
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n")
    return path


def request(data: Path, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobName": "job-1",
        "customModelName": "model-1",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "baseModelIdentifier": BASE_ID,
        "trainingDataConfig": {"s3Uri": str(data)},
        "outputDataConfig": {"s3Uri": str(data.parent / "out")},
    }
    body.update(overrides)
    return body


def job_count() -> int:
    with get_store().read() as session:
        return int(session.scalar(select(func.count()).select_from(CustomizationJob)) or 0)


def refused(body: dict[str, Any], kind: type[ServiceError] = ValidationException) -> str:
    """The message of the error ``body`` gets; nothing is recorded or started."""
    before = job_count()
    with pytest.raises(kind) as caught:
        create_model_customization_job(body)
    assert type(caught.value) is kind
    assert job_count() == before
    return caught.value.message


def test_model_constraints_are_checked_first(base: Path, data: Path) -> None:
    body = request(data, jobName="bad name", trainingDataConfig={"s3Uri": "https://bucket/x"})
    assert refused(body) == (
        "2 validation errors detected: Value 'bad name' at 'jobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9\\+\\-\\.])*; Value 'https://bucket/x' at "
        "'trainingDataConfig.s3Uri' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: ^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9]"
        "(?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
    )


def test_required_members_and_types(base: Path, data: Path) -> None:
    body = request(data)
    del body["roleArn"]
    assert refused(body) == (
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null"
    )
    assert refused(request(data, hyperParameters={"epochCount": 2}), SerializationException) == (
        "Invalid type for parameter hyperParameters.epochCount, value: 2, type: <class 'int'>, "
        "valid types: <class 'str'>"
    )


@pytest.mark.parametrize("kind", ["DISTILLATION", "REINFORCEMENT_FINE_TUNING", "IMPORTED"])
def test_only_fine_tuning_and_continued_pre_training_run(base: Path, data: Path, kind: str) -> None:
    assert refused(request(data, customizationType=kind)) == (
        f"Customization type {kind} is not supported here: hpjobs runs FINE_TUNING and "
        "CONTINUED_PRE_TRAINING jobs."
    )


def test_customization_config_belongs_to_other_types(base: Path, data: Path) -> None:
    config = {"distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": BASE_ID}}}
    assert refused(request(data, customizationConfig=config)) == (
        "customizationConfig is only for DISTILLATION and REINFORCEMENT_FINE_TUNING jobs."
    )


@pytest.mark.parametrize(
    "identifier",
    [
        "amazon.nothing-like-this-v1:0",
        "no-such-custom-model",
        "arn:aws:bedrock:us-west-2:000000000000:custom-model/amazon.titan-text-lite-v1:0:4k/"
        "abcdefghijkl",
    ],
)
def test_unknown_base_models_are_invalid(base: Path, data: Path, identifier: str) -> None:
    assert refused(request(data, baseModelIdentifier=identifier)) == INVALID_MODEL


def test_a_creating_custom_model_is_not_a_base(base: Path, data: Path) -> None:
    now = datetime.now(timezone.utc)
    with get_store().write() as session:
        session.add(
            CustomModel(
                model_name="still-training",
                model_arn="arn:aws:bedrock:us-west-2:000000000000:custom-model/x.y/abcdefghijkl",
                base_model_id=BASE_ID,
                family="titan",
                status="Creating",
                creation_time=now,
            )
        )
    assert refused(request(data, baseModelIdentifier="still-training")) == INVALID_MODEL


def test_a_base_model_without_local_weights_is_refused(
    base: Path, data: Path, tmp_path: Path
) -> None:
    assert refused(request(data, baseModelIdentifier="no.weights-v1:0")) == (
        f"The local model behind no.weights-v1:0 has no weights: {tmp_path / 'empty'} must "
        "hold model.pt and config.json."
    )


def test_unknown_hyperparameters_are_refused(base: Path, data: Path) -> None:
    body = request(data, hyperParameters={"epochCount": "2", "epochs": "2", "dropout": "0.1"})
    assert refused(body) == (
        "Unknown hyperparameters: dropout, epochs. The hyperparameters this model accepts are "
        "batchSize, epochCount, learningRate, learningRateWarmupSteps."
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("epochCount", "0", "an integer from 1 to 10"),
        ("epochCount", "11", "an integer from 1 to 10"),
        ("epochCount", "2.5", "an integer from 1 to 10"),
        ("epochCount", "two", "an integer from 1 to 10"),
        ("batchSize", "0", "an integer from 1 to 64"),
        ("batchSize", "65", "an integer from 1 to 64"),
        ("learningRate", "0", "a number greater than 0 and at most 1"),
        ("learningRate", "-0.1", "a number greater than 0 and at most 1"),
        ("learningRate", "1.5", "a number greater than 0 and at most 1"),
        ("learningRate", "nan", "a number greater than 0 and at most 1"),
        ("learningRate", "", "a number greater than 0 and at most 1"),
        ("learningRateWarmupSteps", "-1", "an integer from 0 to 250"),
        ("learningRateWarmupSteps", "251", "an integer from 0 to 250"),
    ],
)
def test_hyperparameters_outside_the_titan_ranges_are_refused(
    base: Path, data: Path, name: str, value: str, expected: str
) -> None:
    body = request(data, hyperParameters={name: value})
    assert refused(body) == (
        f"Invalid value {value!r} for hyperparameter {name}: it must be {expected}."
    )


def test_training_data_must_be_given_as_a_location(base: Path, data: Path) -> None:
    assert refused(request(data, trainingDataConfig={})) == (
        "1 validation error detected: Value null at 'trainingDataConfig.s3Uri' failed to "
        "satisfy constraint: Member must not be null"
    )
    logs = {"invocationLogSource": {"s3Uri": "s3://bucket/logs"}}
    assert refused(request(data, trainingDataConfig={"invocationLogsConfig": logs})) == (
        "trainingDataConfig.invocationLogsConfig is not supported here: give the training data "
        "as trainingDataConfig.s3Uri."
    )


def test_local_data_must_exist(base: Path, data: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    assert refused(request(data, trainingDataConfig={"s3Uri": str(missing)})) == (
        f"The data location {missing.as_uri()} does not exist."
    )
    validation = {"validators": [{"s3Uri": missing.as_uri()}]}
    assert refused(request(data, validationDataConfig=validation)) == (
        f"The data location {missing.as_uri()} does not exist."
    )


def seed_job(name: str, model_name: str, token: str | None = None) -> str:
    """A finished job row and its Active model, as a completed job leaves them."""
    now = datetime.now(timezone.utc)
    arn = f"arn:aws:bedrock:us-west-2:000000000000:model-customization-job/{BASE_ID}/seeded{name}"
    with get_store().write() as session:
        job = CustomizationJob(
            job_name=name,
            job_arn=arn,
            request={},
            client_request_token=token,
            status="Completed",
            creation_time=now,
            last_modified_time=now,
            training_job_name=f"bedrock-{name}",
            custom_model_name=model_name,
            custom_model_arn=f"arn:model/{name}",
            base_model_id=BASE_ID,
            customization_type="FINE_TUNING",
        )
        session.add(job)
        session.flush()
        session.add(
            CustomModel(
                model_name=model_name,
                model_arn=f"arn:model/{name}",
                job_id=job.id,
                base_model_id=BASE_ID,
                family="titan",
                status="Active",
                creation_time=now,
            )
        )
    return arn


def test_a_job_name_in_use_is_refused(base: Path, data: Path) -> None:
    seed_job("job-1", "other-model")
    assert refused(request(data)) == "The provided job name is currently in use."


def test_a_custom_model_name_in_use_is_refused(base: Path, data: Path) -> None:
    seed_job("other-job", "model-1")
    assert refused(request(data)) == "The provided custom model name is currently in use."


def test_a_repeated_client_request_token_returns_the_first_job(base: Path, data: Path) -> None:
    arn = seed_job("first", "first-model", token="token-1")
    body = request(data, clientRequestToken="token-1", customizationType="DISTILLATION")
    assert create_model_customization_job(body) == {"jobArn": arn}
    assert job_count() == 1
