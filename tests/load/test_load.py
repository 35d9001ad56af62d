"""Load: many processes creating training jobs at once against one store, and reads staying quick
while a job writes a thousand metric points a second; on SQLite and on PostgreSQL.

Every create is real: it records the job and, while fewer than HPJOBS_MAX_RUNNING_JOBS jobs run,
starts its supervisor, which runs the job's entry point (a shell script that sleeps half a
second) to Completed; the other jobs wait for a slot, and a supervisor whose job ends takes the
oldest of them while the creates go on. Both engines get the full 8 processes x 200 jobs with two
slots (``HPJOBS_LOAD_JOBS`` sets another number for a quick run): once every job is recorded,
those still waiting are stopped. The half second keeps the jobs that run during the race to a
few dozen: with jobs that exit at once, hundreds ran, and on PostgreSQL their supervisors kept
both cores busy for a minute, starving the tests beside this one.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import TERMINAL, training_request, wait_for

from hpjobs.sagemaker.training_jobs import (
    describe_training_job,
    list_training_jobs,
    training_job_metrics,
)
from hpjobs.store import TrainingJob, get_store

#: One xdist worker runs these one after another (``--dist loadgroup``): the latency test must
#: not share the machine with the other engine's 1,600 jobs.
pytestmark = pytest.mark.xdist_group("load")

PROCESSES = 8
#: Jobs each process creates (``HPJOBS_LOAD_JOBS`` sets another number).
JOBS_PER_PROCESS = 200


def jobs_per_process() -> int:
    return int(os.environ.get("HPJOBS_LOAD_JOBS") or JOBS_PER_PROCESS)


#: Jobs running at once during the race; the others wait for a slot.
SLOTS = "2"

_WORKER = """
import json, sys, time, traceback
from pathlib import Path

ready, go, worker = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
template, count = json.loads(Path(sys.argv[4]).read_text()), int(sys.argv[5])
import hpjobs

client = hpjobs.client("sagemaker")
client.list_training_jobs(MaxResults=1)  # the store is open before the start
ready.touch()
while not go.exists():
    time.sleep(0.001)
created, errors, seconds = [], [], []
for number in range(count):
    name = f"load-{worker}-{number}"
    started = time.perf_counter()
    try:
        client.create_training_job(**{**template, "TrainingJobName": name})
    except BaseException as error:
        errors.append(f"{name}: {type(error).__name__}: {error}")
        traceback.print_exc()
    else:
        created.append(name)
    seconds.append(time.perf_counter() - started)
print(json.dumps({"created": created, "errors": errors, "seconds": seconds}))
"""


def _short_job(tmp_path: Path) -> dict[str, Any]:
    """A cheap real job: a script-mode shell entry point that sleeps half a second."""
    code = tmp_path / "short"
    code.mkdir()
    (code / "train.sh").write_text("sleep 0.5\n")
    request = training_request("template", tmp_path / "output")
    request["HyperParameters"] = {
        "sagemaker_program": '"train.sh"',
        "sagemaker_submit_directory": json.dumps(str(code)),
    }
    return request


def _run_workers(tmp_path: Path, template: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Start the creating processes, release them together, return what each reported."""
    program = tmp_path / "worker.py"
    program.write_text(textwrap.dedent(_WORKER))
    request = tmp_path / "request.json"
    request.write_text(json.dumps(template))
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{worker}" for worker in range(PROCESSES)]
    arguments = [str(request), str(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, str(program), str(ready), str(go), str(worker), *arguments],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker, ready in enumerate(readies)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(ready.exists() for ready in readies):
            assert time.monotonic() < deadline, "the creating processes did not start"
            for process in processes:
                assert process.poll() is None, process.communicate()[1]
            time.sleep(0.01)
        go.touch()
        results = [process.communicate(timeout=600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    reports = []
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert "database is locked" not in stderr
        assert "OperationalError" not in stderr
        assert process.returncode == 0, stderr
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    return reports


def _all_summaries(**filters: Any) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = list_training_jobs({"MaxResults": 100, **filters, **token})
        summaries += page["TrainingJobSummaries"]
        if "NextToken" not in page:
            return summaries
        token = {"NextToken": page["NextToken"]}


def _wait_until_none_in_progress(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _all_summaries(StatusEquals="InProgress") or _all_summaries(StatusEquals="Stopping"):
        assert time.monotonic() < deadline, "jobs still running"
        time.sleep(0.2)


def _supervisors_left() -> list[int]:
    """Pids of recorded supervisors whose process still runs."""
    with get_store().read() as session:
        rows = session.query(TrainingJob.supervisor_pid, TrainingJob.supervisor_started).all()
    alive = []
    for pid, started in rows:
        if pid is None:  # stopped while it waited for a slot: it never had a supervisor
            continue
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE and (
                started is None or abs(process.create_time() - started) < 0.5
            ):
                alive.append(pid)
        except (psutil.NoSuchProcess, TypeError, ValueError):
            continue
    return alive


def _stop_all_in_progress() -> None:
    from hpjobs.errors import ValidationException
    from hpjobs.sagemaker.training_jobs import stop_training_job

    for summary in _all_summaries(StatusEquals="InProgress"):
        try:
            stop_training_job({"TrainingJobName": summary["TrainingJobName"]})
        except ValidationException as error:  # it ended since it was listed
            assert re.search(r"is in status (Completed|Stopping|Stopped)\.$", error.message)


def test_processes_creating_jobs_at_once_lose_none(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPJOBS_MAX_RUNNING_JOBS", SLOTS)  # the creating processes inherit it
    get_store()  # the schema is made here, before the race
    started = time.perf_counter()
    count = jobs_per_process()
    reports = _run_workers(tmp_path, _short_job(tmp_path), count)
    creating = time.perf_counter() - started
    expected = {f"load-{worker}-{number}" for worker in range(PROCESSES) for number in range(count)}
    errors = [error for report in reports for error in report["errors"]]
    assert errors == []
    assert {name for report in reports for name in report["created"]} == expected

    summaries = _all_summaries()
    assert len(summaries) == len(expected)
    assert {s["TrainingJobName"] for s in summaries} == expected
    _stop_all_in_progress()
    _wait_until_none_in_progress(timeout=300)
    ended = time.perf_counter() - started
    ran = 0
    for name in sorted(expected):
        description = describe_training_job({"TrainingJobName": name})
        assert description["TrainingJobName"] == name
        steps = [t["Status"] for t in description["SecondaryStatusTransitions"]]
        if description["TrainingJobStatus"] == "Completed":
            ran += 1
            assert steps == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
        else:
            # stopped while waiting for its slot, or while it ran
            assert description["TrainingJobStatus"] == "Stopped", (
                name,
                description.get("FailureReason"),
                description["SecondaryStatusTransitions"],
            )
            assert steps[0] == "Starting" and steps[-2:] == ["Stopping", "Stopped"], steps
    assert ran >= 2
    deadline = time.monotonic() + 30
    while (left := _supervisors_left()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []
    seconds = sorted(s for report in reports for s in report["seconds"])
    print(
        f"\n{engine}: {len(expected)} jobs from {PROCESSES} processes: all created in "
        f"{creating:.1f} s, {ran} ran to Completed, the rest stopped, all ended in "
        f"{ended:.1f} s; create p50 "
        f"{statistics.median(seconds) * 1000:.0f} ms, p99 "
        f"{seconds[int(len(seconds) * 0.99) - 1] * 1000:.0f} ms"
    )


_STREAM = """
import sys, time

arguments = dict(zip(sys.argv[1::2], sys.argv[2::2]))
points, rate = int(arguments["--points"]), int(arguments["--rate"])
start = time.monotonic()
for step in range(points):
    print(f"step={step} loss={step / 1000:.3f}", flush=True)
    if step % 50 == 49:
        delay = start + (step + 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
"""


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def test_describe_and_list_stay_quick_while_a_job_writes_1000_points_a_second(
    engine: str, tmp_path: Path
) -> None:
    points, rate = 3000, 1000
    code = tmp_path / "code"
    code.mkdir()
    (code / "stream.py").write_text(textwrap.dedent(_STREAM))
    request = training_request("streamer", tmp_path / "output")
    request["HyperParameters"] = {
        "sagemaker_program": '"stream.py"',
        "sagemaker_submit_directory": json.dumps(str(code)),
        "points": str(points),
        "rate": str(rate),
    }
    request["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}
    ]
    from hpjobs.sagemaker.training_jobs import create_training_job

    quiet = _short_job(tmp_path)
    for number in range(20):
        create_training_job({**quiet, "TrainingJobName": f"quiet-{number}"})
    create_training_job(request)
    wait_for("streamer", lambda d: d["SecondaryStatus"] in ("Training", *TERMINAL), timeout=60)

    describe_ms: list[float] = []
    list_ms: list[float] = []
    while True:
        before = time.perf_counter()
        description = describe_training_job({"TrainingJobName": "streamer"})
        middle = time.perf_counter()
        list_training_jobs({"SortBy": "CreationTime", "SortOrder": "Descending"})
        after = time.perf_counter()
        describe_ms.append((middle - before) * 1000)
        list_ms.append((after - middle) * 1000)
        if description["TrainingJobStatus"] in TERMINAL:
            break
        time.sleep(0.005)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")

    stored = training_job_metrics("streamer")
    assert len(stored) == points
    assert [p["Value"] for p in stored] == [round(step / 1000, 3) for step in range(points)]
    assert {p["MetricName"] for p in stored} == {"train:loss"}
    span = (stored[-1]["Timestamp"] - stored[0]["Timestamp"]).total_seconds()
    assert points / span > rate / 2, f"the job wrote only {points / span:.0f} points a second"
    assert description["FinalMetricDataList"][0]["Value"] == (points - 1) / 1000

    calls = len(describe_ms)
    assert calls >= 20
    for what, values in (("describe", describe_ms), ("list", list_ms)):
        p50, p99 = _percentile(values, 0.5), _percentile(values, 0.99)
        print(
            f"\n{engine} {what} while streaming: {calls} calls, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
        assert p99 < 1000, f"{what} p99 {p99:.0f} ms"
    _wait_until_none_in_progress(timeout=60)
