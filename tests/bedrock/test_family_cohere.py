"""Cohere Command R bodies on InvokeModel: defaults, the prompt from preamble and history, the
``p ≤ 0.99`` rule and every other refusal text, the seed, the response and the stream events."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hpjobs.bedrock.families import Invocation, Target
from hpjobs.bedrock.families.cohere import CommandR
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

TARGET = Target("cohere.command-r-v1:0", "cohere", 8192)
COHERE = CommandR()
HISTORY = [
    {"role": "USER", "message": "Who are you?"},
    {"role": "CHATBOT", "message": "A hacker."},
]


def refused(request: dict[str, Any], target: Target = TARGET) -> str:
    with pytest.raises(ValidationException) as caught:
        COHERE.parse(request, target)
    return caught.value.message


def schema(problem: str) -> str:
    return f"Malformed input request: #{problem}, please reformat your input and try again."


def is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_defaults() -> None:
    assert COHERE.parse({"message": "Hi"}, TARGET).generation == GenerationRequest(
        prompt="User: Hi\n\nAssistant:",
        max_tokens=4000,
        sampling=SamplingParams(0.3, 0.75, None),
    )


def test_default_max_tokens_fits_a_short_context() -> None:
    short = Target("cohere.command-r-v1:0", "cohere", 1024)
    assert COHERE.parse({"message": "Hi"}, short).generation.max_tokens == 1024


def test_prompt_from_preamble_history_and_message() -> None:
    request = {"message": "What is a kludge?", "chat_history": HISTORY, "preamble": "Be terse."}
    assert COHERE.parse(request, TARGET).generation.prompt == (
        "Be terse.\n\nUser: Who are you?\n\nAssistant: A hacker.\n\n"
        "User: What is a kludge?\n\nAssistant:"
    )


def test_parameters_are_read() -> None:
    request = {
        "message": "Hi",
        "max_tokens": 100,
        "temperature": 1,
        "p": 0.99,
        "k": 40.0,
        "stop_sequences": ["END"],
        "seed": 7,
    }
    assert COHERE.parse(request, TARGET).generation == GenerationRequest(
        prompt="User: Hi\n\nAssistant:",
        max_tokens=100,
        sampling=SamplingParams(1.0, 0.99, 40),
        stop_sequences=("END",),
        seed=7,
    )


def test_negative_seed_is_taken_modulo() -> None:
    assert COHERE.parse({"message": "Hi", "seed": -1}, TARGET).generation.seed == 2**64 - 1


def test_ignored_keys_are_accepted() -> None:
    request = {
        "message": "Hi",
        "documents": [{"title": "t", "snippet": "s"}],
        "search_queries_only": False,
        "prompt_truncation": "OFF",
        "frequency_penalty": 0.1,
        "presence_penalty": 0.1,
        "raw_prompting": False,
    }
    assert COHERE.parse(request, TARGET).generation.prompt == "User: Hi\n\nAssistant:"


def test_p_over_point_99() -> None:
    assert refused({"message": "Hi", "p": 1}) == (
        "Malformed input request: #/p: 1 is not less or equal to 0.99, please reformat your "
        "input and try again."
    )


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("p", 0, "/p: 0 is not greater or equal to 0.01"),
        ("temperature", -1, "/temperature: -1 is not greater or equal to 0"),
        ("temperature", 1.5, "/temperature: 1.5 is not less or equal to 1"),
        ("k", -1, "/k: -1 is not greater or equal to 0"),
        ("k", 501, "/k: 501 is not less or equal to 500"),
        ("max_tokens", 0, "/max_tokens: 0 is not greater or equal to 1"),
        ("max_tokens", 4001, "/max_tokens: 4001 is not less or equal to 4000"),
        ("stop_sequences", ["a"] * 6, "/stop_sequences: expected maximum item count: 5, found: 6"),
        ("seed", 1.5, "/seed: expected type: Integer, found: Double"),
        ("message", 5, "/message: expected type: String, found: Integer"),
        ("chat_history", {}, "/chat_history: expected type: JSONArray, found: JSONObject"),
        ("return_prompt", "yes", "/return_prompt: expected type: Boolean, found: String"),
    ],
)
def test_problems(key: str, value: Any, problem: str) -> None:
    assert refused({"message": "Hi", key: value}) == schema(problem)


def test_max_tokens_over_the_context() -> None:
    short = Target("cohere.command-r-v1:0", "cohere", 2000)
    assert refused({"message": "Hi", "max_tokens": 3000}, short) == (
        "The maximum tokens you requested exceeds the model limit of 2000. Try again with a "
        "maximum tokens value that is lower than 2000."
    )


def test_missing_message() -> None:
    assert refused({"chat_history": []}) == schema(": required key [message] not found")


@pytest.mark.parametrize("key", ["prompt", "num_generations", "return_likelihoods", "truncate"])
def test_legacy_command_keys_are_extraneous(key: str) -> None:
    assert refused({"message": "Hi", key: 1}) == schema(
        f": extraneous key [{key}] is not permitted"
    )


def test_history_problems() -> None:
    system = [{"role": "SYSTEM", "message": "x"}]
    assert refused({"message": "Hi", "chat_history": system}) == schema(
        "/chat_history/0/role: SYSTEM is not a valid enum value"
    )
    assert refused({"message": "Hi", "chat_history": [{"role": "USER"}]}) == schema(
        "/chat_history/0: required key [message] not found"
    )


def test_tools_are_unsupported() -> None:
    assert refused({"message": "Hi", "tools": []}) == (
        "hpjobs: [tools] is not supported by the local models, which generate text only."
    )


def invocation(**changes: Any) -> Invocation:
    return COHERE.parse({"message": "What?", "chat_history": HISTORY, **changes}, TARGET)


@pytest.mark.parametrize(
    "reason, finish_reason",
    [
        ("end_turn", "COMPLETE"),
        ("max_tokens", "MAX_TOKENS"),
        ("model_context_window_exceeded", "MAX_TOKENS"),
        ("stop_sequence", "STOP_SEQUENCE"),
    ],
)
def test_response(reason: str, finish_reason: str) -> None:
    response = COHERE.response(invocation(), "Hello", Finish(reason, None, 30, 6, 2, 15))
    assert is_uuid(response.pop("response_id"))
    assert is_uuid(response.pop("generation_id"))
    assert response == {
        "text": "Hello",
        "chat_history": [
            *HISTORY,
            {"role": "USER", "message": "What?"},
            {"role": "CHATBOT", "message": "Hello"},
        ],
        "finish_reason": finish_reason,
    }


def test_return_prompt() -> None:
    response = COHERE.response(
        invocation(return_prompt=True), "x", Finish("end_turn", None, 1, 1, 1, 1)
    )
    assert response["prompt"] == (
        "User: Who are you?\n\nAssistant: A hacker.\n\nUser: What?\n\nAssistant:"
    )
    plain = COHERE.response(
        invocation(return_prompt=False), "x", Finish("end_turn", None, 1, 1, 1, 1)
    )
    assert "prompt" not in plain


def test_stream() -> None:
    events: list[str | Finish] = ["Hel", "lo", Finish("max_tokens", None, 30, 6, 2, 15)]
    chunks = list(COHERE.stream(invocation(), events))
    generation_id = chunks[0]["generation_id"]
    assert is_uuid(generation_id)
    end = chunks[-1]
    assert is_uuid(end["response"].pop("response_id"))
    assert chunks == [
        {"is_finished": False, "event_type": "stream-start", "generation_id": generation_id},
        {"is_finished": False, "event_type": "text-generation", "text": "Hel"},
        {"is_finished": False, "event_type": "text-generation", "text": "lo"},
        {
            "is_finished": True,
            "event_type": "stream-end",
            "response": {
                "text": "Hello",
                "generation_id": generation_id,
                "chat_history": [
                    *HISTORY,
                    {"role": "USER", "message": "What?"},
                    {"role": "CHATBOT", "message": "Hello"},
                ],
                "finish_reason": "MAX_TOKENS",
            },
            "finish_reason": "MAX_TOKENS",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 30,
                "outputTokenCount": 6,
                "invocationLatency": 15,
                "firstByteLatency": 2,
            },
        },
    ]
