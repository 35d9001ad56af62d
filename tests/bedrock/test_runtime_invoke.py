"""InvokeModel and InvokeModelWithResponseStream on the model that ships with hpjobs, for a
well-known model id of each of the six families: native bodies, the token-count headers, native
stream chunks whose last one carries ``amazon-bedrock-invocationMetrics``, and the invocation
log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from hpjobs.bedrock._records import invocations
from hpjobs.bedrock.runtime import Body, invoke_model, invoke_model_with_response_stream
from hpjobs.errors import ValidationException
from hpjobs.generation.registry import local_model_path

FOLDER = local_model_path("jargon")


pytestmark = pytest.mark.skipif(
    not (FOLDER / "model.pt").is_file(), reason=f"the shipped jargon model is not in {FOLDER}"
)

QUESTION = "What is a kludge?"
ASKED = f"User: {QUESTION}\n\nAssistant:"
RAW = "hacker n. A person who enjoys exploring the details of programmable systems"
METRICS = "amazon-bedrock-invocationMetrics"


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass(frozen=True)
class Case:
    """One family: a model id, a greedy body asking for ``n`` tokens on some words, the local prompt
    those words become, and how to read answers."""

    family: str
    model_id: str
    ask: Callable[[str, int], dict[str, Any]]
    words: str
    template: str  # the local prompt, with {} for the words
    text: Callable[[dict[str, Any]], str]
    counts: Callable[[dict[str, Any]], tuple[int, int] | None]  # from the body, where it has them
    reason: Callable[[dict[str, Any]], str]  # the stop reason, read from a body
    length: str  # its value when max tokens ended generation

    def body(self, n: int) -> dict[str, Any]:
        return self.ask(self.words, n)

    @property
    def prompt(self) -> str:
        return self.template.format(self.words)


CASES = [
    Case(
        "anthropic",
        "anthropic.claude-3-haiku-20240307-v1:0",
        lambda words, n: {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": n,
            "temperature": 0,
            "messages": [{"role": "user", "content": words}],
        },
        QUESTION,
        "User: {}\n\nAssistant:",
        lambda b: b["content"][0]["text"],
        lambda b: (b["usage"]["input_tokens"], b["usage"]["output_tokens"]),
        lambda b: b["stop_reason"],
        "max_tokens",
    ),
    Case(
        "titan",
        "amazon.titan-text-express-v1",
        lambda words, n: {
            "inputText": words,
            "textGenerationConfig": {"maxTokenCount": n, "temperature": 0},
        },
        RAW,
        "{}",
        lambda b: b["results"][0]["outputText"],
        lambda b: (b["inputTextTokenCount"], b["results"][0]["tokenCount"]),
        lambda b: b["results"][0]["completionReason"],
        "LENGTH",
    ),
    Case(
        "llama",
        "meta.llama3-8b-instruct-v1:0",
        lambda words, n: {"prompt": words, "max_gen_len": n, "temperature": 0},
        RAW,
        "{}",
        lambda b: b["generation"],
        lambda b: (b["prompt_token_count"], b["generation_token_count"]),
        lambda b: b["stop_reason"],
        "length",
    ),
    Case(
        "mistral",
        "mistral.mistral-7b-instruct-v0:2",
        lambda words, n: {
            "prompt": f"<s>[INST] {words} [/INST]",
            "max_tokens": n,
            "temperature": 0,
        },
        QUESTION,
        "<s>[INST] {} [/INST]",
        lambda b: b["outputs"][0]["text"],
        lambda b: None,  # Mistral's body has no counts
        lambda b: b["outputs"][0]["stop_reason"],
        "length",
    ),
    Case(
        "cohere",
        "cohere.command-r-v1:0",
        lambda words, n: {"message": words, "max_tokens": n, "temperature": 0},
        QUESTION,
        "User: {}\n\nAssistant:",
        lambda b: b["text"],
        lambda b: None,  # nor has Cohere's
        lambda b: b["finish_reason"],
        "MAX_TOKENS",
    ),
    Case(
        "nova",
        "amazon.nova-micro-v1:0",
        lambda words, n: {
            "messages": [{"role": "user", "content": [{"text": words}]}],
            "inferenceConfig": {"maxTokens": n, "topK": 1},
        },
        QUESTION,
        "User: {}\n\nAssistant:",
        lambda b: b["output"]["message"]["content"][0]["text"],
        lambda b: (b["usage"]["inputTokens"], b["usage"]["outputTokens"]),
        lambda b: b["stopReason"],
        "max_tokens",
    ),
]
BY_FAMILY = {case.family: case for case in CASES}


def invoke(model_id: str, body: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The decoded body, the HTTP headers and the whole response of an InvokeModel call."""
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = invoke_model({"modelId": model_id, "body": raw})
    assert isinstance(response["body"], Body)
    decoded: dict[str, Any] = json.loads(response["body"].read())
    return decoded, response["ResponseMetadata"]["HTTPHeaders"], response


def chunks(model_id: str, body: Any) -> list[dict[str, Any]]:
    """The decoded native chunks of an InvokeModelWithResponseStream call."""
    response = invoke_model_with_response_stream({"modelId": model_id, "body": json.dumps(body)})
    assert response["contentType"] == "application/json"
    decoded = []
    for event in response["body"]:
        assert set(event) == {"chunk"}
        assert set(event["chunk"]) == {"bytes"}
        assert isinstance(event["chunk"]["bytes"], bytes)
        decoded.append(json.loads(event["chunk"]["bytes"]))
    return decoded


def header_counts(headers: Mapping[str, str]) -> tuple[int, int, int]:
    return (
        int(headers["x-amzn-bedrock-input-token-count"]),
        int(headers["x-amzn-bedrock-output-token-count"]),
        int(headers["x-amzn-bedrock-invocation-latency"]),
    )


def streamed_text(family: str, parts: list[dict[str, Any]]) -> str:
    if family == "anthropic":
        return "".join(p["delta"]["text"] for p in parts if p["type"] == "content_block_delta")
    if family == "titan":
        return "".join(p["outputText"] for p in parts)
    if family == "llama":
        return "".join(p["generation"] for p in parts)
    if family == "mistral":
        return "".join(p["outputs"][0]["text"] for p in parts)
    if family == "cohere":
        return "".join(p["text"] for p in parts if p["event_type"] == "text-generation")
    return "".join(
        p["contentBlockDelta"]["delta"]["text"] for p in parts if "contentBlockDelta" in p
    )


# -- InvokeModel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.family for case in CASES])
def test_invoke_model_answers_in_the_family_format(case: Case) -> None:
    body, headers, response = invoke(case.model_id, case.body(30))
    assert response["contentType"] == "application/json"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert headers["content-type"] == "application/json"
    text = case.text(body)
    prompt_bytes = len(case.prompt.encode("utf-8"))
    assert len(text.encode("utf-8")) == 30
    assert case.reason(body) == case.length
    inputs, outputs, latency = header_counts(headers)
    assert (inputs, outputs) == (prompt_bytes, 30)
    assert case.counts(body) in (None, (inputs, outputs))
    assert latency >= 0
    row = invocations(1)[0]
    assert (row.operation, row.model_id) == ("InvokeModel", case.model_id)
    assert (row.input_tokens, row.output_tokens, row.latency_ms) == (inputs, outputs, latency)
    assert row.stop_reason == "max_tokens"
    assert row.parameters["maxTokens"] == 30
    assert row.local_model == str(FOLDER)


def test_claude_body() -> None:
    body, _, _ = invoke(BY_FAMILY["anthropic"].model_id, BY_FAMILY["anthropic"].body(10))
    assert set(body) == {
        "id",
        "type",
        "role",
        "model",
        "content",
        "stop_reason",
        "stop_sequence",
        "usage",
    }
    assert body["id"].startswith("msg_bdrk_") and len(body["id"]) == 33
    assert (body["type"], body["role"]) == ("message", "assistant")
    assert body["model"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert body["content"][0]["type"] == "text"
    assert body["stop_sequence"] is None


def test_claude_stop_sequence_in_the_body() -> None:
    case = BY_FAMILY["anthropic"]
    full = case.text(invoke(case.model_id, case.body(60))[0])
    stop = full[8:10]
    body, headers, _ = invoke(case.model_id, {**case.body(60), "stop_sequences": [stop]})
    assert body["content"][0]["text"] == full[: full.index(stop)]
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", stop)
    assert header_counts(headers)[1] == len(full[: full.index(stop)].encode()) + len(stop.encode())


def test_claude_model_echoes_the_id_as_called() -> None:
    profile = "us.anthropic.claude-3-haiku-20240307-v1:0"
    body, _, _ = invoke(profile, BY_FAMILY["anthropic"].body(3))
    assert body["model"] == profile


def test_titan_body() -> None:
    case = BY_FAMILY["titan"]
    body, _, _ = invoke(case.model_id, case.body(10))
    assert set(body) == {"inputTextTokenCount", "results"}
    assert len(body["results"]) == 1
    assert set(body["results"][0]) == {"tokenCount", "outputText", "completionReason"}


def test_titan_stop_sequence() -> None:
    case = BY_FAMILY["titan"]
    config = {"maxTokenCount": 80, "temperature": 1.0, "stopSequences": ["|"]}
    body, _, _ = invoke(
        case.model_id, {"inputText": "a|b|c|d|e|f|g|h|", "textGenerationConfig": config}
    )
    result = body["results"][0]
    assert "|" not in result["outputText"]
    if result["completionReason"] == "STOP_CRITERIA_MET":
        assert result["tokenCount"] == len(result["outputText"].encode()) + 1


def test_llama_and_mistral_bodies() -> None:
    body, _, _ = invoke(BY_FAMILY["llama"].model_id, BY_FAMILY["llama"].body(5))
    assert set(body) == {
        "generation",
        "prompt_token_count",
        "generation_token_count",
        "stop_reason",
    }
    body, _, _ = invoke(BY_FAMILY["mistral"].model_id, BY_FAMILY["mistral"].body(5))
    assert set(body) == {"outputs"}
    assert set(body["outputs"][0]) == {"text", "stop_reason"}


def test_cohere_body() -> None:
    case = BY_FAMILY["cohere"]
    request = {
        **case.body(10),
        "chat_history": [
            {"role": "USER", "message": "Hi"},
            {"role": "CHATBOT", "message": "Hello"},
        ],
        "preamble": "Be brief.",
        "return_prompt": True,
    }
    body, headers, _ = invoke(case.model_id, request)
    assert set(body) == {
        "response_id",
        "text",
        "generation_id",
        "chat_history",
        "finish_reason",
        "prompt",
    }
    prompt = f"Be brief.\n\nUser: Hi\n\nAssistant: Hello\n\nUser: {QUESTION}\n\nAssistant:"
    assert body["prompt"] == prompt
    assert header_counts(headers)[0] == len(prompt)
    assert body["chat_history"] == [
        {"role": "USER", "message": "Hi"},
        {"role": "CHATBOT", "message": "Hello"},
        {"role": "USER", "message": QUESTION},
        {"role": "CHATBOT", "message": body["text"]},
    ]


def test_cohere_seed_repeats_sampling() -> None:
    case = BY_FAMILY["cohere"]

    def text(seed: int) -> str:
        request = {**case.body(40), "temperature": 1.0, "p": 0.99, "seed": seed}
        return case.text(invoke(case.model_id, request)[0])

    assert text(5) == text(5)
    assert text(5) != text(6)


def test_nova_body() -> None:
    case = BY_FAMILY["nova"]
    body, _, _ = invoke(case.model_id, case.body(10))
    assert set(body) == {"output", "stopReason", "usage"}
    assert body["output"]["message"]["role"] == "assistant"
    assert body["usage"]["totalTokens"] == body["usage"]["inputTokens"] + 10


def test_body_may_be_bytes() -> None:
    case = BY_FAMILY["llama"]
    body, _, _ = invoke(case.model_id, json.dumps(case.body(4)).encode("utf-8"))
    assert body["generation_token_count"] == 4


def test_body_reads_like_a_streaming_body() -> None:
    case = BY_FAMILY["llama"]
    response = invoke_model({"modelId": case.model_id, "body": json.dumps(case.body(4))})
    data = b"".join(response["body"].iter_chunks(7))
    assert json.loads(data)["generation_token_count"] == 4


# -- InvokeModelWithResponseStream ----------------------------------------------------------------


def check_metrics(parts: list[dict[str, Any]], inputs: int, outputs: int) -> None:
    assert all(METRICS not in part for part in parts[:-1])
    metrics = parts[-1][METRICS]
    assert set(metrics) == {
        "inputTokenCount",
        "outputTokenCount",
        "invocationLatency",
        "firstByteLatency",
    }
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == (inputs, outputs)
    assert 0 <= metrics["firstByteLatency"] <= metrics["invocationLatency"]


@pytest.mark.parametrize("case", CASES, ids=[case.family for case in CASES])
def test_stream_matches_invoke_model(case: Case) -> None:
    body, headers, _ = invoke(case.model_id, case.body(40))
    inputs, outputs, _ = header_counts(headers)
    parts = chunks(case.model_id, case.body(40))
    assert len(parts) >= 3
    assert streamed_text(case.family, parts) == case.text(body)
    check_metrics(parts, inputs, outputs)
    row = invocations(1)[0]
    assert (row.operation, row.model_id) == ("InvokeModelWithResponseStream", case.model_id)
    assert (row.input_tokens, row.output_tokens) == (inputs, outputs)
    assert row.latency_ms == parts[-1][METRICS]["invocationLatency"]


def test_claude_stream_chunks() -> None:
    case = BY_FAMILY["anthropic"]
    parts = chunks(case.model_id, case.body(20))
    types = [part["type"] for part in parts]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) == {"content_block_delta"}
    message = parts[0]["message"]
    assert message["usage"] == {"input_tokens": len(case.prompt), "output_tokens": 1}
    assert (message["content"], message["stop_reason"], message["stop_sequence"]) == (
        [],
        None,
        None,
    )
    assert parts[1]["content_block"] == {"type": "text", "text": ""}
    assert all(p["delta"]["type"] == "text_delta" for p in parts[2:-3])
    assert parts[-2]["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}
    assert parts[-2]["usage"] == {"output_tokens": 20}


def test_claude_stream_never_leaks_a_stop_sequence() -> None:
    case = BY_FAMILY["anthropic"]
    full = case.text(invoke(case.model_id, case.body(80))[0])  # greedy: the same every time
    for stop in ("e", " ", full[9:11], full[20:23]):
        parts = chunks(case.model_id, {**case.body(80), "stop_sequences": [stop]})
        deltas = [p["delta"]["text"] for p in parts if p["type"] == "content_block_delta"]
        assert all(stop not in delta for delta in deltas)
        assert "".join(deltas) == (full[: full.index(stop)] if stop in full else full)
        if stop in full:
            assert parts[-2]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": stop}


def test_titan_stream_chunks() -> None:
    case = BY_FAMILY["titan"]
    parts = chunks(case.model_id, case.body(20))
    sent = 0
    for index, part in enumerate(parts[:-1]):
        assert set(part) == {
            "outputText",
            "index",
            "totalOutputTextTokenCount",
            "completionReason",
            "inputTextTokenCount",
        }
        sent += len(part["outputText"].encode())
        assert part["totalOutputTextTokenCount"] == sent
        assert part["completionReason"] is None
        assert part["inputTextTokenCount"] == (len(RAW) if index == 0 else None)
    assert parts[-1]["outputText"] == ""
    assert parts[-1]["completionReason"] == "LENGTH"
    assert parts[-1]["totalOutputTextTokenCount"] == 20


def test_llama_stream_chunks() -> None:
    case = BY_FAMILY["llama"]
    parts = chunks(case.model_id, case.body(20))
    assert parts[0]["prompt_token_count"] == len(RAW)
    assert all(part["prompt_token_count"] is None for part in parts[1:])
    assert all(part["stop_reason"] is None for part in parts[:-1])
    assert (parts[-1]["generation"], parts[-1]["stop_reason"]) == ("", "length")
    assert parts[-1]["generation_token_count"] == 20


def test_mistral_stream_chunks() -> None:
    case = BY_FAMILY["mistral"]
    parts = chunks(case.model_id, case.body(20))
    assert all(set(part) == {"outputs"} for part in parts[:-1])
    assert all(part["outputs"][0]["stop_reason"] is None for part in parts[:-1])
    assert parts[-1]["outputs"] == [{"text": "", "stop_reason": "length"}]


def test_cohere_stream_with_a_seed_matches_invoke_model() -> None:
    case = BY_FAMILY["cohere"]
    request = {**case.body(40), "temperature": 0.9, "p": 0.9, "k": 20, "seed": 42}
    body, headers, _ = invoke(case.model_id, request)
    parts = chunks(case.model_id, request)
    assert parts[0]["event_type"] == "stream-start"
    assert parts[0]["is_finished"] is False
    assert {p["event_type"] for p in parts[1:-1]} == {"text-generation"}
    last = parts[-1]
    assert (last["event_type"], last["is_finished"]) == ("stream-end", True)
    assert last["finish_reason"] == body["finish_reason"] == "MAX_TOKENS"
    assert last["response"]["text"] == body["text"] == streamed_text("cohere", parts)
    assert last["response"]["generation_id"] == parts[0]["generation_id"]
    inputs, outputs, _ = header_counts(headers)
    check_metrics(parts, inputs, outputs)


def test_nova_stream_chunks() -> None:
    case = BY_FAMILY["nova"]
    parts = chunks(case.model_id, case.body(20))
    names = [next(iter(part)) for part in parts]
    assert names[0] == "messageStart"
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert set(names[1:-3]) == {"contentBlockDelta"}
    assert parts[-2] == {"messageStop": {"stopReason": "max_tokens"}}
    assert parts[-1]["metadata"]["usage"] == {
        "inputTokens": len(ASKED),
        "outputTokens": 20,
        "totalTokens": len(ASKED) + 20,
    }


def test_stream_is_recorded_once_consumed() -> None:
    case = BY_FAMILY["llama"]
    response = invoke_model_with_response_stream(
        {"modelId": case.model_id, "body": json.dumps(case.body(10))}
    )
    assert invocations() == []
    list(response["body"])
    assert [row.operation for row in invocations()] == ["InvokeModelWithResponseStream"]


# -- errors --------------------------------------------------------------------------------------


def refused(call: Callable[[dict[str, Any]], Any], model_id: str, body: Any) -> str:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    with pytest.raises(ValidationException) as caught:
        call({"modelId": model_id, "body": raw})
    assert caught.value.code == "ValidationException"
    assert caught.value.http_status == 400
    return caught.value.message


OPERATIONS = [invoke_model, invoke_model_with_response_stream]


@pytest.mark.parametrize("call", OPERATIONS, ids=["invoke", "stream"])
def test_unknown_model_id(call: Callable[[dict[str, Any]], Any]) -> None:
    body = BY_FAMILY["anthropic"].body(5)
    for model_id in ("anthropic.claude-9-v1:0", "us.meta.llama9-v1:0", "amazon.titan-text-v9"):
        assert refused(call, model_id, body) == "The provided model identifier is invalid."
    assert invocations() == []


@pytest.mark.parametrize("call", OPERATIONS, ids=["invoke", "stream"])
def test_body_that_is_not_json(call: Callable[[dict[str, Any]], Any]) -> None:
    for raw in ("{not json", b"\xff\xfe", ""):
        assert refused(call, BY_FAMILY["anthropic"].model_id, raw) == (
            "Malformed input request: #: the request body is not valid JSON, please reformat "
            "your input and try again."
        )
    assert refused(call, BY_FAMILY["anthropic"].model_id, "[1, 2]") == (
        "Malformed input request: #: expected type: JSONObject, please reformat your input and "
        "try again."
    )


@pytest.mark.parametrize("call", OPERATIONS, ids=["invoke", "stream"])
@pytest.mark.parametrize("case", CASES, ids=[case.family for case in CASES])
def test_input_too_long(call: Callable[[dict[str, Any]], Any], case: Case) -> None:
    body = case.ask("jargon " * 40, 5)  # 280 bytes: longer than the context of 256 on its own
    assert refused(call, case.model_id, body) == "Input is too long for requested model."
    assert invocations() == []


@pytest.mark.parametrize(
    "case, body",
    [
        (BY_FAMILY["anthropic"], {**BY_FAMILY["anthropic"].body(5), "max_tokens": 257}),
        (BY_FAMILY["llama"], {"prompt": RAW, "max_gen_len": 300}),
        (BY_FAMILY["mistral"], {"prompt": RAW, "max_tokens": 1000}),
        (BY_FAMILY["cohere"], {"message": QUESTION, "max_tokens": 257}),
        (BY_FAMILY["titan"], {"inputText": RAW, "textGenerationConfig": {"maxTokenCount": 4000}}),
        (BY_FAMILY["nova"], {**BY_FAMILY["nova"].body(5), "inferenceConfig": {"maxTokens": 257}}),
    ],
    ids=lambda value: value.family if isinstance(value, Case) else "",
)
def test_max_tokens_over_the_context(case: Case, body: dict[str, Any]) -> None:
    assert refused(invoke_model, case.model_id, body) == (
        "The maximum tokens you requested exceeds the model limit of 256. Try again with a "
        "maximum tokens value that is lower than 256."
    )


@pytest.mark.parametrize("case", CASES, ids=[case.family for case in CASES])
def test_max_tokens_of_the_whole_context_is_accepted(case: Case) -> None:
    # the request is valid; generation then stops when the context is full
    body = case.body(256)
    _, headers, _ = invoke(case.model_id, body)
    inputs, outputs, _ = header_counts(headers)
    assert inputs + outputs <= 256
    if invocations(1)[0].stop_reason != "end_turn":
        assert invocations(1)[0].stop_reason == "model_context_window_exceeded"
        assert inputs + outputs == 256


def test_extraneous_key_in_a_native_body() -> None:
    body = {**BY_FAMILY["anthropic"].body(5), "inferenceConfig": {}}
    assert refused(invoke_model, BY_FAMILY["anthropic"].model_id, body) == (
        "Malformed input request: #: extraneous key [inferenceConfig] is not permitted, please "
        "reformat your input and try again."
    )
