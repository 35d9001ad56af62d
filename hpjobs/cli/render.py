"""Pieces the people-facing commands share: log following, tables, colours."""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from rich.table import Table

__all__ = [
    "Interrupts",
    "LogFollower",
    "counted_interrupts",
    "final_metrics_table",
    "local_path_of",
    "status_style",
]

_STYLES = {"Completed": "green", "Failed": "red", "Stopped": "yellow", "Stopping": "yellow"}


class Interrupts:
    """How many times Ctrl-C was pressed since :func:`counted_interrupts` began."""

    def __init__(self) -> None:
        self.count = 0
        self.seen = 0

    def new(self) -> bool:
        """Whether Ctrl-C was pressed since the last call."""
        fresh = self.count > self.seen
        self.seen = self.count
        return fresh


@contextmanager
def counted_interrupts() -> Iterator[Interrupts]:
    """Count Ctrl-C presses instead of raising ``KeyboardInterrupt``: a watch loop looks at the
    count between its calls, so a press never lands in the middle of a store transaction."""
    interrupts = Interrupts()

    def on_interrupt(signum: int, frame: object) -> None:
        interrupts.count += 1

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield interrupts
    finally:
        signal.signal(signal.SIGINT, previous)


def status_style(status: str) -> str:
    return _STYLES.get(status, "cyan")


def local_path_of(location: str) -> str | None:
    """The filesystem path of a ``file://`` location; None for ``s3://`` and others."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return unquote(parsed.netloc + parsed.path)
    return None


class LogFollower:
    """Reads the lines a log file gained since the last call (whole lines only)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self, final: bool = False) -> list[str]:
        """New complete lines; with ``final`` also a last line that has no newline yet."""
        try:
            with open(self.path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        return [line.decode("utf-8", errors="replace") for line in lines]


def final_metrics_table(metrics: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(title="Final metrics", title_justify="left")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for metric in metrics:
        table.add_row(metric["MetricName"], f"{metric['Value']:.6g}")
    return table
