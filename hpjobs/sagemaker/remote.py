"""The ``aws`` backend: training and tuning jobs that run on SageMaker itself.

A request is first read exactly as a local run reads it (botocore's model, then the defaults a
local run gives it: a built-in's metric definitions and sample data, absolute local paths), then
migrated by :mod:`cloud.migrate` (local data to S3, local image names to the real PyTorch training
image, the role set), checked again against the full model, and submitted through boto3. The job
is kept in the store with target ``aws``: describing, listing, stopping and reading the log of it
go to SageMaker (and CloudWatch Logs), and every answer updates the stored record.

The region of an AWS job is the one in its ARN; credentials and endpoints come from boto3's usual
chain each time, as for the AWS CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hpjobs import shapes
from hpjobs.errors import ResourceInUse, aws_error
from hpjobs.sagemaker._records import utcnow
from hpjobs.sagemaker._request import training_request_for_aws
from hpjobs.sagemaker._tuning_request import tuning_request_for_aws
from hpjobs.store import MetricPoint, StatusTransition, TrainingJob, TuningJob, get_store

if TYPE_CHECKING:
    from cloud.migrate import LocalImage, Migration

__all__ = [
    "AwsTarget",
    "describe_remote_training_job",
    "describe_remote_tuning_job",
    "migrate_training_job",
    "migrate_tuning_job",
    "region_of",
    "remote_call",
    "submit_training_job",
    "submit_tuning_job",
]


@dataclass(frozen=True)
class AwsTarget:
    """Where and how a job goes to AWS. ``None`` means boto3's chain decides (region), or the
    request's own value (role); a bucket is needed only when there is local data to upload."""

    region: str | None = None
    bucket: str | None = None
    role_arn: str | None = None
    prefix: str = "hpjobs"
    framework_version: str | None = None


def local_images() -> dict[str, LocalImage]:
    """The image names that mean something only to hpjobs, and what each becomes on AWS."""
    from cloud.migrate import LocalImage
    from hpjobs.algorithms import BUILTINS
    from hpjobs.sagemaker.images import PYTORCH_ALIAS

    images = {PYTORCH_ALIAS: LocalImage()}
    images.update({alias: LocalImage(builtin.script) for alias, builtin in BUILTINS.items()})
    return images


def _cloud_target(target: AwsTarget) -> Any:
    from cloud.aws import resolve_region
    from cloud.images import DEFAULT_FRAMEWORK_VERSION
    from cloud.migrate import Target

    return Target(
        region=resolve_region(target.region),
        bucket=target.bucket,
        role_arn=target.role_arn,
        prefix=target.prefix,
        framework_version=target.framework_version or DEFAULT_FRAMEWORK_VERSION,
    )


def migrate_training_job(request: Mapping[str, Any], target: AwsTarget) -> Migration:
    """The CreateTrainingJob request SageMaker gets for ``request``, and the uploads it needs.
    Raises ``ServiceError`` for a request that is not valid, ``MigrationError`` for one that
    cannot be migrated as it is (no bucket for local data, no role)."""
    from cloud.migrate import migrate_training_request

    parsed = shapes.parse_request("sagemaker", "CreateTrainingJob", request)
    ready = training_request_for_aws(parsed)
    migration = migrate_training_request(ready, _cloud_target(target), local_images())
    shapes.parse_request("sagemaker", "CreateTrainingJob", migration.request)
    return migration


def migrate_tuning_job(request: Mapping[str, Any], target: AwsTarget) -> Migration:
    """As :func:`migrate_training_job`, for a CreateHyperParameterTuningJob request."""
    from cloud.migrate import migrate_tuning_request

    parsed = shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", request)
    ready = tuning_request_for_aws(parsed)
    migration = migrate_tuning_request(ready, _cloud_target(target), local_images())
    shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", migration.request)
    return migration


def region_of(arn: str) -> str:
    """The region in an ARN (``arn:aws:sagemaker:REGION:ACCOUNT:...``)."""
    return arn.split(":")[3]


def remote_call(operation: str, request: Mapping[str, Any], region: str) -> dict[str, Any]:
    """A SageMaker operation on AWS; an error AWS answers with is raised as the same
    ``ServiceError`` (code, message, status), so every face reports it as AWS did."""
    from cloud.aws import AwsServiceError
    from cloud.sagemaker import sagemaker_call

    try:
        return sagemaker_call(operation, request, region)
    except AwsServiceError as error:
        raise aws_error(error.code, error.message, error.http_status) from None


def _preflight(migration: Migration, region: str) -> None:
    """One clear line, before anything is uploaded, when a bucket or role is missing."""
    from cloud.s3 import parse_s3_uri
    from cloud.sagemaker import check_bucket, check_role

    for bucket in sorted({parse_s3_uri(upload.uri)[0] for upload in migration.uploads}):
        check_bucket(bucket, region)
    for role in _roles(migration.request):
        check_role(role, region)


def _roles(request: Mapping[str, Any]) -> list[str]:
    specs = [request, request.get("TrainingJobDefinition") or {}]
    specs += list(request.get("TrainingJobDefinitions") or [])
    return sorted({spec["RoleArn"] for spec in specs if spec.get("RoleArn")})


def _submit(migration: Migration, operation: str, region: str) -> dict[str, Any]:
    _preflight(migration, region)
    migration.perform_uploads()
    return remote_call(operation, migration.request, region)


# -- training jobs -------------------------------------------------------------------------------


def submit_training_job(request: Mapping[str, Any], target: AwsTarget) -> dict[str, Any]:
    """Migrate, upload and create a training job on SageMaker; record it with target ``aws``."""
    migration = migrate_training_job(request, target)
    name = migration.request["TrainingJobName"]
    store = get_store()
    with store.read() as session:
        if session.scalars(select(TrainingJob.id).where(TrainingJob.name == name)).first():
            raise _training_name_taken(name)
    region = _cloud_target(target).region
    response = _submit(migration, "CreateTrainingJob", region)
    now = utcnow()
    output = migration.request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    job = TrainingJob(
        name=name,
        arn=response["TrainingJobArn"],
        target="aws",
        request=migration.request,
        status="InProgress",
        secondary_status="Starting",
        creation_time=now,
        last_modified_time=now,
        model_artifacts=f"{output}/{name}/output/model.tar.gz",
        job_dir="",
        log_path="",
    )
    job.transitions.append(
        StatusTransition(
            time=now,
            status="InProgress",
            secondary_status="Starting",
            message="Submitted to SageMaker",
        )
    )
    try:
        with store.write() as session:
            session.add(job)
    except IntegrityError:
        raise _training_name_taken(name) from None
    return response


def _training_name_taken(name: str) -> ResourceInUse:
    return ResourceInUse(
        "Training job names must be unique within an AWS account and region, and a training "
        f"job with this name already exists ({name})"
    )


def describe_remote_training_job(job_id: int, name: str, arn: str) -> dict[str, Any]:
    """DescribeTrainingJob on AWS for a job with target ``aws``; the stored record follows."""
    description = remote_call("DescribeTrainingJob", {"TrainingJobName": name}, region_of(arn))
    _store_training_description(job_id, description)
    return description


def _store_training_description(job_id: int, description: Mapping[str, Any]) -> None:
    with get_store().write() as session:
        job = session.get(TrainingJob, job_id)
        if job is None:
            return
        job.status = description["TrainingJobStatus"]
        job.secondary_status = description["SecondaryStatus"]
        job.failure_reason = description.get("FailureReason")
        job.last_modified_time = description.get("LastModifiedTime") or utcnow()
        job.training_start_time = description.get("TrainingStartTime")
        job.training_end_time = description.get("TrainingEndTime")
        artifacts = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if artifacts:
            job.model_artifacts = artifacts
        known = {(t.secondary_status, t.time) for t in job.transitions}
        for entry in description.get("SecondaryStatusTransitions", []):
            if (entry["Status"], entry["StartTime"]) in known:
                continue
            job.transitions.append(
                StatusTransition(
                    time=entry["StartTime"],
                    status=job.status,
                    secondary_status=entry["Status"],
                    message=entry.get("StatusMessage", entry["Status"]),
                )
            )
        finals = description.get("FinalMetricDataList", [])
        if finals:
            session.execute(delete(MetricPoint).where(MetricPoint.job_id == job_id))
            for metric in finals:
                session.add(
                    MetricPoint(
                        job_id=job_id,
                        name=metric["MetricName"],
                        value=float(metric["Value"]),
                        timestamp=metric.get("Timestamp") or utcnow(),
                        epoch=None,
                    )
                )


# -- tuning jobs ---------------------------------------------------------------------------------


def submit_tuning_job(request: Mapping[str, Any], target: AwsTarget) -> dict[str, Any]:
    """Migrate, upload and create a tuning job on SageMaker; record it with target ``aws``."""
    migration = migrate_tuning_job(request, target)
    name = migration.request["HyperParameterTuningJobName"]
    store = get_store()
    with store.read() as session:
        taken = select(TuningJob.id).where(TuningJob.name_key == name.lower())
        if session.scalars(taken).first():
            raise _tuning_name_taken(name)
    region = _cloud_target(target).region
    response = _submit(migration, "CreateHyperParameterTuningJob", region)
    now = utcnow()
    job = TuningJob(
        name=name,
        name_key=name.lower(),
        arn=response["HyperParameterTuningJobArn"],
        target="aws",
        request=migration.request,
        status="InProgress",
        creation_time=now,
        last_modified_time=now,
        job_dir="",
    )
    try:
        with store.write() as session:
            session.add(job)
    except IntegrityError:
        raise _tuning_name_taken(name) from None
    return response


def _tuning_name_taken(name: str) -> ResourceInUse:
    return ResourceInUse(
        f"A hyperparameter tuning job with the name, {name}, already exists. Choose a "
        "different name."
    )


def describe_remote_tuning_job(job_id: int, name: str, arn: str) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob on AWS for a tuning job with target ``aws``; the stored
    record follows."""
    description = remote_call(
        "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}, region_of(arn)
    )
    with get_store().write() as session:
        job = session.get(TuningJob, job_id)
        if job is not None:
            job.status = description["HyperParameterTuningJobStatus"]
            job.failure_reason = description.get("FailureReason")
            job.last_modified_time = description.get("LastModifiedTime") or utcnow()
            job.end_time = description.get("HyperParameterTuningEndTime")
    return description
