"""Every request Converse and ConverseStream refuse, with Bedrock's code and exact text (reference
§4.3, §4.4), checked before anything is generated, so nothing is recorded."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from hpjobs.bedrock._records import invocations
from hpjobs.bedrock.runtime import converse, converse_stream, invoke_model
from hpjobs.errors import SerializationException, ServiceError, ValidationException
from hpjobs.generation.registry import local_model_path

FOLDER = local_model_path("jargon")


pytestmark = pytest.mark.skipif(
    not (FOLDER / "model.pt").is_file(), reason=f"the shipped jargon model is not in {FOLDER}"
)

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
OPERATIONS = [converse, converse_stream]
Operation = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=OPERATIONS, ids=["converse", "converse_stream"])
def operation(request: pytest.FixtureRequest) -> Operation:
    call: Operation = request.param
    return call


def message(role: str, *texts: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": text} for text in texts]}


def asking(**fields: Any) -> dict[str, Any]:
    return {"modelId": CLAUDE, "messages": [message("user", "Hi")], **fields}


def refused(operation: Operation, request: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as caught:
        operation(request)
    assert caught.value.code == "ValidationException"
    assert caught.value.http_status == 400
    assert invocations() == []
    return caught.value.message


def answered(operation: Operation, request: dict[str, Any]) -> None:
    response = operation(request)
    if "stream" in response:
        list(response["stream"])
    assert len(invocations()) == 1


# -- model ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-9-v1:0",
        "us.anthropic.claude-9-v1:0",
        "xx.anthropic.claude-3-haiku-20240307-v1:0",
        "amazon.titan-embed-text-v2:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-9-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl",
    ],
)
def test_unknown_model_id(operation: Operation, model_id: str) -> None:
    message_text = refused(operation, asking(modelId=model_id))
    assert message_text == "The provided model identifier is invalid."


def test_malformed_model_id(operation: Operation) -> None:
    assert refused(operation, asking(modelId="not a model id")).startswith(
        "1 validation error detected: Value 'not a model id' at 'modelId' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
    )


# -- inference configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, shown",
    [("temperature", 1.5, "1.5"), ("temperature", 2, "2.0"), ("topP", 1.01, "1.01")],
)
def test_value_over_one(operation: Operation, field: str, value: float, shown: str) -> None:
    assert refused(operation, asking(inferenceConfig={field: value})) == (
        f"1 validation error detected: Value '{shown}' at 'inferenceConfig.{field}' failed to "
        "satisfy constraint: Member must have value less than or equal to 1"
    )


def test_two_violations_in_one_message(operation: Operation) -> None:
    assert refused(operation, asking(inferenceConfig={"temperature": 1.5, "topP": 2.5})) == (
        "2 validation errors detected: Value '1.5' at 'inferenceConfig.temperature' failed to "
        "satisfy constraint: Member must have value less than or equal to 1; Value '2.5' at "
        "'inferenceConfig.topP' failed to satisfy constraint: Member must have value less than "
        "or equal to 1"
    )


def test_bounds_are_accepted(operation: Operation) -> None:
    config = {"temperature": 1, "topP": 1, "maxTokens": 2}
    answered(operation, asking(inferenceConfig=config))


def test_max_tokens_over_the_context(operation: Operation) -> None:
    assert refused(operation, asking(inferenceConfig={"maxTokens": 257})) == (
        "The maximum tokens you requested exceeds the model limit of 256. Try again with a "
        "maximum tokens value that is lower than 256."
    )


def test_max_tokens_of_the_whole_context_is_accepted() -> None:
    response = converse(asking(inferenceConfig={"maxTokens": 256, "topP": 0.3}))
    assert response["usage"]["totalTokens"] <= 256


def test_too_many_stop_sequences(operation: Operation) -> None:
    stops = [f"s{i}" for i in range(2501)]
    listed = ", ".join(stops)
    assert refused(operation, asking(inferenceConfig={"stopSequences": stops})) == (
        f"1 validation error detected: Value '[{listed}]' at 'inferenceConfig.stopSequences' "
        "failed to satisfy constraint: Member must have length less than or equal to 2500"
    )


def test_2500_stop_sequences_are_accepted() -> None:
    stops = [f"\x00{i}\x00" for i in range(2500)]
    response = converse(asking(inferenceConfig={"stopSequences": stops, "maxTokens": 3}))
    assert response["stopReason"] == "max_tokens"


def test_wrong_types_are_serialization_errors() -> None:
    with pytest.raises(SerializationException) as caught:
        converse(asking(inferenceConfig={"maxTokens": 1.5}))
    assert caught.value.message == (
        "Invalid type for parameter inferenceConfig.maxTokens, value: 1.5, type: <class 'float'>, "
        "valid types: <class 'int'>"
    )


# -- conversations -------------------------------------------------------------------------------

MUST_START = (
    "A conversation must start with a user message. Try again with a conversation that starts "
    "with a user message."
)
MUST_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)


@pytest.mark.parametrize(
    "messages, text",
    [
        ([message("assistant", "Hello")], MUST_START),
        ([message("assistant", "Hello"), message("user", "Hi")], MUST_START),
        ([], MUST_START),
        ([message("user", "Hi"), message("user", "Hi again")], MUST_ALTERNATE),
        (
            [message("user", "a"), message("assistant", "b"), message("assistant", "c")],
            MUST_ALTERNATE,
        ),
    ],
)
def test_conversation_order(operation: Operation, messages: list[Any], text: str) -> None:
    assert refused(operation, asking(messages=messages)) == text


@pytest.mark.parametrize(
    "messages, where",
    [
        ([message("user", "")], "messages.0.content.0"),
        ([message("user", "   ")], "messages.0.content.0"),
        ([message("user", "Hi", "\n\t")], "messages.0.content.1"),
        ([message("user", "Hi"), message("assistant", " ")], "messages.1.content.0"),
        (
            [message("user", "a"), message("assistant", "b"), message("user", "c", "d", "")],
            "messages.2.content.2",
        ),
    ],
)
def test_blank_text_block(operation: Operation, messages: list[Any], where: str) -> None:
    assert refused(operation, asking(messages=messages)) == (
        f"The text field in the ContentBlock object at {where} is blank. Add text to the text "
        "field, and try again."
    )


def test_unknown_role(operation: Operation) -> None:
    messages = [message("user", "Hi"), message("bot", "Hello")]
    assert refused(operation, asking(messages=messages)) == (
        "1 validation error detected: Value 'bot' at 'messages.2.member.role' failed to satisfy "
        "constraint: Member must satisfy enum value set: [user, assistant, system]"
    )


def test_system_role_in_messages_is_refused() -> None:
    messages = [message("user", "Hi"), message("system", "Be brief.")]
    with pytest.raises(ValidationException):
        converse(asking(messages=messages, inferenceConfig={"maxTokens": 2}))


def test_non_text_block(operation: Operation) -> None:
    image = {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}
    messages = [{"role": "user", "content": [{"text": "Look"}, image]}]
    assert refused(operation, asking(messages=messages)) == (
        "This model doesn't support the image content block that you provided at "
        "messages.0.content.1. Try again with text content only."
    )


def test_input_too_long(operation: Operation) -> None:
    # "User: " + 238 bytes + "\n\nAssistant:" is 256 bytes: no room for one token
    assert refused(operation, asking(messages=[message("user", "x" * 238)])) == (
        "Input is too long for requested model."
    )
    assert refused(operation, asking(messages=[message("user", "é" * 119)])) == (
        "Input is too long for requested model."
    )
    system = [{"text": "y" * 200}]
    assert refused(operation, asking(system=system, messages=[message("user", "x" * 40)])) == (
        "Input is too long for requested model."
    )


def test_one_byte_of_room_is_enough() -> None:
    response = converse(asking(messages=[message("user", "x" * 237)]))
    assert response["usage"]["inputTokens"] == 255
    assert response["usage"]["outputTokens"] == 1


# -- additional fields ---------------------------------------------------------------------------


def test_unknown_additional_field(operation: Operation) -> None:
    assert refused(operation, asking(additionalModelRequestFields={"x": 1})) == (
        "The model returned the following errors: Malformed input request: #: extraneous key "
        "[x] is not permitted, please reformat your input and try again."
    )


def test_several_unknown_additional_fields(operation: Operation) -> None:
    fields = {"x": 1, "top_k": 5, "stream": True}
    assert refused(operation, asking(additionalModelRequestFields=fields)) == (
        "The model returned the following errors: Malformed input request: #: extraneous key "
        "[x] is not permitted#: extraneous key [stream] is not permitted, please reformat your "
        "input and try again."
    )


@pytest.mark.parametrize(
    "name, value", [("seed", -1), ("seed", "1"), ("top_k", 2.5), ("top_k", True)]
)
def test_bad_seed_or_top_k(operation: Operation, name: str, value: Any) -> None:
    most = {"seed": 2**64 - 1, "top_k": 500}[name]
    assert refused(operation, asking(additionalModelRequestFields={name: value})) == (
        f"The model returned the following errors: {name} must be an integer from 0 to {most}."
    )


def test_largest_seed_is_accepted() -> None:
    fields = {"seed": 2**64 - 1}
    converse(asking(additionalModelRequestFields=fields, inferenceConfig={"maxTokens": 2}))


def test_seed_beyond_64_bits_does_not_crash() -> None:
    fields = {"seed": 2**64}
    with contextlib.suppress(ValidationException):  # refusing it would be fine too
        converse(asking(additionalModelRequestFields=fields, inferenceConfig={"maxTokens": 2}))


def test_additional_fields_that_are_not_an_object() -> None:
    with pytest.raises(ValidationException):
        converse(asking(additionalModelRequestFields=[1]))


NOT_A_POINTER = (
    "The additional model response field path stop_sequence is not a valid JSON Pointer."
)


def test_response_field_path_that_is_not_a_pointer() -> None:
    with pytest.raises(ValidationException) as caught:
        converse(asking(additionalModelResponseFieldPaths=["stop_sequence"]))
    assert caught.value.message == NOT_A_POINTER


def test_response_field_path_is_checked_before_generating(operation: Operation) -> None:
    assert refused(operation, asking(additionalModelResponseFieldPaths=["stop_sequence"])) == (
        NOT_A_POINTER
    )


def test_too_many_response_field_paths(operation: Operation) -> None:
    paths = ["/stop_sequence"] * 11
    listed = ", ".join(paths)
    assert refused(operation, asking(additionalModelResponseFieldPaths=paths)) == (
        f"1 validation error detected: Value '[{listed}]' at 'additionalModelResponseFieldPaths' "
        "failed to satisfy constraint: Member must have length less than or equal to 10"
    )


# -- InvokeModel ---------------------------------------------------------------------------------


def test_invoke_model_without_a_body() -> None:
    with pytest.raises(ServiceError):
        invoke_model({"modelId": CLAUDE})


def test_empty_content_and_blank_system_text_are_refused() -> None:
    empty = asking()
    empty["messages"] = [{"role": "user", "content": []}]
    assert refused(converse, empty) == (
        "The content field in the Message object at messages.0 is empty. Add a ContentBlock "
        "object to the content field and try again."
    )
    blank = asking(system=[{"text": "   "}])
    assert refused(converse, blank) == (
        "The text field in the SystemContentBlock object at system.0 is blank. Add text to the "
        "text field, and try again."
    )
