"""The hyperparameter tuning job operations: CreateHyperParameterTuningJob,
DescribeHyperParameterTuningJob, ListHyperParameterTuningJobs,
ListTrainingJobsForHyperParameterTuningJob, StopHyperParameterTuningJob and
DeleteHyperParameterTuningJob.

Requests and responses are botocore's shapes; the rules are those of reference sagemaker.md §4.
Tuning job names are not case sensitive (``Demo`` and ``demo`` are the same job). The search runs
in a tuner process (:mod:`hpjobs.sagemaker._tuner`) that outlives the caller; a tuning job whose
tuner has died is marked Failed, and its running training jobs stopped, by the next read.
"""

from __future__ import annotations

import contextlib
import math
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hpjobs import shapes
from hpjobs.config import settings
from hpjobs.errors import ResourceInUse, ResourceNotFound, ServiceError, ValidationException
from hpjobs.sagemaker import _launch, remote
from hpjobs.sagemaker._paging import PageToken, time_filters
from hpjobs.sagemaker._records import record_transition, utcnow
from hpjobs.sagemaker._tuning_request import prepare_tuning_request
from hpjobs.sagemaker.status import SecondaryStatus, TrainingJobStatus
from hpjobs.store import MetricPoint, Store, TrainingJob, TuningJob, get_store

__all__ = [
    "TuningJobStatus",
    "create_hyper_parameter_tuning_job",
    "delete_hyper_parameter_tuning_job",
    "describe_hyper_parameter_tuning_job",
    "list_hyper_parameter_tuning_jobs",
    "list_training_jobs_for_hyper_parameter_tuning_job",
    "stop_hyper_parameter_tuning_job",
    "tuning_job_children",
]

_DEFAULT_PAGE = 10
_FINISHED = {"Completed", "Failed", "Stopped"}
_ACTIVE = {"InProgress", "Stopping"}


class TuningJobStatus:
    """``HyperParameterTuningJobStatus`` values hpjobs uses."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


def tuning_job_arn(name: str) -> str:
    conf = settings()
    return (
        f"arn:aws:sagemaker:{conf.region}:{conf.account_id}:"
        f"hyper-parameter-tuning-job/{name.lower()}"
    )


def _not_found(name: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"Amazon SageMaker can't find a tuning job called {name}. Type another name."
    )


def _find(session: Session, name: str) -> TuningJob | None:
    query = select(TuningJob).where(TuningJob.name_key == name.lower())
    return session.scalars(query).first()


# -- create -------------------------------------------------------------------------------------


def create_hyper_parameter_tuning_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Record a tuning job and start its tuner; ``{"HyperParameterTuningJobArn": ...}``."""
    parsed = shapes.parse_request("sagemaker", "CreateHyperParameterTuningJob", request)
    plan = prepare_tuning_request(parsed)
    name = plan.request["HyperParameterTuningJobName"]
    store = get_store()
    with store.read() as session:
        _check_warm_start(session, plan.request, plan.definitions)
    now = utcnow()
    folder = settings().home / "tuning" / name.lower()
    job = TuningJob(
        name=name,
        name_key=name.lower(),
        arn=tuning_job_arn(name),
        request=plan.request,
        status=TuningJobStatus.IN_PROGRESS,
        creation_time=now,
        last_modified_time=now,
        job_dir=str(folder),
    )
    try:
        with store.write() as session:
            session.add(job)
    except IntegrityError:
        raise ResourceInUse(
            f"A hyperparameter tuning job with the name, {name}, already exists. Choose a "
            "different name."
        ) from None
    shutil.rmtree(folder, ignore_errors=True)
    pid, started = _launch.start_daemon(store, "hpjobs.sagemaker._tuner", name, folder)
    with store.write() as session:
        fresh = session.get(TuningJob, job.id)
        if fresh is not None and fresh.tuner_pid is None:
            fresh.tuner_pid, fresh.tuner_started = pid, started
    return {"HyperParameterTuningJobArn": job.arn}


def _parameter_kinds(request: Mapping[str, Any]) -> dict[str, str]:
    """Tuned hyperparameter name → range kind, over all definitions of a request."""
    kinds: dict[str, str] = {}
    config = request["HyperParameterTuningJobConfig"]
    definitions = request.get("TrainingJobDefinitions") or [request["TrainingJobDefinition"]]
    for definition in definitions:
        ranges = definition.get("HyperParameterRanges") or config.get("ParameterRanges", {})
        for kind in (
            "IntegerParameterRanges",
            "ContinuousParameterRanges",
            "CategoricalParameterRanges",
        ):
            for entry in ranges.get(kind, []):
                kinds[entry["Name"]] = kind
    return kinds


def _hyperparameter_count(request: Mapping[str, Any]) -> int:
    definitions = request.get("TrainingJobDefinitions") or [request["TrainingJobDefinition"]]
    static = {k for d in definitions for k in d.get("StaticHyperParameters", {})}
    return len(static | set(_parameter_kinds(request)))


def _check_warm_start(session: Session, request: Mapping[str, Any], definitions: list[Any]) -> None:
    """Warm start rules: parents exist and have ended, share the objective metric, the number of
    static plus tunable hyperparameters, and the kind of every hyperparameter tuned in both."""
    warm = request.get("WarmStartConfig")
    if warm is None:
        return
    metric = definitions[0].objective["MetricName"]
    kinds = _parameter_kinds(request)
    count = _hyperparameter_count(request)
    for entry in warm["ParentHyperParameterTuningJobs"]:
        parent_name = entry.get("HyperParameterTuningJobName", "")
        parent = _find(session, parent_name)
        if parent is None:
            raise _not_found(parent_name)
        if parent.status not in _FINISHED:
            raise ValidationException(
                f"The parent hyperparameter tuning job {parent.name} is in status "
                f"{parent.status}. Warm start needs parents that are Completed, Stopped or Failed."
            )
        _check_compatible(parent, metric, kinds, count)


def _check_compatible(parent: TuningJob, metric: str, kinds: Mapping[str, str], count: int) -> None:
    plan = prepare_tuning_request(parent.request)
    if plan.definitions[0].objective["MetricName"] != metric:
        raise ValidationException(
            f"The objective metric must be the same as the parent hyperparameter tuning job "
            f"{parent.name}'s ({plan.definitions[0].objective['MetricName']})."
        )
    if _hyperparameter_count(parent.request) != count:
        raise ValidationException(
            "The total number of static plus tunable hyperparameters must be the same as in the "
            f"parent hyperparameter tuning job {parent.name}."
        )
    for name, kind in _parameter_kinds(parent.request).items():
        if kinds.get(name, kind) != kind:
            raise ValidationException(
                f"The hyperparameter {name} is a {kind[: -len('ParameterRanges')]} range in the "
                f"parent hyperparameter tuning job {parent.name}; its type cannot change."
            )


# -- liveness ------------------------------------------------------------------------------------


def _reap_if_dead(store: Store, job: TuningJob) -> bool:
    """Mark ``job`` Failed and stop its running training jobs if its tuner has died."""
    if job.status not in _ACTIVE or job.target != "local":
        return False
    if job.tuner_pid is None:
        if (utcnow() - job.creation_time).total_seconds() < 60:
            return False
    elif _launch.process_alive(job.tuner_pid, job.tuner_started):
        return False
    with store.write() as session:
        # FOR UPDATE (where the database has it): one reader reaps, the others find it done.
        fresh = session.get(TuningJob, job.id, with_for_update=True)
        if fresh is None or fresh.status not in _ACTIVE:
            return False
        now = utcnow()
        fresh.status = TuningJobStatus.FAILED
        fresh.failure_reason = (
            f"InternalServerError: the tuner process (pid {job.tuner_pid}) ended unexpectedly; "
            "its running training jobs were stopped."
        )
        fresh.end_time = fresh.last_modified_time = now
        _evaluate_finished_children(session, fresh)
    stop_children(store, job.id, evaluated=False)
    _stop_unstarted_children(store, job.id)
    return True


def _evaluate_finished_children(session: Session, job: TuningJob) -> None:
    """Evaluate the children that ended before the dead tuner could: a Completed child counts
    with the last value of its objective metric, as the tuner would have counted it; any other
    ending counts as Failed (only the tuner knew which stops it asked for itself)."""
    objectives = _objectives(job)
    pending = session.scalars(
        select(TrainingJob).where(
            TrainingJob.tuning_job_id == job.id,
            TrainingJob.objective_status == "Pending",
            TrainingJob.status.in_(list(_FINISHED)),
        )
    ).all()
    for child in pending:
        objective = objectives.get(child.tuning_definition)
        value = None
        if child.status == "Completed" and objective is not None:
            value = _latest_objective(session, child, objective["MetricName"])
        child.objective_value = value
        child.objective_status = "Failed" if value is None else "Succeeded"


def _stop_unstarted_children(store: Store, tuning_job_id: int) -> None:
    """Children whose supervisor the dead tuner never got to start: nothing will ever run them,
    so they are Stopped now rather than reaped as lost a minute later."""
    with store.write() as session:
        orphans = session.scalars(
            select(TrainingJob).where(
                TrainingJob.tuning_job_id == tuning_job_id,
                TrainingJob.supervisor_pid.is_(None),
                TrainingJob.status.in_(list(_ACTIVE)),
            )
        ).all()
        now = utcnow()
        for child in orphans:
            if child.status == TrainingJobStatus.IN_PROGRESS.value:
                record_transition(
                    session, child, TrainingJobStatus.STOPPING, SecondaryStatus.STOPPING, now=now
                )
            record_transition(
                session,
                child,
                TrainingJobStatus.STOPPED,
                SecondaryStatus.STOPPED,
                "The tuning job's tuner ended before this training job started.",
                now=now,
            )
            child.training_end_time = now
            child.queued = False


def stop_children(store: Store, tuning_job_id: int, evaluated: bool = True) -> list[str]:
    """Ask every running child of a tuning job to stop; the names asked. With ``evaluated``
    False (no tuner is left to evaluate them), children still Pending get ObjectiveStatus
    Failed."""
    from hpjobs.sagemaker.training_jobs import stop_training_job

    if not evaluated:
        with store.write() as session:
            session.execute(
                update(TrainingJob)
                .where(
                    TrainingJob.tuning_job_id == tuning_job_id,
                    TrainingJob.objective_status == "Pending",
                )
                .values(objective_status="Failed")
            )
    with store.read() as session:
        names = list(
            session.scalars(
                select(TrainingJob.name).where(
                    TrainingJob.tuning_job_id == tuning_job_id,
                    TrainingJob.status == TrainingJobStatus.IN_PROGRESS.value,
                )
            )
        )
    for name in names:
        with contextlib.suppress(ValidationException, ResourceNotFound):  # it ended meanwhile
            stop_training_job({"TrainingJobName": name})
    return names


def _checked_job_id(name: str) -> int:
    store = get_store()
    with store.read() as session:
        job = _find(session, name)
    if job is None:
        raise _not_found(name)
    _reap_if_dead(store, job)
    return job.id


@contextmanager
def _changing(name: str) -> Iterator[tuple[Session, TuningJob]]:
    """Tuning job ``name`` in a write transaction (``ResourceNotFound`` if there is none)."""
    job_id = _checked_job_id(name)
    with get_store().write() as session:
        job = session.get(TuningJob, job_id)
        if job is None:
            raise _not_found(name)
        yield session, job


# -- describe ------------------------------------------------------------------------------------


def describe_hyper_parameter_tuning_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Everything about one tuning job, in ``DescribeHyperParameterTuningJobResponse`` order."""
    parsed = shapes.parse_request("sagemaker", "DescribeHyperParameterTuningJob", request)
    job_id = _checked_job_id(parsed["HyperParameterTuningJobName"])
    with get_store().read() as session:
        job = session.get(TuningJob, job_id)
        if job is None:
            raise _not_found(parsed["HyperParameterTuningJobName"])
        if job.target != "aws":
            return _describe(session, job)
        name, arn = job.name, job.arn
    from hpjobs.redaction import masked_tuning_description

    return masked_tuning_description(remote.describe_remote_tuning_job(job_id, name, arn))


def _remote_job(name: str) -> tuple[int, str, str] | None:
    """``(id, name, arn)`` of tuning job ``name`` when it runs on AWS; None for a local one."""
    with get_store().read() as session:
        job = _find(session, name)
        if job is None:
            raise _not_found(name)
        return (job.id, job.name, job.arn) if job.target == "aws" else None


def _describe(session: Session, job: TuningJob) -> dict[str, Any]:
    from hpjobs.redaction import masked_tuning_description

    children = _children(session, job.id)
    end = job.end_time or utcnow()
    computed: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job.arn,
        "HyperParameterTuningJobStatus": job.status,
        "CreationTime": job.creation_time,
        "HyperParameterTuningEndTime": job.end_time,
        "LastModifiedTime": job.last_modified_time,
        "TrainingJobStatusCounters": status_counters(children),
        "ObjectiveStatusCounters": objective_counters(children),
        "BestTrainingJob": _best_summary(session, job, children),
        "OverallBestTrainingJob": _overall_best(session, job, children),
        "FailureReason": job.failure_reason,
        "TuningJobCompletionDetails": _completion_details(job),
        "ConsumedResources": {
            "RuntimeInSeconds": max(0, math.ceil((end - job.creation_time).total_seconds()))
        },
    }
    described = shapes.output_in_model_order(
        "sagemaker", "DescribeHyperParameterTuningJob", computed, job.request
    )
    return masked_tuning_description(described)


def _completion_details(job: TuningJob) -> dict[str, Any]:
    """``TuningJobCompletionDetails`` (the tuner keeps the convergence time as epoch seconds)."""
    details = dict(job.completion_details or {})
    details.setdefault("NumberOfTrainingJobsObjectiveNotImproving", 0)
    if "ConvergenceDetectedTime" in details:
        seconds = float(details["ConvergenceDetectedTime"])
        details["ConvergenceDetectedTime"] = datetime.fromtimestamp(seconds, timezone.utc)
    return details


def _children(session: Session, tuning_job_id: int) -> list[TrainingJob]:
    query = select(TrainingJob).where(TrainingJob.tuning_job_id == tuning_job_id)
    return list(session.scalars(query.order_by(TrainingJob.id)))


def status_counters(children: Iterable[TrainingJob]) -> dict[str, int]:
    """``TrainingJobStatusCounters``: failures caused by hpjobs itself count as retryable."""
    counters = {
        "Completed": 0,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    for child in children:
        if child.status in ("InProgress", "Stopping"):
            counters["InProgress"] += 1
        elif child.status == "Failed":
            internal = (child.failure_reason or "").startswith("InternalServerError")
            counters["RetryableError" if internal else "NonRetryableError"] += 1
        elif child.status in counters:
            counters[child.status] += 1
    return counters


def objective_status(child: TrainingJob) -> str:
    """``ObjectiveStatus``: Pending until the tuner has evaluated the child's objective."""
    return child.objective_status or "Pending"


def objective_counters(children: Iterable[TrainingJob]) -> dict[str, int]:
    counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for child in children:
        counters[objective_status(child)] += 1
    return counters


def _objectives(job: TuningJob) -> dict[str | None, dict[str, str]]:
    """Each definition's objective (keyed by definition name; None for a single definition)."""
    request = job.request
    config = request["HyperParameterTuningJobConfig"]
    definitions = request.get("TrainingJobDefinitions") or [request["TrainingJobDefinition"]]
    objectives = {}
    for definition in definitions:
        objective = definition.get("TuningObjective") or config["HyperParameterTuningJobObjective"]
        objectives[definition.get("DefinitionName")] = objective
    return objectives


def _latest_objective(session: Session, child: TrainingJob, metric: str) -> float | None:
    """The objective the tuner counted, or else the latest value the child has emitted."""
    if child.objective_value is not None:
        return child.objective_value
    query = (
        select(MetricPoint.value)
        .where(MetricPoint.job_id == child.id, MetricPoint.name == metric)
        .order_by(MetricPoint.id.desc())
        .limit(1)
    )
    value = session.scalar(query)
    return None if value is None else float(value)


def child_summary(session: Session, child: TrainingJob, tuning: TuningJob | None) -> dict[str, Any]:
    """A ``HyperParameterTrainingJobSummary`` of one child training job, members in the
    model's order (the order the AWS CLI prints them in)."""
    final = None
    if tuning is not None:
        objective = _objectives(tuning).get(child.tuning_definition)
        if objective is not None:
            value = _latest_objective(session, child, objective["MetricName"])
            if value is not None:
                final = {
                    "Type": objective["Type"],
                    "MetricName": objective["MetricName"],
                    "Value": value,
                }
    summary: dict[str, Any] = {
        "TrainingJobDefinitionName": child.tuning_definition,
        "TrainingJobName": child.name,
        "TrainingJobArn": child.arn,
        "TuningJobName": None if tuning is None else tuning.name,
        "CreationTime": child.creation_time,
        "TrainingStartTime": child.training_start_time,
        "TrainingEndTime": child.training_end_time,
        "TrainingJobStatus": child.status,
        "TunedHyperParameters": dict(child.tuned_hyperparameters or {}),
        "FailureReason": child.failure_reason,
        "FinalHyperParameterTuningJobObjectiveMetric": final,
        "ObjectiveStatus": objective_status(child),
    }
    return {k: v for k, v in summary.items() if v is not None}


def _best(children: Iterable[TrainingJob], minimize: bool) -> TrainingJob | None:
    scored = [
        (c.objective_value if minimize else -c.objective_value, c.id, c)
        for c in children
        if c.objective_value is not None and c.status in _FINISHED
    ]
    return min(scored, key=lambda entry: entry[:2])[2] if scored else None


def _minimize(job: TuningJob) -> bool:
    return next(iter(_objectives(job).values()))["Type"] == "Minimize"


def _best_summary(
    session: Session, job: TuningJob, children: list[TrainingJob]
) -> dict[str, Any] | None:
    best = _best(children, _minimize(job))
    return None if best is None else child_summary(session, best, job)


def _overall_best(
    session: Session, job: TuningJob, children: list[TrainingJob]
) -> dict[str, Any] | None:
    """Only for warm start with IdenticalDataAndAlgorithm: the best of this job and its parents."""
    warm = job.request.get("WarmStartConfig")
    if warm is None or warm["WarmStartType"] != "IdenticalDataAndAlgorithm":
        return None
    pool = {c.id: (c, job) for c in children}
    for entry in warm["ParentHyperParameterTuningJobs"]:
        parent = _find(session, entry.get("HyperParameterTuningJobName", ""))
        if parent is not None:
            pool.update({c.id: (c, parent) for c in _children(session, parent.id)})
    best = _best([c for c, _ in pool.values()], _minimize(job))
    return None if best is None else child_summary(session, best, pool[best.id][1])


# -- list ----------------------------------------------------------------------------------------


def list_hyper_parameter_tuning_jobs(request: Mapping[str, Any]) -> dict[str, Any]:
    """Tuning job summaries: filtered, then sorted (default Name, Ascending), then paged."""
    parsed = shapes.parse_request("sagemaker", "ListHyperParameterTuningJobs", request)
    query = select(TuningJob)
    if parsed.get("NameContains"):
        query = query.where(
            TuningJob.name_key.contains(parsed["NameContains"].lower(), autoescape=True)
        )
    if parsed.get("StatusEquals"):
        query = query.where(TuningJob.status == parsed["StatusEquals"])
    query = time_filters(query, parsed, TuningJob.creation_time, TuningJob.last_modified_time)
    column = {
        "Name": TuningJob.name_key,
        "Status": TuningJob.status,
        "CreationTime": TuningJob.creation_time,
    }[parsed.get("SortBy", "Name")]
    descending = parsed.get("SortOrder", "Ascending") == "Descending"
    order = [column.desc(), TuningJob.id.desc()] if descending else [column, TuningJob.id]
    limit = parsed.get("MaxResults", _DEFAULT_PAGE)
    token = PageToken.for_request(parsed)
    store = get_store()
    with store.read() as session:
        page = list(session.scalars(query.order_by(*order).offset(token.offset).limit(limit + 1)))
    if any([_reap_if_dead(store, job) for job in page[:limit]]):
        with store.read() as session:
            page = list(
                session.scalars(query.order_by(*order).offset(token.offset).limit(limit + 1))
            )
    with store.read() as session:
        summaries = [_tuning_summary(session, job) for job in page[:limit]]
    for index, job in enumerate(page[:limit]):
        if job.target == "aws":
            summaries[index] = _remote_summary(job, summaries[index])
    response: dict[str, Any] = {"HyperParameterTuningJobSummaries": summaries}
    if len(page) > limit:
        response["NextToken"] = token.next(limit)
    return response


def _tuning_summary(session: Session, job: TuningJob) -> dict[str, Any]:
    children = _children(session, job.id)
    config = job.request["HyperParameterTuningJobConfig"]
    summary: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job.arn,
        "HyperParameterTuningJobStatus": job.status,
        "Strategy": config["Strategy"],
        "CreationTime": job.creation_time,
        "HyperParameterTuningEndTime": job.end_time,
        "LastModifiedTime": job.last_modified_time,
        "TrainingJobStatusCounters": status_counters(children),
        "ObjectiveStatusCounters": objective_counters(children),
        "ResourceLimits": config["ResourceLimits"],
    }
    return {k: v for k, v in summary.items() if v is not None}


def _remote_summary(job: TuningJob, stored: dict[str, Any]) -> dict[str, Any]:
    """The summary of a tuning job on AWS, from AWS's description (the stored one when AWS
    cannot be reached)."""
    from cloud.aws import AwsSetupError

    try:
        description = remote.describe_remote_tuning_job(job.id, job.name, job.arn)
    except (AwsSetupError, ServiceError):
        return stored
    config = description.get("HyperParameterTuningJobConfig", {})
    summary: dict[str, Any] = {
        "HyperParameterTuningJobName": description["HyperParameterTuningJobName"],
        "HyperParameterTuningJobArn": description["HyperParameterTuningJobArn"],
        "HyperParameterTuningJobStatus": description["HyperParameterTuningJobStatus"],
        "Strategy": config.get("Strategy", stored["Strategy"]),
        "CreationTime": description.get("CreationTime", job.creation_time),
        "HyperParameterTuningEndTime": description.get("HyperParameterTuningEndTime"),
        "LastModifiedTime": description.get("LastModifiedTime"),
        "TrainingJobStatusCounters": description.get(
            "TrainingJobStatusCounters", stored["TrainingJobStatusCounters"]
        ),
        "ObjectiveStatusCounters": description.get(
            "ObjectiveStatusCounters", stored["ObjectiveStatusCounters"]
        ),
        "ResourceLimits": config.get("ResourceLimits", stored["ResourceLimits"]),
    }
    return {k: v for k, v in summary.items() if v is not None}


def tuning_job_children(name: str) -> list[dict[str, Any]]:
    """Every training job of tuning job ``name`` (all pages of
    ListTrainingJobsForHyperParameterTuningJob)."""
    request: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100}
    children: list[dict[str, Any]] = []
    while True:
        page = list_training_jobs_for_hyper_parameter_tuning_job(request)
        children += page["TrainingJobSummaries"]
        if "NextToken" not in page:
            return children
        request["NextToken"] = page["NextToken"]


def list_training_jobs_for_hyper_parameter_tuning_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """A tuning job's training jobs: filtered by status, sorted (default Name, Ascending; by
    ``FinalObjectiveMetricValue`` only jobs with an objective value are listed), then paged."""
    parsed = shapes.parse_request(
        "sagemaker", "ListTrainingJobsForHyperParameterTuningJob", request
    )
    name = parsed["HyperParameterTuningJobName"]
    found = _remote_job(name)
    if found is not None:
        request = {**parsed, "HyperParameterTuningJobName": found[1]}
        return remote.remote_call(
            "ListTrainingJobsForHyperParameterTuningJob", request, remote.region_of(found[2])
        )
    job_id = _checked_job_id(name)
    query = select(TrainingJob).where(TrainingJob.tuning_job_id == job_id)
    if parsed.get("StatusEquals"):
        query = query.where(TrainingJob.status == parsed["StatusEquals"])
    sort_by = parsed.get("SortBy", "Name")
    if sort_by == "FinalObjectiveMetricValue":
        query = query.where(TrainingJob.objective_value.is_not(None))
    column = {
        "Name": TrainingJob.name,
        "CreationTime": TrainingJob.creation_time,
        "Status": TrainingJob.status,
        "FinalObjectiveMetricValue": TrainingJob.objective_value,
    }[sort_by]
    descending = parsed.get("SortOrder", "Ascending") == "Descending"
    order = [column.desc(), TrainingJob.id.desc()] if descending else [column, TrainingJob.id]
    limit = parsed.get("MaxResults", _DEFAULT_PAGE)
    token = PageToken.for_request(parsed)
    with get_store().read() as session:
        tuning = session.get(TuningJob, job_id)
        page = list(session.scalars(query.order_by(*order).offset(token.offset).limit(limit + 1)))
        summaries = [child_summary(session, child, tuning) for child in page[:limit]]
    response: dict[str, Any] = {"TrainingJobSummaries": summaries}
    if len(page) > limit:
        response["NextToken"] = token.next(limit)
    return response


# -- stop and delete -----------------------------------------------------------------------------


def stop_hyper_parameter_tuning_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Stop a running tuning job and every training job it has running: Stopping, then Stopped."""
    parsed = shapes.parse_request("sagemaker", "StopHyperParameterTuningJob", request)
    found = _remote_job(parsed["HyperParameterTuningJobName"])
    if found is not None:
        job_id, name, arn = found
        remote.remote_call(
            "StopHyperParameterTuningJob",
            {"HyperParameterTuningJobName": name},
            remote.region_of(arn),
        )
        remote.describe_remote_tuning_job(job_id, name, arn)
        return {}
    with _changing(parsed["HyperParameterTuningJobName"]) as (_, job):
        if job.status != TuningJobStatus.IN_PROGRESS:
            raise ValidationException(
                "The request was rejected because the hyperparameter tuning job is in status "
                f"{job.status}."
            )
        job.status = TuningJobStatus.STOPPING
        job.last_modified_time = utcnow()
    stop_children(get_store(), job.id)
    return {}


def delete_hyper_parameter_tuning_job(request: Mapping[str, Any]) -> dict[str, Any]:
    """Delete a finished tuning job's record; its training jobs and their artifacts stay."""
    parsed = shapes.parse_request("sagemaker", "DeleteHyperParameterTuningJob", request)
    found = _remote_job(parsed["HyperParameterTuningJobName"])
    if found is not None:
        job_id, name, arn = found
        remote.remote_call(
            "DeleteHyperParameterTuningJob",
            {"HyperParameterTuningJobName": name},
            remote.region_of(arn),
        )
        with get_store().write() as session:
            session.execute(delete(TuningJob).where(TuningJob.id == job_id))
        return {}
    with _changing(parsed["HyperParameterTuningJobName"]) as (session, job):
        if job.status not in _FINISHED:
            raise ResourceInUse(
                f"The hyperparameter tuning job {job.name} is in status {job.status} and cannot "
                "be deleted. Only tuning jobs in status Completed, Failed or Stopped can be "
                "deleted."
            )
        folder = job.job_dir
        session.execute(delete(TuningJob).where(TuningJob.id == job.id))
    shutil.rmtree(folder, ignore_errors=True)
    return {}
