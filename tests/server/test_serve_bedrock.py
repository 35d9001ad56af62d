"""Bedrock through the real ``hpjobs serve``: boto3's ``bedrock-runtime`` (REST-JSON, event
streams) and ``bedrock`` (control plane) clients, on the model that ships with hpjobs.

Generations use ``temperature`` 0 (greedy), so two calls with the same prompt give the same text
whatever the model's weights are; that is what the comparisons between operations and model ids
rely on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.eventstream import EventStream
from botocore.exceptions import ClientError, EventStreamError
from botocore.parsers import EventStreamJSONParser

from hpjobs.errors import ServiceError, ValidationException
from hpjobs.server.protocol import _stream_frames

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN = "amazon.titan-text-express-v1"
QUESTION = "What is a kludge?"
#: The local prompt of a one-question conversation (hpjobs.bedrock.families.chat_prompt).
PROMPT = f"User: {QUESTION}\n\nAssistant:"
GREEDY = {"temperature": 0.0, "maxTokens": 16}
CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


@pytest.fixture
def bedrock_server(shared_bedrock_server: Any) -> Any:
    return shared_bedrock_server


@pytest.fixture
def runtime(bedrock_server: Any, make_client: Any) -> Any:
    return make_client("bedrock-runtime", bedrock_server.url)


@pytest.fixture
def control(bedrock_server: Any, make_client: Any) -> Any:
    return make_client("bedrock", bedrock_server.url)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"text": text}]}


def ask(runtime: Any, model_id: str = CLAUDE, **fields: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": [user(QUESTION)],
        "inferenceConfig": dict(GREEDY),
    }
    request.update(fields)
    response: dict[str, Any] = runtime.converse(**request)
    return response


def text_of(response: dict[str, Any]) -> str:
    content = response["output"]["message"]["content"]
    assert len(content) == 1
    text: str = content[0]["text"]
    return text


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def stream_events(response: dict[str, Any], key: str) -> list[tuple[str, Any]]:
    """``(member, payload)`` of every event botocore yields from ``response[key]``."""
    events = []
    for event in response[key]:
        assert len(event) == 1, event
        ((member, payload),) = event.items()
        events.append((member, payload))
    return events


# ------------------------------------------------------------------------------------------------
# Converse and ConverseStream
# ------------------------------------------------------------------------------------------------


def test_converse(runtime: Any) -> None:
    response = ask(runtime)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert response["ResponseMetadata"]["RequestId"]
    assert response["output"]["message"]["role"] == "assistant"
    text = text_of(response)
    usage = response["usage"]
    assert usage["inputTokens"] == len(PROMPT.encode("utf-8"))  # a byte-level model
    assert 1 <= usage["outputTokens"] <= GREEDY["maxTokens"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert response["stopReason"] in {"max_tokens", "end_turn"}
    if response["stopReason"] == "max_tokens":
        assert usage["outputTokens"] == GREEDY["maxTokens"]
    assert len(text) <= usage["outputTokens"]  # one byte makes at most one character
    assert isinstance(response["metrics"]["latencyMs"], int)
    assert response["metrics"]["latencyMs"] >= 0
    # greedy decoding is repeatable
    assert text_of(ask(runtime)) == text


def test_converse_stop_sequence_and_response_field(runtime: Any) -> None:
    text = text_of(ask(runtime, inferenceConfig={"temperature": 0.0, "maxTokens": 30}))
    if len(text) < 4:
        pytest.skip(f"the model's greedy answer is too short to cut: {text!r}")
    stop = text[2:4]
    cut = text[: text.index(stop)]
    response = ask(
        runtime,
        inferenceConfig={"temperature": 0.0, "maxTokens": 30, "stopSequences": [stop]},
        additionalModelResponseFieldPaths=["/stop_sequence"],
    )
    assert text_of(response) == cut
    assert response["stopReason"] == "stop_sequence"
    assert response["additionalModelResponseFields"] == {"stop_sequence": stop}


def test_converse_stream_event_order(runtime: Any) -> None:
    expected = ask(runtime)
    response = runtime.converse_stream(
        modelId=CLAUDE, messages=[user(QUESTION)], inferenceConfig=dict(GREEDY)
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/vnd.amazon.eventstream"
    )
    events = stream_events(response, "stream")
    members = [member for member, _ in events]
    deltas = members.count("contentBlockDelta")
    assert deltas >= 1
    assert members == [
        "messageStart",
        *["contentBlockDelta"] * deltas,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0][1] == {"role": "assistant"}
    for _, payload in events[1 : 1 + deltas]:
        assert payload["contentBlockIndex"] == 0
        assert set(payload["delta"]) == {"text"}
    streamed = "".join(payload["delta"]["text"] for _, payload in events[1 : 1 + deltas])
    assert streamed == text_of(expected)
    assert events[-3][1] == {"contentBlockIndex": 0}
    assert events[-2][1] == {"stopReason": expected["stopReason"]}
    metadata = events[-1][1]
    assert metadata["usage"] == expected["usage"]
    assert isinstance(metadata["metrics"]["latencyMs"], int)


def test_converse_stream_errors_before_the_stream_are_plain_http_errors(runtime: Any) -> None:
    with pytest.raises(ClientError) as caught:
        runtime.converse_stream(modelId="anthropic.claude-0-v1:0", messages=[user(QUESTION)])
    assert not isinstance(caught.value, EventStreamError)
    assert error_of(caught) == (
        "ValidationException",
        "The provided model identifier is invalid.",
        400,
    )


def test_converse_stream_refuses_a_malformed_field_path_before_streaming(runtime: Any) -> None:
    with pytest.raises(ClientError) as caught:
        runtime.converse_stream(
            modelId=CLAUDE,
            messages=[user(QUESTION)],
            inferenceConfig=dict(GREEDY),
            additionalModelResponseFieldPaths=["stop_sequence"],
        )
    assert not isinstance(caught.value, EventStreamError)
    assert error_of(caught) == (
        "ValidationException",
        "The additional model response field path stop_sequence is not a valid JSON Pointer.",
        400,
    )


# ------------------------------------------------------------------------------------------------
# InvokeModel and InvokeModelWithResponseStream
# ------------------------------------------------------------------------------------------------


def claude_body(max_tokens: int = 16) -> bytes:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "temperature": 0,
            "messages": [{"role": "user", "content": QUESTION}],
        }
    ).encode("utf-8")


def test_invoke_model_body_and_token_headers(runtime: Any) -> None:
    expected = ask(runtime)
    response = runtime.invoke_model(modelId=CLAUDE, body=claude_body())
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["contentType"] == "application/json"
    body = json.loads(response["body"].read())
    assert body["id"].startswith("msg_bdrk_")
    assert len(body["id"]) == len("msg_bdrk_") + 24
    assert {k: body[k] for k in ("type", "role", "model")} == {
        "type": "message",
        "role": "assistant",
        "model": CLAUDE,
    }
    assert body["content"] == [{"type": "text", "text": text_of(expected)}]
    assert body["stop_reason"] == expected["stopReason"]
    assert body["stop_sequence"] is None
    assert body["usage"] == {
        "input_tokens": expected["usage"]["inputTokens"],
        "output_tokens": expected["usage"]["outputTokens"],
    }
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(body["usage"]["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == str(body["usage"]["output_tokens"])
    assert headers["x-amzn-bedrock-invocation-latency"].isdigit()
    assert headers["content-type"] == "application/json"


def test_invoke_model_with_response_stream_claude(runtime: Any) -> None:
    expected = ask(runtime)
    response = runtime.invoke_model_with_response_stream(modelId=CLAUDE, body=claude_body())
    assert response["contentType"] == "application/json"
    events = stream_events(response, "body")
    assert {member for member, _ in events} == {"chunk"}
    chunks = [json.loads(payload["bytes"]) for _, payload in events]
    types = [chunk["type"] for chunk in chunks]
    deltas = types.count("content_block_delta")
    assert types == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * deltas,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert chunks[0]["message"]["model"] == CLAUDE
    assert chunks[0]["message"]["usage"]["input_tokens"] == expected["usage"]["inputTokens"]
    streamed = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    assert streamed == text_of(expected)
    assert chunks[-2]["delta"] == {"stop_reason": expected["stopReason"], "stop_sequence": None}
    assert chunks[-2]["usage"] == {"output_tokens": expected["usage"]["outputTokens"]}
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == expected["usage"]["inputTokens"]
    assert metrics["outputTokenCount"] == expected["usage"]["outputTokens"]
    assert isinstance(metrics["invocationLatency"], int)
    assert 0 <= metrics["firstByteLatency"] <= metrics["invocationLatency"]
    assert all("amazon-bedrock-invocationMetrics" not in c for c in chunks[:-1])


def test_invoke_model_with_response_stream_titan(runtime: Any) -> None:
    body = {
        "inputText": QUESTION,
        "textGenerationConfig": {"temperature": 0, "maxTokenCount": 16},
    }
    whole = json.loads(runtime.invoke_model(modelId=TITAN, body=json.dumps(body))["body"].read())
    response = runtime.invoke_model_with_response_stream(modelId=TITAN, body=json.dumps(body))
    chunks = [json.loads(payload["bytes"]) for _, payload in stream_events(response, "body")]
    assert chunks
    assert "".join(c["outputText"] for c in chunks) == whole["results"][0]["outputText"]
    assert all(c["index"] == 0 for c in chunks)
    assert [c["completionReason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["completionReason"] == whole["results"][0]["completionReason"]
    assert chunks[-1]["totalOutputTextTokenCount"] == whole["results"][0]["tokenCount"]
    assert (
        chunks[-1]["amazon-bedrock-invocationMetrics"]["inputTokenCount"]
        == (whole["inputTextTokenCount"])
    )
    assert all("amazon-bedrock-invocationMetrics" not in c for c in chunks[:-1])


# ------------------------------------------------------------------------------------------------
# Model ids in the path
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "encoded"),
    [
        (CLAUDE, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"),
        (
            "us." + CLAUDE,
            "/model/us.anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        ),
        (
            f"arn:aws:bedrock:us-west-2::foundation-model/{CLAUDE}",
            "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A%3Afoundation-model%2F"
            "anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        ),
        (
            f"arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.{CLAUDE}",
            "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2F"
            "us.anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        ),
    ],
    ids=["colon", "inference-profile", "foundation-model-arn", "inference-profile-arn"],
)
def test_model_ids_travel_percent_encoded(
    bedrock_server: Any, make_client: Any, model_id: str, encoded: str
) -> None:
    runtime = make_client("bedrock-runtime", bedrock_server.url)
    paths: list[str] = []

    def record(request: Any, **_: Any) -> None:
        paths.append(request.url.split("://", 1)[1].split("/", 1)[1])

    runtime.meta.events.register("before-send.bedrock-runtime.Converse", record)
    expected = ask(make_client("bedrock-runtime", bedrock_server.url))
    response = ask(runtime, model_id)
    assert paths == [encoded.lstrip("/")]
    assert text_of(response) == text_of(expected)
    assert response["usage"] == expected["usage"]
    body = runtime.invoke_model(modelId=model_id, body=claude_body())["body"].read()
    assert json.loads(body)["model"] == model_id


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_unknown_model_id(runtime: Any) -> None:
    for call in (
        lambda: ask(runtime, "anthropic.claude-0-v1:0"),
        lambda: runtime.invoke_model(modelId="anthropic.claude-0-v1:0", body=claude_body()),
    ):
        with pytest.raises(runtime.exceptions.ValidationException) as caught:
            call()
        assert error_of(caught) == (
            "ValidationException",
            "The provided model identifier is invalid.",
            400,
        )
        headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-amzn-errortype"] == "ValidationException" + CORAL
        assert headers["content-type"] == "application/json"
        assert headers["x-amzn-requestid"]


def test_temperature_above_one_is_the_coral_text(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        ask(runtime, inferenceConfig={"temperature": 1.5})
    assert error_of(caught) == (
        "ValidationException",
        "1 validation error detected: Value '1.5' at 'inferenceConfig.temperature' failed to "
        "satisfy constraint: Member must have value less than or equal to 1",
        400,
    )


def test_conversation_order(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationException) as first:
        ask(runtime, messages=[assistant("Hello."), user(QUESTION)])
    assert error_of(first) == (
        "ValidationException",
        "A conversation must start with a user message. Try again with a conversation that "
        "starts with a user message.",
        400,
    )
    with pytest.raises(runtime.exceptions.ValidationException) as alternate:
        ask(runtime, messages=[user("Hello."), user(QUESTION)])
    assert error_of(alternate) == (
        "ValidationException",
        "A conversation must alternate between user and assistant roles. Make sure the "
        "conversation alternates between user and assistant roles and try again.",
        400,
    )
    with pytest.raises(runtime.exceptions.ValidationException) as role:
        ask(runtime, messages=[user("Hello."), {"role": "system", "content": [{"text": "Hi."}]}])
    assert error_of(role) == (
        "ValidationException",
        "1 validation error detected: Value 'system' at 'messages.2.member.role' failed to "
        "satisfy constraint: Member must satisfy enum value set: [user, assistant]",
        400,
    )
    with pytest.raises(runtime.exceptions.ValidationException) as blank:
        ask(runtime, messages=[user("   ")])
    assert error_of(blank) == (
        "ValidationException",
        "The text field in the ContentBlock object at messages.0.content.0 is blank. Add text "
        "to the text field, and try again.",
        400,
    )


def test_route_that_does_not_exist(bedrock_server: Any) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        bedrock_server.url + "/model/x/frobnicate", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 404
    assert caught.value.headers["x-amzn-ErrorType"] == "UnknownOperationException" + CORAL
    assert json.loads(caught.value.read()) == {
        "message": "No operation matches POST /model/x/frobnicate on this endpoint."
    }


# ------------------------------------------------------------------------------------------------
# An exception in the middle of a stream (hand-built streams through the frame encoder)
# ------------------------------------------------------------------------------------------------


class _Throttled(ServiceError):
    code = "ThrottlingException"
    http_status = 429


class _NotModelled(ServiceError):
    code = "ResourceNotFoundException"
    http_status = 404


class _RawStream:
    """What botocore's EventStream reads: an object with ``stream()``, like urllib3's."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def stream(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        pass


def _served(events: Iterator[dict[str, Any]]) -> EventStream:
    """``events`` encoded by the server's frame writer, read back by botocore's parser."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = model.operation_model("ConverseStream").output_shape.members["stream"]
    frames = _stream_frames(events, shape.members)
    # split frames across reads at odd places, as a socket may
    data = b"".join(frames)
    pieces = (data[i : i + 7] for i in range(0, len(data), 7))
    return EventStream(_RawStream(pieces), shape, EventStreamJSONParser(), "ConverseStream")


def _failing(error: Exception) -> Iterator[dict[str, Any]]:
    yield {"messageStart": {"role": "assistant"}}
    yield {"contentBlockDelta": {"delta": {"text": "Hel"}, "contentBlockIndex": 0}}
    raise error


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            _Throttled("Too many tokens, please wait before trying again."),
            "throttlingException",
            "Too many tokens, please wait before trying again.",
        ),
        (
            ValidationException("Input is too long for requested model."),
            "validationException",
            "Input is too long for requested model.",
        ),
        (
            _NotModelled("gone"),
            "ResourceNotFoundException",
            "gone",
        ),
        (
            RuntimeError("boom"),
            "internalServerException",
            "The server could not finish the stream: RuntimeError",
        ),
    ],
    ids=["modelled-throttling", "modelled-validation", "unmodelled", "fault"],
)
def test_exception_in_the_middle_of_a_stream(error: Exception, code: str, message: str) -> None:
    received: list[dict[str, Any]] = []
    with pytest.raises(EventStreamError) as caught:
        for event in _served(_failing(error)):
            received.append(event)
    assert received == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hel"}, "contentBlockIndex": 0}},
    ]
    assert caught.value.response["Error"] == {"Code": code, "Message": message}
    assert caught.value.operation_name == "ConverseStream"


# ------------------------------------------------------------------------------------------------
# Control plane
# ------------------------------------------------------------------------------------------------


def test_foundation_models(control: Any) -> None:
    listed = control.list_foundation_models()["modelSummaries"]
    by_id = {m["modelId"]: m for m in listed}
    assert len(by_id) == len(listed)
    assert {CLAUDE, TITAN, "amazon.nova-micro-v1:0", "meta.llama3-8b-instruct-v1:0"} <= set(by_id)
    assert by_id[CLAUDE] == {
        "modelArn": f"arn:aws:bedrock:us-west-2::foundation-model/{CLAUDE}",
        "modelId": CLAUDE,
        "modelName": "Claude 3 Haiku",
        "providerName": "Anthropic",
        "inputModalities": ["TEXT"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": True,
        "customizationsSupported": ["FINE_TUNING", "CONTINUED_PRE_TRAINING"],
        "inferenceTypesSupported": ["ON_DEMAND"],
        "modelLifecycle": {"status": "ACTIVE"},
    }
    anthropic = control.list_foundation_models(byProvider="anthropic")["modelSummaries"]
    assert anthropic
    assert {m["providerName"] for m in anthropic} == {"Anthropic"}
    assert [m["modelId"] for m in anthropic] == [
        m["modelId"] for m in listed if m["providerName"] == "Anthropic"
    ]

    details = control.get_foundation_model(modelIdentifier=CLAUDE)["modelDetails"]
    assert details == by_id[CLAUDE]
    by_arn = control.get_foundation_model(modelIdentifier=by_id[CLAUDE]["modelArn"])
    assert by_arn["modelDetails"] == by_id[CLAUDE]
    with pytest.raises(control.exceptions.ResourceNotFoundException) as unknown:
        control.get_foundation_model(modelIdentifier="anthropic.claude-0-v1:0")
    assert error_of(unknown) == (
        "ResourceNotFoundException",
        "Could not resolve the foundation model from the provided model identifier.",
        404,
    )


def test_customization_jobs_reads(control: Any) -> None:
    listed = control.list_model_customization_jobs()
    assert listed["modelCustomizationJobSummaries"] == []
    assert "nextToken" not in listed
    assert control.list_custom_models()["modelSummaries"] == []
    with pytest.raises(control.exceptions.ResourceNotFoundException) as job:
        control.get_model_customization_job(jobIdentifier="no-such-job")
    assert error_of(job) == (
        "ResourceNotFoundException",
        "Could not find the model customization job from the provided job identifier.",
        404,
    )
    headers = job.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException" + CORAL
    with pytest.raises(control.exceptions.ResourceNotFoundException) as model:
        control.get_custom_model(modelIdentifier="no-such-model")
    assert error_of(model) == (
        "ResourceNotFoundException",
        "Could not find the custom model from the provided model identifier.",
        404,
    )
