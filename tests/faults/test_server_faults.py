"""``hpjobs serve`` killed with SIGKILL while a training job it created runs and while a
ConverseStream answer is streaming: jobs outlive the server by design, the client sees the
stream cut, and a server restarted on the same HPJOBS_HOME answers as if nothing had happened.
Real server processes, boto3 clients, real SQLite.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults.support import (
    LOST,
    gone,
    helper_pids,
    kill_and_wait,
    no_job_processes,
    wait_until,
    worker_request,
)
from helpers import free_port, serving, wait_for

JARGON = Path(__file__).resolve().parents[2] / "hpjobs" / "generation" / "models" / "jargon"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


@contextlib.contextmanager
def _server(folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``hpjobs serve`` on a free loopback port; the test kills it (it is killed here at the
    latest)."""
    port = free_port()
    with (folder / "killed-serve.log").open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hpjobs", "serve", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _listening(port) or process.poll() is not None, 60, "no server")
        assert process.poll() is None, (folder / "killed-serve.log").read_text()
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _client(service: str, url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}, read_timeout=60),
    )


def test_killed_server_leaves_jobs_running_and_a_restarted_server_picks_up(
    output: Path, home: Path, tmp_path: Path
) -> None:
    if not (JARGON / "model.pt").is_file():
        pytest.skip(f"the shipped jargon model is not in {JARGON}")
    with _server(tmp_path) as (process, url):
        sagemaker = _client("sagemaker", url)
        quick = worker_request("outlives", output, steps="5", seconds="2")
        slow = worker_request("runs-on", output, steps="5", spawn="true", seconds="120")
        sagemaker.create_training_job(**quick)
        sagemaker.create_training_job(**slow)
        stream = _client("bedrock-runtime", url).converse_stream(
            modelId=CLAUDE,
            messages=[{"role": "user", "content": [{"text": "What is a kludge?"}]}],
            inferenceConfig={"temperature": 0.0, "maxTokens": 200},
        )
        received: list[str] = []
        error: Exception | None = None
        try:
            for event in stream["stream"]:
                received.extend(event)
                if "contentBlockDelta" in event and process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        except Exception as cut:  # what botocore raises for a cut stream is its business
            error = cut
        assert process.returncode == -signal.SIGKILL
    # The client saw the answer begin and never saw it end.
    assert received[:2] == ["messageStart", "contentBlockDelta"]
    assert "messageStop" not in received and "metadata" not in received, (received, error)

    # Jobs outlive the server: the quick one ends on its own, the slow one is still running.
    description = wait_for("outlives", timeout=60)
    assert description["TrainingJobStatus"] == "Completed"
    assert [m["Value"] for m in description["FinalMetricDataList"]] == [0.2]
    log = home / "jobs" / "runs-on" / "logs" / "algo-1.log"
    wait_until(lambda: "steps done" in log.read_text(), 60, "the slow job never got going")

    # The store is sound, and holds no record of the cut stream.
    with contextlib.closing(sqlite3.connect(home / "hpjobs.db")) as database:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert database.execute("SELECT count(*) FROM invocations").fetchall() == [(0,)]

    # A new server on the same HPJOBS_HOME describes, lists and stops what the old one started.
    with serving(tmp_path) as new_url:
        sagemaker = _client("sagemaker", new_url)
        jobs = sagemaker.list_training_jobs(SortBy="Name", SortOrder="Ascending")
        listed = [
            (s["TrainingJobName"], s["TrainingJobStatus"]) for s in jobs["TrainingJobSummaries"]
        ]
        assert listed == [("outlives", "Completed"), ("runs-on", "InProgress")]
        described = sagemaker.describe_training_job(TrainingJobName="outlives")
        assert described["TrainingJobStatus"] == "Completed"
        assert described["ModelArtifacts"]["S3ModelArtifacts"] == (
            (output / "outlives" / "output" / "model.tar.gz").as_uri()
        )
        assert (output / "outlives" / "output" / "model.tar.gz").is_file()
        sagemaker.stop_training_job(TrainingJobName="runs-on")
        deadline = time.monotonic() + 60
        while True:
            running = sagemaker.describe_training_job(TrainingJobName="runs-on")
            if running["TrainingJobStatus"] not in ("InProgress", "Stopping"):
                break
            assert time.monotonic() < deadline, running
            time.sleep(0.1)
        assert running["TrainingJobStatus"] == "Stopped"
        assert running["SecondaryStatus"] == "Stopped"
    assert no_job_processes(home, "runs-on") == []
    assert all(gone(pid) for pid in helper_pids(log.read_text()))


def test_after_everything_was_killed_a_restarted_server_reports_every_job_failed(
    output: Path, home: Path, tmp_path: Path
) -> None:
    """As after a power cut: the server, a training job's supervisor, a tuner and its child's
    supervisor all die at once. The first reads through a new server find every job Failed
    with its reason, and nothing of the jobs runs on."""
    from sqlalchemy import select

    from hpjobs.store import TrainingJob, TuningJob, get_store

    template = worker_request("unused", output, steps="3", spawn="true")
    definition = {
        k: v for k, v in template.items() if k not in ("TrainingJobName", "HyperParameters")
    }
    definition["StaticHyperParameters"] = template["HyperParameters"]
    tuning = {
        "HyperParameterTuningJobName": "cut",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "seconds", "Values": ["120"]}]
            },
        },
        "TrainingJobDefinition": definition,
    }
    with _server(tmp_path) as (process, url):
        sagemaker = _client("sagemaker", url)
        sagemaker.create_training_job(
            **worker_request("cut-job", output, steps="3", spawn="true", seconds="120")
        )
        sagemaker.create_hyper_parameter_tuning_job(**tuning)

        def all_running() -> bool:
            logs = list((home / "jobs").glob("*/logs/algo-1.log"))
            return len(logs) == 2 and all("steps done" in log.read_text() for log in logs)

        wait_until(all_running, 60, "the jobs never got going")
        with get_store().read() as session:
            supervisors = list(session.scalars(select(TrainingJob.supervisor_pid)))
            tuner = session.scalar(select(TuningJob.tuner_pid))
        assert tuner is not None and None not in supervisors and len(supervisors) == 2
        process.kill()
        for pid in [tuner, *supervisors]:
            assert pid is not None
            kill_and_wait(pid)
    names = sorted(path.name for path in (home / "jobs").iterdir())
    child = next(name for name in names if name.startswith("cut-") and name != "cut-job")

    with serving(tmp_path) as new_url:
        sagemaker = _client("sagemaker", new_url)
        listed = sagemaker.list_training_jobs(SortBy="Name", SortOrder="Ascending")
        summaries = listed["TrainingJobSummaries"]
        statuses = {s["TrainingJobName"]: s["TrainingJobStatus"] for s in summaries}
        assert statuses == {child: "Failed", "cut-job": "Failed"}
        for name in statuses:
            reason = sagemaker.describe_training_job(TrainingJobName=name)["FailureReason"]
            assert LOST.fullmatch(reason), reason
        tunings = sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
        assert [
            (s["HyperParameterTuningJobName"], s["HyperParameterTuningJobStatus"]) for s in tunings
        ] == [("cut", "Failed")]
        described = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="cut")
        assert described["FailureReason"] == (
            f"InternalServerError: the tuner process (pid {tuner}) ended unexpectedly; its "
            "running training jobs were stopped."
        )
        assert described["TrainingJobStatusCounters"]["RetryableError"] == 1
        assert described["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 1}
    for name in names:
        assert no_job_processes(home, name) == []
        log = (home / "jobs" / name / "logs" / "algo-1.log").read_text()
        assert all(gone(pid) for pid in helper_pids(log))
