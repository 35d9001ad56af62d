"""The ORM tables of the store.

Timestamps are stored as naive UTC and come back timezone-aware (UTC), whatever the database.
Every schema change goes through an Alembic migration in ``migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "CustomModel",
    "CustomizationJob",
    "InvocationRecord",
    "MetricPoint",
    "StatusTransition",
    "TrainingJob",
    "TuningJob",
    "UTCDateTime",
    "caseless",
]


class caseless(FunctionElement[str]):
    """A string column as ``LIKE`` must see it to match without regard to case: ``lower(x)``,
    except on SQLite, whose ``LIKE`` ignores ASCII case already (and reads its listing index's
    names faster without a function call per row). Names and their filters are ASCII."""

    type = String()
    inherit_cache = True


@compiles(caseless)
def _caseless(element: caseless, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(func.lower(*element.clauses), **kw)


@compiles(caseless, "sqlite")
def _caseless_sqlite(element: caseless, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp kept as naive UTC in the database and handed out as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class TrainingJob(Base):
    """One training job: the validated request as sent and what has happened to it since."""

    __tablename__ = "training_jobs"
    __table_args__ = (
        # StatusEquals read in creation or name order, and the sort by status (migration 0005)
        Index("ix_training_jobs_status_creation_time", "status", "creation_time"),
        Index("ix_training_jobs_status_name", "status", "name"),
        Index("ix_training_jobs_status_id", "status", "id"),
        # the listing in creation order with what its filters look at
        Index(
            "ix_training_jobs_listing",
            "creation_time",
            "id",
            "name",
            "status",
            "last_modified_time",
        ),
        # the oldest job waiting for a free slot (migration 0006)
        Index("ix_training_jobs_queue", "queued", "id"),
        # NameContains on PostgreSQL: migration 0007 makes this a GIN index of the lower-cased
        # name's trigrams (USING gin, gin_trgm_ops). Those options are not repeated here: naming
        # them (postgresql_using=...) imports SQLAlchemy's PostgreSQL dialect into every hpjobs
        # process, some 20-40 ms of each command's start, whatever its database; nothing builds
        # the schema from these models (the migrations do), and Alembic's comparison of models
        # and database (tests/store) does not look at them.
        Index("ix_training_jobs_name_trgm", func.lower(text("name"))).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    arn: Mapped[str] = mapped_column(String(256))
    #: Where the job runs: ``local`` (this machine) or ``aws`` (SageMaker, region in the ARN).
    target: Mapped[str] = mapped_column(String(16), default="local")
    request: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    secondary_status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    creation_time: Mapped[datetime]
    last_modified_time: Mapped[datetime]
    training_start_time: Mapped[datetime | None]
    training_end_time: Mapped[datetime | None]
    model_artifacts: Mapped[str] = mapped_column(Text)
    job_dir: Mapped[str] = mapped_column(Text)
    log_path: Mapped[str] = mapped_column(Text)
    supervisor_pid: Mapped[int | None]
    supervisor_started: Mapped[float | None] = mapped_column(Float)
    #: A local job recorded but not started yet: HPJOBS_MAX_RUNNING_JOBS jobs were running.
    queued: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    heartbeat_time: Mapped[datetime | None]
    # Set for the children of a tuning job (the link survives the tuning job's deletion).
    tuning_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("tuning_jobs.id", ondelete="SET NULL"), index=True
    )
    tuning_job_arn: Mapped[str | None] = mapped_column(String(256))
    tuning_definition: Mapped[str | None] = mapped_column(String(64))
    tuned_hyperparameters: Mapped[dict[str, Any] | None]
    #: The objective the tuning job counted for this child (its last objective metric value).
    objective_value: Mapped[float | None] = mapped_column(Float)
    #: ``ObjectiveStatus``: Pending until the tuning job has evaluated the child's objective.
    objective_status: Mapped[str | None] = mapped_column(String(16))

    transitions: Mapped[list[StatusTransition]] = relationship(
        back_populates="job",
        order_by="StatusTransition.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class StatusTransition(Base):
    """A status change (or a new message for the same status), with its time."""

    __tablename__ = "status_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(
        ForeignKey("training_jobs.id", ondelete="CASCADE"), index=True
    )
    time: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    secondary_status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)

    job: Mapped[TrainingJob] = relationship(back_populates="transitions")


class MetricPoint(Base):
    """One value of one metric, as a ``MetricDefinitions`` regex found it in the job's log."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_job_name_id", "job_id", "name", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[datetime]
    epoch: Mapped[int | None]


class TuningJob(Base):
    """One hyperparameter tuning job: the validated request and where its search stands."""

    __tablename__ = "tuning_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    #: Tuning job names are not case sensitive: this is the lower-cased name, unique.
    name_key: Mapped[str] = mapped_column(String(32), unique=True)
    arn: Mapped[str] = mapped_column(String(256))
    #: Where the tuning job runs: ``local`` (this machine's tuner) or ``aws`` (SageMaker).
    target: Mapped[str] = mapped_column(String(16), default="local", server_default="local")
    request: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    creation_time: Mapped[datetime] = mapped_column(index=True)
    last_modified_time: Mapped[datetime]
    end_time: Mapped[datetime | None]
    #: ``TuningJobCompletionDetails`` as the tuner last wrote it.
    completion_details: Mapped[dict[str, Any] | None]
    job_dir: Mapped[str] = mapped_column(Text)
    tuner_pid: Mapped[int | None]
    tuner_started: Mapped[float | None] = mapped_column(Float)
    heartbeat_time: Mapped[datetime | None]


class InvocationRecord(Base):
    """One Bedrock runtime call: which model answered it, with what, and how much it cost."""

    __tablename__ = "invocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(index=True)
    operation: Mapped[str] = mapped_column(String(64))
    #: The ``modelId`` as the caller wrote it (bare id, inference profile or ARN).
    model_id: Mapped[str] = mapped_column(String(2048))
    #: The local model that answered: a shipped model's name or a folder.
    local_model: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]]
    input_tokens: Mapped[int]
    output_tokens: Mapped[int]
    latency_ms: Mapped[int]
    stop_reason: Mapped[str | None] = mapped_column(String(32))


class CustomizationJob(Base):
    """One Bedrock model customization job and the hpjobs training job that does its work."""

    __tablename__ = "customization_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_name: Mapped[str] = mapped_column(String(63), unique=True)
    job_arn: Mapped[str] = mapped_column(String(1011))
    #: The validated request, locations made absolute and hyperparameters with their defaults.
    request: Mapped[dict[str, Any]]
    #: ``clientRequestToken``: a second create with the same token returns this job.
    client_request_token: Mapped[str | None] = mapped_column(String(256), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    failure_message: Mapped[str | None] = mapped_column(Text)
    creation_time: Mapped[datetime] = mapped_column(index=True)
    last_modified_time: Mapped[datetime]
    end_time: Mapped[datetime | None]
    training_job_name: Mapped[str] = mapped_column(String(63))
    custom_model_name: Mapped[str] = mapped_column(String(63))
    custom_model_arn: Mapped[str] = mapped_column(String(1011))
    #: The foundation model id at the root of the customization (also for a custom base model).
    base_model_id: Mapped[str] = mapped_column(String(2048))
    customization_type: Mapped[str] = mapped_column(String(32))
    #: ``{"trainingMetrics": {...}, "validationMetrics": [...]}`` once the job has Completed.
    metrics: Mapped[dict[str, Any] | None]


class CustomModel(Base):
    """A model a customization job makes: ``Creating`` while the job runs, then ``Active``."""

    __tablename__ = "custom_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(63), unique=True)
    model_arn: Mapped[str] = mapped_column(String(1011), unique=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("customization_jobs.id", ondelete="SET NULL"), index=True
    )
    base_model_id: Mapped[str] = mapped_column(String(2048))
    #: The request family of the base model (``anthropic``, ``titan``...), kept for invocation.
    family: Mapped[str] = mapped_column(String(16))
    #: The folder holding the fine-tuned ``model.pt`` and ``config.json`` (set once Active).
    path: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    creation_time: Mapped[datetime] = mapped_column(index=True)
    #: ``{"trainingMetrics": {...}, "validationMetrics": [...]}`` as the job reported them.
    metrics: Mapped[dict[str, Any] | None]
