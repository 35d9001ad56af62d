"""How the store holds up at scale: list, describe and metric ingestion on a big database.

Fills a store (an SQLite file in a temporary folder, or ``--database-url``) with 100,000 training
jobs (five status transitions each) and 10,000,000 metric points by bulk inserts through
SQLAlchemy core, then times, through the real operation functions:

- ListTrainingJobs, one page: the default, descending, 100 a page, by name, by status, filtered
  by status, by name and by time, and a page deep in the listing;
- DescribeTrainingJob of a typical job (about 50 points) and of the job with the most points;
- metric ingestion through the supervisor's own recorder (batches of 500 points a write).

Reads are timed in a process settled as ``hpjobs serve`` settles its own once started
(:func:`hpjobs._settle.settle`: the SageMaker model loaded, then ``gc.freeze()``);
``--unsettled`` times them as in a caller's process that is not, where a full garbage collection
now and then walks everything the process has loaded and adds up to some 35 ms to that call.

Goals: a page or a describe under 50 ms (p99 shown with p50), ingestion above 50,000 points a
second. The points are spread as jobs have them: one job with 10 % of all points, 99 with
0.4 % each, the rest on the others.

    python benchmarks/store_scale.py [--jobs N] [--points N] [--database-url URL] [--explain]
                                     [--home DIR] [--unsettled]

``--database-url`` takes an empty database (PostgreSQL: ``postgresql+psycopg://...``);
``--home DIR`` keeps the filled SQLite store there and reuses it on the next run; ``--explain``
prints SQLite's plans of the statements a listing and a describe send.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

_CHUNK = 50_000
_STATUSES = [  # (status, secondary, share of jobs)
    ("Completed", "Completed", 0.90),
    ("Failed", "Failed", 0.06),
    ("Stopped", "Stopped", 0.03),
    ("InProgress", "Training", 0.01),
]
_LIFECYCLE = {
    "Completed": ["Starting", "Downloading", "Training", "Uploading", "Completed"],
    "Failed": ["Starting", "Downloading", "Training", "Failed"],
    "Stopped": ["Starting", "Downloading", "Training", "Stopping", "Stopped"],
    "InProgress": ["Starting", "Downloading", "Training"],
}
_METRICS = ["train:loss", "validation:accuracy"]


def _request(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "hpjobs/pytorch",
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
                {"Name": "validation:accuracy", "Regex": r"acc=([0-9.]+)"},
            ],
        },
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"file:///srv/code"',
            "epochs": "10",
            "learning_rate": "0.001",
            "batch_size": "64",
        },
        "RoleArn": "arn:aws:iam::000000000000:role/benchmark",
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "file:///srv/data/train",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "file:///srv/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def _points_per_job(jobs: int, points: int) -> list[int]:
    """How many points each job gets: one heavy job, 99 busy ones, the rest share what is left."""
    counts = [0] * jobs
    heavy = min(jobs, 1 + 99)
    counts[0] = points // 10
    for index in range(1, heavy):
        counts[index] = points // 250
    rest = points - sum(counts)
    others = jobs - heavy
    if others <= 0:
        counts[0] += rest
        return counts
    for index in range(heavy, jobs):
        counts[index] = rest // others
    counts[-1] += rest - sum(counts[heavy:])
    return counts


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(jobs: int, points: int) -> tuple[float, list[int]]:
    """Bulk-insert the jobs, their transitions and their points; seconds taken, and points per
    job."""
    import psutil
    from sqlalchemy import insert

    from hpjobs.store import MetricPoint, StatusTransition, TrainingJob, get_store

    store = get_store()
    me = psutil.Process()
    started = time.perf_counter()
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(7)
    weights = [share for _, _, share in _STATUSES]
    statuses = rng.choices(range(len(_STATUSES)), weights, k=jobs)

    def job_rows() -> Iterator[dict[str, Any]]:
        for index in range(jobs):
            name = f"job-{index:06d}"
            status, secondary, _ = _STATUSES[statuses[index]]
            created = base + timedelta(seconds=30 * index)
            running = status == "InProgress"
            yield {
                "id": index + 1,
                "name": name,
                "arn": f"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}",
                "target": "local",
                "request": _request(name),
                "status": status,
                "secondary_status": secondary,
                "failure_reason": "AlgorithmError: exit code 1" if status == "Failed" else None,
                "creation_time": created,
                "last_modified_time": created + timedelta(seconds=300),
                "training_start_time": created + timedelta(seconds=2),
                "training_end_time": None if running else created + timedelta(seconds=300),
                "model_artifacts": f"file:///srv/output/{name}/output/model.tar.gz",
                "job_dir": f"/srv/jobs/{name}",
                "log_path": f"/srv/jobs/{name}/logs/algo-1.log",
                # running jobs belong to this live process, so reads do not reap them
                "supervisor_pid": me.pid if running else None,
                "supervisor_started": me.create_time() if running else None,
                "heartbeat_time": created + timedelta(seconds=300),
            }

    def transition_rows() -> Iterator[dict[str, Any]]:
        for index in range(jobs):
            status = _STATUSES[statuses[index]][0]
            created = base + timedelta(seconds=30 * index)
            for step, secondary in enumerate(_LIFECYCLE[status]):
                primary = {"Completed": "Completed", "Failed": "Failed"}.get(secondary)
                primary = primary or ("Stopping" if secondary == "Stopping" else None)
                primary = primary or ("Stopped" if secondary == "Stopped" else "InProgress")
                yield {
                    "job_id": index + 1,
                    "time": created + timedelta(seconds=step * 60),
                    "status": primary,
                    "secondary_status": secondary,
                    "message": secondary,
                }

    counts = _points_per_job(jobs, points)

    def point_rows() -> Iterator[dict[str, Any]]:
        for index, count in enumerate(counts):
            created = base + timedelta(seconds=30 * index)
            for step in range(count):
                yield {
                    "job_id": index + 1,
                    "name": _METRICS[step % 2],
                    "value": 1.0 / (step + 1),
                    "timestamp": created + timedelta(milliseconds=step),
                    "epoch": step // 100,
                }

    done = 0
    for table, rows in (
        (TrainingJob.__table__, job_rows()),
        (StatusTransition.__table__, transition_rows()),
        (MetricPoint.__table__, point_rows()),
    ):
        for chunk in _chunks(rows, _CHUNK):
            with store.write() as session:
                session.execute(insert(table), chunk)
            done += len(chunk)
            print(f"\r  {table.name}: {done:,} rows", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        done = 0
    return time.perf_counter() - started, counts


def _timed(call: Callable[[], Any], times: int) -> tuple[float, float]:
    """p50 and p99 of ``call`` in milliseconds, after two warm-up calls."""
    call()
    call()
    seconds = []
    for _ in range(times):
        before = time.perf_counter()
        call()
        seconds.append((time.perf_counter() - before) * 1000)
    seconds.sort()
    return statistics.median(seconds), seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))]


def measure_reads(jobs: int, counts: list[int], calls: int) -> list[tuple[str, float, float]]:
    from hpjobs.sagemaker.training_jobs import describe_training_job, list_training_jobs

    middle = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=15 * jobs)
    deep = list_training_jobs({"MaxResults": 100})
    token = deep.get("NextToken")
    page_requests: list[tuple[str, dict[str, Any]]] = [
        ("list: default (10, CreationTime ascending)", {}),
        ("list: CreationTime descending", {"SortOrder": "Descending"}),
        ("list: 100 a page", {"MaxResults": 100}),
        ("list: SortBy Name descending", {"SortBy": "Name", "SortOrder": "Descending"}),
        ("list: SortBy Status", {"SortBy": "Status"}),
        ("list: StatusEquals Failed", {"StatusEquals": "Failed"}),
        (
            "list: StatusEquals InProgress, newest first",
            {"StatusEquals": "InProgress", "SortOrder": "Descending"},
        ),
        ("list: StatusEquals Stopped, by name", {"StatusEquals": "Stopped", "SortBy": "Name"}),
        ("list: NameContains (rare)", {"NameContains": "job-09999"}),
        ("list: NameContains (common)", {"NameContains": "job-0"}),
        ("list: CreationTimeAfter (half)", {"CreationTimeAfter": middle}),
        (
            "list: LastModifiedTimeBefore, descending",
            {"LastModifiedTimeBefore": middle, "SortOrder": "Descending"},
        ),
    ]
    if token:
        page_requests.append(("list: second page of 100", {"MaxResults": 100, "NextToken": token}))
    results = []
    for label, request in page_requests:
        p50, p99 = _timed(lambda request=request: list_training_jobs(request), calls)
        results.append((label, p50, p99))
    rng = random.Random(11)
    typical = [f"job-{rng.randrange(min(100, jobs - 1) + 1, jobs):06d}" for _ in range(calls + 2)]
    names = iter(typical)
    p50, p99 = _timed(lambda: describe_training_job({"TrainingJobName": next(names)}), calls)
    results.append((f"describe: a typical job ({counts[-2]} points)", p50, p99))
    p50, p99 = _timed(lambda: describe_training_job({"TrainingJobName": "job-000000"}), calls)
    results.append((f"describe: the job with the most points ({counts[0]:,})", p50, p99))
    return results


def measure_ingestion(points: int) -> float:
    """Points per second through the supervisor's recorder into a running job."""
    from hpjobs.sagemaker._supervisor import Recorder
    from hpjobs.sagemaker.training_jobs import training_job_metrics
    from hpjobs.store import TrainingJob, get_store

    store = get_store()
    with store.read() as session:
        from sqlalchemy import select

        job = session.scalars(
            select(TrainingJob).where(TrainingJob.status == "InProgress").limit(1)
        ).one()
    recorder = Recorder(store, job.id)
    before = len(training_job_metrics(job.name))
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    for step in range(points):
        recorder.metric(_METRICS[step % 2], 1.0 / (step + 1), now, step // 1000)
    recorder.flush()
    elapsed = time.perf_counter() - started
    stored = len(training_job_metrics(job.name)) - before
    if stored != points:
        raise SystemExit(f"ingestion lost points: {stored} stored of {points}")
    return points / elapsed


def _explain(url: str) -> None:
    """The SQLite query plans of the statements a filtered listing and a describe send."""
    if not url.startswith("sqlite"):
        return
    from sqlalchemy import event

    from hpjobs.sagemaker.training_jobs import describe_training_job, list_training_jobs
    from hpjobs.store import get_store

    engine = get_store().engine
    calls = {
        "list StatusEquals Failed": lambda: list_training_jobs({"StatusEquals": "Failed"}),
        "list NameContains": lambda: list_training_jobs({"NameContains": "job-09999"}),
        "describe": lambda: describe_training_job({"TrainingJobName": "job-000000"}),
    }
    for label, call in calls.items():
        seen: list[tuple[str, Any]] = []

        def record(_c: Any, _k: Any, sql: str, args: Any, *_: Any, seen: Any = seen) -> None:
            seen.append((sql, args))

        event.listen(engine, "before_cursor_execute", record)
        try:
            call()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        with engine.connect() as connection:
            for sql, args in seen:
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, args).all()
                print(f"  plan ({label}): " + "; ".join(str(row[-1]) for row in plan))


def _job_count() -> int:
    from sqlalchemy import func, select

    from hpjobs.store import TrainingJob, get_store

    with get_store().read() as session:
        return int(session.scalar(select(func.count()).select_from(TrainingJob)) or 0)


def _own_running_jobs() -> None:
    """Make the jobs that were running when the store was filled run under this process again
    (reads mark a job whose supervisor process is gone Failed)."""
    import psutil
    from sqlalchemy import update

    from hpjobs.store import TrainingJob, get_store

    me = psutil.Process()
    with get_store().write() as session:
        session.execute(
            update(TrainingJob)
            .where(TrainingJob.supervisor_pid.is_not(None))
            .values(
                supervisor_pid=me.pid,
                supervisor_started=me.create_time(),
                status="InProgress",
                secondary_status="Training",
                failure_reason=None,
                training_end_time=None,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--calls", type=int, default=200, help="timed calls per measurement")
    parser.add_argument("--ingest", type=int, default=200_000, help="points to ingest")
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temp dir)")
    parser.add_argument("--explain", action="store_true", help="print SQLite's query plans")
    parser.add_argument(
        "--home", type=Path, help="keep the store in this HPJOBS_HOME; a filled one is reused"
    )
    parser.add_argument(
        "--unsettled", action="store_true", help="time reads without settling the process first"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hpjobs-scale-") as scratch:
        os.environ["HPJOBS_HOME"] = str(args.home or scratch)
        if args.database_url:
            os.environ["HPJOBS_DATABASE_URL"] = args.database_url
        else:
            os.environ.pop("HPJOBS_DATABASE_URL", None)
        from hpjobs.store import get_store

        url = get_store().url
        print(f"store: {url.split('?')[0]}")
        counts = _points_per_job(args.jobs, args.points)
        if _job_count() == 0:
            seconds, counts = fill(args.jobs, args.points)
            print(
                f"filled: {args.jobs:,} jobs, {args.points:,} metric points in {seconds:.0f} s "
                f"({args.points / seconds:,.0f} points/s bulk)"
            )
        elif _job_count() != args.jobs:
            raise SystemExit(f"{args.home} holds {_job_count():,} jobs, not {args.jobs:,}")
        else:
            _own_running_jobs()
            print(f"reused: {args.jobs:,} jobs, {args.points:,} metric points")
        if url.startswith("sqlite"):
            size = Path(url.split("///", 1)[1]).stat().st_size
            print(f"database file: {size / 2**20:,.0f} MiB")
        if args.explain:
            _explain(url)
        if not args.unsettled:
            from hpjobs._settle import settle

            settle("sagemaker")
        worst = 0.0
        for label, p50, p99 in measure_reads(args.jobs, counts, args.calls):
            worst = max(worst, p99)
            print(f"{label:58s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
        print(f"slowest p99 {worst:.1f} ms (goal: under 50 ms; {50 / worst:.1f}x inside)")
        rate = measure_ingestion(args.ingest)
        print(
            f"metric ingestion: {rate:,.0f} points/s over {args.ingest:,} points "
            f"(goal: above 50,000; {rate / 50_000:.1f}x)"
        )


if __name__ == "__main__":
    main()
