"""Every error a user can meet on the training job operations, with AWS's codes and texts, and the
defaults CreateTrainingJob fills in (and DescribeTrainingJob echoes).

Create errors are checked through both faces of the Python API (the operation functions and
``hpjobs.client("sagemaker")``), and a refused request must leave nothing behind.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from helpers import SCRIPTS, program, training_request, wait_for

import hpjobs
from hpjobs import errors
from hpjobs.errors import ServiceError
from hpjobs.sagemaker.training_jobs import (
    create_training_job,
    delete_training_job,
    describe_training_job,
    list_training_jobs,
    stop_training_job,
)

Request = dict[str, Any]
Operation = Callable[[Request], dict[str, Any]]
Mutation = Callable[[Request], None]

NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
ROLE_PATTERN = r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
PYTORCH_URI = "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.1.0-cpu-py310"
XGBOOST_URI = "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1"
SUPPORTED = (
    "Supported images: hpjobs/pytorch, hpjobs/lm, hpjobs/mlp, "
    "<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<tag>."
)
NOT_FOUND = "Requested resource not found."
BAD_TOKEN = (
    "The NextToken is not valid for this request: pass the token from the previous response "
    "together with the same filters and sort order."
)
CODES: dict[str, type[ServiceError]] = {
    "ValidationException": errors.ValidationException,
    "SerializationException": errors.SerializationException,
    "ResourceInUse": errors.ResourceInUse,
    "ResourceNotFound": errors.ResourceNotFound,
    "ResourceLimitExceeded": errors.ResourceLimitExceeded,
}


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def one_error(line: str) -> str:
    return f"1 validation error detected: {line}"


def violation(shown: str, path: str, constraint: str) -> str:
    """One violation line; ``shown`` is ``'value'`` (quoted) or ``null``."""
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def null(path: str) -> str:
    return one_error(violation("null", path, "Member must not be null"))


@functools.cache
def model_members(operation: str, *path: str) -> str:
    """The member names of a structure in botocore's own SageMaker model, comma-joined."""
    import botocore.session

    service = botocore.session.get_session().get_service_model("sagemaker")
    shape = service.operation_model(operation).input_shape
    for name in path:
        shape = shape.members[name]
    return ", ".join(shape.members)


def refused(call: Callable[[], object], code: str, message: str | None = None) -> ServiceError:
    """Run ``call``, which must raise ``code``; check the error's shape (and ``message``)."""
    with pytest.raises(ServiceError) as caught:
        call()
    error = caught.value
    assert type(error) is CODES[code]
    assert error.code == code
    if message is not None:
        assert error.message == message
    assert error.response == {
        "Error": {"Code": code, "Message": error.message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return error


def assert_nothing_stored(home: Path) -> None:
    assert list_training_jobs({}) == {"TrainingJobSummaries": []}
    assert not (home / "jobs").exists()


def through_client(request: Request) -> dict[str, Any]:
    response: dict[str, Any] = hpjobs.client("sagemaker").create_training_job(**request)
    return response


@pytest.fixture(params=["function", "client"])
def create(request: pytest.FixtureRequest) -> Operation:
    """CreateTrainingJob through the operation function or the boto3-shaped client."""
    return create_training_job if request.param == "function" else through_client


def base_request(output: Path) -> Request:
    return training_request("val-job", output)


def setting(path: str, value: Any) -> Mutation:
    """A change that sets the dotted member ``path`` to ``value``."""

    def change(request: Request) -> None:
        *parents, last = path.split(".")
        target = request
        for key in parents:
            target = target[key]
        target[last] = value

    return change


def dropping(path: str) -> Mutation:
    """A change that removes the dotted member ``path``."""

    def change(request: Request) -> None:
        *parents, last = path.split(".")
        target = request
        for key in parents:
            target = target[key]
        del target[last]

    return change


def both(*changes: Mutation) -> Mutation:
    def change(request: Request) -> None:
        for each in changes:
            each(request)

    return change


def channel(name: str = "train", uri: str = "file:///data", **members: Any) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
        **members,
    }


def token(content: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(content).encode()).decode()


# ------------------------------------------------------------------------------------------------
# CreateTrainingJob: the model
# ------------------------------------------------------------------------------------------------

_LONG_NAME = "a" * 64
_MANY_HYPERPARAMETERS = {f"k{i}": "v" for i in range(101)}
_LONG_VALUE = "x" * 2501

MODEL_VIOLATIONS = [
    pytest.param(
        setting("TrainingJobName", "my_job"),
        one_error(
            violation(
                "'my_job'",
                "trainingJobName",
                f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
            )
        ),
        id="name-with-underscore",
    ),
    pytest.param(
        setting("TrainingJobName", _LONG_NAME),
        "2 validation errors detected: "
        + violation(
            f"'{_LONG_NAME}'", "trainingJobName", "Member must have length less than or equal to 63"
        )
        + "; "
        + violation(
            f"'{_LONG_NAME}'",
            "trainingJobName",
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
        ),
        id="name-of-64-characters",
    ),
    pytest.param(
        setting("StoppingCondition.MaxRuntimeInSeconds", 0),
        one_error(
            violation(
                "'0'",
                "stoppingCondition.maxRuntimeInSeconds",
                "Member must have value greater than or equal to 1",
            )
        ),
        id="max-runtime-0",
    ),
    pytest.param(
        setting("HyperParameters", _MANY_HYPERPARAMETERS),
        one_error(
            violation(
                "'{" + ", ".join(f"k{i}=v" for i in range(101)) + "}'",
                "hyperParameters",
                "Member must have length less than or equal to 100",
            )
        ),
        id="101-hyperparameters",
    ),
    pytest.param(
        setting("HyperParameters", {"long": _LONG_VALUE}),
        one_error(
            violation(
                "'{long=" + _LONG_VALUE + "}'",
                "hyperParameters",
                "Map value must satisfy constraint: [Member must have length less than or equal "
                "to 2500, Member must have length greater than or equal to 0, Member must satisfy "
                "regular expression pattern: .*]",
            )
        ),
        id="hyperparameter-value-of-2501",
    ),
    pytest.param(
        dropping("RoleArn"),
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null",
        id="role-arn-missing",
    ),
    pytest.param(
        setting("RoleArn", "arn:aws:iam::123:role/test"),
        one_error(
            violation(
                "'arn:aws:iam::123:role/test'",
                "roleArn",
                f"Member must satisfy regular expression pattern: {ROLE_PATTERN}",
            )
        ),
        id="role-arn-pattern",
    ),
    pytest.param(
        both(setting("TrainingJobName", "my_job"), dropping("RoleArn")),
        "2 validation errors detected: "
        + violation(
            "'my_job'",
            "trainingJobName",
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
        )
        + "; "
        + violation("null", "roleArn", "Member must not be null"),
        id="two-violations",
    ),
    pytest.param(
        dropping("OutputDataConfig.S3OutputPath"),
        null("outputDataConfig.s3OutputPath"),
        id="output-path-missing",
    ),
    pytest.param(
        setting("AlgorithmSpecification.TrainingInputMode", "Bogus"),
        one_error(
            violation(
                "'Bogus'",
                "algorithmSpecification.trainingInputMode",
                "Member must satisfy enum value set: [Pipe, File, FastFile]",
            )
        ),
        id="input-mode-enum",
    ),
]


@pytest.mark.parametrize(("change", "message"), MODEL_VIOLATIONS)
def test_create_model_violations(
    create: Operation, output: Path, home: Path, change: Mutation, message: str
) -> None:
    request = base_request(output)
    change(request)
    refused(lambda: create(request), "ValidationException", message)
    assert_nothing_stored(home)


def test_create_instance_type_local_lists_the_enum(
    create: Operation, output: Path, home: Path
) -> None:
    request = base_request(output)
    request["ResourceConfig"]["InstanceType"] = "local"
    error = refused(lambda: create(request), "ValidationException")
    assert error.message.startswith(
        "1 validation error detected: Value 'local' at 'resourceConfig.instanceType' failed to "
        "satisfy constraint: Member must satisfy enum value set: [ml."
    )
    assert error.message.endswith("]")
    listed = error.message.split("[", 1)[1][:-1].split(", ")
    assert "ml.m5.large" in listed
    assert "local" not in listed
    assert_nothing_stored(home)


SERIALIZATION = [
    pytest.param(
        setting("ResourceConfig.InstanceCount", "1"),
        lambda: (
            "Invalid type for parameter ResourceConfig.InstanceCount, value: 1, "
            "type: <class 'str'>, valid types: <class 'int'>"
        ),
        id="string-for-integer",
    ),
    pytest.param(
        setting("StoppingCondition.MaxRuntimeInSeconds", True),
        lambda: (
            "Invalid type for parameter StoppingCondition.MaxRuntimeInSeconds, value: True, "
            "type: <class 'bool'>, valid types: <class 'int'>"
        ),
        id="boolean-for-integer",
    ),
    pytest.param(
        setting("HyperParameters", ["epochs", "1"]),
        lambda: (
            "Invalid type for parameter HyperParameters, value: ['epochs', '1'], "
            "type: <class 'list'>, valid types: <class 'dict'>"
        ),
        id="list-for-map",
    ),
    pytest.param(
        setting("Bogus", 1),
        lambda: (
            'Unknown parameter in input: "Bogus", must be one of: '
            + model_members("CreateTrainingJob")
        ),
        id="unknown-member",
    ),
    pytest.param(
        setting("ResourceConfig.InstanceCont", 1),
        lambda: (
            'Unknown parameter in ResourceConfig: "InstanceCont", must be one of: '
            + model_members("CreateTrainingJob", "ResourceConfig")
        ),
        id="unknown-nested-member",
    ),
]


@pytest.mark.parametrize(("change", "message"), SERIALIZATION)
def test_create_serialization_errors(
    create: Operation, output: Path, home: Path, change: Mutation, message: Callable[[], str]
) -> None:
    request = base_request(output)
    change(request)
    refused(lambda: create(request), "SerializationException", message())
    assert_nothing_stored(home)


# ------------------------------------------------------------------------------------------------
# CreateTrainingJob: the rules beyond the model
# ------------------------------------------------------------------------------------------------

SEMANTIC = [
    pytest.param(dropping("AlgorithmSpecification"), null("algorithmSpecification"), id="no-algo"),
    pytest.param(dropping("ResourceConfig"), null("resourceConfig"), id="no-resources"),
    pytest.param(dropping("StoppingCondition"), null("stoppingCondition"), id="no-stopping"),
    pytest.param(
        both(dropping("AlgorithmSpecification"), dropping("StoppingCondition")),
        "2 validation errors detected: "
        + violation("null", "algorithmSpecification", "Member must not be null")
        + "; "
        + violation("null", "stoppingCondition", "Member must not be null"),
        id="no-algo-no-stopping",
    ),
    pytest.param(
        dropping("AlgorithmSpecification.TrainingImage"),
        null("algorithmSpecification.trainingImage"),
        id="no-training-image",
    ),
    pytest.param(
        setting("AlgorithmSpecification.AlgorithmName", "my-algorithm"),
        "AlgorithmName (an algorithm resource or AWS Marketplace algorithm) cannot run on this "
        "machine; give AlgorithmSpecification.TrainingImage instead.",
        id="algorithm-name",
    ),
    pytest.param(
        setting("AlgorithmSpecification.TrainingImage", "python:3.11"),
        "The training image 'python:3.11' cannot run on this machine: hpjobs runs training jobs "
        f"without Docker. {SUPPORTED}",
        id="unsupported-image",
    ),
    pytest.param(
        setting("AlgorithmSpecification.TrainingImage", XGBOOST_URI),
        f"The training image '{XGBOOST_URI}' cannot run on this machine: hpjobs runs training "
        f"jobs without Docker. {SUPPORTED}",
        id="xgboost-image",
    ),
    pytest.param(
        setting("StoppingCondition", {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 600}),
        "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining is set "
        "to true",
        id="max-wait-without-spot",
    ),
    pytest.param(
        both(
            setting("EnableManagedSpotTraining", False),
            setting("StoppingCondition", {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 900}),
        ),
        "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining is set "
        "to true",
        id="max-wait-with-spot-false",
    ),
    pytest.param(
        both(
            setting("EnableManagedSpotTraining", True),
            setting("StoppingCondition", {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 599}),
        ),
        "Invalid MaxWaitTimeInSeconds. It must be greater than or equal to MaxRuntimeInSeconds.",
        id="spot-max-wait-below-max-runtime",
    ),
    pytest.param(
        setting("StoppingCondition.MaxRuntimeInSeconds", 2_419_201),
        "Invalid MaxRuntimeInSeconds. It must be at most 2419200 seconds (28 days).",
        id="max-runtime-above-28-days",
    ),
    pytest.param(
        setting("ResourceConfig", {"InstanceCount": 1}),
        null("resourceConfig.instanceType"),
        id="no-instance-type",
    ),
    pytest.param(
        setting(
            "ResourceConfig",
            {
                "InstanceGroups": [
                    {"InstanceType": "ml.m5.large", "InstanceCount": 1, "InstanceGroupName": "g1"}
                ]
            },
        ),
        "ResourceConfig.InstanceGroups (heterogeneous clusters) cannot run on this machine: "
        "local jobs run on one instance.",
        id="instance-groups",
    ),
    pytest.param(
        setting(
            "AlgorithmSpecification.MetricDefinitions",
            [{"Name": "ok", "Regex": "ok=([0-9]+)"}, {"Name": "loss", "Regex": "loss=("}],
        ),
        one_error(
            violation(
                "'loss=('",
                "algorithmSpecification.metricDefinitions.2.member.regex",
                "Member must be a valid regular expression (missing ) at position 6)",
            )
        ),
        id="metric-regex-invalid",
    ),
    pytest.param(
        setting(
            "AlgorithmSpecification.MetricDefinitions",
            [
                {"Name": "loss", "Regex": "loss=([0-9.]+)"},
                {"Name": "acc", "Regex": "acc=([0-9.]+)"},
                {"Name": "loss", "Regex": "train_loss=([0-9.]+)"},
            ],
        ),
        "Metric definition names must be unique; repeated: loss.",
        id="metric-names-repeated",
    ),
    pytest.param(
        setting("InputDataConfig", [channel("train"), channel("train", "file:///other")]),
        "Channel names must be unique within InputDataConfig.",
        id="channel-names-repeated",
    ),
    pytest.param(
        setting("InputDataConfig", [channel("train", InputMode="Pipe")]),
        "Channel train: Pipe input mode cannot run on this machine; use File or FastFile.",
        id="pipe-channel",
    ),
    pytest.param(
        both(
            setting("AlgorithmSpecification.TrainingInputMode", "Pipe"),
            setting("InputDataConfig", [channel("train")]),
        ),
        "Channel train: Pipe input mode cannot run on this machine; use File or FastFile.",
        id="pipe-by-default",
    ),
    pytest.param(
        setting(
            "InputDataConfig",
            [
                {
                    "ChannelName": "efs",
                    "DataSource": {
                        "FileSystemDataSource": {
                            "FileSystemId": "fs-0123abcd",
                            "FileSystemAccessMode": "ro",
                            "FileSystemType": "EFS",
                            "DirectoryPath": "/data",
                        }
                    },
                }
            ],
        ),
        "Channel efs: only S3DataSource channels can run on this machine "
        "(FileSystemDataSource and DatasetSource cannot).",
        id="file-system-data-source",
    ),
    pytest.param(
        setting(
            "InputDataConfig",
            [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "ManifestFile",
                            "S3Uri": "s3://bucket/train.manifest",
                        }
                    },
                }
            ],
        ),
        "Channel train: S3DataType ManifestFile cannot run on this machine; use S3Prefix.",
        id="manifest-file",
    ),
    pytest.param(
        setting("InputDataConfig", [channel("train", CompressionType="Gzip")]),
        "Channel train: CompressionType Gzip is used only in Pipe input mode; in File mode leave "
        "it unset or None.",
        id="gzip-in-file-mode",
    ),
]


@pytest.mark.parametrize(("change", "message"), SEMANTIC)
def test_create_semantic_violations(
    create: Operation, output: Path, home: Path, change: Mutation, message: str
) -> None:
    request = base_request(output)
    change(request)
    refused(lambda: create(request), "ValidationException", message)
    assert_nothing_stored(home)


def test_create_more_than_one_instance_is_resource_limit_exceeded(
    create: Operation, output: Path, home: Path
) -> None:
    request = base_request(output)
    request["ResourceConfig"]["InstanceCount"] = 2
    request["ResourceConfig"]["InstanceType"] = "ml.p3.2xlarge"
    refused(
        lambda: create(request),
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.p3.2xlarge for training job usage' is 1 Instances, "
        "with current utilization of 0 Instances and a request delta of 2 Instances. "
        "Local jobs run on one instance: set InstanceCount to 1.",
    )
    assert_nothing_stored(home)


def test_sagemaker_pytorch_image_uri_is_accepted(create: Operation, output: Path) -> None:
    request = base_request(output)
    request["AlgorithmSpecification"]["TrainingImage"] = PYTORCH_URI
    assert create(request) == {
        "TrainingJobArn": "arn:aws:sagemaker:us-west-2:000000000000:training-job/val-job"
    }
    description = wait_for("val-job")
    assert description["AlgorithmSpecification"]["TrainingImage"] == PYTORCH_URI
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")


def test_busy_and_finished_job_errors(output: Path) -> None:
    sagemaker = hpjobs.client("sagemaker")
    request = program(training_request("busy-job", output), "report.py", seconds="60")
    arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
    try:
        refused(
            lambda: sagemaker.create_training_job(**request),
            "ResourceInUse",
            "Training job names must be unique within an AWS account and region, and a training "
            f"job with this name already exists ({arn})",
        )
        assert len(list_training_jobs({})["TrainingJobSummaries"]) == 1
        refused(
            lambda: sagemaker.delete_training_job(TrainingJobName="busy-job"),
            "ResourceInUse",
            "The training job busy-job is in status InProgress and cannot be deleted. "
            "Only jobs in status Completed, Failed or Stopped can be deleted.",
        )
    finally:
        stop_training_job({"TrainingJobName": "busy-job"})
        assert wait_for("busy-job")["TrainingJobStatus"] == "Stopped"
    refused(
        lambda: sagemaker.stop_training_job(TrainingJobName="busy-job"),
        "ValidationException",
        "The request was rejected because the training job is in status Stopped.",
    )


# ------------------------------------------------------------------------------------------------
# DescribeTrainingJob, StopTrainingJob, DeleteTrainingJob
# ------------------------------------------------------------------------------------------------

BY_NAME: dict[str, tuple[Operation, str]] = {
    "describe": (describe_training_job, "DescribeTrainingJob"),
    "stop": (stop_training_job, "StopTrainingJob"),
    "delete": (delete_training_job, "DeleteTrainingJob"),
}


@pytest.mark.parametrize("face", ["function", "client"])
@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("describe", "ValidationException"),
        ("stop", "ResourceNotFound"),
        ("delete", "ResourceNotFound"),
    ],
)
def test_unknown_name(operation: str, code: str, face: str) -> None:
    function, _ = BY_NAME[operation]
    if face == "function":
        refused(lambda: function({"TrainingJobName": "no-such-job"}), code, NOT_FOUND)
    else:
        method = getattr(hpjobs.client("sagemaker"), f"{operation}_training_job")
        refused(lambda: method(TrainingJobName="no-such-job"), code, NOT_FOUND)


@pytest.mark.parametrize("operation", sorted(BY_NAME))
@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        pytest.param(
            {},
            "ValidationException",
            null("trainingJobName"),
            id="name-missing",
        ),
        pytest.param(
            {"TrainingJobName": "my_job"},
            "ValidationException",
            one_error(
                violation(
                    "'my_job'",
                    "trainingJobName",
                    f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
                )
            ),
            id="name-pattern",
        ),
        pytest.param(
            {"TrainingJobName": 7},
            "SerializationException",
            "Invalid type for parameter TrainingJobName, value: 7, type: <class 'int'>, "
            "valid types: <class 'str'>",
            id="name-type",
        ),
    ],
)
def test_by_name_model_violations(
    operation: str, request_: Request, code: str, message: str
) -> None:
    function, _ = BY_NAME[operation]
    refused(lambda: function(request_), code, message)


@pytest.mark.parametrize("operation", sorted(BY_NAME))
def test_by_name_unknown_member(operation: str) -> None:
    function, aws_name = BY_NAME[operation]
    refused(
        lambda: function({"TrainingJobName": "x", "Force": True}),
        "SerializationException",
        f'Unknown parameter in input: "Force", must be one of: {model_members(aws_name)}',
    )


# ------------------------------------------------------------------------------------------------
# ListTrainingJobs
# ------------------------------------------------------------------------------------------------

LIST_ERRORS = [
    pytest.param(
        {"MaxResults": 0},
        "ValidationException",
        one_error(
            violation("'0'", "maxResults", "Member must have value greater than or equal to 1")
        ),
        id="max-results-0",
    ),
    pytest.param(
        {"MaxResults": 101},
        "ValidationException",
        one_error(
            violation("'101'", "maxResults", "Member must have value less than or equal to 100")
        ),
        id="max-results-101",
    ),
    pytest.param(
        {"SortBy": "Size"},
        "ValidationException",
        one_error(
            violation(
                "'Size'",
                "sortBy",
                "Member must satisfy enum value set: [Name, CreationTime, Status]",
            )
        ),
        id="sort-by",
    ),
    pytest.param(
        {"SortOrder": "Up"},
        "ValidationException",
        one_error(
            violation(
                "'Up'", "sortOrder", "Member must satisfy enum value set: [Ascending, Descending]"
            )
        ),
        id="sort-order",
    ),
    pytest.param(
        {"StatusEquals": "Running"},
        "ValidationException",
        one_error(
            violation(
                "'Running'",
                "statusEquals",
                "Member must satisfy enum value set: "
                "[InProgress, Completed, Failed, Stopping, Stopped, Deleting]",
            )
        ),
        id="status-equals",
    ),
    pytest.param(
        {"NameContains": "my_job"},
        "ValidationException",
        one_error(
            violation(
                "'my_job'",
                "nameContains",
                r"Member must satisfy regular expression pattern: ^[a-zA-Z0-9\-]+",
            )
        ),
        id="name-contains",
    ),
    pytest.param({"NextToken": "garbage"}, "ValidationException", BAD_TOKEN, id="token-garbage"),
    pytest.param(
        {"NextToken": token({"offset": 10, "query": "0" * 16})},
        "ValidationException",
        BAD_TOKEN,
        id="token-other-query",
    ),
    pytest.param(
        {"NextToken": token({"offset": -1})}, "ValidationException", BAD_TOKEN, id="token-fields"
    ),
    pytest.param(
        {"NextToken": token([1, 2])}, "ValidationException", BAD_TOKEN, id="token-not-object"
    ),
    pytest.param(
        {"CreationTimeAfter": "yesterday"},
        "SerializationException",
        "Invalid type for parameter CreationTimeAfter, value: yesterday, type: <class 'str'>, "
        "valid types: <class 'datetime.datetime'>, timestamp-string",
        id="creation-time-type",
    ),
    pytest.param(
        {"MaxResults": "10"},
        "SerializationException",
        "Invalid type for parameter MaxResults, value: 10, type: <class 'str'>, "
        "valid types: <class 'int'>",
        id="max-results-type",
    ),
]


@pytest.mark.parametrize("face", ["function", "client"])
@pytest.mark.parametrize(("request_", "code", "message"), LIST_ERRORS)
def test_list_errors(request_: Request, code: str, message: str, face: str) -> None:
    if face == "function":
        refused(lambda: list_training_jobs(request_), code, message)
    else:
        refused(lambda: hpjobs.client("sagemaker").list_training_jobs(**request_), code, message)


def test_list_unknown_member() -> None:
    refused(
        lambda: list_training_jobs({"Limit": 5}),
        "SerializationException",
        'Unknown parameter in input: "Limit", must be one of: ' + model_members("ListTrainingJobs"),
    )


def test_list_token_with_an_infinite_offset_is_a_validation_error() -> None:
    forged = base64.urlsafe_b64encode(b'{"offset": 1e400, "query": "0000000000000000"}').decode()
    refused(lambda: list_training_jobs({"NextToken": forged}), "ValidationException", BAD_TOKEN)


# ------------------------------------------------------------------------------------------------
# Defaults filled in by CreateTrainingJob and echoed by DescribeTrainingJob
# ------------------------------------------------------------------------------------------------


def test_defaults_of_stopping_condition_and_flags(output: Path) -> None:
    request = base_request(output)
    request["StoppingCondition"] = {}
    create_training_job(request)
    described = describe_training_job({"TrainingJobName": "val-job"})
    finished = wait_for("val-job")
    for description in (described, finished):
        assert description["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
        assert description["EnableNetworkIsolation"] is False
        assert description["EnableInterContainerTrafficEncryption"] is False
        assert description["EnableManagedSpotTraining"] is False
    assert finished["TrainingJobStatus"] == "Completed", finished.get("FailureReason")


def test_given_flags_and_spot_wait_are_kept(output: Path) -> None:
    request = base_request(output)
    request["EnableManagedSpotTraining"] = True
    request["EnableNetworkIsolation"] = True
    request["StoppingCondition"] = {"MaxWaitTimeInSeconds": 90000}
    create_training_job(request)
    description = wait_for("val-job")
    assert description["StoppingCondition"] == {
        "MaxWaitTimeInSeconds": 90000,
        "MaxRuntimeInSeconds": 86400,
    }
    assert description["EnableManagedSpotTraining"] is True
    assert description["EnableNetworkIsolation"] is True
    assert description["EnableInterContainerTrafficEncryption"] is False


def test_builtin_job_gets_its_metric_definitions_and_sample_channels(output: Path) -> None:
    request = training_request(
        "mlp-defaults",
        output,
        AlgorithmSpecification={"TrainingImage": "hpjobs/mlp", "TrainingInputMode": "File"},
        HyperParameters={"epochs": "1"},
    )
    create_training_job(request)
    described = describe_training_job({"TrainingJobName": "mlp-defaults"})
    finished = wait_for("mlp-defaults", timeout=120)
    names = ["train:loss", "train:accuracy", "validation:loss", "validation:accuracy"]
    for description in (described, finished):
        definitions = description["AlgorithmSpecification"]["MetricDefinitions"]
        assert [d["Name"] for d in definitions] == names
        for definition in definitions:
            assert set(definition) == {"Name", "Regex"}
            assert definition["Regex"].startswith(definition["Name"] + "=")
        channels = description["InputDataConfig"]
        assert [c["ChannelName"] for c in channels] == ["train", "validation"]
        for entry in channels:
            source = entry["DataSource"]["S3DataSource"]
            assert source["S3DataType"] == "S3Prefix"
            uri = urlparse(source["S3Uri"])
            assert uri.scheme == "file"
            assert Path(unquote(uri.path)).is_absolute()
            assert Path(unquote(uri.path)).is_file()
    assert finished["TrainingJobStatus"] == "Completed", finished.get("FailureReason")
    assert [m["MetricName"] for m in finished["FinalMetricDataList"]] == names


@pytest.mark.parametrize("location", ["file://out", "out"])
def test_relative_output_path_becomes_absolute(
    location: str, output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    request = base_request(output)
    request["OutputDataConfig"]["S3OutputPath"] = location
    create_training_job(request)
    described = describe_training_job({"TrainingJobName": "val-job"})
    finished = wait_for("val-job")
    expected = (tmp_path / "out").as_uri()
    for description in (described, finished):
        assert description["OutputDataConfig"]["S3OutputPath"] == expected
        assert description["ModelArtifacts"]["S3ModelArtifacts"] == (
            f"{expected}/val-job/output/model.tar.gz"
        )
    assert finished["TrainingJobStatus"] == "Completed", finished.get("FailureReason")
    assert (tmp_path / "out" / "val-job" / "output" / "model.tar.gz").is_file()


@pytest.mark.parametrize("location", ["file://data", "data"])
def test_relative_channel_uri_becomes_absolute(
    location: str, output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("1,2\n")
    monkeypatch.chdir(tmp_path)
    request = base_request(output)
    request["InputDataConfig"] = [channel("train", location)]
    create_training_job(request)
    described = describe_training_job({"TrainingJobName": "val-job"})
    finished = wait_for("val-job")
    for description in (described, finished):
        source = description["InputDataConfig"][0]["DataSource"]["S3DataSource"]
        assert source["S3Uri"] == (tmp_path / "data").as_uri()
    assert finished["TrainingJobStatus"] == "Completed", finished.get("FailureReason")


@pytest.mark.parametrize(
    ("given", "quoted"),
    [
        ('"file://code"', True),
        ('"code"', True),
        ("file://code", False),
        ("code", False),
    ],
)
def test_relative_submit_directory_becomes_absolute_keeping_its_quoting(
    given: str, quoted: bool, output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(SCRIPTS, tmp_path / "code")
    monkeypatch.chdir(tmp_path)
    request = base_request(output)
    request["HyperParameters"]["sagemaker_submit_directory"] = given
    create_training_job(request)
    described = describe_training_job({"TrainingJobName": "val-job"})
    finished = wait_for("val-job")
    uri = (tmp_path / "code").as_uri()
    expected = json.dumps(uri) if quoted else uri
    for description in (described, finished):
        assert description["HyperParameters"]["sagemaker_submit_directory"] == expected
        assert description["HyperParameters"]["sagemaker_program"] == '"report.py"'
    assert finished["TrainingJobStatus"] == "Completed", finished.get("FailureReason")


def test_absolute_and_remote_locations_are_kept(output: Path) -> None:
    request = base_request(output)
    given = request["HyperParameters"]["sagemaker_submit_directory"]
    request["CheckpointConfig"] = {"S3Uri": "s3://bucket/checkpoints"}
    create_training_job(request)
    description = describe_training_job({"TrainingJobName": "val-job"})
    wait_for("val-job")
    assert description["OutputDataConfig"]["S3OutputPath"] == output.as_uri()
    assert description["HyperParameters"]["sagemaker_submit_directory"] == given
    assert description["CheckpointConfig"]["S3Uri"] == "s3://bucket/checkpoints"


def test_absolute_file_uri_with_an_escaped_space_is_kept(tmp_path: Path) -> None:
    output = tmp_path / "with space"
    output.mkdir()
    create_training_job(base_request(output))
    description = wait_for("val-job")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert description["OutputDataConfig"]["S3OutputPath"] == output.as_uri()
    assert (output / "val-job" / "output" / "model.tar.gz").is_file()


def test_zero_instances_is_refused() -> None:
    request = base_request(Path("/tmp/unused"))
    request["ResourceConfig"]["InstanceCount"] = 0
    refused(
        lambda: create_training_job(request),
        "ValidationException",
        "ResourceConfig.InstanceCount must be at least 1 when ResourceConfig.InstanceGroups is "
        "not given.",
    )
