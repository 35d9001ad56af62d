"""The fault tests kill things on purpose; whatever happens, no process of theirs outlives them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


@pytest.fixture(autouse=True)
def _no_stray_processes(home: Path) -> Iterator[None]:
    """After each test, stop the tuning jobs still running (their tuners end), then SIGKILL any
    process still running for a job of the test's HPJOBS_HOME (found by the container
    environment it inherited), so a failing test leaves nothing."""
    yield
    if (home / "hpjobs.db").exists():
        _stop_tuning_jobs()
    jobs = str(home / "jobs") + "/"
    for process in psutil.process_iter():
        try:
            if process.environ().get("SAGEMAKER_BASE_DIR", "").startswith(jobs):
                process.kill()
        except psutil.Error:
            continue


def _stop_tuning_jobs() -> None:
    from hpjobs.errors import ServiceError
    from hpjobs.sagemaker.tuning_jobs import (
        describe_hyper_parameter_tuning_job,
        list_hyper_parameter_tuning_jobs,
        stop_hyper_parameter_tuning_job,
    )

    listed = list_hyper_parameter_tuning_jobs({"MaxResults": 100})
    for summary in listed["HyperParameterTuningJobSummaries"]:
        request = {"HyperParameterTuningJobName": summary["HyperParameterTuningJobName"]}
        with contextlib.suppress(ServiceError):
            stop_hyper_parameter_tuning_job(request)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = describe_hyper_parameter_tuning_job(request)["HyperParameterTuningJobStatus"]
            if status in ("Completed", "Failed", "Stopped"):
                break
            time.sleep(0.1)
