"""Generating text with a local byte-level model: a prompt in, text pieces and a finish out.

:func:`generate` runs the model with its KV cache, one token at a time, and yields the text as it
becomes safe to show, then a :class:`Finish` saying why it stopped:

- ``end_turn``: the model produced its end-of-text token;
- ``max_tokens``: ``max_tokens`` tokens were generated;
- ``stop_sequence``: the generated text contains one of ``stop_sequences``; the earliest match
  ends generation and neither it nor anything after it is returned;
- ``model_context_window_exceeded``: prompt and output filled the model's context.

Text is held back while it could still turn out to be the start of a stop sequence, so a stop
sequence never leaks into what is yielded. A prompt that does not leave room for one token is
refused with :class:`InputTooLong`. With a ``seed`` sampling is repeatable.
"""

from __future__ import annotations

import codecs
import functools
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hpjobs.algorithms.lm import END_OF_TEXT, ByteTransformer, KVCache, load_model
from hpjobs.generation.sampling import SamplingParams, next_token

__all__ = ["Finish", "GenerationRequest", "InputTooLong", "generate", "loaded_model"]


class InputTooLong(ValueError):
    """The prompt does not fit the model's context."""


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    max_tokens: int
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop_sequences: Sequence[str] = ()
    seed: int | None = None


@dataclass
class Finish:
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    first_token_ms: int
    latency_ms: int


_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _load(folder: str, modified: float) -> ByteTransformer:
    return load_model(Path(folder))


def loaded_model(folder: Path) -> ByteTransformer:
    """The model saved in ``folder``, loaded once (again if its weights change)."""
    with _LOCK:
        return _load(str(folder), (folder / "model.pt").stat().st_mtime)


class _StopWatch:
    """Text streaming with stop sequences: what is safe to emit, and the earliest match."""

    def __init__(self, stop_sequences: Sequence[str]) -> None:
        self.stops = [s for s in stop_sequences if s]
        self.hold = max((len(s) for s in self.stops), default=1) - 1
        self.text = ""
        self.emitted = 0
        self.matched: str | None = None

    def add(self, piece: str) -> str:
        """Take new text; return the text now safe to emit (empty once a stop matched)."""
        searched_from = max(0, len(self.text) - self.hold)
        self.text += piece
        found = [(self.text.find(s, searched_from), s) for s in self.stops]
        found = [(index, s) for index, s in found if index >= 0]
        if found:
            index, self.matched = min(found)
            return self._emit_to(index)
        return self._emit_to(len(self.text) - self.hold)

    def stopped(self) -> bool:
        return self.matched is not None

    def flush(self) -> str:
        return "" if self.matched is not None else self._emit_to(len(self.text))

    def _emit_to(self, end: int) -> str:
        if end <= self.emitted:
            return ""
        piece, self.emitted = self.text[self.emitted : end], end
        return piece


def _generator(seed: int | None) -> torch.Generator:
    return torch.Generator().manual_seed(secrets.randbits(63) if seed is None else seed)


@torch.inference_mode()
def generate(model: ByteTransformer, request: GenerationRequest) -> Iterator[str | Finish]:
    """Yield text pieces, then one :class:`Finish`."""
    started = time.perf_counter()
    prompt = list(request.prompt.encode("utf-8"))
    context = model.config.context_length
    if len(prompt) >= context:
        raise InputTooLong(f"{len(prompt)} prompt tokens do not fit a context of {context}")
    generator = _generator(request.seed)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    watch = _StopWatch(request.stop_sequences)
    logits, cache = model(torch.tensor([prompt]))
    produced, first_token_ms, reason = 0, 0, "max_tokens"
    while produced < request.max_tokens:
        token = next_token(logits[0, -1], request.sampling, generator)
        produced += 1
        if produced == 1:
            first_token_ms = _ms(started)
        if token == END_OF_TEXT:
            reason = "end_turn"
            break
        piece = watch.add(decoder.decode(bytes([token])))
        if piece:
            yield piece
        if watch.matched is not None:
            reason = "stop_sequence"
            break
        if len(prompt) + produced >= context:
            reason = "model_context_window_exceeded" if produced < request.max_tokens else reason
            break
        logits, cache = _step(model, token, cache)
    if watch.matched is None:
        rest = watch.add(decoder.decode(b"", final=True)) + watch.flush()
        if rest:
            yield rest
        if watch.stopped():
            reason = "stop_sequence"
    yield Finish(reason, watch.matched, len(prompt), produced, first_token_ms, _ms(started))


def _step(model: ByteTransformer, token: int, cache: KVCache) -> tuple[torch.Tensor, KVCache]:
    logits, cache = model(torch.tensor([[token]]), cache)
    return logits, cache


def _ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))
