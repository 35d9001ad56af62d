"""Turning a request that runs on this machine into one real SageMaker accepts.

A request for a local run may name local folders and files (``file://`` URIs) for its channels,
its source folder, its output and its checkpoints, a local image alias for its image, and a
placeholder role. Migration gives each local location an ``s3://`` URI in the target bucket, lists
the uploads that put the data there, replaces the image by the real PyTorch training image of the
target region, and sets the role. The result is checked against botocore's SageMaker model.

S3 layout, for a job (or tuning job) named ``NAME`` with key prefix ``PREFIX``::

    s3://BUCKET/PREFIX/NAME/input/CHANNEL/...         channels
    s3://BUCKET/PREFIX/NAME/source/sourcedir.tar.gz   the source folder, or a built-in's script
    s3://BUCKET/PREFIX/NAME/checkpoints/              checkpoints
    s3://BUCKET/PREFIX                                the output path: SageMaker writes
                                                      NAME/output/model.tar.gz below it

A tuning job with several definitions keeps each one's data under ``NAME/DEFINITION/``.

The caller tells migration which image names are local (:class:`LocalImage`): script mode with the
user's own source folder, or a built-in algorithm whose single script travels as the source.
"""

from __future__ import annotations

import copy
import json
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from cloud.images import (
    DEFAULT_FRAMEWORK_VERSION,
    ImageError,
    pytorch_training_image,
    rehome_pytorch_image,
)

__all__ = [
    "LocalImage",
    "Migration",
    "MigrationError",
    "Target",
    "Upload",
    "migrate_training_request",
    "migrate_tuning_request",
    "validate_request",
]

#: The account id hpjobs's local ARNs use: never a real account, so a role in it must be replaced.
PLACEHOLDER_ACCOUNT = "000000000000"
_DEFAULT_VOLUME_GB = 30
_SOURCE_ARCHIVE = "sourcedir.tar.gz"
_PROGRAM = "sagemaker_program"
_SUBMIT = "sagemaker_submit_directory"


class MigrationError(Exception):
    """The request cannot be migrated as it is; the message says what is missing or wrong."""


@dataclass(frozen=True)
class Target:
    """Where a migrated job runs: region, the bucket for its data, its role."""

    region: str
    bucket: str | None = None
    role_arn: str | None = None
    #: Key prefix in the bucket ("" for none).
    prefix: str = "hpjobs"
    framework_version: str = DEFAULT_FRAMEWORK_VERSION


@dataclass(frozen=True)
class LocalImage:
    """An image name that only means something locally. ``script`` is a built-in's script (it
    becomes the source folder); ``None`` means script mode with the job's own source folder."""

    script: Path | None = None


@dataclass(frozen=True)
class Upload:
    """One local file or folder to copy to S3. A folder goes to the prefix ``uri`` (ending in
    ``/``), file by file, unless ``pack`` is set: then it is packed as one ``.tar.gz`` at ``uri``.
    ``pack`` with a file packs that file alone."""

    source: Path
    uri: str
    pack: bool = False

    def __str__(self) -> str:
        what = f"{self.source} (packed as {_SOURCE_ARCHIVE})" if self.pack else str(self.source)
        return f"{what} -> {self.uri}"

    def files(self) -> list[tuple[Path, str]]:
        """``(file, uri)`` for each object an unpacked upload writes."""
        if self.source.is_file():
            return [(self.source, self.uri)]
        base = self.uri.rstrip("/")
        return [
            (path, f"{base}/{path.relative_to(self.source).as_posix()}")
            for path in sorted(self.source.rglob("*"))
            if path.is_file()
        ]

    @contextmanager
    def archive(self) -> Iterator[Path]:
        """A packed upload's ``.tar.gz``, written to a temporary file for as long as needed."""
        with tempfile.TemporaryDirectory(prefix="hpjobs-migrate-") as scratch:
            path = Path(scratch) / _SOURCE_ARCHIVE
            with tarfile.open(path, "w:gz") as archive:
                if self.source.is_file():
                    archive.add(self.source, arcname=self.source.name)
                else:
                    for item in sorted(self.source.rglob("*")):
                        if item.is_file():
                            relative = item.relative_to(self.source).as_posix()
                            archive.add(item, arcname=relative)
            yield path

    def perform(self) -> list[str]:
        """Copy the data to S3; the URIs of the objects written."""
        from cloud.s3 import upload_file

        if self.pack:
            with self.archive() as path:
                upload_file(path, self.uri)
            return [self.uri]
        written = []
        for path, uri in self.files():
            upload_file(path, uri)
            written.append(uri)
        return written


@dataclass
class Migration:
    """A migrated request and the uploads it needs before it can run."""

    request: dict[str, Any]
    uploads: list[Upload] = field(default_factory=list)

    def perform_uploads(self) -> list[str]:
        """Do every upload; the URIs of the objects written."""
        return [uri for upload in self.uploads for uri in upload.perform()]


def _local_path(location: str) -> Path | None:
    """The path a ``file://`` URI or plain path names; ``None`` for remote URIs."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.netloc + parsed.path)).expanduser().resolve()
    if parsed.scheme:
        return None
    return Path(location).expanduser().resolve()


class _Migrator:
    """Migrates the parts one job (or one tuning definition) is made of."""

    def __init__(
        self,
        target: Target,
        images: Mapping[str, LocalImage],
        job_name: str,
        folder: str,
    ) -> None:
        self.target = target
        self.images = images
        self.job_name = job_name
        self.folder = folder
        self.uploads: list[Upload] = []

    def _s3(self, *parts: str) -> str:
        if not self.target.bucket:
            raise MigrationError(
                f"{self.job_name} has local data to upload: give an S3 bucket (--bucket)"
            )
        keys = [p.strip("/") for p in (self.target.prefix, *parts) if p.strip("/")]
        return "/".join([f"s3://{self.target.bucket}", *keys])

    def _existing(self, location: str, what: str) -> Path:
        path = _local_path(location)
        assert path is not None
        if not path.exists():
            raise MigrationError(f"{what} {location} does not exist")
        return path

    def image(
        self, algorithm: dict[str, Any], hyperparameters: dict[str, str], instance: str
    ) -> None:
        image = algorithm.get("TrainingImage")
        if image is None:
            return
        local = self.images.get(image)
        try:
            if local is None:
                algorithm["TrainingImage"] = rehome_pytorch_image(image, self.target.region)
                return
            algorithm["TrainingImage"] = pytorch_training_image(
                self.target.region, instance, self.target.framework_version
            )
        except ImageError as error:
            raise MigrationError(str(error)) from None
        if local.script is not None:
            uri = self._s3(self.folder, "source", _SOURCE_ARCHIVE)
            self.uploads.append(Upload(local.script, uri, pack=True))
            hyperparameters[_PROGRAM] = json.dumps(local.script.name)
            hyperparameters[_SUBMIT] = json.dumps(uri)

    def source(self, hyperparameters: dict[str, str]) -> None:
        raw = hyperparameters.get(_SUBMIT)
        if raw is None:
            return
        try:
            location = json.loads(raw)
        except ValueError:
            location = raw
        if not isinstance(location, str) or _local_path(location) is None:
            return
        path = self._existing(location, "source directory")
        uri = self._s3(self.folder, "source", _SOURCE_ARCHIVE)
        if path.is_dir():
            self.uploads.append(Upload(path, uri, pack=True))
        else:
            self.uploads.append(Upload(path, uri))
        hyperparameters[_SUBMIT] = json.dumps(uri)
        if _PROGRAM in hyperparameters:
            program = hyperparameters[_PROGRAM]
            try:
                json.loads(program)
            except ValueError:
                hyperparameters[_PROGRAM] = json.dumps(program)

    def channels(self, channels: list[dict[str, Any]]) -> None:
        for channel in channels:
            s3 = channel.get("DataSource", {}).get("S3DataSource")
            if s3 is None or _local_path(s3["S3Uri"]) is None:
                continue
            name = channel["ChannelName"]
            path = self._existing(s3["S3Uri"], f"channel {name}:")
            prefix = self._s3(self.folder, "input", name) + "/"
            if path.is_dir():
                self.uploads.append(Upload(path, prefix))
            else:
                self.uploads.append(Upload(path, prefix + path.name))
            s3["S3Uri"] = prefix

    def output(self, output: dict[str, Any]) -> None:
        if _local_path(output["S3OutputPath"]) is not None:
            output["S3OutputPath"] = self._s3()

    def checkpoints(self, checkpoint: dict[str, Any] | None) -> None:
        path = None if checkpoint is None else _local_path(checkpoint["S3Uri"])
        if checkpoint is None or path is None:
            return
        uri = self._s3(self.folder, "checkpoints") + "/"
        if path.is_dir() and any(path.iterdir()):
            self.uploads.append(Upload(path, uri))
        checkpoint["S3Uri"] = uri

    def role(self, spec: dict[str, Any]) -> None:
        if self.target.role_arn:
            spec["RoleArn"] = self.target.role_arn
        role = spec.get("RoleArn")
        if not role:
            raise MigrationError(
                f"{self.job_name} needs an IAM role SageMaker can assume: give --role ARN"
            )
        if f":{PLACEHOLDER_ACCOUNT}:" in role:
            raise MigrationError(
                f"the role {role} is a local placeholder, not a real role: give --role ARN"
            )

    def job(self, spec: dict[str, Any], hyperparameter_key: str) -> None:
        """Migrate one CreateTrainingJob request or one tuning job definition in place."""
        hyperparameters = spec.setdefault(hyperparameter_key, {})
        resources = spec.get("ResourceConfig")
        if resources is not None:
            resources.setdefault("InstanceCount", 1)
            resources.setdefault("VolumeSizeInGB", _DEFAULT_VOLUME_GB)
        instance = _instance_type(spec)
        self.role(spec)
        self.image(spec.get("AlgorithmSpecification", {}), hyperparameters, instance)
        self.source(hyperparameters)
        self.channels(spec.get("InputDataConfig", []))
        if "OutputDataConfig" in spec:
            self.output(spec["OutputDataConfig"])
        self.checkpoints(spec.get("CheckpointConfig"))
        if not hyperparameters:
            del spec[hyperparameter_key]


def _instance_type(spec: Mapping[str, Any]) -> str:
    if "ResourceConfig" in spec:
        return str(spec["ResourceConfig"].get("InstanceType", ""))
    tuning = spec.get("HyperParameterTuningResourceConfig", {})
    instances = tuning.get("InstanceConfigs") or [tuning]
    return str(instances[0].get("InstanceType", ""))


def migrate_training_request(
    request: Mapping[str, Any], target: Target, images: Mapping[str, LocalImage]
) -> Migration:
    """A CreateTrainingJob request for real SageMaker, and the uploads it needs."""
    migrated = copy.deepcopy(dict(request))
    name = migrated.get("TrainingJobName")
    if not name:
        raise MigrationError("the request has no TrainingJobName")
    migrator = _Migrator(target, images, name, name)
    migrator.job(migrated, "HyperParameters")
    validate_request("CreateTrainingJob", migrated)
    return Migration(migrated, migrator.uploads)


def migrate_tuning_request(
    request: Mapping[str, Any], target: Target, images: Mapping[str, LocalImage]
) -> Migration:
    """A CreateHyperParameterTuningJob request for real SageMaker, and the uploads it needs."""
    migrated = copy.deepcopy(dict(request))
    name = migrated.get("HyperParameterTuningJobName")
    if not name:
        raise MigrationError("the request has no HyperParameterTuningJobName")
    uploads: list[Upload] = []
    if "TrainingJobDefinition" in migrated:
        definitions = [migrated["TrainingJobDefinition"]]
    else:
        definitions = list(migrated.get("TrainingJobDefinitions", []))
    for definition in definitions:
        folder = name
        if "TrainingJobDefinitions" in migrated:
            folder = f"{name}/{definition.get('DefinitionName', '')}"
        migrator = _Migrator(target, images, name, folder)
        migrator.job(definition, "StaticHyperParameters")
        uploads.extend(migrator.uploads)
    validate_request("CreateHyperParameterTuningJob", migrated)
    return Migration(migrated, uploads)


def validate_request(operation: str, request: Mapping[str, Any]) -> None:
    """Check ``request`` against botocore's SageMaker model (``MigrationError`` listing every
    problem botocore finds)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(operation).input_shape
    report = ParamValidator().validate(dict(request), shape)
    if report.has_errors():
        problems = " ".join(report.generate_report().split())
        raise MigrationError(f"the migrated {operation} request is not valid: {problems}")
