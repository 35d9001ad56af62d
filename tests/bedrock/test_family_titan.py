"""Titan Text bodies on InvokeModel: defaults, the stop-sequence rules, every refusal text (in
Titan's pointer-less wording), the response and the stream chunks."""

from __future__ import annotations

from typing import Any

import pytest

from hpjobs.bedrock.families import Target
from hpjobs.bedrock.families.titan import Titan
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

EXPRESS = Target("amazon.titan-text-express-v1", "titan", 16384)
TITAN = Titan()


def refused(request: dict[str, Any], target: Target = EXPRESS) -> str:
    with pytest.raises(ValidationException) as caught:
        TITAN.parse(request, target)
    return caught.value.message


def bare(problem: str) -> str:
    return f"Malformed input request: {problem}, please reformat your input and try again."


def config(**values: Any) -> dict[str, Any]:
    return {"inputText": "Hello", "textGenerationConfig": values}


def test_defaults() -> None:
    generation = TITAN.parse({"inputText": "User: hi\nBot:"}, EXPRESS).generation
    assert generation == GenerationRequest(
        prompt="User: hi\nBot:", max_tokens=512, sampling=SamplingParams(0.7, 0.9, None)
    )


def test_parameters_are_read() -> None:
    request = config(temperature=0, topP=1, maxTokenCount=100, stopSequences=["User:"])
    generation = TITAN.parse(request, EXPRESS).generation
    assert generation.sampling == SamplingParams(0.0, 1.0, None)
    assert generation.max_tokens == 100
    assert generation.stop_sequences == ("User:",)


def test_default_max_tokens_fits_a_short_context() -> None:
    short = Target("amazon.titan-text-lite-v1", "titan", 256)
    assert TITAN.parse({"inputText": "x"}, short).generation.max_tokens == 256


def test_zero_max_token_count_is_allowed() -> None:
    assert TITAN.parse(config(maxTokenCount=0), EXPRESS).generation.max_tokens == 0


@pytest.mark.parametrize(
    "model, cap",
    [
        ("amazon.titan-text-lite-v1", 4096),
        ("amazon.titan-text-express-v1", 8192),
        ("amazon.titan-text-premier-v1:0", 3072),
        ("arn:aws:bedrock:us-west-2:123456789012:custom-model/x/abcdefabcdef", 8192),
    ],
)
def test_max_token_count_cap(model: str, cap: int) -> None:
    target = Target(model, "titan", 16384)
    assert TITAN.parse(config(maxTokenCount=cap), target).generation.max_tokens == cap
    assert refused(config(maxTokenCount=cap + 1), target) == bare(
        f"{cap + 1} is not less or equal to {cap}"
    )


def test_max_token_count_over_the_context() -> None:
    short = Target("amazon.titan-text-express-v1", "titan", 1000)
    assert refused(config(maxTokenCount=1001), short) == (
        "The maximum tokens you requested exceeds the model limit of 1000. Try again with a "
        "maximum tokens value that is lower than 1000."
    )


@pytest.mark.parametrize("stop", ["User:", "|", "|||"])
def test_allowed_stop_sequences(stop: str) -> None:
    assert TITAN.parse(config(stopSequences=[stop]), EXPRESS).generation.stop_sequences == (stop,)


def test_more_than_one_stop_sequence() -> None:
    stops = ["a", "b", "c", "d", "e"]
    assert refused(config(stopSequences=stops)) == (
        "Malformed input request: expected maximum item count: 1, found: 5, please reformat "
        "your input and try again."
    )
    assert refused(config(stopSequences=["User:", "|"])) == bare(
        "expected maximum item count: 1, found: 2"
    )


@pytest.mark.parametrize("stop", ["Human:", "User: ", "||a", "user:", ""])
def test_stop_sequence_pattern(stop: str) -> None:
    assert refused(config(stopSequences=[stop])) == (
        f"Malformed input request: string [{stop}] does not match pattern ^(\\|+|User:)$, "
        "please reformat your input and try again."
    )


def test_missing_input_text() -> None:
    assert refused({"textGenerationConfig": {}}) == bare("required key [inputText] not found")


def test_extraneous_keys() -> None:
    assert refused({"inputText": "x", "prompt": "y"}) == bare(
        "extraneous key [prompt] is not permitted"
    )
    assert refused(config(max_tokens=5)) == bare("extraneous key [max_tokens] is not permitted")


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("temperature", -0.1, "-0.1 is not greater or equal to 0"),
        ("temperature", 1.1, "1.1 is not less or equal to 1"),
        ("topP", -1, "-1 is not greater or equal to 0"),
        ("topP", 1.5, "1.5 is not less or equal to 1"),
        ("maxTokenCount", -1, "-1 is not greater or equal to 0"),
        ("temperature", "hot", "expected type: Number, found: String"),
        ("maxTokenCount", 10.5, "expected type: Integer, found: Double"),
        ("stopSequences", "User:", "expected type: JSONArray, found: String"),
        ("stopSequences", [1], "expected type: String, found: Integer"),
    ],
)
def test_config_problems(key: str, value: Any, problem: str) -> None:
    assert refused(config(**{key: value})) == bare(problem)


def test_wrong_types_at_the_top() -> None:
    assert refused({"inputText": 3}) == bare("expected type: String, found: Integer")
    assert refused({"inputText": "x", "textGenerationConfig": []}) == bare(
        "expected type: JSONObject, found: JSONArray"
    )


@pytest.mark.parametrize(
    "reason, completion",
    [
        ("end_turn", "FINISH"),
        ("max_tokens", "LENGTH"),
        ("stop_sequence", "STOP_CRITERIA_MET"),
        ("model_context_window_exceeded", "LENGTH"),
    ],
)
def test_response(reason: str, completion: str) -> None:
    invocation = TITAN.parse({"inputText": "Hello"}, EXPRESS)
    finish = Finish(reason, "User:" if reason == "stop_sequence" else None, 5, 9, 3, 20)
    assert TITAN.response(invocation, "\nHi there", finish) == {
        "inputTextTokenCount": 5,
        "results": [{"tokenCount": 9, "outputText": "\nHi there", "completionReason": completion}],
    }


METRICS = {
    "inputTokenCount": 5,
    "outputTokenCount": 9,
    "invocationLatency": 20,
    "firstByteLatency": 3,
}


def test_stream() -> None:
    invocation = TITAN.parse({"inputText": "Hello"}, EXPRESS)
    chunks = list(
        TITAN.stream(invocation, ["\nHi", " thére", Finish("max_tokens", None, 5, 9, 3, 20)])
    )
    assert chunks == [
        {
            "outputText": "\nHi",
            "index": 0,
            "totalOutputTextTokenCount": 3,
            "completionReason": None,
            "inputTextTokenCount": 5,
        },
        {
            "outputText": " thére",
            "index": 0,
            "totalOutputTextTokenCount": 10,
            "completionReason": None,
            "inputTextTokenCount": None,
        },
        {
            "outputText": "",
            "index": 0,
            "totalOutputTextTokenCount": 9,
            "completionReason": "LENGTH",
            "inputTextTokenCount": None,
            "amazon-bedrock-invocationMetrics": METRICS,
        },
    ]


def test_stream_without_text() -> None:
    invocation = TITAN.parse({"inputText": "Hello"}, EXPRESS)
    chunks = list(TITAN.stream(invocation, [Finish("end_turn", None, 5, 9, 3, 20)]))
    assert chunks == [
        {
            "outputText": "",
            "index": 0,
            "totalOutputTextTokenCount": 9,
            "completionReason": "FINISH",
            "inputTextTokenCount": 5,
            "amazon-bedrock-invocationMetrics": METRICS,
        }
    ]
