"""Every error a user can meet on the six hyperparameter tuning job operations, with AWS's codes
and texts (reference sagemaker.md §4, §8), and the few edge requests that must be accepted.

Each refusal is checked through both faces of the Python API (the operation functions of
:mod:`hpjobs.sagemaker.tuning_jobs` and ``hpjobs.client("sagemaker")``); a refused create must leave
nothing behind. Tuning jobs that do get created run as real detached processes, so every test that
creates one waits for it to reach a terminal status.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SCRIPTS, TERMINAL, wait_for

import hpjobs
from hpjobs import errors
from hpjobs.errors import ServiceError
from hpjobs.sagemaker.training_jobs import (
    describe_training_job,
    list_training_jobs,
    stop_training_job,
)
from hpjobs.sagemaker.tuning_jobs import (
    create_hyper_parameter_tuning_job,
    delete_hyper_parameter_tuning_job,
    describe_hyper_parameter_tuning_job,
    list_hyper_parameter_tuning_jobs,
    list_training_jobs_for_hyper_parameter_tuning_job,
    stop_hyper_parameter_tuning_job,
)

Request = dict[str, Any]
Response = dict[str, Any]
Mutation = Callable[[Request], None]

NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
SUPPORTED = (
    "Supported images: hpjobs/pytorch, hpjobs/lm, hpjobs/mlp, "
    "<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<tag>."
)
BAD_TOKEN = (
    "The NextToken is not valid for this request: pass the token from the previous response "
    "together with the same filters and sort order."
)
MISSING_METRIC = (
    "A metric is required for this hyperparameter tuning job objective. Provide a metric in the "
    "metric definitions."
)
ARN_PREFIX = "arn:aws:sagemaker:us-west-2:000000000000:hyper-parameter-tuning-job/"
CODES: dict[str, type[ServiceError]] = {
    "ValidationException": errors.ValidationException,
    "SerializationException": errors.SerializationException,
    "ResourceInUse": errors.ResourceInUse,
    "ResourceNotFound": errors.ResourceNotFound,
    "ResourceLimitExceeded": errors.ResourceLimitExceeded,
}
FUNCTIONS: dict[str, Callable[[Request], Response]] = {
    "create_hyper_parameter_tuning_job": create_hyper_parameter_tuning_job,
    "describe_hyper_parameter_tuning_job": describe_hyper_parameter_tuning_job,
    "list_hyper_parameter_tuning_jobs": list_hyper_parameter_tuning_jobs,
    "list_training_jobs_for_hyper_parameter_tuning_job": (
        list_training_jobs_for_hyper_parameter_tuning_job
    ),
    "stop_hyper_parameter_tuning_job": stop_hyper_parameter_tuning_job,
    "delete_hyper_parameter_tuning_job": delete_hyper_parameter_tuning_job,
}


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


class Face:
    """One face of the Python API: the operation functions, or the boto3-shaped client."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, operation: str, request: Request) -> Response:
        if self.kind == "function":
            return FUNCTIONS[operation](request)
        response: Response = getattr(hpjobs.client("sagemaker"), operation)(**request)
        return response


@pytest.fixture(params=["function", "client"])
def api(request: pytest.FixtureRequest) -> Face:
    return Face(request.param)


def not_found(name: str) -> str:
    return f"Amazon SageMaker can't find a tuning job called {name}. Type another name."


def refused(call: Callable[[], object], code: str, message: str) -> ServiceError:
    """Run ``call``, which must raise ``code`` with exactly ``message``."""
    with pytest.raises(ServiceError) as caught:
        call()
    error = caught.value
    assert type(error) is CODES[code]
    assert error.code == code
    assert error.message == message
    assert error.response == {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return error


def tuning_names() -> list[str]:
    summaries = list_hyper_parameter_tuning_jobs({"MaxResults": 100})
    return [s["HyperParameterTuningJobName"] for s in summaries["HyperParameterTuningJobSummaries"]]


def assert_nothing_stored(home: Path) -> None:
    assert list_hyper_parameter_tuning_jobs({}) == {"HyperParameterTuningJobSummaries": []}
    assert list_training_jobs({}) == {"TrainingJobSummaries": []}
    assert not (home / "tuning").exists()
    assert not (home / "jobs").exists()


def wait_for_tuning(
    name: str, until: Callable[[Response], bool] | None = None, timeout: float = 60
) -> Response:
    """Describe tuning job ``name`` until ``until`` holds (default: a terminal status)."""
    until = until or (lambda d: d["HyperParameterTuningJobStatus"] in TERMINAL)
    deadline = time.monotonic() + timeout
    while True:
        description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
        if until(description):
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"tuning job {name} did not get there in {timeout} s")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _nothing_outlives_the_test(home: Path) -> Iterator[None]:
    """Even when a test fails half way, stop what it left running and wait for the end."""
    yield
    listed = list_hyper_parameter_tuning_jobs({"MaxResults": 100})
    for summary in listed["HyperParameterTuningJobSummaries"]:
        name = summary["HyperParameterTuningJobName"]
        if summary["HyperParameterTuningJobStatus"] == "InProgress":
            with contextlib.suppress(ServiceError):
                stop_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
        wait_for_tuning(name, timeout=30)
    for job in list_training_jobs({"MaxResults": 100})["TrainingJobSummaries"]:
        if job["TrainingJobStatus"] == "InProgress":
            with contextlib.suppress(ServiceError):
                stop_training_job({"TrainingJobName": job["TrainingJobName"]})
        wait_for(job["TrainingJobName"], timeout=30)


def children(name: str) -> list[Response]:
    response = list_training_jobs_for_hyper_parameter_tuning_job(
        {"HyperParameterTuningJobName": name, "MaxResults": 100}
    )
    summaries: list[Response] = response["TrainingJobSummaries"]
    return summaries


def outcome(name: str) -> str:
    """What became of tuning job ``name`` and its children, for a failed assertion's message."""
    description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
    lines = [
        f"{name}: {description['HyperParameterTuningJobStatus']} "
        f"{description.get('FailureReason', '')}"
    ]
    for child in children(name):
        job = describe_training_job({"TrainingJobName": child["TrainingJobName"]})
        steps = [t["Status"] for t in job["SecondaryStatusTransitions"]]
        final = child.get("FinalHyperParameterTuningJobObjectiveMetric")
        lines.append(
            f"  {child['TrainingJobName']}: {child['TrainingJobStatus']} objective "
            f"{child.get('ObjectiveStatus')} {final} {job.get('FailureReason', '')} {steps}"
        )
    return "\n".join(lines)


def continuous(name: str, low: str, high: str, scaling: str | None = None) -> Request:
    entry = {"Name": name, "MinValue": low, "MaxValue": high}
    if scaling is not None:
        entry["ScalingType"] = scaling
    return entry


def integer(name: str, low: str, high: str, scaling: str | None = None) -> Request:
    return continuous(name, low, high, scaling)


def categorical(name: str, *values: str) -> Request:
    return {"Name": name, "Values": list(values)}


def definition(output: Path, **static: str) -> Request:
    """A training job definition running fixture ``objective.py``."""
    return {
        "AlgorithmSpecification": {
            "TrainingImage": "hpjobs/pytorch",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "objective", "Regex": "objective=([0-9.]+)"}],
        },
        "StaticHyperParameters": {
            "sagemaker_program": '"objective.py"',
            "sagemaker_submit_directory": json.dumps(SCRIPTS.as_uri()),
            "epochs": "3",
            **static,
        },
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def tuning_request(name: str, output: Path, **static: str) -> Request:
    """A Random search over x, y in [-5, 5] minimising ``objective``, 2 jobs one at a time."""
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    continuous("x", "-5", "5"),
                    continuous("y", "-5", "5"),
                ]
            },
        },
        "TrainingJobDefinition": definition(output, **static),
    }


def config(request: Request) -> Request:
    value: Request = request["HyperParameterTuningJobConfig"]
    return value


def ranges(**kinds: list[Request]) -> Mutation:
    """Replace the ParameterRanges with ``IntegerParameterRanges=[...]`` and so on."""

    def change(request: Request) -> None:
        config(request)["ParameterRanges"] = {f"{k}ParameterRanges": v for k, v in kinds.items()}

    return change


def strategy(name: str, max_jobs: int | None = None) -> Mutation:
    def change(request: Request) -> None:
        config(request)["Strategy"] = name
        limits = config(request)["ResourceLimits"]
        if max_jobs is None:
            limits.pop("MaxNumberOfTrainingJobs", None)
        else:
            limits["MaxNumberOfTrainingJobs"] = max_jobs

    return change


def in_config(key: str, value: Any) -> Mutation:
    def change(request: Request) -> None:
        config(request)[key] = value

    return change


def without_config(key: str) -> Mutation:
    def change(request: Request) -> None:
        del config(request)[key]

    return change


def in_definition(key: str, value: Any) -> Mutation:
    def change(request: Request) -> None:
        request["TrainingJobDefinition"][key] = value

    return change


def static(**values: str) -> Mutation:
    def change(request: Request) -> None:
        request["TrainingJobDefinition"]["StaticHyperParameters"].update(values)

    return change


def without_static(*keys: str) -> Mutation:
    def change(request: Request) -> None:
        for key in keys:
            del request["TrainingJobDefinition"]["StaticHyperParameters"][key]

    return change


def image(uri: str) -> Mutation:
    def change(request: Request) -> None:
        request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = uri

    return change


def metric_name(name: str) -> Mutation:
    def change(request: Request) -> None:
        config(request)["HyperParameterTuningJobObjective"]["MetricName"] = name

    return change


def several_definitions(*names: str | None, with_ranges: bool = True) -> Mutation:
    """Move the single definition into TrainingJobDefinitions, once per name."""

    def change(request: Request) -> None:
        single = request.pop("TrainingJobDefinition")
        several = []
        for name in names:
            entry = json.loads(json.dumps(single))
            if name is not None:
                entry["DefinitionName"] = name
            if with_ranges:
                entry["HyperParameterRanges"] = config(request)["ParameterRanges"]
            several.append(entry)
        request["TrainingJobDefinitions"] = several

    return change


def both(*changes: Mutation) -> Mutation:
    def change(request: Request) -> None:
        for each in changes:
            each(request)

    return change


def one_error(shown: str, path: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value {shown} at '{path}' failed to satisfy constraint: "
        f"{constraint}"
    )


# ------------------------------------------------------------------------------------------------
# CreateHyperParameterTuningJob: refused requests
# ------------------------------------------------------------------------------------------------

_LONG = "a" * 33
_CATEGORICAL_31 = [categorical(f"c{i}", "1", "2") for i in range(31)]
_CATEGORICAL_31_SHOWN = ", ".join(f"{{Name=c{i}, Values=[1, 2]}}" for i in range(31))
_MANY_STATIC = {f"k{i}": "v" for i in range(97)}

CREATE_REFUSALS = [
    pytest.param(
        lambda r: r.update(HyperParameterTuningJobName=_LONG),
        "2 validation errors detected: "
        f"Value '{_LONG}' at 'hyperParameterTuningJobName' failed to satisfy constraint: Member "
        "must have length less than or equal to 32; "
        f"Value '{_LONG}' at 'hyperParameterTuningJobName' failed to satisfy constraint: Member "
        f"must satisfy regular expression pattern: {NAME_PATTERN}",
        id="name-33-characters",
    ),
    pytest.param(
        lambda r: r.update(HyperParameterTuningJobName="bad_name"),
        one_error(
            "'bad_name'",
            "hyperParameterTuningJobName",
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
        ),
        id="name-bad-pattern",
    ),
    pytest.param(
        lambda r: r.update(HyperParameterTuningJobName="ends-with-dash-"),
        one_error(
            "'ends-with-dash-'",
            "hyperParameterTuningJobName",
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
        ),
        id="name-trailing-dash",
    ),
    pytest.param(
        ranges(Categorical=_CATEGORICAL_31),
        one_error(
            f"'[{_CATEGORICAL_31_SHOWN}]'",
            "hyperParameterTuningJobConfig.parameterRanges.categoricalParameterRanges",
            "Member must have length less than or equal to 30",
        ),
        id="31-ranges-in-one-list",
    ),
    pytest.param(
        ranges(
            Integer=[integer(f"i{n}", "1", "9") for n in range(11)],
            Continuous=[continuous(f"f{n}", "0", "1") for n in range(10)],
            Categorical=[categorical(f"c{n}", "a", "b") for n in range(10)],
        ),
        "The hyperparameter tuning job has 31 hyperparameter ranges; the maximum is 30.",
        id="31-ranges-over-three-kinds",
    ),
    pytest.param(
        ranges(),
        "The hyperparameter tuning job needs at least one hyperparameter range.",
        id="no-ranges",
    ),
    pytest.param(
        both(
            strategy("Grid"),
            ranges(
                Categorical=[categorical("x", "1", "2")], Continuous=[continuous("y", "0", "1")]
            ),
        ),
        "The Grid strategy supports only categorical hyperparameter ranges; y is not categorical.",
        id="grid-continuous-range",
    ),
    pytest.param(
        both(strategy("Grid"), ranges(Integer=[integer("n", "1", "3")])),
        "The Grid strategy supports only categorical hyperparameter ranges; n is not categorical.",
        id="grid-integer-range",
    ),
    pytest.param(
        both(
            strategy("Grid", max_jobs=4),
            ranges(Categorical=[categorical("x", "1", "2"), categorical("y", "a", "b", "c")]),
        ),
        "For the Grid strategy, MaxNumberOfTrainingJobs must be omitted or equal to the number of "
        "hyperparameter combinations, 6; it is 4.",
        id="grid-max-jobs-below-combinations",
    ),
    pytest.param(
        both(
            strategy("Grid", max_jobs=7),
            ranges(Categorical=[categorical("x", "1", "2"), categorical("y", "a", "b", "c")]),
        ),
        "For the Grid strategy, MaxNumberOfTrainingJobs must be omitted or equal to the number of "
        "hyperparameter combinations, 6; it is 7.",
        id="grid-max-jobs-above-combinations",
    ),
    pytest.param(
        ranges(Continuous=[continuous("x", "0", "5", "Logarithmic")]),
        "The hyperparameter range x uses Logarithmic scaling, which needs every value to be "
        "greater than 0; MinValue is 0.",
        id="logarithmic-min-zero",
    ),
    pytest.param(
        ranges(Integer=[integer("n", "-2", "5", "Logarithmic")]),
        "The hyperparameter range n uses Logarithmic scaling, which needs every value to be "
        "greater than 0; MinValue is -2.",
        id="logarithmic-integer-min-negative",
    ),
    pytest.param(
        ranges(Integer=[integer("n", "1", "5", "ReverseLogarithmic")]),
        "The hyperparameter range n uses ReverseLogarithmic scaling, which only continuous ranges "
        "support.",
        id="reverse-logarithmic-integer",
    ),
    pytest.param(
        ranges(Continuous=[continuous("m", "0.5", "1", "ReverseLogarithmic")]),
        "The hyperparameter range m uses ReverseLogarithmic scaling, which needs the range to lie "
        "within 0 <= x < 1.0; it is [0.5, 1].",
        id="reverse-logarithmic-max-one",
    ),
    pytest.param(
        ranges(Continuous=[continuous("m", "-0.5", "0.5", "ReverseLogarithmic")]),
        "The hyperparameter range m uses ReverseLogarithmic scaling, which needs the range to lie "
        "within 0 <= x < 1.0; it is [-0.5, 0.5].",
        id="reverse-logarithmic-min-negative",
    ),
    pytest.param(
        ranges(Integer=[integer("n", "1.5", "4")]),
        "The value '1.5' of hyperparameter range n is not an integer.",
        id="integer-range-fraction",
    ),
    pytest.param(
        ranges(Continuous=[continuous("x", "low", "4")]),
        "The value 'low' of hyperparameter range x is not a number.",
        id="continuous-range-not-a-number",
    ),
    pytest.param(
        ranges(Continuous=[continuous("x", "5", "1")]),
        "The hyperparameter range x has MinValue 5 greater than MaxValue 1.",
        id="min-above-max",
    ),
    pytest.param(
        ranges(Continuous=[continuous("x", "0", "1")], Categorical=[categorical("x", "a", "b")]),
        "Hyperparameter ranges must have unique names; repeated: x.",
        id="repeated-range-name",
    ),
    pytest.param(
        both(strategy("Hyperband", max_jobs=2), in_config("TrainingJobEarlyStoppingType", "Auto")),
        "The Hyperband strategy has its own early stopping: TrainingJobEarlyStoppingType must be "
        "Off.",
        id="hyperband-with-auto-early-stopping",
    ),
    pytest.param(
        both(strategy("Hyperband", max_jobs=2), without_static("epochs")),
        "MaxResource could not be inferred for the Hyperband strategy: give "
        "HyperbandStrategyConfig.MaxResource, or a static hyperparameter named one of epochs, "
        "numepochs, n-epochs, n_epochs, num_epochs.",
        id="hyperband-no-max-resource",
    ),
    pytest.param(
        both(
            strategy("Hyperband", max_jobs=2),
            in_config(
                "StrategyConfig",
                {"HyperbandStrategyConfig": {"MinResource": 5, "MaxResource": 3}},
            ),
        ),
        "MinResource (5) must not be greater than MaxResource (3).",
        id="hyperband-min-above-max-resource",
    ),
    pytest.param(
        in_config("StrategyConfig", {"HyperbandStrategyConfig": {"MaxResource": 9}}),
        "StrategyConfig can only be used with the Hyperband strategy.",
        id="strategy-config-with-random",
    ),
    pytest.param(
        both(strategy("Random", max_jobs=10), ranges(Integer=[integer("n", "1", "3")])),
        "You don't have enough combinations of hyperparameter ranges. The total number of "
        "hyperparameter combinations for the provided ranges [3.0] must be equal or greater than "
        "the value of MaxNumberOfJobs, [10]. Provide additional ranges.",
        id="not-enough-combinations",
    ),
    pytest.param(
        both(
            strategy("Bayesian", max_jobs=7),
            ranges(Integer=[integer("n", "1", "3")], Categorical=[categorical("c", "a", "b")]),
        ),
        "You don't have enough combinations of hyperparameter ranges. The total number of "
        "hyperparameter combinations for the provided ranges [6.0] must be equal or greater than "
        "the value of MaxNumberOfJobs, [7]. Provide additional ranges.",
        id="not-enough-combinations-bayesian",
    ),
    pytest.param(
        metric_name("accuracy"),
        MISSING_METRIC,
        id="objective-metric-not-defined",
    ),
    pytest.param(
        without_config("HyperParameterTuningJobObjective"),
        "A tuning objective is required: give HyperParameterTuningJobConfig."
        "HyperParameterTuningJobObjective or a TuningObjective in each training job definition.",
        id="no-objective",
    ),
    pytest.param(
        lambda r: r.update(TrainingJobDefinitions=[dict(r["TrainingJobDefinition"])]),
        "Provide exactly one of TrainingJobDefinition and TrainingJobDefinitions.",
        id="both-definition-kinds",
    ),
    pytest.param(
        lambda r: r.pop("TrainingJobDefinition"),
        "Provide exactly one of TrainingJobDefinition and TrainingJobDefinitions.",
        id="no-definition",
    ),
    pytest.param(
        several_definitions("a", None),
        "Each of TrainingJobDefinitions needs a DefinitionName, and the names must be unique.",
        id="definitions-without-name",
    ),
    pytest.param(
        several_definitions("a", "a"),
        "Each of TrainingJobDefinitions needs a DefinitionName, and the names must be unique.",
        id="definitions-same-name",
    ),
    pytest.param(
        several_definitions("a", "b", with_ranges=False),
        "Training job definition a needs HyperParameterRanges.",
        id="definitions-without-ranges",
    ),
    pytest.param(
        static(x="1", y="2"),
        "Hyperparameters cannot be both static and tunable: x, y.",
        id="tuned-also-static",
    ),
    pytest.param(
        static(**_MANY_STATIC),
        "The training job definition has 103 hyperparameters (static, tunable and "
        "_tuning_objective_metric); the maximum is 100.",
        id="too-many-hyperparameters",
    ),
    pytest.param(
        strategy("Random"),
        "ResourceLimits.MaxNumberOfTrainingJobs is required for the Random strategy (only Grid "
        "infers it).",
        id="random-without-max-jobs",
    ),
    pytest.param(
        strategy("Bayesian"),
        "ResourceLimits.MaxNumberOfTrainingJobs is required for the Bayesian strategy (only Grid "
        "infers it).",
        id="bayesian-without-max-jobs",
    ),
    pytest.param(
        image("python:3.11"),
        "The training image 'python:3.11' cannot run on this machine: hpjobs runs training jobs "
        f"without Docker. {SUPPORTED}",
        id="unsupported-image",
    ),
    pytest.param(
        lambda r: config(r)["ParameterRanges"].update(
            AutoParameters=[{"Name": "lr", "ValueHint": "0.1"}]
        ),
        "AutoParameters (Autotune) cannot be used on this machine.",
        id="auto-parameters",
    ),
]


@pytest.mark.parametrize(("change", "message"), CREATE_REFUSALS)
def test_create_refusals(
    api: Face, output: Path, home: Path, change: Mutation, message: str
) -> None:
    request = tuning_request("val-tune", output)
    change(request)
    refused(
        lambda: api("create_hyper_parameter_tuning_job", request), "ValidationException", message
    )
    assert_nothing_stored(home)


TRAINING_RULE_REFUSALS = [
    pytest.param(
        in_definition(
            "StoppingCondition", {"MaxRuntimeInSeconds": 300, "MaxWaitTimeInSeconds": 600}
        ),
        "ValidationException",
        "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining is set "
        "to true",
        id="max-wait-without-spot",
    ),
    pytest.param(
        in_definition(
            "ResourceConfig",
            {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1},
        ),
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.m5.large for training job usage' is 1 Instances, "
        "with current utilization of 0 Instances and a request delta of 2 Instances. Local jobs "
        "run on one instance: set InstanceCount to 1.",
        id="two-instances",
    ),
]


@pytest.mark.parametrize(("change", "code", "message"), TRAINING_RULE_REFUSALS)
def test_definitions_meet_the_training_job_rules(
    api: Face, output: Path, home: Path, change: Mutation, code: str, message: str
) -> None:
    request = tuning_request("val-tune", output)
    change(request)
    refused(lambda: api("create_hyper_parameter_tuning_job", request), code, message)
    assert_nothing_stored(home)


def test_unknown_member_is_a_serialization_error(api: Face, output: Path, home: Path) -> None:
    request = tuning_request("val-tune", output)
    config(request)["Bogus"] = 1
    with pytest.raises(errors.SerializationException) as caught:
        api("create_hyper_parameter_tuning_job", request)
    assert caught.value.code == "SerializationException"
    assert '"Bogus"' in caught.value.message
    assert_nothing_stored(home)


def test_missing_strategy_is_a_model_error(api: Face, output: Path, home: Path) -> None:
    request = tuning_request("val-tune", output)
    del config(request)["Strategy"]
    refused(
        lambda: api("create_hyper_parameter_tuning_job", request),
        "ValidationException",
        one_error("null", "hyperParameterTuningJobConfig.strategy", "Member must not be null"),
    )
    assert_nothing_stored(home)


# ------------------------------------------------------------------------------------------------
# CreateHyperParameterTuningJob: edge requests that are accepted
# ------------------------------------------------------------------------------------------------


def test_grid_without_max_jobs_runs_every_combination(api: Face, output: Path) -> None:
    request = tuning_request("Grid-Infer", output)
    strategy("Grid")(request)
    ranges(Categorical=[categorical("x", "1", "2"), categorical("y", "0", "-1")])(request)
    response = api("create_hyper_parameter_tuning_job", request)
    assert response == {"HyperParameterTuningJobArn": ARN_PREFIX + "grid-infer"}
    description = wait_for_tuning("Grid-Infer")
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 4
    limits = description["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert "MaxNumberOfTrainingJobs" not in limits  # echoed as sent
    tuned = sorted(
        (c["TunedHyperParameters"]["x"], c["TunedHyperParameters"]["y"])
        for c in children("grid-infer")
    )
    assert tuned == [("1", "-1"), ("1", "0"), ("2", "-1"), ("2", "0")]


def test_a_32_character_name_is_accepted_and_prefixes_its_children(api: Face, output: Path) -> None:
    name = "T" + "a1-" * 10 + "z"
    assert len(name) == 32
    request = tuning_request(name, output)
    config(request)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 1
    response = api("create_hyper_parameter_tuning_job", request)
    assert response == {"HyperParameterTuningJobArn": ARN_PREFIX + name.lower()}
    assert wait_for_tuning(name)["HyperParameterTuningJobStatus"] == "Completed"
    [child] = children(name)
    assert child["TrainingJobName"].startswith(name + "-001-")
    assert child["TrainingJobStatus"] == "Completed"


def _tuning_resources(**resources: Any) -> Mutation:
    def change(request: Request) -> None:
        del request["TrainingJobDefinition"]["ResourceConfig"]
        request["TrainingJobDefinition"]["HyperParameterTuningResourceConfig"] = resources

    return change


def test_tuning_resource_config_with_instance_configs_is_accepted(api: Face, output: Path) -> None:
    request = tuning_request("hrc-configs", output)
    instance = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}
    _tuning_resources(AllocationStrategy="Prioritized", InstanceConfigs=[instance])(request)
    api("create_hyper_parameter_tuning_job", request)
    assert wait_for_tuning("hrc-configs")["HyperParameterTuningJobStatus"] == "Completed"
    for child in children("hrc-configs"):
        job = describe_training_job({"TrainingJobName": child["TrainingJobName"]})
        assert job["ResourceConfig"] == instance


def test_tuning_resource_config_with_one_instance_type_is_accepted(api: Face, output: Path) -> None:
    request = tuning_request("hrc-single", output)
    instance = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}
    _tuning_resources(**instance)(request)
    api("create_hyper_parameter_tuning_job", request)
    assert wait_for_tuning("hrc-single")["HyperParameterTuningJobStatus"] == "Completed"
    for child in children("hrc-single"):
        job = describe_training_job({"TrainingJobName": child["TrainingJobName"]})
        assert job["ResourceConfig"] == instance


def test_hyperband_infers_max_resource_from_static_epochs(api: Face, output: Path) -> None:
    request = tuning_request("hb-infer", output)
    strategy("Hyperband", max_jobs=2)(request)
    response = api("create_hyper_parameter_tuning_job", request)
    assert response == {"HyperParameterTuningJobArn": ARN_PREFIX + "hb-infer"}
    description = wait_for_tuning("hb-infer")
    assert description["HyperParameterTuningJobStatus"] == "Completed", outcome("hb-infer")
    assert "StrategyConfig" not in description["HyperParameterTuningJobConfig"]
    jobs = children("hb-infer")
    assert [c["ObjectiveStatus"] for c in jobs] == ["Succeeded", "Succeeded"], outcome("hb-infer")


@pytest.mark.parametrize(
    ("key", "epochs"),
    [
        ("epochs", "3"),
        ("numepochs", "4"),
        ("n-epochs", '"2"'),
        ("n_epochs", "3"),
        ("num_epochs", "2"),
    ],
)
def test_inferred_max_resource_is_the_static_epochs(
    api: Face, output: Path, home: Path, key: str, epochs: str
) -> None:
    """The inferred MaxResource shows in the MinResource rule's message."""
    request = tuning_request("hb-infer", output, **{key: epochs})
    if key != "epochs":
        without_static("epochs")(request)
    strategy("Hyperband", max_jobs=2)(request)
    in_config("StrategyConfig", {"HyperbandStrategyConfig": {"MinResource": 5}})(request)
    refused(
        lambda: api("create_hyper_parameter_tuning_job", request),
        "ValidationException",
        f"MinResource (5) must not be greater than MaxResource ({json.loads(epochs)}).",
    )
    assert_nothing_stored(home)


# ------------------------------------------------------------------------------------------------
# Warm start
# ------------------------------------------------------------------------------------------------


def warm(*parents: str, kind: str = "IdenticalDataAndAlgorithm") -> Mutation:
    def change(request: Request) -> None:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in parents],
            "WarmStartType": kind,
        }

    return change


def test_warm_start_refusals(api: Face, output: Path) -> None:
    create_hyper_parameter_tuning_job(tuning_request("busy-parent", output, seconds="30"))
    done = tuning_request("done-parent", output)
    config(done)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 1
    create_hyper_parameter_tuning_job(done)
    try:
        status = wait_for_tuning("done-parent")["HyperParameterTuningJobStatus"]
        assert status == "Completed", outcome("done-parent")
        before = tuning_names()

        def attempt(*changes: Mutation) -> Callable[[], object]:
            request = tuning_request("warm-child", output)
            for change in changes:
                change(request)
            return lambda: api("create_hyper_parameter_tuning_job", request)

        refused(attempt(warm("no-such-parent")), "ResourceNotFound", not_found("no-such-parent"))
        refused(
            attempt(warm("done-parent", "no-such-parent")),
            "ResourceNotFound",
            not_found("no-such-parent"),
        )
        refused(
            attempt(warm("busy-parent")),
            "ValidationException",
            "The parent hyperparameter tuning job busy-parent is in status InProgress. Warm start "
            "needs parents that are Completed, Stopped or Failed.",
        )

        def loss_metric(request: Request) -> None:
            algorithm = request["TrainingJobDefinition"]["AlgorithmSpecification"]
            algorithm["MetricDefinitions"].append({"Name": "loss", "Regex": "objective=([0-9.]+)"})
            metric_name("loss")(request)

        refused(
            attempt(warm("done-parent"), loss_metric),
            "ValidationException",
            "The objective metric must be the same as the parent hyperparameter tuning job "
            "done-parent's (objective).",
        )
        refused(
            attempt(warm("DONE-PARENT"), static(extra="1")),
            "ValidationException",
            "The total number of static plus tunable hyperparameters must be the same as in the "
            "parent hyperparameter tuning job done-parent.",
        )
        refused(
            attempt(
                warm("done-parent", kind="TransferLearning"),
                ranges(Integer=[integer("x", "-5", "5")], Continuous=[continuous("y", "-5", "5")]),
            ),
            "ValidationException",
            "The hyperparameter x is a Continuous range in the parent hyperparameter tuning job "
            "done-parent; its type cannot change.",
        )
        assert tuning_names() == before
    finally:
        stop_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "busy-parent"})
        wait_for_tuning("busy-parent")


# ------------------------------------------------------------------------------------------------
# Names: duplicates, case, unknown names
# ------------------------------------------------------------------------------------------------


def test_duplicate_names_are_refused_whatever_their_case(api: Face, output: Path) -> None:
    first = api("create_hyper_parameter_tuning_job", tuning_request("Dup-Tune", output))
    assert first == {"HyperParameterTuningJobArn": ARN_PREFIX + "dup-tune"}
    try:
        for name in ("Dup-Tune", "dup-tune", "DUP-TUNE"):
            refused(
                lambda name=name: api(
                    "create_hyper_parameter_tuning_job", tuning_request(name, output)
                ),
                "ResourceInUse",
                f"A hyperparameter tuning job with the name, {name}, already exists. Choose a "
                "different name.",
            )
        assert tuning_names() == ["Dup-Tune"]
        for name in ("dup-tune", "DUP-TUNE"):
            described = api(
                "describe_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": name}
            )
            assert described["HyperParameterTuningJobName"] == "Dup-Tune"
            assert described["HyperParameterTuningJobArn"] == ARN_PREFIX + "dup-tune"
    finally:
        description = wait_for_tuning("dup-tune")
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 2


@pytest.mark.parametrize(
    "operation",
    [
        "describe_hyper_parameter_tuning_job",
        "stop_hyper_parameter_tuning_job",
        "delete_hyper_parameter_tuning_job",
        "list_training_jobs_for_hyper_parameter_tuning_job",
    ],
)
def test_unknown_names_are_not_found(api: Face, operation: str) -> None:
    refused(
        lambda: api(operation, {"HyperParameterTuningJobName": "No-Such-Tune"}),
        "ResourceNotFound",
        not_found("No-Such-Tune"),
    )


@pytest.mark.parametrize(
    "operation",
    [
        "describe_hyper_parameter_tuning_job",
        "stop_hyper_parameter_tuning_job",
        "delete_hyper_parameter_tuning_job",
        "list_training_jobs_for_hyper_parameter_tuning_job",
    ],
)
def test_names_break_the_model_on_every_operation(api: Face, operation: str) -> None:
    refused(
        lambda: api(operation, {"HyperParameterTuningJobName": "bad_name"}),
        "ValidationException",
        one_error(
            "'bad_name'",
            "hyperParameterTuningJobName",
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
        ),
    )
    refused(
        lambda: api(operation, {}),
        "ValidationException",
        one_error("null", "hyperParameterTuningJobName", "Member must not be null"),
    )


# ------------------------------------------------------------------------------------------------
# Stop and delete in the wrong status
# ------------------------------------------------------------------------------------------------


def test_stop_and_delete_in_the_wrong_status(api: Face, output: Path) -> None:
    api("create_hyper_parameter_tuning_job", tuning_request("Busy-Tune", output, seconds="30"))
    wait_for_tuning("busy-tune", lambda d: d["TrainingJobStatusCounters"]["InProgress"] == 1)
    refused(
        lambda: api(
            "delete_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "busy-tune"}
        ),
        "ResourceInUse",
        "The hyperparameter tuning job Busy-Tune is in status InProgress and cannot be deleted. "
        "Only tuning jobs in status Completed, Failed or Stopped can be deleted.",
    )
    assert (
        api("stop_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "BUSY-TUNE"}) == {}
    )
    refused(
        lambda: api(
            "stop_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "busy-tune"}
        ),
        "ValidationException",
        "The request was rejected because the hyperparameter tuning job is in status Stopping.",
    )
    refused(
        lambda: api(
            "delete_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "busy-tune"}
        ),
        "ResourceInUse",
        "The hyperparameter tuning job Busy-Tune is in status Stopping and cannot be deleted. "
        "Only tuning jobs in status Completed, Failed or Stopped can be deleted.",
    )
    assert wait_for_tuning("busy-tune")["HyperParameterTuningJobStatus"] == "Stopped"
    refused(
        lambda: api(
            "stop_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "busy-tune"}
        ),
        "ValidationException",
        "The request was rejected because the hyperparameter tuning job is in status Stopped.",
    )


def test_stop_of_a_completed_job_is_refused(api: Face, output: Path) -> None:
    request = tuning_request("done-tune", output)
    config(request)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 1
    api("create_hyper_parameter_tuning_job", request)
    assert wait_for_tuning("done-tune")["HyperParameterTuningJobStatus"] == "Completed"
    refused(
        lambda: api(
            "stop_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "done-tune"}
        ),
        "ValidationException",
        "The request was rejected because the hyperparameter tuning job is in status Completed.",
    )
    assert wait_for_tuning("done-tune")["HyperParameterTuningJobStatus"] == "Completed"


# ------------------------------------------------------------------------------------------------
# The list operations
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        pytest.param({"NextToken": "not-a-token"}, BAD_TOKEN, id="garbage-token"),
        pytest.param(
            {"MaxResults": 101},
            one_error("'101'", "maxResults", "Member must have value less than or equal to 100"),
            id="max-results-101",
        ),
        pytest.param(
            {"SortBy": "Bogus"},
            one_error(
                "'Bogus'",
                "sortBy",
                "Member must satisfy enum value set: [Name, Status, CreationTime]",
            ),
            id="sort-by-bogus",
        ),
    ],
)
def test_list_tuning_jobs_refusals(api: Face, request_: Request, message: str) -> None:
    refused(
        lambda: api("list_hyper_parameter_tuning_jobs", request_), "ValidationException", message
    )


def test_list_tokens_belong_to_their_listing(api: Face, output: Path) -> None:
    request = tuning_request("tok-tune", output)
    config(request)["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 3
    config(request)["ResourceLimits"]["MaxParallelTrainingJobs"] = 3
    api("create_hyper_parameter_tuning_job", request)
    wait_for_tuning("tok-tune")
    page = api(
        "list_training_jobs_for_hyper_parameter_tuning_job",
        {"HyperParameterTuningJobName": "tok-tune", "MaxResults": 1},
    )
    token = page["NextToken"]
    refused(
        lambda: api(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"HyperParameterTuningJobName": "tok-tune", "MaxResults": 1, "NextToken": "garbage"},
        ),
        "ValidationException",
        BAD_TOKEN,
    )
    refused(
        lambda: api(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {
                "HyperParameterTuningJobName": "tok-tune",
                "SortBy": "Status",
                "NextToken": token,
            },
        ),
        "ValidationException",
        BAD_TOKEN,
    )
    refused(
        lambda: api("list_hyper_parameter_tuning_jobs", {"NextToken": token}),
        "ValidationException",
        BAD_TOKEN,
    )
    refused(
        lambda: api(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {
                "HyperParameterTuningJobName": "tok-tune",
                "SortBy": "Bogus",
            },
        ),
        "ValidationException",
        one_error(
            "'Bogus'",
            "sortBy",
            "Member must satisfy enum value set: [Name, CreationTime, Status, "
            "FinalObjectiveMetricValue]",
        ),
    )
