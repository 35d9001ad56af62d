"""``TrainingJobEarlyStoppingType: Auto``: SageMaker's median rule (reference sagemaker.md §4).

After each epoch of the current training job, take its objective value at that epoch. For every
training job launched before it that has reached the same epoch, compute the running average of
its objective up to that epoch; take the median of those running averages. If the current value
is worse than that median (higher when minimising, lower when maximising), stop the job.

This is not Optuna's ``MedianPruner``, which compares a trial's best value so far with the median
of other trials' raw values at the step. SageMaker does not say how many earlier jobs the median
needs; hpjobs judges a job at an epoch once at least three earlier jobs have reached that epoch
(as Ray Tune's median stopping rule does by default), so that one or two early runs cannot stop
every later one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping

import optuna
from optuna.study import StudyDirection

__all__ = ["MedianRunningAverageRule", "worse_than_median"]


def worse_than_median(
    value: float,
    epoch: int,
    earlier: Iterable[Mapping[int, float]],
    minimize: bool,
    min_jobs: int = 3,
) -> bool:
    """Whether ``value`` at ``epoch`` is worse than the median of the earlier jobs' running
    averages up to ``epoch`` (only jobs that reached ``epoch`` count)."""
    averages = [
        statistics.fmean(v for e, v in history.items() if e <= epoch)
        for history in earlier
        if epoch in history
    ]
    if len(averages) < min_jobs:
        return False
    median = statistics.median(averages)
    return value > median if minimize else value < median


class MedianRunningAverageRule(optuna.pruners.BasePruner):
    """:func:`worse_than_median` as an Optuna pruner: trials are training jobs, steps epochs."""

    def __init__(self, min_jobs: int = 3) -> None:
        self.min_jobs = min_jobs

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        epoch = trial.last_step
        if epoch is None:
            return False
        earlier = [
            other.intermediate_values
            for other in study.get_trials(deepcopy=False)
            if other.number < trial.number
        ]
        minimize = study.direction == StudyDirection.MINIMIZE
        value = trial.intermediate_values[epoch]
        return worse_than_median(value, epoch, earlier, minimize, self.min_jobs)
