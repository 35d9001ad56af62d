"""Amazon Titan Text on InvokeModel: the ``inputText`` body, response and stream.

Request: ``{"inputText": str, "textGenerationConfig": {...}}``, ``inputText`` required and used
as the prompt as it is (reference §3.3):

=================  ========  ======================================================
config key         default   range
=================  ========  ======================================================
``temperature``    0.7       0–1
``topP``           0.9       0–1
``maxTokenCount``  512       0 to Lite 4096 / Express 8192 / Premier 3072 (others 8192)
``stopSequences``  none      at most 1 item, matching ``^(\\|+|User:)$``
=================  ========  ======================================================

Titan's validator words its problems without a JSON pointer: ``Malformed input request: expected
maximum item count: 1, found: 5, please reformat your input and try again.`` and ``string [x]
does not match pattern ^(\\|+|User:)$`` are the service's (boto/boto3#3993); the other texts
(``1.5 is not less or equal to 1``, ``extraneous key [x] is not permitted``, ...) follow the same
style without having been seen for Titan (*unverified*). The default ``maxTokenCount`` is lowered
to the local model's context when that is shorter.

Response: ``{"inputTextTokenCount", "results": [{"tokenCount", "outputText",
"completionReason"}]}`` with ``FINISH`` (what the service sends, though documented as
``FINISHED``), ``LENGTH`` (max tokens or a full context) or ``STOP_CRITERIA_MET``.

Stream: one ``{"outputText", "index": 0, "totalOutputTextTokenCount", "completionReason": null,
"inputTextTokenCount"}`` chunk per text piece (the input count on the first chunk only, null
after; the running output count is the UTF-8 bytes sent so far, the local models reading
bytes), then a last chunk with empty ``outputText``, the completion reason, the final output
count and ``amazon-bedrock-invocationMetrics``. Exactly which chunks the service fills the counts
on is *unverified*.
"""

from __future__ import annotations

import re
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

__all__ = ["Titan"]

_STOP_PATTERN = r"^(\|+|User:)$"
_MAX_TOKEN_COUNT = {"titan-text-lite": 4096, "titan-text-express": 8192, "titan-text-premier": 3072}
_COMPLETION_REASONS = {
    "end_turn": "FINISH",
    "max_tokens": "LENGTH",
    "stop_sequence": "STOP_CRITERIA_MET",
    "model_context_window_exceeded": "LENGTH",
}


class Titan:
    """Amazon Titan Text (Lite, Express, Premier)."""

    name = "titan"

    def parse(self, body: Mapping[str, Any], target: Target) -> Invocation:
        fields = Fields(body, pointed=False)
        fields.only("inputText", "textGenerationConfig")
        fields.require("inputText")
        config = fields.nested("textGenerationConfig")
        config.only("temperature", "topP", "maxTokenCount", "stopSequences")
        default_tokens = min(512, target.context_length)
        max_tokens = config.integer("maxTokenCount", default_tokens, 0, _token_cap(target))
        generation = GenerationRequest(
            prompt=fields.text("inputText"),
            max_tokens=limit_max_tokens(max_tokens, target),
            sampling=SamplingParams(
                temperature=config.number("temperature", 0.7, 0, 1),
                top_p=config.number("topP", 0.9, 0, 1),
            ),
            stop_sequences=_stop_sequences(config),
        )
        return Invocation(generation)

    def response(self, invocation: Invocation, text: str, finish: Finish) -> dict[str, Any]:
        result = {
            "tokenCount": finish.output_tokens,
            "outputText": text,
            "completionReason": _COMPLETION_REASONS[finish.stop_reason],
        }
        return {"inputTextTokenCount": finish.input_tokens, "results": [result]}

    def stream(
        self, invocation: Invocation, events: Iterable[str | Finish]
    ) -> Iterator[dict[str, Any]]:
        return counted_stream(
            invocation,
            events,
            _chunk,
            lambda f: {"completionReason": _COMPLETION_REASONS[f.stop_reason]},
        )


def _token_cap(target: Target) -> int:
    for model, cap in _MAX_TOKEN_COUNT.items():
        if model in target.model_id:
            return cap
    return 8192


def _stop_sequences(config: Fields) -> tuple[str, ...]:
    stops = config.strings("stopSequences", 1)
    for stop in stops:
        if not re.fullmatch(r"\|+|User:", stop):
            raise config.error(
                "stopSequences", f"string [{stop}] does not match pattern {_STOP_PATTERN}"
            )
    return stops


def _chunk(text: str, input_count: int | None, output_count: int) -> dict[str, Any]:
    return {
        "outputText": text,
        "index": 0,
        "totalOutputTextTokenCount": output_count,
        "completionReason": None,
        "inputTextTokenCount": input_count,
    }
