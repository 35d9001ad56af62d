"""Requests the property-based tests found mishandled, kept as plain tests with AWS's answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fuzz.shaped import OPERATIONS, check_error

import hpjobs
from hpjobs.errors import SerializationException, ServiceError, ValidationException
from hpjobs.operations import operation

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


def malformed(text: str) -> str:
    return f"Malformed input request: {text}, please reformat your input and try again."


@pytest.mark.parametrize(
    ("service", "name"),
    OPERATIONS,
    ids=[name for _, name in OPERATIONS],
)
@pytest.mark.parametrize("given", [None, [], "TrainingJobName", 7], ids=repr)
def test_a_request_that_is_not_a_mapping_is_a_serialization_error(
    service: str, name: str, given: Any
) -> None:
    with pytest.raises(SerializationException) as caught:
        operation(service, name)(given)
    check_error(caught.value)
    assert caught.value.message == (
        f"Invalid type for parameter input, value: {given}, type: {type(given)}, "
        "valid types: <class 'dict'>"
    )


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"a":' * 100_000, b'{"anthropic_version": NaN}', b"[Infinity]"],
    ids=["arrays", "objects", "nan", "infinity"],
)
def test_invoke_model_body_that_json_cannot_hold_is_malformed(body: bytes) -> None:
    """Nesting deeper than Python's json reads, and NaN/Infinity (which JSON has not)."""
    with pytest.raises(ValidationException) as caught:
        hpjobs.client("bedrock-runtime").invoke_model(modelId=CLAUDE, body=body)
    assert caught.value.message == malformed("#: the request body is not valid JSON")


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (
            "meta.llama3-8b-instruct-v1:0",
            {"prompt": "", "max_gen_len": 2},
            malformed("#/prompt: expected minLength: 1, actual: 0"),
        ),
        (
            "mistral.mistral-7b-instruct-v0:2",
            {"prompt": "", "max_tokens": 2},
            malformed("#/prompt: expected minLength: 1, actual: 0"),
        ),
        (
            "amazon.titan-text-lite-v1",
            {"inputText": ""},
            malformed("expected minLength: 1, actual: 0"),
        ),
    ],
    ids=["llama", "mistral", "titan"],
)
def test_empty_prompt_is_refused_before_generation(
    model: str, body: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationException) as caught:
        hpjobs.client("bedrock-runtime").invoke_model(modelId=model, body=json.dumps(body))
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("fields", "found"),
    [("seed", "String"), (7, "Integer"), (1.5, "Double"), (True, "Boolean"), ([], "JSONArray")],
)
def test_additional_fields_of_the_wrong_type_name_the_json_type(fields: Any, found: str) -> None:
    with pytest.raises(ServiceError) as caught:
        hpjobs.client("bedrock-runtime").converse(
            modelId=CLAUDE,
            messages=[{"role": "user", "content": [{"text": "Hi"}]}],
            inferenceConfig={"maxTokens": 1},
            additionalModelRequestFields=fields,
        )
    assert (caught.value.code, caught.value.message) == (
        "ValidationException",
        "The model returned the following errors: "
        + malformed(f"#: expected type: JSONObject, found: {found}"),
    )
