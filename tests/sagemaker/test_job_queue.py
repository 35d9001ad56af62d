"""Local training jobs beyond HPJOBS_MAX_RUNNING_JOBS wait for a free slot, in order: real
supervisors, real scripts, real SQLite."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from helpers import training_request, wait_for

from hpjobs.config import settings
from hpjobs.sagemaker.training_jobs import (
    create_training_job,
    describe_training_job,
    list_training_jobs,
    stop_training_job,
)
from hpjobs.store import TrainingJob, get_store

WAITING = (
    "Waiting for a free slot: 1 local training jobs are running (HPJOBS_MAX_RUNNING_JOBS is 1)"
)


@pytest.fixture(autouse=True)
def one_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPJOBS_MAX_RUNNING_JOBS", "1")


def sleeper(name: str, tmp_path: Path, output: Path, seconds: float) -> dict[str, Any]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "train.sh").write_text('sleep "$2"\necho "slept $2"\n')  # --seconds N
    request = training_request(name, output)
    request["HyperParameters"] = {
        "sagemaker_program": '"train.sh"',
        "sagemaker_submit_directory": json.dumps(str(code)),
        "seconds": str(seconds),
    }
    return request


def record(name: str) -> TrainingJob:
    with get_store().read() as session:
        job = session.query(TrainingJob).filter_by(name=name).one()
        session.expunge(job)
        return job


def test_a_job_beyond_the_limit_waits_then_runs_after_the_one_before(
    tmp_path: Path, output: Path
) -> None:
    create_training_job(sleeper("first", tmp_path, output, 1.5))
    create_training_job(sleeper("second", tmp_path, output, 0))
    waiting = describe_training_job({"TrainingJobName": "second"})
    assert (waiting["TrainingJobStatus"], waiting["SecondaryStatus"]) == ("InProgress", "Starting")
    assert waiting["SecondaryStatusTransitions"][-1]["StatusMessage"] == WAITING
    assert "TrainingStartTime" not in waiting
    assert record("second").supervisor_pid is None
    listed = list_training_jobs({"StatusEquals": "InProgress"})["TrainingJobSummaries"]
    assert sorted(s["TrainingJobName"] for s in listed) == ["first", "second"]
    first = wait_for("first")
    second = wait_for("second")
    assert first["TrainingJobStatus"] == second["TrainingJobStatus"] == "Completed"
    assert first["TrainingEndTime"] <= second["TrainingStartTime"]
    messages = [(t["Status"], t["StatusMessage"]) for t in second["SecondaryStatusTransitions"]]
    assert messages[0] == ("Starting", "Preparing the instances for training")
    assert [status for status, _ in messages] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]


def test_stopping_a_waiting_job_stops_it_at_once_and_it_never_runs(
    tmp_path: Path, output: Path
) -> None:
    create_training_job(sleeper("holder", tmp_path, output, 1))
    create_training_job(sleeper("waiting", tmp_path, output, 0))
    assert stop_training_job({"TrainingJobName": "waiting"}) == {}
    stopped = describe_training_job({"TrainingJobName": "waiting"})
    assert stopped["TrainingJobStatus"] == "Stopped"
    assert [t["Status"] for t in stopped["SecondaryStatusTransitions"]] == [
        "Starting",
        "Stopping",
        "Stopped",
    ]
    assert wait_for("holder")["TrainingJobStatus"] == "Completed"
    job = record("waiting")
    assert (job.status, job.supervisor_pid, job.queued) == ("Stopped", None, False)
    assert not Path(job.log_path).exists()


def test_a_waiting_job_starts_when_the_holder_of_the_slot_dies(
    tmp_path: Path, output: Path
) -> None:
    create_training_job(sleeper("doomed", tmp_path, output, 30))
    create_training_job(sleeper("next", tmp_path, output, 0))
    wait_for("doomed", lambda d: d["SecondaryStatus"] == "Training")
    pid = record("doomed").supervisor_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # Reading the waiting job, once it has waited a few seconds, finds the dead holder and
    # gives the slot on.
    wait_for("next", lambda d: d["SecondaryStatus"] != "Starting", timeout=30)
    assert describe_training_job({"TrainingJobName": "doomed"})["TrainingJobStatus"] == "Failed"
    assert wait_for("next")["TrainingJobStatus"] == "Completed"


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_limit_that_is_not_a_whole_number_above_zero_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HPJOBS_MAX_RUNNING_JOBS", value)
    with pytest.raises(ValueError, match="HPJOBS_MAX_RUNNING_JOBS must be a whole number"):
        settings()


def test_the_default_limit_is_twice_the_usable_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HPJOBS_MAX_RUNNING_JOBS")
    assert settings().max_running_jobs == 2 * len(os.sched_getaffinity(0))


def test_a_supervisor_that_goes_on_to_a_waiting_job_writes_to_that_jobs_log(
    tmp_path: Path, output: Path
) -> None:
    create_training_job(sleeper("before", tmp_path, output, 0.2))
    create_training_job(sleeper("after", tmp_path, output, 5))
    wait_for("before")
    wait_for("after", lambda d: d["SecondaryStatus"] == "Training")
    supervisor = record("after").supervisor_pid
    assert supervisor == record("before").supervisor_pid  # the same process runs both
    folder = settings().jobs_dir / "after"
    for fd in (1, 2):
        assert os.readlink(f"/proc/{supervisor}/fd/{fd}") == str(folder / "supervisor.log")
    assert wait_for("after")["TrainingJobStatus"] == "Completed"
