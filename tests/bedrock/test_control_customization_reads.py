"""GetModelCustomizationJob, ListModelCustomizationJobs, StopModelCustomizationJob,
GetCustomModel, ListCustomModels, DeleteCustomModel and resolve_custom_model over jobs and
models put straight into the store (no training runs here): exact responses, filters, sorting,
paging and every error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hpjobs.bedrock.customization import (
    delete_custom_model,
    get_custom_model,
    get_model_customization_job,
    list_custom_models,
    list_model_customization_jobs,
    resolve_custom_model,
    stop_model_customization_job,
)
from hpjobs.errors import ConflictException, ResourceNotFoundException, ValidationException
from hpjobs.generation.registry import FoundationModel, UnknownModel
from hpjobs.store import CustomizationJob, CustomModel, get_store

BASE_ID = "amazon.titan-text-lite-v1"
BASE_ARN = f"arn:aws:bedrock:us-west-2::foundation-model/{BASE_ID}"
ACCOUNT_PREFIX = "arn:aws:bedrock:us-west-2:000000000000"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
JOB_NOT_FOUND = "Could not find the model customization job from the provided job identifier."
MODEL_NOT_FOUND = "Could not find the custom model from the provided model identifier."
METRICS = {"trainingMetrics": {"trainingLoss": 1.5}, "validationMetrics": [{"validationLoss": 2}]}


def job_arn(suffix: str) -> str:
    return f"{ACCOUNT_PREFIX}:model-customization-job/{BASE_ID}/{suffix}"


def model_arn(suffix: str) -> str:
    return f"{ACCOUNT_PREFIX}:custom-model/{BASE_ID}/{suffix}"


def stored_request(name: str, kind: str) -> dict[str, Any]:
    return {
        "jobName": name,
        "customModelName": f"{name}-model",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "clientRequestToken": f"token-{name}",
        "baseModelIdentifier": BASE_ID,
        "customizationType": kind,
        "trainingDataConfig": {"s3Uri": "file:///data/train.jsonl"},
        "validationDataConfig": {"validators": [{"s3Uri": "file:///data/validation.jsonl"}]},
        "outputDataConfig": {"s3Uri": "file:///out"},
        "hyperParameters": {
            "epochCount": "2",
            "batchSize": "1",
            "learningRate": "0.00001",
            "learningRateWarmupSteps": "5",
        },
    }


def seed(
    name: str,
    minutes: int,
    status: str = "Completed",
    kind: str = "FINE_TUNING",
    model_status: str | None = None,
    path: str | None = None,
) -> str:
    """A job created ``minutes`` after START in ``status``; Completed jobs get their model
    (``model_status`` Active unless given), others a Creating one when ``model_status`` says.
    Returns the 12-character id."""
    suffix = f"{name:x<12}"[:12]
    created = START + timedelta(minutes=minutes)
    finished = status in ("Completed", "Failed", "Stopped")
    with get_store().write() as session:
        job = CustomizationJob(
            job_name=name,
            job_arn=job_arn(suffix),
            request=stored_request(name, kind),
            client_request_token=f"token-{name}",
            status=status,
            failure_message="ClientError: bad data" if status == "Failed" else None,
            creation_time=created,
            last_modified_time=created + timedelta(seconds=30),
            end_time=created + timedelta(seconds=30) if finished else None,
            training_job_name=f"bedrock-{suffix}",
            custom_model_name=f"{name}-model",
            custom_model_arn=model_arn(suffix),
            base_model_id=BASE_ID,
            customization_type=kind,
            metrics=METRICS if status == "Completed" else None,
        )
        session.add(job)
        session.flush()
        state = model_status or ("Active" if status == "Completed" else None)
        if state is not None:
            session.add(
                CustomModel(
                    model_name=f"{name}-model",
                    model_arn=model_arn(suffix),
                    job_id=job.id,
                    base_model_id=BASE_ID,
                    family="titan",
                    path=path,
                    status=state,
                    creation_time=created,
                    metrics=METRICS if state == "Active" else None,
                )
            )
    return suffix


def names(response: dict[str, Any], key: str, member: str) -> list[str]:
    return [summary[member] for summary in response[key]]


def job_names(request: dict[str, Any]) -> list[str]:
    return names(
        list_model_customization_jobs(request), "modelCustomizationJobSummaries", "jobName"
    )


def model_names(request: dict[str, Any]) -> list[str]:
    return names(list_custom_models(request), "modelSummaries", "modelName")


# ---------------------------------------------------------------------------------------------
# GetModelCustomizationJob


def completed_response(suffix: str) -> dict[str, Any]:
    request = stored_request("done", "FINE_TUNING")
    created = START
    return {
        "jobArn": job_arn(suffix),
        "jobName": "done",
        "outputModelName": "done-model",
        "outputModelArn": model_arn(suffix),
        "clientRequestToken": "token-done",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "status": "Completed",
        "creationTime": created,
        "lastModifiedTime": created + timedelta(seconds=30),
        "endTime": created + timedelta(seconds=30),
        "baseModelArn": BASE_ARN,
        "hyperParameters": request["hyperParameters"],
        "trainingDataConfig": request["trainingDataConfig"],
        "validationDataConfig": request["validationDataConfig"],
        "outputDataConfig": request["outputDataConfig"],
        "customizationType": "FINE_TUNING",
        **METRICS,
    }


def test_get_a_completed_job_by_name_or_arn_in_model_order() -> None:
    suffix = seed("done", 0)
    expected = completed_response(suffix)
    for identifier in ("done", job_arn(suffix)):
        response = get_model_customization_job({"jobIdentifier": identifier})
        assert response == expected
        assert list(response) == list(expected)


def test_a_failed_job_has_its_message_and_no_model_or_metrics() -> None:
    suffix = seed("broken", 0, status="Failed")
    response = get_model_customization_job({"jobIdentifier": "broken"})
    assert response["status"] == "Failed"
    assert response["failureMessage"] == "ClientError: bad data"
    assert response["outputModelName"] == "broken-model"
    for member in ("outputModelArn", "trainingMetrics", "validationMetrics"):
        assert member not in response
    assert response["jobArn"] == job_arn(suffix)


def test_a_running_job_whose_training_job_is_gone_fails_on_read() -> None:
    suffix = seed("orphan", 0, status="InProgress", model_status="Creating")
    response = get_model_customization_job({"jobIdentifier": "orphan"})
    assert response["status"] == "Failed"
    assert response["failureMessage"] == (
        f"The training job bedrock-{suffix} of this job no longer exists."
    )
    assert response["endTime"] == response["lastModifiedTime"]
    assert model_names({}) == []  # the reserved name is free again
    with get_store().read() as session:
        assert session.query(CustomModel).count() == 0


@pytest.mark.parametrize("identifier", ["nothing", job_arn("abcdefghijkl"), "done-model"])
def test_get_an_unknown_job(identifier: str) -> None:
    seed("done", 0)
    with pytest.raises(ResourceNotFoundException) as caught:
        get_model_customization_job({"jobIdentifier": identifier})
    assert (caught.value.code, caught.value.http_status) == ("ResourceNotFoundException", 404)
    assert caught.value.message == JOB_NOT_FOUND


def test_get_a_malformed_identifier() -> None:
    with pytest.raises(ValidationException) as caught:
        get_model_customization_job({"jobIdentifier": "no spaces"})
    assert caught.value.message.startswith(
        "1 validation error detected: Value 'no spaces' at 'jobIdentifier' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
    )


# ---------------------------------------------------------------------------------------------
# ListModelCustomizationJobs


def test_summaries_have_exactly_the_summary_members() -> None:
    suffix = seed("done", 0)
    seed("running", 1, status="Stopping", model_status="Creating")
    response = list_model_customization_jobs({"nameContains": "done"})
    assert response == {
        "modelCustomizationJobSummaries": [
            {
                "jobArn": job_arn(suffix),
                "baseModelArn": BASE_ARN,
                "jobName": "done",
                "status": "Completed",
                "lastModifiedTime": START + timedelta(seconds=30),
                "creationTime": START,
                "endTime": START + timedelta(seconds=30),
                "customModelArn": model_arn(suffix),
                "customModelName": "done-model",
                "customizationType": "FINE_TUNING",
            }
        ]
    }


def test_list_filters_sort_and_default_order() -> None:
    seed("alpha", 0)
    seed("beta", 1, status="Failed")
    seed("alphabet", 2, status="Stopped", kind="CONTINUED_PRE_TRAINING")
    seed("gamma", 3)
    assert job_names({}) == ["gamma", "alphabet", "beta", "alpha"]  # newest first
    assert job_names({"sortBy": "CreationTime", "sortOrder": "Ascending"}) == [
        "alpha",
        "beta",
        "alphabet",
        "gamma",
    ]
    assert job_names({"statusEquals": "Completed"}) == ["gamma", "alpha"]
    assert job_names({"nameContains": "alpha"}) == ["alphabet", "alpha"]
    after = START + timedelta(minutes=1)
    assert job_names({"creationTimeAfter": after}) == ["gamma", "alphabet"]
    assert job_names({"creationTimeBefore": after}) == ["alpha"]
    assert job_names({"creationTimeAfter": START, "creationTimeBefore": after + timedelta(1)}) == [
        "gamma",
        "alphabet",
        "beta",
    ]
    stopped = list_model_customization_jobs({"statusEquals": "Stopped"})
    summary = stopped["modelCustomizationJobSummaries"][0]
    assert summary["customizationType"] == "CONTINUED_PRE_TRAINING"
    assert "customModelArn" not in summary


def test_list_pages_with_next_token_after_filtering_and_sorting() -> None:
    for minute, name in enumerate(["a1", "b1", "a2", "a3", "b2", "a4"]):
        seed(name, minute)
    request: dict[str, Any] = {"nameContains": "a", "sortOrder": "Ascending", "maxResults": 3}
    first = list_model_customization_jobs(request)
    assert names(first, "modelCustomizationJobSummaries", "jobName") == ["a1", "a2", "a3"]
    second = list_model_customization_jobs({**request, "nextToken": first["nextToken"]})
    assert names(second, "modelCustomizationJobSummaries", "jobName") == ["a4"]
    assert "nextToken" not in second
    with pytest.raises(ValidationException) as caught:
        list_model_customization_jobs({"nameContains": "b", "nextToken": first["nextToken"]})
    assert caught.value.message == (
        "The nextToken is not valid for this request: pass the token from the previous "
        "response together with the same filters and sort order."
    )


def test_list_refuses_values_outside_the_model() -> None:
    with pytest.raises(ValidationException) as caught:
        list_model_customization_jobs({"maxResults": 1001, "sortBy": "Name"})
    assert caught.value.message == (
        "2 validation errors detected: Value '1001' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 1000; Value 'Name' at "
        "'sortBy' failed to satisfy constraint: Member must satisfy enum value set: "
        "[CreationTime]"
    )


def test_an_empty_list() -> None:
    assert list_model_customization_jobs({}) == {"modelCustomizationJobSummaries": []}


# ---------------------------------------------------------------------------------------------
# StopModelCustomizationJob


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_a_finished_job_cannot_be_stopped(status: str) -> None:
    seed("finished", 0, status=status)
    with pytest.raises(ConflictException) as caught:
        stop_model_customization_job({"jobIdentifier": "finished"})
    assert caught.value.code == "ConflictException"
    assert caught.value.message == (
        f"The model customization job finished is in status {status}; only InProgress jobs "
        "can be stopped."
    )


def test_stop_an_unknown_job() -> None:
    with pytest.raises(ResourceNotFoundException) as caught:
        stop_model_customization_job({"jobIdentifier": job_arn("abcdefghijkl")})
    assert caught.value.message == JOB_NOT_FOUND


# ---------------------------------------------------------------------------------------------
# Custom models


def test_get_a_custom_model_by_name_or_arn_in_model_order() -> None:
    suffix = seed("done", 0)
    request = stored_request("done", "FINE_TUNING")
    expected = {
        "modelArn": model_arn(suffix),
        "modelName": "done-model",
        "jobName": "done",
        "jobArn": job_arn(suffix),
        "baseModelArn": BASE_ARN,
        "customizationType": "FINE_TUNING",
        "hyperParameters": request["hyperParameters"],
        "trainingDataConfig": request["trainingDataConfig"],
        "validationDataConfig": request["validationDataConfig"],
        "outputDataConfig": request["outputDataConfig"],
        **METRICS,
        "creationTime": START,
        "modelStatus": "Active",
    }
    for identifier in ("done-model", model_arn(suffix)):
        response = get_custom_model({"modelIdentifier": identifier})
        assert response == expected
        assert list(response) == list(expected)


@pytest.mark.parametrize("identifier", ["nothing", "creating-model", model_arn("abcdefghijkl")])
def test_unknown_and_creating_models_are_not_found(identifier: str) -> None:
    seed("creating", 0, status="Stopping", model_status="Creating")
    for operation in (get_custom_model, delete_custom_model):
        with pytest.raises(ResourceNotFoundException) as caught:
            operation({"modelIdentifier": identifier})
        assert caught.value.message == MODEL_NOT_FOUND


def test_model_summaries_have_exactly_the_summary_members() -> None:
    suffix = seed("done", 0)
    assert list_custom_models({}) == {
        "modelSummaries": [
            {
                "modelArn": model_arn(suffix),
                "modelName": "done-model",
                "creationTime": START,
                "baseModelArn": BASE_ARN,
                "baseModelName": "Titan Text G1 - Lite",
                "customizationType": "FINE_TUNING",
                "ownerAccountId": "000000000000",
                "modelStatus": "Active",
            }
        ]
    }


def test_list_custom_models_filters_sorts_and_pages() -> None:
    seed("one", 0)
    seed("two", 1, kind="CONTINUED_PRE_TRAINING")
    seed("three", 2)
    seed("failed", 3, status="Completed", model_status="Failed")
    seed("creating", 4, status="Stopping", model_status="Creating")
    assert model_names({}) == ["failed-model", "three-model", "two-model", "one-model"]
    assert model_names({"sortOrder": "Ascending"})[0] == "one-model"
    assert model_names({"modelStatus": "Active", "nameContains": "t"}) == [
        "three-model",
        "two-model",
    ]
    assert model_names({"modelStatus": "Failed"}) == ["failed-model"]
    assert model_names({"modelStatus": "Creating"}) == []
    assert model_names({"baseModelArnEquals": BASE_ARN, "isOwned": True})[-1] == "one-model"
    assert model_names({"foundationModelArnEquals": BASE_ARN.replace("lite", "express")}) == []
    assert model_names({"isOwned": False}) == []
    after = START + timedelta(minutes=1)
    assert model_names({"creationTimeAfter": after}) == ["failed-model", "three-model"]
    assert model_names({"creationTimeBefore": after}) == ["one-model"]
    first = list_custom_models({"maxResults": 3, "sortOrder": "Ascending"})
    assert names(first, "modelSummaries", "modelName") == ["one-model", "two-model", "three-model"]
    rest = list_custom_models(
        {"maxResults": 3, "sortOrder": "Ascending", "nextToken": first["nextToken"]}
    )
    assert names(rest, "modelSummaries", "modelName") == ["failed-model"]
    assert "nextToken" not in rest
    two = list_custom_models({"nameContains": "two"})["modelSummaries"][0]
    assert two["customizationType"] == "CONTINUED_PRE_TRAINING"


def test_delete_a_custom_model_and_its_weights(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"weights")
    suffix = seed("done", 0, path=str(folder))
    assert delete_custom_model({"modelIdentifier": model_arn(suffix)}) == {}
    assert not folder.exists()
    assert model_names({}) == []
    with pytest.raises(ResourceNotFoundException):
        get_custom_model({"modelIdentifier": "done-model"})
    job = get_model_customization_job({"jobIdentifier": "done"})
    assert job["status"] == "Completed" and job["outputModelArn"] == model_arn(suffix)


def test_resolve_an_active_custom_model_for_the_runtime(tmp_path: Path) -> None:
    suffix = seed("done", 0, path=str(tmp_path / "weights"))
    expected = FoundationModel(
        model_arn(suffix), "done-model", "Amazon", "titan", str(tmp_path / "weights")
    )
    assert resolve_custom_model(model_arn(suffix)) == expected
    assert resolve_custom_model("done-model") == expected
    assert expected.path == tmp_path / "weights"


def test_resolve_keeps_the_provider_of_a_configured_base(home: Path, tmp_path: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    entry = {"provider": "Local Lab", "family": "llama", "path": str(tmp_path)}
    (home / "models.json").write_text(json.dumps({"models": {BASE_ID: entry}}))
    seed("done", 0, path=str(tmp_path / "weights"))
    assert resolve_custom_model("done-model").provider == "Local Lab"


@pytest.mark.parametrize("identifier", ["nothing", "creating-model", "failed-model"])
def test_resolve_refuses_missing_and_inactive_models(identifier: str) -> None:
    seed("creating", 0, status="Stopping", model_status="Creating")
    seed("failed", 1, model_status="Failed")
    with pytest.raises(UnknownModel):
        resolve_custom_model(identifier)
