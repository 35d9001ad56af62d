"""Helpers the tests share: request builders, stored jobs and waiting for jobs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SCRIPTS = FIXTURES / "scripts"
TERMINAL = {"Completed", "Failed", "Stopped"}
#: When :func:`add_finished_jobs`' first job was created.
FINISHED_JOBS_FROM = datetime(2026, 3, 1, tzinfo=timezone.utc)


def add_finished_jobs(names: Sequence[str]) -> None:
    """Store Completed training jobs called ``names``, created a minute apart in that order from
    :data:`FINISHED_JOBS_FROM`, each ended 30 s after it began; written straight to the store,
    with no supervisor, for tests that only list jobs."""
    from sqlalchemy import insert

    from hpjobs.store import TrainingJob, get_store

    rows = []
    for index, name in enumerate(names):
        created = FINISHED_JOBS_FROM + timedelta(minutes=index)
        rows.append(
            {
                "name": name,
                "arn": f"arn:aws:sagemaker:us-west-2:000000000000:training-job/{name}",
                "request": {"TrainingJobName": name},
                "status": "Completed",
                "secondary_status": "Completed",
                "creation_time": created,
                "last_modified_time": created + timedelta(seconds=30),
                "training_end_time": created + timedelta(seconds=30),
                "model_artifacts": "",
                "job_dir": "",
                "log_path": "",
            }
        )
    with get_store().write() as session:
        session.execute(insert(TrainingJob), rows)


def training_request(name: str, output: Path, **overrides: Any) -> dict[str, Any]:
    """A CreateTrainingJob request for script mode with a fixture script."""
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "hpjobs/pytorch", "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": '"report.py"',
            "sagemaker_submit_directory": f'"{SCRIPTS.as_uri()}"',
        },
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    return request


def program(request: dict[str, Any], script: str, **hyperparameters: str) -> dict[str, Any]:
    """``request`` running fixture ``script`` with extra hyperparameters."""
    request["HyperParameters"]["sagemaker_program"] = f'"{script}"'
    request["HyperParameters"].update(hyperparameters)
    return request


def wait_for(
    name: str, until: Callable[[dict[str, Any]], bool] | None = None, timeout: float = 60
) -> dict[str, Any]:
    """Describe job ``name`` until ``until`` holds (default: a terminal status)."""
    from hpjobs.sagemaker.training_jobs import describe_training_job

    until = until or (lambda d: d["TrainingJobStatus"] in TERMINAL)
    deadline = time.monotonic() + timeout
    while True:
        description = describe_training_job({"TrainingJobName": name})
        if until(description):
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name} did not get there in {timeout} s: {description}")
        time.sleep(0.05)


def free_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(folder: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """``hpjobs serve`` on a free loopback port, run in ``folder`` with ``env`` (default: this
    process's); yields its URL, and at the end sends SIGTERM and asserts a clean exit."""
    import signal
    import socket
    import subprocess
    import sys

    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hpjobs", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5),
            ):
                break
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise
    assert code in (0, -signal.SIGTERM), log.read_text(errors="replace")
