"""Meta Llama bodies on InvokeModel: defaults, the 1–2048 ``max_gen_len``, every refusal text, the
response and the stream chunks."""

from __future__ import annotations

from typing import Any

import pytest

from hpjobs.bedrock.families import Target
from hpjobs.bedrock.families.llama import Llama
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

TARGET = Target("meta.llama3-8b-instruct-v1:0", "llama", 8192)
LLAMA = Llama()
PROMPT = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"


def refused(request: dict[str, Any], target: Target = TARGET) -> str:
    with pytest.raises(ValidationException) as caught:
        LLAMA.parse(request, target)
    return caught.value.message


def schema(problem: str) -> str:
    return f"Malformed input request: #{problem}, please reformat your input and try again."


def test_defaults_and_prompt_as_sent() -> None:
    assert LLAMA.parse({"prompt": PROMPT}, TARGET).generation == GenerationRequest(
        prompt=PROMPT, max_tokens=512, sampling=SamplingParams(0.5, 0.9, None)
    )


def test_parameters_are_read() -> None:
    request = {"prompt": "x", "temperature": 1, "top_p": 0, "max_gen_len": 2048}
    generation = LLAMA.parse(request, TARGET).generation
    assert generation.sampling == SamplingParams(1.0, 0.0, None)
    assert generation.max_tokens == 2048


def test_default_max_tokens_fits_a_short_context() -> None:
    short = Target("meta.llama3-8b-instruct-v1:0", "llama", 300)
    assert LLAMA.parse({"prompt": "x"}, short).generation.max_tokens == 300


def test_max_gen_len_over_the_context() -> None:
    short = Target("meta.llama3-8b-instruct-v1:0", "llama", 1024)
    assert refused({"prompt": "x", "max_gen_len": 2000}, short) == (
        "The maximum tokens you requested exceeds the model limit of 1024. Try again with a "
        "maximum tokens value that is lower than 1024."
    )


def test_missing_prompt() -> None:
    assert refused({"max_gen_len": 5}) == schema(": required key [prompt] not found")


@pytest.mark.parametrize("key", ["stop", "max_tokens", "top_k", "images"])
def test_extraneous_keys(key: str) -> None:
    assert refused({"prompt": "x", key: 1}) == schema(f": extraneous key [{key}] is not permitted")


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("temperature", -0.01, "/temperature: -0.01 is not greater or equal to 0"),
        ("temperature", 1.01, "/temperature: 1.01 is not less or equal to 1"),
        ("top_p", -1, "/top_p: -1 is not greater or equal to 0"),
        ("top_p", 2, "/top_p: 2 is not less or equal to 1"),
        ("max_gen_len", 0, "/max_gen_len: 0 is not greater or equal to 1"),
        ("max_gen_len", 2049, "/max_gen_len: 2049 is not less or equal to 2048"),
        ("max_gen_len", "10", "/max_gen_len: expected type: Integer, found: String"),
        ("temperature", [0.5], "/temperature: expected type: Number, found: JSONArray"),
        ("prompt", None, "/prompt: expected type: String, found: Null"),
    ],
)
def test_problems(key: str, value: Any, problem: str) -> None:
    assert refused({"prompt": "x", key: value}) == schema(problem)


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
    invocation = LLAMA.parse({"prompt": "Hi"}, TARGET)
    assert LLAMA.response(invocation, "Hello!", Finish(reason, None, 2, 7, 1, 9)) == {
        "generation": "Hello!",
        "prompt_token_count": 2,
        "generation_token_count": 7,
        "stop_reason": stop_reason,
    }


def test_stream() -> None:
    invocation = LLAMA.parse({"prompt": "Hi"}, TARGET)
    events: list[str | Finish] = ["Hel", "lo!", Finish("end_turn", None, 2, 7, 1, 9)]
    assert list(LLAMA.stream(invocation, events)) == [
        {
            "generation": "Hel",
            "prompt_token_count": 2,
            "generation_token_count": 3,
            "stop_reason": None,
        },
        {
            "generation": "lo!",
            "prompt_token_count": None,
            "generation_token_count": 6,
            "stop_reason": None,
        },
        {
            "generation": "",
            "prompt_token_count": None,
            "generation_token_count": 7,
            "stop_reason": "stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 2,
                "outputTokenCount": 7,
                "invocationLatency": 9,
                "firstByteLatency": 1,
            },
        },
    ]


def test_stream_without_text() -> None:
    invocation = LLAMA.parse({"prompt": "Hi"}, TARGET)
    (chunk,) = LLAMA.stream(invocation, [Finish("max_tokens", None, 2, 0, 0, 3)])
    assert chunk["prompt_token_count"] == 2
    assert chunk["stop_reason"] == "length"
    assert chunk["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 0
