"""CreateHyperParameterTuningJob beyond the model: the rules of reference sagemaker.md §4, the
training job definitions normalised, and the requests of child training jobs.

Each training job definition is also checked as the training job it will become (image, channels,
instance count, ...) with the same rules as CreateTrainingJob, so a request that could never run
is refused at once, not job by job.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpjobs.errors import ValidationException
from hpjobs.sagemaker._request import prepare_training_request, training_request_for_aws
from hpjobs.tuning.space import CategoricalRange, Range, RangeError, combinations, parse_ranges

__all__ = [
    "Definition",
    "TuningPlan",
    "child_request",
    "prepare_tuning_request",
    "static_epochs",
    "tuning_request_for_aws",
]

MAX_RANGES = 30
MAX_HYPERPARAMETERS = 100
MAX_RESOURCE_LIMIT = 20_000
_EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
_OBJECTIVE_METRIC = "_tuning_objective_metric"
_RANGE_KINDS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
#: Members a training job definition shares with CreateTrainingJob, copied to every child.
_SHARED = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


@dataclass(frozen=True)
class Definition:
    """One training job definition, ready to launch children from."""

    name: str | None
    objective: dict[str, str]
    ranges: list[Range]
    training: dict[str, Any]

    @property
    def minimize(self) -> bool:
        return self.objective["Type"] == "Minimize"

    @property
    def tuned_names(self) -> list[str]:
        return [r.name for r in self.ranges]


@dataclass(frozen=True)
class TuningPlan:
    """A checked tuning request: what is stored, and what the tuner works from."""

    request: dict[str, Any]
    definitions: list[Definition]
    strategy: str
    max_jobs: int
    hyperband: tuple[int, int] | None


def _refuse(message: str) -> ValidationException:
    return ValidationException(message)


def prepare_tuning_request(parsed: Mapping[str, Any]) -> TuningPlan:
    """Check a model-valid CreateHyperParameterTuningJob request against the rules AWS applies
    and normalise its definitions (raises ``ValidationException``)."""
    request = copy.deepcopy(dict(parsed))
    config = request["HyperParameterTuningJobConfig"]
    raw_definitions = _raw_definitions(request)
    if config.get("ParameterRanges", {}).get("AutoParameters"):
        raise _refuse("AutoParameters (Autotune) cannot be used on this machine.")
    strategy = config["Strategy"]
    definitions = [_definition(raw, config, len(raw_definitions) > 1) for raw in raw_definitions]
    _check_strategy(config, strategy, definitions)
    hyperband = _hyperband(config, definitions) if strategy == "Hyperband" else None
    max_jobs = _max_jobs(config, strategy, definitions)
    if "TrainingJobDefinition" in request:
        request["TrainingJobDefinition"] = definitions[0].training
    else:
        request["TrainingJobDefinitions"] = [d.training for d in definitions]
    return TuningPlan(request, definitions, strategy, max_jobs, hyperband)


def _raw_definitions(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    single: dict[str, Any] | None = request.get("TrainingJobDefinition")
    several: list[dict[str, Any]] = request.get("TrainingJobDefinitions") or []
    if (single is None) == (not several):
        raise _refuse("Provide exactly one of TrainingJobDefinition and TrainingJobDefinitions.")
    if single is not None:
        return [single]
    names = [d.get("DefinitionName") for d in several]
    if None in names or len(set(names)) != len(names):
        raise _refuse(
            "Each of TrainingJobDefinitions needs a DefinitionName, and the names must be unique."
        )
    return list(several)


def _objective(raw: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, str]:
    objective = raw.get("TuningObjective") or config.get("HyperParameterTuningJobObjective")
    if objective is None:
        raise _refuse(
            "A tuning objective is required: give HyperParameterTuningJobConfig."
            "HyperParameterTuningJobObjective or a TuningObjective in each training job "
            "definition."
        )
    return dict(objective)


def _definition(raw: dict[str, Any], config: Mapping[str, Any], several: bool) -> Definition:
    name = raw.get("DefinitionName")
    ranges_spec = raw.get("HyperParameterRanges") or config.get("ParameterRanges") or {}
    if several and "HyperParameterRanges" not in raw:
        raise _refuse(f"Training job definition {name} needs HyperParameterRanges.")
    count = sum(len(ranges_spec.get(key, [])) for key in _RANGE_KINDS)
    if count > MAX_RANGES:
        raise _refuse(
            f"The hyperparameter tuning job has {count} hyperparameter ranges; the maximum is "
            f"{MAX_RANGES}."
        )
    if count == 0:
        raise _refuse("The hyperparameter tuning job needs at least one hyperparameter range.")
    try:
        ranges = parse_ranges(ranges_spec)
    except RangeError as error:
        raise _refuse(str(error)) from None
    objective = _objective(raw, config)
    training = _checked_training(raw, objective, ranges)
    return Definition(name, objective, ranges, training)


def _resource_config(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """``ResourceConfig``, else ``HyperParameterTuningResourceConfig`` in either of its forms
    (one instance type given directly, or ``InstanceConfigs``, of which the first is used)."""
    if "ResourceConfig" in raw:
        return dict(raw["ResourceConfig"])
    tuning = raw.get("HyperParameterTuningResourceConfig", {})
    instances = tuning.get("InstanceConfigs") or ([tuning] if "InstanceType" in tuning else [])
    if not instances:
        return None
    first = instances[0]
    keys = ("InstanceType", "InstanceCount", "VolumeSizeInGB", "VolumeKmsKeyId")
    return {key: first[key] for key in keys if key in first}


def _training_request(
    definition: Mapping[str, Any], name: str, hyperparameters: Mapping[str, str]
) -> dict[str, Any]:
    request: dict[str, Any] = {"TrainingJobName": name}
    request["AlgorithmSpecification"] = copy.deepcopy(definition["AlgorithmSpecification"])
    request.update({k: copy.deepcopy(definition[k]) for k in _SHARED if k in definition})
    resources = _resource_config(definition)
    if resources is not None:
        request["ResourceConfig"] = resources
    request["HyperParameters"] = dict(hyperparameters)
    return request


def _checked_training(
    raw: dict[str, Any], objective: Mapping[str, str], ranges: Sequence[Range]
) -> dict[str, Any]:
    """The definition normalised by the CreateTrainingJob rules it will meet as a child."""
    static = dict(raw.get("StaticHyperParameters", {}))
    both = sorted(set(static) & {r.name for r in ranges})
    if both:
        raise _refuse(f"Hyperparameters cannot be both static and tunable: {', '.join(both)}.")
    total = len(static) + len(ranges) + 1  # AMT adds _tuning_objective_metric
    if total > MAX_HYPERPARAMETERS:
        raise _refuse(
            f"The training job definition has {total} hyperparameters (static, tunable and "
            f"{_OBJECTIVE_METRIC}); the maximum is {MAX_HYPERPARAMETERS}."
        )
    probe = prepare_training_request(_training_request(raw, "tuning-probe", static)).request
    metrics = probe["AlgorithmSpecification"].get("MetricDefinitions", [])
    if objective["MetricName"] not in {m["Name"] for m in metrics}:
        raise _refuse(
            "A metric is required for this hyperparameter tuning job objective. Provide a metric "
            "in the metric definitions."
        )
    return _with_probe(raw, probe)


def _with_probe(raw: Mapping[str, Any], probe: Mapping[str, Any]) -> dict[str, Any]:
    """Definition ``raw`` given what normalising it as a training job (``probe``) filled in."""
    training = copy.deepcopy(dict(raw))
    training["AlgorithmSpecification"] = probe["AlgorithmSpecification"]
    for key in ("InputDataConfig", "OutputDataConfig", "CheckpointConfig", "StoppingCondition"):
        if key in probe:
            training[key] = probe[key]
    if raw.get("StaticHyperParameters"):
        training["StaticHyperParameters"] = probe["HyperParameters"]
    for flag in (
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
    ):
        training[flag] = probe[flag]
    return training


def tuning_request_for_aws(parsed: Mapping[str, Any]) -> dict[str, Any]:
    """A model-valid CreateHyperParameterTuningJob request whose definitions have the defaults
    a local run would give them, ready to migrate to AWS (see
    :func:`~hpjobs.sagemaker._request.training_request_for_aws`)."""
    request = copy.deepcopy(dict(parsed))
    single = "TrainingJobDefinition" in request
    raw_definitions = (
        [request["TrainingJobDefinition"]] if single else request.get("TrainingJobDefinitions", [])
    )
    definitions = []
    for raw in raw_definitions:
        static = raw.get("StaticHyperParameters", {})
        probe = training_request_for_aws(_training_request(raw, "tuning-probe", static))
        definitions.append(_with_probe(raw, probe))
    if single:
        request["TrainingJobDefinition"] = definitions[0]
    elif definitions:
        request["TrainingJobDefinitions"] = definitions
    return request


def _check_strategy(
    config: Mapping[str, Any], strategy: str, definitions: Sequence[Definition]
) -> None:
    if "StrategyConfig" in config and strategy != "Hyperband":
        raise _refuse("StrategyConfig can only be used with the Hyperband strategy.")
    early = config.get("TrainingJobEarlyStoppingType", "Off")
    if strategy == "Hyperband" and early != "Off":
        raise _refuse(
            "The Hyperband strategy has its own early stopping: TrainingJobEarlyStoppingType "
            "must be Off."
        )
    if strategy != "Grid":
        return
    for definition in definitions:
        for entry in definition.ranges:
            if not isinstance(entry, CategoricalRange):
                raise _refuse(
                    "The Grid strategy supports only categorical hyperparameter ranges; "
                    f"{entry.name} is not categorical."
                )


def static_epochs(definition: Definition) -> int | None:
    """The epochs a definition's jobs run, from its static hyperparameters (None if unknown)."""
    static = definition.training.get("StaticHyperParameters", {})
    for key in _EPOCH_KEYS:
        if key in static:
            try:
                value = json.loads(static[key])
            except ValueError:
                value = static[key]
            try:
                return int(str(value))
            except ValueError:
                return None
    return None


def _hyperband(config: Mapping[str, Any], definitions: Sequence[Definition]) -> tuple[int, int]:
    settings = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig", {})
    maximum = settings.get("MaxResource")
    if maximum is None:
        inferred = {static_epochs(d) for d in definitions}
        if None in inferred or len(inferred) != 1:
            raise _refuse(
                "MaxResource could not be inferred for the Hyperband strategy: give "
                "HyperbandStrategyConfig.MaxResource, or a static hyperparameter named one of "
                f"{', '.join(_EPOCH_KEYS)}."
            )
        maximum = inferred.pop()
    minimum = settings.get("MinResource", 1)
    if not 1 <= maximum <= MAX_RESOURCE_LIMIT:
        raise _refuse(
            f"MaxResource must be between 1 and {MAX_RESOURCE_LIMIT} epochs; it is {maximum}."
        )
    if minimum > maximum:
        raise _refuse(f"MinResource ({minimum}) must not be greater than MaxResource ({maximum}).")
    return int(minimum), int(maximum)


def _max_jobs(config: Mapping[str, Any], strategy: str, definitions: Sequence[Definition]) -> int:
    limit = config["ResourceLimits"].get("MaxNumberOfTrainingJobs")
    total = sum(combinations(d.ranges) for d in definitions)
    if strategy == "Grid":
        if limit is not None and limit != total:
            raise _refuse(
                "For the Grid strategy, MaxNumberOfTrainingJobs must be omitted or equal to the "
                f"number of hyperparameter combinations, {int(total)}; it is {limit}."
            )
        return int(total)
    if limit is None:
        raise _refuse(
            f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy "
            "(only Grid infers it)."
        )
    if math.isfinite(total) and total < limit:
        raise _refuse(
            "You don't have enough combinations of hyperparameter ranges. The total number of "
            f"hyperparameter combinations for the provided ranges [{total:.1f}] must be equal or "
            f"greater than the value of MaxNumberOfJobs, [{limit}]. Provide additional ranges."
        )
    return int(limit)


def child_request(definition: Definition, name: str, tuned: Mapping[str, str]) -> dict[str, Any]:
    """The CreateTrainingJob request of one child: the definition, the tuned values as strings
    and ``_tuning_objective_metric`` (the objective's metric name, not JSON-encoded)."""
    static = definition.training.get("StaticHyperParameters", {})
    hyperparameters = {**static, **tuned, _OBJECTIVE_METRIC: definition.objective["MetricName"]}
    return _training_request(definition.training, name, hyperparameters)
