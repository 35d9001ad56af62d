"""Search spaces from SageMaker ``ParameterRanges``: parsing, the scaling rules and their error
texts, counting combinations, and the string form of tuned values."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hpjobs.tuning.space import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    Range,
    RangeError,
    combinations,
    format_value,
    parse_ranges,
)


def integer(name: str, low: str, high: str, scaling: str | None = None) -> dict[str, Any]:
    entry = {"Name": name, "MinValue": low, "MaxValue": high}
    if scaling is not None:
        entry["ScalingType"] = scaling
    return {"IntegerParameterRanges": [entry]}


def continuous(name: str, low: str, high: str, scaling: str | None = None) -> dict[str, Any]:
    entry = {"Name": name, "MinValue": low, "MaxValue": high}
    if scaling is not None:
        entry["ScalingType"] = scaling
    return {"ContinuousParameterRanges": [entry]}


def refused(ranges: dict[str, Any]) -> str:
    with pytest.raises(RangeError) as caught:
        parse_ranges(ranges)
    return str(caught.value)


# parse_ranges: each kind ---------------------------------------------------------------------


def test_integer_range_parses_to_ints() -> None:
    parsed = parse_ranges(integer("max_depth", "3", "18", "Linear"))
    assert parsed == [IntegerRange("max_depth", 3, 18, "Linear")]
    (entry,) = parsed
    assert isinstance(entry, IntegerRange)
    assert type(entry.low) is int
    assert type(entry.high) is int


def test_integer_range_accepts_integral_float_text() -> None:
    assert parse_ranges(integer("n", "2.0", "1e3", "Linear")) == [
        IntegerRange("n", 2, 1000, "Linear")
    ]


def test_continuous_range_parses_to_floats() -> None:
    parsed = parse_ranges(continuous("eta", "0.1", "0.5", "Linear"))
    assert parsed == [ContinuousRange("eta", 0.1, 0.5, "Linear")]
    (entry,) = parsed
    assert isinstance(entry, ContinuousRange)
    assert type(entry.low) is float
    assert type(entry.high) is float


def test_categorical_range_keeps_values_as_given() -> None:
    parsed = parse_ranges(
        {"CategoricalParameterRanges": [{"Name": "opt", "Values": ["Adam", "sgd", " 1 "]}]}
    )
    assert parsed == [CategoricalRange("opt", ("Adam", "sgd", " 1 "))]


def test_categorical_duplicates_collapse_keeping_first_order() -> None:
    parsed = parse_ranges(
        {"CategoricalParameterRanges": [{"Name": "c", "Values": ["b", "a", "b", "c", "a"]}]}
    )
    assert parsed == [CategoricalRange("c", ("b", "a", "c"))]
    assert combinations(parsed) == 3.0


def test_ranges_come_back_integer_then_continuous_then_categorical() -> None:
    parsed = parse_ranges(
        {
            "CategoricalParameterRanges": [{"Name": "c", "Values": ["x"]}],
            "ContinuousParameterRanges": [
                {"Name": "f1", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"},
                {"Name": "f2", "MinValue": "0", "MaxValue": "2", "ScalingType": "Linear"},
            ],
            "IntegerParameterRanges": [
                {"Name": "i", "MinValue": "1", "MaxValue": "2", "ScalingType": "Linear"}
            ],
        }
    )
    assert [r.name for r in parsed] == ["i", "f1", "f2", "c"]


def test_empty_parameter_ranges() -> None:
    assert parse_ranges({}) == []


def test_min_equal_to_max_is_allowed() -> None:
    assert parse_ranges(continuous("x", "0.5", "0.5", "Linear")) == [
        ContinuousRange("x", 0.5, 0.5, "Linear")
    ]


# parse errors and their texts ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["1.5", "abc", "", "nan", "0x10"])
def test_integer_value_that_is_not_an_integer(text: str) -> None:
    assert refused(integer("n", text, "20")) == (
        f"The value '{text}' of hyperparameter range n is not an integer."
    )


def test_integer_max_value_that_is_not_an_integer() -> None:
    assert refused(integer("n", "1", "2.5")) == (
        "The value '2.5' of hyperparameter range n is not an integer."
    )


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity"])
def test_integer_value_that_is_infinite(text: str) -> None:
    with pytest.raises(RangeError, match=rf"^The value '{text}' of hyperparameter range n is not"):
        parse_ranges(integer("n", text, "20") if text.startswith("-") else integer("n", "1", text))


@pytest.mark.parametrize("text", ["abc", "", "1,5", "one"])
def test_continuous_value_that_is_not_a_number(text: str) -> None:
    assert refused(continuous("lr", text, "1")) == (
        f"The value '{text}' of hyperparameter range lr is not a number."
    )


@pytest.mark.parametrize("text", ["inf", "-inf", "nan"])
def test_continuous_value_that_is_not_finite(text: str) -> None:
    assert refused(continuous("lr", "0", text)) == (
        f"The value '{text}' of hyperparameter range lr is not finite."
    )


def test_integer_min_greater_than_max() -> None:
    assert refused(integer("n", "5", "3")) == (
        "The hyperparameter range n has MinValue 5 greater than MaxValue 3."
    )


def test_continuous_min_greater_than_max_quotes_the_texts_given() -> None:
    assert refused(continuous("lr", "0.50", "1e-1")) == (
        "The hyperparameter range lr has MinValue 0.50 greater than MaxValue 1e-1."
    )


@pytest.mark.parametrize(
    ("ranges", "shown"),
    [
        (continuous("lr", "0", "1", "Logarithmic"), "0"),
        (continuous("lr", "-0.5", "1", "Logarithmic"), "-0.5"),
        (integer("lr", "0", "10", "Logarithmic"), "0"),
        (integer("lr", "-3", "10", "Logarithmic"), "-3"),
    ],
)
def test_logarithmic_needs_min_value_above_zero(ranges: dict[str, Any], shown: str) -> None:
    assert refused(ranges) == (
        "The hyperparameter range lr uses Logarithmic scaling, which needs every value to be "
        f"greater than 0; MinValue is {shown}."
    )


def test_logarithmic_accepted_above_zero() -> None:
    assert parse_ranges(continuous("lr", "1e-5", "1", "Logarithmic")) == [
        ContinuousRange("lr", 1e-5, 1.0, "Logarithmic")
    ]
    assert parse_ranges(integer("n", "1", "2", "Logarithmic")) == [
        IntegerRange("n", 1, 2, "Logarithmic")
    ]


def test_reverse_logarithmic_refused_for_integer_ranges() -> None:
    assert refused(integer("n", "0", "0", "ReverseLogarithmic")) == (
        "The hyperparameter range n uses ReverseLogarithmic scaling, which only continuous "
        "ranges support."
    )


@pytest.mark.parametrize(
    ("low", "high", "shown"),
    [
        ("0", "1", "[0, 1]"),
        ("0.5", "1.0", "[0.5, 1]"),
        ("-0.1", "0.5", "[-0.1, 0.5]"),
        ("0.2", "3", "[0.2, 3]"),
    ],
)
def test_reverse_logarithmic_refused_outside_zero_to_one(low: str, high: str, shown: str) -> None:
    assert refused(continuous("p", low, high, "ReverseLogarithmic")) == (
        "The hyperparameter range p uses ReverseLogarithmic scaling, which needs the range to "
        f"lie within 0 <= x < 1.0; it is {shown}."
    )


def test_reverse_logarithmic_accepted_within_zero_to_one() -> None:
    assert parse_ranges(continuous("p", "0", "0.999", "ReverseLogarithmic")) == [
        ContinuousRange("p", 0.0, 0.999, "ReverseLogarithmic")
    ]


def test_unknown_scaling_type() -> None:
    assert refused(integer("n", "1", "2", "Quadratic")) == (
        "Unknown scaling type Quadratic for hyperparameter range n."
    )


def test_repeated_names_refused_across_kinds() -> None:
    ranges = {
        "IntegerParameterRanges": [
            {"Name": "b", "MinValue": "1", "MaxValue": "2"},
            {"Name": "a", "MinValue": "1", "MaxValue": "2"},
        ],
        "ContinuousParameterRanges": [{"Name": "b", "MinValue": "0", "MaxValue": "1"}],
        "CategoricalParameterRanges": [
            {"Name": "a", "Values": ["x"]},
            {"Name": "c", "Values": ["y"]},
        ],
    }
    assert refused(ranges) == "Hyperparameter ranges must have unique names; repeated: a, b."


def test_repeated_name_within_one_kind() -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "a", "Values": ["x"]}] * 2}
    assert refused(ranges) == "Hyperparameter ranges must have unique names; repeated: a."


# Auto scaling --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        ("1", "100", "Logarithmic"),  # exactly 100x
        ("1", "99.99", "Linear"),  # just under 100x
        ("0.01", "1", "Logarithmic"),
        ("0.01", "0.9999", "Linear"),
        ("2", "199.98", "Linear"),
        ("2", "200", "Logarithmic"),
        ("1e-4", "1", "Logarithmic"),
        ("0", "1000", "Linear"),  # a bound at 0
        ("-1", "1000", "Linear"),
        ("-100", "-1", "Linear"),
        ("5", "5", "Linear"),
    ],
)
def test_auto_continuous(low: str, high: str, expected: str) -> None:
    (parsed,) = parse_ranges(continuous("x", low, high, "Auto"))
    assert not isinstance(parsed, CategoricalRange)
    assert parsed.scaling == expected


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [("1", "100", "Logarithmic"), ("1", "99", "Linear"), ("0", "1000", "Linear")],
)
def test_auto_integer(low: str, high: str, expected: str) -> None:
    (parsed,) = parse_ranges(integer("n", low, high, "Auto"))
    assert not isinstance(parsed, CategoricalRange)
    assert parsed.scaling == expected


def test_scaling_type_defaults_to_auto() -> None:
    assert parse_ranges(continuous("x", "1", "100")) == [
        ContinuousRange("x", 1.0, 100.0, "Logarithmic")
    ]
    assert parse_ranges(continuous("x", "1", "99.99")) == [
        ContinuousRange("x", 1.0, 99.99, "Linear")
    ]


# combinations --------------------------------------------------------------------------------


def test_combinations_counts() -> None:
    ints: Range = IntegerRange("i", 3, 7, "Linear")
    negative: Range = IntegerRange("j", -2, 2, "Linear")
    single: Range = IntegerRange("k", 4, 4, "Linear")
    point: Range = ContinuousRange("p", 0.5, 0.5, "Linear")
    span: Range = ContinuousRange("s", 0.0, 1e-9, "Linear")
    cats: Range = CategoricalRange("c", ("a", "b", "c"))
    assert combinations([ints]) == 5.0
    assert combinations([negative]) == 5.0
    assert combinations([single]) == 1.0
    assert combinations([point]) == 1.0
    assert combinations([span]) == math.inf
    assert combinations([cats]) == 3.0
    assert combinations([ints, cats]) == 15.0
    assert combinations([ints, negative, cats, point, single]) == 75.0
    assert combinations([ints, span, cats]) == math.inf
    assert combinations([]) == 1.0


def test_combinations_of_parsed_ranges() -> None:
    parsed = parse_ranges(
        {
            "IntegerParameterRanges": [{"Name": "i", "MinValue": "1", "MaxValue": "10"}],
            "CategoricalParameterRanges": [
                {"Name": "c", "Values": ["x", "y", "x"]},
                {"Name": "d", "Values": ["1", "2", "3", "4"]},
            ],
        }
    )
    assert combinations(parsed) == 80.0


# format_value --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (18, "18"),
        (-3, "-3"),
        (0, "0"),
        (0.1, "0.1"),
        (2.0, "2.0"),
        (1e-5, "1e-05"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e16, "1e+16"),
        (1 - 0.999, "0.0010000000000000009"),
        (True, "true"),
        (False, "false"),
        ("Adam", "Adam"),
        (" as given ", " as given "),
        ("True", "True"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_format_value_round_trips_floats() -> None:
    for value in (1 / 3, 2.5e-300, 123456789.123, -0.0001):
        assert float(format_value(value)) == value
