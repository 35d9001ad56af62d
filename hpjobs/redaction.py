"""Secrets hidden from describe output.

The rule that says which names hold secrets, and the mask ``****``, are
:mod:`local_runner.redaction`'s (one definition for the job's log and for describe output).
Here they are applied to the responses people read: ``DescribeTrainingJob`` (``HyperParameters``,
``Environment``) and ``DescribeHyperParameterTuningJob`` (``StaticHyperParameters`` and
``Environment`` of each training job definition). The CLI, the HTTP endpoint and the dashboard
show those responses, so they show the mask too.

What is stored is not masked: the job runs with the real values (its ``SM_HPS``, arguments and
environment). Tuned hyperparameters are shown as they are: the tuner picks them from the ranges
in the request, which are not secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from local_runner.redaction import MASK, Redactor, is_secret_name, masked, secret_values

__all__ = [
    "MASK",
    "is_secret_name",
    "log_redactor",
    "masked_training_description",
    "masked_tuning_description",
]


def _mask_members(container: Mapping[str, Any], *members: str) -> dict[str, Any]:
    result = dict(container)
    for member in members:
        values = container.get(member)
        if isinstance(values, Mapping):
            result[member] = masked(values)
    return result


def masked_training_description(description: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeTrainingJob response with secret ``HyperParameters`` and ``Environment``
    values shown as ``****`` (the given response is left as it is)."""
    return _mask_members(description, "HyperParameters", "Environment")


def masked_tuning_description(description: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeHyperParameterTuningJob response with secret ``StaticHyperParameters`` and
    ``Environment`` values of every training job definition shown as ``****``."""
    result = dict(description)
    if isinstance(result.get("TrainingJobDefinition"), Mapping):
        result["TrainingJobDefinition"] = _mask_members(
            result["TrainingJobDefinition"], "StaticHyperParameters", "Environment"
        )
    if isinstance(result.get("TrainingJobDefinitions"), list):
        result["TrainingJobDefinitions"] = [
            _mask_members(definition, "StaticHyperParameters", "Environment")
            if isinstance(definition, Mapping)
            else definition
            for definition in result["TrainingJobDefinitions"]
        ]
    return result


def log_redactor(name: str) -> Redactor:
    """What hides the secrets of training job ``name`` in text its program wrote: for a job run
    on AWS, whose log lines come from CloudWatch as the program printed them (a local job's log
    is masked as it is written)."""
    from sqlalchemy import select

    from hpjobs.store import TrainingJob, get_store

    with get_store().read() as session:
        request = session.scalar(select(TrainingJob.request).where(TrainingJob.name == name))
    return Redactor(secret_values(request or {}))
