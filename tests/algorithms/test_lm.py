"""The hpjobs/lm training script: hyperparameters, data formats, fine-tuning, early stopping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hpjobs.algorithms import lm

SCRIPT = Path(lm.__file__)
TINY = ["--width", "32", "--depth", "1", "--heads", "2", "--context_length", "32"]


def _environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **channels: Path) -> Path:
    model_dir = tmp_path / "model"
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))
    for variable in ("SM_CHANNEL_TRAIN", "SM_CHANNEL_VALIDATION", "SM_CHANNEL_BASE"):
        monkeypatch.delenv(variable, raising=False)
    for name, folder in channels.items():
        monkeypatch.setenv(f"SM_CHANNEL_{name.upper()}", str(folder))
    return model_dir


def _text(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "data.txt").write_text(text)
    return folder


def _jsonl(tmp_path: Path, name: str, records: list[dict[str, str]]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "data.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return folder


def _epochs(output: str) -> list[dict[str, float]]:
    lines = [line for line in output.splitlines() if line.startswith("epoch=")]
    return [{k: float(v) for k, v in (p.split("=") for p in line.split())} for line in lines]


def test_training_lowers_the_loss_and_saves_the_best_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "the quick brown fox jumps over the lazy dog. " * 40
    model_dir = _environment(tmp_path, monkeypatch, train=_text(tmp_path, "train", text))
    code = lm.main([*TINY, "--epochs", "4", "--learning_rate", "0.01", "--warmup_steps", "2"])
    assert code == 0
    epochs = _epochs(capsys.readouterr().out)
    assert [int(e["epoch"]) for e in epochs] == [1, 2, 3, 4]
    assert epochs[-1]["train:loss"] < epochs[0]["train:loss"] - 0.5
    config = json.loads((model_dir / "config.json").read_text())
    assert config["context_length"] == 32 and config["width"] == 32
    assert config["best_epoch"] == 4
    model = lm.load_model(model_dir)
    assert model.config.depth == 1


def test_prompt_completion_counts_only_the_completion(tmp_path: Path) -> None:
    folder = _jsonl(tmp_path, "train", [{"prompt": "ab", "completion": "cd"}])
    examples = lm.read_examples(folder, "prompt_completion")
    assert examples.tokens == [*b"abcd", lm.END_OF_TEXT]
    assert examples.weights == [0, 0, 1, 1, 1]


def test_continued_pre_training_reads_input_records(tmp_path: Path) -> None:
    folder = _jsonl(tmp_path, "train", [{"input": "xy"}, {"input": "z"}])
    examples = lm.read_examples(folder, "input")
    assert examples.tokens == [*b"xy", lm.END_OF_TEXT, *b"z", lm.END_OF_TEXT]


def test_fine_tuning_starts_from_the_base_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "base"
    base_model = lm.ByteTransformer(lm.ModelConfig(24, 16, 1, 2, 0.0))
    base.mkdir()
    torch.save(base_model.state_dict(), base / "model.pt")
    (base / "config.json").write_text(
        json.dumps({"context_length": 24, "width": 16, "depth": 1, "heads": 2})
    )
    records = [{"prompt": "q: ", "completion": "yes"}] * 30
    train = _jsonl(tmp_path, "train", records)
    model_dir = _environment(tmp_path, monkeypatch, train=train, base=base)
    args = ["--data_format", "prompt_completion", "--epochs", "10", "--learning_rate", "0.02"]
    args += ["--warmup_steps", "0"]
    assert lm.main(args) == 0
    tuned = lm.load_model(model_dir)
    assert tuned.config.width == 16  # the architecture comes from the base model
    examples = lm.read_examples(train, "prompt_completion")
    before = lm.evaluate(lm.load_model(base), examples, 24, 8)
    after = lm.evaluate(tuned, examples, 24, 8)
    assert after < before - 1.0


def test_early_stopping_stops_when_validation_stops_improving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _text(tmp_path, "train", "abcabcabcabc " * 50)
    validation = _text(tmp_path, "validation", "zyxwvu zyxwvu " * 10)
    model_dir = _environment(tmp_path, monkeypatch, train=train, validation=validation)
    args = [*TINY, "--epochs", "30", "--learning_rate", "0.02", "--early_stopping_patience", "2"]
    assert lm.main(args) == 0
    output = capsys.readouterr().out
    epochs = _epochs(output)
    assert "early stopping at epoch" in output and len(epochs) < 30
    losses = [e["validation:loss"] for e in epochs]
    best = json.loads((model_dir / "config.json").read_text())
    assert best["best_epoch"] == losses.index(min(losses)) + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--learning_rate", "-1"],
            "ClientError: Hyperparameter learning_rate must be greater than 0, got '-1'",
        ),
        (
            ["--width", "30", "--heads", "4"],
            "ClientError: Hyperparameter heads (4) must divide width (30)",
        ),
        (["--dropout", "1"], "ClientError: Hyperparameter dropout must be in [0, 1), got '1'"),
        (
            ["--data_format", "csv"],
            "ClientError: Hyperparameter data_format must be one of text, prompt_completion, "
            "input, got 'csv'",
        ),
        (["--epochs", "two"], "ClientError: Hyperparameter epochs must be an integer, got 'two'"),
        (["--colour", "blue"], "ClientError: Unknown hyperparameters: colour"),
    ],
)
def test_bad_hyperparameters_fail_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    _environment(tmp_path, monkeypatch, train=_text(tmp_path, "train", "text"))
    assert lm.main(args) == 1
    assert (tmp_path / "output" / "failure").read_text() == message


def test_bad_records_fail_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "data.jsonl").write_text('{"prompt": "a", "completion": "b"}\nnot json\n')
    _environment(tmp_path, monkeypatch, train=folder)
    assert lm.main(["--data_format", "prompt_completion"]) == 1
    assert (tmp_path / "output" / "failure").read_text() == (
        "ClientError: data.jsonl line 2 is not valid JSON"
    )


def test_float16_weights_load_as_float32(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = _environment(tmp_path, monkeypatch, train=_text(tmp_path, "train", "abc " * 40))
    assert lm.main([*TINY, "--epochs", "1", "--save_dtype", "float16"]) == 0
    saved = torch.load(model_dir / "model.pt", weights_only=True)
    assert {tensor.dtype for tensor in saved.values()} == {torch.float16}
    assert next(lm.load_model(model_dir).parameters()).dtype == torch.float32


def test_sigterm_saves_the_model_and_exits_0(tmp_path: Path) -> None:
    train = _text(tmp_path, "train", "some text to learn from. " * 4000)
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(train),
        "SM_MODEL_DIR": str(tmp_path / "model"),
        "SM_OUTPUT_DIR": str(tmp_path / "output"),
    }
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), *TINY, "--epochs", "1000"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("epoch=1 "):
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0
    assert "SIGTERM received: stopping after epoch" in output
    assert (tmp_path / "model" / "model.pt").is_file()
