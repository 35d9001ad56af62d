"""ListFoundationModels and GetFoundationModel over the local model table: exact summaries, the
four filters, models.json entries, and the errors for unknown and malformed identifiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpjobs.bedrock.foundation_models import get_foundation_model, list_foundation_models
from hpjobs.errors import ResourceNotFoundException, ValidationException
from hpjobs.generation.registry import foundation_models

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU_DETAILS = {
    "modelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}",
    "modelId": HAIKU,
    "modelName": "Claude 3 Haiku",
    "providerName": "Anthropic",
    "inputModalities": ["TEXT"],
    "outputModalities": ["TEXT"],
    "responseStreamingSupported": True,
    "customizationsSupported": ["FINE_TUNING", "CONTINUED_PRE_TRAINING"],
    "inferenceTypesSupported": ["ON_DEMAND"],
    "modelLifecycle": {"status": "ACTIVE"},
}


def ids(response: dict[str, Any]) -> list[str]:
    return [summary["modelId"] for summary in response["modelSummaries"]]


def test_every_local_model_is_listed_in_table_order_with_every_member() -> None:
    response = list_foundation_models({})
    assert list(response) == ["modelSummaries"]
    assert ids(response) == list(foundation_models())
    assert response["modelSummaries"][0] == HAIKU_DETAILS
    assert all(list(s) == list(HAIKU_DETAILS) for s in response["modelSummaries"])


def test_arns_carry_the_configured_region_and_no_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    arn = get_foundation_model({"modelIdentifier": HAIKU})["modelDetails"]["modelArn"]
    assert arn == f"arn:aws:bedrock:eu-central-1::foundation-model/{HAIKU}"


@pytest.mark.parametrize("provider", ["Anthropic", "anthropic", "ANTHROPIC"])
def test_by_provider_ignores_case(provider: str) -> None:
    listed = ids(list_foundation_models({"byProvider": provider}))
    assert listed == [i for i, m in foundation_models().items() if m.provider == "Anthropic"]
    assert HAIKU in listed


def test_by_provider_with_spaces_and_an_unknown_provider() -> None:
    assert ids(list_foundation_models({"byProvider": "Mistral AI"})) == [
        i for i, m in foundation_models().items() if m.provider == "Mistral AI"
    ]
    assert list_foundation_models({"byProvider": "Nobody"}) == {"modelSummaries": []}


@pytest.mark.parametrize(
    ("member", "value", "everything"),
    [
        ("byCustomizationType", "FINE_TUNING", True),
        ("byCustomizationType", "CONTINUED_PRE_TRAINING", True),
        ("byCustomizationType", "DISTILLATION", False),
        ("byOutputModality", "TEXT", True),
        ("byOutputModality", "IMAGE", False),
        ("byOutputModality", "EMBEDDING", False),
        ("byInferenceType", "ON_DEMAND", True),
        ("byInferenceType", "PROVISIONED", False),
    ],
)
def test_filters_on_what_every_local_model_supports(
    member: str, value: str, everything: bool
) -> None:
    listed = ids(list_foundation_models({member: value}))
    assert listed == (list(foundation_models()) if everything else [])


def test_filters_combine() -> None:
    request = {"byProvider": "Amazon", "byOutputModality": "TEXT", "byInferenceType": "ON_DEMAND"}
    listed = ids(list_foundation_models(request))
    assert listed and all(foundation_models()[i].provider == "Amazon" for i in listed)
    assert list_foundation_models({**request, "byCustomizationType": "DISTILLATION"}) == {
        "modelSummaries": []
    }


def test_filter_values_outside_the_model_are_refused() -> None:
    with pytest.raises(ValidationException) as caught:
        list_foundation_models({"byOutputModality": "AUDIO"})
    assert caught.value.message == (
        "1 validation error detected: Value 'AUDIO' at 'byOutputModality' failed to satisfy "
        "constraint: Member must satisfy enum value set: [TEXT, IMAGE, EMBEDDING]"
    )


def test_models_json_entries_are_listed_and_found(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    entry = {"name": "Tiny", "provider": "Local Lab", "family": "titan", "path": "/models/tiny"}
    (home / "models.json").write_text(json.dumps({"models": {"local.tiny-v1:0": entry}}))
    summaries = list_foundation_models({"byProvider": "local lab"})["modelSummaries"]
    assert summaries == [
        {
            **HAIKU_DETAILS,
            "modelArn": "arn:aws:bedrock:us-west-2::foundation-model/local.tiny-v1:0",
            "modelId": "local.tiny-v1:0",
            "modelName": "Tiny",
            "providerName": "Local Lab",
        }
    ]
    assert get_foundation_model({"modelIdentifier": "local.tiny-v1:0"}) == {
        "modelDetails": summaries[0]
    }


@pytest.mark.parametrize(
    "identifier", [HAIKU, f"arn:aws:bedrock:us-west-2::foundation-model/{HAIKU}"]
)
def test_get_by_id_or_arn(identifier: str) -> None:
    assert get_foundation_model({"modelIdentifier": identifier}) == {"modelDetails": HAIKU_DETAILS}


@pytest.mark.parametrize("identifier", ["amazon.nothing-like-this-v1", f"us.{HAIKU}"])
def test_unknown_ids_and_inference_profiles_are_not_found(identifier: str) -> None:
    with pytest.raises(ResourceNotFoundException) as caught:
        get_foundation_model({"modelIdentifier": identifier})
    assert caught.value.code == "ResourceNotFoundException"
    assert caught.value.http_status == 404
    assert caught.value.message == (
        "Could not resolve the foundation model from the provided model identifier."
    )


def test_a_malformed_identifier_breaks_the_model_pattern() -> None:
    with pytest.raises(ValidationException) as caught:
        get_foundation_model({"modelIdentifier": "Not A Model"})
    assert caught.value.message.startswith(
        "1 validation error detected: Value 'Not A Model' at 'modelIdentifier' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
    )


def test_a_missing_identifier_is_refused() -> None:
    with pytest.raises(ValidationException) as caught:
        get_foundation_model({})
    assert caught.value.message == (
        "1 validation error detected: Value null at 'modelIdentifier' failed to satisfy "
        "constraint: Member must not be null"
    )
