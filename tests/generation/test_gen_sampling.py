"""The sampler on hand-made logits: temperature, then top-k, then top-p, exact expectations."""

from __future__ import annotations

import math

import pytest
import torch

from hpjobs.generation.sampling import SamplingParams, next_token, sampling_distribution


def logits_of(probabilities: list[float]) -> torch.Tensor:
    """Logits whose softmax is ``probabilities`` (up to float error)."""
    return torch.tensor([math.log(p) for p in probabilities])


def kept(distribution: torch.Tensor) -> set[int]:
    return {int(i) for i in torch.nonzero(distribution > 0).flatten()}


def test_distribution_is_softmax_at_temperature_one() -> None:
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0, -3.0])
    distribution = sampling_distribution(logits, SamplingParams())
    assert distribution.shape == (5,)
    torch.testing.assert_close(distribution, torch.softmax(logits, dim=-1))
    assert float(distribution.sum()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("temperature", [0.25, 0.5, 1.5, 3.0])
def test_temperature_divides_logits(temperature: float) -> None:
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0, -3.0])
    distribution = sampling_distribution(logits, SamplingParams(temperature=temperature))
    torch.testing.assert_close(distribution, torch.softmax(logits / temperature, dim=-1))


def test_lower_temperature_sharpens() -> None:
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0, -3.0])

    def entropy(temperature: float) -> float:
        p = sampling_distribution(logits, SamplingParams(temperature=temperature))
        return float(-(p * p.log()).sum())

    assert entropy(2.0) > entropy(1.0) > entropy(0.5) > entropy(0.1)


def test_half_precision_logits_give_float_probabilities() -> None:
    logits = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float16)
    distribution = sampling_distribution(logits, SamplingParams())
    assert distribution.dtype == torch.float32
    assert float(distribution.sum()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_top_k_keeps_exactly_k(k: int) -> None:
    logits = torch.tensor([0.3, 2.5, -1.0, 1.7, 0.9, -0.2, 3.1])
    distribution = sampling_distribution(logits, SamplingParams(top_k=k))
    best = {int(i) for i in torch.argsort(logits, descending=True)[:k]}
    assert kept(distribution) == best
    assert torch.all(distribution[sorted(set(range(7)) - best)] == 0)
    expected = torch.softmax(logits[sorted(best)], dim=-1)
    torch.testing.assert_close(distribution[sorted(best)], expected)


def test_top_k_larger_than_vocabulary_keeps_everything() -> None:
    logits = torch.tensor([0.3, 2.5, -1.0])
    distribution = sampling_distribution(logits, SamplingParams(top_k=50))
    torch.testing.assert_close(distribution, torch.softmax(logits, dim=-1))


@pytest.mark.parametrize("top_k", [None, 0])
def test_top_k_off(top_k: int | None) -> None:
    logits = torch.tensor([0.3, 2.5, -1.0, 1.0])
    distribution = sampling_distribution(logits, SamplingParams(top_k=top_k))
    torch.testing.assert_close(distribution, torch.softmax(logits, dim=-1))


# probabilities 0.5, 0.3, 0.15, 0.05 (cumulative 0.5, 0.8, 0.95, 1.0), shuffled in the vocabulary
PROBABILITIES = [0.15, 0.5, 0.05, 0.3]
ORDER = [1, 3, 0, 2]  # most likely first


@pytest.mark.parametrize(
    "top_p, size",
    [
        (0.0, 1),  # never fewer than one token
        (0.01, 1),
        (0.45, 1),
        (0.55, 2),
        (0.79, 2),
        (0.85, 3),
        (0.94, 3),
        (0.97, 4),
        (0.999, 4),
        (1.0, 4),  # off
    ],
)
def test_top_p_keeps_the_smallest_prefix_reaching_p(top_p: float, size: int) -> None:
    distribution = sampling_distribution(logits_of(PROBABILITIES), SamplingParams(top_p=top_p))
    assert kept(distribution) == set(ORDER[:size])
    total = sum(PROBABILITIES[i] for i in ORDER[:size])
    for index in ORDER[:size]:
        assert float(distribution[index]) == pytest.approx(PROBABILITIES[index] / total, rel=1e-5)


@pytest.mark.parametrize("vocabulary, top_p, size", [(4, 0.5, 2), (8, 0.25, 2), (8, 0.375, 3)])
def test_top_p_exactly_reached_stops_there(vocabulary: int, top_p: float, size: int) -> None:
    # Uniform logits give exact binary fractions: the prefix of ``size`` tokens sums to top_p
    # exactly, and reaching p is enough (no further token is added).
    distribution = sampling_distribution(torch.zeros(vocabulary), SamplingParams(top_p=top_p))
    assert len(kept(distribution)) == size
    for value in distribution[distribution > 0].tolist():
        assert value == pytest.approx(1 / size, rel=1e-6)


def test_top_p_applies_after_temperature() -> None:
    # At T=1 the best token alone holds 0.5 of the mass: top_p 0.5 keeps one token. A high
    # temperature flattens the distribution first, so the same top_p needs more tokens.
    logits = logits_of(PROBABILITIES)
    assert len(kept(sampling_distribution(logits, SamplingParams(1.0, 0.5)))) == 1
    flat = sampling_distribution(logits, SamplingParams(100.0, 0.5))
    assert kept(flat) == set(ORDER[:2])
    # and a low temperature sharpens it: top_p 0.9 then keeps only the best token
    assert kept(sampling_distribution(logits, SamplingParams(0.1, 0.9))) == {ORDER[0]}


def test_top_p_applies_after_top_k() -> None:
    # 0.4 and 0.3, then 30 tokens of 0.01. top_p 0.5 alone keeps two tokens (0.4 < 0.5); after
    # top_k 2 the survivors are renormalised to 4/7 and 3/7, so top_p 0.5 keeps only the first.
    probabilities = [0.4, 0.3] + [0.01] * 30
    logits = logits_of(probabilities)
    assert kept(sampling_distribution(logits, SamplingParams(top_p=0.5))) == {0, 1}
    assert kept(sampling_distribution(logits, SamplingParams(top_k=2))) == {0, 1}
    both = sampling_distribution(logits, SamplingParams(top_p=0.5, top_k=2))
    assert kept(both) == {0}
    assert float(both[0]) == pytest.approx(1.0)


def test_top_k_then_top_p_then_renormalised() -> None:
    probabilities = [0.05, 0.35, 0.25, 0.2, 0.15]
    distribution = sampling_distribution(
        logits_of(probabilities), SamplingParams(top_k=3, top_p=0.6)
    )
    # top_k 3: 0.35, 0.25, 0.2 -> renormalised 0.4375, 0.3125, 0.25; top_p 0.6 keeps two
    assert kept(distribution) == {1, 2}
    assert float(distribution[1]) == pytest.approx(0.35 / 0.6, rel=1e-5)
    assert float(distribution[2]) == pytest.approx(0.25 / 0.6, rel=1e-5)


def test_masked_tokens_have_exactly_zero_probability() -> None:
    logits = torch.randn(257, generator=torch.Generator().manual_seed(3))
    distribution = sampling_distribution(logits, SamplingParams(0.8, 0.7, 40))
    assert len(kept(distribution)) <= 40
    assert float(distribution.sum()) == pytest.approx(1.0, abs=1e-5)
    assert torch.all(distribution >= 0)


# -- next_token


def test_temperature_zero_is_argmax() -> None:
    logits = torch.tensor([0.1, 0.2, 5.0, 0.3, 4.9])
    generator = torch.Generator().manual_seed(0)
    for params in (SamplingParams(0.0), SamplingParams(0.0, 0.1, 1), SamplingParams(0.0, 1.0, 3)):
        assert all(next_token(logits, params, generator) == 2 for _ in range(20))


def test_greedy_ties_go_to_the_lowest_id() -> None:
    logits = torch.tensor([0.0, 3.0, 1.0, 3.0, 3.0])
    assert next_token(logits, SamplingParams(0.0), torch.Generator()) == 1


def test_greedy_does_not_touch_the_generator() -> None:
    generator = torch.Generator().manual_seed(5)
    before = generator.get_state().clone()
    next_token(torch.tensor([1.0, 2.0]), SamplingParams(0.0), generator)
    assert torch.equal(generator.get_state(), before)


def test_greedy_property() -> None:
    assert SamplingParams(0.0).greedy
    assert not SamplingParams(1e-6).greedy
    assert SamplingParams() == SamplingParams(1.0, 1.0, None)


def test_top_k_one_is_argmax_at_any_temperature() -> None:
    logits = torch.tensor([0.1, 0.2, 5.0, 0.3, 4.9])
    generator = torch.Generator().manual_seed(1)
    for temperature in (0.5, 1.0, 5.0, 100.0):
        params = SamplingParams(temperature, top_k=1)
        assert all(next_token(logits, params, generator) == 2 for _ in range(50))


def test_same_seed_same_draws() -> None:
    logits = torch.zeros(257)

    def draws(seed: int) -> list[int]:
        generator = torch.Generator().manual_seed(seed)
        return [next_token(logits, SamplingParams(), generator) for _ in range(30)]

    assert draws(11) == draws(11)
    assert draws(11) != draws(12)


def test_draws_stay_in_the_kept_set_and_follow_its_probabilities() -> None:
    probabilities = [0.05, 0.35, 0.25, 0.2, 0.15]
    params = SamplingParams(top_k=3, top_p=0.6)  # keeps 1 (7/12) and 2 (5/12)
    generator = torch.Generator().manual_seed(2024)
    counts = [0] * 5
    draws = 4000
    for _ in range(draws):
        counts[next_token(logits_of(probabilities), params, generator)] += 1
    assert counts[0] == counts[3] == counts[4] == 0
    # standard deviation of the share is about 0.008; a fixed seed makes this exact anyway
    assert counts[1] / draws == pytest.approx(7 / 12, abs=0.04)


def test_draws_follow_temperature() -> None:
    logits = torch.tensor([1.0, 0.0])
    generator = torch.Generator().manual_seed(7)

    def share_of_best(temperature: float) -> float:
        params = SamplingParams(temperature)
        return sum(next_token(logits, params, generator) == 0 for _ in range(3000)) / 3000

    # softmax([1, 0] / T)[0]: 0.62 at T=2, 0.73 at T=1, 0.88 at T=0.5
    assert share_of_best(2.0) == pytest.approx(0.622, abs=0.04)
    assert share_of_best(1.0) == pytest.approx(0.731, abs=0.04)
    assert share_of_best(0.5) == pytest.approx(0.881, abs=0.04)
