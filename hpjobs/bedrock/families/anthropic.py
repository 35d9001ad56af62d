"""Anthropic Claude on InvokeModel: the Messages API body, response and stream.

Request keys (reference §3.2):

============================  ========  ==============  =========================================
key                           required  default         range / rule
============================  ========  ==============  =========================================
``anthropic_version``         yes                       must be ``bedrock-2023-05-31``
``max_tokens``                yes                       integer ≥ 1, at most the model's context
``messages``                  yes                       ``user`` first, then alternating roles
``system``                    no        none            a string or a list of text blocks
``temperature``               no        1               0–1
``top_p``                     no        0.999           0–1
``top_k``                     no        off             integer 0–500 (0 = off)
``stop_sequences``            no        none            at most 8191 (*unverified*)
``anthropic_beta``            no                        accepted and ignored
============================  ========  ==============  =========================================

Message content is a string or a list of ``{"type": "text", "text": ...}`` blocks (the texts of
one message are joined with a newline); the conversation becomes the local prompt through
:func:`chat_prompt`. ``tools``, ``tool_choice``, ``thinking`` and non-text blocks are refused:
the local models generate text only. Claude Sonnet 4.5 and Haiku 4.5 refuse ``temperature``
together with ``top_p``, with the text a third party quotes.

Texts: a missing key gives ``#: required key [max_tokens] not found`` and an unknown one
``#: extraneous key [x] is not permitted`` (both seen from the service); an ``anthropic_version``
other than ``bedrock-2023-05-31`` gives ``Invalid API version: <value>`` (boto/boto3#4218). The
range texts (``#/temperature: 1.5 is not less or equal to 1``), the texts for a wrong role and a
non-string system follow the validator's style but were not seen for these keys (*unverified*);
the conversation-order texts are Converse's (reference §4.4).

The response is a ``message`` with id ``msg_bdrk_<24 letters and digits>``, ``model`` the model
id the caller named, and ``stop_reason`` the generation's own (``end_turn``, ``max_tokens``,
``stop_sequence``, ``model_context_window_exceeded``). The stream is ``message_start``,
``content_block_start``, one ``content_block_delta`` per text piece, ``content_block_stop``,
``message_delta`` and ``message_stop``, which carries ``amazon-bedrock-invocationMetrics``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hpjobs.bedrock.families import (
    Fields,
    Invocation,
    Target,
    chat_prompt,
    check_turns,
    invocation_metrics,
    limit_max_tokens,
    prompt_tokens,
    unsupported,
)
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

__all__ = ["ANTHROPIC_VERSION", "Claude"]

ANTHROPIC_VERSION = "bedrock-2023-05-31"
_KEYS = (
    "anthropic_version",
    "anthropic_beta",
    "max_tokens",
    "system",
    "messages",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "thinking",
)
_UNSUPPORTED = ("tools", "tool_choice", "thinking")
#: Models that take ``temperature`` or ``top_p``, not both.
_ONE_OF_TEMPERATURE_TOP_P = ("claude-sonnet-4-5", "claude-haiku-4-5")
_BOTH_SAMPLING = (
    "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
)
_ID_ALPHABET = string.ascii_letters + string.digits


class Claude:
    """The Anthropic Claude Messages API."""

    name = "anthropic"

    def parse(self, body: Mapping[str, Any], target: Target) -> Invocation:
        fields = Fields(body)
        fields.only(*_KEYS)
        for key in _UNSUPPORTED:
            if key in body:
                raise unsupported(key)
        fields.require("anthropic_version", "max_tokens", "messages")
        _check_version(fields)
        max_tokens = limit_max_tokens(fields.integer("max_tokens", 1, 1, None), target)
        generation = GenerationRequest(
            prompt=chat_prompt(_system(fields), _turns(fields)),
            max_tokens=max_tokens,
            sampling=_sampling(fields, target),
            stop_sequences=fields.strings("stop_sequences", 8191),
        )
        return Invocation(generation, {"model": target.model_id})

    def response(self, invocation: Invocation, text: str, finish: Finish) -> dict[str, Any]:
        return {
            **_message(invocation, _message_id()),
            "content": [{"type": "text", "text": text}],
            "stop_reason": finish.stop_reason,
            "stop_sequence": finish.stop_sequence,
            "usage": {"input_tokens": finish.input_tokens, "output_tokens": finish.output_tokens},
        }

    def stream(
        self, invocation: Invocation, events: Iterable[str | Finish]
    ) -> Iterator[dict[str, Any]]:
        for count, event in enumerate(events):
            if count == 0:
                yield from _opening(invocation)
            if isinstance(event, Finish):
                yield from _closing(event)
                return
            yield {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": event},
            }


def _check_version(fields: Fields) -> None:
    version = fields.typed("anthropic_version", "String")
    if version != ANTHROPIC_VERSION:
        raise ValidationException(f"Invalid API version: {version}")


def _sampling(fields: Fields, target: Target) -> SamplingParams:
    both = "temperature" in fields.values and "top_p" in fields.values
    if both and any(model in target.model_id for model in _ONE_OF_TEMPERATURE_TOP_P):
        raise ValidationException(_BOTH_SAMPLING)
    top_k = fields.integer("top_k", 0, 0, 500)
    return SamplingParams(
        temperature=fields.number("temperature", 1.0, 0, 1),
        top_p=fields.number("top_p", 0.999, 0, 1),
        top_k=top_k or None,
    )


def _system(fields: Fields) -> list[str]:
    if "system" not in fields.values:
        return []
    if isinstance(fields.values["system"], str):
        return [fields.values["system"]]
    if not isinstance(fields.values["system"], list):
        fields.typed("system", "String")
    return [_block_text(block) for block in fields.objects("system")]


def _turns(fields: Fields) -> list[tuple[str, str]]:
    turns = []
    for message in fields.objects("messages"):
        message.only("role", "content")
        message.require("role", "content")
        role = message.choice("role", ("user", "assistant"))
        turns.append((role, _content(message)))
    check_turns([role for role, _ in turns])
    return turns


def _content(message: Fields) -> str:
    if isinstance(message.values["content"], str):
        return message.values["content"]
    if not isinstance(message.values["content"], list):
        message.typed("content", "String")
    return "\n".join(_block_text(block) for block in message.objects("content"))


def _block_text(block: Fields) -> str:
    """The text of a ``{"type": "text", "text": ...}`` block."""
    block.require("type")
    kind = block.typed("type", "String")
    if kind != "text":
        raise unsupported(f"{kind} content")
    block.require("text")
    return block.string("text", "")


def _message_id() -> str:
    return "msg_bdrk_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _message(invocation: Invocation, message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": invocation.extras["model"],
    }


def _opening(invocation: Invocation) -> Iterator[dict[str, Any]]:
    message = {
        **_message(invocation, _message_id()),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens(invocation), "output_tokens": 1},
    }
    yield {"type": "message_start", "message": message}
    yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}


def _closing(finish: Finish) -> Iterator[dict[str, Any]]:
    yield {"type": "content_block_stop", "index": 0}
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": finish.stop_reason, "stop_sequence": finish.stop_sequence},
        "usage": {"output_tokens": finish.output_tokens},
    }
    yield {"type": "message_stop", "amazon-bedrock-invocationMetrics": invocation_metrics(finish)}
