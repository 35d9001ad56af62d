"""The process that looks after one local training job from start to end.

Started by CreateTrainingJob as ``python -m hpjobs.sagemaker._supervisor NAME``. It runs the job
with :func:`local_runner.run` and writes what happens to the store: status transitions, metric
points (in batches), a heartbeat, and the final status with times and failure reason. It notices a
stop request (the job moving to ``Stopping``) within a fraction of a second. SIGTERM and SIGINT to
the supervisor stop the job the same way.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import traceback
from datetime import datetime
from types import FrameType

from sqlalchemy import select
from sqlalchemy.orm import Session

from hpjobs._settle import settle
from hpjobs.config import settings
from hpjobs.sagemaker import _launch
from hpjobs.sagemaker._launch import JOB_MARK, job_mark
from hpjobs.sagemaker._records import (
    MetricRow,
    add_metrics,
    current_status,
    record_transition,
    utcnow,
)
from hpjobs.sagemaker.images import resolve_image
from hpjobs.sagemaker.status import SecondaryStatus, TrainingJobStatus
from hpjobs.store import Store, TrainingJob, get_store
from local_runner import runner

_CHECK_SECONDS = 0.2
_HEARTBEAT_SECONDS = 2.0
_BATCH = 500

S, T = SecondaryStatus, TrainingJobStatus

#: How a runner result ends a job: (primary, secondary).
_ENDINGS = {
    "Completed": (T.COMPLETED, S.COMPLETED),
    "Failed": (T.FAILED, S.FAILED),
    "Stopped": (T.STOPPED, S.STOPPED),
    "MaxRuntimeExceeded": (T.STOPPED, S.MAX_RUNTIME_EXCEEDED),
}


class Recorder:
    """The runner's :class:`~local_runner.runner.Events`, written to the store."""

    def __init__(self, store: Store, job_id: int) -> None:
        self.store = store
        self.job_id = job_id
        self.stop = threading.Event()
        self._pending: list[MetricRow] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._done = threading.Event()

    # -- Events ------------------------------------------------------------------------------

    def status(self, secondary: str, message: str) -> None:
        new_secondary = SecondaryStatus(secondary)
        new_status = T.STOPPING if new_secondary is S.STOPPING else T.IN_PROGRESS
        with self.store.write() as session:
            job = self._job(session)
            if current_status(job)[0] is T.STOPPING and new_status is T.IN_PROGRESS:
                return  # a stop request overtook this step
            record_transition(session, job, new_status, new_secondary, message)
            if new_secondary is S.DOWNLOADING and job.training_start_time is None:
                # kept now, not only at the end, so a job whose supervisor dies still has it
                job.training_start_time = job.last_modified_time

    def metric(self, name: str, value: float, timestamp: datetime, epoch: int | None) -> None:
        with self._lock:
            self._pending.append((name, value, timestamp, epoch))
            full = len(self._pending) >= _BATCH
        if full:
            self.flush()

    def stop_requested(self) -> bool:
        return self.stop.is_set()

    # -- housekeeping ------------------------------------------------------------------------

    def _job(self, session: Session, lock: bool = True) -> TrainingJob:
        """The job's row; in a write, locked where the database locks rows, so that a stop
        request and this supervisor's own step never both write it from the same old state."""
        job = session.get(TrainingJob, self.job_id, with_for_update=lock)
        if job is None:
            raise RuntimeError(f"training job {self.job_id} vanished from the store")
        return job

    def flush(self) -> None:
        """Write the pending metric points. One flush at a time: a flush returns only once every
        point taken before it is committed, so nothing ends the job ahead of its metrics."""
        with self._flushing:
            with self._lock:
                rows, self._pending = self._pending, []
            if rows:
                with self.store.write() as session:
                    add_metrics(session, self.job_id, rows)

    def watch(self) -> None:
        """Until the job ends: flush metrics, beat the heart, and pick up stop requests."""
        last_beat = 0.0
        while not self._done.wait(_CHECK_SECONDS):
            self.flush()
            with self.store.read() as session:
                status = self._job(session, lock=False).status
            if status == T.STOPPING.value or TrainingJobStatus(status).is_finished():
                # Stopping: StopTrainingJob. Finished: someone took this supervisor for dead
                # and ended the job; nothing it does now would be recorded, so it stops.
                self.stop.set()
            now = utcnow()
            if now.timestamp() - last_beat >= _HEARTBEAT_SECONDS:
                last_beat = now.timestamp()
                with self.store.write() as session:
                    self._job(session).heartbeat_time = now

    def request_stop(self) -> None:
        """Stop the job from inside the supervisor (a signal), as StopTrainingJob would."""
        self.stop.set()

    def finish(self, outcome: runner.Outcome) -> None:
        self._done.set()
        self.flush()
        status, secondary = _ENDINGS[outcome.result]
        with self.store.write() as session:
            job = self._job(session)
            stopping = current_status(job)[0] is T.STOPPING
            if stopping and status is not T.STOPPED:
                status, secondary = T.STOPPED, S.STOPPED  # stopped while it was ending anyway
            if status is T.STOPPED and not stopping:
                record_transition(session, job, T.STOPPING, S.STOPPING)
            record_transition(session, job, status, secondary)
            job.failure_reason = outcome.failure_reason if status is T.FAILED else None
            job.training_start_time = outcome.training_start_time
            job.training_end_time = outcome.training_end_time or utcnow()

    def fail(self, reason: str) -> None:
        self._done.set()
        with self.store.write() as session:
            job = self._job(session)
            if TrainingJobStatus(job.status).is_finished():
                return
            now = utcnow()
            record_transition(session, job, T.FAILED, S.FAILED, now=now)
            job.failure_reason = reason[:1024]
            job.training_end_time = now


def _local_job(job: TrainingJob) -> runner.LocalJob:
    conf = settings()
    program = resolve_image(job.request["AlgorithmSpecification"]["TrainingImage"])
    return runner.LocalJob(
        name=job.name,
        arn=job.arn,
        region=conf.region,
        request=job.request,
        folder=conf.jobs_dir / job.name,
        log_path=conf.jobs_dir / job.name / "logs" / "algo-1.log",
        stop_grace_seconds=conf.stop_grace_seconds,
        builtin_script=program.builtin.script if program.builtin else None,
    )


def main(name: str) -> int:
    """Run job ``name`` to its end, then, while jobs wait for a slot, the oldest of them (this
    process becomes its supervisor: no new process per job); the exit code says whether the
    supervisor itself worked."""
    faulthandler.enable()
    store = get_store()
    settle()
    code = 0
    next_name: str | None = name
    while next_name is not None:
        code = _supervise(store, next_name)
        # This job's slot is free: the oldest job waiting for one is run next.
        os.environ.pop(JOB_MARK, None)
        next_name = _launch.claim_queued(store)
        if next_name is not None:
            _launch.output_to_log_of(next_name)
    _launch.start_queued(store)  # more slots may be free (the limit was raised, say)
    return code


def _supervise(store: Store, name: str) -> int:
    """Run job ``name`` to its end."""
    with store.read() as session:
        job = session.scalars(select(TrainingJob).where(TrainingJob.name == name)).first()
        if job is None:
            print(f"no training job named {name}", file=sys.stderr)
            return 2
        local_job = _local_job(job)
        # Every process of the job inherits this mark, so whoever finds this supervisor dead
        # can find and end what the training script started (see _launch.reap_if_dead).
        os.environ[JOB_MARK] = job_mark(job)
    recorder = Recorder(store, job.id)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        recorder.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    watcher = threading.Thread(target=recorder.watch, daemon=True)
    watcher.start()
    try:
        outcome = runner.run(local_job, recorder)
        recorder.finish(outcome)
    except Exception:
        recorder.fail(f"InternalServerError: the supervisor failed:\n{traceback.format_exc()}")
        raise
    finally:
        watcher.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
