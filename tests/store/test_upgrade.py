"""Upgrades: a database made by the first released schema (revision 0001) is brought to the head
revision by the current hpjobs on first use, with every row kept and every value readable
through DescribeTrainingJob, ListTrainingJobs and the metric series.

On SQLite the database is the committed ``tests/fixtures/store-0001.sqlite``; on PostgreSQL the
same rows are written into a database migrated to 0001 (``make_store_0001.populate``).
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fixtures import make_store_0001 as first
from load.postgres import PostgresServer

from hpjobs.sagemaker.training_jobs import (
    describe_training_job,
    list_training_jobs,
    training_job_metrics,
)
from hpjobs.store import SCHEMA_REVISION, get_store
from hpjobs.store.models import Base

UTC = timezone.utc
_TABLES = {
    "training_jobs": "id",
    "status_transitions": "id",
    "metric_points": "id",
}


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables 0001 made, with the columns 0001 gave them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            reflected = sa.MetaData()
            reflected.reflect(connection, only=list(_TABLES))
            return {
                table: [
                    dict(row._mapping)
                    for row in connection.execute(
                        sa.select(
                            *(c for c in reflected.tables[table].c if c.name in columns)
                        ).order_by(reflected.tables[table].c.id)
                    )
                ]
                for table, columns in _columns_of_0001().items()
            }
    finally:
        engine.dispose()


def _columns_of_0001() -> dict[str, set[str]]:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        first.upgrade_to_0001(connection)
        inspector = sa.inspect(connection)
        columns = {t: {c["name"] for c in inspector.get_columns(t)} for t in _TABLES}
    engine.dispose()
    return columns


def _revision(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return str(
                connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            )
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite-fixture-file", "postgresql"])
def first_release_store(
    request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The URL of a database at revision 0001 holding ``make_store_0001.JOBS``; hpjobs is
    pointed at it and has not opened it yet."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            first.upgrade_to_0001(connection)
            first.populate(connection)
        engine.dispose()
        monkeypatch.setenv("HPJOBS_DATABASE_URL", url)
        return url
    home.mkdir(parents=True)
    shutil.copyfile(first.FIXTURE, home / "hpjobs.db")
    return f"sqlite:///{home / 'hpjobs.db'}"


def test_the_fixture_file_is_what_its_script_makes(tmp_path: Path) -> None:
    again = tmp_path / "again.sqlite"
    first.make(again)
    assert _rows(f"sqlite:///{again}") == _rows(f"sqlite:///{first.FIXTURE}")
    with sqlite3.connect(first.FIXTURE) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]


# SQLite cannot reflect expression indexes; the PostgreSQL-only trigram index is compared there.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_first_schema_upgrades_to_head_with_every_row_kept(first_release_store: str) -> None:
    url = first_release_store
    assert _revision(url) == "0001"
    before = _rows(url)
    assert [len(before[t]) for t in _TABLES] == [
        len(first.JOBS),
        sum(len(job["lifecycle"]) for job in first.JOBS),
        sum(len(job["points"]) for job in first.JOBS),
    ]

    listed = list_training_jobs({"MaxResults": 100})  # the first use upgrades the store
    assert get_store().url == url
    assert _revision(url) == SCHEMA_REVISION
    assert _rows(url) == before
    with get_store().engine.connect() as connection:  # tables, columns and indexes as the models
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []

    names = [job["name"] for job in first.JOBS]
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == names
    for index, (spec, summary) in enumerate(
        zip(first.JOBS, listed["TrainingJobSummaries"], strict=True), start=1
    ):
        start = first.created(index).replace(tzinfo=UTC)
        end = start + timedelta(seconds=spec["lifecycle"][-1][3])
        secondary, status = spec["lifecycle"][-1][0], spec["lifecycle"][-1][1]
        assert summary == {
            "TrainingJobName": spec["name"],
            "TrainingJobArn": first.ACCOUNT + spec["name"],
            "CreationTime": start,
            "TrainingEndTime": end,
            "LastModifiedTime": end,
            "TrainingJobStatus": status,
            "SecondaryStatus": secondary,
        }
        described = describe_training_job({"TrainingJobName": spec["name"]})
        assert described["TrainingJobStatus"] == status
        assert described["SecondaryStatus"] == secondary
        assert described.get("FailureReason") == spec["failure_reason"]
        assert "TuningJobArn" not in described
        assert described["HyperParameters"] == {
            "sagemaker_program": '"train.py"',
            "epochs": "3",
            "lr": "0.01",
        }
        assert described["ModelArtifacts"] == {
            "S3ModelArtifacts": f"file:///srv/output/{spec['name']}/output/model.tar.gz"
        }
        assert described["CreationTime"] == start
        assert described["TrainingStartTime"] == start + timedelta(seconds=1)
        assert described["TrainingEndTime"] == end
        assert described["TrainingTimeInSeconds"] == spec["lifecycle"][-1][3] - 1
        transitions = described["SecondaryStatusTransitions"]
        assert [(t["Status"], t["StatusMessage"]) for t in transitions] == [
            (step[0], step[2]) for step in spec["lifecycle"]
        ]
        assert [t["StartTime"] for t in transitions] == [
            start + timedelta(seconds=step[3]) for step in spec["lifecycle"]
        ]

        expected_points = [
            {
                "MetricName": metric,
                "Value": value,
                "Timestamp": start + timedelta(seconds=seconds),
                **({"Epoch": epoch} if epoch is not None else {}),
            }
            for metric, value, seconds, epoch in spec["points"]
        ]
        assert training_job_metrics(spec["name"]) == expected_points
        last: dict[str, dict[str, Any]] = {}
        for point in expected_points:
            last[point["MetricName"]] = {
                "MetricName": point["MetricName"],
                "Value": point["Value"],
                "Timestamp": point["Timestamp"],
            }
        assert described.get("FinalMetricDataList", []) == [
            last[d["Name"]] for d in spec["definitions"] if d["Name"] in last
        ]

    by_status = list_training_jobs({"StatusEquals": "Stopped", "SortBy": "Name"})
    assert [s["TrainingJobName"] for s in by_status["TrainingJobSummaries"]] == [
        "first-release-max-runtime",
        "first-release-stopped",
    ]
