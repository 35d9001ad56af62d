"""Every AWS operation hpjobs implements, by service, for every face (CLI, HTTP, Python).

Services are named as botocore names them (``sagemaker``, ``bedrock-runtime``, ``bedrock``);
operations as AWS names them. Looking an operation up imports only the module that implements it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from hpjobs.bedrock import CONTROL_OPERATIONS, RUNTIME_OPERATIONS
from hpjobs.sagemaker import OPERATIONS as SAGEMAKER_OPERATIONS

__all__ = ["SERVICES", "Operation", "operation"]

Operation = Callable[[Mapping[str, Any]], dict[str, Any]]

SERVICES: dict[str, dict[str, str]] = {
    "sagemaker": SAGEMAKER_OPERATIONS,
    "bedrock-runtime": RUNTIME_OPERATIONS,
    "bedrock": CONTROL_OPERATIONS,
}


def operation(service: str, name: str) -> Operation:
    """The function implementing ``name`` of ``service`` (KeyError if hpjobs has none)."""
    module, _, attribute = SERVICES[service][name].partition(":")
    function: Operation = getattr(importlib.import_module(module), attribute)
    return function
