"""Tests for hpjobs.shapes: model-driven request validation with AWS's exact messages."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from hpjobs import shapes
from hpjobs.errors import SerializationException, ValidationException
from hpjobs.shapes import (
    lower_camel,
    operation_model,
    parse_request,
    raise_violations,
    render_value,
    service_model,
    violation,
)

UTC = dt.timezone.utc
NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
S3_PATTERN = "^(https|s3)://([^/]+)/?(.*)"
TAG_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"
CREATE_MEMBERS = (
    "TrainingJobName, HyperParameters, AlgorithmSpecification, RoleArn, InputDataConfig, "
    "OutputDataConfig, ResourceConfig, VpcConfig, StoppingCondition, Tags, "
    "EnableNetworkIsolation, EnableInterContainerTrafficEncryption, EnableManagedSpotTraining, "
    "CheckpointConfig, DebugHookConfig, DebugRuleConfigurations, TensorBoardOutputConfig, "
    "ExperimentConfig, ProfilerConfig, ProfilerRuleConfigurations, Environment, RetryStrategy, "
    "RemoteDebugConfig, InfraCheckConfig, SessionChainingConfig, ServerlessJobConfig, "
    "MlflowConfig, ModelPackageConfig"
)


def channel(name: str, uri: str | None = None) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri or f"s3://bucket/{name}"}
        },
    }


def training_request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "xgb-2024-01-01",
        "HyperParameters": {"max_depth": "5", "eta": "0.2"},
        "AlgorithmSpecification": {"TrainingImage": "xgboost:1.7", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "InputDataConfig": [channel("train"), channel("validation")],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Tags": [{"Key": "team", "Value": "ml"}],
    }
    request.update(changes)
    return request


def create(request: dict[str, Any], **options: Any) -> dict[str, Any]:
    return parse_request("sagemaker", "CreateTrainingJob", request, **options)


def validation_message(service: str, operation: str, request: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(ValidationException) as caught:
        parse_request(service, operation, request, **kw)
    return caught.value.message


def create_error(request: dict[str, Any], **options: Any) -> str:
    return validation_message("sagemaker", "CreateTrainingJob", request, **options)


def serialization_message(service: str, operation: str, request: Any) -> str:
    with pytest.raises(SerializationException) as caught:
        parse_request(service, operation, request)
    return caught.value.message


def one(text: str) -> str:
    return "1 validation error detected: " + text


# ---------------------------------------------------------------------------- valid requests


def test_valid_create_training_job_passes_unchanged_as_a_copy() -> None:
    request = training_request()
    original = copy.deepcopy(request)
    parsed = create(request)
    assert parsed == original
    assert request == original
    assert parsed is not request
    assert parsed["ResourceConfig"] is not request["ResourceConfig"]
    assert parsed["InputDataConfig"][0] is not request["InputDataConfig"][0]


def test_valid_describe_and_list_pass() -> None:
    assert parse_request("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "a--b"}) == {
        "TrainingJobName": "a--b"
    }
    listing = {"MaxResults": 100, "SortBy": "CreationTime", "NameContains": "xgb"}
    assert parse_request("sagemaker", "ListTrainingJobs", listing) == listing
    assert parse_request("sagemaker", "ListTrainingJobs", {}) == {}


def test_none_members_count_as_absent() -> None:
    parsed = create(training_request(VpcConfig=None, Tags=None))
    assert "VpcConfig" not in parsed
    assert "Tags" not in parsed
    message = create_error(training_request(RoleArn=None))
    assert message == one(
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
    )


def test_tuples_become_lists() -> None:
    parsed = create(training_request(InputDataConfig=(channel("train"),)))
    assert parsed["InputDataConfig"] == [channel("train")]


# ---------------------------------------------------------------------------- required members


def test_missing_required_top_level_members() -> None:
    message = create_error({"TrainingJobName": "job"})
    assert message == (
        "2 validation errors detected: "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null; "
        "Value null at 'outputDataConfig' failed to satisfy constraint: Member must not be null"
    )


def test_missing_required_nested_member() -> None:
    message = create_error(training_request(OutputDataConfig={}))
    assert message == one(
        "Value null at 'outputDataConfig.s3OutputPath' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_missing_required_member_of_list_element() -> None:
    second = {"DataSource": channel("x")["DataSource"]}
    message = create_error(training_request(InputDataConfig=[channel("train"), second]))
    assert message == one(
        "Value null at 'inputDataConfig.2.member.channelName' failed to satisfy constraint: "
        "Member must not be null"
    )


# ---------------------------------------------------------------------------- strings


def test_name_too_long() -> None:
    # The model pattern bounds the length too ({0,62}), so AWS reports both, as in its
    # "modelName" message quoted in the reference.
    name = "a" * 64
    assert create_error(training_request(TrainingJobName=name)) == (
        "2 validation errors detected: "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63; "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_string_too_long_alone() -> None:
    text = "a" * 64
    message = validation_message("sagemaker", "ListTrainingJobs", {"NameContains": text})
    assert message == one(
        f"Value '{text}' at 'nameContains' failed to satisfy constraint: "
        "Member must have length less than or equal to 63"
    )


def test_name_pattern_with_underscore() -> None:
    message = create_error(training_request(TrainingJobName="my_job"))
    assert message == one(
        "Value 'my_job' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_two_violations_on_one_member() -> None:
    name = "a_" * 32
    assert create_error(training_request(TrainingJobName=name)) == (
        "2 validation errors detected: "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63; "
        f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_two_violations_on_two_members() -> None:
    request = training_request(TrainingJobName="-x")
    del request["RoleArn"]
    assert create_error(request) == (
        "2 validation errors detected: "
        "Value '-x' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}; "
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
    )


def test_min_length_of_empty_name() -> None:
    message = validation_message("sagemaker", "DescribeTrainingJob", {"TrainingJobName": ""})
    assert message == (
        "2 validation errors detected: "
        "Value '' at 'trainingJobName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '' at 'trainingJobName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )


def test_enum_violation_lists_the_model_values() -> None:
    resources = {"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 10}
    message = create_error(training_request(ResourceConfig=resources))
    prefix = (
        "1 validation error detected: Value 'local' at 'resourceConfig.instanceType' "
        "failed to satisfy constraint: Member must satisfy enum value set: ["
    )
    assert message.startswith(prefix)
    enum = service_model("sagemaker").shape_for("TrainingInstanceType").enum
    assert message == prefix + ", ".join(enum) + "]"
    assert ", ml.m5.large, " in message
    assert len(enum) > 100


def test_list_enum_violation() -> None:
    message = validation_message("sagemaker", "ListTrainingJobs", {"SortBy": "Size"})
    assert message == one(
        "Value 'Size' at 'sortBy' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Name, CreationTime, Status]"
    )


def test_nested_list_member_pattern_path() -> None:
    request = training_request(InputDataConfig=[channel("bad name")])
    assert create_error(request) == one(
        "Value 'bad name' at 'inputDataConfig.1.member.channelName' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: ^[A-Za-z0-9\.\-_]+"
    )


def test_tag_pattern_uses_unicode_properties() -> None:
    tags = [{"Key": "Ünïcode key", "Value": "välue 1"}]
    assert create(training_request(Tags=tags))["Tags"] == tags
    bad = [{"Key": "ok", "Value": "v"}, {"Key": "bad#key", "Value": "v"}]
    assert create_error(training_request(Tags=bad)) == one(
        "Value 'bad#key' at 'tags.2.member.key' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {TAG_PATTERN}"
    )


# ---------------------------------------------------------------------------- numbers


def test_number_above_max() -> None:
    resources = {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 10,
        "KeepAlivePeriodInSeconds": 21601,
    }
    assert create_error(training_request(ResourceConfig=resources)) == one(
        "Value '21601' at 'resourceConfig.keepAlivePeriodInSeconds' failed to satisfy "
        "constraint: Member must have value less than or equal to 21600"
    )


def test_number_below_min() -> None:
    message = create_error(training_request(StoppingCondition={"MaxRuntimeInSeconds": 0}))
    assert message == one(
        "Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_list_max_results_above_max() -> None:
    message = validation_message("sagemaker", "ListTrainingJobs", {"MaxResults": 101})
    assert message == one(
        "Value '101' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100"
    )


# ---------------------------------------------------------------------------- lists and maps


def test_list_too_long() -> None:
    channels = [channel(f"c{i}") for i in range(21)]
    rendered = ", ".join(
        f"{{ChannelName=c{i}, DataSource={{S3DataSource={{S3DataType=S3Prefix, "
        f"S3Uri=s3://bucket/c{i}}}}}}}"
        for i in range(21)
    )
    assert create_error(training_request(InputDataConfig=channels)) == one(
        f"Value '[{rendered}]' at 'inputDataConfig' failed to satisfy constraint: "
        "Member must have length less than or equal to 20"
    )


def test_list_too_short() -> None:
    assert create_error(training_request(InputDataConfig=[])) == one(
        "Value '[]' at 'inputDataConfig' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_map_with_too_many_entries() -> None:
    hyper = {f"h{i}": "1" for i in range(101)}
    rendered = ", ".join(f"h{i}=1" for i in range(101))
    assert create_error(training_request(HyperParameters=hyper)) == one(
        f"Value '{{{rendered}}}' at 'hyperParameters' failed to satisfy constraint: "
        "Member must have length less than or equal to 100"
    )


def test_map_value_too_long() -> None:
    long_value = "x" * 2501
    message = create_error(training_request(HyperParameters={"eta": "0.1", "lr": long_value}))
    assert message == one(
        f"Value '{{eta=0.1, lr={long_value}}}' at 'hyperParameters' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have length less than or "
        "equal to 2500, Member must have length greater than or equal to 0, Member must satisfy "
        "regular expression pattern: .*]"
    )


def test_map_key_too_long() -> None:
    key = "k" * 257
    assert create_error(training_request(HyperParameters={key: "1"})) == one(
        f"Value '{{{key}=1}}' at 'hyperParameters' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to "
        "256, Member must have length greater than or equal to 0, Member must satisfy "
        "regular expression pattern: .*]"
    )


def test_map_key_pattern() -> None:
    message = create_error(training_request(Environment={"OK_1": "x", "1BAD": "y"}))
    assert message == one(
        "Value '{OK_1=x, 1BAD=y}' at 'environment' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must have length less than or equal to "
        "512, Member must have length greater than or equal to 0, Member must satisfy "
        "regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*]"
    )


def test_java_dot_does_not_match_line_breaks() -> None:
    # Java's "." (the service's regex engine) stops at line terminators; "[\S\s]*" does not.
    message = create_error(training_request(HyperParameters={"text": "a\rb"}))
    assert message == one(
        "Value '{text=a\rb}' at 'hyperParameters' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to "
        "2500, Member must have length greater than or equal to 0, Member must satisfy "
        "regular expression pattern: .*]"
    )
    assert create(training_request(Environment={"TEXT": "a\r\nb"}))["Environment"] == {
        "TEXT": "a\r\nb"
    }


def test_list_of_strings_uses_the_bracket_form() -> None:
    algorithm = {
        "TrainingImage": "img",
        "TrainingInputMode": "File",
        "ContainerEntrypoint": ["python", "x" * 257],
    }
    message = create_error(training_request(AlgorithmSpecification=algorithm))
    assert message == one(
        f"Value '[python, {'x' * 257}]' at 'algorithmSpecification.containerEntrypoint' "
        "failed to satisfy constraint: Member must satisfy constraint: [Member must have "
        "length less than or equal to 256, Member must have length greater than or equal to "
        "0, Member must satisfy regular expression pattern: .*]"
    )


# ---------------------------------------------------------------------------- bedrock-runtime


def converse(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.5},
    }
    request.update(changes)
    return request


def converse_error(request: dict[str, Any]) -> str:
    return validation_message("bedrock-runtime", "Converse", request)


def test_converse_valid_request_passes() -> None:
    request = converse(additionalModelRequestFields={"top_k": 5, "x": [1, {"y": None}]})
    assert parse_request("bedrock-runtime", "Converse", request) == request


def test_converse_temperature_above_max_matches_the_real_message() -> None:
    message = converse_error(converse(inferenceConfig={"temperature": 1.5}))
    assert message == one(
        "Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: "
        "Member must have value less than or equal to 1"
    )


def test_converse_float_given_as_integer_renders_as_java_float() -> None:
    message = converse_error(converse(inferenceConfig={"topP": 99}))
    assert message == one(
        "Value '99.0' at 'inferenceConfig.topP' failed to satisfy constraint: "
        "Member must have value less than or equal to 1"
    )


def test_converse_role_enum_and_stop_sequences() -> None:
    request = converse(
        messages=[{"role": "bot", "content": [{"text": "hi"}]}],
        inferenceConfig={"stopSequences": ["", "END"]},
    )
    roles = ", ".join(service_model("bedrock-runtime").shape_for("ConversationRole").enum)
    assert converse_error(request) == (
        "2 validation errors detected: "
        "Value 'bot' at 'messages.1.member.role' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{roles}]; "
        "Value '[, END]' at 'inferenceConfig.stopSequences' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length greater than or equal to 1]"
    )


def test_converse_missing_model_id() -> None:
    assert converse_error({"messages": []}) == one(
        "Value null at 'modelId' failed to satisfy constraint: Member must not be null"
    )


def test_union_with_two_members_is_a_serialization_error() -> None:
    request = converse(messages=[{"role": "user", "content": [{"text": "a", "image": {}}]}])
    message = serialization_message("bedrock-runtime", "Converse", request)
    assert message.startswith(
        "Invalid number of parameters set for tagged union structure "
        "messages[0].content[0]. Can only set one of the following keys: text, image, "
    )


def test_union_with_no_member_is_a_serialization_error() -> None:
    request = converse(messages=[{"role": "user", "content": [{}]}])
    message = serialization_message("bedrock-runtime", "Converse", request)
    assert message.startswith(
        "Must set one of the following keys for tagged union structure "
        "messages[0].content[0]: text, image, "
    )


def test_document_member_refuses_non_json_values() -> None:
    request = converse(additionalModelRequestFields={"x": {1, 2}})
    assert serialization_message("bedrock-runtime", "Converse", request) == (
        "Invalid type for document parameter additionalModelRequestFields.x, value: {1, 2}, "
        "type: <class 'set'>, valid types: <class 'str'>, <class 'int'>, <class 'bool'>, "
        "<class 'float'>, <class 'list'>, <class 'dict'>"
    )


def test_blob_too_long_leaves_the_value_out() -> None:
    request = {"modelId": "anthropic.claude-v2", "body": b"x" * 25_000_001}
    assert validation_message("bedrock-runtime", "InvokeModel", request) == one(
        "Value at 'body' failed to satisfy constraint: "
        "Member must have length less than or equal to 25000000"
    )
    small = {"modelId": "anthropic.claude-v2", "body": '{"prompt": "hi"}'}
    assert parse_request("bedrock-runtime", "InvokeModel", small) == small


# ---------------------------------------------------------------------------- type errors


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1.5}},
            "Invalid type for parameter ResourceConfig.InstanceCount, value: 1.5, "
            "type: <class 'float'>, valid types: <class 'int'>",
        ),
        (
            {"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": True}},
            "Invalid type for parameter ResourceConfig.InstanceCount, value: True, "
            "type: <class 'bool'>, valid types: <class 'int'>",
        ),
        (
            {"TrainingJobName": 5},
            "Invalid type for parameter TrainingJobName, value: 5, type: <class 'int'>, "
            "valid types: <class 'str'>",
        ),
        (
            {"ResourceConfig": "ml.m5.large"},
            "Invalid type for parameter ResourceConfig, value: ml.m5.large, "
            "type: <class 'str'>, valid types: <class 'dict'>",
        ),
        (
            {"InputDataConfig": {"ChannelName": "train"}},
            "Invalid type for parameter InputDataConfig, value: {'ChannelName': 'train'}, "
            "type: <class 'dict'>, valid types: <class 'list'>, <class 'tuple'>",
        ),
        (
            {"InputDataConfig": [{"ChannelName": 7}]},
            "Invalid type for parameter InputDataConfig[0].ChannelName, value: 7, "
            "type: <class 'int'>, valid types: <class 'str'>",
        ),
        (
            {"HyperParameters": {"eta": 0.1}},
            "Invalid type for parameter HyperParameters.eta, value: 0.1, "
            "type: <class 'float'>, valid types: <class 'str'>",
        ),
        (
            {"EnableManagedSpotTraining": "true"},
            "Invalid type for parameter EnableManagedSpotTraining, value: true, "
            "type: <class 'str'>, valid types: <class 'bool'>",
        ),
        (
            {"TrainingJobNam": "x"},
            f'Unknown parameter in input: "TrainingJobNam", must be one of: {CREATE_MEMBERS}',
        ),
        (
            {"StoppingCondition": {"MaxRuntime": 1}},
            'Unknown parameter in StoppingCondition: "MaxRuntime", must be one of: '
            "MaxRuntimeInSeconds, MaxWaitTimeInSeconds, MaxPendingTimeInSeconds",
        ),
    ],
)
def test_wrong_types_and_unknown_members(changes: dict[str, Any], expected: str) -> None:
    request = training_request(**changes)
    assert serialization_message("sagemaker", "CreateTrainingJob", request) == expected


def test_float_for_a_float_shape_accepts_int_but_not_text() -> None:
    parsed = parse_request("bedrock-runtime", "Converse", converse(inferenceConfig={"topP": 1}))
    assert parsed["inferenceConfig"] == {"topP": 1}
    request = converse(inferenceConfig={"temperature": "0.5"})
    assert serialization_message("bedrock-runtime", "Converse", request) == (
        "Invalid type for parameter inferenceConfig.temperature, value: 0.5, type: <class "
        "'str'>, valid types: <class 'float'>, <class 'decimal.Decimal'>, <class 'int'>"
    )


def test_type_error_wins_over_constraint_violations() -> None:
    request = {"TrainingJobName": "bad_name", "StoppingCondition": []}
    assert serialization_message("sagemaker", "CreateTrainingJob", request) == (
        "Invalid type for parameter StoppingCondition, value: [], type: <class 'list'>, "
        "valid types: <class 'dict'>"
    )


def test_request_that_is_not_a_mapping() -> None:
    assert serialization_message("sagemaker", "DescribeTrainingJob", ["x"]) == (
        "Invalid type for parameter input, value: ['x'], type: <class 'list'>, "
        "valid types: <class 'dict'>"
    )


# ---------------------------------------------------------------------------- timestamps

JAN_1 = dt.datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "given",
    [
        dt.datetime(2024, 1, 1),
        dt.datetime(2024, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        JAN_1,
        1704067200,
        1704067200.0,
        "1704067200",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000Z",
        "2024-01-01T01:00:00+01:00",
        "2024-01-01T00:00:00",
        "2024-01-01",
    ],
)
def test_timestamps_become_aware_utc(given: Any) -> None:
    parsed = parse_request("sagemaker", "ListTrainingJobs", {"CreationTimeAfter": given})
    moment = parsed["CreationTimeAfter"]
    assert moment == JAN_1
    assert moment.tzinfo is UTC


def test_fractional_epoch_keeps_microseconds() -> None:
    parsed = parse_request("sagemaker", "ListTrainingJobs", {"CreationTimeBefore": 1.5})
    assert parsed["CreationTimeBefore"] == dt.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)


@pytest.mark.parametrize("given", ["yesterday", True, [2024], ""])
def test_unreadable_timestamps_are_serialization_errors(given: Any) -> None:
    message = serialization_message("sagemaker", "ListTrainingJobs", {"CreationTimeAfter": given})
    assert message == (
        f"Invalid type for parameter CreationTimeAfter, value: {given}, type: {type(given)}, "
        "valid types: <class 'datetime.datetime'>, timestamp-string"
    )


# ---------------------------------------------------------------------------- local URIs


@pytest.mark.parametrize("uri", ["file:///data/train", "/data/train", "data/train", "C:/data"])
def test_local_uris_accepted_by_default(uri: str) -> None:
    request = training_request(
        InputDataConfig=[channel("train", uri)], OutputDataConfig={"S3OutputPath": uri}
    )
    parsed = create(request)
    assert parsed["OutputDataConfig"]["S3OutputPath"] == uri
    assert parsed["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == uri


@pytest.mark.parametrize("uri", ["file:///data/train", "/data/train"])
def test_local_uris_refused_without_the_extension(uri: str) -> None:
    request = training_request(InputDataConfig=[channel("train", uri)])
    assert create_error(request, local_uris=False) == one(
        f"Value '{uri}' at 'inputDataConfig.1.member.dataSource.s3DataSource.s3Uri' failed "
        f"to satisfy constraint: Member must satisfy regular expression pattern: {S3_PATTERN}"
    )


@pytest.mark.parametrize("uri", ["ftp://host/x", "s3://", ""])
def test_other_uris_still_checked_with_local_uris(uri: str) -> None:
    message = create_error(training_request(OutputDataConfig={"S3OutputPath": uri}))
    assert message == one(
        f"Value '{uri}' at 'outputDataConfig.s3OutputPath' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {S3_PATTERN}"
    )


def test_local_paths_still_have_a_length_limit() -> None:
    path = "/" + "d" * 1024
    assert create_error(training_request(OutputDataConfig={"S3OutputPath": path})) == one(
        f"Value '{path}' at 'outputDataConfig.s3OutputPath' failed to satisfy constraint: "
        "Member must have length less than or equal to 1024"
    )


# ---------------------------------------------------------------------------- helpers


def test_violation_helper_formats() -> None:
    assert violation(None, "roleArn", "Member must not be null") == (
        "Value null at 'roleArn' failed to satisfy constraint: Member must not be null"
    )
    assert violation("x", "a.b", "C") == "Value 'x' at 'a.b' failed to satisfy constraint: C"
    assert violation(3, "n", "C") == "Value '3' at 'n' failed to satisfy constraint: C"
    assert violation(b"\x00", "body", "C") == "Value at 'body' failed to satisfy constraint: C"


def test_raise_violations() -> None:
    raise_violations([])
    with pytest.raises(ValidationException) as caught:
        raise_violations(["A"])
    assert caught.value.message == "1 validation error detected: A"
    with pytest.raises(ValidationException) as caught:
        raise_violations(["A", "B", "C"])
    assert caught.value.message == "3 validation errors detected: A; B; C"


def test_render_value_java_forms() -> None:
    value = {"a": [1, True, None, 1.5, 1e-5, 1e7, 0.001], "b": {"c": "d"}}
    assert render_value(value) == "{a=[1, true, null, 1.5, 1.0E-5, 1.0E7, 0.001], b={c=d}}"
    assert render_value(dt.datetime(2024, 1, 1, tzinfo=UTC)) == "Mon Jan 01 00:00:00 UTC 2024"
    assert render_value(-12345678.5) == "-1.23456785E7"
    assert render_value("raw 'text'") == "raw 'text'"


def test_lower_camel() -> None:
    assert lower_camel("TrainingJobName") == "trainingJobName"
    assert lower_camel("S3OutputPath") == "s3OutputPath"
    assert lower_camel("modelId") == "modelId"
    assert lower_camel("") == ""


def test_models_are_cached_and_real() -> None:
    assert service_model("sagemaker") is service_model("sagemaker")
    model = operation_model("sagemaker", "CreateTrainingJob")
    assert model is operation_model("sagemaker", "CreateTrainingJob")
    assert model.input_shape.name == "CreateTrainingJobRequest"
    assert service_model("bedrock-runtime").metadata["protocol"] == "rest-json"


# ---------------------------------------------------------------------------- patterns


def test_java_surrogate_pair_ranges_compile() -> None:
    pattern = service_model("sagemaker").shape_for("AthenaCatalog").metadata["pattern"]
    assert r"\uD800\uDC00-\uDBFF\uDFFF" in pattern
    compiled = shapes._compiled(pattern)
    assert compiled is not None
    assert compiled.fullmatch("catalog \U0001f600\t") is not None
    assert compiled.fullmatch("bad\x01") is None


def test_java_ascii_classes() -> None:
    compiled = shapes._compiled(r"arn:[\p{Alnum}\-]+:\d+")
    assert compiled.fullmatch("arn:aws-1:12") is not None
    assert compiled.fullmatch("arn:awś:12") is None
    assert compiled.fullmatch("arn:aws:١٢") is None  # Arabic-Indic digits are not Java's \d


NAME_MODEL_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
PATTERN_LINE = (
    "failed to satisfy constraint: Member must satisfy regular expression pattern: " + NAME_PATTERN
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aZ09-_.é ", max_size=70) | st.text(max_size=70))
def test_name_pattern_agrees_with_regex_fullmatch(name: str) -> None:
    pattern = service_model("sagemaker").shape_for("TrainingJobName").metadata["pattern"]
    assert pattern == NAME_MODEL_PATTERN
    expected_match = regex.fullmatch(pattern, name) is not None
    try:
        parse_request("sagemaker", "DescribeTrainingJob", {"TrainingJobName": name})
    except ValidationException as error:
        pattern_refused = PATTERN_LINE in error.message
        long_refused = "length less than or equal to 63" in error.message
        assert (len(name) > 63) == long_refused
    else:
        pattern_refused = False
    assert pattern_refused == (not expected_match)
