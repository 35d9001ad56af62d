"""Amazon Nova bodies on InvokeModel: defaults, both spellings of max tokens and top p, the
conversation rules and every refusal text, the response and the Converse-style stream chunks."""

from __future__ import annotations

from typing import Any

import pytest

from hpjobs.bedrock.families import Invocation, Target
from hpjobs.bedrock.families.nova import Nova
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

TARGET = Target("amazon.nova-micro-v1:0", "nova", 8192)
NOVA = Nova()
HI = [{"role": "user", "content": [{"text": "Hi"}]}]
START = (
    "A conversation must start with a user message. Try again with a conversation that starts "
    "with a user message."
)
ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)


def refused(request: dict[str, Any], target: Target = TARGET) -> str:
    with pytest.raises(ValidationException) as caught:
        NOVA.parse(request, target)
    return caught.value.message


def schema(problem: str) -> str:
    return f"Malformed input request: #{problem}, please reformat your input and try again."


def configured(**config: Any) -> dict[str, Any]:
    return {"messages": HI, "inferenceConfig": config}


def test_defaults() -> None:
    assert NOVA.parse({"messages": HI}, TARGET).generation == GenerationRequest(
        prompt="User: Hi\n\nAssistant:",
        max_tokens=5000,
        sampling=SamplingParams(0.7, 0.9, 50),
    )


def test_default_max_tokens_fits_a_short_context() -> None:
    short = Target("amazon.nova-micro-v1:0", "nova", 1024)
    assert NOVA.parse({"messages": HI}, short).generation.max_tokens == 1024


def test_parameters_are_read() -> None:
    request = {
        "schemaVersion": "messages-v1",
        "system": [{"text": "Be brief."}],
        "messages": HI,
        "inferenceConfig": {
            "maxTokens": 300,
            "temperature": 1,
            "topP": 0.5,
            "topK": 0,
            "stopSequences": ["END"],
        },
    }
    assert NOVA.parse(request, TARGET).generation == GenerationRequest(
        prompt="Be brief.\n\nUser: Hi\n\nAssistant:",
        max_tokens=300,
        sampling=SamplingParams(1.0, 0.5, None),
        stop_sequences=("END",),
    )


def test_snake_case_spellings() -> None:
    generation = NOVA.parse(configured(max_new_tokens=42, top_p=0.3), TARGET).generation
    assert (generation.max_tokens, generation.sampling.top_p) == (42, 0.3)


def test_camel_case_wins_when_both_come() -> None:
    request = configured(maxTokens=10, max_new_tokens=20, topP=0.1, top_p=0.2)
    generation = NOVA.parse(request, TARGET).generation
    assert (generation.max_tokens, generation.sampling.top_p) == (10, 0.1)


def test_conversation_prompt() -> None:
    messages = [
        {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
        {"role": "assistant", "content": [{"text": "c"}]},
        {"role": "user", "content": [{"text": "d"}]},
        {"role": "assistant", "content": [{"text": "The answer is"}]},
    ]
    assert NOVA.parse({"messages": messages}, TARGET).generation.prompt == (
        "User: a\nb\n\nAssistant: c\n\nUser: d\n\nAssistant: The answer is"
    )


@pytest.mark.parametrize(
    "roles, text",
    [
        (["assistant"], START),
        ([], START),
        (["user", "user"], ALTERNATE),
        (["user", "assistant", "user", "user"], ALTERNATE),
    ],
)
def test_role_order(roles: list[str], text: str) -> None:
    messages = [{"role": role, "content": [{"text": "x"}]} for role in roles]
    assert refused({"messages": messages}) == text


def test_blank_text() -> None:
    messages = [*HI, {"role": "assistant", "content": [{"text": "ok"}, {"text": "  "}]}]
    assert refused({"messages": messages}) == (
        "The text field in the ContentBlock object at messages.1.content.1 is blank. Add text "
        "to the text field, and try again."
    )


def test_missing_and_extraneous_keys() -> None:
    assert refused({"system": []}) == schema(": required key [messages] not found")
    assert refused({"messages": HI, "max_tokens": 5}) == schema(
        ": extraneous key [max_tokens] is not permitted"
    )
    assert refused(configured(top_k=5)) == schema(
        "/inferenceConfig: extraneous key [top_k] is not permitted"
    )
    message = [{"role": "user", "content": [{"text": "x"}], "id": 1}]
    assert refused({"messages": message}) == schema(
        "/messages/0: extraneous key [id] is not permitted"
    )


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("maxTokens", 0, "/inferenceConfig/maxTokens: 0 is not greater or equal to 1"),
        ("maxTokens", 5001, "/inferenceConfig/maxTokens: 5001 is not less or equal to 5000"),
        (
            "max_new_tokens",
            5001,
            "/inferenceConfig/max_new_tokens: 5001 is not less or equal to 5000",
        ),
        ("temperature", 0, "/inferenceConfig/temperature: 0 is not greater or equal to 1e-05"),
        ("temperature", 1.5, "/inferenceConfig/temperature: 1.5 is not less or equal to 1"),
        ("topP", -0.1, "/inferenceConfig/topP: -0.1 is not greater or equal to 0"),
        ("topP", 1.1, "/inferenceConfig/topP: 1.1 is not less or equal to 1"),
        ("top_p", 1.1, "/inferenceConfig/top_p: 1.1 is not less or equal to 1"),
        ("topK", -1, "/inferenceConfig/topK: -1 is not greater or equal to 0"),
        ("topK", "5", "/inferenceConfig/topK: expected type: Integer, found: String"),
        (
            "stopSequences",
            [None],
            "/inferenceConfig/stopSequences/0: expected type: String, found: Null",
        ),
    ],
)
def test_config_problems(key: str, value: Any, problem: str) -> None:
    assert refused(configured(**{key: value})) == schema(problem)


def test_bounds_are_accepted() -> None:
    request = configured(maxTokens=5000, temperature=0.00001, topP=0, topK=500)
    assert NOVA.parse(request, TARGET).generation.sampling == SamplingParams(0.00001, 0.0, 500)


def test_max_tokens_over_the_context() -> None:
    short = Target("amazon.nova-micro-v1:0", "nova", 4096)
    assert refused(configured(maxTokens=5000), short) == (
        "The maximum tokens you requested exceeds the model limit of 4096. Try again with a "
        "maximum tokens value that is lower than 4096."
    )


@pytest.mark.parametrize(
    "request_body, problem",
    [
        ({"messages": HI, "schemaVersion": "v2"}, "/schemaVersion: v2 is not a valid enum value"),
        (
            {"messages": [{"role": "bot", "content": []}]},
            "/messages/0/role: bot is not a valid enum value",
        ),
        (
            {"messages": [{"role": "user", "content": "Hi"}]},
            "/messages/0/content: expected type: JSONArray, found: String",
        ),
        (
            {"messages": [{"role": "user", "content": [{}]}]},
            "/messages/0/content/0: required key [text] not found",
        ),
        (
            {"messages": HI, "system": [{"text": 1}]},
            "/system/0/text: expected type: String, found: Integer",
        ),
        (
            {"messages": HI, "inferenceConfig": 5},
            "/inferenceConfig: expected type: JSONObject, found: Integer",
        ),
    ],
)
def test_shape_problems(request_body: dict[str, Any], problem: str) -> None:
    assert refused(request_body) == schema(problem)


@pytest.mark.parametrize(
    "request_body, key",
    [
        ({"messages": HI, "toolConfig": {"tools": []}}, "toolConfig"),
        ({"messages": [{"role": "user", "content": [{"image": {}}]}]}, "image content"),
    ],
)
def test_unsupported(request_body: dict[str, Any], key: str) -> None:
    assert refused(request_body) == (
        f"hpjobs: [{key}] is not supported by the local models, which generate text only."
    )


def invocation() -> Invocation:
    return NOVA.parse({"messages": HI}, TARGET)


@pytest.mark.parametrize(
    "reason, stop_reason",
    [
        ("end_turn", "end_turn"),
        ("max_tokens", "max_tokens"),
        ("model_context_window_exceeded", "max_tokens"),
        ("stop_sequence", "stop_sequence"),
    ],
)
def test_response(reason: str, stop_reason: str) -> None:
    assert NOVA.response(invocation(), "Hello", Finish(reason, None, 8, 4, 1, 6)) == {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello"}]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 8, "outputTokens": 4, "totalTokens": 12},
    }


def test_stream() -> None:
    events: list[str | Finish] = ["Hel", "lo", Finish("end_turn", None, 8, 4, 1, 6)]
    assert list(NOVA.stream(invocation(), events)) == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hel"}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": "lo"}, "contentBlockIndex": 0}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {
            "metadata": {"usage": {"inputTokens": 8, "outputTokens": 4, "totalTokens": 12}},
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 8,
                "outputTokenCount": 4,
                "invocationLatency": 6,
                "firstByteLatency": 1,
            },
        },
    ]
