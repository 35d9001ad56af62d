"""The Bedrock runtime operations: Converse, ConverseStream, InvokeModel and
InvokeModelWithResponseStream, answered by a local model.

Requests are validated against botocore's ``bedrock-runtime`` model, then by the rules Bedrock
applies itself (reference bedrock.md §4): a conversation starts with a user message and
alternates, text blocks are not blank, ``maxTokens`` stays within the model's limit (its context
length), an input longer than the context is refused with "Input is too long for requested
model.", and an unknown model id gives "The provided model identifier is invalid.".

Converse parameters map onto sampling as Bedrock documents them: ``temperature`` (0 = greedy),
``topP``, ``maxTokens`` (default: what the context leaves), ``stopSequences``; ``topK`` comes
through ``additionalModelRequestFields`` in the family's spelling (``top_k`` for Claude and
Mistral, ``k`` for Cohere, ``inferenceConfig.topK`` for Nova). hpjobs also reads ``seed`` there (an
integer that makes sampling repeatable; real models would reject the key). Unset parameters take
the model family's defaults.

Every invocation is recorded in the store: model, parameters, token counts, latency, stop reason.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpjobs import shapes
from hpjobs.bedrock.families import (
    Invocation,
    Target,
    chat_prompt,
    check_turns,
    family,
    json_type,
    malformed,
)
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest, InputTooLong, generate, loaded_model
from hpjobs.generation.registry import FoundationModel, UnknownModel, resolve_foundation_model
from hpjobs.generation.sampling import SamplingParams

__all__ = [
    "Body",
    "converse",
    "converse_stream",
    "invoke_model",
    "invoke_model_with_response_stream",
]

_INVALID_MODEL = "The provided model identifier is invalid."
_TOO_LONG = "Input is too long for requested model."
#: Converse defaults (temperature, topP) by family, from each family's native defaults.
_DEFAULTS = {
    "anthropic": (1.0, 0.999),
    "titan": (0.7, 0.9),
    "llama": (0.5, 0.9),
    "mistral": (0.5, 0.9),
    "cohere": (0.3, 0.75),
    "nova": (0.7, 0.9),
}
_TOP_K_FIELD = {"anthropic": "top_k", "mistral": "top_k", "cohere": "k"}
_ROLES = ("user", "assistant")
_MAX_SEED = 2**64 - 1  # the largest seed torch accepts


class Body(io.BytesIO):
    """A response body read like botocore's ``StreamingBody``."""

    def iter_chunks(self, chunk_size: int = 1024) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    def iter_lines(self, chunk_size: int = 1024, keepends: bool = False) -> Iterator[bytes]:
        yield from self.getvalue().splitlines(keepends)


@dataclass(frozen=True)
class _Model:
    spec: FoundationModel
    path: Path

    def target(self, model_id: str) -> Target:
        return Target(model_id, self.spec.family, loaded_model(self.path).config.context_length)


def _resolve(model_id: str) -> _Model:
    try:
        spec = resolve_foundation_model(model_id)
    except UnknownModel:
        from hpjobs.bedrock.customization import resolve_custom_model

        try:
            spec = resolve_custom_model(model_id)
        except UnknownModel:
            raise ValidationException(_INVALID_MODEL) from None
    return _Model(spec, spec.path)


# -- Converse -------------------------------------------------------------------------------------


def _turns(messages: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) per message, checked as Bedrock checks conversations."""
    for index, message in enumerate(messages):
        if message["role"] not in _ROLES:
            raise ValidationException(
                f"1 validation error detected: Value '{message['role']}' at "
                f"'messages.{index + 1}.member.role' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(_ROLES)}]"
            )
    check_turns([message["role"] for message in messages])
    return [
        (message["role"], _text(message["content"], f"messages.{index}"))
        for index, message in enumerate(messages)
    ]


def _text(blocks: Sequence[Mapping[str, Any]], where: str) -> str:
    if not blocks:
        raise ValidationException(
            f"The content field in the Message object at {where} is empty. Add a ContentBlock "
            "object to the content field and try again."
        )
    texts = []
    for index, block in enumerate(blocks):
        if "text" not in block:
            kind = next(iter(block), "unknown")
            raise ValidationException(
                f"This model doesn't support the {kind} content block that you provided at "
                f"{where}.content.{index}. Try again with text content only."
            )
        if not block["text"].strip():
            raise ValidationException(
                f"The text field in the ContentBlock object at {where}.content.{index} is blank. "
                "Add text to the text field, and try again."
            )
        texts.append(block["text"])
    return "\n".join(texts)


def _system(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    for index, block in enumerate(blocks):
        if "text" in block and not block["text"].strip():
            raise ValidationException(
                f"The text field in the SystemContentBlock object at system.{index} is blank. "
                "Add text to the text field, and try again."
            )
    return [block["text"] for block in blocks if "text" in block]


def _model_error(problem: str) -> ValidationException:
    return ValidationException(f"The model returned the following errors: {problem}")


def _additional_fields(fields: Any, family_name: str) -> tuple[int | None, int | None]:
    """(top_k, seed) from ``additionalModelRequestFields``, in the family's spelling."""
    if not isinstance(fields, Mapping):
        kind = json_type(fields)
        raise _model_error(malformed(f": expected type: JSONObject, found: {kind}").message)
    remaining = dict(fields)
    seed = remaining.pop("seed", None)
    top_k: Any = None
    key = _TOP_K_FIELD.get(family_name)
    if key is not None and key in remaining:
        top_k = remaining.pop(key)
    if family_name == "nova" and isinstance(remaining.get("inferenceConfig"), dict):
        nested = dict(remaining.pop("inferenceConfig"))
        top_k = nested.pop("topK", None)
        if nested:
            remaining["inferenceConfig"] = nested
    if remaining:
        problems = [f": extraneous key [{k}] is not permitted" for k in remaining]
        raise _model_error(malformed(*problems).message)
    for name, value, most in (("top_k", top_k, 500), ("seed", seed, _MAX_SEED)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most
        ):
            raise _model_error(f"{name} must be an integer from 0 to {most}.")
    return top_k or None, seed


def _max_tokens(requested: int | None, context: int, prompt: str) -> int:
    """``maxTokens``, by default the model's limit (its context length), as Bedrock documents."""
    if requested is not None and requested > context:
        raise ValidationException(
            f"The maximum tokens you requested exceeds the model limit of {context}. Try again "
            f"with a maximum tokens value that is lower than {context}."
        )
    if len(prompt.encode("utf-8")) >= context:
        raise ValidationException(_TOO_LONG)
    return requested if requested is not None else context


def _converse_request(parsed: Mapping[str, Any], model: _Model) -> GenerationRequest:
    family_name = model.spec.family
    _check_pointers(parsed.get("additionalModelResponseFieldPaths", []))
    turns = _turns(parsed.get("messages", []))
    system = _system(parsed.get("system", []))
    prompt = chat_prompt(system, turns)
    config = parsed.get("inferenceConfig", {})
    fields = parsed.get("additionalModelRequestFields")
    top_k, seed = _additional_fields({} if fields is None else fields, family_name)
    temperature, top_p = _DEFAULTS[family_name]
    context = model.target(parsed["modelId"]).context_length
    return GenerationRequest(
        prompt=prompt,
        max_tokens=_max_tokens(config.get("maxTokens"), context, prompt),
        sampling=SamplingParams(
            config.get("temperature", temperature), config.get("topP", top_p), top_k
        ),
        stop_sequences=tuple(config.get("stopSequences", [])),
        seed=seed,
    )


def _run(model: _Model, request: GenerationRequest) -> Iterator[str | Finish]:
    """The engine's events; a prompt that does not fit is Bedrock's "Input is too long"."""
    events = generate(loaded_model(model.path), request)
    try:
        first = next(events)
    except InputTooLong:
        raise ValidationException(_TOO_LONG) from None
    yield first
    yield from events


def _collect(events: Iterable[str | Finish]) -> tuple[str, Finish]:
    pieces: list[str] = []
    finish: Finish | None = None
    for event in events:
        if isinstance(event, Finish):
            finish = event
        else:
            pieces.append(event)
    assert finish is not None
    return "".join(pieces), finish


def _usage(finish: Finish) -> dict[str, int]:
    total = finish.input_tokens + finish.output_tokens
    return {
        "inputTokens": finish.input_tokens,
        "outputTokens": finish.output_tokens,
        "totalTokens": total,
    }


def _check_pointers(paths: Sequence[str]) -> None:
    for path in paths:
        if not path.startswith("/"):
            raise ValidationException(
                f"The additional model response field path {path} is not a valid JSON Pointer."
            )


def _response_fields(paths: Sequence[str], finish: Finish) -> dict[str, Any] | None:
    """``additionalModelResponseFields`` for the JSON pointers asked for: the matched stop
    sequence, at ``/stop_sequence`` (Converse) or ``/delta/stop_sequence`` (ConverseStream)."""
    fields: dict[str, Any] = {}
    for path in paths:
        *parents, leaf = path.strip("/").split("/")
        if leaf != "stop_sequence":
            continue
        target = fields
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = finish.stop_sequence
    return fields or None


def _record(
    operation: str, model_id: str, model: _Model, request: GenerationRequest, finish: Finish
) -> None:
    from hpjobs.bedrock._records import record_invocation

    parameters = {
        "maxTokens": request.max_tokens,
        "temperature": request.sampling.temperature,
        "topP": request.sampling.top_p,
        "topK": request.sampling.top_k,
        "stopSequences": list(request.stop_sequences),
        "seed": request.seed,
    }
    record_invocation(
        operation,
        model_id,
        str(model.path),
        parameters,
        finish.input_tokens,
        finish.output_tokens,
        finish.latency_ms,
        finish.stop_reason,
    )


def converse(request: Mapping[str, Any]) -> dict[str, Any]:
    """Converse: the assistant's reply, stop reason, token usage and latency."""
    parsed = shapes.parse_request("bedrock-runtime", "Converse", request)
    model = _resolve(parsed["modelId"])
    generation = _converse_request(parsed, model)
    text, finish = _collect(_run(model, generation))
    _record("Converse", parsed["modelId"], model, generation, finish)
    response: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": finish.stop_reason,
        "usage": _usage(finish),
        "metrics": {"latencyMs": finish.latency_ms},
    }
    extra = _response_fields(parsed.get("additionalModelResponseFieldPaths", []), finish)
    if extra is not None:
        response["additionalModelResponseFields"] = extra
    return response


def converse_stream(request: Mapping[str, Any]) -> dict[str, Any]:
    """ConverseStream: ``{"stream": events}``, the events botocore yields (reference §2.3).

    The request is checked before the stream starts; text never includes any part of a stop
    sequence.
    """
    parsed = shapes.parse_request("bedrock-runtime", "ConverseStream", request)
    model = _resolve(parsed["modelId"])
    generation = _converse_request(parsed, model)
    paths = parsed.get("additionalModelResponseFieldPaths", [])
    events = _run(model, generation)
    first = next(events)
    return {"stream": _converse_events(first, events, paths, parsed["modelId"], model, generation)}


def _converse_events(
    first: str | Finish,
    events: Iterator[str | Finish],
    paths: Sequence[str],
    model_id: str,
    model: _Model,
    generation: GenerationRequest,
) -> Iterator[dict[str, Any]]:
    yield {"messageStart": {"role": "assistant"}}
    for event in _chain(first, events):
        if isinstance(event, Finish):
            _record("ConverseStream", model_id, model, generation, event)
            yield {"contentBlockStop": {"contentBlockIndex": 0}}
            stop: dict[str, Any] = {"stopReason": event.stop_reason}
            extra = _response_fields(paths, event)
            if extra is not None:
                stop["additionalModelResponseFields"] = extra
            yield {"messageStop": stop}
            yield {"metadata": {"usage": _usage(event), "metrics": {"latencyMs": event.latency_ms}}}
        else:
            yield {"contentBlockDelta": {"delta": {"text": event}, "contentBlockIndex": 0}}


def _chain(first: str | Finish, rest: Iterator[str | Finish]) -> Iterator[str | Finish]:
    yield first
    yield from rest


# -- InvokeModel ---------------------------------------------------------------------------------


def _native(parsed: Mapping[str, Any]) -> tuple[_Model, Invocation]:
    model = _resolve(parsed["modelId"])
    raw = parsed.get("body")
    if raw is None:
        raise malformed(": expected type: JSONObject, found: Null")
    try:
        body = json.loads(
            raw if isinstance(raw, (str, bytes, bytearray)) else bytes(raw),
            parse_constant=_not_json,
        )
    except (ValueError, RecursionError):  # RecursionError: nested deeper than json can read
        raise malformed(": the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise malformed(": expected type: JSONObject")
    native = family(model.spec.family)
    return model, native.parse(body, model.target(parsed["modelId"]))


def _not_json(constant: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``, which Python's json reads but JSON has not."""
    raise ValueError(f"{constant} is not JSON")


def invoke_model(request: Mapping[str, Any]) -> dict[str, Any]:
    """InvokeModel: the family's native response body, with the token-count headers Bedrock sends
    (``x-amzn-bedrock-input-token-count``, ``-output-token-count``, ``-invocation-latency``)."""
    parsed = shapes.parse_request("bedrock-runtime", "InvokeModel", request)
    model, invocation = _native(parsed)
    text, finish = _collect(_run(model, invocation.generation))
    _record("InvokeModel", parsed["modelId"], model, invocation.generation, finish)
    body = family(model.spec.family).response(invocation, text, finish)
    headers = {
        "content-type": "application/json",
        "x-amzn-bedrock-input-token-count": str(finish.input_tokens),
        "x-amzn-bedrock-output-token-count": str(finish.output_tokens),
        "x-amzn-bedrock-invocation-latency": str(finish.latency_ms),
    }
    return {
        "body": Body(json.dumps(body).encode("utf-8")),
        "contentType": "application/json",
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": headers},
    }


def invoke_model_with_response_stream(request: Mapping[str, Any]) -> dict[str, Any]:
    """InvokeModelWithResponseStream: ``{"body": events, "contentType": ...}`` where each event
    is ``{"chunk": {"bytes": <native JSON chunk>}}``; the last chunk carries
    ``amazon-bedrock-invocationMetrics``."""
    parsed = shapes.parse_request("bedrock-runtime", "InvokeModelWithResponseStream", request)
    model, invocation = _native(parsed)
    events = _run(model, invocation.generation)
    first = next(events)
    native = family(model.spec.family)

    def recorded() -> Iterator[str | Finish]:
        for event in _chain(first, events):
            if isinstance(event, Finish):
                _record(
                    "InvokeModelWithResponseStream",
                    parsed["modelId"],
                    model,
                    invocation.generation,
                    event,
                )
            yield event

    chunks = (
        {"chunk": {"bytes": json.dumps(c).encode("utf-8")}}
        for c in native.stream(invocation, recorded())
    )
    return {"body": chunks, "contentType": "application/json"}
