"""The store: where the database lives, how SQLite is set up, automatic migrations, the ORM
models against the migrated schema, timestamps, cascades, concurrent processes, and the lifecycle
rules every status transition is checked against."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, delete, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

import hpjobs.store
from hpjobs.sagemaker._records import add_metrics, record_transition
from hpjobs.sagemaker.status import (
    STATUS_MESSAGES,
    IllegalTransition,
    SecondaryStatus,
    TrainingJobStatus,
    check_transition,
)
from hpjobs.store import (
    SCHEMA_REVISION,
    MetricPoint,
    StatusTransition,
    Store,
    TrainingJob,
    close_stores,
    get_store,
)
from hpjobs.store.models import Base, UTCDateTime

MIGRATIONS = Path(hpjobs.store.__file__).with_name("migrations")
T, S = TrainingJobStatus, SecondaryStatus
Status = tuple[TrainingJobStatus, SecondaryStatus]
UTC = timezone.utc


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: an SQLite file, or a new database on the session's PostgreSQL server
    (skipped with the reason where none can start)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_server").create_database())
    return sqlite_url(tmp_path / "store.db")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A store of its own on a fresh database of each engine, disposed of afterwards."""
    made = Store(database_url)
    yield made
    made.engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A store of its own on a fresh SQLite file, disposed of afterwards."""
    made = Store(sqlite_url(tmp_path / "store.db"))
    yield made
    made.engine.dispose()


def new_job(name: str, when: datetime | None = None, *, started: bool = True) -> TrainingJob:
    """A job row; ``started`` fills in InProgress/Starting, else ``record_transition`` must."""
    moment = when or datetime.now(UTC)
    job = TrainingJob(
        name=name,
        arn=f"arn:aws:sagemaker:us-west-2:000000000000:training-job/{name}",
        target="local",
        request={"TrainingJobName": name},
        creation_time=moment,
        model_artifacts=f"file:///out/{name}/output/model.tar.gz",
        job_dir=f"/jobs/{name}",
        log_path=f"/jobs/{name}/logs/algo-1.log",
    )
    if started:
        job.status = "InProgress"
        job.secondary_status = "Starting"
        job.last_modified_time = moment
    return job


def count(session: Session, model: type[Base], job_id: int | None = None) -> int:
    query = select(func.count()).select_from(model)
    if job_id is not None:
        query = query.where(model.job_id == job_id)  # type: ignore[attr-defined]
    return int(session.scalar(query) or 0)


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# ------------------------------------------------------------------------------------------------
# Where the database is, and how SQLite is set up
# ------------------------------------------------------------------------------------------------


def test_sqlite_file_is_created_in_hpjobs_home(home: Path) -> None:
    assert not home.exists()
    store = get_store()
    database = home / "hpjobs.db"
    assert store.url == sqlite_url(database)
    assert database.is_file()
    with sqlite3.connect(database) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (SCHEMA_REVISION,)
        ]
    assert get_store() is store


def _open_files_under(folder: Path) -> list[str]:
    """The files under ``folder`` that this process holds open."""
    held = []
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith(f"{folder}/"):
            held.append(Path(target).name)
    return sorted(held)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_close_stores_lets_go_of_the_database_files(home: Path) -> None:
    store = get_store()
    with store.write() as session:
        session.add(new_job("held"))
    assert _open_files_under(home) == ["hpjobs.db", "hpjobs.db-shm", "hpjobs.db-wal"]
    close_stores()
    assert _open_files_under(home) == []
    again = get_store()
    assert again is not store
    with again.read() as session:
        assert session.scalars(select(TrainingJob.name)).all() == ["held"]


def test_connections_use_wal_busy_timeout_and_foreign_keys(sqlite_store: Store) -> None:
    store = sqlite_store
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    for opened in (store.read, store.write):
        with opened() as session:
            connection = session.connection()
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_database_url_setting_points_at_another_sqlite_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere" / "jobs.db"
    monkeypatch.setenv("HPJOBS_DATABASE_URL", sqlite_url(elsewhere))
    store = get_store()
    assert store.url == sqlite_url(elsewhere)
    with store.write() as session:
        session.add(new_job("elsewhere-job"))
    assert elsewhere.is_file()
    assert not (home / "hpjobs.db").exists()
    with sqlite3.connect(elsewhere) as raw:
        assert raw.execute("SELECT name FROM training_jobs").fetchall() == [("elsewhere-job",)]


# ------------------------------------------------------------------------------------------------
# Migrations
# ------------------------------------------------------------------------------------------------


def test_schema_revision_is_the_alembic_head() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS))
    assert scripts.get_heads() == [SCHEMA_REVISION]
    assert scripts.get_current_head() == SCHEMA_REVISION


def test_older_database_is_upgraded_automatically(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "old.db")
    first = Store(url)
    with first.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(first.engine).get_table_names()) <= {"alembic_version"}
    first.engine.dispose()

    second = Store(url)
    try:
        tables = set(inspect(second.engine).get_table_names())
        assert tables == {"alembic_version", *Base.metadata.tables}
        with second.engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        assert [row[0] for row in versions] == [SCHEMA_REVISION]
        with second.write() as session:
            session.add(new_job("after-upgrade"))
        with second.read() as session:
            assert session.scalars(select(TrainingJob.name)).all() == ["after-upgrade"]
    finally:
        second.engine.dispose()


def test_upgrade_to_0004_keeps_tuning_jobs_and_their_children(tmp_path: Path) -> None:
    """0004 adds ``tuning_jobs.target``; rows written at 0003 keep their links and read as
    local tuning jobs."""
    url = sqlite_url(tmp_path / "at-0003.db")
    first = Store(url)
    with first.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
    first.engine.dispose()
    raw = sqlite3.connect(tmp_path / "at-0003.db")
    raw.execute("PRAGMA foreign_keys=ON")
    raw.execute(
        "INSERT INTO tuning_jobs (id, name, name_key, arn, request, status, creation_time, "
        "last_modified_time, job_dir) VALUES (1, 'Tune', 'tune', 'arn:t', '{}', 'Completed', "
        "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '')"
    )
    raw.execute(
        "INSERT INTO training_jobs (id, name, arn, target, request, status, secondary_status, "
        "creation_time, last_modified_time, model_artifacts, job_dir, log_path, tuning_job_id) "
        "VALUES (1, 'child', 'arn:c', 'local', '{}', 'Completed', 'Completed', "
        "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '', '', '', 1)"
    )
    raw.commit()
    raw.close()
    second = Store(url)
    try:
        from hpjobs.store import TuningJob

        with second.read() as session:
            tuning = session.scalars(select(TuningJob)).one()
            assert (tuning.name, tuning.target) == ("Tune", "local")
            child = session.scalars(select(TrainingJob)).one()
            assert child.tuning_job_id == tuning.id
    finally:
        second.engine.dispose()


# SQLite cannot reflect expression indexes; the PostgreSQL-only trigram index is compared there.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_models_match_the_migrated_schema(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []


# ------------------------------------------------------------------------------------------------
# Timestamps
# ------------------------------------------------------------------------------------------------


def test_utc_datetime_refuses_naive_and_stores_naive_utc() -> None:
    from sqlalchemy.dialects import sqlite

    kind = UTCDateTime()
    dialect = sqlite.dialect()
    with pytest.raises(ValueError, match="naive"):
        kind.process_bind_param(datetime(2024, 1, 1, 12, 0), dialect)
    plus_two = timezone(timedelta(hours=2))
    assert kind.process_bind_param(datetime(2024, 1, 1, 12, 0, tzinfo=plus_two), dialect) == (
        datetime(2024, 1, 1, 10, 0)
    )
    assert kind.process_bind_param(None, dialect) is None
    back = kind.process_result_value(datetime(2024, 1, 1, 10, 0), dialect)
    assert back == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert back is not None and back.tzinfo is UTC
    assert kind.process_result_value(None, dialect) is None


def test_naive_datetime_is_refused_through_the_orm(store: Store) -> None:
    with pytest.raises(StatementError) as caught, store.write() as session:
        session.add(new_job("naive", when=datetime(2024, 1, 1, 12, 0)))
    assert isinstance(caught.value.orig, ValueError)
    with store.read() as session:
        assert count(session, TrainingJob) == 0


def test_timestamps_come_back_aware_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    with store.write() as session:
        session.add(new_job("aware", when=datetime(2024, 1, 1, 12, 0, 0, 500, tzinfo=plus_two)))
    with store.read() as session:
        job = session.scalars(select(TrainingJob)).one()
        assert job.creation_time == datetime(2024, 1, 1, 10, 0, 0, 500, tzinfo=UTC)
        assert job.creation_time.tzinfo is UTC
        assert job.training_start_time is None
        raw = session.connection().exec_driver_sql("SELECT creation_time FROM training_jobs")
        stored = {
            "sqlite": "2024-01-01 10:00:00.000500",
            "postgresql": datetime(2024, 1, 1, 10, 0, 0, 500),  # timestamp without time zone
        }
        assert raw.scalar() == stored[session.connection().dialect.name]


# ------------------------------------------------------------------------------------------------
# Cascades and foreign keys
# ------------------------------------------------------------------------------------------------


def _job_with_rows(session: Session, name: str) -> int:
    job = new_job(name, started=False)
    session.add(job)
    record_transition(session, job, T.IN_PROGRESS, S.STARTING)
    record_transition(session, job, T.IN_PROGRESS, S.DOWNLOADING)
    record_transition(session, job, T.IN_PROGRESS, S.TRAINING)
    session.flush()
    now = datetime.now(UTC)
    session.add_all(
        MetricPoint(job_id=job.id, name="loss", value=1.0 / epoch, timestamp=now, epoch=epoch)
        for epoch in range(1, 4)
    )
    return job.id


@pytest.mark.parametrize("how", ["orm-delete", "delete-statement"])
def test_deleting_a_job_cascades_to_transitions_and_metric_points(store: Store, how: str) -> None:
    with store.write() as session:
        doomed = _job_with_rows(session, "doomed")
        kept = _job_with_rows(session, "kept")
    with store.read() as session:
        assert count(session, StatusTransition, doomed) == 3
        assert count(session, MetricPoint, doomed) == 3
    with store.write() as session:
        if how == "orm-delete":
            job = session.get(TrainingJob, doomed)
            assert job is not None
            session.delete(job)
        else:
            session.execute(delete(TrainingJob).where(TrainingJob.id == doomed))
    with store.read() as session:
        assert session.get(TrainingJob, doomed) is None
        assert count(session, StatusTransition, doomed) == 0
        assert count(session, MetricPoint, doomed) == 0
        assert count(session, StatusTransition, kept) == 3
        assert count(session, MetricPoint, kept) == 3


def test_metric_points_are_added_in_order_with_their_times_and_epochs(store: Store) -> None:
    """``add_metrics`` (the supervisor's batch write; a COPY on PostgreSQL) keeps every value,
    timestamp (aware UTC, microseconds) and epoch, in order."""
    plus_two = timezone(timedelta(hours=2))
    start = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=plus_two)
    rows = [
        ("train:loss" if step % 2 else "validation:accuracy", step / 7, start, step // 10 or None)
        for step in range(1200)
    ]
    rows = [(n, v, t + timedelta(microseconds=i), e) for i, (n, v, t, e) in enumerate(rows)]
    with store.write() as session:
        job_id = _job_with_rows(session, "metrics")
    with store.write() as session:
        add_metrics(session, job_id, rows[:700])
    with store.write() as session:
        add_metrics(session, job_id, rows[700:])
        add_metrics(session, job_id, [])
    with store.read() as session:
        stored = session.execute(
            select(MetricPoint.name, MetricPoint.value, MetricPoint.timestamp, MetricPoint.epoch)
            .where(MetricPoint.job_id == job_id, MetricPoint.id > 3)
            .order_by(MetricPoint.id)
        ).all()
    assert [tuple(row) for row in stored] == [(n, v, t.astimezone(UTC), e) for n, v, t, e in rows]
    assert all(row.timestamp.tzinfo is UTC for row in stored)


def test_rows_of_a_missing_job_are_refused(store: Store) -> None:
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError), store.write() as session:
        session.add(MetricPoint(job_id=12345, name="loss", value=1.0, timestamp=now))
    with store.read() as session:
        assert count(session, MetricPoint) == 0


def test_job_names_are_unique(store: Store) -> None:
    with store.write() as session:
        session.add(new_job("same"))
    with pytest.raises(IntegrityError), store.write() as session:
        session.add(new_job("same"))


def test_illegal_transition_rolls_the_write_back(store: Store) -> None:
    with store.write() as session:
        job_id = _job_with_rows(session, "rolled")
    with pytest.raises(IllegalTransition), store.write() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        record_transition(session, job, T.COMPLETED, S.COMPLETED)
    with store.read() as session:
        job = session.get(TrainingJob, job_id)
        assert job is not None
        assert (job.status, job.secondary_status) == ("InProgress", "Training")
        assert [t.secondary_status for t in job.transitions] == [
            "Starting",
            "Downloading",
            "Training",
        ]


# ------------------------------------------------------------------------------------------------
# Several processes at once
# ------------------------------------------------------------------------------------------------

_PRELUDE = """
import sys, time
from pathlib import Path
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
from hpjobs.store import Store, get_store
"""

_MIGRATE = """
import alembic.command, alembic.config  # loaded before the start, so both race on the lock

url = sys.argv[3]
ready.touch()
while not go.exists():
    time.sleep(0.001)
store = Store(url)
with store.engine.connect() as connection:
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
print([row[0] for row in rows])
"""

_WRITE = """
from hpjobs.sagemaker._records import record_transition, utcnow
from hpjobs.sagemaker.status import SecondaryStatus as S, TrainingJobStatus as T
from hpjobs.store import TrainingJob

worker = int(sys.argv[3])
store = get_store()
ready.touch()
while not go.exists():
    time.sleep(0.001)
later = [
    (T.IN_PROGRESS, S.DOWNLOADING),
    (T.IN_PROGRESS, S.TRAINING),
    (T.IN_PROGRESS, S.UPLOADING),
    (T.COMPLETED, S.COMPLETED),
]
for number in range(50):
    name = f"w{worker}-{number}"
    job = TrainingJob(
        name=name, arn="arn", target="local", request={}, creation_time=utcnow(),
        model_artifacts="", job_dir="", log_path="",
    )
    with store.write() as session:
        session.add(job)
        record_transition(session, job, T.IN_PROGRESS, S.STARTING)
    for status, secondary in later:
        with store.read() as session:
            assert session.get(TrainingJob, job.id) is not None
        with store.write() as session:
            row = session.get(TrainingJob, job.id)
            record_transition(session, row, status, secondary)
print("done")
"""


def _run_together(tmp_path: Path, script: str, arguments: list[list[str]]) -> list[str]:
    """Start one process per argument list, release them at once, return their stdouts."""
    program = tmp_path / "worker.py"
    program.write_text(textwrap.dedent(_PRELUDE) + textwrap.dedent(script))
    go = tmp_path / "go"
    processes = []
    readies = []
    for index, extra in enumerate(arguments):
        ready = tmp_path / f"ready-{index}"
        readies.append(ready)
        processes.append(
            subprocess.Popen(
                [sys.executable, str(program), str(ready), str(go), *extra],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 30
        while not all(r.exists() for r in readies):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(p.poll() is None for p in processes), "a worker ended early"
            time.sleep(0.01)
        go.touch()
        results = [p.communicate(timeout=60) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    outputs = []
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert "database is locked" not in stderr
        assert process.returncode == 0, stderr
        outputs.append(stdout.strip())
    return outputs


def test_two_processes_creating_stores_on_one_fresh_database_both_succeed(
    tmp_path: Path, database_url: str
) -> None:
    outputs = _run_together(tmp_path, _MIGRATE, [[database_url]] * 2)
    assert outputs == [str([SCHEMA_REVISION])] * 2
    engine = create_engine(database_url)
    try:
        names = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    finally:
        engine.dispose()
    assert names == {"alembic_version", *Base.metadata.tables}
    assert [tuple(row) for row in versions] == [(SCHEMA_REVISION,)]


def test_concurrent_writers_all_land(
    home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPJOBS_DATABASE_URL", database_url)
    store = get_store()  # migrated here; the workers share the database through the setting
    outputs = _run_together(home.parent, _WRITE, [[str(worker)] for worker in range(4)])
    assert outputs == ["done"] * 4
    with store.read() as session:
        assert count(session, TrainingJob) == 200
        assert count(session, StatusTransition) == 200 * 5
        statuses = session.execute(
            select(TrainingJob.status, TrainingJob.secondary_status).distinct()
        ).all()
        assert [tuple(row) for row in statuses] == [("Completed", "Completed")]
        per_job = session.execute(
            select(StatusTransition.job_id, func.count()).group_by(StatusTransition.job_id)
        ).all()
        assert {row[1] for row in per_job} == {5}


# ------------------------------------------------------------------------------------------------
# The lifecycle
# ------------------------------------------------------------------------------------------------

_RUNNING = [(T.IN_PROGRESS, s) for s in (S.STARTING, S.DOWNLOADING, S.TRAINING, S.UPLOADING)]

LIFECYCLES: dict[str, list[Status]] = {
    "success": [*_RUNNING, (T.COMPLETED, S.COMPLETED)],
    "same-status-new-message": [
        (T.IN_PROGRESS, S.STARTING),
        (T.IN_PROGRESS, S.STARTING),
        (T.IN_PROGRESS, S.DOWNLOADING),
        (T.IN_PROGRESS, S.TRAINING),
        (T.IN_PROGRESS, S.TRAINING),
        (T.IN_PROGRESS, S.UPLOADING),
        (T.COMPLETED, S.COMPLETED),
    ],
    "max-runtime": [*_RUNNING[:3], (T.STOPPING, S.STOPPING), (T.STOPPED, S.MAX_RUNTIME_EXCEEDED)],
    "lost-while-stopping": [*_RUNNING[:3], (T.STOPPING, S.STOPPING), (T.FAILED, S.FAILED)],
}
for _stage in range(1, 5):
    LIFECYCLES[f"failed-after-{_RUNNING[_stage - 1][1].value}"] = [
        *_RUNNING[:_stage],
        (T.FAILED, S.FAILED),
    ]
    LIFECYCLES[f"stopped-after-{_RUNNING[_stage - 1][1].value}"] = [
        *_RUNNING[:_stage],
        (T.STOPPING, S.STOPPING),
        (T.STOPPED, S.STOPPED),
    ]


@pytest.mark.parametrize("steps", list(LIFECYCLES.values()), ids=list(LIFECYCLES))
def test_documented_lifecycles_are_allowed(steps: list[Status]) -> None:
    old: Status | None = None
    for new in steps:
        check_transition(old, new)
        old = new


ILLEGAL: list[tuple[Status | None, Status, str]] = [
    (
        (T.COMPLETED, S.COMPLETED),
        (T.IN_PROGRESS, S.TRAINING),
        "Completed/Completed cannot move to InProgress/Training",
    ),
    (None, (T.IN_PROGRESS, S.TRAINING), "a new job cannot start as InProgress/Training"),
    (None, (T.COMPLETED, S.COMPLETED), "a new job cannot start as Completed/Completed"),
    (
        (T.IN_PROGRESS, S.TRAINING),
        (T.IN_PROGRESS, S.STOPPED),
        "InProgress cannot show secondary status Stopped",
    ),
    (None, (T.IN_PROGRESS, S.STOPPED), "InProgress cannot show secondary status Stopped"),
    (
        (T.IN_PROGRESS, S.TRAINING),
        (T.COMPLETED, S.STOPPED),
        "Completed cannot show secondary status Stopped",
    ),
    (
        (T.STOPPING, S.STOPPING),
        (T.STOPPED, S.COMPLETED),
        "Stopped cannot show secondary status Completed",
    ),
    (
        (T.IN_PROGRESS, S.UPLOADING),
        (T.DELETING, S.STOPPED),
        "Deleting cannot show secondary status Stopped",
    ),
    (
        (T.IN_PROGRESS, S.TRAINING),
        (T.IN_PROGRESS, S.INTERRUPTED),
        "InProgress cannot show secondary status Interrupted",
    ),
    (
        (T.IN_PROGRESS, S.STARTING),
        (T.IN_PROGRESS, S.TRAINING),
        "InProgress/Starting cannot move to InProgress/Training",
    ),
    (
        (T.IN_PROGRESS, S.UPLOADING),
        (T.IN_PROGRESS, S.DOWNLOADING),
        "InProgress/Uploading cannot move to InProgress/Downloading",
    ),
    (
        (T.IN_PROGRESS, S.TRAINING),
        (T.COMPLETED, S.COMPLETED),
        "InProgress/Training cannot move to Completed/Completed",
    ),
    (
        (T.IN_PROGRESS, S.TRAINING),
        (T.STOPPED, S.STOPPED),
        "InProgress/Training cannot move to Stopped/Stopped",
    ),
    (
        (T.IN_PROGRESS, S.TRAINING),
        (T.STOPPED, S.MAX_RUNTIME_EXCEEDED),
        "InProgress/Training cannot move to Stopped/MaxRuntimeExceeded",
    ),
    (
        (T.STOPPING, S.STOPPING),
        (T.COMPLETED, S.COMPLETED),
        "Stopping/Stopping cannot move to Completed/Completed",
    ),
    (
        (T.STOPPING, S.STOPPING),
        (T.IN_PROGRESS, S.TRAINING),
        "Stopping/Stopping cannot move to InProgress/Training",
    ),
    (
        (T.STOPPED, S.STOPPED),
        (T.IN_PROGRESS, S.STARTING),
        "Stopped/Stopped cannot move to InProgress/Starting",
    ),
    (
        (T.FAILED, S.FAILED),
        (T.COMPLETED, S.COMPLETED),
        "Failed/Failed cannot move to Completed/Completed",
    ),
    (
        (T.COMPLETED, S.COMPLETED),
        (T.FAILED, S.FAILED),
        "Completed/Completed cannot move to Failed/Failed",
    ),
    (
        (T.STOPPED, S.MAX_RUNTIME_EXCEEDED),
        (T.STOPPED, S.STOPPED),
        "Stopped/MaxRuntimeExceeded cannot move to Stopped/Stopped",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), ILLEGAL)
def test_illegal_moves_raise(old: Status | None, new: Status, message: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(old, new)
    assert str(caught.value) == message


def test_status_values_are_botocore_enums() -> None:
    import botocore.session

    service = botocore.session.get_session().get_service_model("sagemaker")
    assert [s.value for s in TrainingJobStatus] == service.shape_for("TrainingJobStatus").enum
    assert [s.value for s in SecondaryStatus] == service.shape_for("SecondaryStatus").enum


def test_status_messages_are_the_ones_sagemaker_shows() -> None:
    assert STATUS_MESSAGES[S.STARTING] == "Starting the training job"
    assert STATUS_MESSAGES[S.DOWNLOADING] == "Downloading input data"
    assert STATUS_MESSAGES[S.TRAINING] == "Training image download completed. Training in progress."
    assert STATUS_MESSAGES[S.UPLOADING] == "Uploading generated training model"
    assert STATUS_MESSAGES[S.COMPLETED] == "Training job completed"
    assert STATUS_MESSAGES[S.STOPPING] == "Stopping the training job"
    assert STATUS_MESSAGES[S.STOPPED] == "Training job stopped"
