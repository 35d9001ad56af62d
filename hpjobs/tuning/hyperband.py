"""Hyperband's early stopping: asynchronous successive halving (ASHA) on the per-epoch objective.

Rungs sit at ``MinResource × 3^k`` epochs, below ``MaxResource``. When a training job reports its
objective at a rung, it is compared with every job (running or ended) that has reported at that
rung: once at least 3 jobs have (this one included), the job goes on only if its value is among
the best ``ceil(n / 3)`` of the ``n`` values there; otherwise it is stopped. Before 3 values exist
at a rung, and between rungs, no job is stopped: ASHA would keep such a job waiting for a later
promotion, and a job here cannot be paused, so it gets the benefit of the doubt. A job is never
stopped before ``MinResource`` epochs; the tuner stops it at ``MaxResource``.
"""

from __future__ import annotations

import math

import optuna
from optuna.study import StudyDirection

__all__ = ["ETA", "AsynchronousSuccessiveHalving", "rungs"]

ETA = 3


def rungs(min_resource: int, max_resource: int, eta: int = ETA) -> list[int]:
    """The epochs at which jobs are compared."""
    points = []
    epoch = min_resource
    while epoch < max_resource:
        points.append(epoch)
        epoch *= eta
    return points


class AsynchronousSuccessiveHalving(optuna.pruners.BasePruner):
    """The rule above as an Optuna pruner: trials are training jobs, steps epochs."""

    def __init__(self, min_resource: int, max_resource: int, eta: int = ETA) -> None:
        self.eta = eta
        self.rungs = frozenset(rungs(min_resource, max_resource, eta))

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        epoch = trial.last_step
        if epoch is None or epoch not in self.rungs:
            return False
        values = [
            other.intermediate_values[epoch]
            for other in study.get_trials(deepcopy=False)
            if epoch in other.intermediate_values
        ]
        if len(values) < self.eta:
            return False
        minimize = study.direction == StudyDirection.MINIMIZE
        ranked = sorted(values, reverse=not minimize)
        cutoff = ranked[math.ceil(len(values) / self.eta) - 1]
        value = trial.intermediate_values[epoch]
        return value > cutoff if minimize else value < cutoff
