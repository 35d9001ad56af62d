"""Meta Llama (3.x Instruct) on InvokeModel: the ``prompt`` body, response and stream.

Request (reference §3.4): ``prompt`` (required; used as it is, chat template and all),

===============  =======  ======
key              default  range
===============  =======  ======
``temperature``  0.5      0–1
``top_p``        0.9      0–1
``max_gen_len``  512      1–2048
===============  =======  ======

and nothing else: the native body has no stop parameter. The 2048 cap is the service's (seen
through Converse); the default is lowered to the local model's context when that is shorter.
Problems are worded as Bedrock's JSON-schema validator words them (``#/temperature: 1.5 is not
less or equal to 1``, ``#: extraneous key [stop] is not permitted``); that these exact texts
come back for Llama is *unverified*.

Response: ``{"generation", "prompt_token_count", "generation_token_count", "stop_reason"}`` with
``stop`` (end of text, or a stop sequence) or ``length`` (max tokens or a full context).

Stream: one chunk of the same keys per text piece, ``stop_reason`` null, ``prompt_token_count`` on
the first chunk only and ``generation_token_count`` running (UTF-8 bytes sent so far: the local
models read bytes); then a last chunk with empty ``generation``, the stop reason, the final count
and ``amazon-bedrock-invocationMetrics``. Which chunks carry the counts is *unverified*.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hpjobs.bedrock.families import (
    Fields,
    Invocation,
    Target,
    counted_stream,
    limit_max_tokens,
)
from hpjobs.generation.engine import Finish, GenerationRequest
from hpjobs.generation.sampling import SamplingParams

__all__ = ["STOP_REASONS", "Llama"]

#: Generation stop reasons in the words of Llama (and of Mistral's text completion).
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
}


class Llama:
    """Meta Llama text generation."""

    name = "llama"

    def parse(self, body: Mapping[str, Any], target: Target) -> Invocation:
        fields = Fields(body)
        fields.only("prompt", "temperature", "top_p", "max_gen_len")
        fields.require("prompt")
        max_tokens = fields.integer("max_gen_len", min(512, target.context_length), 1, 2048)
        generation = GenerationRequest(
            prompt=fields.text("prompt"),
            max_tokens=limit_max_tokens(max_tokens, target),
            sampling=SamplingParams(
                temperature=fields.number("temperature", 0.5, 0, 1),
                top_p=fields.number("top_p", 0.9, 0, 1),
            ),
        )
        return Invocation(generation)

    def response(self, invocation: Invocation, text: str, finish: Finish) -> dict[str, Any]:
        return {
            "generation": text,
            "prompt_token_count": finish.input_tokens,
            "generation_token_count": finish.output_tokens,
            "stop_reason": STOP_REASONS[finish.stop_reason],
        }

    def stream(
        self, invocation: Invocation, events: Iterable[str | Finish]
    ) -> Iterator[dict[str, Any]]:
        return counted_stream(
            invocation, events, _chunk, lambda f: {"stop_reason": STOP_REASONS[f.stop_reason]}
        )


def _chunk(text: str, input_count: int | None, output_count: int) -> dict[str, Any]:
    return {
        "generation": text,
        "prompt_token_count": input_count,
        "generation_token_count": output_count,
        "stop_reason": None,
    }
