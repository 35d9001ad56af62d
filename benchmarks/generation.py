"""How fast hpjobs generates text with its local byte-level model, on this machine's CPU.

The model has the architecture of the shipped default (``templates/lm-jargon.json``: width 192,
depth 4, 6 heads) but a context of 1024 tokens so that long generations fit, and random weights:
the speed does not depend on the weights. The weights are seeded, and the end-of-text logit is
pushed far below the others (through the final norm's bias and the tied embedding row) so that
every run generates exactly the tokens asked for instead of ending at random.

Measured, each a median over ``--repeats`` timed runs after a warm-up, under
``torch.inference_mode()`` with ``torch.set_num_threads`` set to the machine's cores (or
``--threads``; on a machine busy with other work fewer threads than cores can be much faster):

1. KV cache: greedy decoding from a one-token prompt to 128 and 512 generated tokens and to the
   full context, through ``ByteTransformer.forward`` with the cache, and without it (the whole
   prefix re-run every step, as a cache-less decoder must). The cache-less runs are timed once
   each: every one is hundreds of full forwards, and they take most of the benchmark's time.
   Goal: the cache at least 5x faster at 512 tokens.
2. Sampling: ``generate()`` with temperature, top-k, top-p and stop sequences (which never match)
   against greedy ``generate()``, same prompt, same length, cache on; and, steadier on a busy
   machine, ``next_token()`` alone for both, as a share of a greedy step. Goal: sampling costs at
   most 10% over greedy.
3. Time to first token of ``generate()`` for a prompt of about 100 bytes (reported; no goal).
4. Peer: Hugging Face transformers' ``GPT2LMHeadModel.generate()`` on a GPT-2 of the same size
   (``GPT2Config(vocab_size=257, n_embd=192, n_layer=4, n_head=6, n_positions=1024)``, random
   weights, nothing downloaded), greedy with ``use_cache=True``, the same prompt and number of
   new tokens as ``generate()``, runs interleaved with hpjobs'. Goal: hpjobs' tokens/s at least
   transformers'. Skipped, saying how to install it, when transformers is missing.

    python benchmarks/generation.py [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from hpjobs.algorithms.lm import END_OF_TEXT, ByteTransformer, ModelConfig
from hpjobs.generation.engine import Finish, GenerationRequest, generate
from hpjobs.generation.sampling import SamplingParams, next_token

CONTEXT = 1024
WIDTH, DEPTH, HEADS = 192, 4, 6
LENGTHS = (128, 512, CONTEXT - 1)  # generated tokens after a one-token prompt
GENERATED = 512  # new tokens for the sampling and peer comparisons
WARM_UP = 64  # tokens generated once before timing
PROMPT = (
    "Summarise the training job's hyperparameters and say which one most changed the "
    "validation loss:\n"
)
SAMPLING = SamplingParams(temperature=0.8, top_p=0.9, top_k=50)
STOPS = ("\n\nUser:", "</answer>", "###")


# ---------------------------------------------------------------------------------------------
# Timing


def _seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each run, the runs taking turns so that a busy machine slows all alike
    (the callers warm up first)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    for _ in range(repeats):
        for name in order:
            times[name].append(_seconds(runs[name]))
        order.reverse()  # A B, B A, ...: neither always runs first
    return {name: statistics.median(values) for name, values in times.items()}


# ---------------------------------------------------------------------------------------------
# The model


def benchmark_model() -> ByteTransformer:
    torch.manual_seed(0)
    config = ModelConfig(context_length=CONTEXT, width=WIDTH, depth=DEPTH, heads=HEADS)
    model = ByteTransformer(config).eval()
    with torch.no_grad():
        # logit(end-of-text) = (norm(x) + 100 d) . (-d) <= sqrt(width) - 100: never the choice
        direction = torch.randn(WIDTH)
        direction /= direction.norm()
        model.norm.bias.copy_(100 * direction)
        model.token_embedding.weight[END_OF_TEXT] = -direction
    return model


def decode_cached(model: ByteTransformer, length: int) -> None:
    """Greedy decoding of ``length`` tokens, feeding one token at a time with the KV cache."""
    logits, cache = model(torch.tensor([[0]]))
    for _ in range(length - 1):
        token = torch.argmax(logits[0, -1]).view(1, 1)
        logits, cache = model(token, cache)


def decode_uncached(model: ByteTransformer, length: int) -> None:
    """Greedy decoding of ``length`` tokens, re-running the whole prefix for every token."""
    tokens = torch.tensor([[0]])
    logits, _ = model(tokens)
    for _ in range(length - 1):
        token = torch.argmax(logits[0, -1]).view(1, 1)
        tokens = torch.cat([tokens, token], dim=1)
        logits, _ = model(tokens)


def run_generate(model: ByteTransformer, request: GenerationRequest) -> Finish:
    finish = None
    for item in generate(model, request):
        if isinstance(item, Finish):
            finish = item
    assert finish is not None
    if finish.output_tokens != request.max_tokens:  # would make the figures meaningless
        raise RuntimeError(f"generation ended early: {finish}")
    return finish


# ---------------------------------------------------------------------------------------------
# The measurements


def kv_cache(model: ByteTransformer, repeats: int) -> None:
    decode_cached(model, WARM_UP)
    decode_uncached(model, WARM_UP)
    print(f"1. KV cache: greedy decoding from a one-token prompt (context {CONTEXT})")
    print(f"   {'tokens':>14}  {'with cache':>12}  {'without':>12}  {'cache speed-up':>14}")
    for length in LENGTHS:
        cached = _medians({"": lambda n=length: decode_cached(model, n)}, repeats)[""]
        uncached = _seconds(lambda n=length: decode_uncached(model, n))
        label = f"{length} (full)" if length == CONTEXT - 1 else str(length)
        goal = "  (goal at 512: at least 5x)" if length == 512 else ""
        print(
            f"   {label:>14}  {length / cached:>8.0f} t/s  {length / uncached:>8.0f} t/s"
            f"  {uncached / cached:>13.1f}x{goal}"
        )


def sampling_cost(model: ByteTransformer, repeats: int) -> None:
    greedy = GenerationRequest(PROMPT, GENERATED, SamplingParams(temperature=0))
    sampled = GenerationRequest(PROMPT, GENERATED, SAMPLING, stop_sequences=STOPS, seed=0)
    for request in (greedy, sampled):
        run_generate(model, replace(request, max_tokens=WARM_UP))
    times = _medians(
        {
            "greedy": lambda: run_generate(model, greedy),
            "sampled": lambda: run_generate(model, sampled),
        },
        repeats,
    )
    # the choice of the next token alone, on the model's logits for the prompt: steadier than
    # the difference of two whole generations on a busy machine
    logits = model(torch.tensor([list(PROMPT.encode("utf-8"))]))[0][0, -1]
    generator = torch.Generator().manual_seed(0)
    calls = 2000
    choice = {}
    for name, params in (("greedy", greedy.sampling), ("sampled", SAMPLING)):
        choice[name] = _seconds(lambda p=params: _choose(logits, p, generator, calls)) / calls

    label = (
        f"temperature {SAMPLING.temperature}, top-p {SAMPLING.top_p}, top-k {SAMPLING.top_k},"
        f" {len(STOPS)} stop sequences"
    )
    print(f"2. Sampling against greedy: generate(), {len(PROMPT)}-byte prompt, {GENERATED} tokens")
    print(f"   {'':<56}  {'generate()':>10}  {'next_token()':>12}")
    for name, text in (("greedy", "greedy"), ("sampled", label)):
        print(f"   {text:<56}  {GENERATED / times[name]:>6.0f} t/s  {choice[name] * 1e6:>9.0f} us")
    extra = times["sampled"] / times["greedy"] - 1
    step = times["greedy"] / GENERATED
    print(
        f"   sampling costs {extra:+.1%} over greedy (goal: at most +10%);"
        f" next_token() alone {(choice['sampled'] - choice['greedy']) / step:+.1%} of a step"
    )


def _choose(
    logits: torch.Tensor, params: SamplingParams, generator: torch.Generator, calls: int
) -> None:
    for _ in range(calls):
        next_token(logits, params, generator)


def first_token(model: ByteTransformer, repeats: int) -> None:
    request = GenerationRequest(PROMPT, 1, SamplingParams(temperature=0))
    reported: list[int] = []

    def once() -> None:
        reported.append(run_generate(model, request).first_token_ms)

    once()  # warm-up
    seconds = _medians({"": once}, max(repeats, 10))[""]
    print(f"3. Time to first token: generate(), {len(PROMPT)}-byte prompt")
    print(
        f"   {seconds * 1000:.1f} ms to the end of a one-token generation"
        f" (Finish.first_token_ms median {statistics.median(reported[1:])} ms)"
    )


def peer(model: ByteTransformer, repeats: int) -> None:
    print(f"4. Peer: transformers GPT2LMHeadModel.generate(), greedy, {GENERATED} new tokens")
    try:
        import transformers
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        print("   skipped: transformers is not installed (pip install transformers)")
        return
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=257, n_embd=WIDTH, n_layer=DEPTH, n_head=HEADS, n_positions=CONTEXT
    )
    gpt2 = GPT2LMHeadModel(config).eval()
    prompt = torch.tensor([list(PROMPT.encode("utf-8"))])
    options: dict[str, Any] = {
        "attention_mask": torch.ones_like(prompt),
        "max_new_tokens": GENERATED,
        "min_new_tokens": GENERATED,
        "do_sample": False,
        "use_cache": True,
        "pad_token_id": 0,
    }

    def theirs() -> None:
        produced = gpt2.generate(prompt, **options).shape[1] - prompt.shape[1]
        if produced != GENERATED:
            raise RuntimeError(f"transformers generated {produced} tokens, not {GENERATED}")

    request = GenerationRequest(PROMPT, GENERATED, SamplingParams(temperature=0))
    gpt2.generate(prompt, **{**options, "max_new_tokens": WARM_UP, "min_new_tokens": WARM_UP})
    run_generate(model, replace(request, max_tokens=WARM_UP))
    times = _medians({"hpjobs": lambda: run_generate(model, request), "peer": theirs}, repeats)
    ours, their = GENERATED / times["hpjobs"], GENERATED / times["peer"]
    print(f"   hpjobs generate()         {ours:>6.0f} t/s")
    print(
        f"   transformers {transformers.__version__:<12} {their:>6.0f} t/s"
        f"  (attention: {gpt2.config._attn_implementation})"
    )
    print(f"   hpjobs / transformers     {ours / their:>6.2f}x (goal: at least 1.00x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    model = benchmark_model()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads,"
        f" {os.cpu_count()} cores; model width {WIDTH}, depth {DEPTH}, {HEADS} heads,"
        f" context {CONTEXT}; {arguments.repeats} repeats, medians"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average before the run: {load:.1f}")
    if load > (os.cpu_count() or 1) - 0.5:
        print("   the machine is busy: figures are noisy, and fewer --threads may be faster")
    started = time.perf_counter()
    with torch.inference_mode():
        kv_cache(model, arguments.repeats)
        sampling_cost(model, arguments.repeats)
        first_token(model, arguments.repeats)
        peer(model, arguments.repeats)
    print(f"benchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
