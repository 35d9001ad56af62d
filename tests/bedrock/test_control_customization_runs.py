"""Customization jobs that really train: fine-tuning a tiny base model to an Active custom model
whose loss on its training data is lower than the base model's, continued pre-training from a
custom model, stopping a running job, and jobs that fail on bad JSON lines."""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import torch

from hpjobs.algorithms.lm import ByteTransformer, ModelConfig, evaluate, load_model, read_examples
from hpjobs.bedrock.customization import (
    create_model_customization_job,
    get_custom_model,
    get_model_customization_job,
    list_custom_models,
    list_model_customization_jobs,
    resolve_custom_model,
    stop_model_customization_job,
)
from hpjobs.errors import ConflictException, ResourceNotFoundException
from hpjobs.sagemaker.training_jobs import describe_training_job
from hpjobs.store import CustomModel, get_store

pytestmark = pytest.mark.slow

BASE_ID = "amazon.titan-text-lite-v1:0:4k"
BASE_ARN = f"arn:aws:bedrock:us-west-2::foundation-model/{BASE_ID}"
PREFIX = "arn:aws:bedrock:us-west-2:000000000000"
COLOURS = ["red", "green", "blue", "gold"]
FINISHED = {"Completed", "Failed", "Stopped"}


@pytest.fixture
def base(home: Path, tmp_path: Path) -> Path:
    """A tiny untrained hpjobs/lm model registered as ``BASE_ID`` through models.json."""
    folder = tmp_path / "tiny-base"
    folder.mkdir()
    torch.manual_seed(0)
    model = ByteTransformer(ModelConfig(context_length=64, width=32, depth=1, heads=2))
    torch.save(model.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(asdict(model.config)))
    entry = {"name": "Tiny", "provider": "Amazon", "family": "titan", "path": str(folder)}
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.json").write_text(json.dumps({"models": {BASE_ID: entry}}))
    return folder


def write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def qa(count: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {"prompt": f"Q: colour of item {i}? A:", "completion": f" item {i} is {COLOURS[i % 4]}."}
        for i in range(start, start + count)
    ]


def request(name: str, train: Path, out: Path, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobName": name,
        "customModelName": f"{name}-model",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "baseModelIdentifier": BASE_ID,
        "trainingDataConfig": {"s3Uri": str(train)},
        "outputDataConfig": {"s3Uri": out.as_uri()},
        "hyperParameters": {
            "epochCount": "3",
            "batchSize": "4",
            "learningRate": "0.01",
            "learningRateWarmupSteps": "0",
        },
    }
    body.update(overrides)
    return body


def wait(
    name: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 60
) -> dict[str, Any]:
    until = until or (lambda job: job["status"] in FINISHED)
    deadline = time.monotonic() + timeout
    while True:
        job = get_model_customization_job({"jobIdentifier": name})
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {name} is still {job['status']}"
        time.sleep(0.1)


def suffix_of(arn: str) -> str:
    suffix = arn.rsplit("/", 1)[1]
    assert len(suffix) == 12 and suffix.isalnum() and suffix == suffix.lower()
    return suffix


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_fine_tuning_makes_an_active_custom_model_that_fits_its_data_better(
    base: Path, home: Path, tmp_path: Path
) -> None:
    train = write_jsonl(tmp_path / "data" / "train" / "train.jsonl", qa(32))
    validation = write_jsonl(tmp_path / "data" / "validation" / "validation.jsonl", qa(8, 32))
    out = tmp_path / "out"
    body = request(
        "tune", train, out, validationDataConfig={"validators": [{"s3Uri": str(validation)}]}
    )
    arn = create_model_customization_job(body)["jobArn"]
    suffix = suffix_of(arn)
    assert arn == f"{PREFIX}:model-customization-job/{BASE_ID}/{suffix}"
    model_arn = f"{PREFIX}:custom-model/{BASE_ID}/{suffix}"

    running = get_model_customization_job({"jobIdentifier": arn})
    assert running["status"] == "InProgress" and "outputModelArn" not in running
    with pytest.raises(ResourceNotFoundException):
        get_custom_model({"modelIdentifier": "tune-model"})  # not visible until Active

    job = wait("tune")
    training = describe_training_job({"TrainingJobName": f"bedrock-{suffix}"})
    final = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    assert job == {
        "jobArn": arn,
        "jobName": "tune",
        "outputModelName": "tune-model",
        "outputModelArn": model_arn,
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "status": "Completed",
        "creationTime": job["creationTime"],
        "lastModifiedTime": job["endTime"],
        "endTime": job["endTime"],
        "baseModelArn": BASE_ARN,
        "hyperParameters": body["hyperParameters"],
        "trainingDataConfig": {"s3Uri": train.as_uri()},
        "validationDataConfig": {"validators": [{"s3Uri": validation.as_uri()}]},
        "outputDataConfig": {"s3Uri": out.as_uri()},
        "customizationType": "FINE_TUNING",
        "trainingMetrics": {"trainingLoss": final["train:loss"]},
        "validationMetrics": [{"validationLoss": final["validation:loss"]}],
    }
    assert job["creationTime"] < job["endTime"] <= datetime.now(timezone.utc)

    # The training job did the work with the mapped hyperparameters and channels.
    assert training["HyperParameters"] == {
        "epochs": "3",
        "batch_size": "4",
        "learning_rate": "0.01",
        "warmup_steps": "0",
        "data_format": "prompt_completion",
        "save_dtype": "float16",
    }
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in training["InputDataConfig"]
    }
    assert channels == {
        "train": train.as_uri(),
        "validation": validation.as_uri(),
        "base": base.as_uri(),
    }
    assert training["AlgorithmSpecification"]["TrainingImage"] == "hpjobs/lm"
    assert training["OutputDataConfig"]["S3OutputPath"] == out.as_uri()

    # The custom model is Active, with its weights in $HPJOBS_HOME/custom-models/<id>/.
    folder = home / "custom-models" / suffix
    model = get_custom_model({"modelIdentifier": model_arn})
    assert model["modelStatus"] == "Active" and model["modelName"] == "tune-model"
    assert model["trainingMetrics"] == job["trainingMetrics"]
    assert model["validationMetrics"] == job["validationMetrics"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.pt"]
    resolved = resolve_custom_model("tune-model")
    assert (resolved.model_id, resolved.family, resolved.path) == (model_arn, "titan", folder)
    tuned = torch.load(folder / "model.pt", weights_only=True)
    assert {t.dtype for t in tuned.values()} == {torch.float16}

    # Fine-tuning lowered the loss on the training data.
    examples = read_examples(train.parent, "prompt_completion")
    before = evaluate(load_model(base), examples, 64, 8)
    after = evaluate(load_model(folder), examples, 64, 8)
    assert after < before - 0.5

    # Bedrock's metric files, one row per epoch.
    artifacts = out / f"model-customization-job-{suffix}"
    rows = read_csv(artifacts / "training_artifacts" / "step_wise_training_metrics.csv")
    assert list(rows[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert [(r["step_number"], r["epoch_number"]) for r in rows] == [
        ("0", "1"),
        ("1", "2"),
        ("2", "3"),
    ]
    assert float(rows[-1]["training_loss"]) == final["train:loss"]
    assert math.isclose(float(rows[-1]["perplexity"]), math.exp(final["train:loss"]))
    validation_rows = read_csv(
        artifacts
        / "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"
    )
    assert list(validation_rows[0]) == [
        "step_number",
        "epoch_number",
        "validation_loss",
        "perplexity",
    ]
    assert float(validation_rows[-1]["validation_loss"]) == final["validation:loss"]

    # Reading again changes nothing.
    written = (folder / "model.pt").stat().st_mtime_ns
    assert get_model_customization_job({"jobIdentifier": "tune"}) == job
    assert (folder / "model.pt").stat().st_mtime_ns == written
    summaries = list_model_customization_jobs({})["modelCustomizationJobSummaries"]
    assert [(s["jobName"], s["status"], s["customModelArn"]) for s in summaries] == [
        ("tune", "Completed", model_arn)
    ]


def test_continued_pre_training_starts_from_a_custom_model(base: Path, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    parent_arn = f"{PREFIX}:custom-model/{BASE_ID}/parent000001"
    with get_store().write() as session:
        session.add(
            CustomModel(
                model_name="parent",
                model_arn=parent_arn,
                base_model_id=BASE_ID,
                family="titan",
                path=str(base),
                status="Active",
                creation_time=now,
            )
        )
    texts = [
        {"input": f"Item {i} is {COLOURS[i % 4]} and item {i + 1} is next."} for i in range(24)
    ]
    train = write_jsonl(tmp_path / "cpt.jsonl", texts)
    body = request(
        "pretrain",
        train,
        tmp_path / "out",
        baseModelIdentifier="parent",
        customizationType="CONTINUED_PRE_TRAINING",
        hyperParameters={"epochCount": "2", "batchSize": "4", "learningRate": "0.01"},
    )
    arn = create_model_customization_job(body)["jobArn"]
    assert arn.startswith(f"{PREFIX}:model-customization-job/{BASE_ID}/")
    job = wait("pretrain")
    assert job["status"] == "Completed", job.get("failureMessage")
    assert job["customizationType"] == "CONTINUED_PRE_TRAINING"
    assert job["baseModelArn"] == BASE_ARN
    assert job["hyperParameters"] == {
        "epochCount": "2",
        "batchSize": "4",
        "learningRate": "0.01",
        "learningRateWarmupSteps": "5",
    }
    assert "validationMetrics" not in job
    training = describe_training_job({"TrainingJobName": f"bedrock-{suffix_of(arn)}"})
    assert training["HyperParameters"]["data_format"] == "input"
    assert training["HyperParameters"]["warmup_steps"] == "5"
    base_channel = [c for c in training["InputDataConfig"] if c["ChannelName"] == "base"]
    assert base_channel[0]["DataSource"]["S3DataSource"]["S3Uri"] == base.as_uri()
    summaries = list_custom_models({"sortOrder": "Ascending"})["modelSummaries"]
    assert [(m["modelName"], m["customizationType"]) for m in summaries] == [
        ("parent", "FINE_TUNING"),
        ("pretrain-model", "CONTINUED_PRE_TRAINING"),
    ]


def test_stopping_a_running_job(base: Path, tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", qa(40))
    body = request(
        "halt",
        train,
        tmp_path / "out",
        clientRequestToken="halt-token-1",
        hyperParameters={"epochCount": "10", "batchSize": "1"},
    )
    arn = create_model_customization_job(body)["jobArn"]
    assert create_model_customization_job(body) == {"jobArn": arn}  # same token, same job
    training_name = f"bedrock-{suffix_of(arn)}"
    deadline = time.monotonic() + 30
    while (
        describe_training_job({"TrainingJobName": training_name})["SecondaryStatus"] != "Training"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert get_model_customization_job({"jobIdentifier": arn})["status"] == "InProgress"
    assert stop_model_customization_job({"jobIdentifier": arn}) == {}
    stopping = get_model_customization_job({"jobIdentifier": "halt"})
    assert stopping["status"] in ("Stopping", "Stopped")
    assert stopping["clientRequestToken"] == "halt-token-1"
    with pytest.raises(ConflictException) as caught:
        stop_model_customization_job({"jobIdentifier": "halt"})
    assert "only InProgress jobs can be stopped" in caught.value.message

    job = wait("halt")
    assert job["status"] == "Stopped"
    assert job["endTime"] == job["lastModifiedTime"]
    for member in ("outputModelArn", "failureMessage", "trainingMetrics"):
        assert member not in job
    training = describe_training_job({"TrainingJobName": training_name})
    assert training["TrainingJobStatus"] == "Stopped"
    assert list_custom_models({}) == {"modelSummaries": []}
    with get_store().read() as session:
        assert session.query(CustomModel).count() == 0  # the model name is free again
    with pytest.raises(ConflictException) as caught:
        stop_model_customization_job({"jobIdentifier": "halt"})
    assert caught.value.message == (
        "The model customization job halt is in status Stopped; only InProgress jobs can be "
        "stopped."
    )
    assert len(list_model_customization_jobs({})["modelCustomizationJobSummaries"]) == 1


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        (
            "FINE_TUNING",
            '{"prompt": "a", "completion": "b"}\nnot json\n',
            "ClientError: train.jsonl line 2 is not valid JSON",
        ),
        (
            "CONTINUED_PRE_TRAINING",
            '{"prompt": "a", "completion": "b"}\n',
            "ClientError: train.jsonl: every record needs a string field 'input'",
        ),
    ],
)
def test_bad_json_lines_fail_the_job_with_the_reason(
    base: Path, tmp_path: Path, kind: str, content: str, message: str
) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text(content, encoding="utf-8")
    create_model_customization_job(request("bad", train, tmp_path / "out", customizationType=kind))
    job = wait("bad")
    assert (job["status"], job["failureMessage"]) == ("Failed", message)
    assert "outputModelArn" not in job and "trainingMetrics" not in job
    with pytest.raises(ResourceNotFoundException):
        get_custom_model({"modelIdentifier": "bad-model"})
    summaries = list_model_customization_jobs({"statusEquals": "Failed"})
    assert [s["jobName"] for s in summaries["modelCustomizationJobSummaries"]] == ["bad"]


def test_the_shipped_template_runs(
    base: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """templates/customization/fine-tuning.json, with its relative data paths, fine-tunes (the
    tiny model stands in for the template's base model; one epoch keeps it quick)."""
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)
    template = json.loads((repo / "templates/customization/fine-tuning.json").read_text())
    entry = {"name": "Tiny", "provider": "Amazon", "family": "titan", "path": str(base)}
    models = {template["baseModelIdentifier"]: entry}
    (home / "models.json").write_text(json.dumps({"models": models}))
    template["outputDataConfig"] = {"s3Uri": str(tmp_path / "out")}
    template["hyperParameters"]["epochCount"] = "1"
    create_model_customization_job(template)
    job = wait(template["jobName"])
    assert job["status"] == "Completed", job.get("failureMessage")
    assert job["trainingDataConfig"] == {
        "s3Uri": (repo / "templates/customization/train.jsonl").as_uri()
    }
    assert set(job["validationMetrics"][0]) == {"validationLoss"}
    assert get_custom_model({"modelIdentifier": "jargon-glossary"})["modelStatus"] == "Active"


def test_data_and_output_on_s3(base: Path, home: Path, tmp_path: Path, moto_s3: Any) -> None:
    """s3:// data and output: the training job reads and writes S3, the model is downloaded and
    extracted locally, and the metric CSV lands beside the training job's output."""
    moto_s3.create_bucket(
        Bucket="tuning-data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    body = "".join(json.dumps(r) + "\n" for r in qa(24))
    moto_s3.put_object(Bucket="tuning-data", Key="train/train.jsonl", Body=body.encode())
    train_uri = "s3://tuning-data/train/train.jsonl"
    arn = create_model_customization_job(
        request(
            "cloud",
            tmp_path,
            tmp_path,
            trainingDataConfig={"s3Uri": train_uri},
            outputDataConfig={"s3Uri": "s3://tuning-data/out"},
            hyperParameters={"epochCount": "2", "batchSize": "4", "learningRate": "0.01"},
        )
    )["jobArn"]
    job = wait("cloud")
    assert job["status"] == "Completed", job.get("failureMessage")
    assert job["trainingDataConfig"] == {"s3Uri": train_uri}
    suffix = suffix_of(arn)
    assert (home / "custom-models" / suffix / "model.pt").is_file()
    key = f"out/model-customization-job-{suffix}/training_artifacts/step_wise_training_metrics.csv"
    text = moto_s3.get_object(Bucket="tuning-data", Key=key)["Body"].read().decode()
    assert text.splitlines()[0] == "step_number,epoch_number,training_loss,perplexity"
    assert len(text.splitlines()) == 3
