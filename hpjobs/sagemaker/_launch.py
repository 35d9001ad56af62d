"""Starting a job's supervisor process, and noticing when one has died.

The supervisor (:mod:`hpjobs.sagemaker._supervisor`) runs in its own session so it outlives the
command that created the job. Its pid and process start time are stored with the job; a job in
``InProgress`` or ``Stopping`` whose supervisor process is gone is marked ``Failed`` by the next
read, with a ``FailureReason`` that says so. That read also cleans up after the dead supervisor:

- metric lines the log has but the store does not (the supervisor writes points in batches) are
  added, so the metrics agree with the log;
- every process still carrying the job's mark in its environment (what the training script
  started; the script itself dies with its supervisor) is killed;
- half-written archives (the temporary files an archive is written to before it is renamed into
  place) are removed from the job's folder and its output folder, so that only a complete
  ``model.tar.gz`` can ever be found at the job's ``S3ModelArtifacts``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import stat
import subprocess
import sys
import threading
import time
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NoReturn

import psutil
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from hpjobs.config import settings
from hpjobs.sagemaker._records import MetricRow, add_metrics, record_transition, utcnow
from hpjobs.sagemaker.status import SecondaryStatus, TrainingJobStatus
from hpjobs.store import MetricPoint, Store, TrainingJob

__all__ = [
    "JOB_MARK",
    "claim_queued",
    "job_mark",
    "output_to_log_of",
    "process_alive",
    "reap_if_dead",
    "running_jobs",
    "start_daemon",
    "start_queued",
    "start_supervisor",
    "waiting_message",
]

#: The module a training job's supervisor process runs.
_SUPERVISOR = "hpjobs.sagemaker._supervisor"
#: How long a job waits for a slot before a read of it checks that someone will give it one.
_QUEUE_NUDGE = timedelta(seconds=5)
#: ... and does so at most this often (seconds) in one process.
_NUDGE_EVERY = 1.0
_nudged_at = float("-inf")
#: How long a job may wait for its supervisor to register before it counts as lost.
_START_GRACE = timedelta(seconds=60)
_ACTIVE = (TrainingJobStatus.IN_PROGRESS.value, TrainingJobStatus.STOPPING.value)
#: The environment variable the supervisor gives every process of its job (see :func:`job_mark`).
JOB_MARK = "HPJOBS_JOB"
#: Logs longer than this are not read again when a supervisor dies (its stored metrics stay).
_LOG_READ_LIMIT = 64 * 1024 * 1024
#: The name :func:`local_runner.archives.temporary_beside` gives a file being written.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}")


def running_jobs(session: Session) -> int:
    """How many local training jobs hold a slot: active and not waiting for one."""
    count = session.scalar(_holding_slots().with_only_columns(func.count()))
    return int(count or 0)


def waiting_message(running: int, cap: int) -> str:
    """The status message of a job waiting for a slot."""
    return (
        f"Waiting for a free slot: {running} local training jobs are running "
        f"(HPJOBS_MAX_RUNNING_JOBS is {cap})"
    )


def _take_oldest_queued(session: Session, cap: int) -> TrainingJob | None:
    """The oldest job waiting for a slot, taken out of the queue, when a slot is free."""
    if running_jobs(session) >= cap:
        return None
    job = session.scalars(
        select(TrainingJob)
        .where(
            TrainingJob.queued.is_(True),
            TrainingJob.status == TrainingJobStatus.IN_PROGRESS.value,
        )
        .order_by(TrainingJob.queued, TrainingJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if job is None:
        return None
    job.queued = False
    record_transition(session, job, TrainingJobStatus.IN_PROGRESS, SecondaryStatus.STARTING)
    return job


def claim_queued(store: Store) -> str | None:
    """For a supervisor whose job has ended: the name of the oldest job waiting for a slot,
    now recorded as supervised by this process; None when no job waits (or no slot is free)."""
    me = psutil.Process()
    with store.write() as session:
        job = _take_oldest_queued(session, settings().max_running_jobs)
        if job is None:
            return None
        job.supervisor_pid, job.supervisor_started = me.pid, me.create_time()
        return job.name


def start_queued(store: Store) -> None:
    """Start the oldest jobs waiting for a slot, while there are free slots."""
    cap = settings().max_running_jobs
    with store.read() as session:
        if not _anything_queued(session):
            return
        holders: list[TrainingJob] = []
        if running_jobs(session) >= cap:
            holders = list(session.scalars(_holding_slots()))
            session.expunge_all()
    if holders:
        # A holder whose supervisor died frees its slot when reaped (which starts the next).
        for holder in holders:
            reap_if_dead(store, holder)
        return
    while True:
        with store.write() as session:
            job = _take_oldest_queued(session, cap)
            if job is None:
                return
            job_id, name, folder = job.id, job.name, Path(job.job_dir)
        start_supervisor(store, job_id, name, folder)


def _holding_slots() -> Select[TrainingJob]:
    return select(TrainingJob).where(
        TrainingJob.status.in_(_ACTIVE),
        TrainingJob.target == "local",
        TrainingJob.queued.is_(False),
    )


def _anything_queued(session: Session) -> bool:
    first = session.scalar(
        select(TrainingJob.id)
        .where(TrainingJob.queued.is_(True))
        .order_by(TrainingJob.queued)
        .limit(1)
    )
    return first is not None


def start_supervisor(store: Store, job_id: int, name: str, folder: Path) -> None:
    """Start the supervisor of training job ``name`` and record which process it is."""
    pid, started = start_daemon(store, _SUPERVISOR, name, folder)
    with store.write() as session:
        session.execute(
            update(TrainingJob)
            .where(TrainingJob.id == job_id, TrainingJob.supervisor_pid.is_(None))
            .values(supervisor_pid=pid, supervisor_started=started)
        )


def start_daemon(store: Store, module: str, name: str, folder: Path) -> tuple[int, float | None]:
    """Start ``module.main(name)`` in a process of its own that outlives the caller; its pid and
    process start time. Its output goes to ``folder/<last part of module>.log``.

    A single-threaded caller (the CLI, a tuner) forks it, which saves the new interpreter's
    start-up; a caller with threads (a server, a test runner, torch's OpenMP pool) starts a fresh
    interpreter, since forking a threaded process is unsafe.
    """
    log = _daemon_log(folder, module)
    pid = _fork(store, module, name, log) if _fork_is_safe() else _spawn(module, name, log)
    try:
        started: float | None = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        started = None
    return pid, started


def _fork_is_safe() -> bool:
    """Forking is safe for a process with one thread that has not started OpenMP worker threads
    (torch with more than one thread may have; a forked child using OpenMP would hang)."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    torch = sys.modules.get("torch")
    return torch is None or torch.get_num_threads() == 1


def _spawn(module: str, name: str, log: Path) -> int:
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", module, name],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    threading.Thread(target=process.wait, daemon=True).start()  # reap it in long-lived callers
    return process.pid


def _fork(store: Store, module: str, name: str, log: Path) -> int:
    """Double-fork a daemon running ``module.main(name)``; returns the daemon's pid.

    The store's pooled connections are closed first: an SQLite connection must never cross a
    fork (the child closing an inherited one would drop the file locks of its own).
    """
    store.engine.dispose()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os.setsid()
        daemon = os.fork()
        if daemon:
            os.write(write_end, str(daemon).encode())
            os._exit(0)
        os.close(write_end)
        _become_daemon(module, name, log)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        pid = int(pipe.read().decode())
    os.waitpid(child, 0)
    return pid


def _daemon_log(folder: Path, module: str) -> Path:
    """Where a daemon running ``module`` for the job in ``folder`` writes its own output
    (``supervisor.log``, ``tuner.log``); the folder is made if need be."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{module.rsplit('.', 1)[-1].lstrip('_')}.log"


def _output_to(log: Path) -> None:
    """Send this process's stdout and stderr (the descriptors) to the end of ``log``."""
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(output, 1)
        os.dup2(output, 2)
    finally:
        os.close(output)


def output_to_log_of(name: str) -> None:
    """For a supervisor that goes on to run job ``name``: write its own output to that job's
    ``supervisor.log`` from now on, as a supervisor started for the job would. Only where the
    output goes to a file (a daemon's log), not to a terminal or pipe of whoever started it."""
    if stat.S_ISREG(os.fstat(1).st_mode):
        sys.stdout.flush()  # what was written so far belongs to the job before
        sys.stderr.flush()
        _output_to(_daemon_log(settings().jobs_dir / name, _SUPERVISOR))


def _become_daemon(module: str, name: str, log: Path) -> NoReturn:
    """In the forked daemon: detach from the caller's files, run ``module.main``, then exit (the
    module settles the process itself: :func:`hpjobs._settle.settle` turns collection on)."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        _output_to(log)
        code = importlib.import_module(module).main(name)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def process_alive(pid: int | None, started: float | None) -> bool:
    """Whether process ``pid`` exists, is not a zombie and started at ``started``."""
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 0.5
    except psutil.NoSuchProcess:
        return False


def _lost_reason(job: TrainingJob) -> str | None:
    if job.status not in _ACTIVE or job.target != "local" or job.queued:
        return None
    if job.supervisor_pid is None:
        # A job that waited for a slot was last modified when it got one.
        if utcnow() - job.last_modified_time < _START_GRACE:
            return None
        return "InternalServerError: the job's supervisor process never started."
    if process_alive(job.supervisor_pid, job.supervisor_started):
        return None
    beat = job.heartbeat_time.isoformat() if job.heartbeat_time else "none"
    return (
        f"InternalServerError: the job's supervisor process (pid {job.supervisor_pid}) ended "
        f"unexpectedly (last heartbeat: {beat}). The log and metrics up to then are kept."
    )


def job_mark(job: TrainingJob) -> str:
    """The value of :data:`JOB_MARK` for the processes of ``job``: its folder (one per store and
    name) and its id (one per record)."""
    return f"{job.id}:{job.job_dir}"


def reap_if_dead(store: Store, job: TrainingJob) -> bool:
    """Mark ``job`` Failed if its supervisor is gone, and clean up after it; True when this call
    changed it. Reading a job that has waited for a slot a while starts waiting jobs if slots
    are free: normally the supervisor of a job that ends takes the next one, but a supervisor can
    die between the two, and a job can join the queue just as the last supervisor leaves it."""
    global _nudged_at
    if job.queued and job.status in _ACTIVE:
        if utcnow() - job.last_modified_time > _QUEUE_NUDGE and (
            time.monotonic() - _nudged_at > _NUDGE_EVERY
        ):
            # once a second per process at most: a listing of 100 waiting jobs nudges once
            _nudged_at = time.monotonic()
            start_queued(store)
        return False
    if _lost_reason(job) is None:
        return False
    with store.write() as session:
        # FOR UPDATE (where the database has it): two readers noticing the same dead supervisor
        # at once take turns, and the second finds the job already Failed.
        fresh = session.get(TrainingJob, job.id, with_for_update=True)
        reason = None if fresh is None else _lost_reason(fresh)
        if fresh is None or reason is None:
            return False
        now = utcnow()
        _recover_metrics(session, fresh)
        record_transition(session, fresh, TrainingJobStatus.FAILED, SecondaryStatus.FAILED, now=now)
        fresh.failure_reason = reason
        fresh.training_end_time = now
        mark, folder, artifacts = job_mark(fresh), Path(fresh.job_dir), fresh.model_artifacts
    _kill_marked(mark)
    _discard_partial_archives(folder, artifacts)
    start_queued(store)  # its slot is free
    return True


def _recover_metrics(session: Session, job: TrainingJob) -> None:
    """Add the metric points of log lines the dead supervisor read but had not yet stored.

    The supervisor stores points in the order their lines reached the log, so the first ``n``
    values of a metric in the log are the ``n`` points stored; the rest are added, stamped with
    the time the log was last written.
    """
    from local_runner.metrics import MetricParser

    definitions = job.request.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    log = Path(job.log_path)
    try:
        if not definitions or log.stat().st_size > _LOG_READ_LIMIT:
            return
        written = datetime.fromtimestamp(log.stat().st_mtime, timezone.utc)
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    stored: dict[str, int] = dict(
        session.execute(
            select(MetricPoint.name, func.count())
            .where(MetricPoint.job_id == job.id)
            .group_by(MetricPoint.name)
        ).all()
    )
    parser = MetricParser(definitions)
    missing: list[MetricRow] = []
    for line in text.splitlines():
        if line.startswith("hpjobs: "):  # the runner's own lines carry no metrics
            continue
        for value in parser.parse(line):
            if stored.get(value.name, 0) > 0:
                stored[value.name] -= 1
            else:
                missing.append((value.name, value.value, written, value.epoch))
    add_metrics(session, job.id, missing)


def _kill_marked(mark: str) -> None:
    """SIGKILL every process whose environment carries ``mark`` (the training script's own
    process is killed by Linux when its supervisor dies; what it started is not)."""
    me = os.getpid()
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.pid != me and process.environ().get(JOB_MARK) == mark:
                process.kill()


def _discard_partial_archives(folder: Path, model_artifacts: str) -> None:
    """Remove the temporary files a dead supervisor was writing archives or model files to: in
    the job's scratch folder, and in the job's own output folder when that is on this machine."""
    from local_runner.staging import local_path

    places = [folder / "artifacts"]
    output = local_path(model_artifacts.rsplit("/output/", 1)[0] + "/output")
    if output is not None:
        places.append(output)
    for place in places:
        if not place.is_dir():
            continue
        for path in place.rglob(".*"):
            if _TEMPORARY.fullmatch(path.name) and path.is_file():
                with contextlib.suppress(OSError):
                    path.unlink()
