"""The family registry and the schema checks the six families share."""

from __future__ import annotations

from typing import Any

import pytest

from hpjobs.bedrock.families import Fields, Target, family, json_type
from hpjobs.errors import ValidationException

NAMES = ["anthropic", "titan", "llama", "mistral", "cohere", "nova"]


@pytest.mark.parametrize("name", NAMES)
def test_family_by_name(name: str) -> None:
    native = family(name)
    assert native.name == name
    assert callable(native.parse) and callable(native.response) and callable(native.stream)


MINIMAL_BODIES: dict[str, dict[str, Any]] = {
    "anthropic": {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "Hi"}],
    },
    "titan": {"inputText": "Hi"},
    "llama": {"prompt": "Hi"},
    "mistral": {"prompt": "Hi"},
    "cohere": {"message": "Hi"},
    "nova": {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]},
}


class Failing:
    """Generation events whose first step fails, as a prompt that does not fit would."""

    def __iter__(self) -> Failing:
        return self

    def __next__(self) -> str:
        raise RuntimeError("prompt too long")


@pytest.mark.parametrize("name", NAMES)
def test_stream_sends_nothing_before_the_first_event(name: str) -> None:
    native = family(name)
    invocation = native.parse(MINIMAL_BODIES[name], Target("m", name, 1024))
    with pytest.raises(RuntimeError, match="prompt too long"):
        next(native.stream(invocation, Failing()))


def test_every_registry_family_is_known() -> None:
    from hpjobs.generation.registry import FAMILIES

    assert sorted(FAMILIES) == sorted(NAMES)


def test_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown model family 'ai21'"):
        family("ai21")


@pytest.mark.parametrize(
    "value, name",
    [
        (None, "Null"),
        (True, "Boolean"),
        (3, "Integer"),
        (0.5, "Double"),
        ("x", "String"),
        ([], "JSONArray"),
        ({}, "JSONObject"),
    ],
)
def test_json_type(value: Any, name: str) -> None:
    assert json_type(value) == name


def message(error: pytest.ExceptionInfo[ValidationException]) -> str:
    return error.value.message


def test_fields_report_the_pointer() -> None:
    fields = Fields({"a": {"b": [{"c": "x"}]}})
    (inner,) = fields.nested("a").objects("b")
    with pytest.raises(ValidationException) as caught:
        inner.number("c", 0, 0, 1)
    assert message(caught) == (
        "Malformed input request: #/a/b/0/c: expected type: Number, found: String, please "
        "reformat your input and try again."
    )


def test_fields_absent_key_takes_the_default_but_null_is_refused() -> None:
    fields = Fields({"t": None})
    assert fields.number("u", 0.25, 0, 1) == 0.25
    with pytest.raises(ValidationException) as caught:
        fields.number("t", 0.25, 0, 1)
    assert "#/t: expected type: Number, found: Null" in message(caught)


def test_unpointed_fields() -> None:
    with pytest.raises(ValidationException) as caught:
        Fields({"x": 1, "y": 2}, pointed=False).only()
    assert message(caught) == (
        "Malformed input request: extraneous key [x] is not permitted, extraneous key [y] is "
        "not permitted, please reformat your input and try again."
    )
