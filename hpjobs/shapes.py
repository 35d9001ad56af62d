"""Request validation driven by botocore's own service models.

Nothing here copies a schema: every shape, constraint, enum and pattern comes from the botocore
service model (``botocore/data/<service>/<version>/service-2.json``) loaded at run time.

Two kinds of failure are told apart, as AWS tells them apart:

* the request cannot be read as the model's types (a string where a structure belongs, a member
  the model does not know) -> :class:`~hpjobs.errors.SerializationException`, worded as botocore
  words its client-side ``ParamValidationError``, naming the first such problem;
* the request reads fine but breaks constraints (required, length, range, enum, pattern) ->
  :class:`~hpjobs.errors.ValidationException` listing every violation in the server's format::

      2 validation errors detected: Value 'a_b' at 'trainingJobName' failed to satisfy
      constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62};
      Value null at 'roleArn' failed to satisfy constraint: Member must not be null

The helpers :func:`violation`, :func:`raise_violations` and :func:`render_value` produce that
format for the semantic rules the rest of hpjobs applies beyond the model.

Start-up cost matters for the CLI, so botocore and ``regex`` are imported on first use only.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, NoReturn

from hpjobs._service_models import OperationModel, ServiceModel
from hpjobs._service_models import load as load_service_model
from hpjobs.errors import SerializationException, ValidationException

__all__ = [
    "lower_camel",
    "operation_model",
    "output_in_model_order",
    "parse_request",
    "raise_violations",
    "render_value",
    "service_model",
    "unknown_parameter",
    "violation",
]

Shape = Any  # a ``hpjobs._service_models.Shape``, or None where a value has no shape


# --------------------------------------------------------------------------------------------
# Loading the models
# --------------------------------------------------------------------------------------------


@functools.cache
def service_model(service: str) -> ServiceModel:
    """The botocore model of ``service`` (``"sagemaker"``, ``"bedrock-runtime"``...), cached.

    Read from botocore's own data files by :mod:`hpjobs._service_models`, which is cheaper than
    importing ``botocore.model``; the newest API version on botocore's search path is used.
    Raises ``UnknownService`` for a service botocore does not know.
    """
    return load_service_model(service)


@functools.cache
def operation_model(service: str, operation: str) -> OperationModel:
    """The botocore model of one operation, e.g. ``("sagemaker", "CreateTrainingJob")``, cached.

    Raises ``UnknownOperation`` for an operation the model lacks.
    """
    return service_model(service).operation_model(operation)


# --------------------------------------------------------------------------------------------
# The AWS message format
# --------------------------------------------------------------------------------------------


def lower_camel(name: str) -> str:
    """``name`` with its first character lowered, as AWS writes member paths in messages.

    ``TrainingJobName`` -> ``trainingJobName``, ``S3OutputPath`` -> ``s3OutputPath``.
    """
    return name[:1].lower() + name[1:]


def unknown_parameter(key: str, members: Iterable[str], where: str = "input") -> str:
    """botocore's wording for a member the shape at ``where`` does not have."""
    return f'Unknown parameter in {where}: "{key}", must be one of: {", ".join(members)}'


def raise_violations(violations: list[str]) -> None:
    """Raise one ``ValidationException`` carrying ``violations``; do nothing if there are none.

    The message is AWS's: ``1 validation error detected: <v>`` or
    ``N validation errors detected: <v1>; <v2>; ...``.
    """
    if not violations:
        return
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(violations))


def violation(value: Any, path: str, constraint: str) -> str:
    """One violation in AWS's server wording, for :func:`raise_violations`.

    ``Value '<value>' at '<path>' failed to satisfy constraint: <constraint>``, where the value is
    rendered by :func:`render_value` inside quotes; ``None`` reads ``Value null at ...`` and
    binary values (``bytes``) are left out, ``Value at ...``, as AWS leaves out blobs.
    ``path`` is the lowerCamelCase member path, e.g. ``resourceConfig.instanceCount``.
    """
    return _violation_line(_shown(value, None), path, constraint)


def render_value(value: Any) -> str:
    """``value`` as Java's ``toString`` writes it, the way AWS echoes values in messages.

    Strings raw, numbers as Java prints them (``1.5``, ``99.0``, ``1.0E-5``), booleans
    ``true``/``false``, ``None`` ``null``, mappings ``{k=v, k2=v2}``, sequences ``[a, b]``,
    datetimes like ``java.util.Date`` (``Mon Jan 01 00:00:00 UTC 2024``).
    """
    return _render(value, None)


def _violation_line(shown: str | None, path: str, constraint: str) -> str:
    value_part = "Value" if shown is None else f"Value {shown}"
    return f"{value_part} at '{path}' failed to satisfy constraint: {constraint}"


def _shown(value: Any, shape: Shape | None) -> str | None:
    """How a violation shows its value: ``null``, ``'<toString>'``, or ``None`` to leave it out."""
    if value is None:
        return "null"
    if isinstance(value, (bytes, bytearray)) or _is_secret(shape):
        return None
    if shape is not None and shape.type_name == "blob":
        return None
    return f"'{_render(value, shape)}'"


def _is_secret(shape: Shape | None) -> bool:
    return shape is not None and bool(shape.metadata.get("sensitive"))


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _render(value: Any, shape: Shape | None) -> str:
    """Java ``toString`` of ``value``; ``shape`` (optional) refines floats, blobs and secrets."""
    kind = None if shape is None else shape.type_name
    if value is None:
        return "null"
    if _is_secret(shape):
        return "*** Sensitive Data Redacted ***"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "blob" or isinstance(value, (bytes, bytearray)):
        size = len(value.encode("utf-8") if isinstance(value, str) else value)
        return f"java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]"
    if isinstance(value, dt.datetime):
        return _java_date(value)
    if isinstance(value, float) or (kind in ("float", "double") and isinstance(value, int)):
        return _java_double(float(value))
    if isinstance(value, Mapping):
        entries = (f"{k}={_render(v, _inner_shape(shape, k))}" for k, v in value.items())
        return "{" + ", ".join(entries) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_render(v, _inner_shape(shape, None)) for v in value) + "]"
    return str(value)


def _inner_shape(shape: Shape | None, key: Any) -> Shape | None:
    if shape is None or (shape.type_name == "structure" and shape.is_document_type):
        return None
    if shape.type_name == "structure":
        return shape.members.get(key)
    if shape.type_name == "map":
        return shape.value
    if shape.type_name == "list":
        return shape.member
    return None


def _java_date(value: dt.datetime) -> str:
    """``java.util.Date.toString()`` of ``value`` in UTC: ``Mon Jan 01 00:00:00 UTC 2024``."""
    utc = _aware_utc(value)
    day = _WEEKDAYS[utc.weekday()]
    month = _MONTHS[utc.month - 1]
    return f"{day} {month} {utc.day:02d} {utc:%H:%M:%S} UTC {utc.year}"


def _java_double(number: float) -> str:
    """``Double.toString``: plain between 10^-3 and 10^7, else ``d.dddE<exp>``; shortest digits."""
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0 or 1e-3 <= abs(number) < 1e7:
        return repr(number)
    mantissa, _, power = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    significant = digits.lstrip("0")
    exponent = len(whole) - 1 - (len(digits) - len(significant)) + int(power or 0)
    significant = significant.rstrip("0") or "0"
    sign = "-" if number < 0 else ""
    return f"{sign}{significant[0]}.{significant[1:] or '0'}E{exponent}"


def _java_number(bound: int | float) -> str:
    """A model bound as the service prints it: ``1`` for an integral bound, ``1.0`` for a float."""
    return _java_double(bound) if isinstance(bound, float) else str(bound)


# --------------------------------------------------------------------------------------------
# Patterns: Java regular expressions run with the ``regex`` module
# --------------------------------------------------------------------------------------------

#: Java's ASCII-only character classes (``\p{Alnum}``, ``\d``...) as code-point ranges.
_JAVA_CLASSES: dict[str, tuple[tuple[int, int], ...]] = {
    "Lower": ((0x61, 0x7A),),
    "Upper": ((0x41, 0x5A),),
    "ASCII": ((0x00, 0x7F),),
    "Alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "Digit": ((0x30, 0x39),),
    "Alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "Punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "Graph": ((0x21, 0x7E),),
    "Print": ((0x20, 0x7E),),
    "Blank": ((0x09, 0x09), (0x20, 0x20)),
    "Cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "XDigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
    "Space": ((0x09, 0x0D), (0x20, 0x20)),
    "all": ((0x00, 0x10FFFF),),
    "word": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
}
_JAVA_SHORTHANDS = {"d": "Digit", "s": "Space", "w": "word"}
#: Java's ``.`` (without DOTALL) matches anything but these line terminators.
_JAVA_DOT = "[^\\n\\r\\u0085\\u2028\\u2029]"


def _ranges_text(ranges: Iterable[tuple[int, int]], negate: bool) -> str:
    """Character-class body for ``ranges`` (or their complement) as ``\\U`` escapes."""
    spans = _complement(ranges) if negate else list(ranges)
    return "".join(f"\\U{lo:08X}" if lo == hi else f"\\U{lo:08X}-\\U{hi:08X}" for lo, hi in spans)


def _complement(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The code points outside sorted, disjoint ``ranges``."""
    gaps: list[tuple[int, int]] = []
    start = 0
    for lo, hi in ranges:
        if lo > start:
            gaps.append((start, lo - 1))
        start = hi + 1
    if start <= 0x10FFFF:
        gaps.append((start, 0x10FFFF))
    return gaps


def _class_escape(name: str, negate: bool, in_class: bool) -> str | None:
    """Python-``regex`` text for Java's ``\\p{name}``/``\\P{name}``; ``None`` if not Java-only."""
    if name == "LD":  # Java: letter or digit
        body = "\\p{L}\\p{Nd}"
        if negate and in_class:
            return None
        return body if in_class else f"[{'^' if negate else ''}{body}]"
    ranges = _JAVA_CLASSES.get(name)
    if ranges is None:
        return None
    body = _ranges_text(ranges, negate)
    return body if in_class else f"[{body}]"


def _translate_escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at ``pattern[i] == '\\'``; returns (text, next index)."""
    letter = pattern[i + 1 : i + 2]
    if letter == "u" and _is_hex(pattern[i + 2 : i + 6]):
        high = int(pattern[i + 2 : i + 6], 16)
        low_text = pattern[i + 8 : i + 12] if pattern[i + 6 : i + 8] == "\\u" else ""
        if 0xD800 <= high <= 0xDBFF and _is_hex(low_text) and 0xDC00 <= int(low_text, 16) <= 0xDFFF:
            # Java reads an escaped surrogate pair as the one supplementary code point.
            point = 0x10000 + ((high - 0xD800) << 10) + (int(low_text, 16) - 0xDC00)
            return f"\\U{point:08X}", i + 12
        return pattern[i : i + 6], i + 6
    if letter == "x" and pattern[i + 2 : i + 3] == "{":  # Java's \x{h...h}
        end = pattern.find("}", i + 3)
        digits = pattern[i + 3 : end]
        if end > 0 and digits and all(c in _HEX for c in digits) and int(digits, 16) < 0x110000:
            return f"\\U{int(digits, 16):08X}", end + 1
    if letter in ("p", "P") and pattern[i + 2 : i + 3] == "{":
        end = pattern.find("}", i + 3)
        if end > 0:
            text = _class_escape(pattern[i + 3 : end], letter == "P", in_class)
            return (text if text is not None else pattern[i : end + 1]), end + 1
    if letter.lower() in _JAVA_SHORTHANDS:
        text = _class_escape(_JAVA_SHORTHANDS[letter.lower()], letter.isupper(), in_class)
        return (text if text is not None else pattern[i : i + 2]), i + 2
    return pattern[i : i + 2], i + 2


_HEX = frozenset("0123456789abcdefABCDEF")


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(c in _HEX for c in text)


def _java_to_python(pattern: str) -> str:
    """Rewrite the Java-only parts of a model pattern for the ``regex`` module.

    Handled: escaped surrogate pairs (``\\uD800\\uDC00`` is U+10000 in Java, a bad range in
    Python), Java's ASCII-only ``\\d \\w \\s`` and POSIX ``\\p{Alnum}``-style classes (Unicode
    in ``regex``), ``\\p{LD}``, ``\\p{all}`` and ``.``, which in Java does not match line
    terminators. ``\\p{L}``, ``\\p{IsAlphabetic}`` and the like ``regex`` understands as Java does.
    """
    out: list[str] = []
    depth = 0  # inside a character class when > 0 (Java nests classes)
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            text, i = _translate_escape(pattern, i, depth > 0)
            out.append(text)
            continue
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        elif char == "." and not depth:
            char = _JAVA_DOT
        out.append(char)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> Any:
    """The model pattern compiled for full matches, or ``None`` if it cannot be compiled.

    A pattern that neither Java-to-Python translation nor ``regex`` can handle is not enforced
    (every value passes): refusing all requests for a defect of the emulator would be worse
    than missing a check the real service makes. Of the 10,093 patterns in botocore 1.44's
    models only rbin's ``RuleArn`` (a stacked quantifier, ``{11}{0,1011}``) ends up here; no
    SageMaker or Bedrock pattern does.
    """
    import regex

    try:
        return regex.compile(_java_to_python(pattern))
    except (regex.error, ValueError, OverflowError):
        return None


def _pattern_matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


#: The pattern SageMaker gives S3 URIs; shapes with it (or named ``S3Uri``) accept local paths.
_S3_URI_PATTERN = "(https|s3)://([^/]+)/?(.*)"


def _accepts_local_paths(shape: Shape) -> bool:
    return bool(shape.name == "S3Uri" or shape.metadata.get("pattern") == _S3_URI_PATTERN)


def _is_local_path(value: str) -> bool:
    """A ``file://`` URI or a non-empty plain path (no ``scheme://``)."""
    return value.startswith("file://") or (value != "" and "://" not in value)


# --------------------------------------------------------------------------------------------
# Constraints of one shape
# --------------------------------------------------------------------------------------------


class _Constraint(NamedTuple):
    listed: str  # as listed in "Member must satisfy constraint: [...]" (pattern without '^')
    stated: str  # as stated for the member itself (pattern with '^')
    holds: Callable[[Any], bool]


def _length_constraints(shape: Shape) -> list[_Constraint]:
    meta = shape.metadata
    blob = shape.type_name == "blob"

    def size(value: Any) -> int:
        return len(value.encode("utf-8")) if blob and isinstance(value, str) else len(value)

    found: list[_Constraint] = []
    if "max" in meta:
        top = meta["max"]
        text = f"Member must have length less than or equal to {_java_number(top)}"
        found.append(_Constraint(text, text, lambda v: size(v) <= top))
    if "min" in meta:
        bottom = meta["min"]
        text = f"Member must have length greater than or equal to {_java_number(bottom)}"
        found.append(_Constraint(text, text, lambda v: size(v) >= bottom))
    return found


def _range_constraints(shape: Shape) -> list[_Constraint]:
    meta = shape.metadata
    found: list[_Constraint] = []
    if "max" in meta:
        top = meta["max"]
        text = f"Member must have value less than or equal to {_java_number(top)}"
        found.append(_Constraint(text, text, lambda v: v <= top))
    if "min" in meta:
        bottom = meta["min"]
        text = f"Member must have value greater than or equal to {_java_number(bottom)}"
        found.append(_Constraint(text, text, lambda v: v >= bottom))
    return found


def _string_constraints(shape: Shape, local_uris: bool) -> list[_Constraint]:
    meta = shape.metadata
    found: list[_Constraint] = []
    pattern = meta.get("pattern")
    if pattern is not None:
        local = local_uris and _accepts_local_paths(shape)
        prefix = "Member must satisfy regular expression pattern: "
        anchored = pattern if pattern.startswith("^") else "^" + pattern

        def matches(value: str) -> bool:
            return (local and _is_local_path(value)) or _pattern_matches(pattern, value)

        found.append(_Constraint(prefix + pattern, prefix + anchored, matches))
    allowed = meta.get("enum")
    if allowed:
        text = "Member must satisfy enum value set: [" + ", ".join(allowed) + "]"
        found.append(_Constraint(text, text, lambda v: v in allowed))
    return found


def _constraints(shape: Shape, local_uris: bool) -> list[_Constraint]:
    """The model constraints of ``shape`` in AWS's order: length/range (max, min), pattern, enum.

    All of them, including the ``max``, ``pattern`` and ``enum`` that botocore leaves to the
    server.
    """
    kind = shape.type_name
    if kind in ("string", "list", "map", "blob"):
        found = _length_constraints(shape)
    elif kind in ("integer", "long", "float", "double"):
        found = _range_constraints(shape)
    else:
        return []
    if kind == "string":
        found += _string_constraints(shape, local_uris)
    return found


# --------------------------------------------------------------------------------------------
# Walking a request
# --------------------------------------------------------------------------------------------


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child


class _Path(NamedTuple):
    """Where a value sits, in the server's wording and in botocore's."""

    wire: str  # trainingJobName, inputDataConfig.1.member.channelName, hyperParameters.k.member
    client: str  # TrainingJobName, InputDataConfig[0].ChannelName, HyperParameters.k

    @property
    def named(self) -> str:
        return self.client or "input"

    def member(self, name: str) -> _Path:
        return _Path(_join(self.wire, lower_camel(name)), _join(self.client, name))

    def item(self, index: int) -> _Path:
        return _Path(f"{self.wire}.{index + 1}.member", f"{self.client}[{index}]")

    def entry(self, key: Any) -> _Path:
        return _Path(f"{self.wire}.{key}.member", f"{self.client}.{key}")

    def entry_key(self, key: Any) -> _Path:
        return _Path(self.wire, f"{self.client} (key: {key})")


_VALID_TYPES = {
    "structure": "<class 'dict'>",
    "map": "<class 'dict'>",
    "list": "<class 'list'>, <class 'tuple'>",
    "string": "<class 'str'>",
    "integer": "<class 'int'>",
    "long": "<class 'int'>",
    "float": "<class 'float'>, <class 'decimal.Decimal'>, <class 'int'>",
    "double": "<class 'float'>, <class 'decimal.Decimal'>, <class 'int'>",
    "boolean": "<class 'bool'>",
    "timestamp": "<class 'datetime.datetime'>, timestamp-string",
    "blob": "<class 'bytes'>, <class 'bytearray'>, <class 'str'>",
}
_DOCUMENT_TYPES = (
    "<class 'str'>, <class 'int'>, <class 'bool'>, <class 'float'>, <class 'list'>, <class 'dict'>"
)


def _wrong_type(value: Any, path: _Path, valid: str, what: str = "parameter") -> NoReturn:
    raise SerializationException(
        f"Invalid type for {what} {path.named}, value: {value}, type: {type(value)}, "
        f"valid types: {valid}"
    )


def _scalar_ok(kind: str, value: Any) -> bool:
    """Whether ``value`` has a JSON type the scalar shape ``kind`` takes."""
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int)
    if kind in ("float", "double"):
        return isinstance(value, (int, float)) or _is_decimal(value)
    if kind == "blob":
        return isinstance(value, (bytes, bytearray, str))
    return kind not in _VALID_TYPES  # a type this module does not know: take it as it is


def _is_decimal(value: Any) -> bool:
    """Whether ``value`` is a ``decimal.Decimal``, without importing ``decimal`` to find out."""
    module = sys.modules.get("decimal")
    return module is not None and isinstance(value, module.Decimal)


class _Walker:
    """One pass over a request: normalizes it, raises on type errors, collects violations."""

    def __init__(self, local_uris: bool) -> None:
        self.local_uris = local_uris
        self.violations: list[str] = []

    def member(self, value: Any, shape: Shape, path: _Path) -> Any:
        """A member's value: its own constraints are reported before those nested in it."""
        mark = len(self.violations)
        normalized = self.walk(value, shape, path)
        own = [
            _violation_line(_shown(normalized, shape), path.wire, c.stated)
            for c in _constraints(shape, self.local_uris)
            if not c.holds(normalized)
        ]
        self.violations[mark:mark] = own
        return normalized

    def walk(self, value: Any, shape: Shape, path: _Path) -> Any:
        kind = shape.type_name
        if kind == "structure" and shape.is_document_type:
            return self.document(value, path)
        if kind == "structure":
            return self.structure(value, shape, path)
        if kind == "list":
            return self.sequence(value, shape, path)
        if kind == "map":
            return self.mapping(value, shape, path)
        if kind == "timestamp":
            moment = _to_utc(value)
            if moment is None:
                _wrong_type(value, path, _VALID_TYPES["timestamp"])
            return moment
        if not _scalar_ok(kind, value):
            _wrong_type(value, path, _VALID_TYPES[kind])
        return value

    def structure(self, value: Any, shape: Shape, path: _Path) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            _wrong_type(value, path, _VALID_TYPES["structure"])
        members = shape.members
        for key in value:
            if key not in members:
                raise SerializationException(unknown_parameter(key, members, path.named))
        if shape.is_tagged_union:
            _check_union(value, shape, path)
        required = set(shape.required_members)
        walked: dict[str, Any] = {}
        for name, member_shape in members.items():
            item = value.get(name)
            if item is not None:
                walked[name] = self.member(item, member_shape, path.member(name))
            elif name in required:
                self.violations.append(
                    _violation_line("null", path.member(name).wire, "Member must not be null")
                )
        return {key: walked[key] for key in value if key in walked}

    def sequence(self, value: Any, shape: Shape, path: _Path) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            _wrong_type(value, path, _VALID_TYPES["list"])
        items = [self.walk(item, shape.member, path.item(i)) for i, item in enumerate(value)]
        self.elements(items, shape.member, items, shape, path, "Member must satisfy constraint")
        return items

    def mapping(self, value: Any, shape: Shape, path: _Path) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            _wrong_type(value, path, _VALID_TYPES["map"])
        walked: dict[Any, Any] = {}
        for key, item in value.items():
            walked[self.walk(key, shape.key, path.entry_key(key))] = self.walk(
                item, shape.value, path.entry(key)
            )
        self.elements(
            list(walked), shape.key, walked, shape, path, "Map keys must satisfy constraint"
        )
        values = list(walked.values())
        self.elements(values, shape.value, walked, shape, path, "Map value must satisfy constraint")
        return walked

    def elements(
        self, items: list[Any], item_shape: Shape, whole: Any, shape: Shape, path: _Path, lead: str
    ) -> None:
        """One violation for the container when any element breaks a constraint of its shape.

        AWS then lists every constraint of the element shape: ``<lead>: [c1, c2, ...]``.
        """
        checks = _constraints(item_shape, self.local_uris)
        if any(not c.holds(item) for item in items for c in checks):
            listed = ", ".join(c.listed for c in checks)
            line = _violation_line(_shown(whole, shape), path.wire, f"{lead}: [{listed}]")
            self.violations.append(line)

    def document(self, value: Any, path: _Path) -> Any:
        """A document member (free JSON): checked for JSON types and copied."""
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, (list, tuple)):
            return [self.document(item, path.item(i)) for i, item in enumerate(value)]
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return {k: self.document(v, path.entry(k)) for k, v in value.items()}
        _wrong_type(value, path, _DOCUMENT_TYPES, what="document parameter")


def _check_union(value: Mapping[str, Any], shape: Shape, path: _Path) -> None:
    """A tagged union sets exactly one member (botocore's wording; a SerializationException)."""
    chosen = [key for key, item in value.items() if item is not None]
    names = ", ".join(shape.members)
    if not chosen:
        raise SerializationException(
            f"Must set one of the following keys for tagged union structure {path.named}: {names}."
        )
    if len(chosen) > 1:
        raise SerializationException(
            f"Invalid number of parameters set for tagged union structure {path.named}. "
            f"Can only set one of the following keys: {names}."
        )


# --------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------


def _aware_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _to_utc(value: Any) -> dt.datetime | None:
    """A timezone-aware UTC datetime from a datetime (naive = UTC), epoch seconds or ISO 8601."""
    try:
        if isinstance(value, dt.datetime):
            return _aware_utc(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
        if isinstance(value, str):
            return _parse_time_text(value.strip())
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _parse_time_text(text: str) -> dt.datetime:
    """Epoch seconds written as text, or ISO 8601 (``Z`` accepted); ValueError otherwise."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    return _aware_utc(dt.datetime.fromisoformat(text))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_request(
    service: str, operation: str, params: Mapping[str, Any], *, local_uris: bool = True
) -> dict[str, Any]:
    """Validate ``params`` against the operation's input shape; return a normalized deep copy.

    Follows what AWS does with a request body: first it must deserialize into the model's types,
    then every modeled constraint is checked on the server (not only the ``min`` and required
    members botocore checks on the client).

    * Wrong JSON type for a member, or a member the model does not know ->
      ``SerializationException`` for the first such problem, in botocore's client wording
      (``Invalid type for parameter ResourceConfig.InstanceCount, value: 1.5, type: <class
      'float'>, valid types: <class 'int'>``; ``Unknown parameter in input: "X", must be one
      of: ...``). Booleans are not numbers; ``None`` members count as absent, as JSON ``null``.
    * Otherwise every violation of required/length/range/enum/pattern constraints ->
      one ``ValidationException`` in AWS's server format (see :func:`raise_violations`).
      Patterns must match the whole value and are read as Java reads them.

    Normalization: timestamps become timezone-aware UTC ``datetime``s whether given as a
    ``datetime`` (naive means UTC), epoch seconds (number or numeric text) or ISO 8601 text;
    tuples become lists; everything else (blobs as ``bytes``/``bytearray``/``str`` included) is
    copied as it is.

    Local extension: with ``local_uris=True`` (hpjobs runs jobs on this machine) a string shape
    named ``S3Uri``, or any shape with SageMaker's S3 URI pattern ``(https|s3)://([^/]+)/?(.*)``,
    also accepts a ``file://`` URI or a plain filesystem path (no ``scheme://``); ``s3://`` and
    ``https://`` values are still checked against the model pattern, and length limits always
    apply. With ``local_uris=False`` only the model pattern applies, as on AWS.
    """
    shape = operation_model(service, operation).input_shape
    walker = _Walker(local_uris)
    normalized = walker.structure(params, shape, _Path("", ""))
    raise_violations(walker.violations)
    return normalized


def output_in_model_order(
    service: str, operation: str, *sources: Mapping[str, Any]
) -> dict[str, Any]:
    """An operation's response: each member of its output shape, in the model's order, taken from
    the first source that has a value for it (members no source has are left out)."""
    response: dict[str, Any] = {}
    for member in operation_model(service, operation).output_shape.members:
        for source in sources:
            value = source.get(member)
            if value is not None:
                response[member] = value
                break
    return response
