"""When a tuning job is done: ``TuningJobCompletionCriteria`` and the resource limits.

- ``TargetObjectiveMetricValue``: done once a training job's objective reaches the target
  (at or below it when minimising, at or above it when maximising).
- ``BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving`` = N: done once N training jobs
  in a row (in the order they finished) failed to improve the best objective by 1% or more.
- ``ConvergenceDetected``: SageMaker defines convergence as a lack of significant improvement
  (1% or less) without publishing its test. hpjobs detects it when the best objective has
  improved by 1% or less over the last ``max(10, 2 × tuned hyperparameters)`` finished training
  jobs; ``ConvergenceDetectedTime`` is reported either way and the job completes only with
  ``CompleteOnConvergence: Enabled``.

Improvement is relative to the magnitude of the best value so far (absolute when it is 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Completion", "Progress", "improves"]

_SIGNIFICANT = 0.01


def _gain(new: float, old: float, minimize: bool) -> float:
    return old - new if minimize else new - old


def improves(new: float, best: float | None, minimize: bool, by: float = 0.0) -> bool:
    """Whether ``new`` beats ``best`` (strictly) by at least the fraction ``by`` of ``|best|``."""
    if best is None:
        return True
    gain = _gain(new, best, minimize)
    return gain > 0 and gain >= by * abs(best)


def _significant(new: float, old: float, minimize: bool) -> bool:
    """Whether ``new`` beats ``old`` by more than 1% of ``|old|`` (convergence is "1% or less")."""
    gain = _gain(new, old, minimize)
    return gain > 0 and gain > _SIGNIFICANT * abs(old)


@dataclass(frozen=True)
class Completion:
    """The completion criteria of a tuning job, read from its request."""

    target: float | None = None
    not_improving: int | None = None
    complete_on_convergence: bool = False
    convergence_window: int = 10

    @classmethod
    def from_request(cls, config: Mapping[str, Any], tuned_parameters: int) -> Completion:
        criteria = config.get("TuningJobCompletionCriteria", {})
        not_improving = criteria.get("BestObjectiveNotImproving", {})
        convergence = criteria.get("ConvergenceDetected", {})
        return cls(
            target=criteria.get("TargetObjectiveMetricValue"),
            not_improving=not_improving.get("MaxNumberOfTrainingJobsNotImproving"),
            complete_on_convergence=convergence.get("CompleteOnConvergence") == "Enabled",
            convergence_window=max(10, 2 * tuned_parameters),
        )


@dataclass
class Progress:
    """What the finished training jobs say so far, against the criteria."""

    criteria: Completion
    minimize: bool
    best: float | None = None
    jobs_not_improving: int = 0
    converged_at: datetime | None = None
    target_reached: bool = False
    _bests: list[float | None] = field(default_factory=list)

    def record(self, objective: float | None, now: datetime) -> None:
        """Take one finished training job's objective (None when it had none)."""
        if objective is not None and improves(objective, self.best, self.minimize, _SIGNIFICANT):
            self.jobs_not_improving = 0
        else:
            self.jobs_not_improving += 1
        if objective is not None and improves(objective, self.best, self.minimize):
            self.best = objective
        target = self.criteria.target
        if target is not None and objective is not None:
            self.target_reached |= objective <= target if self.minimize else objective >= target
        self._bests.append(self.best)
        if self.converged_at is None and self._converged():
            self.converged_at = now

    def _converged(self) -> bool:
        window = self.criteria.convergence_window
        if len(self._bests) <= window or self.best is None:
            return False
        before = self._bests[-window - 1]
        return before is not None and not _significant(self.best, before, self.minimize)

    def reason_to_stop(self) -> str | None:
        """Why the tuning job is done, or None while it is not."""
        if self.target_reached:
            return "TargetObjectiveMetricValue reached"
        limit = self.criteria.not_improving
        if limit is not None and self.jobs_not_improving >= limit:
            return f"{limit} training jobs in a row did not improve the objective by 1%"
        if self.criteria.complete_on_convergence and self.converged_at is not None:
            return "convergence detected"
        return None
