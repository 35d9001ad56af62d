"""Which local model answers a Bedrock model id.

Well-known Bedrock model ids (Anthropic Claude, Amazon Titan Text, Meta Llama, Mistral, Cohere
Command R, Amazon Nova) map to a local model: by default the small byte-level model that ships
with hpjobs (``jargon``, trained with hpjobs/lm on the Jargon File). Each id keeps its family,
which decides how an InvokeModel body is read and answered.

Ids are accepted as Bedrock accepts them: the bare id (``anthropic.claude-3-haiku-20240307-v1:0``),
a cross-region inference profile (``us.anthropic.…``, ``eu.``, ``apac.``, ``global.``), or a
foundation-model ARN (``arn:aws:bedrock:<region>::foundation-model/<id>``).

The table is configurable: ``$HPJOBS_HOME/models.json`` may add or replace entries::

    {"models": {"my.model-v1:0": {"name": "My model", "provider": "Me",
                                  "family": "anthropic", "path": "/models/my-model"}}}

where ``path`` is a folder holding ``config.json`` and ``model.pt`` saved by hpjobs/lm (or the
name of another local model, such as ``jargon``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpjobs.config import settings

__all__ = [
    "DEFAULT_MODEL",
    "FAMILIES",
    "FoundationModel",
    "UnknownModel",
    "foundation_models",
    "local_model_path",
    "resolve_foundation_model",
]

_MODELS = Path(__file__).with_name("models")
#: The local model every well-known id maps to unless models.json says otherwise.
DEFAULT_MODEL = "jargon"
FAMILIES = ("anthropic", "titan", "llama", "mistral", "cohere", "nova")
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")


class UnknownModel(LookupError):
    """No local model answers this id."""


@dataclass(frozen=True)
class FoundationModel:
    model_id: str
    name: str
    provider: str
    family: str
    local_model: str = DEFAULT_MODEL

    @property
    def path(self) -> Path:
        return local_model_path(self.local_model)


def _entries(family: str, provider: str, models: dict[str, str]) -> dict[str, FoundationModel]:
    return {i: FoundationModel(i, name, provider, family) for i, name in models.items()}


_WELL_KNOWN: dict[str, FoundationModel] = {
    **_entries(
        "anthropic",
        "Anthropic",
        {
            "anthropic.claude-3-haiku-20240307-v1:0": "Claude 3 Haiku",
            "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude 3.5 Haiku",
            "anthropic.claude-3-5-sonnet-20240620-v1:0": "Claude 3.5 Sonnet",
            "anthropic.claude-3-5-sonnet-20241022-v2:0": "Claude 3.5 Sonnet v2",
            "anthropic.claude-3-7-sonnet-20250219-v1:0": "Claude 3.7 Sonnet",
            "anthropic.claude-sonnet-4-20250514-v1:0": "Claude Sonnet 4",
            "anthropic.claude-sonnet-4-5-20250929-v1:0": "Claude Sonnet 4.5",
            "anthropic.claude-haiku-4-5-20251001-v1:0": "Claude Haiku 4.5",
        },
    ),
    **_entries(
        "titan",
        "Amazon",
        {
            "amazon.titan-text-lite-v1": "Titan Text G1 - Lite",
            "amazon.titan-text-lite-v1:0:4k": "Titan Text G1 - Lite (customizable)",
            "amazon.titan-text-express-v1": "Titan Text G1 - Express",
            "amazon.titan-text-express-v1:0:8k": "Titan Text G1 - Express (customizable)",
            "amazon.titan-text-premier-v1:0": "Titan Text G1 - Premier",
        },
    ),
    **_entries(
        "llama",
        "Meta",
        {
            "meta.llama3-8b-instruct-v1:0": "Llama 3 8B Instruct",
            "meta.llama3-70b-instruct-v1:0": "Llama 3 70B Instruct",
            "meta.llama3-1-8b-instruct-v1:0": "Llama 3.1 8B Instruct",
            "meta.llama3-2-1b-instruct-v1:0": "Llama 3.2 1B Instruct",
            "meta.llama3-3-70b-instruct-v1:0": "Llama 3.3 70B Instruct",
        },
    ),
    **_entries(
        "mistral",
        "Mistral AI",
        {
            "mistral.mistral-7b-instruct-v0:2": "Mistral 7B Instruct",
            "mistral.mixtral-8x7b-instruct-v0:1": "Mixtral 8x7B Instruct",
            "mistral.mistral-large-2402-v1:0": "Mistral Large (24.02)",
            "mistral.mistral-small-2402-v1:0": "Mistral Small (24.02)",
        },
    ),
    **_entries(
        "cohere",
        "Cohere",
        {
            "cohere.command-r-v1:0": "Command R",
            "cohere.command-r-plus-v1:0": "Command R+",
        },
    ),
    **_entries(
        "nova",
        "Amazon",
        {
            "amazon.nova-micro-v1:0": "Nova Micro",
            "amazon.nova-lite-v1:0": "Nova Lite",
            "amazon.nova-pro-v1:0": "Nova Pro",
        },
    ),
}


def local_model_path(local_model: str) -> Path:
    """The folder of a local model: a name shipped with hpjobs, or a path."""
    shipped = _MODELS / local_model
    return shipped if (shipped / "config.json").exists() else Path(local_model).expanduser()


def _configured() -> dict[str, FoundationModel]:
    path = settings().home / "models.json"
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    models = {}
    for model_id, entry in data.get("models", {}).items():
        family = entry.get("family", "anthropic")
        if family not in FAMILIES:
            raise ValueError(f"{path}: model {model_id} has unknown family {family!r}")
        models[model_id] = FoundationModel(
            model_id,
            entry.get("name", model_id),
            entry.get("provider", "hpjobs"),
            family,
            entry.get("path", DEFAULT_MODEL),
        )
    return models


def foundation_models() -> dict[str, FoundationModel]:
    """Every model id this machine answers, well-known ones first."""
    return {**_WELL_KNOWN, **_configured()}


def resolve_foundation_model(model_id: str) -> FoundationModel:
    """The foundation model a Bedrock model id (bare, inference profile or ARN) names."""
    models = foundation_models()
    candidate = model_id
    if candidate.startswith("arn:") and ":foundation-model/" in candidate:
        candidate = candidate.split(":foundation-model/", 1)[1]
    elif candidate.startswith("arn:") and ":inference-profile/" in candidate:
        candidate = candidate.split(":inference-profile/", 1)[1]
    if candidate not in models:
        for prefix in _PROFILE_PREFIXES:
            if candidate.startswith(prefix) and candidate[len(prefix) :] in models:
                candidate = candidate[len(prefix) :]
                break
    if candidate not in models:
        raise UnknownModel(model_id)
    return models[candidate]
