"""Amazon Nova (Micro, Lite, Pro) on InvokeModel: the messages body, response and stream.

Request (reference §3.7), the Converse schema: ``schemaVersion`` (optional, ``messages-v1``),
``system`` (``[{"text": ...}]``), ``messages`` (required; ``{"role": "user" | "assistant",
"content": [{"text": ...}]}``, ``user`` first, then alternating) and ``inferenceConfig``:

=========================================  ================  ==========================
key                                        default           range
=========================================  ================  ==========================
``maxTokens`` (or ``max_new_tokens``)      5000 ("dynamic")  integer 1–5000
``temperature``                            0.7               0.00001–1
``topP`` (or ``top_p``)                    0.9               0–1
``topK``                                   50                integer ≥ 0 (0 = off)
``stopSequences``                          none              strings
=========================================  ================  ==========================

Both spellings of max tokens and top p are accepted, as callers send both (the camelCase one wins
when both come). The documented default of ``maxTokens`` is "dynamic": here 5000, lowered to the
local model's context when that is shorter. The reference gives the temperature minimum as
0.00001 (Nova 1 documents "greater than 0"), so 0 is refused; ``topK`` has no documented maximum
for Nova 1 (Nova 2 documents 0–128). Range and type problems follow Bedrock's JSON-schema
validator style (``#/inferenceConfig/temperature: 1.5 is not less or equal to 1``), *unverified*
for Nova; the conversation-order and blank-text texts are Converse's (reference §4.4).
``toolConfig`` and non-text content (images, video, documents, tools) are refused: the local
models generate text only.

Response: ``{"output": {"message": {"role": "assistant", "content": [{"text"}]}}, "stopReason",
"usage": {"inputTokens", "outputTokens", "totalTokens"}}``, ``stopReason`` ``end_turn``,
``max_tokens`` (max tokens or a full context) or ``stop_sequence``.

Stream: Converse-style objects, ``{"messageStart": {"role": "assistant"}}`` then one
``{"contentBlockDelta": {"delta": {"text"}, "contentBlockIndex": 0}}`` per text piece, then
``contentBlockStop``, ``messageStop`` (``stopReason``) and ``{"metadata": {"usage": ...}}``
carrying ``amazon-bedrock-invocationMetrics``. The closing chunks beyond the deltas are
*unverified* (the reference shows only a delta).
"""

from __future__ import annotations

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
    unsupported,
)
from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

__all__ = ["Nova"]

_CONFIG_KEYS = (
    "maxTokens",
    "max_new_tokens",
    "temperature",
    "topP",
    "top_p",
    "topK",
    "stopSequences",
)
_STOP_REASONS = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "stop_sequence": "stop_sequence",
}


class Nova:
    """Amazon Nova understanding models."""

    name = "nova"

    def parse(self, body: Mapping[str, Any], target: Target) -> Invocation:
        fields = Fields(body)
        fields.only("schemaVersion", "system", "messages", "inferenceConfig", "toolConfig")
        if "toolConfig" in body:
            raise unsupported("toolConfig")
        fields.require("messages")
        if "schemaVersion" in body:
            fields.choice("schemaVersion", ("messages-v1",))
        system = [_text(block) for block in fields.objects("system")]
        config = fields.nested("inferenceConfig")
        config.only(*_CONFIG_KEYS)
        generation = GenerationRequest(
            prompt=chat_prompt(system, _turns(fields)),
            max_tokens=_max_tokens(config, target),
            sampling=SamplingParams(
                temperature=config.number("temperature", 0.7, 0.00001, 1),
                top_p=config.number(_spelling(config, "topP", "top_p"), 0.9, 0, 1),
                top_k=config.integer("topK", 50, 0, None) or None,
            ),
            stop_sequences=config.strings("stopSequences", None),
        )
        return Invocation(generation)

    def response(self, invocation: Invocation, text: str, finish: Finish) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": _STOP_REASONS[finish.stop_reason],
            "usage": _usage(finish),
        }

    def stream(
        self, invocation: Invocation, events: Iterable[str | Finish]
    ) -> Iterator[dict[str, Any]]:
        for count, event in enumerate(events):
            if count == 0:
                yield {"messageStart": {"role": "assistant"}}
            if isinstance(event, Finish):
                yield from _closing(event)
                return
            yield {"contentBlockDelta": {"delta": {"text": event}, "contentBlockIndex": 0}}


def _spelling(config: Fields, preferred: str, other: str) -> str:
    """The key a value is read from: ``preferred`` unless only ``other`` was sent."""
    return other if other in config.values and preferred not in config.values else preferred


def _max_tokens(config: Fields, target: Target) -> int:
    key = _spelling(config, "maxTokens", "max_new_tokens")
    return limit_max_tokens(config.integer(key, min(5000, target.context_length), 1, 5000), target)


def _turns(fields: Fields) -> list[tuple[str, str]]:
    turns = []
    for index, message in enumerate(fields.objects("messages")):
        message.only("role", "content")
        message.require("role", "content")
        role = message.choice("role", ("user", "assistant"))
        texts = [_text(block) for block in message.objects("content")]
        for place, text in enumerate(texts):
            if not text.strip():
                raise ValidationException(
                    f"The text field in the ContentBlock object at messages.{index}.content."
                    f"{place} is blank. Add text to the text field, and try again."
                )
        turns.append((role, "\n".join(texts)))
    check_turns([role for role, _ in turns])
    return turns


def _text(block: Fields) -> str:
    """The text of a ``{"text": ...}`` content block."""
    if "text" not in block.values and block.values:
        raise unsupported(f"{next(iter(block.values))} content")
    block.require("text")
    return block.string("text", "")


def _usage(finish: Finish) -> dict[str, int]:
    return {
        "inputTokens": finish.input_tokens,
        "outputTokens": finish.output_tokens,
        "totalTokens": finish.input_tokens + finish.output_tokens,
    }


def _closing(finish: Finish) -> Iterator[dict[str, Any]]:
    yield {"contentBlockStop": {"contentBlockIndex": 0}}
    yield {"messageStop": {"stopReason": _STOP_REASONS[finish.stop_reason]}}
    yield {
        "metadata": {"usage": _usage(finish)},
        "amazon-bedrock-invocationMetrics": invocation_metrics(finish),
    }
