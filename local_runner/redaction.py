"""Which values are secrets, and hiding them.

One rule decides which names hold secrets; it is used for hyperparameters and for
``Environment`` entries alike, by the runner (the job's log and failure reason) and by hpjobs
(describe output, and so the CLI, the HTTP endpoint and the dashboard).

**The rule.** A name is split into words: at ``_``, ``-``, ``.``, spaces and digits, and where
its case changes (``apiKey`` and ``APIKey`` are ``api`` + ``key``). Matching ignores case. The
name holds a secret when

- any word contains ``password``, ``passwd``, ``passphrase``, ``secret`` or ``credential``
  (``db_password``, ``PGPASSWORD``, ``client_secret``, ``AWS_SECRET_ACCESS_KEY``,
  ``GOOGLE_APPLICATION_CREDENTIALS``); or
- its last word is ``token``, ``key`` or ``pwd``, or a word that ends in ``token``
  (``accesstoken``), or one of a few run-together key names (``apikey``, ``accesskey``,
  ``privatekey``, ``secretkey``, ``authkey``, ``sessionkey``, ``signingkey``, ``masterkey``,
  ``encryptionkey``, ``licensekey``, ``passkey``, ``clientkey``, ``servicekey``, ``appkey``):
  ``api_key``, ``HF_TOKEN``, ``GITHUB_TOKEN``, ``WANDB_API_KEY``, ``AWS_SESSION_TOKEN``,
  ``MYSQL_PWD``, ``token``, ``key``, ``APIKEY``.

``token`` and ``key`` count only as the last word, because in machine learning they are also
ordinary words at the front of a name: ``max_tokens``, ``maxTokenCount``, ``token_dropout``,
``key_size``, ``key_dim`` and ``AWS_ACCESS_KEY_ID`` (an identifier, not a secret) are shown;
``monkey``, ``hotkey`` and ``keyword`` are not secret words at all. A name that ends in ``key``
as its own word is masked even when harmless (``sort_key``): hiding a value costs less than
showing a secret, and the job receives the real value either way.

**The mask.** A secret value is shown as ``****`` (:data:`MASK`), whatever its length. In text
(a log line, a failure reason) every occurrence of a secret value is replaced by ``****``, the
longest values first. Values of fewer than four characters, and ``true``, ``false``, ``null`` and
``none``, are masked where they stand as values (describe output) but not searched for in text:
they cannot be secrets worth the name, and replacing every ``1`` or ``true`` would ruin a log. A
value that spans several lines is also searched for line by line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "Redactor", "is_secret_name", "masked", "secret_values"]

MASK = "****"

_CONTAINED = ("password", "passwd", "passphrase", "secret", "credential")
_LAST = frozenset({"token", "key", "pwd"})
_KEY_COMPOUNDS = frozenset(
    {
        "apikey",
        "accesskey",
        "privatekey",
        "secretkey",
        "authkey",
        "sessionkey",
        "signingkey",
        "masterkey",
        "encryptionkey",
        "licensekey",
        "passkey",
        "clientkey",
        "servicekey",
        "appkey",
    }
)
_MIN_TEXT_LENGTH = 4
_NOT_SECRETS = frozenset({"true", "false", "null", "none"})


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return re.findall(r"[a-z]+", spaced.lower())


def is_secret_name(name: str) -> bool:
    """Whether a hyperparameter or environment variable called ``name`` holds a secret."""
    words = _words(name)
    if not words:
        return False
    if any(part in word for word in words for part in _CONTAINED):
        return True
    last = words[-1]
    return last in _LAST or last.endswith("token") or last in _KEY_COMPOUNDS


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every secret-named entry's value replaced by :data:`MASK`."""
    return {key: MASK if is_secret_name(key) else value for key, value in values.items()}


def _renderings(raw: str) -> Iterable[str]:
    """The forms a hyperparameter value takes on its way to a program: the stored string (a
    JSON string is found by its contents, so masking keeps its quotes), its JSON-decoded value as
    the toolkit turns it into an argument, and the parts of a JSON object or list."""
    try:
        decoded = json.loads(raw)
    except ValueError:
        yield raw
        return
    if not isinstance(decoded, str):
        yield raw
    yield from _leaves(decoded)


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        yield ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value
        yield json.dumps(value)[1:-1]  # as it stands inside JSON text (SM_HPS)
    elif value is not None:
        yield str(value)
        yield json.dumps(value)


def secret_values(request: Mapping[str, Any]) -> list[str]:
    """Every string worth searching for in text: the values of a training request's
    secret-named ``HyperParameters`` and ``Environment`` entries, as the program sees them."""
    found: set[str] = set()
    for key, raw in request.get("HyperParameters", {}).items():
        if is_secret_name(key):
            found.update(_renderings(str(raw)))
    for key, raw in request.get("Environment", {}).items():
        if is_secret_name(key):
            found.add(str(raw))
    lines = {line.strip() for value in found for line in value.splitlines()}
    return sorted(
        (
            value
            for value in found | lines
            if len(value) >= _MIN_TEXT_LENGTH and value.lower() not in _NOT_SECRETS
        ),
        key=lambda value: (-len(value), value),
    )


class Redactor:
    """Replaces every occurrence of a set of secret values in text by :data:`MASK`."""

    def __init__(self, values: Iterable[str]) -> None:
        ordered = sorted(set(values), key=lambda value: (-len(value), value))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)
