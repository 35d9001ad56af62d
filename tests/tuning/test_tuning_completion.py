"""When a tuning job is done: the 1% improvement rule, the criteria read from a request, and the
progress of finished training jobs against them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from hpjobs.tuning.completion import Completion, Progress, improves

START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
NOT_IMPROVING_3 = "3 training jobs in a row did not improve the objective by 1%"


def at(job: int) -> datetime:
    return START + timedelta(minutes=job)


def progress(criteria: Completion, minimize: bool = True) -> Progress:
    return Progress(criteria=criteria, minimize=minimize)


def record_all(p: Progress, objectives: Sequence[float | None], first: int = 0) -> None:
    for i, objective in enumerate(objectives, start=first):
        p.record(objective, at(i))


# improves ------------------------------------------------------------------------------------


def test_anything_improves_on_no_best() -> None:
    assert improves(1e9, None, minimize=True, by=0.01) is True
    assert improves(-1e9, None, minimize=False, by=0.01) is True
    assert improves(0.0, None, minimize=True) is True


@pytest.mark.parametrize(
    ("new", "best", "expected"),
    [
        (98.9, 100.0, True),  # 1.1% lower
        (99.5, 100.0, False),  # 0.5% lower
        (100.0, 100.0, False),
        (101.0, 100.0, False),
        (-101.5, -100.0, True),  # relative to |best|
        (-100.5, -100.0, False),
        (0.0989, 0.1, True),
        (0.0995, 0.1, False),
    ],
)
def test_one_percent_when_minimising(new: float, best: float, expected: bool) -> None:
    assert improves(new, best, minimize=True, by=0.01) is expected


@pytest.mark.parametrize(
    ("new", "best", "expected"),
    [
        (101.1, 100.0, True),
        (100.5, 100.0, False),
        (100.0, 100.0, False),
        (50.0, 100.0, False),
        (-98.5, -100.0, True),  # relative to |best|
        (-99.5, -100.0, False),
    ],
)
def test_one_percent_when_maximising(new: float, best: float, expected: bool) -> None:
    assert improves(new, best, minimize=False, by=0.01) is expected


def test_any_strict_improvement_counts_without_a_margin() -> None:
    assert improves(99.999, 100.0, minimize=True) is True
    assert improves(100.0, 100.0, minimize=True) is False
    assert improves(100.001, 100.0, minimize=False) is True
    assert improves(100.0, 100.0, minimize=False) is False


def test_a_best_of_zero_makes_the_margin_absolute() -> None:
    assert improves(-1e-12, 0.0, minimize=True, by=0.01) is True
    assert improves(0.0, 0.0, minimize=True, by=0.01) is False
    assert improves(1e-12, 0.0, minimize=True, by=0.01) is False
    assert improves(1e-12, 0.0, minimize=False, by=0.01) is True
    assert improves(-1e-12, 0.0, minimize=False, by=0.01) is False


@pytest.mark.parametrize(("new", "minimize"), [(99.0, True), (101.0, False)])
def test_exactly_one_percent_counts_as_improving(new: float, minimize: bool) -> None:
    # 0.01 * 100.0 == 1.0 exactly, so there is no rounding at this boundary
    assert improves(new, 100.0, minimize=minimize, by=0.01) is True


# Completion.from_request ---------------------------------------------------------------------


def test_from_request_reads_every_criterion() -> None:
    config: dict[str, Any] = {
        "Strategy": "Bayesian",
        "TuningJobCompletionCriteria": {
            "TargetObjectiveMetricValue": 0.05,
            "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
            "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
        },
    }
    assert Completion.from_request(config, tuned_parameters=3) == Completion(
        target=0.05, not_improving=5, complete_on_convergence=True, convergence_window=10
    )


def test_from_request_without_criteria() -> None:
    assert Completion.from_request({"Strategy": "Random"}, tuned_parameters=1) == Completion(
        target=None, not_improving=None, complete_on_convergence=False, convergence_window=10
    )


def test_from_request_convergence_disabled() -> None:
    config: dict[str, Any] = {"TuningJobCompletionCriteria": {"ConvergenceDetected": {}}}
    assert Completion.from_request(config, 2).complete_on_convergence is False
    config = {
        "TuningJobCompletionCriteria": {
            "ConvergenceDetected": {"CompleteOnConvergence": "Disabled"}
        }
    }
    assert Completion.from_request(config, 2).complete_on_convergence is False


@pytest.mark.parametrize(
    ("tuned", "window"), [(0, 10), (1, 10), (5, 10), (6, 12), (8, 16), (30, 60)]
)
def test_convergence_window_is_max_of_ten_and_twice_the_tuned_parameters(
    tuned: int, window: int
) -> None:
    assert Completion.from_request({}, tuned).convergence_window == window


def test_from_request_target_only() -> None:
    config = {"TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": -3}}
    criteria = Completion.from_request(config, 4)
    assert criteria.target == -3
    assert criteria.not_improving is None


# Progress: target ----------------------------------------------------------------------------


def test_target_reached_at_or_below_when_minimising() -> None:
    p = progress(Completion(target=0.1))
    record_all(p, [0.5, None, 0.1000001])
    reached_before = p.target_reached
    assert p.reason_to_stop() is None
    p.record(0.1, at(3))
    assert reached_before is False
    assert p.target_reached is True
    assert p.reason_to_stop() == "TargetObjectiveMetricValue reached"


def test_target_reached_below_when_minimising() -> None:
    p = progress(Completion(target=0.1))
    p.record(0.02, at(0))
    assert p.reason_to_stop() == "TargetObjectiveMetricValue reached"


def test_target_reached_at_or_above_when_maximising() -> None:
    p = progress(Completion(target=0.9), minimize=False)
    record_all(p, [0.5, 0.95])
    assert p.reason_to_stop() == "TargetObjectiveMetricValue reached"
    p = progress(Completion(target=0.9), minimize=False)
    record_all(p, [0.5, 0.8999])
    assert p.reason_to_stop() is None
    p.record(0.9, at(2))
    assert p.reason_to_stop() == "TargetObjectiveMetricValue reached"


def test_target_stays_reached() -> None:
    p = progress(Completion(target=1.0))
    record_all(p, [0.5, 7.0, None])
    assert p.target_reached is True
    assert p.best == 0.5


def test_target_zero_is_a_target() -> None:
    p = progress(Completion(target=0.0))
    p.record(0.0, at(0))
    assert p.reason_to_stop() == "TargetObjectiveMetricValue reached"


def test_no_target_no_reason() -> None:
    p = progress(Completion())
    record_all(p, [1e-9, -5.0, None])
    assert p.reason_to_stop() is None


# Progress: best objective not improving ------------------------------------------------------


def test_not_improving_counts_jobs_in_a_row_and_names_the_limit() -> None:
    p = progress(Completion(not_improving=3))
    p.record(10.0, at(0))
    assert (p.jobs_not_improving, p.best) == (0, 10.0)
    p.record(9.95, at(1))  # 0.5% better: a new best, but not by 1%
    assert (p.jobs_not_improving, p.best) == (1, 9.95)
    p.record(None, at(2))  # no objective
    assert p.jobs_not_improving == 2
    assert p.reason_to_stop() is None
    p.record(9.9, at(3))  # 0.5% better than 9.95
    assert (p.jobs_not_improving, p.best) == (3, 9.9)
    assert p.reason_to_stop() == NOT_IMPROVING_3
    p.record(5.0, at(4))
    assert (p.jobs_not_improving, p.best) == (0, 5.0)
    assert p.reason_to_stop() is None


def test_not_improving_resets_on_a_one_percent_improvement() -> None:
    p = progress(Completion(not_improving=3))
    record_all(p, [100.0, 120.0, 100.0])
    assert p.jobs_not_improving == 2
    p.record(98.9, at(3))
    assert p.jobs_not_improving == 0
    record_all(p, [99.0, 98.9, 98.0], first=4)  # 98.0 is 0.9% below 98.9
    assert p.jobs_not_improving == 3
    assert p.best == 98.0
    assert p.reason_to_stop() == NOT_IMPROVING_3


def test_not_improving_when_maximising() -> None:
    p = progress(Completion(not_improving=4), minimize=False)
    record_all(p, [0.5, 0.504, 0.2, None])
    assert (p.jobs_not_improving, p.best) == (3, 0.504)
    p.record(0.51, at(4))  # 1.19% above 0.504
    assert p.jobs_not_improving == 0
    record_all(p, [0.1, 0.1, 0.1, 0.1], first=5)
    assert p.reason_to_stop() == "4 training jobs in a row did not improve the objective by 1%"


def test_first_job_without_objective_does_not_improve() -> None:
    p = progress(Completion(not_improving=3))
    record_all(p, [None, None])
    assert (p.jobs_not_improving, p.best) == (2, None)
    p.record(7.0, at(2))
    assert (p.jobs_not_improving, p.best) == (0, 7.0)


def test_exactly_one_percent_resets_not_improving() -> None:
    p = progress(Completion(not_improving=3))
    record_all(p, [100.0, 100.0, 100.0])
    p.record(99.0, at(3))
    assert p.jobs_not_improving == 0


def test_target_reason_comes_before_not_improving() -> None:
    p = progress(Completion(target=5.0, not_improving=3))
    record_all(p, [1.0, 2.0, 3.0, 4.0])
    assert p.jobs_not_improving == 3
    assert p.reason_to_stop() == "TargetObjectiveMetricValue reached"


# Progress: convergence -----------------------------------------------------------------------


def test_convergence_after_a_window_of_jobs_without_improvement() -> None:
    p = progress(Completion(convergence_window=10, complete_on_convergence=True))
    record_all(p, [5.0] * 10)  # the best after job 0, then 9 jobs without improvement
    assert p.converged_at is None
    assert p.reason_to_stop() is None
    p.record(5.0, at(10))  # 10 jobs since
    assert p.converged_at == at(10)
    assert p.reason_to_stop() == "convergence detected"
    p.record(1.0, at(11))
    assert p.converged_at == at(10)  # kept from when it was first detected


def test_convergence_window_from_tuned_parameters() -> None:
    criteria = Completion.from_request(
        {
            "TuningJobCompletionCriteria": {
                "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}
            }
        },
        tuned_parameters=8,
    )
    p = progress(criteria)
    record_all(p, [3.0] * 16)
    assert p.converged_at is None
    p.record(3.0, at(16))
    assert p.converged_at == at(16)


def test_convergence_detected_but_not_completing_when_disabled() -> None:
    p = progress(Completion(convergence_window=10, complete_on_convergence=False))
    record_all(p, [2.0] + [4.0] * 10)
    assert p.converged_at == at(10)
    assert p.reason_to_stop() is None


def test_small_improvements_within_the_window_still_converge() -> None:
    p = progress(Completion(convergence_window=10, complete_on_convergence=True))
    record_all(p, [100.0, 100.0, 99.8, 99.6, 100.0, 99.5, 99.5, 99.2, 99.9, 99.1, 99.3])
    assert p.best == 99.1  # 0.9% better than the best 10 jobs ago
    assert p.converged_at == at(10)


def test_a_larger_improvement_within_the_window_delays_convergence() -> None:
    p = progress(Completion(convergence_window=10, complete_on_convergence=True))
    record_all(p, [100.0] * 5 + [98.0] + [100.0] * 5)  # 2% better at job 5
    assert p.converged_at is None
    record_all(p, [100.0] * 4, first=11)
    assert p.converged_at is None  # the best before the last 10 jobs (5..14) was 100.0
    p.record(100.0, at(15))  # the last 10 jobs (6..15) no better than 98.0
    assert p.converged_at == at(15)


def test_convergence_when_maximising() -> None:
    p = progress(Completion(convergence_window=10, complete_on_convergence=True), minimize=False)
    record_all(p, [0.5] + [0.504] * 9)
    assert p.converged_at is None
    p.record(0.5049, at(10))  # 0.98% above 0.5
    assert p.converged_at == at(10)
    p = progress(Completion(convergence_window=10, complete_on_convergence=True), minimize=False)
    record_all(p, [0.5] * 10 + [0.506])  # 1.2% above 0.5
    assert p.converged_at is None


def test_no_convergence_without_any_objective() -> None:
    p = progress(Completion(convergence_window=10, complete_on_convergence=True))
    record_all(p, [None] * 30)
    assert p.converged_at is None
    assert p.reason_to_stop() is None


def test_jobs_without_objective_count_in_the_window() -> None:
    p = progress(Completion(convergence_window=10, complete_on_convergence=True))
    record_all(p, [7.0] + [None] * 9)
    assert p.converged_at is None
    p.record(None, at(10))
    assert p.converged_at == at(10)


def test_not_improving_reason_comes_before_convergence() -> None:
    p = progress(Completion(not_improving=10, convergence_window=10, complete_on_convergence=True))
    record_all(p, [1.0] * 11)
    assert p.converged_at == at(10)
    assert p.reason_to_stop() == "10 training jobs in a row did not improve the objective by 1%"


def test_exactly_one_percent_over_the_window_still_converges() -> None:
    # convergence is "a lack of significant improvement (1% or less)"
    p = progress(Completion(convergence_window=10, complete_on_convergence=True))
    record_all(p, [100.0] * 10 + [99.0])
    assert p.best == 99.0
    assert p.converged_at == at(10)
