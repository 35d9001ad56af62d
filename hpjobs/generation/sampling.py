"""Choosing the next token: temperature, then top-k, then top-p (the order Hugging Face
transformers applies its warpers in).

- ``temperature == 0`` is greedy: the most likely token, always (ties go to the lowest id).
- Otherwise the logits are divided by the temperature;
- ``top_k`` (None or 0 = off) keeps the k most likely tokens (and any tied with the k-th);
- ``top_p`` (1 = off) keeps the smallest set of most likely tokens whose probabilities add up to
  at least ``top_p`` (never fewer than one token);
- the token is drawn from what is left, renormalised, with the caller's random generator.

Everything happens on the logits sorted once, which keeps sampling within a few percent of a
greedy step's cost.
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


def _sorted_distribution(
    logits: torch.Tensor, params: SamplingParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities in descending order, the token id of each), after all three filters."""
    ordered, order = torch.sort(logits.float() / params.temperature, descending=True)
    if params.top_k and params.top_k < ordered.shape[-1]:
        ordered = ordered.masked_fill(ordered < ordered[params.top_k - 1], float("-inf"))
    probabilities = torch.softmax(ordered, dim=-1)
    if params.top_p < 1.0:
        # drop a token when the tokens before it already reach top_p (the first always stays)
        before = probabilities.cumsum(dim=-1) - probabilities
        keep = before < params.top_p
        keep[0] = True
        probabilities = probabilities * keep
        probabilities = probabilities / probabilities.sum()
    return probabilities, order


def sampling_distribution(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """The probabilities the next token is drawn from (1-D over the vocabulary, summing to 1),
    for non-greedy parameters."""
    probabilities, order = _sorted_distribution(logits, params)
    return torch.zeros_like(probabilities).scatter(0, order, probabilities)


def next_token(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """The id of the next token for 1-D ``logits``."""
    if params.greedy:
        return int(torch.argmax(logits))
    probabilities, order = _sorted_distribution(logits, params)
    cumulative = probabilities.cumsum(dim=-1)
    draw = torch.rand((), generator=generator) * cumulative[-1]
    index = min(int(torch.searchsorted(cumulative, draw, right=True)), len(order) - 1)
    while probabilities[index] == 0:  # never land on a token the filters removed
        index -= 1
    return int(order[index])
