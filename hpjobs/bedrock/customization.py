"""Bedrock model customization: CreateModelCustomizationJob, GetModelCustomizationJob,
ListModelCustomizationJobs, StopModelCustomizationJob, GetCustomModel, ListCustomModels and
DeleteCustomModel, run on this machine with the hpjobs/lm training script.

Each operation takes the request dict Bedrock takes and returns the response dict botocore
returns (timestamps as aware UTC datetimes). Requests are validated against botocore's
``bedrock`` model first (:func:`hpjobs.shapes.parse_request`, with ``local_uris=True``: the data
locations, shape ``S3Uri``, also take ``file://`` URIs and plain paths), then by the rules below.

AWS rules followed (reference bedrock.md §6):

- ``customizationType`` FINE_TUNING (the default) reads JSON lines ``{"prompt", "completion"}``;
  CONTINUED_PRE_TRAINING reads ``{"input"}``. The other types are refused.
- The base model is a foundation model id or ARN, or an Active custom model's ARN or name;
  anything else gives ValidationException ``The provided model identifier is invalid.``.
- Hyperparameters are strings, named and ranged as for Titan Text Lite/Express: ``epochCount``
  1–10 (5), ``batchSize`` 1–64 (1), ``learningRate`` up to 1 (0.00001) and
  ``learningRateWarmupSteps`` 0–250 (5). Unknown names are refused.
- A job name in use gives ValidationException ``The provided job name is currently in use.``
  (the text apache/airflow's Bedrock operator matches on). A repeated ``clientRequestToken``
  returns the first job's ARN and starts nothing.
- ARNs: ``…:model-customization-job/<base model id>/<12 lowercase alphanumerics>`` and
  ``…:custom-model/<base model id>/<the same 12>``.
- Status: InProgress, then Completed once the custom model is Active; Failed with
  ``failureMessage``; StopModelCustomizationJob moves it through Stopping to Stopped.
- ``training_artifacts/step_wise_training_metrics.csv`` (and, with validation data,
  ``validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv``) are
  written under ``<outputDataConfig.s3Uri>/model-customization-job-<id>/``.

How it runs: each job is an ordinary local training job of ``hpjobs/lm`` named
``bedrock-<id>`` (channel ``train``, ``validation`` from the first validator, ``base`` the base
model's folder; output to ``outputDataConfig.s3Uri``). A customization job's status follows its
training job and is brought up to date whenever a job or model is read (Get or List), any number
of times. When the training job completes, ``model.tar.gz`` is extracted into
``$HPJOBS_HOME/custom-models/<id>/`` and the custom model becomes Active.

*Unverified* (the real texts or behaviour were not captured; the choices are hpjobs'):
every error text other than the two quoted above; the default ``sortOrder`` (Descending, newest
first) and page size (100) of the List operations; that a custom-model name in use gives
ValidationException; that a job in a finished state cannot be stopped with ConflictException;
that ``hyperParameters`` are echoed with their defaults filled in; that ``learningRate`` 0 is
refused (the documented range starts at 0.0, but a zero rate trains nothing); that only the first
validator is used; and that the model of a job still running is not yet visible to
GetCustomModel / ListCustomModels (its name is reserved meanwhile).
"""

from __future__ import annotations

import csv
import math
import os
import secrets
import shutil
import string
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hpjobs import shapes
from hpjobs.bedrock.foundation_models import foundation_model_arn
from hpjobs.config import settings
from hpjobs.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
)
from hpjobs.generation.registry import (
    FoundationModel,
    UnknownModel,
    foundation_models,
    resolve_foundation_model,
)
from hpjobs.sagemaker import training_jobs
from hpjobs.sagemaker._paging import PageToken
from hpjobs.sagemaker._request import absolute_location
from hpjobs.store import CustomizationJob, CustomModel, get_store
from local_runner.archives import UnsafeArchive, extract
from local_runner.staging import StagingError, deliver, local_path

__all__ = [
    "create_model_customization_job",
    "delete_custom_model",
    "get_custom_model",
    "get_model_customization_job",
    "list_custom_models",
    "list_model_customization_jobs",
    "resolve_custom_model",
    "stop_model_customization_job",
]

IN_PROGRESS, COMPLETED, FAILED = "InProgress", "Completed", "Failed"
STOPPING, STOPPED = "Stopping", "Stopped"
_FINISHED = (COMPLETED, FAILED, STOPPED)
ACTIVE, CREATING = "Active", "Creating"

_DATA_FORMATS = {"FINE_TUNING": "prompt_completion", "CONTINUED_PRE_TRAINING": "input"}
_INVALID_MODEL = "The provided model identifier is invalid."
_JOB_NAME_IN_USE = "The provided job name is currently in use."
_MODEL_NAME_IN_USE = "The provided custom model name is currently in use."
_JOB_NOT_FOUND = "Could not find the model customization job from the provided job identifier."
_MODEL_NOT_FOUND = "Could not find the custom model from the provided model identifier."
_ID_ALPHABET = string.ascii_lowercase + string.digits
_DEFAULT_PAGE = 100
_TRAINING_INSTANCE = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10}
_MAX_RUNTIME_SECONDS = 86_400


# ---------------------------------------------------------------------------------------------
# Hyperparameters


@dataclass(frozen=True)
class _Hyperparameter:
    """One Bedrock hyperparameter: its documented range and its hpjobs/lm name."""

    name: str
    lm_name: str
    kind: type[int] | type[float]
    low: float
    high: float
    default: str
    low_exclusive: bool = False

    def range_text(self) -> str:
        if self.kind is int:
            return f"an integer from {self.low:g} to {self.high:g}"
        return f"a number greater than {self.low:g} and at most {self.high:g}"

    def check(self, raw: str) -> str:
        """``raw`` if it is a valid value, else a ValidationException naming the range."""
        try:
            value = self.kind(raw.strip())
        except ValueError:
            value = math.nan
        low_ok = value > self.low if self.low_exclusive else value >= self.low
        if not (math.isfinite(value) and low_ok and value <= self.high):
            raise ValidationException(
                f"Invalid value {raw!r} for hyperparameter {self.name}: "
                f"it must be {self.range_text()}."
            )
        return raw.strip()


#: Titan Text Lite/Express (reference §6.4), with the hpjobs/lm hyperparameter each one sets.
_HYPERPARAMETERS = {
    h.name: h
    for h in (
        _Hyperparameter("epochCount", "epochs", int, 1, 10, "5"),
        _Hyperparameter("batchSize", "batch_size", int, 1, 64, "1"),
        _Hyperparameter("learningRate", "learning_rate", float, 0, 1, "0.00001", True),
        _Hyperparameter("learningRateWarmupSteps", "warmup_steps", int, 0, 250, "5"),
    )
}


def _checked_hyperparameters(given: Mapping[str, str]) -> dict[str, str]:
    """Every hyperparameter, given or default, as strings (ValidationException if bad)."""
    unknown = sorted(set(given) - set(_HYPERPARAMETERS))
    if unknown:
        raise ValidationException(
            f"Unknown hyperparameters: {', '.join(unknown)}. The hyperparameters this model "
            f"accepts are {', '.join(sorted(_HYPERPARAMETERS))}."
        )
    return {
        name: spec.check(given[name]) if name in given else spec.default
        for name, spec in _HYPERPARAMETERS.items()
    }


# ---------------------------------------------------------------------------------------------
# Creating a job


@dataclass(frozen=True)
class _Base:
    """What a job starts from: the foundation model at the root, and the weights' folder."""

    foundation: FoundationModel
    folder: Path


@dataclass(frozen=True)
class _Plan:
    """A checked CreateModelCustomizationJob request, ready to be recorded and started."""

    request: dict[str, Any]
    base: _Base
    suffix: str
    job_arn: str
    model_arn: str

    @property
    def training_job_name(self) -> str:
        return f"bedrock-{self.suffix}"


def create_model_customization_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Record a customization job and start its training job; ``{"jobArn": ...}``."""
    parsed = shapes.parse_request("bedrock", "CreateModelCustomizationJob", request)
    token = parsed.get("clientRequestToken")
    earlier = _job_arn_for_token(token)
    if earlier is not None:
        return {"jobArn": earlier}
    plan = _plan(parsed)
    try:
        job_id = _record(plan)
    except IntegrityError:  # a concurrent request took the token or a name first
        earlier = _job_arn_for_token(token)
        if earlier is not None:
            return {"jobArn": earlier}
        raise ValidationException(_JOB_NAME_IN_USE) from None
    try:
        training_jobs.create_training_job(_training_request(plan))
    except ServiceError as error:
        _finish(job_id, FAILED, f"The training job could not be started: {error.message}")
    return {"jobArn": plan.job_arn}


def _job_arn_for_token(token: str | None) -> str | None:
    if token is None:
        return None
    with get_store().read() as session:
        query = select(CustomizationJob.job_arn)
        return session.scalar(query.where(CustomizationJob.client_request_token == token))


def _plan(parsed: dict[str, Any]) -> _Plan:
    customization_type = parsed.setdefault("customizationType", "FINE_TUNING")
    if customization_type not in _DATA_FORMATS:
        raise ValidationException(
            f"Customization type {customization_type} is not supported here: hpjobs runs "
            "FINE_TUNING and CONTINUED_PRE_TRAINING jobs."
        )
    if "customizationConfig" in parsed:
        raise ValidationException(
            "customizationConfig is only for DISTILLATION and REINFORCEMENT_FINE_TUNING jobs."
        )
    base = _resolve_base(parsed["baseModelIdentifier"])
    parsed["hyperParameters"] = _checked_hyperparameters(parsed.get("hyperParameters", {}))
    _check_locations(parsed)
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    conf = settings()
    prefix = f"arn:aws:bedrock:{conf.region}:{conf.account_id}"
    model_id = base.foundation.model_id
    return _Plan(
        request=parsed,
        base=base,
        suffix=suffix,
        job_arn=f"{prefix}:model-customization-job/{model_id}/{suffix}",
        model_arn=f"{prefix}:custom-model/{model_id}/{suffix}",
    )


def _check_locations(parsed: dict[str, Any]) -> None:
    """Data and output locations: made absolute; local data must exist."""
    training = parsed["trainingDataConfig"]
    if "s3Uri" not in training:
        if "invocationLogsConfig" in training:
            raise ValidationException(
                "trainingDataConfig.invocationLogsConfig is not supported here: give the "
                "training data as trainingDataConfig.s3Uri."
            )
        shapes.raise_violations(
            [shapes.violation(None, "trainingDataConfig.s3Uri", "Member must not be null")]
        )
    validators = parsed.setdefault("validationDataConfig", {"validators": []})["validators"]
    for config in [training, *validators]:
        config["s3Uri"] = absolute_location(config["s3Uri"])
        path = local_path(config["s3Uri"])
        if path is not None and not path.exists():
            raise ValidationException(f"The data location {config['s3Uri']} does not exist.")
    output = parsed["outputDataConfig"]
    output["s3Uri"] = absolute_location(output["s3Uri"])


def _resolve_base(identifier: str) -> _Base:
    """The foundation model or Active custom model ``identifier`` names, with its weights."""
    base = _foundation_base(identifier) or _custom_base(identifier)
    if base is None:
        raise ValidationException(_INVALID_MODEL)
    if not (base.folder / "model.pt").is_file() or not (base.folder / "config.json").is_file():
        raise ValidationException(
            f"The local model behind {identifier} has no weights: {base.folder} must hold "
            "model.pt and config.json."
        )
    return base


def _foundation_base(identifier: str) -> _Base | None:
    if ":custom-model/" in identifier:
        return None
    try:
        foundation = resolve_foundation_model(identifier)
    except UnknownModel:
        return None
    return _Base(foundation, foundation.path)


def _custom_base(identifier: str) -> _Base | None:
    with get_store().read() as session:
        model = _find_model(session, identifier)
        if model is None or model.status != ACTIVE or not model.path:
            return None
        root_id, folder = model.base_model_id, Path(model.path)
    try:
        return _Base(resolve_foundation_model(root_id), folder)
    except UnknownModel:
        return None


def _record(plan: _Plan) -> int:
    """Insert the job and reserve its model's name (a ``Creating`` row); the job's id."""
    request = plan.request
    now = _now()
    job = CustomizationJob(
        job_name=request["jobName"],
        job_arn=plan.job_arn,
        request=request,
        client_request_token=request.get("clientRequestToken"),
        status=IN_PROGRESS,
        creation_time=now,
        last_modified_time=now,
        training_job_name=plan.training_job_name,
        custom_model_name=request["customModelName"],
        custom_model_arn=plan.model_arn,
        base_model_id=plan.base.foundation.model_id,
        customization_type=request["customizationType"],
    )
    with get_store().write() as session:
        _check_names_free(session, job)
        session.add(job)
        session.flush()
        session.add(_reserved_model(plan, job, now))
    return job.id


def _check_names_free(session: Session, job: CustomizationJob) -> None:
    taken = select(CustomizationJob.id).where(CustomizationJob.job_name == job.job_name)
    if session.scalar(taken) is not None:
        raise ValidationException(_JOB_NAME_IN_USE)
    model = select(CustomModel.id).where(CustomModel.model_name == job.custom_model_name)
    if session.scalar(model) is not None:
        raise ValidationException(_MODEL_NAME_IN_USE)


def _reserved_model(plan: _Plan, job: CustomizationJob, now: datetime) -> CustomModel:
    return CustomModel(
        model_name=job.custom_model_name,
        model_arn=plan.model_arn,
        job_id=job.id,
        base_model_id=job.base_model_id,
        family=plan.base.foundation.family,
        status=CREATING,
        creation_time=now,
    )


def _training_request(plan: _Plan) -> dict[str, Any]:
    """The CreateTrainingJob request of the hpjobs/lm job that does the work."""
    request = plan.request
    hyperparameters = {
        _HYPERPARAMETERS[name].lm_name: value for name, value in request["hyperParameters"].items()
    }
    hyperparameters["data_format"] = _DATA_FORMATS[request["customizationType"]]
    hyperparameters["save_dtype"] = "float16"
    channels = [_channel("train", request["trainingDataConfig"]["s3Uri"])]
    validators = request["validationDataConfig"]["validators"]
    if validators:
        channels.append(_channel("validation", validators[0]["s3Uri"]))
    channels.append(_channel("base", plan.base.folder.as_uri()))
    return {
        "TrainingJobName": plan.training_job_name,
        "AlgorithmSpecification": {"TrainingImage": "hpjobs/lm", "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "RoleArn": f"arn:aws:iam::{settings().account_id}:role/hpjobs-bedrock-customization",
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": request["outputDataConfig"]["s3Uri"]},
        "ResourceConfig": dict(_TRAINING_INSTANCE),
        "StoppingCondition": {"MaxRuntimeInSeconds": _MAX_RUNTIME_SECONDS},
    }


def _channel(name: str, location: str) -> dict[str, Any]:
    source = {"S3DataType": "S3Prefix", "S3Uri": location}
    return {"ChannelName": name, "DataSource": {"S3DataSource": source}}


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# Following the training job


def _sync(job_id: int) -> None:
    """Bring job ``job_id`` up to date with its training job (nothing once it has finished)."""
    with get_store().read() as session:
        job = session.get(CustomizationJob, job_id)
        if job is None or job.status in _FINISHED:
            return
        training_name = job.training_job_name
    try:
        described = training_jobs.describe_training_job({"TrainingJobName": training_name})
    except ValidationException:
        _finish(job_id, FAILED, f"The training job {training_name} of this job no longer exists.")
        return
    status = described["TrainingJobStatus"]
    if status == COMPLETED:
        _complete(job_id, described)
    elif status in (FAILED, STOPPED):
        _finish(job_id, status, described.get("FailureReason") if status == FAILED else None)
    elif status == STOPPING:
        _mark_stopping(job_id)


def _sync_unfinished() -> None:
    with get_store().read() as session:
        query = select(CustomizationJob.id).where(CustomizationJob.status.not_in(_FINISHED))
        ids = list(session.scalars(query))
    for job_id in ids:
        _sync(job_id)


def _mark_stopping(job_id: int) -> None:
    with get_store().write() as session:
        job = session.get(CustomizationJob, job_id)
        if job is not None and job.status == IN_PROGRESS:
            job.status = STOPPING
            job.last_modified_time = _now()


def _finish(
    job_id: int, status: str, message: str | None, registered: dict[str, Any] | None = None
) -> None:
    """End the job (once): Completed makes its model Active, anything else frees the name."""
    now = _now()
    with get_store().write() as session:
        job = session.get(CustomizationJob, job_id)
        if job is None or job.status in _FINISHED:
            return
        job.status, job.failure_message = status, message
        job.end_time = job.last_modified_time = now
        model = session.scalars(
            select(CustomModel).where(CustomModel.model_arn == job.custom_model_arn)
        ).first()
        if model is None:
            return
        if registered is None:
            session.delete(model)
            return
        job.metrics = model.metrics = registered["metrics"]
        model.path, model.status = registered["path"], ACTIVE


def _complete(job_id: int, described: Mapping[str, Any]) -> None:
    with get_store().read() as session:
        job = session.get(CustomizationJob, job_id)
        if job is None:
            return
        suffix, request = job.job_arn.rsplit("/", 1)[1], job.request
    try:
        folder = _install_model(described["ModelArtifacts"]["S3ModelArtifacts"], suffix)
        _write_metric_files(described["TrainingJobName"], request, suffix)
    except (UnsafeArchive, StagingError, OSError) as error:
        _finish(job_id, FAILED, f"The trained model could not be registered: {error}")
        return
    metrics = _final_metrics(described, request)
    _finish(job_id, COMPLETED, None, {"path": str(folder), "metrics": metrics})


def _install_model(artifacts: str, suffix: str) -> Path:
    """Extract ``model.tar.gz`` into ``$HPJOBS_HOME/custom-models/<suffix>/`` (once: a later
    call finds it there)."""
    folder = settings().home / "custom-models" / suffix
    if (folder / "model.pt").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{suffix}-") as scratch:
        archive = _local_archive(artifacts, Path(scratch))
        unpacked = Path(scratch) / "model"
        extract(archive, unpacked)
        if not (unpacked / "model.pt").is_file():
            raise StagingError(f"{artifacts} holds no model.pt")
        try:
            os.replace(unpacked, folder)
        except OSError:
            if not (folder / "model.pt").is_file():  # not a concurrent reader's copy
                raise
    return folder


def _local_archive(artifacts: str, scratch: Path) -> Path:
    path = local_path(artifacts)
    if path is not None:
        return path
    from cloud.s3 import S3Error, download_file

    try:
        return download_file(artifacts, scratch)
    except S3Error as error:
        raise StagingError(str(error)) from error


def _final_metrics(described: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """``trainingMetrics`` and ``validationMetrics`` from the training job's last values."""
    final = {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}
    metrics: dict[str, Any] = {}
    if "train:loss" in final:
        metrics["trainingMetrics"] = {"trainingLoss": final["train:loss"]}
    if request["validationDataConfig"]["validators"] and "validation:loss" in final:
        metrics["validationMetrics"] = [{"validationLoss": final["validation:loss"]}]
    return metrics


def _write_metric_files(training_name: str, request: Mapping[str, Any], suffix: str) -> None:
    """Bedrock's loss CSVs, one row per epoch (``step_number`` counts those rows from 0: the
    training script reports losses per epoch, not per optimizer step)."""
    points = training_jobs.training_job_metrics(training_name)
    root = f"{request['outputDataConfig']['s3Uri'].rstrip('/')}/model-customization-job-{suffix}"
    files = [("train:loss", "training_loss", "training_artifacts/step_wise_training_metrics.csv")]
    if request["validationDataConfig"]["validators"]:
        files.append(
            (
                "validation:loss",
                "validation_loss",
                "validation_artifacts/post_fine_tuning_validation/validation/"
                "validation_metrics.csv",
            )
        )
    for metric, column, relative in files:
        rows = [(p.get("Epoch", 0), p["Value"]) for p in points if p["MetricName"] == metric]
        header = ["step_number", "epoch_number", column, "perplexity"]
        _deliver_csv(header, rows, f"{root}/{relative}")


def _deliver_csv(header: list[str], rows: list[tuple[int, float]], location: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        file = Path(scratch) / "metrics.csv"
        with file.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for step, (epoch, loss) in enumerate(rows):
                writer.writerow([step, epoch, loss, math.exp(min(loss, 700.0))])
        deliver(file, location)


# ---------------------------------------------------------------------------------------------
# Reading and stopping jobs


def get_model_customization_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Everything about one job (by name or ARN), in ``GetModelCustomizationJobResponse`` order."""
    parsed = shapes.parse_request("bedrock", "GetModelCustomizationJob", request)
    job_id = _job_id(parsed["jobIdentifier"])
    _sync(job_id)
    with get_store().read() as session:
        job = session.get(CustomizationJob, job_id)
        if job is None:
            raise ResourceNotFoundException(_JOB_NOT_FOUND)
        return _describe_job(job)


def _job_id(identifier: str) -> int:
    by_arn = identifier.startswith("arn:")
    column = CustomizationJob.job_arn if by_arn else CustomizationJob.job_name
    with get_store().read() as session:
        job_id = session.scalar(select(CustomizationJob.id).where(column == identifier))
    if job_id is None:
        raise ResourceNotFoundException(_JOB_NOT_FOUND)
    return job_id


def _describe_job(job: CustomizationJob) -> dict[str, Any]:
    request = job.request
    computed: dict[str, Any] = {
        "jobArn": job.job_arn,
        "outputModelName": job.custom_model_name,
        "outputModelArn": job.custom_model_arn if job.status == COMPLETED else None,
        "status": job.status,
        "failureMessage": job.failure_message,
        "creationTime": job.creation_time,
        "lastModifiedTime": job.last_modified_time,
        "endTime": job.end_time,
        "baseModelArn": foundation_model_arn(job.base_model_id),
        "outputModelKmsKeyArn": request.get("customModelKmsKeyId"),
        **(job.metrics or {}),
    }
    return shapes.output_in_model_order("bedrock", "GetModelCustomizationJob", computed, request)


def list_model_customization_jobs(request: Mapping[str, Any]) -> dict[str, Any]:
    """Job summaries, brought up to date, then filtered, sorted by creation time and paged."""
    parsed = shapes.parse_request("bedrock", "ListModelCustomizationJobs", request)
    _sync_unfinished()
    query = select(CustomizationJob)
    if parsed.get("statusEquals"):
        query = query.where(CustomizationJob.status == parsed["statusEquals"])
    if parsed.get("nameContains"):
        query = query.where(
            CustomizationJob.job_name.contains(parsed["nameContains"], autoescape=True)
        )
    query = _created_between(query, parsed, CustomizationJob.creation_time)
    page, token = _page(query, parsed, CustomizationJob.creation_time, CustomizationJob.id)
    response: dict[str, Any] = {"modelCustomizationJobSummaries": [_job_summary(j) for j in page]}
    if token:
        response["nextToken"] = token
    return response


def _job_summary(job: CustomizationJob) -> dict[str, Any]:
    summary = {
        "jobArn": job.job_arn,
        "baseModelArn": foundation_model_arn(job.base_model_id),
        "jobName": job.job_name,
        "status": job.status,
        "lastModifiedTime": job.last_modified_time,
        "creationTime": job.creation_time,
        "endTime": job.end_time,
        "customModelArn": job.custom_model_arn if job.status == COMPLETED else None,
        "customModelName": job.custom_model_name,
        "customizationType": job.customization_type,
    }
    return {key: value for key, value in summary.items() if value is not None}


def stop_model_customization_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Stop a running job: Stopping now, Stopped once its training job has ended."""
    parsed = shapes.parse_request("bedrock", "StopModelCustomizationJob", request)
    job_id = _job_id(parsed["jobIdentifier"])
    _sync(job_id)
    with get_store().read() as session:
        job = session.get(CustomizationJob, job_id)
        if job is None:
            raise ResourceNotFoundException(_JOB_NOT_FOUND)
        name, status, training_name = job.job_name, job.status, job.training_job_name
    if status != IN_PROGRESS:
        raise _cannot_stop(name, status)
    try:
        training_jobs.stop_training_job({"TrainingJobName": training_name})
    except ServiceError:  # the training job ended meanwhile
        _sync(job_id)
        with get_store().read() as session:
            ended = session.get(CustomizationJob, job_id)
            raise _cannot_stop(name, ended.status if ended else status) from None
    _mark_stopping(job_id)
    return {}


def _cannot_stop(name: str, status: str) -> ConflictException:
    return ConflictException(
        f"The model customization job {name} is in status {status}; only InProgress jobs can "
        "be stopped."
    )


# ---------------------------------------------------------------------------------------------
# Custom models


def get_custom_model(request: Mapping[str, Any]) -> dict[str, Any]:
    """One custom model (by name or ARN), in ``GetCustomModelResponse`` order."""
    parsed = shapes.parse_request("bedrock", "GetCustomModel", request)
    _sync_unfinished()
    with get_store().read() as session:
        model = _find_model(session, parsed["modelIdentifier"])
        if model is None:
            raise ResourceNotFoundException(_MODEL_NOT_FOUND)
        job = session.get(CustomizationJob, model.job_id) if model.job_id is not None else None
        return _describe_model(model, job)


def _find_model(session: Session, identifier: str) -> CustomModel | None:
    """The visible (not Creating) model with this ARN or name."""
    column = CustomModel.model_arn if identifier.startswith("arn:") else CustomModel.model_name
    query = select(CustomModel).where(column == identifier, CustomModel.status != CREATING)
    return session.scalars(query).first()


def _describe_model(model: CustomModel, job: CustomizationJob | None) -> dict[str, Any]:
    computed: dict[str, Any] = {
        "modelArn": model.model_arn,
        "modelName": model.model_name,
        "jobName": job.job_name if job else None,
        "jobArn": job.job_arn if job else None,
        "baseModelArn": foundation_model_arn(model.base_model_id),
        "modelKmsKeyArn": job.request.get("customModelKmsKeyId") if job else None,
        "creationTime": model.creation_time,
        "modelStatus": model.status,
        **(model.metrics or {}),
    }
    sources = [computed, job.request] if job else [computed]
    return shapes.output_in_model_order("bedrock", "GetCustomModel", *sources)


def list_custom_models(request: Mapping[str, Any]) -> dict[str, Any]:
    """Model summaries: filtered, sorted by creation time, then paged. Every local model is
    owned by this account, so ``isOwned: false`` lists none."""
    parsed = shapes.parse_request("bedrock", "ListCustomModels", request)
    _sync_unfinished()
    query = select(CustomModel).where(CustomModel.status != CREATING)
    if parsed.get("nameContains"):
        name = CustomModel.model_name
        query = query.where(name.contains(parsed["nameContains"], autoescape=True))
    if parsed.get("modelStatus"):
        query = query.where(CustomModel.status == parsed["modelStatus"])
    if parsed.get("isOwned") is False:
        query = query.where(false())
    for key in ("baseModelArnEquals", "foundationModelArnEquals"):
        if key in parsed:
            query = query.where(CustomModel.base_model_id == _arn_model_id(parsed[key]))
    query = _created_between(query, parsed, CustomModel.creation_time)
    page, token = _page(query, parsed, CustomModel.creation_time, CustomModel.id)
    types = _customization_types([m.job_id for m in page if m.job_id is not None])
    summaries = [_model_summary(m, types.get(m.job_id, "FINE_TUNING")) for m in page]
    response: dict[str, Any] = {"modelSummaries": summaries}
    if token:
        response["nextToken"] = token
    return response


def _arn_model_id(arn: str) -> str:
    """The model id a foundation-model ARN names (a custom-model ARN names no base model)."""
    return arn.split(":foundation-model/", 1)[1] if ":foundation-model/" in arn else ""


def _model_summary(model: CustomModel, customization_type: str) -> dict[str, Any]:
    base = foundation_models().get(model.base_model_id)
    return {
        "modelArn": model.model_arn,
        "modelName": model.model_name,
        "creationTime": model.creation_time,
        "baseModelArn": foundation_model_arn(model.base_model_id),
        "baseModelName": base.name if base else model.base_model_id,
        "customizationType": customization_type,
        "ownerAccountId": settings().account_id,
        "modelStatus": model.status,
    }


def _customization_types(job_ids: list[int]) -> dict[int | None, str]:
    """``customizationType`` of each of these jobs."""
    query = select(CustomizationJob.id, CustomizationJob.customization_type)
    with get_store().read() as session:
        rows = session.execute(query.where(CustomizationJob.id.in_(job_ids))).all()
    return {row.id: row.customization_type for row in rows}


def delete_custom_model(request: Mapping[str, Any]) -> dict[str, Any]:
    """Forget a custom model and delete its local weights; its job keeps its record."""
    parsed = shapes.parse_request("bedrock", "DeleteCustomModel", request)
    _sync_unfinished()
    with get_store().write() as session:
        model = _find_model(session, parsed["modelIdentifier"])
        if model is None:
            raise ResourceNotFoundException(_MODEL_NOT_FOUND)
        folder = model.path
        session.execute(delete(CustomModel).where(CustomModel.id == model.id))
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    return {}


def resolve_custom_model(identifier: str) -> FoundationModel:
    """The Active custom model with this ARN or name, as a :class:`FoundationModel` the runtime
    can answer with: its ARN as ``model_id``, its base model's family and provider, and the
    folder of its fine-tuned weights as ``local_model``. ``UnknownModel`` if there is none."""
    with get_store().read() as session:
        model = _find_model(session, identifier)
        if model is None or model.status != ACTIVE or not model.path:
            raise UnknownModel(identifier)
        arn, name, base_id, family, path = (
            model.model_arn,
            model.model_name,
            model.base_model_id,
            model.family,
            model.path,
        )
    base = foundation_models().get(base_id)
    provider = base.provider if base else "hpjobs"
    return FoundationModel(arn, name, provider, family, path)


# ---------------------------------------------------------------------------------------------
# Listing helpers


def _created_between(query: Select[Any], parsed: Mapping[str, Any], column: Any) -> Select[Any]:
    """``creationTimeAfter`` / ``creationTimeBefore``, both exclusive."""
    if "creationTimeAfter" in parsed:
        query = query.where(column > parsed["creationTimeAfter"])
    if "creationTimeBefore" in parsed:
        query = query.where(column < parsed["creationTimeBefore"])
    return query


def _page(
    query: Select[Any], parsed: Mapping[str, Any], created: Any, row_id: Any
) -> tuple[list[Any], str | None]:
    """One page of ``query`` in ``sortOrder`` (default Descending) and the next page's token."""
    descending = parsed.get("sortOrder", "Descending") == "Descending"
    order = [created.desc(), row_id.desc()] if descending else [created, row_id]
    limit = parsed.get("maxResults", _DEFAULT_PAGE)
    token = _page_token(parsed)
    with get_store().read() as session:
        rows = list(session.scalars(query.order_by(*order).offset(token.offset).limit(limit + 1)))
        session.expunge_all()
    more = len(rows) > limit
    return rows[:limit], token.next(limit) if more else None


def _page_token(parsed: Mapping[str, Any]) -> PageToken:
    """The shared opaque token (offset plus a fingerprint of the filters and sort order)."""
    listing = {k: v for k, v in parsed.items() if k not in ("nextToken", "maxResults")}
    try:
        return PageToken.for_request({**listing, "NextToken": parsed.get("nextToken")})
    except ValidationException:
        raise ValidationException(
            "The nextToken is not valid for this request: pass the token from the previous "
            "response together with the same filters and sort order."
        ) from None
