"""Mistral text-completion bodies on InvokeModel: per-model defaults and caps, every refusal text,
the response and the stream chunks."""

from __future__ import annotations

from typing import Any

import pytest

from hpjobs.bedrock.families import Target
from hpjobs.bedrock.families.mistral import Mistral
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

SEVEN_B = Target("mistral.mistral-7b-instruct-v0:2", "mistral", 16384)
MISTRAL = Mistral()
PROMPT = "<s>[INST] Hi [/INST]"


def refused(request: dict[str, Any], target: Target = SEVEN_B) -> str:
    with pytest.raises(ValidationException) as caught:
        MISTRAL.parse(request, target)
    return caught.value.message


def schema(problem: str) -> str:
    return f"Malformed input request: #{problem}, please reformat your input and try again."


@pytest.mark.parametrize(
    "model, max_tokens, sampling",
    [
        ("mistral.mistral-7b-instruct-v0:2", 512, SamplingParams(0.5, 0.9, 50)),
        ("mistral.mixtral-8x7b-instruct-v0:1", 512, SamplingParams(0.5, 0.9, 50)),
        ("mistral.mistral-large-2402-v1:0", 8192, SamplingParams(0.7, 1.0, None)),
        ("us.mistral.mistral-small-2402-v1:0", 8192, SamplingParams(0.7, 1.0, None)),
        ("my.custom-mistral-v1:0", 512, SamplingParams(0.5, 0.9, 50)),
    ],
)
def test_defaults(model: str, max_tokens: int, sampling: SamplingParams) -> None:
    target = Target(model, "mistral", 16384)
    assert MISTRAL.parse({"prompt": PROMPT}, target).generation == GenerationRequest(
        prompt=PROMPT, max_tokens=max_tokens, sampling=sampling
    )


def test_default_max_tokens_fits_a_short_context() -> None:
    large = Target("mistral.mistral-large-2402-v1:0", "mistral", 2048)
    assert MISTRAL.parse({"prompt": "x"}, large).generation.max_tokens == 2048


def test_parameters_are_read() -> None:
    request = {
        "prompt": "x",
        "max_tokens": 64,
        "stop": ["</s>", "\n\n"],
        "temperature": 0,
        "top_p": 0.5,
        "top_k": 200,
    }
    assert MISTRAL.parse(request, SEVEN_B).generation == GenerationRequest(
        prompt="x",
        max_tokens=64,
        sampling=SamplingParams(0.0, 0.5, 200),
        stop_sequences=("</s>", "\n\n"),
    )


@pytest.mark.parametrize(
    "model, cap",
    [
        ("mistral.mistral-7b-instruct-v0:2", 8192),
        ("mistral.mixtral-8x7b-instruct-v0:1", 4096),
        ("mistral.mistral-large-2402-v1:0", 8192),
    ],
)
def test_max_tokens_cap(model: str, cap: int) -> None:
    target = Target(model, "mistral", 16384)
    assert MISTRAL.parse({"prompt": "x", "max_tokens": cap}, target).generation.max_tokens == cap
    assert refused({"prompt": "x", "max_tokens": cap + 1}, target) == schema(
        f"/max_tokens: {cap + 1} is not less or equal to {cap}"
    )


def test_max_tokens_over_the_context() -> None:
    short = Target("mistral.mistral-7b-instruct-v0:2", "mistral", 512)
    assert refused({"prompt": "x", "max_tokens": 600}, short) == (
        "The maximum tokens you requested exceeds the model limit of 512. Try again with a "
        "maximum tokens value that is lower than 512."
    )


def test_missing_prompt_and_extraneous_keys() -> None:
    assert refused({}) == schema(": required key [prompt] not found")
    assert refused({"prompt": "x", "messages": []}) == schema(
        ": extraneous key [messages] is not permitted"
    )


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("temperature", -0.1, "/temperature: -0.1 is not greater or equal to 0"),
        ("temperature", 1.2, "/temperature: 1.2 is not less or equal to 1"),
        ("top_p", -0.1, "/top_p: -0.1 is not greater or equal to 0"),
        ("top_p", 1.1, "/top_p: 1.1 is not less or equal to 1"),
        ("top_k", 0, "/top_k: 0 is not greater or equal to 1"),
        ("top_k", 201, "/top_k: 201 is not less or equal to 200"),
        ("max_tokens", 0, "/max_tokens: 0 is not greater or equal to 1"),
        ("stop", [str(n) for n in range(11)], "/stop: expected maximum item count: 10, found: 11"),
        ("stop", "</s>", "/stop: expected type: JSONArray, found: String"),
        ("top_k", 2.5, "/top_k: expected type: Integer, found: Double"),
    ],
)
def test_problems(key: str, value: Any, problem: str) -> None:
    assert refused({"prompt": "x", key: value}) == schema(problem)


def test_ten_stop_sequences_are_allowed() -> None:
    stops = [str(n) for n in range(10)]
    assert (
        len(MISTRAL.parse({"prompt": "x", "stop": stops}, SEVEN_B).generation.stop_sequences) == 10
    )


@pytest.mark.parametrize(
    "reason, stop_reason",
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_response(reason: str, stop_reason: str) -> None:
    invocation = MISTRAL.parse({"prompt": PROMPT}, SEVEN_B)
    finish = Finish(reason, None, 20, 4, 2, 11)
    assert MISTRAL.response(invocation, "Hello", finish) == {
        "outputs": [{"text": "Hello", "stop_reason": stop_reason}]
    }


def test_stream() -> None:
    invocation = MISTRAL.parse({"prompt": PROMPT}, SEVEN_B)
    events: list[str | Finish] = ["Hel", "lo", Finish("stop_sequence", "\n\n", 20, 4, 2, 11)]
    assert list(MISTRAL.stream(invocation, events)) == [
        {"outputs": [{"text": "Hel", "stop_reason": None}]},
        {"outputs": [{"text": "lo", "stop_reason": None}]},
        {
            "outputs": [{"text": "", "stop_reason": "stop"}],
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 20,
                "outputTokenCount": 4,
                "invocationLatency": 11,
                "firstByteLatency": 2,
            },
        },
    ]
