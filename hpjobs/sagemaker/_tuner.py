"""The process that runs one hyperparameter tuning job from start to end.

Started by CreateHyperParameterTuningJob as ``python -m hpjobs.sagemaker._tuner NAME`` (or forked
from a single-threaded caller). It launches child training jobs through the control plane, at most
``MaxParallelTrainingJobs`` at a time and ``MaxNumberOfTrainingJobs`` in all, feeds each child's
per-epoch objective to the search (:mod:`hpjobs.tuning.search`) and stops the children it says to
stop, records each child's objective when it ends, and ends the tuning job when its limits or
completion criteria are reached:

- Completed: every training job it may launch has ended, a completion criterion was met, the
  grid is exhausted, or ``MaxRuntimeInSeconds`` of the tuning job passed (running training jobs
  are stopped then);
- Failed: no training job produced an objective value;
- Stopped: StopHyperParameterTuningJob was called (or the tuner got SIGTERM).

Children are named ``<tuning job>-NNN-<8 hex digits>``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import secrets
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType

from sqlalchemy import select
from sqlalchemy.orm import Session

from hpjobs._settle import settle
from hpjobs.errors import ServiceError
from hpjobs.sagemaker._launch import reap_if_dead
from hpjobs.sagemaker._records import utcnow
from hpjobs.sagemaker._tuning_request import (
    Definition,
    TuningPlan,
    child_request,
    prepare_tuning_request,
    static_epochs,
)
from hpjobs.sagemaker.training_jobs import TuningLink, create_child_training_job, stop_training_job
from hpjobs.sagemaker.tuning_jobs import TuningJobStatus, stop_children
from hpjobs.store import MetricPoint, Store, TrainingJob, TuningJob, get_store
from hpjobs.tuning.completion import Completion, Progress
from hpjobs.tuning.search import Decision, Search, Suggestion

_POLL_SECONDS = 0.1
_HEARTBEAT_SECONDS = 2.0
_FINISHED = {"Completed", "Failed", "Stopped"}


@dataclass
class Child:
    """A running child and what the tuner knows of it."""

    job_id: int
    name: str
    search: int
    trial: int
    last_point: int = 0
    last_value: float | None = None
    stopping: Decision | None = None
    epochs: dict[int, float] = field(default_factory=dict)


class Tuner:
    def __init__(self, store: Store, job: TuningJob) -> None:
        self.store = store
        self.job_id = job.id
        self.name = job.name
        self.arn = job.arn
        self.request = job.request
        self.plan: TuningPlan = prepare_tuning_request(job.request)
        if self.plan.strategy == "Bayesian":
            _single_threaded_torch()
        config = job.request["HyperParameterTuningJobConfig"]
        self.parallel: int = config["ResourceLimits"]["MaxParallelTrainingJobs"]
        runtime = config["ResourceLimits"].get("MaxRuntimeInSeconds")
        self.deadline = None if runtime is None else time.monotonic() + runtime
        self.searches = self._searches(config)
        tuned = sum(len(d.ranges) for d in self.plan.definitions)
        self.progress = Progress(
            Completion.from_request(config, tuned), self.plan.definitions[0].minimize
        )
        self.running: dict[str, Child] = {}
        self.launched = 0
        self.exhausted = False
        self._exhausted: set[int] = set()
        self._turn = 0
        self.stop_requested = False
        self.done_reason: str | None = None
        self._last_beat = 0.0

    def _searches(self, config: Mapping[str, object]) -> list[Search]:
        seed = config.get("RandomSeed")
        early = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
        return [
            Search(
                d.ranges,
                self.plan.strategy,
                d.minimize,
                seed=None if seed is None else int(str(seed)) + index,
                hyperband=self.plan.hyperband,
                early_stopping=early,
            )
            for index, d in enumerate(self.plan.definitions)
        ]

    # -- warm start ---------------------------------------------------------------------------

    def warm_start(self) -> None:
        """Seed each search with the finished jobs of the parent tuning jobs."""
        warm = self.request.get("WarmStartConfig")
        if warm is None:
            return
        names = [
            p.get("HyperParameterTuningJobName", "").lower()
            for p in warm["ParentHyperParameterTuningJobs"]
        ]
        with self.store.read() as session:
            parents = list(
                session.scalars(select(TuningJob.id).where(TuningJob.name_key.in_(names)))
            )
            rows = session.execute(
                select(
                    TrainingJob.tuning_definition,
                    TrainingJob.tuned_hyperparameters,
                    TrainingJob.objective_value,
                )
                .where(
                    TrainingJob.tuning_job_id.in_(parents), TrainingJob.objective_value.is_not(None)
                )
                .order_by(TrainingJob.id)
            ).all()
        by_name = {d.name: i for i, d in enumerate(self.plan.definitions)}
        for definition, values, objective in rows:
            index = by_name.get(definition, 0)
            self.searches[index].add_history(values or {}, float(objective))

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> int:
        while True:
            self._heartbeat()
            self._poll_children()
            if self._status() == TuningJobStatus.STOPPING:
                self.stop_requested = True
            if self.stop_requested or self._done():
                if not self.running:
                    self._finish()
                    return 0
                self._stop_all()
            else:
                self._launch()
            time.sleep(_POLL_SECONDS)

    def _done(self) -> bool:
        if self.done_reason is None:
            self.done_reason = self.progress.reason_to_stop()
        if (
            self.done_reason is None
            and self.deadline is not None
            and time.monotonic() > self.deadline
        ):
            self.done_reason = "MaxRuntimeInSeconds of the tuning job reached"
        if self.done_reason is not None:
            return True
        return not self.running and (self.exhausted or self.launched >= self.plan.max_jobs)

    def _status(self) -> str:
        with self.store.read() as session:
            job = session.get(TuningJob, self.job_id)
            return TuningJobStatus.STOPPING if job is None else job.status

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat < _HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        details = self._completion_details()
        with self.store.write() as session:
            job = session.get(TuningJob, self.job_id)
            if job is not None:
                job.heartbeat_time = utcnow()
                if job.completion_details != details:
                    job.completion_details = details
                    job.last_modified_time = utcnow()

    def _completion_details(self) -> dict[str, object]:
        details: dict[str, object] = {
            "NumberOfTrainingJobsObjectiveNotImproving": self.progress.jobs_not_improving
        }
        if self.progress.converged_at is not None:
            details["ConvergenceDetectedTime"] = self.progress.converged_at.timestamp()
        return details

    # -- children -----------------------------------------------------------------------------

    def _launch(self) -> None:
        while len(self.running) < self.parallel and self.launched < self.plan.max_jobs:
            picked = self._next_suggestion()
            if picked is None:
                self.exhausted = True
                return
            index, suggestion = picked
            self.launched += 1
            name = f"{self.name}-{self.launched:03d}-{secrets.token_hex(4)}"
            definition = self.plan.definitions[index]
            self._create(definition, name, suggestion.values, index, suggestion.number)

    def _next_suggestion(self) -> tuple[int, Suggestion] | None:
        """The next configuration, taking the definitions in turn and skipping any whose search
        is exhausted (a grid that has run every combination)."""
        count = len(self.searches)
        for step in range(count):
            index = (self._turn + step) % count
            if index in self._exhausted:
                continue
            suggestion = self.searches[index].ask()
            if suggestion is None:
                self._exhausted.add(index)
                continue
            self._turn = index + 1
            return index, suggestion
        return None

    def _create(
        self, definition: Definition, name: str, values: dict[str, str], index: int, trial: int
    ) -> None:
        link = TuningLink(self.job_id, self.arn, definition.name, values)
        try:
            create_child_training_job(child_request(definition, name, values), link)
        except ServiceError as error:
            print(f"could not create training job {name}: {error}", file=sys.stderr, flush=True)
            self.searches[index].tell(trial, None)
            self.progress.record(None, utcnow())
            return
        with self.store.read() as session:
            job_id = session.scalar(select(TrainingJob.id).where(TrainingJob.name == name))
        if job_id is not None:
            self.running[name] = Child(job_id, name, index, trial)

    def _poll_children(self) -> None:
        for child in list(self.running.values()):
            with self.store.read() as session:
                job = session.get(TrainingJob, child.job_id)
            if job is not None and reap_if_dead(self.store, job):
                # its supervisor died: the child is Failed now (the reaping added the metric
                # points it had not stored)
                with self.store.read() as session:
                    job = session.get(TrainingJob, child.job_id)
            # The points are read after the status: a supervisor stores all of a job's points
            # before it records the job's end, so a child seen ended has its last points read
            # here. (Read the other way round, a job that ended between the two reads counted
            # without its last points, or with no objective at all.)
            self._read_objective(child)
            status = None if job is None else job.status
            if status is None or status in _FINISHED:
                self._ended(child, status)

    def _read_objective(self, child: Child) -> None:
        definition = self.plan.definitions[child.search]
        with self.store.read() as session:
            rows = session.execute(
                select(MetricPoint.id, MetricPoint.value, MetricPoint.epoch)
                .where(
                    MetricPoint.job_id == child.job_id,
                    MetricPoint.name == definition.objective["MetricName"],
                    MetricPoint.id > child.last_point,
                )
                .order_by(MetricPoint.id)
            ).all()
        for point_id, value, epoch in rows:
            child.last_point = point_id
            child.last_value = value
            if epoch is None or child.stopping is not None or epoch in child.epochs:
                continue
            child.epochs[epoch] = value
            decision = self.searches[child.search].report(child.trial, epoch, value)
            if decision is Decision.CONTINUE:
                continue
            child.stopping = decision
            if decision is Decision.STOP_EARLY or not self._ends_by_itself(child, epoch):
                self._stop_child(child.name)

    def _ends_by_itself(self, child: Child, epoch: int) -> bool:
        """Whether a job at Hyperband's MaxResource is at its own last epoch anyway."""
        epochs = static_epochs(self.plan.definitions[child.search])
        return epochs is not None and epochs <= epoch

    def _stop_child(self, name: str) -> None:
        with contextlib.suppress(ServiceError):  # it may have ended already
            stop_training_job({"TrainingJobName": name})

    def _ended(self, child: Child, status: str | None) -> None:
        del self.running[child.name]
        early = child.stopping is Decision.STOP_EARLY
        counted = status == "Completed" or (status == "Stopped" and child.stopping is not None)
        objective = child.last_value if counted else None
        self.searches[child.search].tell(
            child.trial, objective, stopped_early=early and objective is not None
        )
        with self.store.write() as session:
            job = session.get(TrainingJob, child.job_id)
            if job is not None:
                job.objective_value = objective
                job.objective_status = "Failed" if objective is None else "Succeeded"
        self.progress.record(objective, utcnow())

    def _stop_all(self) -> None:
        for child in self.running.values():
            if child.stopping is None:
                child.stopping = Decision.STOP_EARLY if not self.stop_requested else None
        stop_children(self.store, self.job_id)

    # -- the end ------------------------------------------------------------------------------

    def _finish(self) -> None:
        now = utcnow()
        with self.store.write() as session:
            job = session.get(TuningJob, self.job_id)
            if job is None or job.status in _FINISHED:
                return
            job.completion_details = self._completion_details()
            job.end_time = job.last_modified_time = now
            if self.stop_requested:
                job.status = TuningJobStatus.STOPPED
            elif self.progress.best is None:
                job.status = TuningJobStatus.FAILED
                job.failure_reason = self._failure_reason(session)
            else:
                job.status = TuningJobStatus.COMPLETED

    def _failure_reason(self, session: Session) -> str:
        last = session.scalar(
            select(TrainingJob.failure_reason)
            .where(
                TrainingJob.tuning_job_id == self.job_id, TrainingJob.failure_reason.is_not(None)
            )
            .order_by(TrainingJob.id.desc())
            .limit(1)
        )
        reason = "No training job reported the objective metric"
        return (f"{reason}. The last failure: {last}" if last else f"{reason}.")[:1024]

    def fail(self, reason: str) -> None:
        with self.store.write() as session:
            job = session.get(TuningJob, self.job_id)
            if job is not None and job.status not in _FINISHED:
                job.status = TuningJobStatus.FAILED
                job.failure_reason = reason[:1024]
                job.end_time = job.last_modified_time = utcnow()
        stop_children(self.store, self.job_id, evaluated=False)


def _single_threaded_torch() -> None:
    """The Gaussian process of the Bayesian strategy runs on torch: keep it on one thread, so that
    no OpenMP worker threads exist when the tuner forks the supervisors of its training jobs (and
    the small matrices involved are faster on one thread anyway)."""
    import torch

    torch.set_num_threads(1)


def main(name: str) -> int:
    """Run tuning job ``name`` to its end."""
    faulthandler.enable()
    store = get_store()
    with store.read() as session:
        job = session.scalars(select(TuningJob).where(TuningJob.name_key == name.lower())).first()
    if job is None:
        print(f"no tuning job named {name}", file=sys.stderr)
        return 2
    tuner = Tuner(store, job)
    settle()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        tuner.stop_requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        tuner.warm_start()
        return tuner.run()
    except Exception:
        tuner.fail(f"InternalServerError: the tuner failed:\n{traceback.format_exc()}")
        raise


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
