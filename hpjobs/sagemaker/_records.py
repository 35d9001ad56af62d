"""Writing a training job's lifecycle to the store: every transition checked, timed and kept."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from hpjobs.sagemaker.status import (
    STATUS_MESSAGES,
    SecondaryStatus,
    TrainingJobStatus,
    check_transition,
)
from hpjobs.store import MetricPoint, StatusTransition, TrainingJob
from hpjobs.store.models import UTCDateTime

__all__ = ["MetricRow", "add_metrics", "current_status", "record_transition", "utcnow"]

#: ``(name, value, timestamp, epoch)`` of one metric point.
MetricRow = tuple[str, float, datetime, int | None]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def current_status(job: TrainingJob) -> tuple[TrainingJobStatus, SecondaryStatus]:
    return TrainingJobStatus(job.status), SecondaryStatus(job.secondary_status)


def record_transition(
    session: Session,
    job: TrainingJob,
    status: TrainingJobStatus,
    secondary: SecondaryStatus,
    message: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move ``job`` to ``status``/``secondary`` (raising ``IllegalTransition`` for illegal moves)
    and keep the move with its time and AWS status message."""
    now = now or utcnow()
    old = None if job.status is None else current_status(job)
    check_transition(old, (status, secondary))
    job.status = status.value
    job.secondary_status = secondary.value
    job.last_modified_time = now
    # Set from the transition's side, the job's list of transitions is not read from the
    # database just to append to it (it is appended to where already loaded).
    session.add(
        StatusTransition(
            job=job,
            time=now,
            status=status.value,
            secondary_status=secondary.value,
            message=message or STATUS_MESSAGES.get(secondary, secondary.value),
        )
    )


def add_metrics(session: Session, job_id: int, rows: Iterable[MetricRow]) -> None:
    """Insert metric points in one statement (on PostgreSQL through psycopg, one ``COPY``, which
    takes points about three times as fast as a batch of INSERTs)."""
    connection = session.connection()
    if connection.dialect.driver == "psycopg":
        _copy_metrics(connection.connection.driver_connection, job_id, rows, connection.dialect)
        return
    values = [
        {"job_id": job_id, "name": name, "value": value, "timestamp": ts, "epoch": epoch}
        for name, value, ts, epoch in rows
    ]
    if values:
        session.execute(insert(MetricPoint), values)


_TIMESTAMP = UTCDateTime()


def _copy_metrics(raw: Any, job_id: int, rows: Iterable[MetricRow], dialect: Dialect) -> None:
    """``COPY metric_points ... FROM STDIN`` on a psycopg 3 connection, in its transaction."""
    statement = "COPY metric_points (job_id, name, value, timestamp, epoch) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for name, value, timestamp, epoch in rows:
            stored = _TIMESTAMP.process_bind_param(timestamp, dialect)
            copy.write_row((job_id, name, value, stored, epoch))
