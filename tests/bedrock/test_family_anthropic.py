"""Claude Messages bodies on InvokeModel: defaults, prompts, every refusal text, the response and
the stream chunks, with generation events built by hand (no model)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hpjobs.bedrock.families import Invocation, Target
from hpjobs.bedrock.families.anthropic import Claude
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
TARGET = Target(MODEL, "anthropic", 8192)
CLAUDE = Claude()
ID = re.compile(r"^msg_bdrk_[A-Za-z0-9]{24}$")


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 20,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    return {**base, **changes}


def refused(request: dict[str, Any], target: Target = TARGET) -> str:
    with pytest.raises(ValidationException) as caught:
        CLAUDE.parse(request, target)
    return caught.value.message


def schema(*problems: str) -> str:
    joined = "".join(f"#{problem}" for problem in problems)
    return f"Malformed input request: {joined}, please reformat your input and try again."


def finish(reason: str = "end_turn", stop: str | None = None) -> Finish:
    return Finish(reason, stop, 12, 5, 7, 40)


def test_defaults() -> None:
    invocation = CLAUDE.parse(body(), TARGET)
    assert invocation.generation == GenerationRequest(
        prompt="User: Hi\n\nAssistant:",
        max_tokens=20,
        sampling=SamplingParams(1.0, 0.999, None),
    )
    assert invocation.extras == {"model": MODEL}


def test_parameters_are_read() -> None:
    request = body(temperature=0, top_p=0.5, top_k=40, stop_sequences=["\n\nHuman:", "END"])
    generation = CLAUDE.parse(request, TARGET).generation
    assert generation.sampling == SamplingParams(0.0, 0.5, 40)
    assert generation.stop_sequences == ("\n\nHuman:", "END")


def test_top_k_zero_is_off() -> None:
    assert CLAUDE.parse(body(top_k=0), TARGET).generation.sampling.top_k is None


@pytest.mark.parametrize(
    "key, value",
    [("temperature", 0), ("temperature", 1), ("top_p", 0), ("top_p", 1), ("top_k", 500)],
)
def test_range_bounds_are_accepted(key: str, value: float) -> None:
    CLAUDE.parse(body(**{key: value}), TARGET)


def test_conversation_prompt() -> None:
    request = body(
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "assistant", "content": "c"},
            {"role": "user", "content": "d"},
        ],
    )
    prompt = CLAUDE.parse(request, TARGET).generation.prompt
    assert prompt == "Be brief.\n\nBe kind.\n\nUser: a\nb\n\nAssistant: c\n\nUser: d\n\nAssistant:"


def test_system_string_and_prefill() -> None:
    request = body(
        system="Answer in French.",
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Bon"}],
    )
    prompt = CLAUDE.parse(request, TARGET).generation.prompt
    assert prompt == "Answer in French.\n\nUser: Hi\n\nAssistant: Bon"


@pytest.mark.parametrize("key", ["anthropic_version", "max_tokens", "messages"])
def test_missing_required_key(key: str) -> None:
    request = body()
    del request[key]
    assert refused(request) == schema(f": required key [{key}] not found")


def test_missing_keys_are_all_named() -> None:
    assert refused({}) == (
        "Malformed input request: #: required key [anthropic_version] not found"
        "#: required key [max_tokens] not found#: required key [messages] not found, "
        "please reformat your input and try again."
    )


def test_extraneous_keys() -> None:
    assert refused(body(inferenceConfig={})) == (
        "Malformed input request: #: extraneous key [inferenceConfig] is not permitted, "
        "please reformat your input and try again."
    )
    assert refused(body(stream=True, model="x")) == schema(
        ": extraneous key [stream] is not permitted", ": extraneous key [model] is not permitted"
    )


def test_extraneous_key_in_a_message() -> None:
    request = body(messages=[{"role": "user", "content": "Hi", "name": "bob"}])
    assert refused(request) == schema("/messages/0: extraneous key [name] is not permitted")


def test_wrong_version() -> None:
    assert refused(body(anthropic_version="bedrock-2023-05-30")) == (
        "Invalid API version: bedrock-2023-05-30"
    )


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("temperature", -0.1, "/temperature: -0.1 is not greater or equal to 0"),
        ("temperature", 1.5, "/temperature: 1.5 is not less or equal to 1"),
        ("top_p", -0.5, "/top_p: -0.5 is not greater or equal to 0"),
        ("top_p", 1.01, "/top_p: 1.01 is not less or equal to 1"),
        ("top_k", -1, "/top_k: -1 is not greater or equal to 0"),
        ("top_k", 501, "/top_k: 501 is not less or equal to 500"),
        ("max_tokens", 0, "/max_tokens: 0 is not greater or equal to 1"),
    ],
)
def test_out_of_range(key: str, value: float, problem: str) -> None:
    assert refused(body(**{key: value})) == schema(problem)


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("temperature", "0.5", "/temperature: expected type: Number, found: String"),
        ("temperature", None, "/temperature: expected type: Number, found: Null"),
        ("top_p", True, "/top_p: expected type: Number, found: Boolean"),
        ("max_tokens", 1.5, "/max_tokens: expected type: Integer, found: Double"),
        ("top_k", "5", "/top_k: expected type: Integer, found: String"),
        ("stop_sequences", "END", "/stop_sequences: expected type: JSONArray, found: String"),
        ("stop_sequences", ["END", 3], "/stop_sequences/1: expected type: String, found: Integer"),
        ("messages", {}, "/messages: expected type: JSONArray, found: JSONObject"),
        ("system", 3, "/system: expected type: String, found: Integer"),
        ("anthropic_version", 1, "/anthropic_version: expected type: String, found: Integer"),
    ],
)
def test_wrong_types(key: str, value: Any, problem: str) -> None:
    assert refused(body(**{key: value})) == schema(problem)


def test_too_many_stop_sequences() -> None:
    stops = [f"s{n}" for n in range(8192)]
    assert refused(body(stop_sequences=stops)) == schema(
        "/stop_sequences: expected maximum item count: 8191, found: 8192"
    )


def test_message_problems() -> None:
    assert refused(body(messages=[{"role": "user"}])) == schema(
        "/messages/0: required key [content] not found"
    )
    assert refused(body(messages=[{"role": "system", "content": "x"}])) == schema(
        "/messages/0/role: system is not a valid enum value"
    )
    block = {"type": "text"}
    assert refused(body(messages=[{"role": "user", "content": [block]}])) == schema(
        "/messages/0/content/0: required key [text] not found"
    )


START = (
    "A conversation must start with a user message. Try again with a conversation that starts "
    "with a user message."
)
ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)


@pytest.mark.parametrize(
    "roles, text",
    [
        (["assistant", "user"], START),
        ([], START),
        (["user", "user"], ALTERNATE),
        (["user", "assistant", "assistant"], ALTERNATE),
    ],
)
def test_role_order(roles: list[str], text: str) -> None:
    messages = [{"role": role, "content": "x"} for role in roles]
    assert refused(body(messages=messages)) == text


def test_max_tokens_over_the_context() -> None:
    small = Target(MODEL, "anthropic", 100)
    assert refused(body(max_tokens=101), small) == (
        "The maximum tokens you requested exceeds the model limit of 100. Try again with a "
        "maximum tokens value that is lower than 100."
    )
    assert CLAUDE.parse(body(max_tokens=100), small).generation.max_tokens == 100


def test_temperature_and_top_p_together() -> None:
    sonnet = Target("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic", 8192)
    assert refused(body(temperature=0.5, top_p=0.9), sonnet) == (
        "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    )
    CLAUDE.parse(body(temperature=0.5), sonnet)
    CLAUDE.parse(body(temperature=0.5, top_p=0.9), TARGET)


@pytest.mark.parametrize(
    "request_body, key",
    [
        (body(tools=[]), "tools"),
        (
            body(messages=[{"role": "user", "content": [{"type": "image", "source": {}}]}]),
            "image content",
        ),
    ],
)
def test_unsupported(request_body: dict[str, Any], key: str) -> None:
    assert refused(request_body) == (
        f"hpjobs: [{key}] is not supported by the local models, which generate text only."
    )


def invocation() -> Invocation:
    return CLAUDE.parse(body(), TARGET)


@pytest.mark.parametrize(
    "reason, stop",
    [
        ("end_turn", None),
        ("max_tokens", None),
        ("stop_sequence", "END"),
        ("model_context_window_exceeded", None),
    ],
)
def test_response(reason: str, stop: str | None) -> None:
    response = CLAUDE.response(invocation(), "Hello", finish(reason, stop))
    assert ID.match(response.pop("id"))
    assert response == {
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "Hello"}],
        "stop_reason": reason,
        "stop_sequence": stop,
        "usage": {"input_tokens": 12, "output_tokens": 5},
    }


def test_response_ids_differ() -> None:
    first = CLAUDE.response(invocation(), "a", finish())
    assert first["id"] != CLAUDE.response(invocation(), "a", finish())["id"]


METRICS = {
    "inputTokenCount": 12,
    "outputTokenCount": 5,
    "invocationLatency": 40,
    "firstByteLatency": 7,
}


def test_stream() -> None:
    chunks = list(CLAUDE.stream(invocation(), ["Hel", "lo", finish("stop_sequence", "END")]))
    message = chunks[0]["message"]
    assert ID.match(message.pop("id"))
    input_tokens = len(b"User: Hi\n\nAssistant:")
    assert chunks == [
        {
            "type": "message_start",
            "message": {
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": METRICS},
    ]


def test_stream_without_text() -> None:
    chunks = list(CLAUDE.stream(invocation(), [finish("max_tokens")]))
    assert [chunk["type"] for chunk in chunks] == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert chunks[3]["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert chunks[-1]["amazon-bedrock-invocationMetrics"] == METRICS
