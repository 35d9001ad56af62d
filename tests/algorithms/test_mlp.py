"""Tests of the built-in algorithm hpjobs/mlp: real training runs on the shipped digits split."""

from __future__ import annotations

import ast
import itertools
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from hpjobs.algorithms import mlp
from hpjobs.algorithms._mlp_metrics import MLP_METRIC_DEFINITIONS

SCRIPT = Path(mlp.__file__).resolve()
DIGITS = SCRIPT.parent / "data" / "digits"
KNOWN_HYPERPARAMETERS = (
    "batch_size, dropout, early_stopping_metric, early_stopping_min_delta, "
    "early_stopping_patience, epochs, hidden_size, input_dropout, learning_rate, lr_factor, "
    "lr_gamma, lr_min, lr_patience, lr_scheduler, lr_step_size, momentum, normalize, "
    "num_classes, num_hidden_layers, optimizer, predictor_type, seed, warmup_epochs, "
    "weight_decay"
)

TOO_FEW_CLASSES = (
    "Channel train labels must be integers 0..K-1 with K >= 2 for a classifier; the largest is "
)


def bad_label(channel: str, label: str, classes: int) -> str:
    return (
        f"Channel {channel} has label {label}; a classifier with {classes} classes needs "
        f"integer labels from 0 to {classes - 1}"
    )


def arguments(hyperparameters: dict[str, object]) -> list[str]:
    """The command line SageMaker's training toolkit builds: sorted ``--key value`` pairs."""
    argv: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        argv += [f"--{key}", str(value)]  # str(True) is "True", as the toolkit writes it
    return argv


def parse_epoch_lines(stdout: str) -> list[dict[str, float]]:
    lines = [line for line in stdout.splitlines() if line.startswith("epoch=")]
    return [{k: float(v) for k, v in (pair.split("=") for pair in line.split())} for line in lines]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    model_dir: Path
    output_dir: Path

    @property
    def epochs(self) -> list[dict[str, float]]:
        return parse_epoch_lines(self.stdout)

    @property
    def lrs(self) -> list[float]:
        return [epoch["lr"] for epoch in self.epochs]

    @property
    def model(self) -> dict[str, Any]:
        description: dict[str, Any] = json.loads((self.model_dir / "model.json").read_text())
        return description

    @property
    def history(self) -> list[dict[str, float]]:
        text = (self.output_dir / "data" / "history.json").read_text()
        epochs: list[dict[str, float]] = json.loads(text)["epochs"]
        return epochs

    def series(self, metric: str) -> list[float]:
        """Full-precision values of one metric, epoch by epoch."""
        return [epoch[metric] for epoch in self.history]

    @property
    def failure(self) -> str:
        return (self.output_dir / "failure").read_text()


class Job:
    """Runs mlp.main in-process with SageMaker's environment, one fresh output folder per run."""

    def __init__(
        self, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ):
        self.root = root
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.runs = 0
        monkeypatch.setenv("SM_NUM_CPUS", "1")

    def channels(self, train: Path | None, validation: Path | None = None) -> None:
        for name, path in (("SM_CHANNEL_TRAIN", train), ("SM_CHANNEL_VALIDATION", validation)):
            if path is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, str(path))
        names = [n for n, p in (("train", train), ("validation", validation)) if p is not None]
        self.monkeypatch.setenv("SM_CHANNELS", json.dumps(names))

    def __call__(self, **hyperparameters: object) -> Run:
        self.runs += 1
        root = self.root / f"run{self.runs}"
        model_dir, output_dir = root / "model", root / "output"
        self.monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
        self.monkeypatch.setenv("SM_OUTPUT_DIR", str(output_dir))
        self.monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(output_dir / "data"))
        code = mlp.main(arguments(hyperparameters))
        out, err = self.capsys.readouterr()
        return Run(code, out, err, model_dir, output_dir)


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The shipped split as two channel folders, the way a runner lays them out."""
    root = tmp_path_factory.mktemp("digits")
    for name in ("train", "validation"):
        (root / name).mkdir()
        shutil.copy(DIGITS / f"{name}.csv", root / name / f"{name}.csv")
    return root / "train", root / "validation"


@pytest.fixture
def job(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    digits: tuple[Path, Path],
) -> Job:
    runner = Job(tmp_path, monkeypatch, capsys)
    runner.channels(*digits)
    return runner


def write_csv(path: Path, rows: list[list[float]] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = rows if isinstance(rows, str) else "".join(",".join(map(str, r)) + "\n" for r in rows)
    path.write_text(text)
    return path.parent


def final_validation_loss(run: Run) -> float:
    assert run.code == 0, run.stderr
    return run.series("validation:loss")[-1]


# ---------------------------------------------------------------------------------------------
# Shipped data


def test_shipped_split_is_a_stratified_80_20_partition_of_digits() -> None:
    rows = {
        name: (DIGITS / f"{name}.csv").read_text().splitlines() for name in ("train", "validation")
    }
    assert (len(rows["train"]), len(rows["validation"])) == (1438, 359)
    assert not set(rows["train"]) & set(rows["validation"])
    for label in range(10):
        counts = [sum(r.split(",")[0] == str(label) for r in rows[n]) for n in rows]
        assert counts[1] == round(sum(counts) * 0.2)
    assert all(len(r.split(",")) == 65 for r in rows["train"] + rows["validation"])


def test_script_imports_only_the_standard_library_and_torch() -> None:
    tree = ast.parse(SCRIPT.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in imported}
    assert roots - set(sys.stdlib_module_names) == {"torch"}


# ---------------------------------------------------------------------------------------------
# Hyperparameters move validation loss


def test_learning_rate_changes_validation_loss(job: Job) -> None:
    baseline = final_validation_loss(job(epochs=5))
    tiny = final_validation_loss(job(epochs=5, learning_rate=0.00001))
    large = final_validation_loss(job(epochs=5, learning_rate=0.01))
    assert tiny > baseline + 0.5
    assert large < baseline - 0.3


def test_weight_decay_changes_validation_loss(job: Job) -> None:
    baseline = final_validation_loss(job(epochs=5))
    l2 = final_validation_loss(job(epochs=5, weight_decay=0.1))
    assert l2 > baseline + 0.1
    decoupled_off = final_validation_loss(job(epochs=5, optimizer="adamw"))
    decoupled = final_validation_loss(job(epochs=5, optimizer="adamw", weight_decay=1))
    assert decoupled > decoupled_off + 0.03


def test_dropout_changes_validation_loss(job: Job) -> None:
    baseline = final_validation_loss(job(epochs=5))  # dropout 0.5
    assert final_validation_loss(job(epochs=5, dropout=0)) < baseline - 0.1
    assert final_validation_loss(job(epochs=5, dropout=0.9)) > baseline + 0.3
    assert final_validation_loss(job(epochs=5, input_dropout=0.5)) > baseline + 0.05


def test_hidden_size_changes_validation_loss(job: Job) -> None:
    baseline = final_validation_loss(job(epochs=5))  # auto: 37
    assert final_validation_loss(job(epochs=5, hidden_size=2)) > baseline + 0.5
    assert final_validation_loss(job(epochs=5, hidden_size=128)) < baseline - 0.2


def test_hidden_size_auto_is_the_mean_of_input_and_output_sizes(job: Job) -> None:
    run = job(epochs=1)
    model = run.model
    assert model["architecture"]["layer_sizes"] == [64, 37, 10]
    assert model["hyperparameters"]["hidden_size"] == 37
    state = torch.load(run.model_dir / "model.pt")
    assert tuple(state["1.weight"].shape) == (37, 64)
    assert tuple(state["4.weight"].shape) == (10, 37)
    assert "hidden_size=auto" not in run.stdout and "layers 64 -> 37 -> 10" in run.stdout


def test_zero_hidden_layers_is_a_linear_model(job: Job) -> None:
    run = job(epochs=2, num_hidden_layers=0)
    assert run.model["architecture"]["layer_sizes"] == [64, 10]
    assert sorted(torch.load(run.model_dir / "model.pt")) == ["1.bias", "1.weight"]


# ---------------------------------------------------------------------------------------------
# Reproducibility


def test_same_seed_gives_identical_metrics_and_model(job: Job) -> None:
    first, second = job(epochs=3, seed=7), job(epochs=3, seed=7)
    assert first.history == second.history
    assert first.epochs == second.epochs
    a, b = (torch.load(run.model_dir / "model.pt") for run in (first, second))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_different_seed_gives_different_metrics(job: Job) -> None:
    first, other = job(epochs=3, seed=7), job(epochs=3, seed=8)
    assert first.series("validation:loss") != other.series("validation:loss")
    assert first.series("train:loss")[0] != other.series("train:loss")[0]
    # One full batch without dropout: only the initial weights depend on the seed.
    a, b = (job(epochs=1, batch_size=2048, dropout=0, seed=seed) for seed in (7, 8))
    assert abs(a.series("train:loss")[0] - b.series("train:loss")[0]) > 1e-3


# ---------------------------------------------------------------------------------------------
# Learning-rate schedules


def test_constant_schedule_keeps_the_learning_rate(job: Job) -> None:
    assert job(epochs=3, learning_rate=0.02).lrs == [0.02, 0.02, 0.02]


def test_step_schedule_drops_every_step_size_epochs(job: Job) -> None:
    run = job(epochs=7, learning_rate=0.01, lr_scheduler="step", lr_step_size=3, lr_gamma=0.5)
    assert run.lrs == pytest.approx([0.01] * 3 + [0.005] * 3 + [0.0025], rel=1e-5)


def test_cosine_schedule_decreases_towards_lr_min(job: Job) -> None:
    run = job(epochs=5, learning_rate=0.01, lr_scheduler="cosine", lr_min=0.001)
    expected = [0.001 + 0.009 * (1 + math.cos(math.pi * t / 5)) / 2 for t in range(5)]
    assert run.lrs == pytest.approx(expected, rel=1e-5)
    assert run.lrs[0] == pytest.approx(0.01)
    assert 0.001 < run.lrs[-1] < 0.002  # the last epoch still learns
    assert all(a > b for a, b in itertools.pairwise(run.lrs))


def test_warmup_rises_linearly_then_the_schedule_starts(job: Job) -> None:
    constant = job(epochs=6, learning_rate=0.01, warmup_epochs=4)
    assert constant.lrs == pytest.approx([0.0025, 0.005, 0.0075, 0.01, 0.01, 0.01], rel=1e-5)
    stepped = job(
        epochs=6, learning_rate=0.01, warmup_epochs=2, lr_scheduler="step", lr_step_size=2
    )
    assert stepped.lrs == pytest.approx([0.005, 0.01, 0.01, 0.01, 0.001, 0.001], rel=1e-5)


def test_reduce_on_plateau_cuts_the_rate_after_patience_bad_epochs(job: Job) -> None:
    run = job(
        epochs=12,
        learning_rate=0.05,
        lr_scheduler="reduce-on-plateau",
        lr_patience=1,
        lr_factor=0.5,
    )
    expected, rate, best, bad = [], 0.05, math.inf, 0
    for value in run.series("validation:loss"):
        expected.append(rate)
        best, bad = (value, 0) if value < best else (best, bad + 1)
        if bad >= 1:
            rate, bad = rate * 0.5, 0
    assert run.lrs == pytest.approx(expected, rel=1e-5)
    assert len(set(run.lrs)) >= 3  # the rate really was cut, at least twice


# ---------------------------------------------------------------------------------------------
# Early stopping and the saved model


def saved_model_validation_loss(run: Run, validation_csv: Path) -> float:
    """Rebuild the saved network from model.json and model.pt and score it independently."""
    description = run.model
    rows = [[float(v) for v in line.split(",")] for line in validation_csv.read_text().splitlines()]
    norm = description["normalization"]
    mean, std = torch.tensor(norm["mean"]), torch.tensor(norm["std"])
    features = (torch.tensor([r[1:] for r in rows]) - mean) / std
    labels = torch.tensor([int(r[0]) for r in rows])
    sizes = description["architecture"]["layer_sizes"]
    network = mlp.build_model(sizes, 0.0, 0.0)
    network.load_state_dict(torch.load(run.model_dir / "model.pt"))
    network.eval()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(network(features), labels))


def test_early_stopping_stops_and_keeps_the_best_epoch(job: Job, digits: tuple[Path, Path]) -> None:
    run = job(epochs=50, learning_rate=0.05, dropout=0, early_stopping_patience=2)
    losses = run.series("validation:loss")
    best = losses.index(min(losses)) + 1
    assert len(losses) == best + 2 < 50
    assert run.model["best_epoch"] == best and run.model["stop_reason"] == "early_stopping"
    assert f"Best epoch: {best} " in run.stdout
    saved = saved_model_validation_loss(run, digits[1] / "validation.csv")
    assert saved == pytest.approx(losses[best - 1], rel=1e-4)
    assert saved != pytest.approx(losses[-1], rel=1e-3)


def test_early_stopping_on_accuracy_maximizes(job: Job) -> None:
    run = job(
        epochs=50,
        learning_rate=0.02,
        early_stopping_patience=3,
        early_stopping_metric="validation:accuracy",
    )
    accuracy = run.series("validation:accuracy")
    best = accuracy.index(max(accuracy)) + 1
    assert len(accuracy) == best + 3 < 50
    assert run.model["best_epoch"] == best
    assert run.model["best_metrics"]["validation:accuracy"] == max(accuracy)


def test_model_json_and_history_describe_the_run(job: Job) -> None:
    run = job(epochs=3, normalize="false", batch_size=128)
    model = run.model
    assert model["normalization"] is None and model["classes"] == list(range(10))
    assert model["epochs_completed"] == 3 and model["stop_reason"] == "completed"
    hyperparameters = model["hyperparameters"]
    assert hyperparameters["normalize"] is False and hyperparameters["batch_size"] == 128
    assert hyperparameters["early_stopping_metric"] == "validation:loss"
    assert [e["epoch"] for e in run.history] == [1, 2, 3]
    assert run.epochs[2]["validation:loss"] == pytest.approx(
        run.history[2]["validation:loss"], rel=1e-5
    )


# ---------------------------------------------------------------------------------------------
# Metric lines and MetricDefinitions


def check_metric_definitions(stdout: str, printed: list[str]) -> None:
    line = next(line for line in stdout.splitlines() if line.startswith("epoch=2 "))
    values = dict(pair.split("=") for pair in line.split())
    assert [name for name in values if name not in ("epoch", "lr")] == printed
    for definition in MLP_METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], line)
        if definition["Name"] in printed:
            assert match is not None and match.group(1) == values[definition["Name"]]
        else:
            assert match is None


def test_every_printed_metric_has_exactly_its_definition(job: Job, tmp_path: Path) -> None:
    classifier = job(epochs=2)
    check_metric_definitions(
        classifier.stdout,
        ["train:loss", "train:accuracy", "validation:loss", "validation:accuracy"],
    )
    job.channels(regression_channel(tmp_path / "reg"))
    regressor = job(epochs=2, predictor_type="regressor")
    check_metric_definitions(regressor.stdout, ["train:loss", "train:rmse"])
    assert regressor.model["architecture"]["layer_sizes"] == [3, 2, 1]  # auto: (3 + 1) / 2
    job.channels(regression_channel(tmp_path / "reg"), regression_channel(tmp_path / "regval", 7))
    regressor = job(epochs=2, predictor_type="regressor")
    check_metric_definitions(
        regressor.stdout, ["train:loss", "train:rmse", "validation:loss", "validation:rmse"]
    )
    names = [definition["Name"] for definition in MLP_METRIC_DEFINITIONS]
    assert len(names) == len(set(names)) == 6


# ---------------------------------------------------------------------------------------------
# Regression


def regression_channel(folder: Path, seed: int = 0, rows: int = 300) -> Path:
    """y = 3 x1 - 2 x2 + 0.5 x3 + 1 on random features, no noise."""
    rng = random.Random(seed)
    data = []
    for _ in range(rows):
        x = [rng.uniform(-2, 2) for _ in range(3)]
        data.append([3 * x[0] - 2 * x[1] + 0.5 * x[2] + 1, *x])
    return write_csv(folder / "data.csv", data)


def test_regressor_learns_a_linear_function(job: Job, tmp_path: Path) -> None:
    job.channels(regression_channel(tmp_path / "train"), regression_channel(tmp_path / "val", 1))
    run = job(
        predictor_type="regressor",
        epochs=30,
        learning_rate=0.01,
        dropout=0,
        batch_size=16,
        hidden_size=16,
    )
    assert run.code == 0, run.stderr
    losses = run.series("validation:loss")
    assert losses[-1] < losses[0] / 20
    assert run.series("train:rmse")[-1] == pytest.approx(math.sqrt(run.series("train:loss")[-1]))
    assert run.model["classes"] is None
    assert run.model["architecture"]["layer_sizes"] == [3, 16, 1]


# ---------------------------------------------------------------------------------------------
# Bad input fails the job with a ClientError


@pytest.mark.parametrize(
    ("hyperparameters", "reason"),
    [
        (
            {"learning_rate": -1},
            "Hyperparameter learning_rate must be a number greater than 0, got '-1'",
        ),
        (
            {"learning_rate": "fast"},
            "Hyperparameter learning_rate must be a number greater than 0, got 'fast'",
        ),
        (
            {"epochs": 2.5},
            "Hyperparameter epochs must be an integer greater than or equal to 1, got '2.5'",
        ),
        (
            {"batch_size": 0},
            "Hyperparameter batch_size must be an integer greater than or equal to 1, got '0'",
        ),
        (
            {"weight_decay": "-0.1"},
            "Hyperparameter weight_decay must be a number greater than or equal to 0, got '-0.1'",
        ),
        (
            {"dropout": 1},
            "Hyperparameter dropout must be a number from 0 up to but not including 1, got '1'",
        ),
        (
            {"optimizer": "rmsprop"},
            "Hyperparameter optimizer must be one of adam, adamw, sgd, got 'rmsprop'",
        ),
        (
            {"lr_scheduler": "linear"},
            "Hyperparameter lr_scheduler must be one of constant, step, cosine, "
            "reduce_on_plateau, got 'linear'",
        ),
        ({"normalize": "maybe"}, "Hyperparameter normalize must be true or false, got 'maybe'"),
        (
            {"hidden_size": 0},
            "Hyperparameter hidden_size must be a positive integer or 'auto', got '0'",
        ),
        (
            {"num_classes": 1},
            "Hyperparameter num_classes must be an integer greater than or equal to 2, got '1'",
        ),
        (
            {"learningrate": 0.1},
            f"Unknown hyperparameter 'learningrate'; known ones are: {KNOWN_HYPERPARAMETERS}",
        ),
        (
            {"early_stopping_metric": "validation:rmse"},
            "Hyperparameter early_stopping_metric must be one of train:loss, train:accuracy, "
            "validation:loss, validation:accuracy, got 'validation:rmse'",
        ),
        (
            {"num_classes": 5},
            bad_label("train", "5", 5),
        ),
    ],
)
def test_bad_hyperparameters_fail_with_a_client_error(
    job: Job, hyperparameters: dict[str, object], reason: str
) -> None:
    run = job(**hyperparameters)
    assert run.code == 1
    assert run.failure == f"ClientError: {reason}\n"
    assert run.stderr.strip().endswith(f"ClientError: {reason}")
    assert not (run.model_dir / "model.pt").exists()


def test_missing_train_channel_fails(job: Job) -> None:
    job.channels(None)
    run = job()
    assert (run.code, run.failure) == (
        1,
        "ClientError: No train channel: SM_CHANNEL_TRAIN is not set\n",
    )


def test_validation_metric_without_validation_channel_fails(
    job: Job, digits: tuple[Path, Path]
) -> None:
    job.channels(digits[0])
    run = job(early_stopping_metric="validation:loss")
    assert run.code == 1
    assert run.failure == (
        "ClientError: Hyperparameter early_stopping_metric must be one of train:loss, "
        "train:accuracy, got 'validation:loss'\n"
    )


@pytest.mark.parametrize(
    ("train", "validation", "reason"),
    [
        ("", None, "Channel train has no data rows in {train}"),
        (
            "1,2,3\n0,4,x\n",
            None,
            "Channel train file data.csv line 2 column 3: 'x' is not a number",
        ),
        ("1,2,3\n0,4\n", None, "Channel train file data.csv line 2 has 2 columns, expected 3"),
        (
            "1\n",
            None,
            "Channel train file data.csv line 1 needs a label and at least one feature column",
        ),
        (
            "0,1\n0,2\n",
            None,
            TOO_FEW_CLASSES + "0",
        ),
        (
            "0,1\n1.5,2\n",
            None,
            TOO_FEW_CLASSES + "1.5",
        ),
        (
            "0,1\n2,2\n-1,3\n",
            None,
            bad_label("train", "-1", 3),
        ),
        (
            "0,1\n1,2\n",
            "3,1\n",
            bad_label("validation", "3", 2),
        ),
        (
            "0,1,2\n1,2,3\n",
            "1,1\n",
            "Channel validation file data.csv line 1 has 2 columns, expected 3",
        ),
    ],
)
def test_bad_data_fails_with_a_client_error(
    job: Job, tmp_path: Path, train: str, validation: str | None, reason: str
) -> None:
    train_dir = write_csv(tmp_path / "train" / "data.csv", train)
    validation_dir = (
        None if validation is None else write_csv(tmp_path / "val" / "data.csv", validation)
    )
    job.channels(train_dir, validation_dir)
    run = job(epochs=1)
    assert run.code == 1
    assert run.failure == f"ClientError: {reason.format(train=train_dir)}\n"


def test_channel_without_csv_files_fails(job: Job, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    job.channels(tmp_path / "empty")
    run = job()
    assert run.failure == f"ClientError: Channel train has no .csv files in {tmp_path / 'empty'}\n"


def test_existing_failure_file_is_not_overwritten(job: Job) -> None:
    first = job(epochs=0)
    assert first.failure.startswith("ClientError: Hyperparameter epochs")
    job.monkeypatch.setenv("SM_OUTPUT_DIR", str(first.output_dir))
    assert mlp.main(["--optimizer", "nope"]) == 1
    assert first.failure.startswith("ClientError: Hyperparameter epochs")
    assert list(first.output_dir.iterdir()) == [first.output_dir / "failure"]


# ---------------------------------------------------------------------------------------------
# As a real process


def sagemaker_env(root: Path, digits: tuple[Path, Path]) -> dict[str, str]:
    return {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(digits[0]),
        "SM_CHANNEL_VALIDATION": str(digits[1]),
        "SM_CHANNELS": '["train", "validation"]',
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_NUM_CPUS": "1",
    }


def test_runs_as_a_script(tmp_path: Path, digits: tuple[Path, Path]) -> None:
    argv = arguments({"epochs": 2, "normalize": False, "seed": 3})
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        env=sagemaker_env(tmp_path, digits),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [int(e["epoch"]) for e in parse_epoch_lines(done.stdout)] == [1, 2]
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model["hyperparameters"]["normalize"] is False and model["hyperparameters"]["seed"] == 3


def test_sigterm_saves_the_best_model_and_exits_0(
    tmp_path: Path, digits: tuple[Path, Path]
) -> None:
    argv = arguments({"epochs": 100000, "batch_size": 8})
    with subprocess.Popen(
        [sys.executable, str(SCRIPT), *argv],
        env=sagemaker_env(tmp_path, digits),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        seen = [process.stdout.readline() for _ in range(3)]  # start line and two epochs
        process.send_signal(signal.SIGTERM)
        rest, errors = process.communicate(timeout=60)
    assert process.returncode == 0, errors
    assert seen[2].startswith("epoch=2 ")
    assert "SIGTERM received" in rest
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model["stop_reason"] == "sigterm" and 2 <= model["epochs_completed"] < 100000
    history = json.loads((tmp_path / "output" / "data" / "history.json").read_text())
    losses = [epoch["validation:loss"] for epoch in history["epochs"]]
    assert len(losses) == model["epochs_completed"] == len(parse_epoch_lines("".join(seen) + rest))
    assert model["best_epoch"] == losses.index(min(losses)) + 1
    assert (tmp_path / "model" / "model.pt").stat().st_size > 0
