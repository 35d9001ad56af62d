"""One training job definition's search, by strategy, through Optuna's ask-and-tell interface.

=============  =========================================================================
strategy       how configurations are chosen
=============  =========================================================================
Grid           every combination of the (categorical) ranges once, in the order given
Random         independent draws honouring each range's scaling (Optuna ``RandomSampler``)
Bayesian       Gaussian-process regression with expected improvement, as SageMaker's
               (Optuna ``GPSampler``; its first 10 configurations are random)
Hyperband      random configurations; asynchronous successive halving on the per-epoch
               objective decides which jobs go on
               (:mod:`hpjobs.tuning.hyperband`, reduction factor 3, first rung at
               ``MinResource``); a job that reaches ``MaxResource`` epochs is stopped there
=============  =========================================================================

Training jobs are Optuna trials and epochs are steps: :meth:`Search.report` takes each epoch's
objective and says whether the job should stop (Hyperband, or ``Auto`` early stopping with
:class:`~hpjobs.tuning.early_stopping.MedianRunningAverageRule`); :meth:`Search.tell` records how
it ended. ``RandomSeed`` seeds the samplers, so a run with the same seed asks the same
configurations in the same order (as long as the results told back are the same too).
"""

from __future__ import annotations

import enum
import itertools
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from hpjobs.tuning.early_stopping import MedianRunningAverageRule
from hpjobs.tuning.hyperband import AsynchronousSuccessiveHalving
from hpjobs.tuning.space import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    Range,
    format_value,
)

__all__ = ["Decision", "Search", "Suggestion"]

optuna.logging.set_verbosity(logging.WARNING)


class Decision(enum.Enum):
    CONTINUE = "continue"
    STOP_EARLY = "stop-early"  # early stopping or Hyperband halving: the job ends Stopped
    STOP_AT_MAX_RESOURCE = "stop-at-max-resource"  # Hyperband: the job has had its full budget


@dataclass(frozen=True)
class Suggestion:
    number: int
    values: dict[str, str]


def _distribution(entry: Range) -> BaseDistribution:
    if isinstance(entry, CategoricalRange):
        return CategoricalDistribution(entry.values)
    if isinstance(entry, IntegerRange):
        return IntDistribution(entry.low, entry.high, log=entry.scaling == "Logarithmic")
    if entry.scaling == "ReverseLogarithmic":  # sampled as y = 1 - x on a log scale
        return FloatDistribution(1.0 - entry.high, 1.0 - entry.low, log=True)
    return FloatDistribution(entry.low, entry.high, log=entry.scaling == "Logarithmic")


def _to_value(entry: Range, internal: Any) -> str:
    if isinstance(entry, ContinuousRange) and entry.scaling == "ReverseLogarithmic":
        return format_value(1.0 - float(internal))
    return format_value(internal)


def _to_internal(entry: Range, text: str) -> Any:
    if isinstance(entry, CategoricalRange):
        return text
    if isinstance(entry, IntegerRange):
        number = float(text)
        if number != int(number):
            raise ValueError(f"{text} is not an integer")
        return int(number)
    value = float(text)
    return 1.0 - value if entry.scaling == "ReverseLogarithmic" else value


class Search:
    """The search over one definition's ranges."""

    def __init__(
        self,
        ranges: Sequence[Range],
        strategy: str,
        minimize: bool,
        seed: int | None = None,
        hyperband: tuple[int, int] | None = None,
        early_stopping: bool = False,
    ) -> None:
        self.ranges = list(ranges)
        self.strategy = strategy
        self.hyperband = hyperband
        self.distributions = {r.name: _distribution(r) for r in self.ranges}
        self.study = optuna.create_study(
            direction="minimize" if minimize else "maximize",
            sampler=_sampler(strategy, seed),
            pruner=_pruner(hyperband, early_stopping),
        )
        self._grid: Iterator[dict[str, Any]] | None = (
            _grid(self.ranges) if strategy == "Grid" else None
        )
        self._trials: dict[int, optuna.Trial] = {}

    def ask(self) -> Suggestion | None:
        """The next configuration to try; None when the grid is exhausted."""
        if self._grid is not None:
            point = next(self._grid, None)
            if point is None:
                return None
            self.study.enqueue_trial(point)
        trial = self.study.ask(self.distributions)
        self._trials[trial.number] = trial
        values = {r.name: _to_value(r, trial.params[r.name]) for r in self.ranges}
        return Suggestion(trial.number, values)

    def report(self, number: int, epoch: int, value: float) -> Decision:
        """Take a running job's objective at ``epoch``; whether it should go on."""
        trial = self._trials[number]
        trial.report(value, epoch)
        if self.hyperband is not None and epoch >= self.hyperband[1]:
            return Decision.STOP_AT_MAX_RESOURCE
        if self.hyperband is not None and epoch < self.hyperband[0]:
            return Decision.CONTINUE
        return Decision.STOP_EARLY if trial.should_prune() else Decision.CONTINUE

    def tell(self, number: int, objective: float | None, stopped_early: bool = False) -> None:
        """Record how a job ended: its objective, or None when it produced none."""
        trial = self._trials.pop(number)
        if stopped_early:
            self.study.tell(trial, state=TrialState.PRUNED)
        elif objective is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, objective)

    def add_history(self, values: Mapping[str, str], objective: float) -> bool:
        """Seed the search with a finished job from a parent tuning job (warm start).

        Returns False, and adds nothing, when the job's values do not fit these ranges.
        """
        try:
            params = {r.name: _to_internal(r, values[r.name]) for r in self.ranges}
            trial = optuna.trial.create_trial(
                params=params, distributions=self.distributions, value=objective
            )
        except (KeyError, ValueError, OverflowError):
            return False
        self.study.add_trial(trial)
        return True


def _sampler(strategy: str, seed: int | None) -> optuna.samplers.BaseSampler:
    if strategy == "Bayesian":
        return optuna.samplers.GPSampler(
            seed=seed,
            independent_sampler=optuna.samplers.RandomSampler(seed=seed),
            warn_independent_sampling=False,
        )
    return optuna.samplers.RandomSampler(seed=seed)


def _pruner(hyperband: tuple[int, int] | None, early_stopping: bool) -> optuna.pruners.BasePruner:
    if hyperband is not None:
        return AsynchronousSuccessiveHalving(*hyperband)
    if early_stopping:
        return MedianRunningAverageRule()
    return optuna.pruners.NopPruner()


def _grid(ranges: Sequence[Range]) -> Iterator[dict[str, Any]]:
    names = [r.name for r in ranges]
    choices = [r.values for r in ranges if isinstance(r, CategoricalRange)]
    for combination in itertools.product(*choices):
        yield dict(zip(names, combination, strict=True))
