"""The container contract as plain data: hyperparameters, CLI arguments, SM_* variables, paths."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local_runner.contract import (
    ContainerPaths,
    ContainerSpec,
    decode_hyperparameters,
    environment,
    input_data_config,
    resource_config,
    split_hyperparameters,
    to_cmd_args,
)

#: The reference's verified example (sagemaker.md §3, "Hyperparameter handling" step 3).
VERIFIED = {
    "epochs": "10",
    "learning-rate": "0.01",
    "optimizer": "adam",
    "b": '"x"',
    "nested": '{"a": 1}',
    "flag": "true",
}
VERIFIED_ARGS = [
    "-b", "x", "--epochs", "10", "--flag", "True", "--learning-rate", "0.01",
    "--nested", "a=1", "--optimizer", "adam",
]  # fmt: skip

RESERVED = [
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "default_user_module_name",
    "_tuning_objective_metric",
    "sagemaker_s3_output",
]


# -- hyperparameters ------------------------------------------------------------------------


def test_verified_example_becomes_the_toolkit_arguments() -> None:
    assert to_cmd_args(decode_hyperparameters(VERIFIED)) == VERIFIED_ARGS


def test_decode_keeps_json_values_and_raw_strings() -> None:
    decoded = decode_hyperparameters(
        {
            "int": "10",
            "float": "0.01",
            "quoted": '"train.py"',
            "bare": "adam",
            "bool": "true",
            "dict": '{"a": 1}',
            "list": "[1, 2]",
            "broken-json": '{"a": ',
            "empty": "",
            "path": "/opt/ml/x",
        }
    )
    assert decoded == {
        "int": 10,
        "float": 0.01,
        "quoted": "train.py",
        "bare": "adam",
        "bool": True,
        "dict": {"a": 1},
        "list": [1, 2],
        "broken-json": '{"a": ',
        "empty": "",
        "path": "/opt/ml/x",
    }
    assert type(decoded["int"]) is int
    assert type(decoded["bool"]) is bool


def test_split_removes_every_reserved_key_and_routes_sagemaker_keys_to_framework() -> None:
    decoded: dict[str, Any] = {key: "v" for key in RESERVED}
    decoded.update(
        {"sagemaker_mpi_enabled": True, "sagemaker_distributed": {"x": 1}, "lr": 0.1, "a": "b"}
    )
    user, framework = split_hyperparameters(decoded)
    assert user == {"lr": 0.1, "a": "b"}
    assert framework == {"sagemaker_mpi_enabled": True, "sagemaker_distributed": {"x": 1}}


def test_split_keeps_keys_that_only_look_reserved() -> None:
    decoded = {"my_sagemaker_flag": 1, "Sagemaker_x": 2, "tuning_objective_metric": 3}
    user, framework = split_hyperparameters(decoded)
    assert user == decoded
    assert framework == {}


def test_reserved_and_framework_keys_never_reach_the_arguments() -> None:
    hyperparameters = dict(VERIFIED)
    hyperparameters.update({key: '"v"' for key in RESERVED})
    hyperparameters["sagemaker_mpi_enabled"] = "true"
    user, _ = split_hyperparameters(decode_hyperparameters(hyperparameters))
    assert to_cmd_args(user) == VERIFIED_ARGS


def test_cmd_args_single_letter_keys_lists_and_strings() -> None:
    assert to_cmd_args({"z": 1, "aa": [1, 2], "m": "two words", "f": 1.5, "n": False}) == [
        "--aa", "[1, 2]", "-f", "1.5", "-m", "two words", "-n", "False", "-z", "1",
    ]  # fmt: skip


def test_cmd_args_dict_items_are_sorted_like_the_toolkit() -> None:
    decoded = decode_hyperparameters({"nested": '{"b": 2, "a": 1}'})
    assert to_cmd_args(decoded) == ["--nested", "a=1,b=2"]


def test_cmd_args_null_value_is_empty_like_the_toolkit() -> None:
    assert to_cmd_args(decode_hyperparameters({"x": "null"})) == ["-x", ""]


# -- config files ---------------------------------------------------------------------------


def _channel(name: str, **extra: Any) -> dict[str, Any]:
    source: dict[str, Any] = {"S3DataType": "S3Prefix", "S3Uri": f"s3://bucket/{name}"}
    source.update(extra.pop("source", {}))
    return {"ChannelName": name, "DataSource": {"S3DataSource": source}, **extra}


def test_input_data_config_fields_and_defaults() -> None:
    channels = [
        _channel("train", ContentType="text/csv"),
        _channel(
            "validation",
            InputMode="FastFile",
            RecordWrapperType="RecordIO",
            source={"S3DataDistributionType": "ShardedByS3Key"},
        ),
        {
            "ChannelName": "efs",
            "DataSource": {"FileSystemDataSource": {"FileSystemType": "EFS"}},
        },
    ]
    assert input_data_config(channels, "File") == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
        "validation": {
            "TrainingInputMode": "FastFile",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "RecordIO",
        },
        "efs": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
    }
    assert input_data_config([], "Pipe") == {}
    assert input_data_config([_channel("t")], "Pipe")["t"]["TrainingInputMode"] == "Pipe"


def test_resource_config_is_one_host_algo_1() -> None:
    assert resource_config("ml.m5.large") == {
        "current_host": "algo-1",
        "current_instance_type": "ml.m5.large",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.m5.large",
                "hosts": ["algo-1"],
            }
        ],
        "network_interface_name": "eth0",
    }


# -- SM_* environment -----------------------------------------------------------------------


def _spec(base: Path, hyperparameters: dict[str, str], **overrides: Any) -> ContainerSpec:
    fields: dict[str, Any] = {
        "job_name": "myjob-1",
        "paths": ContainerPaths(base),
        "hyperparameters": hyperparameters,
        "input_data": input_data_config(
            [_channel("validation"), _channel("train", ContentType="text/csv")], "File"
        ),
        "resources": resource_config("ml.m5.large"),
        "module_dir": "s3://bucket/myjob-1/source/sourcedir.tar.gz",
        "user_entry_point": "train.py",
    }
    fields.update(overrides)
    return ContainerSpec(**fields)


@pytest.fixture
def full_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    monkeypatch.setenv("SAGEMAKER_TRAINING_MODULE", "my_framework.training:main")
    base = tmp_path / "opt" / "ml"
    hyperparameters = dict(VERIFIED)
    hyperparameters.update(
        {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://bucket/myjob-1/source/sourcedir.tar.gz"',
            "_tuning_objective_metric": "validation:loss",
            "sagemaker_container_log_level": "10",
            "sagemaker_mpi_enabled": "true",
        }
    )
    return base, environment(_spec(base, hyperparameters))


def test_environment_values_are_all_strings(full_env: tuple[Path, dict[str, str]]) -> None:
    _, env = full_env
    assert all(isinstance(v, str) for v in env.values())
    assert all(k.startswith("SM_") for k in env)


def test_environment_hyperparameter_variables(full_env: tuple[Path, dict[str, str]]) -> None:
    _, env = full_env
    assert env["SM_HPS"] == (
        '{"b":"x","epochs":10,"flag":true,"learning-rate":0.01,"nested":{"a":1},"optimizer":"adam"}'
    )
    assert env["SM_USER_ARGS"] == json.dumps(VERIFIED_ARGS, separators=(",", ":"))
    assert env["SM_USER_ARGS"] == (
        '["-b","x","--epochs","10","--flag","True","--learning-rate","0.01",'
        '"--nested","a=1","--optimizer","adam"]'
    )
    hp = {k: v for k, v in env.items() if k.startswith("SM_HP_")}
    assert hp == {
        "SM_HP_B": "x",
        "SM_HP_EPOCHS": "10",
        "SM_HP_FLAG": "true",
        "SM_HP_LEARNING-RATE": "0.01",
        "SM_HP_NESTED": '{"a":1}',
        "SM_HP_OPTIMIZER": "adam",
    }
    assert env["SM_FRAMEWORK_PARAMS"] == '{"sagemaker_mpi_enabled":true}'
    assert env["SM_LOG_LEVEL"] == "10"
    assert env["SM_FRAMEWORK_MODULE"] == "my_framework.training:main"
    assert "validation:loss" not in env["SM_TRAINING_ENV"]


def test_environment_channels(full_env: tuple[Path, dict[str, str]]) -> None:
    base, env = full_env
    assert env["SM_CHANNELS"] == '["train","validation"]'
    assert env["SM_CHANNEL_TRAIN"] == str(base / "input" / "data" / "train")
    assert env["SM_CHANNEL_VALIDATION"] == str(base / "input" / "data" / "validation")
    assert sorted(k for k in env if k.startswith("SM_CHANNEL_")) == [
        "SM_CHANNEL_TRAIN",
        "SM_CHANNEL_VALIDATION",
    ]
    assert env["SM_INPUT_DATA_CONFIG"] == (
        '{"train":{"ContentType":"text/csv","RecordWrapperType":"None",'
        '"S3DistributionType":"FullyReplicated","TrainingInputMode":"File"},'
        '"validation":{"RecordWrapperType":"None","S3DistributionType":"FullyReplicated",'
        '"TrainingInputMode":"File"}}'
    )


def test_environment_channel_names_upper_cased_with_punctuation_kept(tmp_path: Path) -> None:
    base = tmp_path / "ml"
    names = ["my-train.v2", "Zeta", "alpha_1"]
    spec = _spec(base, {}, input_data=input_data_config([_channel(n) for n in names], "File"))
    env = environment(spec)
    assert env["SM_CHANNELS"] == '["Zeta","alpha_1","my-train.v2"]'
    assert env["SM_CHANNEL_MY-TRAIN.V2"] == str(base / "input" / "data" / "my-train.v2")
    assert env["SM_CHANNEL_ZETA"] == str(base / "input" / "data" / "Zeta")
    assert env["SM_CHANNEL_ALPHA_1"] == str(base / "input" / "data" / "alpha_1")


def test_environment_paths_hosts_and_resources(full_env: tuple[Path, dict[str, str]]) -> None:
    base, env = full_env
    expected = {
        "SM_HOSTS": '["algo-1"]',
        "SM_CURRENT_HOST": "algo-1",
        "SM_CURRENT_INSTANCE_TYPE": "ml.m5.large",
        "SM_CURRENT_INSTANCE_GROUP": "homogeneousCluster",
        "SM_CURRENT_INSTANCE_GROUP_HOSTS": '["algo-1"]',
        "SM_INSTANCE_GROUPS": '["homogeneousCluster"]',
        "SM_INSTANCE_GROUPS_DICT": (
            '{"homogeneousCluster":{"hosts":["algo-1"],'
            '"instance_group_name":"homogeneousCluster","instance_type":"ml.m5.large"}}'
        ),
        "SM_IS_HETERO": "false",
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_NUM_GPUS": "0",
        "SM_NUM_NEURONS": "0",
        "SM_MODULE_NAME": "train",
        "SM_USER_ENTRY_POINT": "train.py",
        "SM_MODULE_DIR": "s3://bucket/myjob-1/source/sourcedir.tar.gz",
        "SM_MODEL_DIR": str(base / "model"),
        "SM_INPUT_DIR": str(base / "input"),
        "SM_INPUT_CONFIG_DIR": str(base / "input" / "config"),
        "SM_OUTPUT_DIR": str(base / "output"),
        "SM_OUTPUT_DATA_DIR": str(base / "output" / "data"),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(base / "output" / "intermediate"),
        "SM_RESOURCE_CONFIG": (
            '{"current_group_name":"homogeneousCluster","current_host":"algo-1",'
            '"current_instance_type":"ml.m5.large","hosts":["algo-1"],'
            '"instance_groups":[{"hosts":["algo-1"],"instance_group_name":"homogeneousCluster",'
            '"instance_type":"ml.m5.large"}],"network_interface_name":"eth0"}'
        ),
    }
    assert {k: env[k] for k in expected} == expected
    assert int(env["SM_NUM_CPUS"]) >= 1


def test_environment_training_env_is_compact_sorted_json(
    full_env: tuple[Path, dict[str, str]],
) -> None:
    base, env = full_env
    text = env["SM_TRAINING_ENV"]
    training = json.loads(text)
    assert text == json.dumps(training, sort_keys=True, separators=(",", ":"))
    assert training["hyperparameters"] == {
        "b": "x",
        "epochs": 10,
        "flag": True,
        "learning-rate": 0.01,
        "nested": {"a": 1},
        "optimizer": "adam",
    }
    assert training["additional_framework_parameters"] == {"sagemaker_mpi_enabled": True}
    assert training["channel_input_dirs"] == {
        "train": str(base / "input" / "data" / "train"),
        "validation": str(base / "input" / "data" / "validation"),
    }
    assert training["job_name"] == "myjob-1"
    assert training["is_master"] is True
    assert training["master_hostname"] == "algo-1"
    assert training["module_name"] == "train"
    assert training["log_level"] == 10


def test_environment_defaults_log_level_and_plain_entry_point(tmp_path: Path) -> None:
    env = environment(_spec(tmp_path, {}, user_entry_point="run.sh", input_data={}))
    assert env["SM_LOG_LEVEL"] == str(logging.INFO)
    assert env["SM_MODULE_NAME"] == "run.sh"
    assert env["SM_CHANNELS"] == "[]"
    assert env["SM_HPS"] == "{}"
    assert env["SM_USER_ARGS"] == "[]"
    assert env["SM_FRAMEWORK_PARAMS"] == "{}"


def test_environment_string_hyperparameter_values_are_not_quoted(tmp_path: Path) -> None:
    env = environment(_spec(tmp_path, {"name": '"a b"', "raw": "x,y", "n": "1e3"}))
    assert env["SM_HP_NAME"] == "a b"
    assert env["SM_HP_RAW"] == "x,y"
    assert env["SM_HP_N"] == "1000.0"


def test_environment_null_hyperparameter_is_empty_like_the_toolkit(tmp_path: Path) -> None:
    env = environment(_spec(tmp_path, {"x": "null"}))
    assert env["SM_HP_X"] == ""


# -- /opt/ml paths ---------------------------------------------------------------------------


def test_container_paths_layout(tmp_path: Path) -> None:
    paths = ContainerPaths(tmp_path / "ml")
    base = tmp_path / "ml"
    assert paths.config_dir == base / "input" / "config"
    assert paths.channel_dir("train") == base / "input" / "data" / "train"
    assert paths.model_dir == base / "model"
    assert paths.output_data_dir == base / "output" / "data"
    assert paths.intermediate_dir == base / "output" / "intermediate"
    assert paths.failure_file == base / "output" / "failure"
    assert paths.code_dir == base / "code"
    assert paths.checkpoints_dir == base / "checkpoints"
    paths.create()
    for folder in (
        paths.config_dir,
        paths.data_dir,
        paths.model_dir,
        paths.output_data_dir,
        paths.intermediate_dir,
        paths.code_dir,
    ):
        assert folder.is_dir()


@pytest.mark.parametrize(
    ("container", "relative"),
    [
        ("/opt/ml/checkpoints", "checkpoints"),
        ("/opt/ml/checkpoints/", "checkpoints"),
        ("/opt/ml", ""),
        ("/opt/ml/", ""),
        ("", ""),
        ("/", ""),
        ("/opt/mlx", "opt/mlx"),
        ("/opt/ml/a/b", "a/b"),
        ("/data/ckpt", "data/ckpt"),
        ("relative/ckpt", "relative/ckpt"),
        ("../../etc", "etc"),
        ("/etc/passwd", "etc/passwd"),
        ("/opt/ml/../../x", "x"),
        ("/opt/ml/../../../../../x", "x"),
        ("/opt/ml/checkpoints/../../../etc/shadow", "etc/shadow"),
    ],
)
def test_container_path_maps_under_base(tmp_path: Path, container: str, relative: str) -> None:
    base = tmp_path / "job" / "opt" / "ml"
    mapped = ContainerPaths(base).container_path(container)
    assert mapped == (base / relative if relative else base)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60))
def test_container_path_never_leaves_base(container: str) -> None:
    base = Path("/nonexistent-hpjobs-base/job/opt/ml")
    mapped = ContainerPaths(base).container_path(container)
    assert mapped.is_absolute()
    assert mapped == base or base in mapped.parents
    assert ".." not in mapped.relative_to(base).parts


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(
        st.sampled_from(["..", ".", "opt", "ml", "etc", "x", "", "opt/ml"]), min_size=0, max_size=8
    ),
    st.booleans(),
)
def test_container_path_traversal_combinations_stay_inside(
    parts: list[str], absolute: bool
) -> None:
    base = Path("/nonexistent-hpjobs-base/job/opt/ml")
    container = ("/" if absolute else "") + "/".join(parts)
    mapped = ContainerPaths(base).container_path(container)
    assert mapped == base or base in mapped.parents


def test_container_path_ignores_host_symlinks(tmp_path: Path) -> None:
    host_link = tmp_path / "link"
    host_link.symlink_to("/opt/ml")
    base = tmp_path / "job"
    container = f"{host_link}/ckpt"
    expected = base.joinpath(*Path(container).parts[1:])
    assert ContainerPaths(base).container_path(container) == expected


@pytest.mark.parametrize("odd", ["\x00", "\ud800"], ids=["nul", "surrogate"])
def test_container_path_with_unencodable_characters_maps_inside_base(
    tmp_path: Path, odd: str
) -> None:
    base = tmp_path / "job"
    mapped = ContainerPaths(base).container_path(f"/opt/ml/a{odd}b")
    assert mapped == base / f"a{odd}b"
