"""InvokeModel bodies, family by family: each read and answered in its model family's own format.

A :class:`Family` turns a model-native request body into an :class:`Invocation` (the prompt text
and the generation request, validated with that family's parameter names, ranges and defaults,
failing with Bedrock's texts), and turns what the model generated back into the family's response
body, whole or as a stream of chunks. Chat-shaped families (Claude, Nova, Cohere) build their
prompt with :func:`chat_prompt`, the one conversation format of the local models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hpjobs.errors import ValidationException
from hpjobs.generation.engine import Finish, GenerationRequest

__all__ = [
    "Family",
    "Invocation",
    "Target",
    "chat_prompt",
    "extraneous_keys",
    "invocation_metrics",
    "malformed",
]


@dataclass(frozen=True)
class Target:
    """The model a request runs on: its id as the caller gave it, its family and its limits."""

    model_id: str
    family: str
    context_length: int


@dataclass(frozen=True)
class Invocation:
    """What one request asks of the model."""

    generation: GenerationRequest
    #: Values the response needs back (the request's own model name, ids, ...).
    extras: Mapping[str, Any] = field(default_factory=dict)


class Family(Protocol):
    name: str

    def parse(self, body: Mapping[str, Any], target: Target) -> Invocation:
        """Validate a native request body (``ValidationException`` with Bedrock's texts)."""

    def response(self, invocation: Invocation, text: str, finish: Finish) -> dict[str, Any]:
        """The native response body for the whole generated ``text``."""

    def stream(
        self, invocation: Invocation, events: Iterable[str | Finish]
    ) -> Iterator[dict[str, Any]]:
        """Native stream chunks for text pieces as they come; the last carries
        ``amazon-bedrock-invocationMetrics``."""


def malformed(*problems: str) -> ValidationException:
    """Bedrock's error for a body that breaks the model's JSON schema. Each problem is a JSON
    pointer tail and a text, such as ``": extraneous key [x] is not permitted"`` or
    ``"/p: 1 is not less or equal to 0.99"``; each is prefixed with ``#``."""
    joined = "".join(f"#{p}" for p in problems)
    return ValidationException(
        f"Malformed input request: {joined}, please reformat your input and try again."
    )


def extraneous_keys(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse keys the family's schema does not have, as Bedrock words it."""
    extra = [key for key in body if key not in set(allowed)]
    if extra:
        raise malformed(*(f": extraneous key [{key}] is not permitted" for key in extra))


def chat_prompt(system: Sequence[str], turns: Sequence[tuple[str, str]]) -> str:
    """The conversation format of the local models::

        <system text>

        User: <text>

        Assistant: <text>

        User: <text>

        Assistant:

    ``turns`` are ``(role, text)`` with role ``user`` or ``assistant``; the prompt ends ready for
    the assistant's next turn (continuing it when the last turn is the assistant's).
    """
    parts = [text for text in system if text]
    for role, text in turns:
        parts.append(f"{'User' if role == 'user' else 'Assistant'}: {text}")
    if not turns or turns[-1][0] == "user":
        parts.append("Assistant:")
    return "\n\n".join(parts)


def invocation_metrics(finish: Finish) -> dict[str, int]:
    """``amazon-bedrock-invocationMetrics`` of a finished generation."""
    return {
        "inputTokenCount": finish.input_tokens,
        "outputTokenCount": finish.output_tokens,
        "invocationLatency": finish.latency_ms,
        "firstByteLatency": finish.first_token_ms,
    }


# -------------------------------------------------------------------------------------------------
# Added with the family modules: reading a body with the checks and texts of Bedrock's JSON
# schemas, shared by all six families, and the registry of families.

__all__ += [
    "Fields",
    "check_turns",
    "family",
    "json_type",
    "limit_max_tokens",
    "prompt_tokens",
    "unsupported",
]


def _is_type(value: Any, expected: str) -> bool:
    """Whether ``value`` has the JSON type the schema validator calls ``expected``."""
    if expected in ("Number", "Integer") and isinstance(value, bool):
        return False
    kinds: dict[str, type | tuple[type, ...]] = {
        "Number": (int, float),
        "Integer": int,
        "String": str,
        "Boolean": bool,
        "JSONArray": list,
        "JSONObject": Mapping,
    }
    return isinstance(value, kinds[expected])


def json_type(value: Any) -> str:
    """The name Bedrock's schema validator gives the type of a JSON value (``Null``, ``String``,
    ...). A fraction is called ``Double``: *unverified*, newer validators may say ``BigDecimal``."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Double"
    for name in ("String", "JSONArray", "JSONObject"):
        if _is_type(value, name):
            return name
    return type(value).__name__


@dataclass(frozen=True)
class Fields:
    """One JSON object of a request body, read with the checks of Bedrock's JSON schemas.

    ``pointer`` is the object's JSON pointer (``""`` for the body). A problem is reported through
    :func:`malformed` as ``#<pointer>/<key>: <text>`` (``"#/temperature: 1.5 is not less or equal
    to 1"``) or, with ``pointed=False``, as the bare text, which is how Titan's validator words
    it (``"Malformed input request: expected maximum item count: 1, found: 5, ..."``). An absent
    key takes its default; a present ``null`` is a wrong type, as Bedrock has it.
    """

    values: Mapping[str, Any]
    pointer: str = ""
    pointed: bool = True

    def error(self, key: str | None, *texts: str) -> ValidationException:
        """The error for problems with ``key`` (None: with this object itself)."""
        if not self.pointed:
            return ValidationException(
                f"Malformed input request: {', '.join(texts)}, please reformat your input and "
                "try again."
            )
        where = self.pointer if key is None else f"{self.pointer}/{key}"
        return malformed(*(f"{where}: {text}" for text in texts))

    def only(self, *allowed: str) -> None:
        """Refuse keys the schema does not have (all of them in one error)."""
        extra = [key for key in self.values if key not in allowed]
        if extra:
            raise self.error(None, *(f"extraneous key [{key}] is not permitted" for key in extra))

    def require(self, *keys: str) -> None:
        """Refuse a body that lacks required keys (all of them in one error)."""
        missing = [key for key in keys if key not in self.values]
        if missing:
            raise self.error(None, *(f"required key [{key}] not found" for key in missing))

    def typed(self, key: str, expected: str) -> Any:
        """The value at ``key`` (which must be present), of JSON type ``expected``."""
        value = self.values[key]
        if not _is_type(value, expected):
            raise self.error(key, f"expected type: {expected}, found: {json_type(value)}")
        return value

    def within(self, key: str, value: Any, low: float | None, high: float | None) -> Any:
        """``value`` (the one at ``key``) if it lies in ``[low, high]`` (None: unbounded)."""
        if low is not None and value < low:
            raise self.error(key, f"{value} is not greater or equal to {low}")
        if high is not None and value > high:
            raise self.error(key, f"{value} is not less or equal to {high}")
        return value

    def number(self, key: str, default: float, low: float, high: float | None) -> float:
        if key not in self.values:
            return default
        return float(self.within(key, self.typed(key, "Number"), low, high))

    def integer(self, key: str, default: int, low: int | None, high: int | None) -> int:
        if key not in self.values:
            return default
        value: int = self.within(key, self.typed(key, "Integer"), low, high)
        return value

    def string(self, key: str, default: str) -> str:
        if key not in self.values:
            return default
        value: str = self.typed(key, "String")
        return value

    def text(self, key: str) -> str:
        """A present string that must not be empty (the local models need a prompt to start
        from), worded as the schema validator words ``minLength``."""
        value: str = self.typed(key, "String")
        if not value:
            raise self.error(key, "expected minLength: 1, actual: 0")
        return value

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        """A present string that must be one of ``allowed`` (wording *unverified*)."""
        value: str = self.typed(key, "String")
        if value not in allowed:
            raise self.error(key, f"{value} is not a valid enum value")
        return value

    def strings(self, key: str, max_items: int | None) -> tuple[str, ...]:
        """A list of strings, at most ``max_items`` long (absent: empty)."""
        if key not in self.values:
            return ()
        values: list[Any] = self.typed(key, "JSONArray")
        if max_items is not None and len(values) > max_items:
            raise self.error(key, f"expected maximum item count: {max_items}, found: {len(values)}")
        listed = self.nested_list(key, values)
        return tuple(listed.typed(str(index), "String") for index in range(len(values)))

    def nested_list(self, key: str, values: Sequence[Any]) -> Fields:
        """The items of the list at ``key``, addressed as ``"0"``, ``"1"``, ..."""
        return Fields(
            {str(index): value for index, value in enumerate(values)},
            f"{self.pointer}/{key}",
            self.pointed,
        )

    def nested(self, key: str) -> Fields:
        """The object at ``key`` (absent: an empty one)."""
        values = self.typed(key, "JSONObject") if key in self.values else {}
        return Fields(values, f"{self.pointer}/{key}", self.pointed)

    def objects(self, key: str) -> list[Fields]:
        """The list of objects at ``key`` (absent: empty)."""
        if key not in self.values:
            return []
        listed = self.nested_list(key, self.typed(key, "JSONArray"))
        return [listed.nested(index) for index in listed.values]


def unsupported(key: str) -> ValidationException:
    """A documented request key the local text-only models cannot honour (an hpjobs text)."""
    return ValidationException(
        f"hpjobs: [{key}] is not supported by the local models, which generate text only."
    )


def limit_max_tokens(max_tokens: int, target: Target) -> int:
    """``max_tokens`` if the target's context can hold that many tokens, as Bedrock words it."""
    limit = target.context_length
    if max_tokens > limit:
        raise ValidationException(
            f"The maximum tokens you requested exceeds the model limit of {limit}. Try again "
            f"with a maximum tokens value that is lower than {limit}."
        )
    return max_tokens


_MUST_START = (
    "A conversation must start with a user message. Try again with a conversation that starts "
    "with a user message."
)
_MUST_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)


def check_turns(roles: Sequence[str]) -> None:
    """Refuse a conversation (roles ``user``/``assistant``) that does not start with the user or
    does not alternate, with Bedrock's Converse texts."""
    if not roles or roles[0] != "user":
        raise ValidationException(_MUST_START)
    if any(roles[index] == roles[index - 1] for index in range(1, len(roles))):
        raise ValidationException(_MUST_ALTERNATE)


def prompt_tokens(invocation: Invocation) -> int:
    """The prompt's token count before generation reports it: the local models read bytes."""
    return len(invocation.generation.prompt.encode("utf-8"))


def family(name: str) -> Family:
    """The family (``anthropic``, ``titan``, ``llama``, ``mistral``, ``cohere``, ``nova``) that
    reads and answers InvokeModel bodies for models of that family."""
    from hpjobs.bedrock.families import anthropic, cohere, llama, mistral, nova, titan

    families: dict[str, Family] = {
        "anthropic": anthropic.Claude(),
        "titan": titan.Titan(),
        "llama": llama.Llama(),
        "mistral": mistral.Mistral(),
        "cohere": cohere.CommandR(),
        "nova": nova.Nova(),
    }
    if name not in families:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(families)}")
    return families[name]


def counted_stream(
    invocation: Invocation,
    events: Iterable[str | Finish],
    chunk: Callable[[str, int | None, int], dict[str, Any]],
    ending: Callable[[Finish], dict[str, Any]],
) -> Iterator[dict[str, Any]]:
    """Chunks of a family that counts tokens as it streams: ``chunk(text, input tokens (first
    chunk only), output tokens so far)`` per piece, then a last chunk with no text, the family's
    ``ending`` fields and ``amazon-bedrock-invocationMetrics``."""
    sent = 0
    for count, event in enumerate(events):
        input_count = prompt_tokens(invocation) if count == 0 else None
        if isinstance(event, Finish):
            yield {
                **chunk("", input_count, event.output_tokens),
                **ending(event),
                "amazon-bedrock-invocationMetrics": invocation_metrics(event),
            }
            return
        sent += len(event.encode("utf-8"))
        yield chunk(event, input_count, sent)


__all__ += ["counted_stream"]
