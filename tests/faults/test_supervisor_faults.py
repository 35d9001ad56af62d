"""A training job's supervisor killed with SIGKILL, and training scripts that ignore SIGTERM:
real supervisor processes, real training scripts, real SQLite.

The plain case (the job is Failed at the next describe, the script dies with its supervisor) is
tested in tests/sagemaker/test_training_jobs.py; these tests add what the script started, the
metric points, the list as the reading call, and a kill while the model is being packed.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest
from faults.support import (
    LOST,
    gone,
    helper_pids,
    kill_and_wait,
    no_job_processes,
    supervisor_pid,
    wait_until,
    worker_request,
)
from helpers import wait_for

from hpjobs.sagemaker.training_jobs import (
    create_training_job,
    describe_training_job,
    list_training_jobs,
    stop_training_job,
    training_job_metrics,
)


def _log(home: Path, name: str) -> str:
    path = home / "jobs" / name / "logs" / "algo-1.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _losses_in(log: str) -> list[float]:
    return [float(value) for value in re.findall(r"^step=\d+ loss=([0-9.]+)$", log, re.MULTILINE)]


def test_killed_supervisor_fails_the_job_keeps_log_and_metrics_and_leaves_no_process(
    output: Path, home: Path
) -> None:
    steps = 1500
    request = worker_request(
        "lost", output, spawn="true", steps=str(steps), interval="0", seconds="60"
    )
    create_training_job(request)
    wait_until(lambda: "steps done" in _log(home, "lost"), 60, "the script never got going")
    pid = supervisor_pid("lost")
    kill_and_wait(pid)
    log = _log(home, "lost")

    [summary] = list_training_jobs({})["TrainingJobSummaries"]
    assert summary["TrainingJobName"] == "lost"
    assert summary["TrainingJobStatus"] == "Failed"
    description = describe_training_job({"TrainingJobName": "lost"})
    assert description["TrainingJobStatus"] == "Failed"
    assert description["SecondaryStatus"] == "Failed"
    match = LOST.fullmatch(description["FailureReason"])
    assert match is not None, description["FailureReason"]
    assert int(match.group(1)) == pid
    assert description["TrainingEndTime"] >= description["TrainingStartTime"]

    # Everything the script printed is in the log, and every metric line is a metric point.
    assert _log(home, "lost") == log
    expected = [round(1.0 / step, 6) for step in range(1, steps + 1)]
    assert _losses_in(log) == expected
    points = training_job_metrics("lost")
    assert [p["MetricName"] for p in points] == ["loss"] * steps
    assert [p["Value"] for p in points] == expected
    final = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert final == {"loss": expected[-1]}

    # Nothing of the job runs on: neither the script nor what it started.
    helpers = helper_pids(log)
    assert len(helpers) == 2
    assert no_job_processes(home, "lost") == []
    assert all(gone(helper) for helper in helpers)


def test_killed_while_packing_the_model_reports_no_partial_archive(
    output: Path, home: Path
) -> None:
    request = worker_request("packing", output, model_mb="48", steps="1")
    create_training_job(request)
    scratch = home / "jobs" / "packing" / "artifacts"

    def packing() -> bool:
        names = [p.name for p in scratch.iterdir()] if scratch.is_dir() else []
        return any(name.startswith(".model.tar.gz.") for name in names)

    wait_until(packing, 60, "the model was never packed")
    kill_and_wait(supervisor_pid("packing"))

    description = describe_training_job({"TrainingJobName": "packing"})
    assert description["TrainingJobStatus"] == "Failed"
    assert LOST.fullmatch(description["FailureReason"]), description["FailureReason"]
    reported = description["ModelArtifacts"]["S3ModelArtifacts"]
    assert reported == (output / "packing" / "output" / "model.tar.gz").as_uri()
    assert not (output / "packing" / "output" / "model.tar.gz").exists()
    # No half-written archive is left anywhere: not beside the reported path, not in the job.
    leftovers = [
        p for folder in (output, home / "jobs" / "packing") for p in folder.rglob("*.tar.gz*")
    ]
    assert leftovers == []
    assert no_job_processes(home, "packing") == []


@pytest.mark.parametrize("ending", ["StopTrainingJob", "MaxRuntimeInSeconds"])
def test_script_ignoring_sigterm_is_killed_after_the_grace_period(
    ending: str, output: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPJOBS_STOP_GRACE_SECONDS", "1")
    name = f"stubborn-{ending.lower()}"
    request = worker_request(
        name, output, ignore_sigterm="true", spawn="true", steps="3", seconds="120"
    )
    if ending == "MaxRuntimeInSeconds":
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": 4}
    create_training_job(request)
    wait_until(lambda: "steps done" in _log(home, name), 60, "the script never got going")
    if ending == "StopTrainingJob":
        assert stop_training_job({"TrainingJobName": name}) == {}
    description = wait_for(name, timeout=60)

    log = _log(home, name)
    assert description["TrainingJobStatus"] == "Stopped"
    expected = "Stopped" if ending == "StopTrainingJob" else "MaxRuntimeExceeded"
    assert description["SecondaryStatus"] == expected
    transitions = description["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions[-2:]] == ["Stopping", expected]
    assert "FailureReason" not in description
    # SIGTERM first, SIGKILL one grace period (1 s) later: the job spent at least that long in
    # Stopping, and not the two minutes the script would have slept.
    term = "hpjobs: Sending SIGTERM to the training process; SIGKILL follows in 1 s"
    kill = "hpjobs: The training process did not exit in the grace period: sending SIGKILL"
    assert log.index(term) < log.index(kill)
    stopping = (transitions[-2]["EndTime"] - transitions[-2]["StartTime"]).total_seconds()
    assert 1.0 <= stopping < 30
    # The model is still packed, and no process of the job is left.
    with tarfile.open(output / name / "output" / "model.tar.gz") as archive:
        assert archive.getnames() == []
    assert no_job_processes(home, name) == []
    assert all(gone(pid) for pid in helper_pids(log))
