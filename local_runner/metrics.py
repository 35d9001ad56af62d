"""Metrics from a job's log, as SageMaker finds them: ``MetricDefinitions`` regexes over each line.

A definition's first capture group is the value. A line may also say which epoch it belongs to
(``epoch=3``, ``Epoch 3``, ``epoch: 3``, ``[epoch 3/10]``); that number is kept with the point.
Regexes are compiled with the ``regex`` module, which reads the Java-style syntax some
definitions are written in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regex

__all__ = ["MetricParser", "MetricValue"]

_EPOCH = regex.compile(r"(?i)\bepoch\b\s*[:=#]?\s*\[?\s*(\d+)")


@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float
    epoch: int | None


class MetricParser:
    """Turns log lines into metric values with the job's definitions."""

    def __init__(self, definitions: Sequence[Mapping[str, Any]]) -> None:
        self._patterns = [(d["Name"], regex.compile(d["Regex"])) for d in definitions]

    def parse(self, line: str) -> list[MetricValue]:
        """The values this line gives, one per definition that matches it (first match each)."""
        found: list[MetricValue] = []
        epoch: int | None = None
        epoch_read = False
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if match is None:
                continue
            value = _number(match.group(1) if pattern.groups else match.group(0))
            if value is None:
                continue
            if not epoch_read:
                epoch_match = _EPOCH.search(line)
                epoch = int(epoch_match.group(1)) if epoch_match else None
                epoch_read = True
            found.append(MetricValue(name, value, epoch))
        return found


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value
