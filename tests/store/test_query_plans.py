"""The queries behind ListTrainingJobs and DescribeTrainingJob stay index walks on a big store.

The statements the real operations send are captured and their SQLite query plans read: no
listing sorts the jobs it matched (``USE TEMP B-TREE``), no read scans the metric points, and the
final metrics of a job are found by seeks whatever the number of its points
(``benchmarks/store_scale.py`` times the same queries at 100,000 jobs and 10 million points).
The final metrics' values are checked on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, insert

from hpjobs.sagemaker.training_jobs import describe_training_job, list_training_jobs
from hpjobs.store import MetricPoint, StatusTransition, TrainingJob, get_store

UTC = timezone.utc
BASE = datetime(2026, 2, 1, tzinfo=UTC)
JOBS = 300
DEFINITIONS = [
    {"Name": "validation:accuracy", "Regex": r"acc=([0-9.]+)"},
    {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
]


def _fill() -> None:
    """JOBS finished jobs; the first one has 3 metrics (one not in its definitions)."""
    statuses = ["Completed", "Failed", "Stopped"]
    rows = []
    for index in range(JOBS):
        name = f"plan-{index:04d}"
        created = BASE + timedelta(minutes=index)
        status = statuses[index % 3]
        rows.append(
            {
                "id": index + 1,
                "name": name,
                "arn": f"arn:aws:sagemaker:us-west-2:000000000000:training-job/{name}",
                "target": "local",
                "request": {
                    "TrainingJobName": name,
                    "AlgorithmSpecification": {"MetricDefinitions": DEFINITIONS},
                },
                "status": status,
                "secondary_status": status,
                "creation_time": created,
                "last_modified_time": created + timedelta(seconds=90),
                "training_start_time": created,
                "training_end_time": created + timedelta(seconds=90),
                "model_artifacts": "",
                "job_dir": "",
                "log_path": "",
            }
        )
    points = [
        {
            "job_id": 1,
            "name": ("train:loss", "validation:accuracy", "extra")[step % 3],
            "value": float(step),
            "timestamp": BASE + timedelta(milliseconds=step),
            "epoch": None,
        }
        for step in range(3000)
    ]
    with get_store().write() as session:
        session.execute(insert(TrainingJob), rows)
        session.execute(
            insert(StatusTransition),
            [
                {
                    "job_id": row["id"],
                    "time": row["creation_time"],
                    "status": row["status"],
                    "secondary_status": row["status"],
                    "message": row["status"],
                }
                for row in rows
            ],
        )
        session.execute(insert(MetricPoint), points)


@pytest.fixture
def statements() -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with parameters) the store runs while the test goes on."""
    seen: list[tuple[str, Any]] = []
    engine = get_store().engine

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


LISTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "descending": {"SortOrder": "Descending"},
    "by-name": {"SortBy": "Name", "SortOrder": "Descending"},
    "by-status": {"SortBy": "Status"},
    "status-equals": {"StatusEquals": "Failed"},
    "status-equals-newest-first": {"StatusEquals": "Stopped", "SortOrder": "Descending"},
    "status-equals-by-name": {"StatusEquals": "Completed", "SortBy": "Name"},
    "name-contains": {"NameContains": "plan-02"},
    "creation-time-after": {"CreationTimeAfter": BASE + timedelta(hours=2)},
    "last-modified-before": {
        "LastModifiedTimeBefore": BASE + timedelta(hours=2),
        "SortOrder": "Descending",
    },
}


@pytest.mark.parametrize("request_", LISTINGS.values(), ids=LISTINGS.keys())
def test_a_listing_reads_its_page_off_an_index(
    request_: dict[str, Any], statements: list[tuple[str, Any]]
) -> None:
    _fill()
    statements.clear()
    page = list_training_jobs(request_)
    assert len(page["TrainingJobSummaries"]) == 10
    selects = [(sql, args) for sql, args in statements if "FROM training_jobs" in sql]
    assert len(selects) == 1
    sql, args = selects[0]
    with get_store().engine.connect() as connection:
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, args)]
    assert not any("TEMP B-TREE" in step for step in plan), plan
    assert all("USING" in step and "INDEX" in step for step in plan), plan


def _describe_steps(name: str) -> int:
    """How many SQLite virtual machine steps (in hundreds) DescribeTrainingJob takes."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    def watch(connection: Any, *_: Any) -> None:
        connection.connection.driver_connection.set_progress_handler(count, 100)

    engine = get_store().engine
    event.listen(engine, "before_cursor_execute", watch)
    try:
        describe_training_job({"TrainingJobName": name})
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    return steps[0]


def test_describe_costs_the_same_with_ten_times_the_points() -> None:
    """The final metrics are found by index seeks, not by reading every point of the job."""
    _fill()
    few = _describe_steps("plan-0000")
    more = [
        {
            "job_id": 1,
            "name": ("train:loss", "validation:accuracy", "extra")[step % 3],
            "value": float(step),
            "timestamp": BASE + timedelta(milliseconds=step),
            "epoch": None,
        }
        for step in range(3000, 30_000)
    ]
    with get_store().write() as session:
        session.execute(insert(MetricPoint), more)
    many = _describe_steps("plan-0000")
    assert few > 0
    assert many < few * 1.5, (few, many)


def test_final_metrics_are_the_last_point_of_each_metric(engine: str) -> None:
    _fill()
    described = describe_training_job({"TrainingJobName": "plan-0000"})
    # in MetricDefinitions order, then the others by name; each its last point
    assert described["FinalMetricDataList"] == [
        {
            "MetricName": "validation:accuracy",
            "Value": 2998.0,
            "Timestamp": BASE + timedelta(milliseconds=2998),
        },
        {"MetricName": "train:loss", "Value": 2997.0, "Timestamp": BASE + timedelta(seconds=2.997)},
        {"MetricName": "extra", "Value": 2999.0, "Timestamp": BASE + timedelta(milliseconds=2999)},
    ]
    assert describe_training_job({"TrainingJobName": "plan-0001"})["FinalMetricDataList"] == []
