"""The training job operations: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs,
StopTrainingJob and DeleteTrainingJob.

Each takes the request dict AWS takes and returns the response dict botocore returns, field for
field (timestamps as aware UTC datetimes). Requests are validated against botocore's SageMaker
model first (:mod:`hpjobs.shapes`), then by the rules AWS applies beyond the model
(reference sagemaker.md §1, §8). Errors are :class:`~hpjobs.errors.ServiceError`\\ s with AWS's
codes and texts.

``CreateTrainingJob`` returns at once, as on AWS: the job runs under a supervisor process that
outlives the caller (:mod:`hpjobs.sagemaker._supervisor`). Any read of a job whose supervisor has
died marks it Failed with the reason, so no job stays InProgress forever.
"""

from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from hpjobs import shapes
from hpjobs.config import settings
from hpjobs.errors import ResourceInUse, ResourceNotFound, ServiceError, ValidationException
from hpjobs.redaction import masked_training_description
from hpjobs.sagemaker import _launch, remote
from hpjobs.sagemaker._paging import PageToken, time_filters
from hpjobs.sagemaker._records import current_status, record_transition, utcnow
from hpjobs.sagemaker._request import prepare_training_request
from hpjobs.sagemaker.status import SecondaryStatus, TrainingJobStatus
from hpjobs.store import MetricPoint, TrainingJob, caseless, get_store

__all__ = [
    "TuningLink",
    "create_child_training_job",
    "create_training_job",
    "delete_training_job",
    "describe_training_job",
    "list_training_jobs",
    "stop_training_job",
    "training_job_epoch",
    "training_job_log",
    "training_job_metrics",
    "training_job_place",
]

_NOT_FOUND = "Requested resource not found."
_DEFAULT_PAGE = 10


def training_job_arn(name: str) -> str:
    conf = settings()
    return f"arn:aws:sagemaker:{conf.region}:{conf.account_id}:training-job/{name}"


def create_training_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Record a new training job and start it on this machine; ``{"TrainingJobArn": ...}``."""
    return create_child_training_job(request, None)


@dataclass(frozen=True)
class TuningLink:
    """What ties a child training job to the tuning job that launched it."""

    tuning_job_id: int
    tuning_job_arn: str
    definition_name: str | None
    tuned_hyperparameters: dict[str, str]


def create_child_training_job(
    request: Mapping[str, Any], link: TuningLink | None
) -> dict[str, Any]:
    """CreateTrainingJob, for a tuning job's child when ``link`` is given."""
    parsed = shapes.parse_request("sagemaker", "CreateTrainingJob", request)
    prepared = prepare_training_request(parsed)
    name = prepared.request["TrainingJobName"]
    arn = training_job_arn(name)
    folder = settings().jobs_dir / name
    now = utcnow()
    job = TrainingJob(
        name=name,
        arn=arn,
        target="local",
        request=prepared.request,
        creation_time=now,
        model_artifacts=prepared.model_artifacts,
        job_dir=str(folder),
        log_path=str(folder / "logs" / "algo-1.log"),
    )
    if link is not None:
        job.tuning_job_id = link.tuning_job_id
        job.tuning_job_arn = link.tuning_job_arn
        job.tuning_definition = link.definition_name
        job.tuned_hyperparameters = link.tuned_hyperparameters
        job.objective_status = "Pending"
    store = get_store()
    cap = settings().max_running_jobs
    try:
        with store.write() as session:
            running = _launch.running_jobs(session)
            job.queued = running >= cap
            waiting = _launch.waiting_message(running, cap) if job.queued else None
            session.add(job)
            record_transition(
                session, job, TrainingJobStatus.IN_PROGRESS, SecondaryStatus.STARTING, waiting
            )
            session.flush()  # the name is this job's now (IntegrityError if not) ...
            # ... so what an earlier job of that name left is cleared, before the commit makes
            # the job visible: once it is, a supervisor may take it from the queue and start it.
            shutil.rmtree(folder, ignore_errors=True)
    except IntegrityError:
        raise ResourceInUse(
            "Training job names must be unique within an AWS account and region, and a training "
            f"job with this name already exists ({arn})"
        ) from None
    if not job.queued:
        _launch.start_supervisor(store, job.id, name, folder)
    return {"TrainingJobArn": arn}


def describe_training_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Everything about one job, in ``DescribeTrainingJobResponse`` member order; secret
    hyperparameter and environment values are shown as ``****`` (:mod:`hpjobs.redaction`)."""
    parsed = shapes.parse_request("sagemaker", "DescribeTrainingJob", request)
    job_id = _checked_job_id(parsed["TrainingJobName"], ValidationException)
    with get_store().read() as session:
        job = session.get(TrainingJob, job_id)
        if job is None:
            raise ValidationException(_NOT_FOUND)
        if job.target != "aws":
            return masked_training_description(_describe(session, job))
        name, arn = job.name, job.arn
    return masked_training_description(remote.describe_remote_training_job(job_id, name, arn))


def _checked_job_id(name: str, missing: type[ServiceError]) -> int:
    """The id of job ``name`` once a dead supervisor has been noticed; ``missing`` if unknown."""
    job = _stored(name, missing)
    _launch.reap_if_dead(get_store(), job)
    return job.id


def _stored(name: str, missing: type[ServiceError]) -> TrainingJob:
    """Job ``name`` as stored, out of any session; ``missing`` if there is none."""
    with get_store().read() as session:
        job = _find(session, name)
    if job is None:
        raise missing(_NOT_FOUND)
    return job


@contextmanager
def _changing(stored: TrainingJob) -> Iterator[tuple[Session, TrainingJob]]:
    """A write transaction holding local job ``stored`` as it is now, its row locked where the
    database locks rows, so a supervisor taking it from the queue at the same moment goes first
    or waits. A job whose supervisor died is Failed first."""
    store = get_store()
    _launch.reap_if_dead(store, stored)
    with store.write() as session:
        job = session.get(TrainingJob, stored.id, with_for_update=True)
        if job is None:  # deleted since it was found
            raise ResourceNotFound(_NOT_FOUND)
        yield session, job


def _find(session: Session, name: str) -> TrainingJob | None:
    return session.scalars(select(TrainingJob).where(TrainingJob.name == name)).first()


def _describe(session: Session, job: TrainingJob) -> dict[str, Any]:
    computed: dict[str, Any] = {
        "TrainingJobName": job.name,
        "TrainingJobArn": job.arn,
        "TuningJobArn": job.tuning_job_arn,
        "ModelArtifacts": {"S3ModelArtifacts": job.model_artifacts},
        "TrainingJobStatus": job.status,
        "SecondaryStatus": job.secondary_status,
        "FailureReason": job.failure_reason,
        "CreationTime": job.creation_time,
        "TrainingStartTime": job.training_start_time,
        "TrainingEndTime": job.training_end_time,
        "LastModifiedTime": job.last_modified_time,
        "SecondaryStatusTransitions": _secondary_transitions(job),
        "FinalMetricDataList": _final_metrics(session, job),
    }
    if TrainingJobStatus(job.status).is_finished() and job.training_start_time:
        end = job.training_end_time or job.last_modified_time
        seconds = max(1, math.ceil((end - job.training_start_time).total_seconds()))
        computed["TrainingTimeInSeconds"] = seconds
        computed["BillableTimeInSeconds"] = seconds
    return shapes.output_in_model_order("sagemaker", "DescribeTrainingJob", computed, job.request)


def _secondary_transitions(job: TrainingJob) -> list[dict[str, Any]]:
    """One entry per secondary status the job went through, with its latest message."""
    entries: list[dict[str, Any]] = []
    for row in job.transitions:
        if entries and entries[-1]["Status"] == row.secondary_status:
            entries[-1]["StatusMessage"] = row.message
            continue
        if entries:
            entries[-1]["EndTime"] = row.time
        entries.append(
            {"Status": row.secondary_status, "StartTime": row.time, "StatusMessage": row.message}
        )
    if entries and TrainingJobStatus(job.status).is_finished():
        entries[-1]["EndTime"] = entries[-1]["StartTime"]
    return entries


def _final_metrics(session: Session, job: TrainingJob) -> list[dict[str, Any]]:
    """The last value of each metric, in the order of the job's ``MetricDefinitions``.

    The job's metric names are found by skipping through the (job, name, id) index one name at
    a time (a recursive query), and each name's last point by one more index seek, so the cost
    grows with the number of metrics, not with the number of points a job has logged.
    """
    point = aliased(MetricPoint)
    names = (
        select(func.min(point.name).label("name"))
        .where(point.job_id == job.id)
        .cte("metric_names", recursive=True)
    )
    following = (
        select(func.min(point.name))
        .where(point.job_id == job.id, point.name > names.c.name)
        .correlate(names)
        .scalar_subquery()
    )
    names = names.union_all(select(following).where(names.c.name.is_not(None)))
    latest = (
        select(func.max(point.id))
        .where(point.job_id == job.id, point.name == names.c.name)
        .correlate(names)
        .scalar_subquery()
    )
    rows = list(
        session.execute(
            select(MetricPoint.name, MetricPoint.value, MetricPoint.timestamp)
            .select_from(names)
            .join(MetricPoint, MetricPoint.id == latest)
        ).all()
    )
    definitions = job.request.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    order = {d["Name"]: i for i, d in enumerate(definitions)}
    rows.sort(key=lambda row: (order.get(row.name, len(order)), row.name))
    return [{"MetricName": r.name, "Value": r.value, "Timestamp": r.timestamp} for r in rows]


def list_training_jobs(request: Mapping[str, Any]) -> dict[str, Any]:
    """Job summaries: filtered, then sorted, then paged (``NextToken`` is opaque)."""
    parsed = shapes.parse_request("sagemaker", "ListTrainingJobs", request)
    query = _filtered(parsed)
    sort_by = parsed.get("SortBy", "CreationTime")
    descending = parsed.get("SortOrder", "Ascending") == "Descending"
    column = {
        "Name": TrainingJob.name,
        "CreationTime": TrainingJob.creation_time,
        "Status": TrainingJob.status,
    }[sort_by]
    order = [column.desc(), TrainingJob.id.desc()] if descending else [column, TrainingJob.id]
    limit = parsed.get("MaxResults", _DEFAULT_PAGE)
    page_token = PageToken.for_request(parsed)
    store = get_store()
    for _ in range(2):
        with store.read() as session:
            page = list(
                session.scalars(query.order_by(*order).offset(page_token.offset).limit(limit + 1))
            )
        changed = [_launch.reap_if_dead(store, job) for job in page[:limit]]
        changed += [_refresh_remote(job) for job in page[:limit]]
        if not any(changed):
            break
    response: dict[str, Any] = {"TrainingJobSummaries": [_summary(job) for job in page[:limit]]}
    if len(page) > limit:
        response["NextToken"] = page_token.next(limit)
    return response


def _refresh_remote(job: TrainingJob) -> bool:
    """Bring an unfinished AWS job's record up to date; True when it was asked. When AWS cannot
    be reached the stored record is listed as it is."""
    from cloud.aws import AwsSetupError

    if job.target != "aws" or TrainingJobStatus(job.status).is_finished():
        return False
    with contextlib.suppress(AwsSetupError, ServiceError):
        remote.describe_remote_training_job(job.id, job.name, job.arn)
    return True


def _filtered(parsed: Mapping[str, Any]) -> Select[TrainingJob]:
    query = select(TrainingJob)
    if parsed.get("NameContains"):
        query = query.where(
            caseless(TrainingJob.name).contains(parsed["NameContains"].lower(), autoescape=True)
        )
    if parsed.get("StatusEquals"):
        query = query.where(TrainingJob.status == parsed["StatusEquals"])
    query = time_filters(query, parsed, TrainingJob.creation_time, TrainingJob.last_modified_time)
    if parsed.get("WarmPoolStatusEquals") or parsed.get("TrainingPlanArnEquals"):
        query = query.where(false())  # local jobs have neither warm pools nor training plans
    return query


def _summary(job: TrainingJob) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": job.name,
        "TrainingJobArn": job.arn,
        "CreationTime": job.creation_time,
        "TrainingEndTime": job.training_end_time,
        "LastModifiedTime": job.last_modified_time,
        "TrainingJobStatus": job.status,
        "SecondaryStatus": job.secondary_status,
    }
    return {key: value for key, value in summary.items() if value is not None}


def stop_training_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Ask a running job to stop: it moves to Stopping now and to Stopped once it has ended."""
    parsed = shapes.parse_request("sagemaker", "StopTrainingJob", request)
    stored = _stored(parsed["TrainingJobName"], ResourceNotFound)
    if stored.target == "aws":
        job_id, name, arn = stored.id, stored.name, stored.arn
        remote.remote_call("StopTrainingJob", {"TrainingJobName": name}, remote.region_of(arn))
        remote.describe_remote_training_job(job_id, name, arn)
        return {}
    with _changing(stored) as (session, job):
        status, _ = current_status(job)
        if status is not TrainingJobStatus.IN_PROGRESS:
            raise ValidationException(
                f"The request was rejected because the training job is in status {status.value}."
            )
        record_transition(session, job, TrainingJobStatus.STOPPING, SecondaryStatus.STOPPING)
        if job.queued:  # it never started: nothing to wait for
            job.queued = False
            record_transition(session, job, TrainingJobStatus.STOPPED, SecondaryStatus.STOPPED)
            job.training_end_time = job.last_modified_time
    return {}


def delete_training_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Forget a finished job: its record, transitions, metrics and local folder. Artifacts already
    delivered to the output path stay. The name can then be used again."""
    parsed = shapes.parse_request("sagemaker", "DeleteTrainingJob", request)
    stored = _stored(parsed["TrainingJobName"], ResourceNotFound)
    if stored.target == "aws":
        job_id, name, arn = stored.id, stored.name, stored.arn
        remote.remote_call("DeleteTrainingJob", {"TrainingJobName": name}, remote.region_of(arn))
        with get_store().write() as session:
            session.execute(delete(TrainingJob).where(TrainingJob.id == job_id))
        return {}
    with _changing(stored) as (session, job):
        status, _ = current_status(job)
        if not status.is_finished():
            raise ResourceInUse(
                f"The training job {job.name} is in status {status.value} and cannot be deleted. "
                "Only jobs in status Completed, Failed or Stopped can be deleted."
            )
        folder = job.job_dir
        session.execute(delete(TrainingJob).where(TrainingJob.id == job.id))
    shutil.rmtree(folder, ignore_errors=True)
    return {}


def training_job_place(name: str) -> tuple[str, str]:
    """``(target, arn)`` of job ``name``: where it runs (``local`` or ``aws``) and its ARN."""
    with get_store().read() as session:
        job = _find(session, name)
        if job is None:
            raise ValidationException(_NOT_FOUND)
        return job.target, job.arn


def training_job_log(name: str) -> tuple[Path, str]:
    """Where job ``name``'s log is, and the job's status (``ValidationException`` if unknown)."""
    with get_store().read() as session:
        job = _find(session, name)
        if job is None:
            raise ValidationException(_NOT_FOUND)
        return Path(job.log_path), job.status


def training_job_metrics(name: str) -> list[dict[str, Any]]:
    """Every metric point of job ``name`` in the order it was logged:
    ``{"MetricName", "Value", "Timestamp", "Epoch"}``, ``Epoch`` where the log line had one."""
    with get_store().read() as session:
        job = _find(session, name)
        if job is None:
            raise ValidationException(_NOT_FOUND)
        rows = session.execute(
            select(MetricPoint.name, MetricPoint.value, MetricPoint.timestamp, MetricPoint.epoch)
            .where(MetricPoint.job_id == job.id)
            .order_by(MetricPoint.id)
        ).all()
    points = []
    for row in rows:
        point: dict[str, Any] = {
            "MetricName": row.name,
            "Value": row.value,
            "Timestamp": row.timestamp,
        }
        if row.epoch is not None:
            point["Epoch"] = row.epoch
        points.append(point)
    return points


def training_job_epoch(name: str) -> int | None:
    """The highest epoch any metric line of job ``name`` has named so far."""
    with get_store().read() as session:
        job = _find(session, name)
        if job is None:
            raise ValidationException(_NOT_FOUND)
        value = session.scalar(
            select(func.max(MetricPoint.epoch)).where(MetricPoint.job_id == job.id)
        )
    return None if value is None else int(value)
