"""CreateTrainingJob beyond the model: the rules AWS applies itself, what this machine can run,
and the defaults a job is stored with.

The stored request is what ``DescribeTrainingJob`` echoes, so everything filled in here is visible
to the user: default ``StoppingCondition``, the ``Enable*`` flags, a built-in's metric definitions
and sample channels, and local paths made absolute.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import regex

from hpjobs import shapes
from hpjobs.errors import ResourceLimitExceeded, ValidationException
from hpjobs.sagemaker.images import Program, resolve_image
from local_runner.runner import model_artifacts_location

__all__ = ["PreparedRequest", "prepare_training_request", "training_request_for_aws"]

_DEFAULT_MAX_RUNTIME = 86_400
_MAX_RUNTIME_LIMIT = 2_419_200  # 28 days (dev guide)
_FLAGS = (
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
)


@dataclass(frozen=True)
class PreparedRequest:
    request: dict[str, Any]
    program: Program
    model_artifacts: str


def prepare_training_request(parsed: Mapping[str, Any]) -> PreparedRequest:
    """Check a model-valid CreateTrainingJob request against the remaining rules and fill in
    its defaults. Raises ``ValidationException`` / ``ResourceLimitExceeded`` as AWS would."""
    _require(parsed, ("AlgorithmSpecification", "ResourceConfig", "StoppingCondition"))
    algorithm = parsed["AlgorithmSpecification"]
    if "AlgorithmName" in algorithm:
        raise ValidationException(
            "AlgorithmName (an algorithm resource or AWS Marketplace algorithm) cannot run on this "
            "machine; give AlgorithmSpecification.TrainingImage instead."
        )
    _require(algorithm, ("TrainingImage",), "algorithmSpecification.")
    program = resolve_image(algorithm["TrainingImage"])
    _check_stopping_condition(parsed)
    _check_resources(parsed["ResourceConfig"])
    _check_metric_definitions(algorithm.get("MetricDefinitions", []))
    request = _with_defaults(copy.deepcopy(dict(parsed)), program)
    _check_channels(request.get("InputDataConfig", []), algorithm["TrainingInputMode"])
    _absolute_locations(request)
    return PreparedRequest(
        request=request,
        program=program,
        model_artifacts=model_artifacts_location(request, request["TrainingJobName"]),
    )


def training_request_for_aws(parsed: Mapping[str, Any]) -> dict[str, Any]:
    """A model-valid CreateTrainingJob request with the defaults a local run would give it
    (a built-in's metric definitions and sample channels, the stopping condition, local locations
    made absolute), ready to migrate to AWS. What only this machine cannot do (several instances,
    Pipe mode, other images) is left for SageMaker to judge."""
    algorithm = parsed.get("AlgorithmSpecification", {})
    image = algorithm.get("TrainingImage")
    program = resolve_image(image) if image and image.startswith("hpjobs/") else Program(image)
    request = _with_defaults(copy.deepcopy(dict(parsed)), program)
    _absolute_locations(request)
    return request


def _require(container: Mapping[str, Any], members: tuple[str, ...], prefix: str = "") -> None:
    shapes.raise_violations(
        [
            shapes.violation(None, prefix + shapes.lower_camel(m), "Member must not be null")
            for m in members
            if m not in container
        ]
    )


def _check_stopping_condition(parsed: Mapping[str, Any]) -> None:
    stopping = parsed["StoppingCondition"]
    spot = parsed.get("EnableManagedSpotTraining", False)
    if "MaxWaitTimeInSeconds" in stopping and not spot:
        raise ValidationException(
            "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining "
            "is set to true"
        )
    runtime = stopping.get("MaxRuntimeInSeconds", _DEFAULT_MAX_RUNTIME)
    if runtime > _MAX_RUNTIME_LIMIT:
        raise ValidationException(
            f"Invalid MaxRuntimeInSeconds. It must be at most {_MAX_RUNTIME_LIMIT} seconds "
            "(28 days)."
        )
    if spot and stopping.get("MaxWaitTimeInSeconds", runtime) < runtime:
        raise ValidationException(
            "Invalid MaxWaitTimeInSeconds. It must be greater than or equal to MaxRuntimeInSeconds."
        )


def _check_resources(resources: Mapping[str, Any]) -> None:
    if resources.get("InstanceGroups"):
        raise ValidationException(
            "ResourceConfig.InstanceGroups (heterogeneous clusters) cannot run on this machine: "
            "local jobs run on one instance."
        )
    _require(resources, ("InstanceType", "InstanceCount"), "resourceConfig.")
    count = resources["InstanceCount"]
    if count < 1:
        raise ValidationException(
            "ResourceConfig.InstanceCount must be at least 1 when ResourceConfig.InstanceGroups "
            "is not given."
        )
    if count > 1:
        instance_type = resources["InstanceType"]
        raise ResourceLimitExceeded(
            f"The account-level service limit '{instance_type} for training job usage' is 1 "
            f"Instances, with current utilization of 0 Instances and a request delta of {count} "
            "Instances. Local jobs run on one instance: set InstanceCount to 1."
        )


def _check_metric_definitions(definitions: list[Mapping[str, str]]) -> None:
    violations = []
    for index, definition in enumerate(definitions, start=1):
        try:
            regex.compile(definition["Regex"])
        except regex.error as error:
            path = f"algorithmSpecification.metricDefinitions.{index}.member.regex"
            violations.append(
                shapes.violation(
                    definition["Regex"],
                    path,
                    f"Member must be a valid regular expression ({error})",
                )
            )
    names = [d["Name"] for d in definitions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationException(
            f"Metric definition names must be unique; repeated: {', '.join(duplicates)}."
        )
    shapes.raise_violations(violations)


def _check_channels(channels: list[Mapping[str, Any]], default_mode: str) -> None:
    names = [c["ChannelName"] for c in channels]
    if len(set(names)) != len(names):
        raise ValidationException("Channel names must be unique within InputDataConfig.")
    for channel in channels:
        name = channel["ChannelName"]
        if name in (".", ".."):
            raise ValidationException(
                f"Channel {name}: a channel's data is put in /opt/ml/input/data/<ChannelName>, so "
                "its name cannot be '.' or '..'."
            )
        mode = channel.get("InputMode", default_mode)
        if mode == "Pipe":
            raise ValidationException(
                f"Channel {name}: Pipe input mode cannot run on this machine; use File or FastFile."
            )
        source = channel["DataSource"]
        if "S3DataSource" not in source:
            raise ValidationException(
                f"Channel {name}: only S3DataSource channels can run on this machine "
                "(FileSystemDataSource and DatasetSource cannot)."
            )
        if source["S3DataSource"]["S3DataType"] != "S3Prefix":
            raise ValidationException(
                f"Channel {name}: S3DataType {source['S3DataSource']['S3DataType']} cannot run on "
                "this machine; use S3Prefix."
            )
        if channel.get("CompressionType", "None") == "Gzip":
            raise ValidationException(
                f"Channel {name}: CompressionType Gzip is used only in Pipe input mode; in "
                f"{mode} mode leave it unset or None."
            )


def _with_defaults(request: dict[str, Any], program: Program) -> dict[str, Any]:
    stopping = request.setdefault("StoppingCondition", {})
    stopping.setdefault("MaxRuntimeInSeconds", _DEFAULT_MAX_RUNTIME)
    for flag in _FLAGS:
        request.setdefault(flag, False)
    builtin = program.builtin
    if builtin is not None:
        algorithm = request["AlgorithmSpecification"]
        if not algorithm.get("MetricDefinitions"):
            algorithm["MetricDefinitions"] = builtin.metric_definitions(
                request.get("HyperParameters", {})
            )
        if not request.get("InputDataConfig") and builtin.sample_channels:
            request["InputDataConfig"] = builtin.sample_input_data_config()
    return request


def absolute_location(location: str) -> str:
    """A local location as an absolute ``file://`` URI; ``s3://`` and ``https://`` unchanged.

    ``file://`` URIs join host and path as the SageMaker SDK's local mode does, so
    ``file://out`` is the relative path ``out``.
    """
    parsed = urlparse(location)
    if parsed.scheme in ("s3", "https", "http"):
        return location
    path = unquote(parsed.netloc + parsed.path) if parsed.scheme == "file" else location
    return Path(os.path.abspath(os.path.expanduser(path))).as_uri()


def _absolute_locations(request: dict[str, Any]) -> None:
    for channel in request.get("InputDataConfig", []):
        source = channel["DataSource"].get("S3DataSource")
        if source is not None:
            source["S3Uri"] = absolute_location(source["S3Uri"])
    output = request["OutputDataConfig"]
    output["S3OutputPath"] = absolute_location(output["S3OutputPath"])
    if "CheckpointConfig" in request:
        checkpoint = request["CheckpointConfig"]
        checkpoint["S3Uri"] = absolute_location(checkpoint["S3Uri"])
    hyperparameters = request.get("HyperParameters", {})
    submit = hyperparameters.get("sagemaker_submit_directory")
    if submit is not None:
        hyperparameters["sagemaker_submit_directory"] = _absolute_hyperparameter(submit)


def _absolute_hyperparameter(raw: str) -> str:
    """Make a location hyperparameter absolute, keeping its JSON quoting if it had any."""
    try:
        decoded = json.loads(raw)
    except ValueError:
        return absolute_location(raw)
    if not isinstance(decoded, str):
        return raw
    return json.dumps(absolute_location(decoded))
