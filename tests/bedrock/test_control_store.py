"""The Bedrock tables: migration 0003 follows 0002 and upgrades a 0002 database in
place; the invocation log writes one row per call and reads the newest first."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

import hpjobs.store
from hpjobs.bedrock._records import invocations, record_invocation
from hpjobs.store import SCHEMA_REVISION, CustomizationJob, CustomModel, Store, TrainingJob
from hpjobs.store.models import Base

MIGRATIONS = Path(hpjobs.store.__file__).with_name("migrations")
BEDROCK_TABLES = {"invocations", "customization_jobs", "custom_models"}
UTC = timezone.utc


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_migration_0003_follows_0002() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS))
    assert scripts.get_heads() == [SCHEMA_REVISION]
    assert scripts.get_revision("0003").down_revision == "0002"


def test_a_0002_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = Store(url)
    with first.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")
    assert not BEDROCK_TABLES & set(inspect(first.engine).get_table_names())
    now = datetime.now(UTC).isoformat()
    # written as revision 0002 knew the table (the model of today has columns it lacks)
    with first.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO training_jobs (name, arn, target, request, status, secondary_status, "
            "creation_time, last_modified_time, model_artifacts, job_dir, log_path) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "kept",
                "arn:aws:sagemaker:us-west-2:000000000000:training-job/kept",
                "local",
                "{}",
                "Completed",
                "Completed",
                now,
                now,
                "file:///out/kept/output/model.tar.gz",
                "/jobs/kept",
                "/jobs/kept/logs/algo-1.log",
            ),
        )
    first.engine.dispose()

    second = Store(url)
    try:
        assert set(inspect(second.engine).get_table_names()) == {
            "alembic_version",
            *Base.metadata.tables,
        }
        with second.engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        assert [row[0] for row in versions] == [SCHEMA_REVISION]
        with second.read() as session:
            assert session.scalars(select(TrainingJob.name)).all() == ["kept"]
    finally:
        second.engine.dispose()


def test_deleting_a_job_leaves_its_custom_model_without_one(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    now = datetime.now(UTC)
    try:
        with store.write() as session:
            job = CustomizationJob(
                job_name="j",
                job_arn="arn:j",
                request={},
                status="Completed",
                creation_time=now,
                last_modified_time=now,
                training_job_name="bedrock-j",
                custom_model_name="m",
                custom_model_arn="arn:m",
                base_model_id="amazon.titan-text-lite-v1",
                customization_type="FINE_TUNING",
            )
            session.add(job)
            session.flush()
            session.add(
                CustomModel(
                    model_name="m",
                    model_arn="arn:m",
                    job_id=job.id,
                    base_model_id="amazon.titan-text-lite-v1",
                    family="titan",
                    status="Active",
                    creation_time=now,
                )
            )
        with store.write() as session:
            session.delete(session.scalars(select(CustomizationJob)).one())
        with store.read() as session:
            model = session.scalars(select(CustomModel)).one()
            assert (model.model_name, model.job_id) == ("m", None)
    finally:
        store.engine.dispose()


def test_invocations_are_recorded_and_read_newest_first() -> None:
    for number in range(3):
        record_invocation(
            operation="Converse",
            model_id=f"us.anthropic.model-{number}",
            local_model="jargon",
            parameters={"maxTokens": 10 + number, "temperature": 0.5},
            input_tokens=5 + number,
            output_tokens=7,
            latency_ms=12,
            stop_reason="end_turn" if number else None,
        )
    rows = invocations(2)
    assert [row.model_id for row in rows] == ["us.anthropic.model-2", "us.anthropic.model-1"]
    newest = rows[0]
    assert (newest.operation, newest.local_model) == ("Converse", "jargon")
    assert newest.parameters == {"maxTokens": 12, "temperature": 0.5}
    assert (newest.input_tokens, newest.output_tokens, newest.latency_ms) == (7, 7, 12)
    assert newest.stop_reason == "end_turn"
    assert newest.time.tzinfo is not None
    assert rows[0].time >= rows[1].time
    assert [row.stop_reason for row in invocations(10)] == ["end_turn", "end_turn", None]
    assert invocations(0) == []
