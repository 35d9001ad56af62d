"""The generation engine on the model that ships with hpjobs (``jargon``): the KV cache, greedy and
seeded sampling, the statistical effect of temperature, top-p and top-k at every step, stop
reasons, stop sequences while streaming, context limits and byte token counts.

Every statistical check uses fixed seeds, so it gives the same answer on every run; sample sizes
leave wide margins so that the checks hold for any reasonably trained model. A few exact
mechanics (end of text, multi-byte characters split across tokens, stop sequences split across
pieces) are also driven by a scripted stand-in model whose next token is known.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, cast

import pytest
import torch

from hpjobs.algorithms.lm import END_OF_TEXT, ByteTransformer, KVCache, ModelConfig
from hpjobs.generation.engine import (
    Finish,
    GenerationRequest,
    InputTooLong,
    generate,
    loaded_model,
)
from hpjobs.generation.registry import local_model_path
from hpjobs.generation.sampling import SamplingParams

FOLDER = local_model_path("jargon")


pytestmark = pytest.mark.skipif(
    not (FOLDER / "model.pt").is_file(), reason=f"the shipped jargon model is not in {FOLDER}"
)

PROMPT = "User: What is a kludge?\n\nAssistant:"
TEXT_PROMPT = "hacker n. A person who enjoys exploring the details of programmable systems and"


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """A model this small runs fastest on one thread (and far faster than on threads that fight
    other processes for a few cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model() -> ByteTransformer:
    return loaded_model(FOLDER)


def run(
    model: ByteTransformer,
    prompt: str,
    max_tokens: int = 40,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int | None = None,
    stops: Sequence[str] = (),
    seed: int | None = 0,
) -> tuple[list[str], Finish]:
    """The text pieces and the finish of one generation."""
    request = GenerationRequest(
        prompt, max_tokens, SamplingParams(temperature, top_p, top_k), tuple(stops), seed
    )
    events = list(generate(model, request))
    finish = events[-1]
    assert isinstance(finish, Finish)
    pieces = [event for event in events[:-1] if isinstance(event, str)]
    assert len(pieces) == len(events) - 1, "only the last event is a Finish"
    assert all(pieces), "no empty pieces"
    return pieces, finish


def text_of(model: ByteTransformer, prompt: str, **options: Any) -> str:
    pieces, _ = run(model, prompt, **options)
    return "".join(pieces)


@torch.inference_mode()
def logits_for(model: ByteTransformer, tokens: Sequence[int]) -> torch.Tensor:
    """Logits at every position of ``tokens`` from one full forward pass (no cache)."""
    logits, _ = model(torch.tensor([list(tokens)]))
    result: torch.Tensor = logits[0].double()
    return result


def generated_tokens(prompt: str, pieces: Sequence[str], finish: Finish) -> list[int]:
    """The token ids a generation drew, read back from its text (bytes, then end of text)."""
    text = "".join(pieces)
    assert "\ufffd" not in text, "the drawn bytes must decode cleanly to be replayed"
    drawn = list(text.encode("utf-8"))
    if finish.stop_reason == "end_turn":
        drawn.append(END_OF_TEXT)
    assert finish.input_tokens == len(prompt.encode("utf-8"))
    assert len(drawn) == finish.output_tokens
    return drawn


def entropy(counts: Counter[str]) -> float:
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())


# -- the model and its cache ---------------------------------------------------------------------


def test_shipped_model_shape(model: ByteTransformer) -> None:
    assert model.config.context_length == 256
    assert model.config.vocab_size == 257
    parameters = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < parameters < 4_000_000
    assert not model.training


@torch.inference_mode()
def test_kv_cache_gives_the_full_forward_logits(model: ByteTransformer) -> None:
    tokens = list((TEXT_PROMPT + " who like to know how things work.").encode("utf-8"))
    tokens = (tokens * 4)[: model.config.context_length - 10]
    full = logits_for(model, tokens)
    # a prefix, then a chunk of several tokens through the cache, then one token at a time
    logits, cache = model(torch.tensor([tokens[:50]]))
    torch.testing.assert_close(logits[0].double(), full[:50], atol=1e-5, rtol=1e-5)
    logits, cache = model(torch.tensor([tokens[50:80]]), cache)
    torch.testing.assert_close(logits[0].double(), full[50:80], atol=1e-5, rtol=1e-5)
    for index in range(80, len(tokens)):
        logits, cache = model(torch.tensor([[tokens[index]]]), cache)
        torch.testing.assert_close(logits[0, -1].double(), full[index], atol=1e-5, rtol=1e-5)
    assert cache[0][0].shape[2] == len(tokens)


@torch.inference_mode()
def test_the_cache_holds_the_whole_context_and_no_more(model: ByteTransformer) -> None:
    context = model.config.context_length
    tokens = list(("x" * context).encode("utf-8"))
    full = logits_for(model, tokens)
    _, cache = model(torch.tensor([tokens[:-1]]))
    logits, cache = model(torch.tensor([tokens[-1:]]), cache)
    torch.testing.assert_close(logits[0, -1].double(), full[-1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=f"exceed the context length {context}"):
        model(torch.tensor([[65]]), cache)


def test_cached_generation_equals_greedy_replay(model: ByteTransformer) -> None:
    pieces, finish = run(model, TEXT_PROMPT, max_tokens=60, temperature=0)
    drawn = generated_tokens(TEXT_PROMPT, pieces, finish)
    tokens = list(TEXT_PROMPT.encode("utf-8")) + drawn
    logits = logits_for(model, tokens)
    start = len(TEXT_PROMPT.encode("utf-8"))
    for step, token in enumerate(drawn):
        assert int(torch.argmax(logits[start + step - 1])) == token


# -- greedy and seeds ----------------------------------------------------------------------------


def test_temperature_zero_is_deterministic(model: ByteTransformer) -> None:
    first = run(model, PROMPT, max_tokens=60, temperature=0, seed=None)
    second = run(model, PROMPT, max_tokens=60, temperature=0, seed=None)
    assert "".join(first[0]) == "".join(second[0])
    assert first[1].stop_reason == second[1].stop_reason
    assert first[1].output_tokens == second[1].output_tokens
    # and top_p/top_k do not change a greedy choice
    assert text_of(model, PROMPT, max_tokens=60, temperature=0, top_p=0.1, top_k=3) == "".join(
        first[0]
    )


@pytest.mark.parametrize("temperature, seed", [(0.3, 1), (1.0, 2), (1.5, None)])
def test_top_k_one_is_greedy_at_any_temperature(
    model: ByteTransformer, temperature: float, seed: int | None
) -> None:
    greedy = text_of(model, PROMPT, max_tokens=60, temperature=0)
    assert text_of(model, PROMPT, max_tokens=60, temperature=temperature, top_k=1, seed=seed) == (
        greedy
    )


def test_same_seed_same_text_different_seeds_differ(model: ByteTransformer) -> None:
    texts = [text_of(model, PROMPT, max_tokens=40, seed=seed) for seed in range(5)]
    assert texts == [text_of(model, PROMPT, max_tokens=40, seed=seed) for seed in range(5)]
    assert len(set(texts)) == 5


# -- statistical effects -------------------------------------------------------------------------


def test_lower_temperature_lowers_the_entropy_of_draws(model: ByteTransformer) -> None:
    temperatures = (1.5, 1.0, 0.5)

    def entropies(prompt: str) -> list[float]:
        logits = logits_for(model, list(prompt.encode()))[-1]
        spreads = []
        for t in temperatures:
            p = torch.softmax(logits / t, dim=-1)
            spreads.append(float(-(p * p.log()).sum()))
        return spreads

    # the prompt (of a few) where temperature changes the model's entropy the most
    candidates = ["The ", "A ", "In the ", "It is a ", "hacker n. ", TEXT_PROMPT + " "]
    expected = {c: entropies(c) for c in candidates}
    prompt = max(
        candidates,
        key=lambda c: min(expected[c][0] - expected[c][1], expected[c][1] - expected[c][2]),
    )
    samples = 300
    measured = []
    for temperature, truth in zip(temperatures, expected[prompt], strict=True):
        counts: Counter[str] = Counter()
        for seed in range(samples):
            pieces, finish = run(model, prompt, 1, temperature, seed=seed)
            counts["<end>" if finish.stop_reason == "end_turn" else "".join(pieces)] += 1
        measured.append(entropy(counts))
        # the plug-in estimate from 300 draws is a little low, and close to the model's own
        assert truth - 0.5 < measured[-1] < truth + 0.15, (temperature, truth, measured)
    assert measured[0] > measured[1] > measured[2], measured


def nucleus(probabilities: torch.Tensor, top_p: float) -> set[int]:
    """The smallest set of most likely tokens whose probabilities reach ``top_p``."""
    ordered, order = torch.sort(probabilities, descending=True)
    before = ordered.cumsum(dim=0) - ordered
    return {int(order[i]) for i in range(len(order)) if float(before[i]) < top_p - 1e-9}


@pytest.mark.parametrize("temperature", [1.0, 1.5])
def test_top_p_never_draws_outside_the_nucleus(model: ByteTransformer, temperature: float) -> None:
    steps = 0
    prompts = [PROMPT, TEXT_PROMPT, "The "]
    for seed in range(24):
        prompt = prompts[seed % len(prompts)]
        pieces, finish = run(model, prompt, 50, temperature, top_p=0.5, seed=seed)
        drawn = generated_tokens(prompt, pieces, finish)
        logits = logits_for(model, list(prompt.encode("utf-8")) + drawn)
        start = len(prompt.encode("utf-8"))
        for step, token in enumerate(drawn):
            allowed = nucleus(torch.softmax(logits[start + step - 1] / temperature, dim=0), 0.5)
            assert token in allowed, (seed, step, token, allowed)
            steps += 1
    assert steps >= 24 * 20


@pytest.mark.parametrize("k", [1, 3])
def test_top_k_never_draws_outside_the_k_most_likely(model: ByteTransformer, k: int) -> None:
    prompts = [PROMPT, TEXT_PROMPT, "The "]
    for seed in range(18):
        prompt = prompts[seed % len(prompts)]
        pieces, finish = run(model, prompt, 50, 1.5, top_k=k, seed=seed)
        drawn = generated_tokens(prompt, pieces, finish)
        logits = logits_for(model, list(prompt.encode("utf-8")) + drawn)
        start = len(prompt.encode("utf-8"))
        for step, token in enumerate(drawn):
            best = torch.topk(logits[start + step - 1], k).indices.tolist()
            assert token in best, (seed, step, token, best)


# -- stop reasons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("max_tokens", [1, 7, 30])
def test_max_tokens_caps_the_output(model: ByteTransformer, max_tokens: int) -> None:
    pieces, finish = run(model, TEXT_PROMPT, max_tokens, temperature=0)
    assert finish.stop_reason == "max_tokens"
    assert finish.output_tokens == max_tokens
    assert len("".join(pieces).encode("utf-8")) == max_tokens
    assert finish.stop_sequence is None


def test_max_tokens_zero_generates_nothing(model: ByteTransformer) -> None:
    pieces, finish = run(model, TEXT_PROMPT, 0)
    assert (pieces, finish.stop_reason, finish.output_tokens) == ([], "max_tokens", 0)


@pytest.mark.parametrize("stop", [" ", "e"])
def test_stop_sequence_ends_at_its_first_occurrence(model: ByteTransformer, stop: str) -> None:
    for seed in range(4):
        full = text_of(model, PROMPT, max_tokens=80, seed=seed)
        assert stop in full, "the stop string is one this model writes"
        pieces, finish = run(model, PROMPT, 80, stops=[stop], seed=seed)
        text = "".join(pieces)
        assert text == full[: full.index(stop)]
        assert all(stop not in piece for piece in pieces)
        assert finish.stop_reason == "stop_sequence"
        assert finish.stop_sequence == stop
        assert finish.output_tokens == len((text + stop).encode("utf-8"))


def test_two_character_stop_never_leaks_into_pieces(model: ByteTransformer) -> None:
    for seed in range(6):
        full = text_of(model, PROMPT, max_tokens=80, temperature=0.8, seed=seed)
        stop = full[12:14]  # written by the model, so found at its first occurrence (≤ 12)
        pieces, finish = run(model, PROMPT, 80, temperature=0.8, stops=[stop], seed=seed)
        text = "".join(pieces)
        assert text == full[: full.index(stop)]
        assert stop not in text
        assert finish.stop_reason == "stop_sequence"
        assert finish.stop_sequence == stop
        # no prefix of the stream holds the stop (and the exact text above shows that its first
        # character, held back while the stop could still complete, was never sent)
        for index in range(1, len(pieces) + 1):
            assert stop not in "".join(pieces[:index])


def test_the_earliest_of_several_stop_sequences_wins(model: ByteTransformer) -> None:
    full = text_of(model, PROMPT, max_tokens=80, temperature=0.8, seed=3)
    early = full[10:12]
    late = next(
        full[i : i + 3] for i in range(20, 70) if full.find(full[i : i + 3]) > full.find(early)
    )
    pieces, finish = run(model, PROMPT, 80, temperature=0.8, stops=[late, early], seed=3)
    assert "".join(pieces) == full[: full.index(early)]
    assert finish.stop_sequence == early


def test_a_stop_string_never_written_changes_nothing(model: ByteTransformer) -> None:
    full = run(model, PROMPT, 60, seed=8)
    stopped = run(model, PROMPT, 60, stops=["\x00never\x00", ""], seed=8)
    assert "".join(stopped[0]) == "".join(full[0])
    assert stopped[1].stop_reason == full[1].stop_reason
    assert stopped[1].stop_sequence is None


def test_prompt_of_a_whole_context_is_too_long(model: ByteTransformer) -> None:
    context = model.config.context_length
    with pytest.raises(InputTooLong):
        run(model, "a" * context)
    with pytest.raises(InputTooLong):
        run(model, "é" * (context // 2))  # 128 characters, 256 bytes
    with pytest.raises(InputTooLong):
        run(model, "a" * (context + 50))


def test_filling_the_context_stops_generation(model: ByteTransformer) -> None:
    context = model.config.context_length
    prompt = (TEXT_PROMPT + " ") * 4
    prompt = prompt[: context - 20]
    _, finish = run(model, prompt, max_tokens=100, temperature=0)
    if finish.stop_reason != "end_turn":
        assert finish.stop_reason == "model_context_window_exceeded"
        assert finish.output_tokens == 20
        assert finish.input_tokens + finish.output_tokens == context
    # with max_tokens exactly what the context leaves, max_tokens is the reason
    _, exact = run(model, prompt, max_tokens=20, temperature=0)
    assert exact.stop_reason == "max_tokens"


def test_one_byte_of_room_gives_one_token(model: ByteTransformer) -> None:
    context = model.config.context_length
    prompt = ("hacker " * 40)[: context - 1]
    logits = logits_for(model, list(prompt.encode()))[-1]
    assert int(torch.argmax(logits)) != END_OF_TEXT
    _, finish = run(model, prompt, max_tokens=10, temperature=0)
    assert finish.stop_reason == "model_context_window_exceeded"
    assert finish.output_tokens == 1
    assert finish.input_tokens == context - 1


def test_token_counts_are_bytes(model: ByteTransformer) -> None:
    prompt = "Café “naïve” ─ 日本 ☕: "
    for seed in range(5):
        pieces, finish = run(model, prompt, 40, temperature=0.7, seed=seed)
        assert finish.input_tokens == len(prompt.encode("utf-8")) == len(prompt) + 14
        text = "".join(pieces)
        if finish.stop_reason == "max_tokens" and text.endswith("\ufffd"):
            # max_tokens cut a multi-byte character: its 1-3 bytes show as U+FFFD
            assert 1 <= finish.output_tokens - len(text[:-1].encode("utf-8")) <= 3
            text = text[:-1]
        else:
            tail = 1 if finish.stop_reason == "end_turn" else 0
            assert finish.output_tokens == len(text.encode("utf-8")) + tail
        assert "\ufffd" not in text


def test_model_writes_multi_byte_characters_cleanly(model: ByteTransformer) -> None:
    # the Jargon File quotes with “ ” (3 bytes each) and draws boxes with ─
    prompt = "The word “hack"
    for seed in range(10):
        pieces, finish = run(model, prompt, 30, temperature=0.5, stops=["\n"], seed=seed)
        text = "".join(pieces)
        assert "\ufffd" not in text
        tail = 1 if finish.stop_reason == "end_turn" else 0
        extra = len(finish.stop_sequence or "")
        assert finish.output_tokens == len(text.encode("utf-8")) + tail + extra


def test_timings_are_reported(model: ByteTransformer) -> None:
    _, finish = run(model, PROMPT, 30, seed=1)
    assert 0 <= finish.first_token_ms <= finish.latency_ms


# -- scripted model: exact mechanics -------------------------------------------------------------


class Scripted:
    """Stands in for a ByteTransformer: whatever the input, the next token is the next id of
    ``script`` (then end of text)."""

    def __init__(self, script: Sequence[int], context: int = 64) -> None:
        self.config = ModelConfig(context_length=context)
        self.script = list(script)

    def __call__(
        self, tokens: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        if cache is None:
            prompt, seen = tokens.shape[1], tokens.shape[1]
        else:
            prompt, seen = int(cache[0][0]), int(cache[0][1]) + tokens.shape[1]
        assert seen <= self.config.context_length
        produced = seen - prompt
        token = self.script[produced] if produced < len(self.script) else END_OF_TEXT
        logits = torch.full((1, tokens.shape[1], 257), -20.0)
        logits[0, -1, token] = 20.0
        return logits, [(torch.tensor(prompt), torch.tensor(seen))]


def scripted(text: bytes, context: int = 64) -> ByteTransformer:
    return cast(ByteTransformer, Scripted(list(text), context))


def scripted_run(
    model: ByteTransformer, prompt: str = "Q:", max_tokens: int = 50, stops: Sequence[str] = ()
) -> tuple[list[str], Finish]:
    request = GenerationRequest(prompt, max_tokens, SamplingParams(0.0), tuple(stops))
    events = list(generate(model, request))
    finish = events[-1]
    assert isinstance(finish, Finish)
    return [e for e in events[:-1] if isinstance(e, str)], finish


def test_end_of_text_gives_end_turn() -> None:
    pieces, finish = scripted_run(scripted(b"hello"))
    assert "".join(pieces) == "hello"
    assert finish.stop_reason == "end_turn"
    assert finish.stop_sequence is None
    assert finish.output_tokens == 6  # five bytes and the end-of-text token


def test_end_of_text_first_gives_empty_text() -> None:
    pieces, finish = scripted_run(scripted(b""))
    assert (pieces, finish.stop_reason, finish.output_tokens) == ([], "end_turn", 1)


def test_end_of_text_flushes_held_text() -> None:
    # "ab" is held back while it could begin the stop "abc"; end of text releases it
    pieces, finish = scripted_run(scripted(b"xxab"), stops=["abc"])
    assert "".join(pieces) == "xxab"
    assert finish.stop_reason == "end_turn"


def test_max_tokens_flushes_held_text() -> None:
    pieces, finish = scripted_run(scripted(b"xxabc"), max_tokens=4, stops=["abc"])
    assert "".join(pieces) == "xxab"
    assert finish.stop_reason == "max_tokens"


def test_multi_byte_characters_split_across_tokens_decode_cleanly() -> None:
    text = "naïve “quote” ─ 日本 ☕"
    pieces, finish = scripted_run(scripted(text.encode("utf-8")))
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)
    assert finish.output_tokens == len(text.encode("utf-8")) + 1


def test_max_tokens_cutting_a_character_shows_a_replacement_character() -> None:
    pieces, finish = scripted_run(scripted("ab─cd".encode()), max_tokens=4)
    assert "".join(pieces) == "ab\ufffd"
    assert (finish.stop_reason, finish.output_tokens) == ("max_tokens", 4)


def test_multi_byte_stop_sequence() -> None:
    pieces, finish = scripted_run(scripted("say “hi” now".encode()), stops=["”"])
    assert "".join(pieces) == "say “hi"
    assert finish.stop_sequence == "”"
    assert finish.output_tokens == len("say “hi”".encode())


def test_stop_split_across_many_tokens_never_leaks() -> None:
    pieces, finish = scripted_run(scripted(b"one END two"), stops=["END", "NEVER"])
    assert "".join(pieces) == "one "
    assert not any(c in "".join(pieces) for c in "EN")
    assert finish.stop_reason == "stop_sequence"
    assert finish.output_tokens == len("one END")


def test_earliest_match_wins_over_a_longer_stop_ending_later() -> None:
    pieces, finish = scripted_run(scripted(b"xabcd"), stops=["abcd", "bc"])
    assert "".join(pieces) == "xa"
    assert finish.stop_sequence == "bc"


def test_overlapping_stops_take_the_one_starting_first() -> None:
    pieces, finish = scripted_run(scripted(b"xxabcd"), stops=["bc", "abc"])
    assert "".join(pieces) == "xx"
    assert finish.stop_sequence == "abc"


def test_scripted_context_is_filled_exactly() -> None:
    pieces, finish = scripted_run(scripted(b"z" * 100, context=16), prompt="0123456789")
    assert "".join(pieces) == "zzzzzz"
    assert finish.stop_reason == "model_context_window_exceeded"
    assert (finish.input_tokens, finish.output_tokens) == (10, 6)


def test_scripted_prompt_leaving_no_room_is_refused() -> None:
    with pytest.raises(InputTooLong):
        scripted_run(scripted(b"z", context=16), prompt="0123456789abcdef")
    pieces, finish = scripted_run(scripted(b"z", context=16), prompt="0123456789abcde")
    assert ("".join(pieces), finish.output_tokens) == ("z", 1)
