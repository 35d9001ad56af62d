"""``TrainingJobEarlyStoppingType: Auto``: the median of earlier jobs' running averages, as a
function and as an Optuna pruner in a real in-memory study."""

from __future__ import annotations

from typing import Literal

import optuna
import pytest
from optuna.trial import TrialState

from hpjobs.tuning.early_stopping import MedianRunningAverageRule, worse_than_median

# Running averages by epoch:
#   A: 4.0, 2.5, 2.0   B: 6.0, 5.0 (stopped after epoch 2)   C: 2.0, 2.5, 3.0
# Medians: epoch 1 -> 4.0; epoch 2 -> 2.5 (raw values 1, 4, 3 have median 3); epoch 3 -> 2.5
# (A and C only; B has not reached it).
A = {1: 4.0, 2: 1.0, 3: 1.0}
B = {1: 6.0, 2: 4.0}
C = {1: 2.0, 2: 3.0, 3: 4.0}
EARLIER = [A, B, C]


@pytest.mark.parametrize(
    ("epoch", "value", "stops"),
    [
        (1, 4.1, True),
        (1, 4.0, False),  # equal to the median
        (1, 3.9, False),
        (2, 2.8, True),  # above the median of running averages, below the median of raw values
        (2, 2.5, False),
        (2, 0.0, False),
        (3, 2.7, True),  # with B wrongly counted (running average 5.0) the median would be 4.0
        (3, 2.5, False),
        (3, 2.4, False),
    ],
)
def test_minimising(epoch: int, value: float, stops: bool) -> None:
    assert worse_than_median(value, epoch, EARLIER, minimize=True) is stops


@pytest.mark.parametrize(
    ("epoch", "value", "stops"),
    [
        (1, 3.9, True),
        (1, 4.0, False),
        (1, 4.1, False),
        (2, 2.4, True),
        (2, 2.5, False),
        (2, 2.8, False),
        (3, 2.4, True),
        (3, 2.5, False),
        (3, 100.0, False),
    ],
)
def test_maximising(epoch: int, value: float, stops: bool) -> None:
    assert worse_than_median(value, epoch, EARLIER, minimize=False) is stops


def test_even_count_takes_the_mean_of_the_middle_two() -> None:
    earlier = [{1: 1.0}, {1: 2.0}, {1: 10.0}, {1: 20.0}]  # median 6.0
    assert worse_than_median(6.5, 1, earlier, minimize=True) is True
    assert worse_than_median(6.0, 1, earlier, minimize=True) is False
    assert worse_than_median(5.5, 1, earlier, minimize=False) is True


def test_running_average_counts_only_epochs_up_to_the_current_one() -> None:
    earlier = [{1: 1.0, 2: 3.0, 3: 1000.0}]  # average at epoch 2: 2.0
    assert worse_than_median(2.1, 2, earlier, minimize=True) is True
    assert worse_than_median(1.9, 2, earlier, minimize=True) is False


def test_running_average_over_the_epochs_reported() -> None:
    earlier = [{1: 1.0, 3: 5.0}, {3: 10.0}]  # averages at epoch 3: 3.0 and 10.0, median 6.5
    assert worse_than_median(6.6, 3, earlier, minimize=True) is True
    assert worse_than_median(6.4, 3, earlier, minimize=True) is False
    # epoch 2 reached by neither (a gap is not reaching it)
    assert worse_than_median(1e9, 2, earlier, minimize=True) is False


def test_nothing_stops_without_an_earlier_job() -> None:
    assert worse_than_median(1e9, 1, [], minimize=True) is False
    assert worse_than_median(-1e9, 1, [], minimize=False) is False


def test_nothing_stops_when_no_earlier_job_reached_the_epoch() -> None:
    earlier = [{1: 0.0, 2: 0.0}, {}, {1: 0.0}]
    assert worse_than_median(1e9, 3, earlier, minimize=True) is False
    assert worse_than_median(1e9, 2, earlier, minimize=True) is True


def test_min_jobs() -> None:
    assert worse_than_median(2.7, 3, EARLIER, minimize=True, min_jobs=2) is True
    assert worse_than_median(2.7, 3, EARLIER, minimize=True, min_jobs=3) is False
    assert worse_than_median(2.8, 2, EARLIER, minimize=True, min_jobs=3) is True


def test_earlier_may_be_a_generator() -> None:
    assert worse_than_median(2.8, 2, (h for h in EARLIER), minimize=True) is True


# as an Optuna pruner -------------------------------------------------------------------------


def study(
    direction: Literal["minimize", "maximize"] = "minimize", min_jobs: int = 1
) -> optuna.Study:
    return optuna.create_study(direction=direction, pruner=MedianRunningAverageRule(min_jobs))


def report(trial: optuna.Trial, history: dict[int, float]) -> None:
    for epoch, value in history.items():
        trial.report(value, epoch)


def test_pruner_uses_running_averages_of_earlier_trials() -> None:
    s = study()
    for history in EARLIER:
        trial = s.ask()
        report(trial, history)
        s.tell(trial, list(history.values())[-1])
    current = s.ask()
    current.report(2.8, 2)
    assert current.should_prune() is True
    other = s.ask()
    other.report(2.5, 2)  # median of [2.5, 5.0, 2.5, 2.8] = 2.65
    assert other.should_prune() is False
    other.report(2.7, 3)  # A and C reached epoch 3, B did not: median 2.5
    assert other.should_prune() is True


def test_pruner_counts_earlier_trials_whatever_their_state() -> None:
    s = study()
    finished, stopped, failed, running = (s.ask() for _ in range(4))
    finished.report(1.0, 1)
    stopped.report(2.0, 1)
    failed.report(3.0, 1)
    running.report(10.0, 1)
    s.tell(finished, 1.0)
    s.tell(stopped, state=TrialState.PRUNED)
    s.tell(failed, state=TrialState.FAIL)
    assert [t.state for t in s.get_trials()] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.RUNNING,
    ]
    current = s.ask()
    current.report(2.0, 1)  # median of [1, 2, 3, 10] = 2.5 (of the complete trial alone: 1)
    assert current.should_prune() is False
    later = s.ask()
    later.report(2.6, 1)  # median of [1, 2, 3, 10, 2] = 2
    assert later.should_prune() is True


def test_pruner_counts_only_trials_with_a_smaller_number() -> None:
    s = study()
    first, second, third = s.ask(), s.ask(), s.ask()
    third.report(0.1, 1)
    second.report(2.0, 1)
    first.report(3.0, 1)
    assert first.should_prune() is False  # later trials do not count: nothing earlier
    assert second.should_prune() is False  # only the first counts: 2.0 < 3.0
    assert third.should_prune() is False  # median of [3.0, 2.0] = 2.5
    fourth = s.ask()
    fourth.report(1.6, 1)  # median of [3.0, 2.0, 0.1] = 2.0
    assert fourth.should_prune() is False
    fifth = s.ask()
    fifth.report(2.1, 1)  # median of [3.0, 2.0, 0.1, 1.6] = 1.8
    assert fifth.should_prune() is True


def test_pruner_maximising() -> None:
    s = study("maximize")
    first, second, third = s.ask(), s.ask(), s.ask()
    first.report(0.9, 1)
    first.report(0.7, 2)  # running average at epoch 2: 0.8
    second.report(0.85, 2)
    assert second.should_prune() is False
    third.report(0.75, 2)  # median of [0.8, 0.85] = 0.825
    assert third.should_prune() is True


def test_pruner_min_jobs() -> None:
    s = study(min_jobs=2)
    first, second, third = s.ask(), s.ask(), s.ask()
    first.report(1.0, 1)
    second.report(5.0, 1)
    assert second.should_prune() is False  # only one earlier job
    third.report(4.0, 1)  # median of [1, 5] = 3
    assert third.should_prune() is True


def test_pruner_without_reports_does_not_prune() -> None:
    s = study()
    first, second = s.ask(), s.ask()
    first.report(0.0, 1)
    assert second.should_prune() is False
