"""The Bedrock operations hpjobs implements, by AWS operation name: the runtime
(``bedrock-runtime``: Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream) and the
control plane (``bedrock``: foundation models, model customization jobs, custom models).

Entries name their functions lazily so that listing operations imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["CONTROL_OPERATIONS", "RUNTIME_OPERATIONS"]

_RUNTIME = "hpjobs.bedrock.runtime"
_CUSTOMIZATION = "hpjobs.bedrock.customization"
_FOUNDATION = "hpjobs.bedrock.foundation_models"

RUNTIME_OPERATIONS: dict[str, str] = {
    "Converse": f"{_RUNTIME}:converse",
    "ConverseStream": f"{_RUNTIME}:converse_stream",
    "InvokeModel": f"{_RUNTIME}:invoke_model",
    "InvokeModelWithResponseStream": f"{_RUNTIME}:invoke_model_with_response_stream",
}

CONTROL_OPERATIONS: dict[str, str] = {
    "ListFoundationModels": f"{_FOUNDATION}:list_foundation_models",
    "GetFoundationModel": f"{_FOUNDATION}:get_foundation_model",
    "CreateModelCustomizationJob": f"{_CUSTOMIZATION}:create_model_customization_job",
    "GetModelCustomizationJob": f"{_CUSTOMIZATION}:get_model_customization_job",
    "ListModelCustomizationJobs": f"{_CUSTOMIZATION}:list_model_customization_jobs",
    "StopModelCustomizationJob": f"{_CUSTOMIZATION}:stop_model_customization_job",
    "GetCustomModel": f"{_CUSTOMIZATION}:get_custom_model",
    "ListCustomModels": f"{_CUSTOMIZATION}:list_custom_models",
    "DeleteCustomModel": f"{_CUSTOMIZATION}:delete_custom_model",
}
