"""ListFoundationModels and GetFoundationModel over the local model table.

Every model id :func:`hpjobs.generation.registry.foundation_models` knows is listed, in the
table's order, with the members botocore's ``FoundationModelSummary`` has (reference bedrock.md
§6). Every local model reads and writes text, streams, can be fine-tuned or further pre-trained
through CreateModelCustomizationJob and answers on demand, so those members are the same for all.

Filters follow botocore's request members: ``byProvider`` (compared without regard to case:
*unverified* how the service compares), ``byCustomizationType``, ``byOutputModality`` and
``byInferenceType`` (values the local models do not support give an empty list);
``projectIdentifier`` is accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpjobs import shapes
from hpjobs.config import settings
from hpjobs.errors import ResourceNotFoundException
from hpjobs.generation.registry import FoundationModel, foundation_models

__all__ = [
    "CUSTOMIZATIONS",
    "foundation_model_arn",
    "get_foundation_model",
    "list_foundation_models",
]

#: What CreateModelCustomizationJob does with every local model.
CUSTOMIZATIONS = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
_MODALITIES = ("TEXT",)
_INFERENCE_TYPES = ("ON_DEMAND",)
#: The 404 text the runtime gives for an id it cannot resolve (reference §4.4); *unverified*
#: that GetFoundationModel words it the same way.
_NOT_FOUND = "Could not resolve the foundation model from the provided model identifier."


def foundation_model_arn(model_id: str) -> str:
    """``arn:aws:bedrock:<region>::foundation-model/<id>``: foundation models have no account."""
    return f"arn:aws:bedrock:{settings().region}::foundation-model/{model_id}"


def _summary(model: FoundationModel) -> dict[str, Any]:
    return {
        "modelArn": foundation_model_arn(model.model_id),
        "modelId": model.model_id,
        "modelName": model.name,
        "providerName": model.provider,
        "inputModalities": list(_MODALITIES),
        "outputModalities": list(_MODALITIES),
        "responseStreamingSupported": True,
        "customizationsSupported": list(CUSTOMIZATIONS),
        "inferenceTypesSupported": list(_INFERENCE_TYPES),
        "modelLifecycle": {"status": "ACTIVE"},
    }


def _matches(model: FoundationModel, parsed: Mapping[str, Any]) -> bool:
    provider = parsed.get("byProvider")
    checks = [
        provider is None or provider.casefold() == model.provider.casefold(),
        parsed.get("byCustomizationType", CUSTOMIZATIONS[0]) in CUSTOMIZATIONS,
        parsed.get("byOutputModality", _MODALITIES[0]) in _MODALITIES,
        parsed.get("byInferenceType", _INFERENCE_TYPES[0]) in _INFERENCE_TYPES,
    ]
    return all(checks)


def list_foundation_models(request: Mapping[str, Any]) -> dict[str, Any]:
    """``{"modelSummaries": [...]}``: every local model id the filters let through."""
    parsed = shapes.parse_request("bedrock", "ListFoundationModels", request)
    models = foundation_models().values()
    return {"modelSummaries": [_summary(m) for m in models if _matches(m, parsed)]}


def get_foundation_model(request: Mapping[str, Any]) -> dict[str, Any]:
    """``{"modelDetails": {...}}`` for a bare model id or a foundation-model ARN.

    Only exact ids are found: an inference profile id (``us.…``) is not a foundation model, so
    it gives ``ResourceNotFoundException`` as an unknown id does.
    """
    parsed = shapes.parse_request("bedrock", "GetFoundationModel", request)
    identifier: str = parsed["modelIdentifier"]
    model_id = identifier.split(":foundation-model/", 1)[-1]
    model = foundation_models().get(model_id)
    if model is None:
        raise ResourceNotFoundException(_NOT_FOUND)
    return {"modelDetails": _summary(model)}
