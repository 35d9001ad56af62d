"""Search spaces from SageMaker ``ParameterRanges``: parsing, scaling, counting, sampling forms.

A range is one of ``IntegerParameterRanges``, ``ContinuousParameterRanges`` or
``CategoricalParameterRanges``. Values travel to training jobs as strings: integers as ``"18"``,
continuous values in Python's shortest round-trip form, categorical values exactly as given.

Scaling types (reference sagemaker.md §4):

- ``Linear``: uniform over [MinValue, MaxValue].
- ``Logarithmic``: uniform in log space; every value must be above 0.
- ``ReverseLogarithmic`` (continuous only, range inside [0, 1)): uniform in ``log(1 - x)``, so
  values crowd towards 1.
- ``Auto``: SageMaker does not publish its rule. hpjobs uses Logarithmic when both bounds are
  above 0 and MaxValue is at least 100 times MinValue, else Linear.

This module is pure: no IO, no Optuna. :mod:`hpjobs.tuning.search` turns the ranges into
Optuna distributions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CategoricalRange",
    "ContinuousRange",
    "IntegerRange",
    "Range",
    "RangeError",
    "combinations",
    "format_value",
    "parse_ranges",
]

Scaling = Literal["Linear", "Logarithmic", "ReverseLogarithmic"]
_AUTO_LOG_RATIO = 100.0


class RangeError(ValueError):
    """A range breaks a documented rule; the message is the text the user sees."""


@dataclass(frozen=True)
class IntegerRange:
    name: str
    low: int
    high: int
    scaling: Scaling

    @property
    def size(self) -> float:
        return float(self.high - self.low + 1)


@dataclass(frozen=True)
class ContinuousRange:
    name: str
    low: float
    high: float
    scaling: Scaling

    @property
    def size(self) -> float:
        return 1.0 if self.low == self.high else math.inf


@dataclass(frozen=True)
class CategoricalRange:
    name: str
    values: tuple[str, ...]

    @property
    def size(self) -> float:
        return float(len(self.values))


Range = IntegerRange | ContinuousRange | CategoricalRange


def _number(text: str, name: str, integer: bool) -> float:
    try:
        value = float(text)
        if integer and not math.isinf(value) and not value.is_integer():
            raise ValueError
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise RangeError(
            f"The value '{text}' of hyperparameter range {name} is not {kind}."
        ) from None
    if not math.isfinite(value):
        raise RangeError(f"The value '{text}' of hyperparameter range {name} is not finite.")
    return value


def _scaling(declared: str, name: str, low: float, high: float, integer: bool) -> Scaling:
    if declared == "Auto":
        return "Logarithmic" if low > 0 and high >= _AUTO_LOG_RATIO * low else "Linear"
    if declared == "Logarithmic" and low <= 0:
        raise RangeError(
            f"The hyperparameter range {name} uses Logarithmic scaling, which needs every value "
            f"to be greater than 0; MinValue is {low:g}."
        )
    if declared == "ReverseLogarithmic":
        if integer:
            raise RangeError(
                f"The hyperparameter range {name} uses ReverseLogarithmic scaling, which only "
                "continuous ranges support."
            )
        if not (low >= 0 and high < 1):
            raise RangeError(
                f"The hyperparameter range {name} uses ReverseLogarithmic scaling, which needs "
                f"the range to lie within 0 <= x < 1.0; it is [{low:g}, {high:g}]."
            )
    if declared in ("Linear", "Logarithmic", "ReverseLogarithmic"):
        return declared  # type: ignore[return-value]
    raise RangeError(f"Unknown scaling type {declared} for hyperparameter range {name}.")


def _numeric(entry: Mapping[str, Any], integer: bool) -> IntegerRange | ContinuousRange:
    name = entry["Name"]
    low = _number(entry["MinValue"], name, integer)
    high = _number(entry["MaxValue"], name, integer)
    if low > high:
        raise RangeError(
            f"The hyperparameter range {name} has MinValue {entry['MinValue']} greater than "
            f"MaxValue {entry['MaxValue']}."
        )
    scaling = _scaling(entry.get("ScalingType", "Auto"), name, low, high, integer)
    if integer:
        return IntegerRange(name, int(low), int(high), scaling)
    return ContinuousRange(name, low, high, scaling)


def parse_ranges(ranges: Mapping[str, Any]) -> list[Range]:
    """The ranges of a ``ParameterRanges`` structure, in the order given (integer, continuous,
    categorical); ``RangeError`` for a range that breaks a rule."""
    parsed: list[Range] = [_numeric(e, True) for e in ranges.get("IntegerParameterRanges", [])]
    parsed += [_numeric(e, False) for e in ranges.get("ContinuousParameterRanges", [])]
    for entry in ranges.get("CategoricalParameterRanges", []):
        values = tuple(dict.fromkeys(entry["Values"]))
        parsed.append(CategoricalRange(entry["Name"], values))
    names = [r.name for r in parsed]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RangeError(
            f"Hyperparameter ranges must have unique names; repeated: {', '.join(repeated)}."
        )
    return parsed


def combinations(ranges: Sequence[Range]) -> float:
    """How many distinct configurations the ranges hold (``inf`` with a continuous range)."""
    return math.prod((r.size for r in ranges), start=1.0)


def format_value(value: Any) -> str:
    """A tuned value as the string a training job receives."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)
