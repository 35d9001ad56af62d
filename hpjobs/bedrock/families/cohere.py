"""Cohere Command R and R+ on InvokeModel: the chat body, response and stream.

Request (reference §3.6): ``message`` (required string), ``chat_history`` (``{"role": "USER" |
"CHATBOT", "message": str}`` items), ``preamble`` (the system text), and

==================  =======  =========================================
key                 default  range
==================  =======  =========================================
``max_tokens``      4000     integer 1–4000
``temperature``     0.3      0–1
``p``               0.75     0.01–0.99
``k``               0 (off)  0–500 (a number; its integer part is used)
``stop_sequences``  none     at most 5 strings
``seed``            random   any integer (taken modulo 2**64)
``return_prompt``   false    adds ``prompt`` to the response
==================  =======  =========================================

Only ``p ≤ 0.99`` and its text ``#/p: 1 is not less or equal to 0.99`` are the service's
(promptfoo/promptfoo#914); the defaults and the other ranges are *unverified* (the reference
gives temperature 0.3, p 0.75 and k 0; the ``max_tokens`` and ``stop_sequences`` limits are from
Cohere's documentation as remembered). Keys of the legacy Command models (``prompt``,
``num_generations``, ...) are refused as extraneous, as the service does. ``documents``,
``search_queries_only``, ``prompt_truncation``, ``frequency_penalty``, ``presence_penalty`` and
``raw_prompting`` are accepted and have no effect; ``tools`` and ``tool_results`` are refused:
the local models generate text only.

The prompt is :func:`chat_prompt` of the preamble, the history (``CHATBOT`` is the assistant) and
the message. Response (*unverified* beyond its keys): ``{"response_id", "text", "generation_id",
"chat_history", "finish_reason"}``, ``chat_history`` being the request's history plus this
exchange, ``finish_reason`` ``COMPLETE``, ``MAX_TOKENS`` (max tokens or a full context) or
``STOP_SEQUENCE``.

Stream (Cohere's chat stream events, *unverified* on Bedrock): ``{"is_finished": false,
"event_type": "stream-start", "generation_id"}``, one ``text-generation`` event per text piece,
then ``{"is_finished": true, "event_type": "stream-end", "response": <the whole response>,
"finish_reason", "amazon-bedrock-invocationMetrics"}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hpjobs.bedrock.families import (
    Fields,
    Invocation,
    Target,
    chat_prompt,
    invocation_metrics,
    limit_max_tokens,
    unsupported,
)
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

__all__ = ["CommandR"]

_KEYS = (
    "message",
    "chat_history",
    "documents",
    "search_queries_only",
    "preamble",
    "max_tokens",
    "temperature",
    "p",
    "k",
    "prompt_truncation",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "return_prompt",
    "tools",
    "tool_results",
    "stop_sequences",
    "raw_prompting",
)
_UNSUPPORTED = ("tools", "tool_results")
_ROLES = {"USER": "user", "CHATBOT": "assistant"}
_FINISH_REASONS = {
    "end_turn": "COMPLETE",
    "max_tokens": "MAX_TOKENS",
    "model_context_window_exceeded": "MAX_TOKENS",
    "stop_sequence": "STOP_SEQUENCE",
}


class CommandR:
    """Cohere Command R and Command R+ chat."""

    name = "cohere"

    def parse(self, body: Mapping[str, Any], target: Target) -> Invocation:
        fields = Fields(body)
        fields.only(*_KEYS)
        for key in _UNSUPPORTED:
            if key in body:
                raise unsupported(key)
        fields.require("message")
        message = fields.string("message", "")
        history = _history(fields)
        prompt = chat_prompt(
            [fields.string("preamble", "")],
            [*((_ROLES[item["role"]], item["message"]) for item in history), ("user", message)],
        )
        max_tokens = fields.integer("max_tokens", min(4000, target.context_length), 1, 4000)
        generation = GenerationRequest(
            prompt=prompt,
            max_tokens=limit_max_tokens(max_tokens, target),
            sampling=_sampling(fields),
            stop_sequences=fields.strings("stop_sequences", 5),
            seed=_seed(fields),
        )
        extras: dict[str, Any] = {"message": message, "chat_history": history}
        if "return_prompt" in body and fields.typed("return_prompt", "Boolean"):
            extras["prompt"] = prompt
        return Invocation(generation, extras)

    def response(self, invocation: Invocation, text: str, finish: Finish) -> dict[str, Any]:
        return _response(invocation, text, finish, str(uuid.uuid4()))

    def stream(
        self, invocation: Invocation, events: Iterable[str | Finish]
    ) -> Iterator[dict[str, Any]]:
        generation_id, pieces = str(uuid.uuid4()), list[str]()
        for count, event in enumerate(events):
            if count == 0:
                yield {
                    "is_finished": False,
                    "event_type": "stream-start",
                    "generation_id": generation_id,
                }
            if isinstance(event, Finish):
                response = _response(invocation, "".join(pieces), event, generation_id)
                yield {
                    "is_finished": True,
                    "event_type": "stream-end",
                    "response": response,
                    "finish_reason": response["finish_reason"],
                    "amazon-bedrock-invocationMetrics": invocation_metrics(event),
                }
                return
            pieces.append(event)
            yield {"is_finished": False, "event_type": "text-generation", "text": event}


def _history(fields: Fields) -> list[dict[str, str]]:
    history = []
    for item in fields.objects("chat_history"):
        item.only("role", "message")
        item.require("role", "message")
        role = item.choice("role", tuple(_ROLES))
        history.append({"role": role, "message": item.string("message", "")})
    return history


def _sampling(fields: Fields) -> SamplingParams:
    k = fields.number("k", 0, 0, 500)
    return SamplingParams(
        temperature=fields.number("temperature", 0.3, 0, 1),
        top_p=fields.number("p", 0.75, 0.01, 0.99),
        top_k=int(k) or None,
    )


def _seed(fields: Fields) -> int | None:
    if "seed" not in fields.values:
        return None
    seed: int = fields.typed("seed", "Integer")
    return seed % 2**64


def _response(
    invocation: Invocation, text: str, finish: Finish, generation_id: str
) -> dict[str, Any]:
    exchange = [
        {"role": "USER", "message": invocation.extras["message"]},
        {"role": "CHATBOT", "message": text},
    ]
    body: dict[str, Any] = {
        "response_id": str(uuid.uuid4()),
        "text": text,
        "generation_id": generation_id,
        "chat_history": [*invocation.extras["chat_history"], *exchange],
        "finish_reason": _FINISH_REASONS[finish.stop_reason],
    }
    if "prompt" in invocation.extras:
        body["prompt"] = invocation.extras["prompt"]
    return body
