"""Mistral AI text completion on InvokeModel: the ``prompt`` body, response and stream.

Request (reference §3.5): ``prompt`` (required; used as it is, ``<s>[INST] ... [/INST]`` and
all), ``max_tokens`` (integer ≥ 1), ``stop`` (at most 10 strings), ``temperature`` (0–1),
``top_p`` (0–1), ``top_k`` (integer 1–200). Defaults and the ``max_tokens`` cap depend on the
model:

=========================  ==========  ==============  ===========  =====  =====
model                      max_tokens  max_tokens cap  temperature  top_p  top_k
=========================  ==========  ==============  ===========  =====  =====
Mistral 7B (and others)    512         8192            0.5          0.9    50
Mixtral 8x7B               512         4096            0.5          0.9    50
Mistral Large, Small       8192        8192            0.7          1      off
=========================  ==========  ==============  ===========  =====  =====

The reference gives the temperature, top_p and top_k defaults and ranges from memory of the AWS
table, *unverified*. Default ``max_tokens`` is lowered to the local model's context when that is
shorter. Problems are worded as Bedrock's JSON-schema validator words them (``#/top_k: 0 is not
greater or equal to 1``); that these texts come back for Mistral is *unverified*.

Response: ``{"outputs": [{"text", "stop_reason"}]}`` with ``stop`` (end of text, or a stop
sequence) or ``length`` (max tokens or a full context).

Stream (*unverified*; the reference gives no capture): one ``{"outputs": [{"text", "stop_reason":
null}]}`` chunk per text piece, then a last chunk with empty text, the stop reason and
``amazon-bedrock-invocationMetrics``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hpjobs.bedrock.families import (
    Fields,
    Invocation,
    Target,
    invocation_metrics,
    limit_max_tokens,
)
from hpjobs.bedrock.families.llama import STOP_REASONS
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

__all__ = ["Mistral"]


@dataclass(frozen=True)
class _Variant:
    max_tokens: int
    max_tokens_cap: int
    temperature: float
    top_p: float
    top_k: int | None


_SMALL = _Variant(512, 8192, 0.5, 0.9, 50)
_MIXTRAL = _Variant(512, 4096, 0.5, 0.9, 50)
_LARGE = _Variant(8192, 8192, 0.7, 1.0, None)


class Mistral:
    """Mistral AI text completion (7B, Mixtral, Large, Small)."""

    name = "mistral"

    def parse(self, body: Mapping[str, Any], target: Target) -> Invocation:
        fields = Fields(body)
        fields.only("prompt", "max_tokens", "stop", "temperature", "top_p", "top_k")
        fields.require("prompt")
        variant = _variant(target)
        default_tokens = min(variant.max_tokens, target.context_length)
        max_tokens = fields.integer("max_tokens", default_tokens, 1, variant.max_tokens_cap)
        generation = GenerationRequest(
            prompt=fields.text("prompt"),
            max_tokens=limit_max_tokens(max_tokens, target),
            sampling=SamplingParams(
                temperature=fields.number("temperature", variant.temperature, 0, 1),
                top_p=fields.number("top_p", variant.top_p, 0, 1),
                top_k=_top_k(fields, variant),
            ),
            stop_sequences=fields.strings("stop", 10),
        )
        return Invocation(generation)

    def response(self, invocation: Invocation, text: str, finish: Finish) -> dict[str, Any]:
        return {"outputs": [{"text": text, "stop_reason": STOP_REASONS[finish.stop_reason]}]}

    def stream(
        self, invocation: Invocation, events: Iterable[str | Finish]
    ) -> Iterator[dict[str, Any]]:
        for event in events:
            if isinstance(event, Finish):
                yield {
                    **self.response(invocation, "", event),
                    "amazon-bedrock-invocationMetrics": invocation_metrics(event),
                }
                return
            yield {"outputs": [{"text": event, "stop_reason": None}]}


def _variant(target: Target) -> _Variant:
    model = target.model_id
    if "mixtral" in model:
        return _MIXTRAL
    if "mistral-large" in model or "mistral-small" in model:
        return _LARGE
    return _SMALL


def _top_k(fields: Fields, variant: _Variant) -> int | None:
    if "top_k" not in fields.values:
        return variant.top_k
    return fields.integer("top_k", 0, 1, 200)
