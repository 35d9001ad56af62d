"""The AWS CLI's ``--output`` formats: ``json``, ``text`` and ``table``.

Each takes the response as JSON-ready data (timestamps already ISO 8601 strings, as the AWS CLI
v2 prints them, or v1 with ``cli_timestamp_format = iso8601``) after ``--query`` has been applied,
and returns what the AWS CLI would print for it.

``text``
    A dictionary is one line: the values of its scalar members, sorted by key and joined by tabs,
    preceded by the upper-cased name of the member that holds it (none at the top); its structure
    and list members follow, each under its own name. A list of dictionaries is one line per item,
    every line with the same columns (the scalar keys of all the items). A list of scalars is one
    tab-separated line at the top, and one ``NAME<TAB>value`` line per item below it.

``table``
    Boxes drawn with ``-``, ``+`` and ``|``, titled with the operation's name. A dictionary's scalar
    members are a header row over a value row (one member alone is a ``key | value`` row); its
    structures and lists are boxes nested one level deeper, titled with their names. A list of
    dictionaries has one header and one row per item. When the widest box is wider than the
    terminal (80 columns when there is none), every box with a single row turns into ``key | value``
    rows. Columns share out the width in proportion to their contents.
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "OUTPUT_FORMATS",
    "FormatError",
    "format_json",
    "format_table",
    "format_text",
    "render",
    "stdout_is_terminal",
    "terminal_width",
]

#: The values ``--output`` accepts, in the AWS CLI's order.
OUTPUT_FORMATS = ("json", "text", "table")

#: Terminal width assumed when standard output is not a terminal.
DEFAULT_WIDTH = 80

# What the AWS CLI's colours (on a terminal) look like: values bright blue, nesting bars dim yellow.
_VALUE_STYLE = ("\x1b[1m\x1b[34m", "\x1b[0m")
_BAR_STYLE = ("\x1b[2m\x1b[33m", "\x1b[0m")


class FormatError(ValueError):
    """Data the AWS CLI cannot print in the chosen format either (it exits 255)."""


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list))


# --- json --------------------------------------------------------------------------------------


def format_json(data: Any) -> str:
    """The AWS CLI's JSON: 4-space indent, non-ASCII as it is; nothing for an empty object."""
    if data == {}:
        return ""
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


# --- text --------------------------------------------------------------------------------------


def format_text(data: Any) -> str:
    """``data`` as the AWS CLI's ``--output text`` prints it."""
    lines: list[str] = []
    _text_value(data, None, lines)
    return "".join(line + "\n" for line in lines)


def _text_value(value: Any, label: str | None, lines: list[str]) -> None:
    if isinstance(value, dict):
        _text_record(value, label, None, lines)
    elif isinstance(value, list):
        _text_list(value, label, lines)
    else:
        lines.append(str(value))


def _text_record(
    record: dict[str, Any], label: str | None, columns: list[str] | None, lines: list[str]
) -> None:
    """One line of ``record``'s scalars, then its nested members. ``columns`` fixes the scalar
    columns (those of a whole list of records: absent ones print empty)."""
    if columns is None:
        ordered = sorted(record)
        cells = [str(record[key]) for key in ordered if not _is_container(record[key])]
        nested = [key for key in ordered if _is_container(record[key])]
    else:
        cells = [str(record.get(key, "")) for key in columns]
        nested = sorted(set(record) - set(columns))
    if cells:
        lines.append("\t".join(cells if label is None else [label.upper(), *cells]))
    for key in nested:
        _text_value(record[key], key, lines)


def _text_list(items: list[Any], label: str | None, lines: list[str]) -> None:
    if not items:
        return
    if any(isinstance(item, dict) for item in items):
        if not all(isinstance(item, dict) for item in items):
            raise FormatError("a list that mixes objects and other values cannot be text")
        columns = sorted(
            {key for item in items for key, value in item.items() if not _is_container(value)}
        )
        for item in items:
            _text_record(item, label, columns, lines)
        return
    scalars = [item for item in items if not isinstance(item, list)]
    if scalars:
        if label is None:
            lines.append("\t".join(str(item) for item in scalars))
        else:
            lines.extend(f"{label.upper()}\t{item}" for item in scalars)
    for item in items:
        if isinstance(item, list):
            _text_list(item, label, lines)


# --- table -------------------------------------------------------------------------------------


def _cells(text: str) -> int:
    """Terminal cells ``text`` takes: wide, full-width and ambiguous characters count two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WFA" else 1 for char in text)


@dataclass
class _Box:
    """One titled box of a table: an optional header row and value rows of one width each."""

    title: str | None
    depth: int
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    columns: int | None = None

    def _measure(self, cells: list[str]) -> None:
        if not self.widths:
            self.widths = [_cells(cell) for cell in cells]
            return
        for index, cell in enumerate(cells):
            if index < len(self.widths):
                self.widths[index] = max(self.widths[index], _cells(cell))
            else:
                self.widths.append(_cells(cell))

    def set_header(self, names: list[str]) -> None:
        self._measure(names)
        if self.columns is None:
            self.columns = len(names)
        self.header = names

    def add_row(self, values: list[Any]) -> None:
        if self.columns is None:
            self.columns = len(values)
        if len(values) != self.columns:
            raise FormatError(
                f"Row should have {self.columns} elements, instead it has {len(values)}"
            )
        cells = [str(value) for value in values]
        self.rows.append(cells)
        self._measure(cells)

    def width(self) -> int:
        """Width of the box with its borders and the bars of the boxes around it."""
        frame = 2 + 2 * self.depth
        contents = sum(width + 4 for width in self.widths) + frame
        return max(_cells(str(self.title)) + frame, contents)

    def column_widths(self, total: int) -> list[int]:
        """The columns' widths (each with 4 of padding) scaled to add up to ``total``."""
        natural = [width + 4 for width in self.widths]
        if not natural:
            return []
        ratio = total / float(sum(natural))
        scaled = [round(ratio * width) for width in natural]  # half to even
        excess = sum(scaled) - total
        while excess:
            order = range(len(scaled)) if excess > 0 else reversed(range(len(scaled)))
            for index in order:
                step = 1 if excess > 0 else -1
                scaled[index] -= step
                excess -= step
                if not excess:
                    break
        return scaled

    def as_pairs(self) -> _Box:
        """The box with its single row turned into ``header | value`` rows."""
        pairs = _Box(self.title, self.depth)
        for name, value in zip(self.header, self.rows[0], strict=False):
            pairs.add_row([name, value])
        return pairs


class _TableBuilder:
    """Lays a response out in boxes, as the AWS CLI's table output does."""

    def __init__(self) -> None:
        self.boxes: list[_Box] = []

    @property
    def box(self) -> _Box:
        return self.boxes[-1]

    def open(self, title: str | None, depth: int) -> None:
        self.boxes.append(_Box(title, depth))

    def add(self, title: str | None, value: Any, depth: int = 0) -> bool:
        """Lay out ``value`` (in a new box if it has a ``title``); False if there is nothing."""
        if not value:
            return False
        if title is not None:
            self.open(title, depth)
        if isinstance(value, list):
            if isinstance(value[0], dict):
                self._records(value, title, depth)
            else:
                for item in value:
                    if not _is_container(item):
                        self.box.add_row([item])
                    elif all(not _is_container(part) for part in item):
                        self.box.add_row(list(item))
                    else:
                        self.add(None, item)
        elif isinstance(value, dict):
            self._record(value, depth)
        return True

    def _record(self, record: dict[str, Any], depth: int) -> None:
        scalars = sorted(key for key in record if not _is_container(record[key]))
        nested = sorted(key for key in record if _is_container(record[key]))
        if len(scalars) == 1:
            self.box.add_row([scalars[0], record[scalars[0]]])
        elif scalars:
            self.box.set_header(scalars)
            self.box.add_row([record[key] for key in scalars])
        for key in nested:
            self.add(key, record[key], depth + 1)

    def _records(self, records: list[Any], title: str | None, depth: int) -> None:
        if not all(isinstance(record, dict) for record in records):
            raise FormatError("a list that mixes objects and other values cannot be a table")
        scalars: set[str] = set()
        nested: set[str] = set()
        for record in records:
            for key, value in record.items():
                (nested if _is_container(value) else scalars).add(key)
        header, more = sorted(scalars), sorted(nested)
        self.box.set_header(header)
        for index, record in enumerate(records):
            if index and more:
                self.open(title, depth)
                self.box.set_header(header)
            self.box.add_row([record.get(key, "") for key in header])
            for key in more:
                if key in record:
                    self.add(key, record[key], depth + 1)


def _centred(text: str, width: int, left: str, right: str, text_cells: int) -> str:
    start = width // 2 - text_cells // 2 - 1
    used = _cells(left) + start + text_cells
    return f"{left}{' ' * start}{text}{' ' * (width - _cells(right) - used)}{right}"


def _left(text: str, width: int, left: str, text_cells: int) -> str:
    padding = 2 if width - (text_cells + 2 + _cells(left) + 1) >= 0 else 0
    return f"{left}{' ' * padding}{text}{' ' * (width - len(left) - padding - text_cells - 1)}|"


def _rule(widths: list[int]) -> str:
    """A border under or over a row: ``+----+-----+``."""
    dashes = ("-" * (width - (2 if i == 0 else 1)) for i, width in enumerate(widths))
    return "+" + "+".join(dashes) + "+"


def _draw(box: _Box, total: int, color: bool) -> list[str]:
    lines: list[str] = []
    width = total - 2 * box.depth
    if box.title:
        lines.append(_centred(box.title, width, "|", "|", _cells(box.title)))
        if not box.header and not box.rows:
            lines.append("+" + "-" * (width - 2) + "+")
    if box.header:
        widths = box.column_widths(width)
        lines.append(_rule(widths))
        lines.append(
            "".join(
                _centred(name, size, "|" if i == 0 else "", "|", _cells(name))
                for i, (size, name) in enumerate(zip(widths, box.header, strict=False))
            )
        )
    widths = box.column_widths(width) if box.rows else []
    if widths:
        lines.append(_rule(widths))
        for row in box.rows:
            lines.append(
                "".join(
                    _left(
                        f"{_VALUE_STYLE[0]}{cell}{_VALUE_STYLE[1]}" if color else cell,
                        size,
                        "|" if i == 0 else "",
                        _cells(cell),
                    )
                    for i, (size, cell) in enumerate(zip(widths, row, strict=False))
                )
            )
        lines.append(_rule(widths))
    bar = f"{_BAR_STYLE[0]}|{_BAR_STYLE[1]}" if color else "|"
    bars = bar * box.depth
    return [f"{bars}{line}{bars}" for line in lines]


def format_table(data: Any, title: str, width: int = DEFAULT_WIDTH, color: bool = False) -> str:
    """``data`` as the AWS CLI's ``--output table`` prints it, in boxes titled ``title``, for a
    terminal ``width`` columns wide; ``color`` as the AWS CLI colours a terminal."""
    builder = _TableBuilder()
    if not builder.add(title, data):
        return ""
    boxes = builder.boxes
    total = max(box.width() for box in boxes)
    if total > width:
        boxes = [box.as_pairs() if len(box.rows) == 1 and box.header else box for box in boxes]
        total = max(box.width() for box in boxes)
    lines = ["-" * total]
    for box in boxes:
        lines.extend(_draw(box, total, color))
    return "".join(line + "\n" for line in lines)


# --- choosing ----------------------------------------------------------------------------------


def stdout_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def terminal_width() -> int:
    """The width of the terminal on standard output (80 when it is not one); like the AWS CLI,
    ``COLUMNS`` is not consulted."""
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return DEFAULT_WIDTH


def render(data: Any, output: str, title: str) -> str:
    """``data`` (the response after ``--query``) in ``output`` format, for standard output."""
    if output == "json":
        return format_json(data)
    if output == "text":
        return format_text(data)
    if output == "table":
        return format_table(data, title, terminal_width(), stdout_is_terminal())
    raise ValueError(f"unknown output format: {output}")
