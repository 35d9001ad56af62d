"""Hypothesis strategies for requests of every operation hpjobs implements, built from botocore's
own service models (through :mod:`hpjobs.shapes`).

:func:`valid_request` draws requests that respect the model: required members, types, lengths,
ranges, enums and patterns (a pattern is drawn with ``from_regex`` where Python's ``re`` reads it,
and checked with hpjobs' own Java-pattern matcher; where that fails, a value from a small pool of
real-looking samples is used). A few members are drawn from pools that reach deeper than the model
alone would (model ids the local models answer, training images this machine runs, small
``maxTokens``), so that valid requests get past the semantic checks too.

:func:`broken_request` takes such a request and breaks it in one of the ways callers do: a
required member dropped, a member of the wrong JSON type, a value out of range or too long, an
unknown member, NaN and infinities, control and astral characters, nested junk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hpjobs import shapes
from hpjobs.errors import ServiceError
from hpjobs.operations import SERVICES

__all__ = [
    "CREATES",
    "FUZZ",
    "MODEL_IDS",
    "OPERATIONS",
    "broken_request",
    "check_error",
    "check_response",
    "junk",
    "request",
    "settled",
    "valid_request",
]

#: Every (service, operation) hpjobs implements.
OPERATIONS: list[tuple[str, str]] = [
    (service, name) for service, names in SERVICES.items() for name in names
]

#: Creates whose refusal must leave no row behind: (service, operation, name member, how to look
#: the name up afterwards: (service, operation, member)).
CREATES: dict[tuple[str, str], tuple[str, tuple[str, str, str]]] = {
    ("sagemaker", "CreateTrainingJob"): (
        "TrainingJobName",
        ("sagemaker", "DescribeTrainingJob", "TrainingJobName"),
    ),
    ("sagemaker", "CreateHyperParameterTuningJob"): (
        "HyperParameterTuningJobName",
        ("sagemaker", "DescribeHyperParameterTuningJob", "HyperParameterTuningJobName"),
    ),
    ("bedrock", "CreateModelCustomizationJob"): (
        "jobName",
        ("bedrock", "GetModelCustomizationJob", "jobIdentifier"),
    ),
}

MODEL_IDS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon.titan-text-lite-v1",
    "meta.llama3-8b-instruct-v1:0",
    "mistral.mistral-7b-instruct-v0:2",
    "cohere.command-r-v1:0",
    "amazon.nova-micro-v1:0",
    "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0",
    "no.such-model-v1:0",
]

#: Real-looking values for pattern-constrained strings, by member name (tried before the pattern).
_POOLS: dict[str, list[str]] = {
    "RoleArn": ["arn:aws:iam::123456789012:role/test"],
    "roleArn": ["arn:aws:iam::123456789012:role/test"],
    "TrainingImage": [
        "hpjobs/no-such-algorithm",
        "123456789012.dkr.ecr.us-west-2.amazonaws.com/xgboost:1",
        "hpjobs/pytorch",
    ],
    "S3OutputPath": ["file:///proc/hpjobs-none/out"],
    "S3Uri": ["file:///proc/hpjobs-none/data"],
    "modelId": MODEL_IDS,
    "baseModelIdentifier": [*MODEL_IDS[:3], "arn:aws:bedrock:us-west-2::custom-model/x/y"],
    "modelIdentifier": [*MODEL_IDS[:3], "arn:aws:bedrock:us-west-2:123456789012:custom-model/x"],
    "s3Uri": ["file:///proc/hpjobs-none/data.jsonl"],
    "InstanceType": ["ml.m5.large", "ml.p4d.24xlarge"],
}
#: Members the model leaves optional that hpjobs (as AWS) requires, by structure shape name, and
#: members left out so that the one of two alternatives hpjobs runs is chosen.
_ALSO_REQUIRED: dict[str, tuple[str, ...]] = {
    "CreateTrainingJobRequest": ("AlgorithmSpecification", "ResourceConfig", "StoppingCondition"),
    "AlgorithmSpecification": ("TrainingImage",),
    "HyperParameterAlgorithmSpecification": ("TrainingImage",),
    "CreateHyperParameterTuningJobRequest": ("TrainingJobDefinition",),
    "HyperParameterTrainingJobDefinition": ("ResourceConfig",),
    "HyperParameterTuningJobConfig": ("HyperParameterTuningJobObjective", "ParameterRanges"),
    "CreateModelCustomizationJobRequest": ("hyperParameters",),
    # generation stays short: without maxTokens a model writes until its context is full
    "ConverseRequest": ("inferenceConfig",),
    "ConverseStreamRequest": ("inferenceConfig",),
    "InferenceConfiguration": ("maxTokens",),
}
_LEFT_OUT: dict[str, tuple[str, ...]] = {
    "AlgorithmSpecification": ("AlgorithmName",),
    "HyperParameterAlgorithmSpecification": ("AlgorithmName",),
    "CreateHyperParameterTuningJobRequest": ("TrainingJobDefinitions", "WarmStartConfig"),
}
#: Integer members kept small so that accepted generation stays cheap.
_SMALL_INTEGERS = {"maxTokens": (1, 4)}

_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("ab-_ 1.:/"),
    max_size=12,
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


# --------------------------------------------------------------------------------------------
# Valid requests
# --------------------------------------------------------------------------------------------


#: Characters patterns are drawn from: Latin-1 and a few beyond (drawing from all of Unicode makes
#: hypothesis expand every negated class, which costs seconds per pattern).
_PATTERN_ALPHABET = st.characters(max_codepoint=0xFF) | st.sampled_from("ĀЖ中\u2028\U0001f600")


_RANGE = re.compile(r"\\U([0-9A-F]{8})-\\U([0-9A-F]{8})")


def _narrowed(expression: str) -> str:
    """``expression`` with its code-point ranges cut at U+02FF (values are checked against the
    real pattern afterwards, so narrowing only makes fewer values possible)."""

    def cut(match: re.Match[str]) -> str:
        low, high = int(match[1], 16), min(int(match[2], 16), 0x2FF)
        if low > high:
            return f"\\U{low:08X}"
        return f"\\U{low:08X}-\\U{high:08X}"

    return _RANGE.sub(cut, expression)


@functools.cache
def _pattern_strategy(pattern: str, low: int, high: int | None) -> st.SearchStrategy[str] | None:
    """Strings matching the model ``pattern`` within the length limits, or None if Python's ``re``
    cannot read the pattern."""
    translated = _narrowed(shapes._java_to_python(pattern))
    try:
        re.compile(translated)
    except re.error:
        return None
    expression = translated if translated.startswith("^") else "^(?:" + translated + ")"
    fits: Callable[[str], bool] = lambda v: (  # noqa: E731
        low <= len(v) <= (high if high is not None else 4096)
        and shapes._pattern_matches(pattern, v)
    )
    return st.from_regex(expression, fullmatch=True, alphabet=_PATTERN_ALPHABET).filter(fits)


def _string(shape: Any, name: str) -> st.SearchStrategy[Any]:
    meta = shape.metadata
    if meta.get("enum"):
        return st.sampled_from(list(meta["enum"]))
    low, high = int(meta.get("min", 0)), meta.get("max")
    pooled = [v for v in _POOLS.get(name, []) if low <= len(v) <= (high or 10**9)]
    if pooled:
        return st.sampled_from(pooled)
    if "pattern" in meta:
        drawn = _pattern_strategy(meta["pattern"], low, high)
        return drawn if drawn is not None else st.just("a" * max(low, 1))
    top = min(high if high is not None else low + 12, low + 12)
    return st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=low,
        max_size=top,
    )


def _number(shape: Any, name: str) -> st.SearchStrategy[Any]:
    meta = shape.metadata
    if name in _SMALL_INTEGERS:
        low, high = _SMALL_INTEGERS[name]
        return st.integers(low, high)
    if shape.type_name in ("integer", "long"):
        return st.integers(meta.get("min", -(2**31)), meta.get("max", 2**31 - 1))
    return st.floats(
        meta.get("min", -1e9), meta.get("max", 1e9), allow_nan=False, allow_infinity=False
    )


def _document(depth: int = 0) -> st.SearchStrategy[Any]:
    leaves = st.none() | st.booleans() | st.integers(-10, 10) | st.floats(-1, 1) | _TEXT
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
        max_leaves=6,
    )


def _shape_strategy(shape: Any, name: str, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and shape.is_document_type:
        return _document()
    if kind == "structure":
        members = shape.members
        if shape.is_tagged_union:
            if depth > 4:
                return st.just({})
            return st.one_of(
                *(
                    _shape_strategy(m, n, depth + 1).map(lambda v, n=n: {n: v})
                    for n, m in members.items()
                )
            )
        needed = [*shape.required_members, *_ALSO_REQUIRED.get(shape.name, ())]
        required = {n: _shape_strategy(members[n], n, depth + 1) for n in needed if n in members}
        left_out = _LEFT_OUT.get(shape.name, ())
        optional = (
            {}
            if depth > 3
            else {
                n: _shape_strategy(m, n, depth + 1)
                for n, m in members.items()
                if n not in required and n not in left_out
            }
        )
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        low = int(meta.get("min", 0))
        high = min(int(meta.get("max", low + 2)), low + 2)
        if depth > 4 and low == 0:
            return st.just([])
        return st.lists(_shape_strategy(shape.member, name, depth + 1), min_size=low, max_size=high)
    if kind == "map":
        low = int(meta.get("min", 0))
        high = min(int(meta.get("max", low + 2)), low + 2)
        return st.dictionaries(
            _shape_strategy(shape.key, name, depth + 1),
            _shape_strategy(shape.value, name, depth + 1),
            min_size=low,
            max_size=high,
        )
    if kind == "string":
        return _string(shape, name)
    if kind in ("integer", "long", "float", "double"):
        return _number(shape, name)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        moments = st.datetimes(
            dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.timezone.utc)
        )
        return moments | moments.map(lambda m: (m - _EPOCH).total_seconds())
    if kind == "blob":
        low = int(meta.get("min", 0))
        return st.binary(min_size=low, max_size=low + 16)
    return st.none()


_CACHE: dict[tuple[str, str], st.SearchStrategy[dict[str, Any]]] = {}


def valid_request(service: str, operation: str) -> st.SearchStrategy[dict[str, Any]]:
    """Requests of ``operation`` that respect its model (mostly: a pooled sample may not)."""
    key = (service, operation)
    if key not in _CACHE:
        shape = shapes.operation_model(service, operation).input_shape
        strategy: st.SearchStrategy[dict[str, Any]] = _shape_strategy(shape, "", 0)
        if service == "bedrock-runtime" and operation.startswith("InvokeModel"):
            strategy = st.builds(_with_invocation, strategy, invocation())
        if service == "bedrock-runtime" and operation.startswith("Converse"):
            strategy = st.builds(_with, strategy, st.just("messages"), conversation())
        _CACHE[key] = strategy
    return _CACHE[key]


def _with_invocation(request: dict[str, Any], pair: tuple[str, bytes]) -> dict[str, Any]:
    return {**request, "modelId": pair[0], "body": pair[1]}


def _with(request: dict[str, Any], member: str, value: Any) -> dict[str, Any]:
    return {**request, member: value}


def conversation() -> st.SearchStrategy[list[dict[str, Any]]]:
    """Converse messages that alternate from the user's (mostly), with text blocks."""
    text = st.one_of(st.sampled_from(["Hi", "Tell me about hackers.", " "]), _TEXT)
    blocks = st.lists(text.map(lambda t: {"text": t}), min_size=1, max_size=2)
    roles = st.sampled_from([["user"], ["user", "assistant", "user"], ["user", "assistant"]])
    return roles.flatmap(
        lambda names: st.tuples(*(blocks for _ in names)).map(
            lambda contents: [
                {"role": r, "content": c} for r, c in zip(names, contents, strict=True)
            ]
        )
    )


# --------------------------------------------------------------------------------------------
# InvokeModel bodies: each family's keys, with values sometimes right and sometimes not
# --------------------------------------------------------------------------------------------

_MESSAGES = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    [{"role": "user", "content": [{"text": "Hi"}]}],
    [{"role": "assistant", "content": "Hi"}],
    [{"role": "user", "content": [{"type": "image", "source": {}}]}],
    [],
]
_FEW_TOKENS = st.integers(1, 4) | st.integers(1, 4) | st.sampled_from([0, -1])
_FAMILY_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "anthropic_version": st.sampled_from(["bedrock-2023-05-31", "2020-01-01"]),
    "max_tokens": _FEW_TOKENS,
    "max_gen_len": _FEW_TOKENS,
    "maxTokens": _FEW_TOKENS,
    "max_new_tokens": _FEW_TOKENS,
    "messages": st.sampled_from(_MESSAGES),
    "message": st.sampled_from(["Hi", ""]),
    "prompt": st.sampled_from(["Hi", "", "<s>[INST] Hi [/INST]"]),
    "inputText": st.sampled_from(["Hi", ""]),
    "system": st.sampled_from(["Be short.", [{"text": "Be short."}], [{"type": "text"}]]),
    "temperature": st.floats(-0.5, 1.5) | st.sampled_from([math.nan, math.inf, 0]),
    "top_p": st.floats(-0.5, 1.5) | st.just(math.nan),
    "p": st.floats(-0.5, 1.5),
    "topP": st.floats(-0.5, 1.5),
    "top_k": st.integers(-1, 600),
    "k": st.integers(-1, 600),
    "stop_sequences": st.lists(_TEXT, max_size=2),
    "stop": st.lists(_TEXT, max_size=2),
    "stopSequences": st.lists(_TEXT, max_size=2),
    "textGenerationConfig": st.fixed_dictionaries(
        {"maxTokenCount": _FEW_TOKENS},
        optional={
            "temperature": st.floats(-0.5, 1.5),
            "topP": st.floats(-0.5, 1.5),
            "stopSequences": st.lists(_TEXT, max_size=2),
        },
    ),
    "inferenceConfig": st.fixed_dictionaries(
        {"max_new_tokens": _FEW_TOKENS},
        optional={
            "temperature": st.floats(-0.5, 1.5),
            "topK": st.integers(-1, 600),
        },
    ),
    "chat_history": st.sampled_from([[], [{"role": "USER", "message": "Hi"}], [{}]]),
    "schemaVersion": st.sampled_from(["messages-v1", "v0"]),
    "tools": st.just([]),
    "seed": st.integers(-1, 2**64),
}


#: Each family's model id and body keys (required, optional); the keys that bound the answer's
#: length are always sent, so that generation stays short.
_FAMILIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "anthropic": (
        "anthropic.claude-3-haiku-20240307-v1:0",
        ("anthropic_version", "max_tokens", "messages"),
        ("system", "temperature", "top_p", "top_k", "stop_sequences"),
    ),
    "titan": ("amazon.titan-text-lite-v1", ("inputText", "textGenerationConfig"), ()),
    "llama": ("meta.llama3-8b-instruct-v1:0", ("prompt", "max_gen_len"), ("temperature", "top_p")),
    "mistral": (
        "mistral.mistral-7b-instruct-v0:2",
        ("prompt", "max_tokens"),
        ("stop", "temperature", "top_p", "top_k"),
    ),
    "cohere": (
        "cohere.command-r-v1:0",
        ("message", "max_tokens"),
        ("chat_history", "temperature", "p", "k", "stop_sequences", "seed"),
    ),
    "nova": (
        "amazon.nova-micro-v1:0",
        ("messages", "inferenceConfig"),
        ("schemaVersion", "system"),
    ),
}
_NOVA_MESSAGES = [[{"role": "user", "content": [{"text": "Hi"}]}], [{"role": "user"}]]


def _family_body(family: str) -> st.SearchStrategy[dict[str, Any]]:
    _, required, optional = _FAMILIES[family]
    keys = dict(_FAMILY_KEYS)
    if family == "nova":
        keys["messages"] = st.sampled_from(_NOVA_MESSAGES)
        keys["system"] = st.sampled_from([[{"text": "Be short."}], "Be short."])
    return st.fixed_dictionaries(
        {k: keys[k] for k in required}, optional={k: keys[k] for k in optional}
    )


def invocation() -> st.SearchStrategy[tuple[str, bytes]]:
    """(model id, InvokeModel body): a family's body for its own model (mostly right, sometimes
    with a value out of range, NaN or the wrong type), another family's body, JSON that is not an
    object, or not JSON at all."""
    own = st.sampled_from(sorted(_FAMILIES)).flatmap(
        lambda family: _family_body(family).map(
            lambda body: (_FAMILIES[family][0], json.dumps(body).encode())
        )
    )
    mixed = st.tuples(st.sampled_from(MODEL_IDS), st.fixed_dictionaries({}, optional=_FAMILY_KEYS))
    wrong_value = st.tuples(
        st.sampled_from(sorted(_FAMILIES)), st.sampled_from(sorted(_FAMILY_KEYS)), junk()
    ).map(lambda t: (_FAMILIES[t[0]][0], json.dumps({t[1]: t[2]}).encode()))
    not_an_object = st.tuples(
        st.sampled_from(MODEL_IDS),
        st.sampled_from([b"", b"[]", b"null", b"{", b"\xff\xfe", b'"text"', b"[" * 5000]),
    )
    return st.one_of(
        own,
        own,
        mixed.map(lambda t: (t[0], json.dumps(t[1]).encode())),
        wrong_value,
        not_an_object,
    )


# --------------------------------------------------------------------------------------------
# Broken requests
# --------------------------------------------------------------------------------------------


def _junk_value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([2**63, -(2**63) - 1, 10**30, -1, 0]),
        st.floats(),
        st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
        _TEXT,
        st.sampled_from(["", " ", "\x00", "\u202e", "\U0001f600" * 3, "a" * 70_000, "../../x"]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
        max_leaves=5,
    )


def junk() -> st.SearchStrategy[Any]:
    """Any JSON-able value: wrong types, NaN and infinities, huge, empty and odd strings, nests."""
    return _junk_value()


def _places(value: Any, shape: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, shape) inside a request, the request itself included."""
    found = [(path, shape)]
    kind = shape.type_name
    if kind == "structure" and not shape.is_document_type and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                found += _places(item, shape.members[key], (*path, key))
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            found += _places(item, shape.member, (*path, index))
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, shape.value, (*path, key))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copied = dict(value) if isinstance(value, dict) else list(value)
    copied[path[0]] = _set(value[path[0]], path[1:], new)
    return copied


def _without(value: Any, path: tuple[Any, ...], key: str) -> Any:
    inner = dict(_get(value, path))
    inner.pop(key, None)
    return _set(value, path, inner)


def _out_of_range(shape: Any) -> list[Any]:
    """Values just outside the model's limits for ``shape`` (empty if it has none)."""
    meta = shape.metadata
    kind = shape.type_name
    bad: list[Any] = []
    if kind in ("integer", "long", "float", "double"):
        if "min" in meta:
            bad.append(meta["min"] - 1)
        if "max" in meta:
            bad.append(meta["max"] + 1)
        if kind in ("float", "double"):
            bad += [math.nan, math.inf]
    elif kind == "string":
        if "max" in meta:
            bad.append("x" * (int(meta["max"]) + 1))
        if meta.get("min", 0) > 0:
            bad.append("")
        if meta.get("enum"):
            bad.append(str(meta["enum"][0]).swapcase() + "?")
    elif kind in ("list", "map") and meta.get("min", 0) > 0:
        bad.append([] if kind == "list" else {})
    return bad


@st.composite
def broken_request(draw: st.DrawFn, service: str, operation: str) -> Any:
    """A request of ``operation`` broken in one place (sometimes not a mapping at all)."""
    shape = shapes.operation_model(service, operation).input_shape
    request = draw(valid_request(service, operation))
    places = _places(request, shape, ())
    path, place = draw(st.sampled_from(places))
    how = draw(
        st.sampled_from(["junk", "junk", "range", "drop", "unknown", "null", "whole"])
        if path
        else st.sampled_from(["drop", "unknown", "whole", "junk"])
    )
    if how == "whole":
        return draw(st.one_of(st.lists(junk(), max_size=2), _TEXT, st.none(), st.integers()))
    if how == "range":
        bad = _out_of_range(place)
        if bad:
            return _set(request, path, draw(st.sampled_from(bad)))
        how = "junk"
    if how == "junk":
        return _set(request, path, draw(junk()))
    if how == "null":
        return _set(request, path, None)
    structures = [
        (p, s)
        for p, s in places
        if s.type_name == "structure"
        and not s.is_document_type
        and isinstance(_get(request, p), dict)
    ]
    where, structure = draw(st.sampled_from(structures))
    if how == "drop" and structure.required_members:
        return _without(request, where, draw(st.sampled_from(structure.required_members)))
    extra = draw(st.sampled_from(["Unknown", "trainingJobName", "__proto__", "", "é"]))
    return _set(request, where, {**_get(request, where), extra: draw(junk())})


def request(service: str, operation: str) -> st.SearchStrategy[Any]:
    """Valid and broken requests of ``operation``, about half each."""
    return st.one_of(valid_request(service, operation), broken_request(service, operation))


# --------------------------------------------------------------------------------------------
# The settings profile and the checks every face shares
# --------------------------------------------------------------------------------------------

#: Derandomized, so that every run draws the same examples; no deadline, as a request may start a
#: process or load a model. Each test sets its own ``max_examples``.
settings.register_profile(
    "fuzz",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
FUZZ = settings.get_profile("fuzz")


def check_response(service: str, operation: str, response: Any) -> None:
    """A success is a dict of the operation's output members (ResponseMetadata aside)."""
    assert isinstance(response, dict), response
    members = set(shapes.operation_model(service, operation).output_shape.members)
    unknown = set(response) - members - {"ResponseMetadata"}
    assert not unknown, f"{operation} answered members its model lacks: {unknown}"


_CODE = re.compile(r"[A-Z][A-Za-z]+")


def check_error(error: Any) -> None:
    """An AWS-coded error: a code AWS could send, a one-line-or-more message that is text, and a
    4xx status unless it is a fault hpjobs owns up to (which the tests then flag)."""
    assert _CODE.fullmatch(error.code), error.code
    assert isinstance(error.message, str) and error.message.strip(), repr(error.message)
    assert error.response["Error"] == {"Code": error.code, "Message": error.message}
    assert 400 <= error.http_status < 500, f"a fault, not the caller's error: {error}"


@contextlib.contextmanager
def settled() -> Iterator[None]:
    """Stop and wait for whatever a test's accepted creates started."""
    try:
        yield
    finally:
        import hpjobs

        client = hpjobs.client("sagemaker")
        for job in client.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]:
            name = job["TrainingJobName"]
            with contextlib.suppress(ServiceError):
                client.stop_training_job(TrainingJobName=name)
            deadline = time.monotonic() + 60
            while client.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
                "InProgress",
                "Stopping",
            ):
                assert time.monotonic() < deadline, f"{name} did not end"
                time.sleep(0.1)
