"""The SageMaker training container contract, as the sagemaker-training-toolkit implements it.

What a script sees inside a SageMaker training container (reference sagemaker.md §3): the
``/opt/ml`` tree, the three config files, the ``SM_*`` environment variables and the
hyperparameters as command-line arguments. Everything here is plain data in, plain data out.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "HOST",
    "INSTANCE_GROUP",
    "ContainerPaths",
    "ContainerSpec",
    "decode_hyperparameters",
    "environment",
    "input_data_config",
    "resource_config",
    "split_hyperparameters",
    "to_cmd_args",
]

HOST = "algo-1"
INSTANCE_GROUP = "homogeneousCluster"

#: Hyperparameters the toolkit keeps for itself and never passes to the script.
_RESERVED = frozenset(
    {
        "sagemaker_program",
        "sagemaker_submit_directory",
        "sagemaker_enable_cloudwatch_metrics",
        "sagemaker_region",
        "sagemaker_container_log_level",
        "sagemaker_job_name",
        "default_user_module_name",
        "_tuning_objective_metric",
        "sagemaker_s3_output",
    }
)


@dataclass(frozen=True)
class ContainerPaths:
    """The ``/opt/ml`` tree, rooted at ``base`` (the toolkit's ``SAGEMAKER_BASE_DIR``)."""

    base: Path

    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    @property
    def config_dir(self) -> Path:
        return self.input_dir / "config"

    @property
    def data_dir(self) -> Path:
        return self.input_dir / "data"

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def intermediate_dir(self) -> Path:
        return self.output_dir / "intermediate"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def code_dir(self) -> Path:
        return self.base / "code"

    @property
    def checkpoints_dir(self) -> Path:
        return self.base / "checkpoints"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    def create(self) -> None:
        for folder in (
            self.config_dir,
            self.data_dir,
            self.model_dir,
            self.output_data_dir,
            self.intermediate_dir,
            self.code_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)

    def container_path(self, path: str) -> Path:
        """Where a container path such as ``/opt/ml/checkpoints`` lives under ``base``.

        The path is read as the container would (lexically, never through this machine's
        links); paths outside ``/opt/ml`` are placed under ``base`` by their own name, so a job
        can never write outside its folder.
        """
        parts = PurePosixPath(posixpath.normpath(posixpath.join("/", path))).parts[1:]
        if parts[:2] == ("opt", "ml"):
            parts = parts[2:]
        return self.base.joinpath(*parts) if parts else self.base


def decode_hyperparameters(hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded where it parses, else kept as the raw string (toolkit rule)."""
    decoded: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


def split_hyperparameters(decoded: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(user, framework)``: reserved and ``sagemaker_*`` keys leave the user's set.

    Framework parameters are the ``sagemaker_*`` keys that are not reserved for the toolkit
    (``SM_FRAMEWORK_PARAMS``).
    """
    user = {
        k: v for k, v in decoded.items() if k not in _RESERVED and not k.startswith("sagemaker_")
    }
    framework = {
        k: v for k, v in decoded.items() if k.startswith("sagemaker_") and k not in _RESERVED
    }
    return user, framework


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """Arguments as the toolkit builds them: keys sorted, ``--key value``, ``-k`` for one letter,
    dicts as ``k=v,k2=v2`` in key order, null as an empty string, every other value through
    ``str()`` (so JSON ``true`` becomes ``True``)."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"-{key}" if len(key) == 1 else f"--{key}")
        if isinstance(value, dict):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def input_data_config(channels: Sequence[Mapping[str, Any]], input_mode: str) -> dict[str, Any]:
    """``inputdataconfig.json``: per channel, the fields a container is told about."""
    config: dict[str, Any] = {}
    for channel in channels:
        source = channel.get("DataSource", {}).get("S3DataSource", {})
        entry: dict[str, Any] = {}
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        entry["TrainingInputMode"] = channel.get("InputMode", input_mode)
        entry["S3DistributionType"] = source.get("S3DataDistributionType", "FullyReplicated")
        entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
        config[channel["ChannelName"]] = entry
    return config


def resource_config(instance_type: str) -> dict[str, Any]:
    """``resourceconfig.json`` of a one-host job on ``algo-1``."""
    return {
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": [HOST],
        "instance_groups": [
            {"instance_group_name": INSTANCE_GROUP, "instance_type": instance_type, "hosts": [HOST]}
        ],
        "network_interface_name": "eth0",
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _dumps(value)


@dataclass(frozen=True)
class ContainerSpec:
    """What ``environment`` needs to know about one job."""

    job_name: str
    paths: ContainerPaths
    hyperparameters: Mapping[str, str]
    input_data: Mapping[str, Any]
    resources: Mapping[str, Any]
    module_dir: str
    user_entry_point: str


def environment(spec: ContainerSpec) -> dict[str, str]:
    """The ``SM_*`` variables, named and formatted as ``Environment.to_env_vars()`` makes them.

    Non-string values are JSON with sorted keys and no spaces; ``_tuning_objective_metric`` and the
    ``sagemaker_*`` keys never reach ``SM_HPS``, ``SM_HP_*`` or ``SM_USER_ARGS``.
    """
    paths = spec.paths
    decoded = decode_hyperparameters(spec.hyperparameters)
    user, framework = split_hyperparameters(decoded)
    channels = sorted(spec.input_data)
    channel_dirs = {name: str(paths.channel_dir(name)) for name in channels}
    log_level = decoded.get("sagemaker_container_log_level", logging.INFO)
    instance_type = str(spec.resources["current_instance_type"])
    group = {
        "hosts": list(spec.resources["hosts"]),
        "instance_group_name": INSTANCE_GROUP,
        "instance_type": instance_type,
    }
    env: dict[str, Any] = {
        "SM_HOSTS": list(spec.resources["hosts"]),
        "SM_NETWORK_INTERFACE_NAME": spec.resources["network_interface_name"],
        "SM_HPS": user,
        "SM_USER_ENTRY_POINT": spec.user_entry_point,
        "SM_FRAMEWORK_PARAMS": framework,
        "SM_RESOURCE_CONFIG": dict(spec.resources),
        "SM_INPUT_DATA_CONFIG": dict(spec.input_data),
        "SM_OUTPUT_DATA_DIR": str(paths.output_data_dir),
        "SM_CHANNELS": channels,
        "SM_CURRENT_HOST": HOST,
        "SM_CURRENT_INSTANCE_TYPE": instance_type,
        "SM_CURRENT_INSTANCE_GROUP": INSTANCE_GROUP,
        "SM_CURRENT_INSTANCE_GROUP_HOSTS": list(spec.resources["hosts"]),
        "SM_INSTANCE_GROUPS": [INSTANCE_GROUP],
        "SM_INSTANCE_GROUPS_DICT": {INSTANCE_GROUP: group},
        "SM_DISTRIBUTION_INSTANCE_GROUPS": [],
        "SM_IS_HETERO": False,
        "SM_MODULE_NAME": _module_name(spec.user_entry_point),
        "SM_LOG_LEVEL": log_level,
        "SM_FRAMEWORK_MODULE": os.environ.get("SAGEMAKER_TRAINING_MODULE", ""),
        "SM_INPUT_DIR": str(paths.input_dir),
        "SM_INPUT_CONFIG_DIR": str(paths.config_dir),
        "SM_OUTPUT_DIR": str(paths.output_dir),
        "SM_NUM_CPUS": os.cpu_count() or 1,
        "SM_NUM_GPUS": 0,
        "SM_NUM_NEURONS": 0,
        "SM_MODEL_DIR": str(paths.model_dir),
        "SM_MODULE_DIR": spec.module_dir,
        "SM_OUTPUT_INTERMEDIATE_DIR": str(paths.intermediate_dir),
    }
    env["SM_TRAINING_ENV"] = _training_env(spec, user, framework, channel_dirs, log_level)
    env["SM_USER_ARGS"] = to_cmd_args(user)
    for name, folder in channel_dirs.items():
        env[f"SM_CHANNEL_{name.upper()}"] = folder
    for key, value in user.items():
        env[f"SM_HP_{key.upper()}"] = value
    return {key: _env_value(value) for key, value in env.items()}


def _module_name(entry_point: str) -> str:
    return entry_point[: -len(".py")] if entry_point.endswith(".py") else entry_point


def _training_env(
    spec: ContainerSpec,
    user: Mapping[str, Any],
    framework: Mapping[str, Any],
    channel_dirs: Mapping[str, str],
    log_level: Any,
) -> dict[str, Any]:
    paths = spec.paths
    return {
        "additional_framework_parameters": dict(framework),
        "channel_input_dirs": dict(channel_dirs),
        "current_host": HOST,
        "current_instance_group": INSTANCE_GROUP,
        "current_instance_type": spec.resources["current_instance_type"],
        "framework_module": os.environ.get("SAGEMAKER_TRAINING_MODULE", ""),
        "hosts": list(spec.resources["hosts"]),
        "hyperparameters": dict(user),
        "input_config_dir": str(paths.config_dir),
        "input_data_config": dict(spec.input_data),
        "input_dir": str(paths.input_dir),
        "is_master": True,
        "job_name": spec.job_name,
        "log_level": log_level,
        "master_hostname": HOST,
        "model_dir": str(paths.model_dir),
        "module_dir": spec.module_dir,
        "module_name": _module_name(spec.user_entry_point),
        "network_interface_name": spec.resources["network_interface_name"],
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "output_data_dir": str(paths.output_data_dir),
        "output_dir": str(paths.output_dir),
        "output_intermediate_dir": str(paths.intermediate_dir),
        "resource_config": dict(spec.resources),
        "user_entry_point": spec.user_entry_point,
    }
