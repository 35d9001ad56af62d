"""hpjobs/lm: a byte-level decoder-only transformer language model, and its training script.

This one file is both the model hpjobs generates text with (:class:`ByteTransformer`, with a KV
cache) and a SageMaker script-mode training script (run as ``python lm.py --key value ...``). It
imports only the standard library and torch, so it runs unchanged on SageMaker.

Tokens are bytes: ids 0-255 are the bytes of UTF-8 text and id 256 is the end-of-text token, so
token counts are byte counts.

Training data (channel ``train``, optional ``validation``):

- ``data_format=text`` (default): every file's bytes, documents separated by end-of-text;
- ``data_format=prompt_completion``: JSON lines ``{"prompt": ..., "completion": ...}``; each
  record is prompt + completion + end-of-text, and the loss counts the completion and the
  end-of-text only;
- ``data_format=input``: JSON lines ``{"input": ...}`` (continued pre-training).

A channel ``base`` holding ``model.pt`` and ``config.json`` makes training start from that model
(fine-tuning); its architecture hyperparameters then come from its config.

Hyperparameters (all optional):

============================  =========  ===============================================
name                          default    meaning
============================  =========  ===============================================
``learning_rate``             0.001      peak learning rate (AdamW)
``lr_scheduler``              cosine     ``constant`` or ``cosine`` (to 10% of the peak)
``warmup_steps``              50         linear warm-up, in optimizer steps
``weight_decay``              0.1        AdamW decoupled weight decay
``dropout``                   0.1        on attention and MLP outputs
``batch_size``                16         sequences per optimizer step
``epochs``                    4          passes over the training data
``context_length``            256        tokens the model sees at once
``width``                     128        model dimension
``depth``                     4          transformer blocks
``heads``                     4          attention heads (must divide width)
``early_stopping_patience``   0          epochs without improvement of the monitored
                                         loss before stopping (0 = off)
``early_stopping_min_delta``  0.0        smallest change that counts as improvement
``data_format``               text       ``text``, ``prompt_completion`` or ``input``
``seed``                      0          same seed, same data: same model
``steps_per_epoch``           0          optimizer steps per epoch (0 = one pass)
``save_dtype``                float32    ``float32`` or ``float16`` for the saved weights
============================  =========  ===============================================

Each epoch prints ``epoch=N lr=… train:loss=… validation:loss=…`` (validation only with a
validation channel). The monitored loss is validation:loss when there is validation data, else
train:loss; the weights of the best epoch are saved to ``SM_MODEL_DIR`` as ``model.pt`` with
``config.json``. Bad values fail the job with ``ClientError: …`` in ``SM_OUTPUT_DIR/failure``.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch import nn
from torch.nn import functional

VOCAB_SIZE = 257
END_OF_TEXT = 256


# ---------------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class ModelConfig:
    """The architecture; saved beside the weights as ``config.json``."""

    context_length: int = 256
    width: int = 128
    depth: int = 4
    heads: int = 4
    dropout: float = 0.1
    vocab_size: int = VOCAB_SIZE

    @classmethod
    def load(cls, path: Path) -> ModelConfig:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {f: data[f] for f in cls.__dataclass_fields__ if f in data}
        return cls(**known)


#: Per block: (keys, values), each (batch, heads, cached length, head size).
KVCache = list[tuple[torch.Tensor, torch.Tensor]]


class Block(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.norm1 = nn.LayerNorm(config.width)
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.proj = nn.Linear(config.width, config.width)
        self.norm2 = nn.LayerNorm(config.width)
        self.mlp = nn.Sequential(
            nn.Linear(config.width, 4 * config.width),
            nn.GELU(),
            nn.Linear(4 * config.width, config.width),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.attention_dropout = config.dropout

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, dim=2)
        shape = (batch, length, self.heads, width // self.heads)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        drop = self.attention_dropout if self.training else 0.0
        if cache is None or length > 1:
            causal = cache is None
            mask = None if causal else _prefix_mask(length, k.shape[2], x.device)
            attended = functional.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=drop, is_causal=causal
            )
        else:  # one new token sees everything cached
            attended = functional.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        attended = attended.transpose(1, 2).contiguous().view(batch, length, width)
        if self.training:
            x = x + self.dropout(self.proj(attended))
            return x + self.dropout(self.mlp(self.norm2(x))), (k, v)
        x = x + self.proj(attended)
        return x + self.mlp(self.norm2(x)), (k, v)


def _prefix_mask(new: int, total: int, device: torch.device) -> torch.Tensor:
    """Attention mask for ``new`` tokens appended after ``total - new`` cached ones."""
    rows = torch.arange(total - new, total, device=device)[:, None]
    return torch.arange(total, device=device)[None, :] <= rows


class ByteTransformer(nn.Module):
    """A GPT-style decoder over bytes. ``forward`` takes and returns a KV cache, so generation
    feeds one token at a time without recomputing the prefix."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.width)
        self.position_embedding = nn.Embedding(config.context_length, config.width)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.vocab_size, bias=False)
        self.head.weight = self.token_embedding.weight  # tied embeddings
        self.apply(_initialise)

    def forward(
        self, tokens: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits for every position of ``tokens`` (batch, length), and the updated cache."""
        start = 0 if cache is None else cache[0][0].shape[2]
        length = tokens.shape[1]
        if start + length > self.config.context_length:
            raise ValueError(
                f"{start + length} tokens exceed the context length {self.config.context_length}"
            )
        positions = torch.arange(start, start + length, device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)[None]
        new_cache: KVCache = []
        for index, block in enumerate(self.blocks):
            x, entry = block(x, None if cache is None else cache[index])
            new_cache.append(entry)
        return self.head(self.norm(x)), new_cache


def _initialise(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def load_model(folder: Path, dtype: torch.dtype = torch.float32) -> ByteTransformer:
    """A model saved by this script (``config.json`` and ``model.pt``), in evaluation mode."""
    config = ModelConfig.load(folder / "config.json")
    model = ByteTransformer(config)
    state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()})
    return model.eval()


def encode(text: str) -> list[int]:
    return list(text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Hyperparameters


class ClientError(Exception):
    """A problem with the job's input; the message becomes the failure reason."""


@dataclass(frozen=True)
class Hyperparameters:
    learning_rate: float = 0.001
    lr_scheduler: str = "cosine"
    warmup_steps: int = 50
    weight_decay: float = 0.1
    dropout: float = 0.1
    batch_size: int = 16
    epochs: int = 4
    context_length: int = 256
    width: int = 128
    depth: int = 4
    heads: int = 4
    early_stopping_patience: int = 0
    early_stopping_min_delta: float = 0.0
    data_format: str = "text"
    seed: int = 0
    steps_per_epoch: int = 0
    save_dtype: str = "float32"


_CHOICES = {
    "lr_scheduler": ("constant", "cosine"),
    "data_format": ("text", "prompt_completion", "input"),
    "save_dtype": ("float32", "float16"),
}
_POSITIVE = ("learning_rate", "batch_size", "epochs", "context_length", "width", "depth", "heads")


def parse_arguments(argv: Sequence[str]) -> dict[str, str]:
    """``--key value`` pairs (one-letter keys as ``-k``), as the training toolkit passes them."""
    if len(argv) % 2:
        raise ClientError(f"Arguments must come in --name value pairs, got {list(argv)}")
    pairs = {}
    for key, value in zip(argv[::2], argv[1::2], strict=True):
        if not key.startswith("-"):
            raise ClientError(f"Expected an argument name, got {key!r}")
        pairs[key.lstrip("-").replace("-", "_")] = value
    return pairs


def _convert(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is int:
            value: Any = int(raw)
        elif kind is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
        else:
            value = raw.strip().lower()
    except ValueError:
        expected = {int: "an integer", float: "a number"}.get(kind, "a string")
        raise ClientError(f"Hyperparameter {name} must be {expected}, got {raw!r}") from None
    return value


def parse_hyperparameters(raw: dict[str, str]) -> Hyperparameters:
    """The hyperparameters, checked (``ClientError`` names the first bad one)."""
    fields = Hyperparameters.__dataclass_fields__
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ClientError(f"Unknown hyperparameters: {', '.join(unknown)}")
    values = {n: _convert(n, v, type(getattr(Hyperparameters, n))) for n, v in raw.items()}
    hp = Hyperparameters(**values)
    for name, choices in _CHOICES.items():
        if getattr(hp, name) not in choices:
            raise ClientError(
                f"Hyperparameter {name} must be one of {', '.join(choices)}, got {raw.get(name)!r}"
            )
    for name in _POSITIVE:
        if getattr(hp, name) <= 0:
            raise ClientError(
                f"Hyperparameter {name} must be greater than 0, got {raw.get(name)!r}"
            )
    if not 0 <= hp.dropout < 1:
        raise ClientError(f"Hyperparameter dropout must be in [0, 1), got {raw.get('dropout')!r}")
    if hp.width % hp.heads:
        raise ClientError(f"Hyperparameter heads ({hp.heads}) must divide width ({hp.width})")
    for name in ("warmup_steps", "early_stopping_patience", "steps_per_epoch"):
        if getattr(hp, name) < 0:
            raise ClientError(f"Hyperparameter {name} must be 0 or more, got {raw.get(name)!r}")
    for name in ("weight_decay", "early_stopping_min_delta"):
        if getattr(hp, name) < 0:
            raise ClientError(f"Hyperparameter {name} must be 0 or more, got {raw.get(name)!r}")
    return hp


# ---------------------------------------------------------------------------------------------
# Data


@dataclass
class Examples:
    """Training sequences: token ids and, per token, whether its prediction counts in the loss."""

    tokens: list[int]
    weights: list[int]

    def __len__(self) -> int:
        return len(self.tokens)


def _files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ClientError(f"No data files in channel folder {folder}")
    return files


def _records(path: Path) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ClientError(f"{path.name} line {number} is not valid JSON") from None
        if not isinstance(record, dict):
            raise ClientError(f"{path.name} line {number} is not a JSON object")
        yield record


def _text_field(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise ClientError(f"{where}: every record needs a string field {key!r}")
    return value


def read_examples(folder: Path, data_format: str) -> Examples:
    """The channel's data as one token stream, documents separated by end-of-text."""
    examples = Examples([], [])
    for path in _files(folder):
        if data_format == "text":
            documents = [path.read_bytes()]
            pieces = [(list(d), [1] * len(d)) for d in documents]
        else:
            pieces = []
            for record in _records(path):
                if data_format == "input":
                    text = encode(_text_field(record, "input", path.name))
                    pieces.append((text, [1] * len(text)))
                else:
                    prompt = encode(_text_field(record, "prompt", path.name))
                    completion = encode(_text_field(record, "completion", path.name))
                    pieces.append((prompt + completion, [0] * len(prompt) + [1] * len(completion)))
        for tokens, weights in pieces:
            examples.tokens += [*tokens, END_OF_TEXT]
            examples.weights += [*weights, 1]
    if len(examples) < 2:
        raise ClientError(f"Channel folder {folder} holds no text")
    return examples


def windows(examples: Examples, context: int, rng: random.Random) -> list[int]:
    """Start offsets of training windows covering the stream once, in a shuffled order."""
    span = context + 1
    if len(examples) <= span:
        return [0]
    starts = list(range(0, len(examples) - span + 1, context))
    rng.shuffle(starts)
    return starts


def batch(examples: Examples, starts: Sequence[int], context: int) -> tuple[torch.Tensor, ...]:
    """Inputs, targets and loss weights for windows starting at ``starts`` (padded)."""
    span = context + 1
    rows, masks = [], []
    for start in starts:
        tokens = examples.tokens[start : start + span]
        weights = examples.weights[start : start + span]
        pad = span - len(tokens)
        rows.append(tokens + [END_OF_TEXT] * pad)
        masks.append(weights + [0] * pad)
    data = torch.tensor(rows)
    weights_tensor = torch.tensor(masks, dtype=torch.float32)
    return data[:, :-1], data[:, 1:], weights_tensor[:, 1:]


def loss_of(
    model: ByteTransformer, inputs: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    logits, _ = model(inputs)
    losses = functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
    )
    flat = weights.reshape(-1)
    return (losses * flat).sum() / flat.sum().clamp_min(1.0)


@torch.no_grad()
def evaluate(model: ByteTransformer, examples: Examples, context: int, batch_size: int) -> float:
    """Mean loss per counted token over every window of the data."""
    model.eval()
    starts = sorted(windows(examples, context, random.Random(0)))
    total, count = 0.0, 0.0
    for index in range(0, len(starts), batch_size):
        inputs, targets, weights = batch(examples, starts[index : index + batch_size], context)
        counted = float(weights.sum())
        total += float(loss_of(model, inputs, targets, weights)) * counted
        count += counted
    model.train()
    return total / max(count, 1.0)


# ---------------------------------------------------------------------------------------------
# Training


class Schedule:
    """Learning rate per optimizer step: linear warm-up, then constant or cosine to 10%."""

    def __init__(self, hp: Hyperparameters, total_steps: int) -> None:
        self.hp = hp
        self.total = max(1, total_steps)

    def rate(self, step: int) -> float:
        hp = self.hp
        if step < hp.warmup_steps:
            return hp.learning_rate * (step + 1) / hp.warmup_steps
        if hp.lr_scheduler == "constant":
            return hp.learning_rate
        progress = min(1.0, (step - hp.warmup_steps) / max(1, self.total - hp.warmup_steps))
        floor = 0.1 * hp.learning_rate
        return floor + (hp.learning_rate - floor) * (1 + math.cos(math.pi * progress)) / 2


class StopFlag:
    """Set by SIGTERM: stop after the current step, keep the best model so far."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@dataclass
class Environment:
    train: Path
    validation: Path | None
    base: Path | None
    model_dir: Path
    output_dir: Path

    @classmethod
    def from_os(cls) -> Environment:
        def path(name: str) -> Path | None:
            value = os.environ.get(name)
            return Path(value) if value else None

        train = path("SM_CHANNEL_TRAIN")
        if train is None:
            raise ClientError("No train channel: give an InputDataConfig channel named train")
        return cls(
            train=train,
            validation=path("SM_CHANNEL_VALIDATION"),
            base=path("SM_CHANNEL_BASE"),
            model_dir=path("SM_MODEL_DIR") or Path("model"),
            output_dir=path("SM_OUTPUT_DIR") or Path("output"),
        )


def _build(hp: Hyperparameters, env: Environment) -> ByteTransformer:
    if env.base is not None:
        model = load_model(env.base)
        config = ModelConfig(**{**asdict(model.config), "dropout": hp.dropout})
        tuned = ByteTransformer(config)
        tuned.load_state_dict(model.state_dict())
        return tuned
    config = ModelConfig(hp.context_length, hp.width, hp.depth, hp.heads, hp.dropout)
    return ByteTransformer(config)


def _save(
    model: ByteTransformer, state: dict[str, torch.Tensor], folder: Path, extra: dict[str, Any]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / ".model.pt.tmp"
    torch.save(state, temporary)
    os.replace(temporary, folder / "model.pt")
    config = {**asdict(model.config), **extra}
    (folder / ".config.json.tmp").write_text(json.dumps(config, indent=2), encoding="utf-8")
    os.replace(folder / ".config.json.tmp", folder / "config.json")


def train(hp: Hyperparameters, env: Environment, stop: StopFlag) -> dict[str, Any]:
    """Train and save the best epoch's model; a summary of what happened."""
    torch.manual_seed(hp.seed)
    rng = random.Random(hp.seed)
    model = _build(hp, env)
    context = model.config.context_length
    training = read_examples(env.train, hp.data_format)
    validation = read_examples(env.validation, hp.data_format) if env.validation else None
    per_epoch = hp.steps_per_epoch or max(
        1, math.ceil(len(windows(training, context, rng)) / hp.batch_size)
    )
    schedule = Schedule(hp, per_epoch * hp.epochs)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay
    )
    params = sum(p.numel() for p in model.parameters())
    print(
        f"hpjobs/lm: {params} parameters, context {context}, {len(training)} training tokens"
        + (f", {len(validation)} validation tokens" if validation else ""),
        flush=True,
    )
    best = (math.inf, 0, {k: v.clone() for k, v in model.state_dict().items()})
    bad_epochs, step = 0, 0
    queue: list[int] = []
    model.train()
    for epoch in range(1, hp.epochs + 1):
        total = 0.0
        for _ in range(per_epoch):
            if not queue:
                queue = windows(training, context, rng)
            starts, queue = queue[: hp.batch_size], queue[hp.batch_size :]
            for group in optimizer.param_groups:
                group["lr"] = schedule.rate(step)
            loss = loss_of(model, *batch(training, starts, context))
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += float(loss.detach())
            step += 1
            if stop.requested:
                break
        train_loss = (
            evaluate(model, training, context, hp.batch_size)
            if per_epoch < 50
            else total / per_epoch
        )
        line = f"epoch={epoch} lr={schedule.rate(step - 1):.6g} train:loss={train_loss:.6f}"
        monitored = train_loss
        if validation is not None:
            monitored = evaluate(model, validation, context, hp.batch_size)
            line += f" validation:loss={monitored:.6f}"
        print(line, flush=True)
        if monitored < best[0] - hp.early_stopping_min_delta:
            best = (monitored, epoch, {k: v.clone() for k, v in model.state_dict().items()})
            bad_epochs = 0
        else:
            bad_epochs += 1
        if stop.requested:
            print(f"SIGTERM received: stopping after epoch {epoch}", flush=True)
            break
        if hp.early_stopping_patience and bad_epochs >= hp.early_stopping_patience:
            print(
                f"early stopping at epoch {epoch}: no improvement for {bad_epochs} epochs",
                flush=True,
            )
            break
    dtype = torch.float16 if hp.save_dtype == "float16" else torch.float32
    state = {k: v.to(dtype) for k, v in best[2].items()}
    _save(model, state, env.model_dir, {"best_epoch": best[1], "best_loss": best[0]})
    print(f"Best epoch: {best[1]} (loss {best[0]:.6f}); saved to {env.model_dir}", flush=True)
    return {"best_epoch": best[1], "best_loss": best[0]}


def _write_failure(output_dir: Path, message: str) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    failure = output_dir / "failure"
    if not failure.exists():
        failure.write_text(message, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the training script; 0 on success, 1 with a failure file on bad input."""
    stop = StopFlag()
    signal.signal(signal.SIGTERM, stop.request)
    output_dir = Path(os.environ.get("SM_OUTPUT_DIR", "output"))
    try:
        hp = parse_hyperparameters(parse_arguments(sys.argv[1:] if argv is None else argv))
        torch.set_num_threads(max(1, int(os.environ.get("SM_NUM_CPUS", os.cpu_count() or 1))))
        started = time.perf_counter()
        train(hp, Environment.from_os(), stop)
        print(f"training took {time.perf_counter() - started:.1f} s", flush=True)
    except ClientError as error:
        message = f"ClientError: {error}"
        print(message, file=sys.stderr, flush=True)
        _write_failure(output_dir, message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
