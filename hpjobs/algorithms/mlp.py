"""hpjobs/mlp: a multilayer perceptron for tabular classification and regression.

A SageMaker script-mode training script. It imports only the standard library and torch, so it runs
unchanged under hpjobs' local runner and as a source dir on SageMaker.

Data. Channel ``train`` (required, ``SM_CHANNEL_TRAIN``) and ``validation`` (optional,
``SM_CHANNEL_VALIDATION``): every ``*.csv`` file under the channel directory, in sorted order. Plain
CSV, no header, the label in the first column and numeric features after it. Features are
standardized with the training set's mean and standard deviation unless ``normalize`` is false.

Hyperparameters arrive as ``--name value`` arguments. All are optional; unknown names are refused.

- ``predictor_type``: ``classifier`` (default; integer labels 0..K-1, cross-entropy loss) or
  ``regressor`` (float label, mean squared error).
- ``num_classes``: integer >= 2; default the largest training label + 1 (classifier only).
- ``learning_rate``: number > 0, default 0.001.
- ``optimizer``: ``adam`` (default), ``adamw`` or ``sgd``; ``momentum`` in [0, 1), default 0.9,
  applies to sgd only.
- ``weight_decay``: number >= 0, default 0; an L2 penalty for adam and sgd, decoupled for adamw.
- ``lr_scheduler``: ``constant`` (default); ``step`` (multiply by ``lr_gamma``, default 0.1, every
  ``lr_step_size`` epochs, default 10); ``cosine`` (anneal from learning_rate on the first epoch
  towards ``lr_min``, default 0, which the epoch after the last would reach, as PyTorch's
  CosineAnnealingLR with ``T_max`` = epochs does); ``reduce_on_plateau`` or ``reduce-on-plateau``
  (multiply by ``lr_factor``, in (0, 1), default 0.1, after ``lr_patience`` epochs in a row,
  default 3, without improvement of the monitored metric).
- ``warmup_epochs``: integer >= 0, default 0. Epoch e <= N uses learning_rate * e / N; the schedule
  starts after the warm-up, with its own epoch count.
- ``hidden_size``: integer >= 1, or ``auto`` (default): the mean of input and output sizes, rounded
  half up. ``num_hidden_layers``: integer >= 0, default 1 (0 gives a linear model).
- ``dropout``: in [0, 1), default 0.5, after each hidden layer's ReLU. ``input_dropout``: in [0, 1),
  default 0.
- ``batch_size``: integer >= 1, default 64. ``epochs``: integer >= 1, default 20.
- ``early_stopping_patience``: integer >= 0, default 0 (off); stop after this many epochs in a row
  without an improvement of more than ``early_stopping_min_delta`` (number >= 0, default 0) in
  ``early_stopping_metric``, the monitored metric: a name from the epoch line, by default
  ``validation:loss`` with a validation channel and ``train:loss`` without. Accuracy is maximized,
  loss and rmse are minimized.
- ``seed``: integer >= 0, default 0; the same seed and data give bit-identical results.
- ``normalize``: ``true`` (default) or ``false``; True/False/1/0 are accepted too.

Output. One line per epoch on stdout, for example (one line, wrapped here)::

    epoch=3 lr=0.001 train:loss=0.123456 train:accuracy=0.96
        validation:loss=0.234567 validation:accuracy=0.95

Metrics are measured after the epoch with the model in evaluation mode: ``train:loss`` and
``train:accuracy`` (classifier) or ``train:rmse`` (regressor), then the same for ``validation:``
when that channel exists. Values are written with ``%.6g``. A start line describes the data and the
model, and a last line names the best epoch.

The saved model is always the weights of the best epoch by the monitored metric:
``$SM_MODEL_DIR/model.pt`` (a state_dict of a ``torch.nn.Sequential``) and
``$SM_MODEL_DIR/model.json`` (architecture, normalization, effective hyperparameters, best epoch,
metrics). ``$SM_OUTPUT_DATA_DIR/history.json`` has every epoch's metrics.

On SIGTERM the script stops after the current batch, saves the best model so far and exits 0. A bad
hyperparameter or bad data writes ``ClientError: <reason>`` to ``$SM_OUTPUT_DIR/failure`` (unless
that file exists) and to stderr, and exits 1.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from types import FrameType
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")
Parser = Callable[[str, str], T]
EVAL_BATCH_ROWS = 8192
LOSS_AND_RMSE = ("loss", "rmse")
LOSS_AND_ACCURACY = ("loss", "accuracy")


class ClientError(Exception):
    """A problem with what the job was given: its hyperparameters or its data."""


# ---------------------------------------------------------------------------------------------
# Hyperparameters


@dataclass(frozen=True)
class Hyperparameters:
    """The parsed hyperparameters; ``None`` or ``""`` means "decide from the data"."""

    predictor_type: str
    num_classes: int | None
    learning_rate: float
    optimizer: str
    momentum: float
    weight_decay: float
    lr_scheduler: str
    lr_step_size: int
    lr_gamma: float
    lr_min: float
    lr_patience: int
    lr_factor: float
    warmup_epochs: int
    hidden_size: int | None
    num_hidden_layers: int
    dropout: float
    input_dropout: float
    batch_size: int
    epochs: int
    early_stopping_patience: int
    early_stopping_min_delta: float
    early_stopping_metric: str
    seed: int
    normalize: bool


def _bad_value(name: str, expectation: str, raw: str) -> ClientError:
    return ClientError(f"Hyperparameter {name} must be {expectation}, got {raw!r}")


def _to_float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _number(low: float, high: float, low_open: bool, high_open: bool, text: str) -> Parser[float]:
    def parse(name: str, raw: str) -> float:
        value = _to_float(raw)
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            raise _bad_value(name, text, raw)
        return value

    return parse


def _integer(low: int, text: str) -> Parser[int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise _bad_value(name, text, raw) from None
        if not low <= value < 2**63:
            raise _bad_value(name, text, raw)
        return value

    return parse


def _choice(*options: str) -> Parser[str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower().replace("-", "_")
        if value not in options:
            raise _bad_value(name, "one of " + ", ".join(options), raw)
        return value

    return parse


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise _bad_value(name, "true or false", raw)
    return value in ("true", "1")


def _hidden_size(name: str, raw: str) -> int | None:
    if raw.strip().lower() == "auto":
        return None
    return _integer(1, "a positive integer or 'auto'")(name, raw)


def _metric_name(name: str, raw: str) -> str:
    return raw.strip()


POSITIVE = _number(0, math.inf, True, True, "a number greater than 0")
NON_NEGATIVE = _number(0, math.inf, False, True, "a number greater than or equal to 0")
FRACTION = _number(0, 1, False, True, "a number from 0 up to but not including 1")
OPEN_FRACTION = _number(0, 1, True, True, "a number between 0 and 1, exclusive")
COUNT = _integer(0, "an integer greater than or equal to 0")
POSITIVE_INT = _integer(1, "an integer greater than or equal to 1")


class _Reader:
    """Looks up one raw hyperparameter, parsing it or falling back to its default."""

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = raw

    def get(self, name: str, parse: Parser[T], default: T) -> T:
        return parse(name, self._raw[name]) if name in self._raw else default


def parse_hyperparameters(raw: dict[str, str]) -> Hyperparameters:
    """Turn ``{name: text}`` into checked hyperparameters, refusing unknown names."""
    known = [f.name for f in fields(Hyperparameters)]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ClientError(
            f"Unknown hyperparameter {unknown[0]!r}; known ones are: {', '.join(sorted(known))}"
        )
    r = _Reader(raw)
    return Hyperparameters(
        predictor_type=r.get("predictor_type", _choice("classifier", "regressor"), "classifier"),
        num_classes=r.get(
            "num_classes", _integer(2, "an integer greater than or equal to 2"), None
        ),
        learning_rate=r.get("learning_rate", POSITIVE, 0.001),
        optimizer=r.get("optimizer", _choice("adam", "adamw", "sgd"), "adam"),
        momentum=r.get("momentum", FRACTION, 0.9),
        weight_decay=r.get("weight_decay", NON_NEGATIVE, 0.0),
        lr_scheduler=r.get(
            "lr_scheduler", _choice("constant", "step", "cosine", "reduce_on_plateau"), "constant"
        ),
        lr_step_size=r.get("lr_step_size", POSITIVE_INT, 10),
        lr_gamma=r.get("lr_gamma", POSITIVE, 0.1),
        lr_min=r.get("lr_min", NON_NEGATIVE, 0.0),
        lr_patience=r.get("lr_patience", COUNT, 3),
        lr_factor=r.get("lr_factor", OPEN_FRACTION, 0.1),
        warmup_epochs=r.get("warmup_epochs", COUNT, 0),
        hidden_size=r.get("hidden_size", _hidden_size, None),
        num_hidden_layers=r.get("num_hidden_layers", COUNT, 1),
        dropout=r.get("dropout", FRACTION, 0.5),
        input_dropout=r.get("input_dropout", FRACTION, 0.0),
        batch_size=r.get("batch_size", POSITIVE_INT, 64),
        epochs=r.get("epochs", POSITIVE_INT, 20),
        early_stopping_patience=r.get("early_stopping_patience", COUNT, 0),
        early_stopping_min_delta=r.get("early_stopping_min_delta", NON_NEGATIVE, 0.0),
        early_stopping_metric=r.get("early_stopping_metric", _metric_name, ""),
        seed=r.get("seed", _integer(0, "an integer from 0 to 2**63 - 1"), 0),
        normalize=r.get("normalize", _boolean, True),
    )


def parse_arguments(argv: list[str]) -> dict[str, str]:
    """Read the ``--name value`` pairs that SageMaker's training toolkit passes."""
    raw: dict[str, str] = {}
    for index in range(0, len(argv), 2):
        flag = argv[index]
        if not flag.startswith("--") or len(flag) == 2:
            raise ClientError(f"Expected arguments of the form --name value, got {flag!r}")
        if index + 1 == len(argv):
            raise ClientError(f"Hyperparameter {flag[2:]} has no value")
        if flag[2:] in raw:
            raise ClientError(f"Hyperparameter {flag[2:]} is given twice")
        raw[flag[2:]] = argv[index + 1]
    return raw


# ---------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Split:
    """One channel's rows: features ``(n, d)`` float32 and labels (int64 or float32)."""

    features: torch.Tensor
    labels: torch.Tensor

    @property
    def rows(self) -> int:
        return int(self.features.shape[0])


@dataclass(frozen=True)
class Dataset:
    train: Split
    validation: Split | None
    output_size: int
    mean: list[float] | None
    std: list[float] | None

    @property
    def input_size(self) -> int:
        return int(self.train.features.shape[1])


def _csv_files(channel: str, directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ClientError(f"Channel {channel} directory {directory} does not exist")
    files = sorted(path for path in directory.rglob("*.csv") if path.is_file())
    if not files:
        raise ClientError(f"Channel {channel} has no .csv files in {directory}")
    return files


def _parse_row(where: str, cells: list[str]) -> list[float]:
    values = [_to_float(cell) for cell in cells]
    for column, value in enumerate(values, 1):
        if not math.isfinite(value):
            raise ClientError(f"{where} column {column}: {cells[column - 1]!r} is not a number")
    return values


def _csv_rows(channel: str, path: Path) -> Iterator[tuple[str, list[float]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for line, cells in enumerate(csv.reader(handle), 1):
                if any(cell.strip() for cell in cells):
                    where = f"Channel {channel} file {path.name} line {line}"
                    yield where, _parse_row(where, cells)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ClientError(
            f"Channel {channel} file {path.name} is not readable CSV: {error}"
        ) from None


def read_channel(channel: str, directory: Path, width: int | None) -> list[list[float]]:
    """All rows of a channel's CSV files; every row must have ``width`` columns (if given)."""
    rows: list[list[float]] = []
    for path in _csv_files(channel, directory):
        for where, row in _csv_rows(channel, path):
            if len(row) < 2:
                raise ClientError(f"{where} needs a label and at least one feature column")
            width = width or len(row)
            if len(row) != width:
                raise ClientError(f"{where} has {len(row)} columns, expected {width}")
            rows.append(row)
    if not rows:
        raise ClientError(f"Channel {channel} has no data rows in {directory}")
    return rows


def _class_labels(channel: str, labels: list[float], num_classes: int) -> torch.Tensor:
    for label in labels:
        if label != int(label) or not 0 <= label < num_classes:
            raise ClientError(
                f"Channel {channel} has label {label:g}; a classifier with {num_classes} classes "
                f"needs integer labels from 0 to {num_classes - 1}"
            )
    return torch.tensor([int(label) for label in labels], dtype=torch.int64)


def _num_classes(hp: Hyperparameters, labels: list[float]) -> int:
    if hp.num_classes is not None:
        return hp.num_classes
    largest = max(labels)
    if largest < 1 or largest != int(largest):
        raise ClientError(
            f"Channel train labels must be integers 0..K-1 with K >= 2 for a classifier; "
            f"the largest is {largest:g}"
        )
    return int(largest) + 1


def _split(channel: str, rows: list[list[float]], classes: int | None) -> Split:
    labels = [row[0] for row in rows]
    features = torch.tensor([row[1:] for row in rows], dtype=torch.float32)
    if classes is None:
        return Split(features, torch.tensor(labels, dtype=torch.float32))
    return Split(features, _class_labels(channel, labels, classes))


def _standardize(data: Dataset) -> Dataset:
    features = data.train.features.double()
    mean = features.mean(dim=0)
    std = features.std(dim=0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))

    def scale(split: Split) -> Split:
        return Split(((split.features.double() - mean) / std).float(), split.labels)

    validation = None if data.validation is None else scale(data.validation)
    return replace(
        data, train=scale(data.train), validation=validation, mean=mean.tolist(), std=std.tolist()
    )


def load_data(hp: Hyperparameters, train_dir: Path, validation_dir: Path | None) -> Dataset:
    """Read the channels, check the labels and standardize the features."""
    train_rows = read_channel("train", train_dir, None)
    classifier = hp.predictor_type == "classifier"
    classes = _num_classes(hp, [row[0] for row in train_rows]) if classifier else None
    train = _split("train", train_rows, classes)
    validation = None
    if validation_dir is not None:
        rows = read_channel("validation", validation_dir, len(train_rows[0]))
        validation = _split("validation", rows, classes)
    data = Dataset(train, validation, classes or 1, None, None)
    return _standardize(data) if hp.normalize else data


# ---------------------------------------------------------------------------------------------
# Model, metrics and learning rate


def metric_names(classifier: bool, has_validation: bool) -> list[str]:
    """The metric names of the epoch line, in the order printed."""
    measures = LOSS_AND_ACCURACY if classifier else LOSS_AND_RMSE
    channels = ("train", "validation") if has_validation else ("train",)
    return [f"{channel}:{measure}" for channel in channels for measure in measures]


def resolve(hp: Hyperparameters, data: Dataset) -> Hyperparameters:
    """Fill in the hyperparameters decided from the data and check the monitored metric."""
    classifier = hp.predictor_type == "classifier"
    names = metric_names(classifier, data.validation is not None)
    default = "validation:loss" if data.validation is not None else "train:loss"
    metric = hp.early_stopping_metric or default
    if metric not in names:
        raise _bad_value("early_stopping_metric", "one of " + ", ".join(names), metric)
    classes = data.output_size if classifier else None
    hidden = hidden_size(hp, data)
    return replace(hp, early_stopping_metric=metric, hidden_size=hidden, num_classes=classes)


def hidden_size(hp: Hyperparameters, data: Dataset) -> int:
    """The given size, or for ``auto`` the mean of input and output sizes, rounded half up."""
    return hp.hidden_size or max(1, (data.input_size + data.output_size + 1) // 2)


def layer_sizes(hp: Hyperparameters, data: Dataset) -> list[int]:
    hidden = [hidden_size(hp, data)] * hp.num_hidden_layers
    return [data.input_size, *hidden, data.output_size]


def build_model(sizes: list[int], dropout: float, input_dropout: float) -> nn.Sequential:
    """Input dropout, then per hidden layer Linear, ReLU and Dropout, then a Linear output."""
    layers: list[nn.Module] = [nn.Dropout(input_dropout)]
    for width_in, width_out in itertools.pairwise(sizes[:-1]):
        layers += [nn.Linear(width_in, width_out), nn.ReLU(), nn.Dropout(dropout)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def _loss(outputs: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    if labels.dtype == torch.int64:
        return nn.functional.cross_entropy(outputs, labels, reduction=reduction)
    return nn.functional.mse_loss(outputs.squeeze(1), labels, reduction=reduction)


def evaluate(model: nn.Module, split: Split) -> dict[str, float]:
    """Loss plus accuracy (classifier) or rmse (regressor), with the model in evaluation mode."""
    model.eval()
    total_loss = 0.0
    correct = 0
    with torch.no_grad():
        for start in range(0, split.rows, EVAL_BATCH_ROWS):
            outputs: torch.Tensor = model(split.features[start : start + EVAL_BATCH_ROWS])
            labels = split.labels[start : start + EVAL_BATCH_ROWS]
            total_loss += float(_loss(outputs, labels, reduction="sum"))
            if labels.dtype == torch.int64:
                correct += int((outputs.argmax(dim=1) == labels).sum())
    loss = total_loss / split.rows
    if split.labels.dtype == torch.int64:
        return {"loss": loss, "accuracy": correct / split.rows}
    return {"loss": loss, "rmse": math.sqrt(loss)}


class Progress:
    """Whether a metric improved: lower is better, except for accuracy."""

    def __init__(self, metric: str, min_delta: float) -> None:
        self.maximize = metric.endswith(":accuracy")
        self.min_delta = min_delta
        self.best: float | None = None
        self.bad_epochs = 0

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return self.best is None
        if self.best is None or math.isnan(self.best):
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def update(self, value: float) -> bool:
        """Record one epoch's value; True when it is the new best."""
        if self._improves(value):
            self.best = value
            self.bad_epochs = 0
            return True
        self.bad_epochs += 1
        return False


class LearningRate:
    """The learning rate of each epoch: linear warm-up, then the chosen schedule."""

    def __init__(self, hp: Hyperparameters) -> None:
        self.hp = hp
        self.plateau = Progress(hp.early_stopping_metric, 0.0)
        self.plateau_rate = hp.learning_rate

    def for_epoch(self, epoch: int) -> float:
        hp = self.hp
        if epoch <= hp.warmup_epochs:
            return hp.learning_rate * epoch / hp.warmup_epochs
        step = epoch - hp.warmup_epochs - 1
        if hp.lr_scheduler == "step":
            return hp.learning_rate * hp.lr_gamma ** (step // hp.lr_step_size)
        if hp.lr_scheduler == "cosine":
            span = max(1, hp.epochs - hp.warmup_epochs)
            cosine = (1 + math.cos(math.pi * step / span)) / 2
            return hp.lr_min + (hp.learning_rate - hp.lr_min) * cosine
        return self.plateau_rate if hp.lr_scheduler == "reduce_on_plateau" else hp.learning_rate

    def observe(self, epoch: int, value: float) -> None:
        """Feed the monitored metric after an epoch (used by reduce_on_plateau)."""
        if epoch <= self.hp.warmup_epochs or self.plateau.update(value):
            return
        if self.plateau.bad_epochs >= self.hp.lr_patience:
            self.plateau_rate *= self.hp.lr_factor
            self.plateau.bad_epochs = 0


def build_optimizer(hp: Hyperparameters, model: nn.Module) -> torch.optim.Optimizer:
    params = model.parameters()
    if hp.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=hp.learning_rate, momentum=hp.momentum, weight_decay=hp.weight_decay
        )
    if hp.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)
    return torch.optim.Adam(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)


# ---------------------------------------------------------------------------------------------
# Training


class StopFlag:
    """Set by SIGTERM; training checks it after every batch."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


@contextmanager
def sigterm_flag() -> Iterator[StopFlag]:
    """Catch SIGTERM while training (only possible on the main thread) and restore it after."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGTERM, flag.request)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int | None
    best_state: dict[str, torch.Tensor]
    stop_reason: str


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    order: torch.Tensor,
    batch_size: int,
    stop: StopFlag,
) -> bool:
    """One pass over the shuffled rows; False when SIGTERM cut it short."""
    model.train()
    for start in range(0, split.rows, batch_size):
        index = order[start : start + batch_size]
        optimizer.zero_grad()
        outputs: torch.Tensor = model(split.features[index])
        torch.autograd.backward(_loss(outputs, split.labels[index]))
        optimizer.step()
        if stop.requested:
            return False
    return True


def _epoch_metrics(model: nn.Module, data: Dataset, epoch: int, lr: float) -> dict[str, float]:
    metrics: dict[str, float] = {"epoch": epoch, "lr": lr}
    splits = {"train": data.train, "validation": data.validation}
    for channel, split in splits.items():
        if split is not None:
            for measure, value in evaluate(model, split).items():
                metrics[f"{channel}:{measure}"] = value
    return metrics


def format_epoch_line(metrics: dict[str, float]) -> str:
    values = [f"{name}={value:.6g}" for name, value in metrics.items() if name != "epoch"]
    return " ".join([f"epoch={int(metrics['epoch'])}", *values])


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def fit(model: nn.Module, data: Dataset, hp: Hyperparameters, stop: StopFlag) -> FitResult:
    """Train for up to ``hp.epochs`` epochs, keeping the best epoch's weights.

    When no epoch completes (SIGTERM during the first), the weights as they are count as best.
    """
    metric = hp.early_stopping_metric
    optimizer = build_optimizer(hp, model)
    rates = LearningRate(hp)
    progress = Progress(metric, hp.early_stopping_min_delta)
    generator = torch.Generator().manual_seed(hp.seed)
    result = FitResult([], None, {}, "completed")
    for epoch in range(1, hp.epochs + 1):
        lr = rates.for_epoch(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(data.train.rows, generator=generator)
        if not _train_epoch(model, optimizer, data.train, order, hp.batch_size, stop):
            result.stop_reason = "sigterm"
            break
        metrics = _epoch_metrics(model, data, epoch, lr)
        print(format_epoch_line(metrics), flush=True)
        result.history.append(metrics)
        if progress.update(metrics[metric]):
            result.best_epoch, result.best_state = epoch, _snapshot(model)
        rates.observe(epoch, metrics[metric])
        if stop.requested:
            result.stop_reason = "sigterm"
            break
        if 0 < hp.early_stopping_patience <= progress.bad_epochs:
            result.stop_reason = "early_stopping"
            break
    if result.best_epoch is None:
        result.best_state = _snapshot(model)
    return result


# ---------------------------------------------------------------------------------------------
# Files and environment


@dataclass(frozen=True)
class Environment:
    """The SageMaker training paths and settings this script reads from the environment."""

    train_dir: Path | None
    validation_dir: Path | None
    model_dir: Path
    output_dir: Path
    output_data_dir: Path
    num_cpus: int | None

    @classmethod
    def from_os(cls) -> Environment:
        def path(name: str) -> Path | None:
            value = os.environ.get(name)
            return Path(value) if value else None

        cpus = os.environ.get("SM_NUM_CPUS", "").strip()
        return cls(
            train_dir=path("SM_CHANNEL_TRAIN"),
            validation_dir=path("SM_CHANNEL_VALIDATION"),
            model_dir=path("SM_MODEL_DIR") or Path("/opt/ml/model"),
            output_dir=path("SM_OUTPUT_DIR") or Path("/opt/ml/output"),
            output_data_dir=path("SM_OUTPUT_DATA_DIR") or Path("/opt/ml/output/data"),
            num_cpus=int(cpus) if cpus.isdigit() else None,
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same directory, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode()


def write_failure(output_dir: Path, message: str) -> None:
    """Write the failure file atomically, leaving one that is already there untouched."""
    output_dir.mkdir(parents=True, exist_ok=True)
    temporary = output_dir / f".failure.{os.getpid()}.tmp"
    temporary.write_text(message + "\n")
    try:
        os.link(temporary, output_dir / "failure")
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _model_description(hp: Hyperparameters, data: Dataset, result: FitResult) -> dict[str, object]:
    best = result.history[result.best_epoch - 1] if result.best_epoch else None
    return {
        "format": "hpjobs-mlp/1",
        "predictor_type": hp.predictor_type,
        "architecture": {
            "layer_sizes": layer_sizes(hp, data),
            "activation": "relu",
            "dropout": hp.dropout,
            "input_dropout": hp.input_dropout,
        },
        "input_size": data.input_size,
        "classes": list(range(data.output_size)) if hp.num_classes else None,
        "normalization": {"mean": data.mean, "std": data.std} if data.mean else None,
        "hyperparameters": asdict(hp),
        "best_epoch": result.best_epoch,
        "epochs_completed": len(result.history),
        "stop_reason": result.stop_reason,
        "best_metrics": best,
        "final_metrics": result.history[-1] if result.history else None,
    }


def save(env: Environment, hp: Hyperparameters, data: Dataset, result: FitResult) -> None:
    buffer = io.BytesIO()
    torch.save(result.best_state, buffer)
    write_atomic(env.model_dir / "model.pt", buffer.getvalue())
    write_atomic(env.model_dir / "model.json", _json_bytes(_model_description(hp, data, result)))
    history = {"best_epoch": result.best_epoch, "epochs": result.history}
    write_atomic(env.output_data_dir / "history.json", _json_bytes(history))


# ---------------------------------------------------------------------------------------------
# Entry point


def _configure_torch(seed: int, num_cpus: int | None) -> None:
    if num_cpus is not None:
        torch.set_num_threads(max(1, num_cpus))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def _start_line(hp: Hyperparameters, data: Dataset) -> str:
    validation = data.validation.rows if data.validation is not None else 0
    classes = f"{data.output_size} classes" if hp.num_classes else "regression"
    sizes = " -> ".join(str(size) for size in layer_sizes(hp, data))
    return (
        f"hpjobs/mlp {hp.predictor_type}: {data.train.rows} train rows, {validation} validation "
        f"rows, {data.input_size} features, {classes}; layers {sizes}; optimizer {hp.optimizer}, "
        f"{hp.epochs} epochs, monitoring {hp.early_stopping_metric}"
    )


def _final_line(hp: Hyperparameters, result: FitResult, model_dir: Path) -> str:
    if result.best_epoch is None:
        return f"No epoch completed; saved the weights as they were to {model_dir}"
    value = result.history[result.best_epoch - 1][hp.early_stopping_metric]
    return (
        f"Best epoch: {result.best_epoch} ({hp.early_stopping_metric} {value:.6g}); "
        f"its weights are saved to {model_dir}"
    )


def _stop_line(result: FitResult) -> str | None:
    epochs = len(result.history)
    if result.stop_reason == "early_stopping":
        return f"Early stopping after epoch {epochs}: no improvement in the monitored metric"
    if result.stop_reason == "sigterm":
        return f"SIGTERM received: stopped after {epochs} complete epochs; saving the best model"
    return None


def run(argv: list[str], env: Environment, stop: StopFlag) -> int:
    """Parse, load, train and save; raises ClientError for bad input."""
    hp = parse_hyperparameters(parse_arguments(argv))
    if env.train_dir is None:
        raise ClientError("No train channel: SM_CHANNEL_TRAIN is not set")
    _configure_torch(hp.seed, env.num_cpus)
    data = load_data(hp, env.train_dir, env.validation_dir)
    hp = resolve(hp, data)
    model = build_model(layer_sizes(hp, data), hp.dropout, hp.input_dropout)
    print(_start_line(hp, data), flush=True)
    result = fit(model, data, hp, stop)
    stop_line = _stop_line(result)
    if stop_line:
        print(stop_line, flush=True)
    save(env, hp, data, result)
    print(_final_line(hp, result, env.model_dir), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one training job; 0 on success (also when stopped by SIGTERM), 1 on a ClientError."""
    env = Environment.from_os()
    try:
        with sigterm_flag() as stop:
            return run(sys.argv[1:] if argv is None else argv, env, stop)
    except ClientError as error:
        message = f"ClientError: {error}".replace("\n", " ")
        write_failure(env.output_dir, message)
        print(message, file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
