"""Hyperband's asynchronous successive halving: the rungs, and the pruner in a real in-memory
Optuna study (trials are training jobs, steps epochs), minimising and maximising."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import optuna
import pytest
from optuna.trial import TrialState

from hpjobs.tuning.hyperband import ETA, AsynchronousSuccessiveHalving, rungs

Direction = Literal["minimize", "maximize"]
DIRECTIONS: list[Direction] = ["minimize", "maximize"]


def sign(direction: Direction) -> float:
    """Values are written for minimising; maximising mirrors them (better is higher)."""
    return 1.0 if direction == "minimize" else -1.0


def study(direction: Direction, min_resource: int = 1, max_resource: int = 27) -> optuna.Study:
    return optuna.create_study(
        direction=direction, pruner=AsynchronousSuccessiveHalving(min_resource, max_resource)
    )


def report(s: optuna.Study, value: float, epoch: int) -> optuna.Trial:
    """A new running trial that has reported ``value`` at ``epoch``."""
    trial = s.ask()
    trial.report(value, epoch)
    return trial


def decisions(
    s: optuna.Study, values: Sequence[float], epoch: int = 1, factor: float = 1.0
) -> list[bool]:
    """Each value reported by a new trial, in turn; whether each trial is pruned right after."""
    return [report(s, factor * v, epoch).should_prune() for v in values]


# rungs ---------------------------------------------------------------------------------------


def test_reduction_factor_is_three() -> None:
    assert ETA == 3


@pytest.mark.parametrize(
    ("min_resource", "max_resource", "expected"),
    [
        (1, 27, [1, 3, 9]),  # 27 is MaxResource, not a rung
        (1, 28, [1, 3, 9, 27]),
        (1, 26, [1, 3, 9]),
        (2, 20, [2, 6, 18]),
        (2, 18, [2, 6]),
        (3, 27, [3, 9]),
        (1, 2, [1]),
        (1, 3, [1]),
        (1, 4, [1, 3]),
        (4, 5, [4]),
        (1, 1, []),
        (5, 5, []),
        (7, 5, []),
    ],
)
def test_rungs(min_resource: int, max_resource: int, expected: list[int]) -> None:
    assert rungs(min_resource, max_resource) == expected


def test_rungs_with_another_reduction_factor() -> None:
    assert rungs(1, 20, eta=2) == [1, 2, 4, 8, 16]
    assert rungs(3, 100, eta=4) == [3, 12, 48]


# fewer than three values at a rung -------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_no_stop_with_one_or_two_values_at_a_rung(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    # the second is far worse than the first, yet goes on: only two values at epoch 1
    assert decisions(s, [1.0, 100.0], factor=k) == [False, False]
    # a third value: now the rule applies, best 1 of 3 (1.0) goes on
    assert decisions(s, [50.0], factor=k) == [True]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_current_job_counts_among_the_three(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    first, second = report(s, k * 1.0, 1), report(s, k * 2.0, 1)
    assert first.should_prune() is False
    assert second.should_prune() is False  # two values, its own included
    third = report(s, k * 3.0, 1)
    assert third.should_prune() is True  # three values, its own included: worst of 3
    assert second.should_prune() is True  # re-asked: now 3 values at epoch 1, second of 3


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_two_values_at_a_later_rung_do_not_stop_however_many_at_the_first(
    direction: Direction,
) -> None:
    s = study(direction)
    k = sign(direction)
    for value in (1.0, 2.0, 3.0, 4.0):
        report(s, k * value, 1)
    good = report(s, k * 0.5, 1)
    good.report(k * 0.1, 3)
    bad = report(s, k * 0.5, 1)
    bad.report(k * 100.0, 3)  # only 2 values at epoch 3
    assert bad.should_prune() is False
    assert good.should_prune() is False


# the ceil(n / 3) cut-off ---------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize(
    ("earlier", "value", "stops"),
    [
        # n = 3: the best 1 goes on
        ([2.0, 3.0], 1.0, False),
        ([2.0, 3.0], 2.5, True),
        ([1.0, 3.0], 2.0, True),
        ([1.0, 2.0], 3.0, True),
        # n = 4: the best 2 go on (floor would keep 1)
        ([1.0, 2.0, 3.0], 0.5, False),
        ([1.0, 2.0, 3.0], 1.5, False),
        ([1.0, 2.0, 3.0], 2.5, True),
        ([1.0, 2.0, 3.0], 4.0, True),
        # n = 5: the best 2 go on (floor would keep 1)
        ([1.0, 2.0, 3.0, 4.0], 1.5, False),
        ([1.0, 2.0, 3.0, 4.0], 2.5, True),
        # n = 6: the best 2 go on
        ([1.0, 2.0, 3.0, 4.0, 5.0], 1.5, False),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 2.5, True),
        # n = 7: the best 3 go on (floor would keep 2)
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2.5, False),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3.5, True),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 7.0, True),
        # n = 9: the best 3; n = 10: the best 4
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 3.5, True),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 3.5, False),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 4.5, True),
    ],
)
def test_cut_off_for_a_new_value(
    direction: Direction, earlier: list[float], value: float, stops: bool
) -> None:
    s = study(direction)
    k = sign(direction)
    decisions(s, earlier, factor=k)
    assert report(s, k * value, 1).should_prune() is stops


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize(
    ("n", "kept"),
    [(3, 1), (4, 2), (5, 2), (6, 2), (7, 3), (8, 3), (9, 3), (10, 4)],
)
def test_best_ceil_n_over_three_of_n_go_on(direction: Direction, n: int, kept: int) -> None:
    """Values 1..n, reported in a scrambled order; asked again once all are in, exactly the
    ``kept`` best go on."""
    s = study(direction)
    k = sign(direction)
    order = [(i * 5) % n + 1 for i in range(n)] if n % 5 else list(range(n, 0, -1))
    assert sorted(order) == list(range(1, n + 1))
    trials = {rank: report(s, k * float(rank), 1) for rank in order}
    going_on = sorted(rank for rank, trial in trials.items() if not trial.should_prune())
    assert going_on == list(range(1, kept + 1))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_with_four_values_the_best_two_go_on_in_any_order(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    trials = [report(s, k * v, 1) for v in (3.0, 1.0, 4.0, 2.0)]
    assert [t.should_prune() for t in trials] == [True, False, True, False]


# ties -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_tie_at_the_cut_off_goes_on(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    decisions(s, [1.0, 2.0, 3.0], factor=k)
    assert report(s, k * 2.0, 1).should_prune() is False  # [1, 2, 2, 3]: cut-off 2


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_job_tied_at_the_cut_off_goes_on(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    trials = [report(s, k * v, 1) for v in (1.0, 2.0, 2.0, 2.0, 5.0)]
    # n = 5, best 2, the cut-off is 2.0: three jobs share it and all go on
    assert [t.should_prune() for t in trials] == [False, False, False, False, True]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_all_equal_values_go_on(direction: Direction) -> None:
    s = study(direction)
    trials = [report(s, sign(direction) * 0.25, 1) for _ in range(7)]
    assert [t.should_prune() for t in trials] == [False] * 7


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_just_worse_than_the_cut_off_stops(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    decisions(s, [1.0, 2.0, 3.0], factor=k)
    assert report(s, k * 2.0009765625, 1).should_prune() is True  # 2 + 2**-10


# jobs that ended ------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("state", [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL])
def test_ended_jobs_count_as_competitors(direction: Direction, state: TrialState) -> None:
    s = study(direction)
    k = sign(direction)
    for value in (1.0, 2.0):
        ended = report(s, k * value, 1)
        if state == TrialState.COMPLETE:
            s.tell(ended, k * value)
        else:
            s.tell(ended, state=state)
    assert [t.state for t in s.get_trials()] == [state, state]
    assert report(s, k * 3.0, 1).should_prune() is True  # 3 values, worst
    assert report(s, k * 1.5, 1).should_prune() is False  # 4 values, second


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_complete_and_pruned_jobs_together(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    done = report(s, k * 1.0, 1)
    s.tell(done, k * 1.0)
    stopped = report(s, k * 3.0, 1)
    s.tell(stopped, state=TrialState.PRUNED)
    # [1, 3, 2]: three values only with both ended jobs counted; 2 is second of 3
    middle = report(s, k * 2.0, 1)
    assert middle.should_prune() is True
    # [1, 3, 2, 0.5]: best 2 are 0.5 and 1
    assert report(s, k * 0.5, 1).should_prune() is False
    assert middle.should_prune() is True


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_jobs_that_did_not_reach_the_rung_do_not_count_there(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    for value in (0.1, 0.2, 0.3):  # ended after the first rung
        ended = report(s, k * value, 1)
        s.tell(ended, k * value)
    one, two = report(s, k * 0.4, 1), report(s, k * 0.5, 1)
    one.report(k * 2.0, 3)
    two.report(k * 100.0, 3)  # far worse than every value at epoch 1, but alone with one
    assert two.should_prune() is False
    three = report(s, k * 0.6, 1)
    assert three.should_prune() is True  # epoch 1: sixth of 6
    three.report(k * 50.0, 3)  # epoch 3: [2, 50, 100], best 1
    assert three.should_prune() is True
    assert two.should_prune() is True
    assert one.should_prune() is False


def test_warm_start_trials_without_reports_do_not_count() -> None:
    s = study("minimize")
    for value in (0.1, 0.2):
        s.add_trial(
            optuna.trial.create_trial(
                params={"x": value},
                distributions={"x": optuna.distributions.FloatDistribution(0.0, 1.0)},
                value=value,
            )
        )
    assert decisions(s, [1.0, 2.0]) == [False, False]


# rungs only -----------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize(
    ("epoch", "on_rung"),
    [
        (1, True),
        (2, False),
        (3, True),
        (4, False),
        (6, False),
        (8, False),
        (9, True),
        (10, False),
        (26, False),
        (27, False),  # MaxResource: not a rung; Search stops every job there
        (81, False),
    ],
)
def test_only_rung_epochs_can_stop(direction: Direction, epoch: int, on_rung: bool) -> None:
    s = study(direction, 1, 27)  # rungs 1, 3, 9
    k = sign(direction)
    assert decisions(s, [1.0, 2.0, 3.0, 100.0], epoch=epoch, factor=k) == [
        False,
        False,
        on_rung,  # third of 3
        on_rung,  # fourth of 4
    ]


@pytest.mark.parametrize(
    ("epoch", "on_rung"),
    [(1, False), (2, True), (3, False), (4, False), (6, True), (9, False), (18, True), (20, False)],
)
def test_rungs_start_at_min_resource(epoch: int, on_rung: bool) -> None:
    s = study("minimize", 2, 20)  # rungs 2, 6, 18
    assert decisions(s, [1.0, 2.0, 3.0], epoch=epoch) == [False, False, on_rung]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_job_between_rungs_goes_on_after_a_bad_rung_value(direction: Direction) -> None:
    s = study(direction)
    k = sign(direction)
    decisions(s, [1.0, 2.0], factor=k)
    bad = report(s, k * 3.0, 1)
    assert bad.should_prune() is True
    bad.report(k * 3.0, 2)  # its latest epoch is off the rungs
    assert bad.should_prune() is False
    bad.report(k * 3.0, 3)  # alone at the second rung
    assert bad.should_prune() is False


def test_without_reports_nothing_stops() -> None:
    s = study("minimize")
    decisions(s, [1.0, 2.0, 3.0])
    assert s.ask().should_prune() is False


def test_no_rungs_when_min_resource_equals_max_resource() -> None:
    s = study("minimize", 5, 5)
    for epoch in range(1, 7):
        assert decisions(s, [1.0, 2.0, 3.0, 4.0], epoch=epoch) == [False] * 4
