"""What the fault tests share: requests for the fault script, finding a job's processes, killing
a process and waiting until it is really gone."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from helpers import training_request

SCRIPTS = Path(__file__).parent / "scripts"
LOSS = {"Name": "loss", "Regex": r"loss=([0-9.]+)"}
#: The FailureReason of a job whose supervisor died.
LOST = re.compile(
    r"InternalServerError: the job's supervisor process \(pid (\d+)\) ended unexpectedly "
    r"\(last heartbeat: [^)]+\)\. The log and metrics up to then are kept\."
)


def worker_request(name: str, output: Path, **arguments: str) -> dict[str, Any]:
    """A CreateTrainingJob request running ``scripts/worker.py`` with ``arguments`` (``model_mb``
    is passed as ``--model-mb``), the loss metric defined."""
    request = training_request(name, output)
    request["HyperParameters"] = {
        "sagemaker_program": '"worker.py"',
        "sagemaker_submit_directory": f'"{SCRIPTS.as_uri()}"',
        **{key.replace("_", "-"): value for key, value in arguments.items()},
    }
    request["AlgorithmSpecification"]["MetricDefinitions"] = [LOSS]
    return request


def job_processes(home: Path, name: str) -> list[psutil.Process]:
    """Every live process started for job ``name`` of this HPJOBS_HOME (the training script and
    whatever it started), found by the container environment they inherited."""
    base = str(home / "jobs" / name / "opt" / "ml")
    found = []
    for process in psutil.process_iter():
        try:
            environment = process.environ()
            if (
                environment.get("SAGEMAKER_BASE_DIR") == base
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def no_job_processes(home: Path, name: str, timeout: float = 5) -> list[psutil.Process]:
    """The processes of job ``name`` still alive after waiting up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = job_processes(home, name)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def helper_pids(log: str) -> list[int]:
    """The pids ``worker.py --spawn true`` printed."""
    return [int(pid) for pid in re.findall(r"^helper=(\d+)$", log, re.MULTILINE)]


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def kill_and_wait(pid: int, timeout: float = 10) -> None:
    """SIGKILL ``pid`` and wait until it has ended (a zombie counts as ended)."""
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: gone(pid), timeout, f"process {pid} did not die")


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.005)


def supervisor_pid(name: str) -> int:
    from sqlalchemy import select

    from hpjobs.store import TrainingJob, get_store

    with get_store().read() as session:
        pid = session.scalar(select(TrainingJob.supervisor_pid).where(TrainingJob.name == name))
    assert pid is not None
    return int(pid)
