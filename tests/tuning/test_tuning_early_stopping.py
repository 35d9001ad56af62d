"""``TrainingJobEarlyStoppingType: Auto``: the median of earlier jobs' running averages, as a
function and as an Optuna pruner in a real in-memory study."""

from __future__ import annotations

from typing import Literal

import optuna
import pytest
from optuna.trial import TrialState

from hpjobs.tuning.early_stopping import MedianRunningAverageRule, worse_than_median

# Running averages by epoch (B stopped after epoch 2, E after epoch 1):
#   A: 4.0, 2.5, 2.0   B: 6.0, 5.0   C: 2.0, 2.5, 3.0   D: 1.0, 3.0, 2.5   E: 8.0
# Epoch 1: five jobs, median of [4, 6, 2, 1, 8] = 4.0 (3.0 without E).
# Epoch 2: four jobs, median of [2.5, 5.0, 2.5, 3.0] = 2.75 (raw values 1, 4, 3, 5: 3.5).
# Epoch 3: three jobs (A, C, D), median of [2.0, 3.0, 2.5] = 2.5 (raw values 1, 4, 1.5: 1.5;
# with B wrongly counted, running average 5.0: 2.75).
A = {1: 4.0, 2: 1.0, 3: 1.0}
B = {1: 6.0, 2: 4.0}
C = {1: 2.0, 2: 3.0, 3: 4.0}
D = {1: 1.0, 2: 5.0, 3: 1.5}
E = {1: 8.0}
EARLIER = [A, B, C, D, E]


@pytest.mark.parametrize(
    ("epoch", "value", "stops"),
    [
        (1, 4.1, True),
        (1, 4.0, False),  # equal to the median
        (1, 3.5, False),  # with E left out the median would be 3.0
        (2, 3.0, True),  # above the median of running averages, below the median of raw values
        (2, 2.75, False),
        (2, 0.0, False),
        (3, 2.7, True),  # with B wrongly counted the median would be 2.75
        (3, 2.5, False),
        (3, 2.0, False),  # above the median of raw values
    ],
)
def test_minimising(epoch: int, value: float, stops: bool) -> None:
    assert worse_than_median(value, epoch, EARLIER, minimize=True) is stops


@pytest.mark.parametrize(
    ("epoch", "value", "stops"),
    [
        (1, 3.9, True),
        (1, 3.5, True),  # with E left out the median would be 3.0
        (1, 4.0, False),
        (1, 4.1, False),
        (2, 2.7, True),
        (2, 2.75, False),
        (2, 3.0, False),  # below the median of raw values (3.5)
        (3, 2.4, True),
        (3, 2.5, False),
        (3, 2.6, False),  # with B wrongly counted the median would be 2.75
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
    earlier = [
        {1: 1.0, 2: 3.0, 3: 1000.0},  # average at epoch 2: 2.0
        {1: 3.0, 2: 5.0, 3: 1000.0},  # 4.0
        {1: 0.0, 2: 2.0, 3: 1000.0},  # 1.0
    ]  # median 2.0 (of the raw values at epoch 2: 3.0; with epoch 3 counted: about 334.7)
    assert worse_than_median(2.1, 2, earlier, minimize=True) is True
    assert worse_than_median(1.9, 2, earlier, minimize=True) is False


def test_running_average_over_the_epochs_reported() -> None:
    earlier = [
        {1: 1.0, 3: 5.0},  # average at epoch 3: 3.0
        {3: 10.0},  # 10.0
        {2: 4.0, 3: 8.0},  # 6.0
        {1: 2.0, 2: 2.0, 3: 14.0},  # 6.0
    ]  # median 6.0 (with gaps counted as zeros: about 3.67; of the raw values: 9.0)
    assert worse_than_median(6.1, 3, earlier, minimize=True) is True
    assert worse_than_median(5.9, 3, earlier, minimize=True) is False
    # epoch 2 reached by the last two only (a gap is not reaching it): too few
    assert worse_than_median(1e9, 2, earlier, minimize=True) is False
    # their averages at epoch 2 are 4.0 and 2.0: median 3.0
    assert worse_than_median(3.1, 2, earlier, minimize=True, min_jobs=2) is True
    assert worse_than_median(2.9, 2, earlier, minimize=True, min_jobs=2) is False


def test_nothing_stops_without_an_earlier_job() -> None:
    assert worse_than_median(1e9, 1, [], minimize=True) is False
    assert worse_than_median(-1e9, 1, [], minimize=False) is False


def test_nothing_stops_when_no_earlier_job_reached_the_epoch() -> None:
    earlier = [{1: 0.0, 2: 0.0}, {}, {1: 0.0}, {1: 0.0, 2: 0.0}, {2: 0.0}]
    assert worse_than_median(1e9, 3, earlier, minimize=True) is False
    assert worse_than_median(1e9, 2, earlier, minimize=True) is True  # three reached epoch 2


def test_needs_three_earlier_jobs_by_default() -> None:
    earlier = [{1: 1.0}, {1: 2.0}]
    assert worse_than_median(1e9, 1, earlier, minimize=True) is False
    assert worse_than_median(-1e9, 1, earlier, minimize=False) is False
    assert worse_than_median(1e9, 1, earlier, minimize=True, min_jobs=2) is True
    earlier.append({1: 3.0})  # median 2.0
    assert worse_than_median(2.1, 1, earlier, minimize=True) is True
    assert worse_than_median(2.0, 1, earlier, minimize=True) is False
    assert worse_than_median(1.9, 1, earlier, minimize=False) is True


def test_min_jobs() -> None:
    # epoch 3 reached by three jobs, epoch 2 by four, epoch 1 by five
    assert worse_than_median(2.7, 3, EARLIER, minimize=True, min_jobs=3) is True
    assert worse_than_median(2.7, 3, EARLIER, minimize=True, min_jobs=4) is False
    assert worse_than_median(3.0, 2, EARLIER, minimize=True, min_jobs=4) is True
    assert worse_than_median(3.0, 2, EARLIER, minimize=True, min_jobs=5) is False
    assert worse_than_median(4.1, 1, EARLIER, minimize=True, min_jobs=5) is True
    assert worse_than_median(4.1, 1, EARLIER, minimize=True, min_jobs=6) is False


def test_earlier_may_be_a_generator() -> None:
    assert worse_than_median(3.0, 2, (h for h in EARLIER), minimize=True) is True


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


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_pruner_needs_three_earlier_jobs_by_default(
    direction: Literal["minimize", "maximize"],
) -> None:
    s = optuna.create_study(direction=direction, pruner=MedianRunningAverageRule())
    k = 1.0 if direction == "minimize" else -1.0  # maximising mirrors the values
    first, second, third, fourth, fifth = (s.ask() for _ in range(5))
    first.report(k * 1.0, 1)
    assert first.should_prune() is False
    second.report(k * 2.0, 1)  # one earlier job, median 1.0
    assert second.should_prune() is False
    third.report(k * 3.0, 1)  # two earlier jobs, median 1.5
    assert third.should_prune() is False
    fourth.report(k * 2.1, 1)  # three earlier jobs, median 2.0
    assert fourth.should_prune() is True
    fifth.report(k * 2.0, 1)  # median of [1.0, 2.0, 3.0, 2.1] = 2.05
    assert fifth.should_prune() is False


def test_pruner_without_reports_does_not_prune() -> None:
    s = study()
    first, second = s.ask(), s.ask()
    first.report(0.0, 1)
    assert second.should_prune() is False
