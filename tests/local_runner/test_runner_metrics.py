"""Metric values from log lines with ``MetricDefinitions`` regexes."""

from __future__ import annotations

import pytest
import regex

from local_runner.metrics import MetricParser, MetricValue


def _parser(**definitions: str) -> MetricParser:
    return MetricParser([{"Name": name, "Regex": regex} for name, regex in definitions.items()])


def test_first_capture_group_is_the_value() -> None:
    parser = _parser(loss=r"(train)_loss=([0-9.]+)")
    assert parser.parse("train_loss=0.5") == []  # group 1 is "train": not a number
    parser = _parser(loss=r"loss=([0-9.]+) acc=([0-9.]+)")
    assert parser.parse("loss=0.25 acc=0.75") == [MetricValue("loss", 0.25, None)]


def test_first_match_on_a_line_wins() -> None:
    parser = _parser(loss=r"loss: ([-+0-9.eE]+)")
    assert parser.parse("loss: 1.5 then loss: 2.5") == [MetricValue("loss", 1.5, None)]


def test_several_definitions_on_one_line_in_definition_order() -> None:
    parser = MetricParser(
        [
            {"Name": "validation:accuracy", "Regex": r"val_acc=([0-9.]+)"},
            {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
            {"Name": "absent", "Regex": r"missing=([0-9.]+)"},
        ]
    )
    assert parser.parse("epoch=4 loss=0.125 val_acc=0.875") == [
        MetricValue("validation:accuracy", 0.875, 4),
        MetricValue("train:loss", 0.125, 4),
    ]


def test_the_same_regex_under_two_names() -> None:
    parser = MetricParser([{"Name": "a", "Regex": r"v=(\d+)"}, {"Name": "b", "Regex": r"v=(\d+)"}])
    assert parser.parse("v=7") == [MetricValue("a", 7.0, None), MetricValue("b", 7.0, None)]


def test_regex_without_groups_uses_the_whole_match() -> None:
    parser = _parser(number=r"(?<=score )[0-9.]+")
    assert parser.parse("score 3.25 points") == [MetricValue("number", 3.25, None)]


def test_optional_group_that_did_not_take_part_is_skipped() -> None:
    parser = _parser(loss=r"loss(?:=([0-9.]+))?")
    assert parser.parse("loss is unknown") == []
    assert parser.parse("loss=2") == [MetricValue("loss", 2.0, None)]


@pytest.mark.parametrize(
    "line",
    ["loss=abc", "loss=", "loss=nan", "loss=NaN", "loss=-nan", "loss=1.2.3", "loss=0x10"],
)
def test_non_numeric_and_nan_captures_are_skipped(line: str) -> None:
    assert _parser(loss=r"loss=(\S*)").parse(line) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-2.5", -2.5),
        ("+3", 3.0),
        ("1e-3", 0.001),
        ("6.02E23", 6.02e23),
        (".5", 0.5),
        ("inf", float("inf")),
    ],
)
def test_numeric_forms(text: str, value: float) -> None:
    result = _parser(m=r"m=(\S+)").parse(f"m={text}")
    assert result == [MetricValue("m", value, None)]
    assert type(result[0].value) is float


def test_no_definitions_and_no_match() -> None:
    assert MetricParser([]).parse("loss=1") == []
    assert _parser(loss=r"loss=(\d+)").parse("nothing here") == []


@pytest.mark.parametrize(
    ("line", "epoch"),
    [
        ("epoch=3 loss=0.5", 3),
        ("Epoch 3 loss=0.5", 3),
        ("epoch: 3 loss=0.5", 3),
        ("[epoch 3/10] loss=0.5", 3),
        ("EPOCH#12 loss=0.5", 12),
        ("Epoch [7/10] loss=0.5", 7),
        ("loss=0.5 at epoch 42", 42),
        ("loss=0.5", None),
        ("epochs=3 loss=0.5", None),
        ("preepoch 3 loss=0.5", None),
        ("epoch loss=0.5", None),
    ],
)
def test_epoch_detection(line: str, epoch: int | None) -> None:
    assert _parser(loss=r"loss=([0-9.]+)").parse(line) == [MetricValue("loss", 0.5, epoch)]


def test_java_style_patterns_compile() -> None:
    parser = MetricParser(
        [
            {"Name": "letters", "Regex": r"\p{L}+_score=(\d+(?:\.\d+)?)"},
            {"Name": "posix", "Regex": r"\p{Alpha}+:(\p{Digit}+)"},
            {"Name": "possessive", "Regex": r"acc=(\d++\.\d*+)"},
        ]
    )
    assert parser.parse("élan_score=2.5 rate:7 acc=0.9") == [
        MetricValue("letters", 2.5, None),
        MetricValue("posix", 7.0, None),
        MetricValue("possessive", 0.9, None),
    ]


def test_sagemaker_builtin_style_definitions() -> None:
    parser = MetricParser(
        [
            {"Name": "train:mse", "Regex": r"#quality_metric: host=\S+, train mse <loss>=(\S+)"},
            {"Name": "validation:rmse", "Regex": r".*\[[0-9]+\].*#011validation-rmse:(\S+)"},
        ]
    )
    assert parser.parse("#quality_metric: host=algo-1, train mse <loss>=0.0625") == [
        MetricValue("train:mse", 0.0625, None)
    ]
    assert parser.parse("[2]#011train-rmse:0.1#011validation-rmse:0.25") == [
        MetricValue("validation:rmse", 0.25, None)
    ]


def test_invalid_regex_is_rejected_at_construction() -> None:
    with pytest.raises(regex.error):
        _parser(broken=r"loss=([0-9")
