"""Choosing the next token: temperature, then top-k, then top-p (the order Hugging Face
transformers applies its warpers in).

- ``temperature == 0`` is greedy: the most likely token, always (ties go to the lowest id).
- Otherwise the logits are divided by the temperature;
- ``top_k`` (None or 0 = off) keeps the k most likely tokens;
- ``top_p`` (1 = off) keeps the smallest set of most likely tokens whose probabilities add up to
  at least ``top_p`` (never fewer than one token);
- the token is drawn from what is left, renormalised, with the caller's random generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["SamplingParams", "next_token", "sampling_distribution"]


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def sampling_distribution(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """The probabilities the next token is drawn from (1-D, summing to 1), for non-greedy
    parameters."""
    scores = logits.float() / params.temperature
    if params.top_k:
        k = min(params.top_k, scores.shape[-1])
        kth = torch.topk(scores, k).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if params.top_p < 1.0:
        ordered, order = torch.sort(scores, descending=True)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        # drop a token when the tokens before it already reach top_p
        drop = (cumulative - torch.softmax(ordered, dim=-1)) >= params.top_p
        drop[0] = False
        scores = scores.scatter(0, order, ordered.masked_fill(drop, float("-inf")))
    return torch.softmax(scores, dim=-1)


def next_token(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """The id of the next token for 1-D ``logits``."""
    if params.greedy:
        return int(torch.argmax(logits))
    probabilities = sampling_distribution(logits, params)
    return int(torch.multinomial(probabilities, 1, generator=generator))
