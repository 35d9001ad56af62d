"""One definition's search through Optuna's ask-and-tell interface: Grid order, Random draws and
their scaling, Bayesian (GPSampler) against Random, Hyperband (ASHA, reduction factor 3) and Auto
early stopping decisions, warm-start history, and how jobs end."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence

import pytest
from optuna.trial import TrialState

from hpjobs.tuning.search import Decision, Search
from hpjobs.tuning.space import Range, parse_ranges

INTEGER = re.compile(r"^-?[0-9]+$")


def categorical(*ranges: tuple[str, list[str]]) -> list[Range]:
    return parse_ranges(
        {"CategoricalParameterRanges": [{"Name": n, "Values": v} for n, v in ranges]}
    )


def one_continuous(low: str = "0", high: str = "1") -> list[Range]:
    return parse_ranges(
        {
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": low, "MaxValue": high, "ScalingType": "Linear"}
            ]
        }
    )


def draw(search: Search, count: int, result: float = 0.0) -> list[dict[str, str]]:
    """Ask ``count`` configurations, telling each the same result."""
    values = []
    for _ in range(count):
        suggestion = search.ask()
        assert suggestion is not None
        values.append(suggestion.values)
        search.tell(suggestion.number, result)
    return values


def ask(search: Search) -> int:
    """Ask one configuration; its trial number."""
    suggestion = search.ask()
    assert suggestion is not None
    return suggestion.number


def binomial_bounds(n: int, p: float, sds: float = 5.0) -> tuple[float, float]:
    sd = math.sqrt(n * p * (1 - p))
    return n * p - sds * sd, n * p + sds * sd


# Grid ----------------------------------------------------------------------------------------


def test_grid_asks_every_combination_once_in_product_order() -> None:
    search = Search(
        categorical(("b", ["2", "1"]), ("a", ["x", "y", "z"])), "Grid", minimize=True, seed=5
    )
    asked = []
    while (suggestion := search.ask()) is not None:
        asked.append((suggestion.number, suggestion.values))
        search.tell(suggestion.number, 1.0)
    assert asked == [
        (0, {"b": "2", "a": "x"}),
        (1, {"b": "2", "a": "y"}),
        (2, {"b": "2", "a": "z"}),
        (3, {"b": "1", "a": "x"}),
        (4, {"b": "1", "a": "y"}),
        (5, {"b": "1", "a": "z"}),
    ]
    assert search.ask() is None
    assert search.ask() is None
    assert len(search.study.trials) == 6


def test_grid_order_does_not_depend_on_seed_or_results() -> None:
    ranges = categorical(("a", ["1", "2", "3"]), ("b", ["p", "q"]))
    orders = []
    for seed, result in ((0, 1.0), (99, -5.0), (None, 3.0)):
        search = Search(ranges, "Grid", minimize=False, seed=seed)
        orders.append([tuple(v.values()) for v in draw(search, 6, result)])
        assert search.ask() is None
    expected = [("1", "p"), ("1", "q"), ("2", "p"), ("2", "q"), ("3", "p"), ("3", "q")]
    assert orders == [expected] * 3


def test_grid_over_collapsed_duplicates_asks_each_value_once() -> None:
    search = Search(categorical(("c", ["a", "b", "a"])), "Grid", minimize=True)
    assert [v["c"] for v in draw(search, 2)] == ["a", "b"]
    assert search.ask() is None


def test_grid_asks_while_earlier_jobs_still_run() -> None:
    search = Search(categorical(("c", ["a", "b", "c"])), "Grid", minimize=True)
    running = [search.ask() for _ in range(3)]
    assert [s.values["c"] for s in running if s is not None] == ["a", "b", "c"]
    assert search.ask() is None


# Random --------------------------------------------------------------------------------------


MIXED = {
    "IntegerParameterRanges": [{"Name": "n", "MinValue": "3", "MaxValue": "7"}],
    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1e-4", "MaxValue": "1"}],
    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["adam", "sgd"]}],
}


def test_random_same_seed_same_sequence() -> None:
    first = draw(Search(parse_ranges(MIXED), "Random", minimize=True, seed=7), 20)
    second = draw(Search(parse_ranges(MIXED), "Random", minimize=True, seed=7), 20, 42.0)
    assert first == second
    assert len({tuple(v.items()) for v in first}) > 1


def test_random_different_seed_different_sequence() -> None:
    first = draw(Search(parse_ranges(MIXED), "Random", minimize=True, seed=7), 20)
    other = draw(Search(parse_ranges(MIXED), "Random", minimize=True, seed=8), 20)
    assert [v["lr"] for v in first] != [v["lr"] for v in other]


def test_random_integers_are_integer_strings_within_bounds() -> None:
    ranges = parse_ranges(
        {
            "IntegerParameterRanges": [
                {"Name": "n", "MinValue": "3", "MaxValue": "7", "ScalingType": "Linear"},
                {"Name": "m", "MinValue": "-5", "MaxValue": "-2", "ScalingType": "Linear"},
            ]
        }
    )
    values = draw(Search(ranges, "Random", minimize=True, seed=1), 150)
    for v in values:
        assert INTEGER.match(v["n"]), v
        assert INTEGER.match(v["m"]), v
    assert {int(v["n"]) for v in values} == {3, 4, 5, 6, 7}
    assert {int(v["m"]) for v in values} == {-5, -4, -3, -2}


def test_random_categorical_values_as_given() -> None:
    search = Search(categorical(("opt", ["Adam", " sgd", "1e-3"])), "Random", minimize=True)
    assert {v["opt"] for v in draw(search, 60)} == {"Adam", " sgd", "1e-3"}


def test_random_continuous_values_are_shortest_round_trip_floats() -> None:
    values = draw(Search(parse_ranges(MIXED), "Random", minimize=True, seed=3), 30)
    for v in values:
        assert repr(float(v["lr"])) == v["lr"]
        assert 1e-4 <= float(v["lr"]) <= 1.0


SCALED = {
    "IntegerParameterRanges": [
        {"Name": "n_log", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"},
        {"Name": "n_lin", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Linear"},
    ],
    "ContinuousParameterRanges": [
        {"Name": "log", "MinValue": "1e-4", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "auto", "MinValue": "1e-4", "MaxValue": "1", "ScalingType": "Auto"},
        {"Name": "flat", "MinValue": "1e-4", "MaxValue": "1", "ScalingType": "Linear"},
        {"Name": "lin", "MinValue": "0", "MaxValue": "10", "ScalingType": "Linear"},
        {"Name": "rev", "MinValue": "0", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
        {"Name": "lin01", "MinValue": "0", "MaxValue": "0.999", "ScalingType": "Linear"},
    ],
}
DRAWS = 400


@pytest.fixture(scope="module")
def scaled_draws() -> dict[str, list[float]]:
    values = draw(Search(parse_ranges(SCALED), "Random", minimize=True, seed=11), DRAWS)
    return {name: [float(v[name]) for v in values] for name in values[0]}


def count(values: Sequence[float], test: Callable[[float], bool]) -> int:
    return sum(1 for v in values if test(v))


@pytest.mark.parametrize("name", ["log", "auto"])
def test_random_logarithmic_quarter_per_decade(
    scaled_draws: dict[str, list[float]], name: str
) -> None:
    values = scaled_draws[name]
    assert all(1e-4 <= v <= 1.0 for v in values)
    low, high = binomial_bounds(DRAWS, 0.25)  # 1 of the 4 decades of [1e-4, 1]
    assert low <= count(values, lambda v: v < 1e-3) <= high
    low, high = binomial_bounds(DRAWS, 0.5)  # half the draws below 1e-2
    assert low <= count(values, lambda v: v < 1e-2) <= high


def test_random_linear_over_same_bounds_hardly_goes_below_1e_3(
    scaled_draws: dict[str, list[float]],
) -> None:
    # uniform: P(x < 1e-3) = 0.0009, about 0.36 draws in 400
    assert count(scaled_draws["flat"], lambda v: v < 1e-3) <= 6


def test_random_linear_mean_and_median_near_midpoint(
    scaled_draws: dict[str, list[float]],
) -> None:
    values = scaled_draws["lin"]
    assert all(0.0 <= v <= 10.0 for v in values)
    sd_of_mean = 10 / math.sqrt(12) / math.sqrt(DRAWS)
    assert abs(statistics.fmean(values) - 5.0) <= 5 * sd_of_mean
    low, high = binomial_bounds(DRAWS, 0.5)
    assert low <= count(values, lambda v: v < 5.0) <= high


def test_random_reverse_logarithmic_crowds_towards_one(
    scaled_draws: dict[str, list[float]],
) -> None:
    values = scaled_draws["rev"]
    assert all(0.0 <= v <= 0.999 for v in values)
    # 1 - x is log-uniform on [0.001, 1]: P(x > 0.9) = 2/3, P(x > 0.99) = 1/3, median 0.968
    low, high = binomial_bounds(DRAWS, 2 / 3)
    assert low <= count(values, lambda v: v > 0.9) <= high
    low, high = binomial_bounds(DRAWS, 1 / 3)
    assert low <= count(values, lambda v: v > 0.99) <= high
    assert statistics.median(values) > 0.93
    # the same bounds with Linear scaling: P(x > 0.9) is about 0.1
    low, high = binomial_bounds(DRAWS, 0.099 / 0.999)
    assert low <= count(scaled_draws["lin01"], lambda v: v > 0.9) <= high


def test_random_integer_logarithmic_favours_small_values(
    scaled_draws: dict[str, list[float]],
) -> None:
    logs = scaled_draws["n_log"]
    assert all(v == int(v) and 1 <= v <= 1000 for v in logs)
    assert count(logs, lambda v: v <= 10) >= 80  # about a third; Linear gives 1%
    assert count(scaled_draws["n_lin"], lambda v: v <= 10) <= 15


# Bayesian ------------------------------------------------------------------------------------


def bowl(point: dict[str, str]) -> float:
    return (float(point["x"]) - 1.3) ** 2 + (float(point["y"]) + 0.7) ** 2


BOWL = {
    "ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "-5", "MaxValue": "5", "ScalingType": "Linear"},
        {"Name": "y", "MinValue": "-5", "MaxValue": "5", "ScalingType": "Linear"},
    ]
}


def run_on_bowl(strategy: str, seed: int, trials: int) -> list[tuple[dict[str, str], float]]:
    search = Search(parse_ranges(BOWL), strategy, minimize=True, seed=seed)
    history = []
    for _ in range(trials):
        suggestion = search.ask()
        assert suggestion is not None
        value = bowl(suggestion.values)
        history.append((suggestion.values, value))
        search.tell(suggestion.number, value)
    return history


@pytest.mark.parametrize("seed", [0, 3])
def test_bayesian_beats_random_on_a_quadratic_bowl(seed: int) -> None:
    bayesian = run_on_bowl("Bayesian", seed, 15)
    random = run_on_bowl("Random", seed, 15)
    best_bayesian = min(v for _, v in bayesian)
    best_random = min(v for _, v in random)
    assert best_bayesian < 0.05  # minimum 0 at (1.3, -0.7) in a 10 x 10 square
    assert best_bayesian < best_random / 10
    # the five model-guided configurations alone beat all fifteen random ones
    assert min(v for _, v in bayesian[10:]) < best_random


def test_bayesian_same_seed_same_configurations() -> None:
    assert run_on_bowl("Bayesian", 4, 12) == run_on_bowl("Bayesian", 4, 12)


# Hyperband -----------------------------------------------------------------------------------


def hyperband(low: int, high: int) -> Search:
    return Search(one_continuous(), "Hyperband", minimize=True, seed=0, hyperband=(low, high))


def test_hyperband_reaching_max_resource_stops_there() -> None:
    search = hyperband(1, 9)
    number = ask(search)
    assert [search.report(number, e, 1.0) for e in range(1, 9)] == [Decision.CONTINUE] * 8
    assert search.report(number, 9, 0.5) == Decision.STOP_AT_MAX_RESOURCE


def test_hyperband_max_resource_stop_even_for_the_worst_job() -> None:
    search = hyperband(1, 9)
    good, bad = (ask(search) for _ in range(2))
    assert search.report(good, 1, 0.1) == Decision.CONTINUE
    assert search.report(bad, 9, 1000.0) == Decision.STOP_AT_MAX_RESOURCE


def test_hyperband_never_stops_before_min_resource() -> None:
    search = hyperband(3, 27)  # rungs at epochs 3 and 9
    good = [ask(search) for _ in range(3)]
    bad = ask(search)
    for number in good:
        assert [search.report(number, e, 1.0) for e in (1, 2, 3)] == [Decision.CONTINUE] * 3
    # four values at epochs 1 and 2, the worst of them: still too early
    assert [search.report(bad, e, 100.0) for e in (1, 2)] == [Decision.CONTINUE] * 2
    # epoch 3: [1, 1, 1, 100], the best 2 of 4 go on
    assert search.report(bad, 3, 100.0) == Decision.STOP_EARLY


def test_hyperband_decides_only_at_rungs() -> None:
    search = hyperband(3, 27)  # rungs at epochs 3 and 9
    good, other, bad = (ask(search) for _ in range(3))
    for epoch in range(1, 10):
        assert search.report(good, epoch, 1.0) == Decision.CONTINUE
        assert search.report(other, epoch, 2.0) == Decision.CONTINUE  # second of 2
    assert search.report(bad, 3, 0.5) == Decision.CONTINUE  # best of 3 at the first rung
    # the worst of 3 at epochs 4 to 8, between rungs
    assert [search.report(bad, e, 50.0) for e in range(4, 9)] == [Decision.CONTINUE] * 5
    assert search.report(bad, 9, 50.0) == Decision.STOP_EARLY  # [1, 2, 50]: the best 1 goes on


@pytest.mark.parametrize("epoch", range(1, 21))
def test_hyperband_rungs_start_at_min_resource(epoch: int) -> None:
    search = hyperband(2, 20)  # rungs at epochs 2, 6 and 18
    first, second, third = (ask(search) for _ in range(3))
    at_max = Decision.STOP_AT_MAX_RESOURCE if epoch == 20 else None
    # fewer than three values: nothing stops before MaxResource
    assert search.report(first, epoch, 0.0) == (at_max or Decision.CONTINUE)
    assert search.report(second, epoch, 1.0) == (at_max or Decision.CONTINUE)
    # the worst of three stops at a rung only
    on_rung = Decision.STOP_EARLY if epoch in (2, 6, 18) else Decision.CONTINUE
    assert search.report(third, epoch, 2.0) == (at_max or on_rung)


def test_hyperband_with_min_resource_equal_to_max_resource_only_stops_there() -> None:
    search = hyperband(5, 5)  # no rungs
    numbers = [ask(search) for _ in range(4)]
    for epoch in range(1, 5):
        decisions = [search.report(n, epoch, 10.0**i) for i, n in enumerate(numbers)]
        assert decisions == [Decision.CONTINUE] * 4
    assert search.report(numbers[3], 5, 1000.0) == Decision.STOP_AT_MAX_RESOURCE


def test_hyperband_asha_keeps_the_top_third_at_each_rung() -> None:
    """Rungs at epochs 1 and 3 (MinResource 1, reduction factor 3); with fewer than three
    values at a rung a job goes on, else only among the best ceil(n / 3) of the n there."""
    search = hyperband(1, 9)
    t = [ask(search) for _ in range(7)]
    epoch1 = {t[0]: 1.0, t[1]: 5.0, t[2]: 0.8, t[3]: 0.9, t[4]: 3.0, t[5]: 0.85, t[6]: 0.88}
    decisions = {n: search.report(n, 1, v) for n, v in epoch1.items()}
    assert decisions == {
        t[0]: Decision.CONTINUE,  # alone
        t[1]: Decision.CONTINUE,  # 2 values, the worse: too few to stop
        t[2]: Decision.CONTINUE,  # 3 values, the best: top ceil(3 / 3) = 1
        t[3]: Decision.CONTINUE,  # 4 values, second: top ceil(4 / 3) = 2
        t[4]: Decision.STOP_EARLY,  # 5 values, fourth: top 2
        t[5]: Decision.CONTINUE,  # 6 values, second: top 2
        t[6]: Decision.CONTINUE,  # 7 values, third: top ceil(7 / 3) = 3
    }
    search.tell(t[4], None, stopped_early=True)
    for n in (t[0], t[1], t[2], t[3], t[5], t[6]):
        assert search.report(n, 2, 10.0) == Decision.CONTINUE  # between rungs
    assert search.report(t[0], 3, 0.5) == Decision.CONTINUE  # alone
    assert search.report(t[5], 3, 0.4) == Decision.CONTINUE  # 2 values
    assert search.report(t[2], 3, 0.6) == Decision.STOP_EARLY  # [0.5, 0.4, 0.6]: top 1
    search.tell(t[2], None, stopped_early=True)
    assert search.report(t[1], 3, 0.7) == Decision.STOP_EARLY  # [0.4, 0.5, 0.6, 0.7]: top 2
    search.tell(t[1], None, stopped_early=True)
    # the stopped jobs still count: [0.4, 0.5, 0.5, 0.6, 0.7], top 2, tied at the cut-off 0.5
    # (without them: [0.5, 0.4, 0.5], top 1)
    assert search.report(t[3], 3, 0.5) == Decision.CONTINUE
    assert search.report(t[6], 3, 0.45) == Decision.CONTINUE  # 6 values, second: top 2
    final = {t[0]: 0.3, t[3]: 0.35, t[5]: 0.2, t[6]: 0.25}
    for n, value in final.items():
        assert search.report(n, 9, value) == Decision.STOP_AT_MAX_RESOURCE
        search.tell(n, value)
    states = [trial.state for trial in search.study.trials]
    assert states == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.PRUNED,
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.COMPLETE,
        TrialState.COMPLETE,
    ]
    assert search.study.best_value == 0.2
    assert search.study.best_trial.number == t[5]


def test_hyperband_maximising_keeps_the_highest() -> None:
    search = Search(one_continuous(), "Hyperband", minimize=False, seed=0, hyperband=(1, 9))
    a, b, c, d, e = (ask(search) for _ in range(5))
    assert search.report(a, 1, 0.5) == Decision.CONTINUE
    assert search.report(b, 1, 0.9) == Decision.CONTINUE
    assert search.report(c, 1, 0.4) == Decision.STOP_EARLY  # [0.9, 0.5, 0.4]: top 1
    assert search.report(d, 1, 0.7) == Decision.CONTINUE  # [0.9, 0.7, 0.5, 0.4]: top 2
    assert search.report(e, 1, 0.6) == Decision.STOP_EARLY  # [0.9, 0.7, 0.6, ...]: top 2


def test_no_early_stopping_without_hyperband_or_auto() -> None:
    search = Search(one_continuous(), "Random", minimize=True, seed=0)
    a, b = (ask(search) for _ in range(2))
    for epoch in range(1, 30):
        assert search.report(a, epoch, 0.0) == Decision.CONTINUE
    for epoch in range(1, 30):
        assert search.report(b, epoch, 1e9) == Decision.CONTINUE


# Auto early stopping (median of running averages) ---------------------------------------------


def test_early_stopping_stops_a_worse_job_once_three_earlier_jobs_reached_the_epoch() -> None:
    search = Search(one_continuous(), "Random", minimize=True, seed=0, early_stopping=True)
    j = [ask(search) for _ in range(6)]
    # fewer than three earlier jobs at epoch 1: nothing stops, however bad
    assert search.report(j[0], 1, 1.0) == Decision.CONTINUE
    assert search.report(j[1], 1, 5.0) == Decision.CONTINUE  # one earlier: median 1.0
    assert search.report(j[2], 1, 4.0) == Decision.CONTINUE  # two earlier: median 3.0
    # three earlier: median of [1.0, 5.0, 4.0] = 4.0
    assert search.report(j[3], 1, 4.5) == Decision.STOP_EARLY
    search.tell(j[3], None, stopped_early=True)
    # the stopped job still counts: median of [1.0, 5.0, 4.0, 4.5] = 4.25, equal goes on
    assert search.report(j[4], 1, 4.25) == Decision.CONTINUE
    # epoch 2: running averages 0.9, 2.8 and 2.425, too few for the first three
    assert search.report(j[0], 2, 0.8) == Decision.CONTINUE
    assert search.report(j[1], 2, 0.6) == Decision.CONTINUE
    assert search.report(j[2], 2, 0.85) == Decision.CONTINUE
    assert search.report(j[2], 3, 123.0) == Decision.CONTINUE  # no earlier job at epoch 3
    # median of the running averages [0.9, 2.8, 2.425] = 2.425 (of the raw values: 0.8)
    assert search.report(j[4], 2, 2.0) == Decision.CONTINUE
    assert search.report(j[5], 1, 2.0) == Decision.CONTINUE  # median 4.25
    # median of [0.9, 2.8, 2.425, 3.125] = 2.6125
    assert search.report(j[5], 2, 2.7) == Decision.STOP_EARLY


def test_early_stopping_ignores_later_jobs() -> None:
    search = Search(one_continuous(), "Random", minimize=False, seed=0, early_stopping=True)
    j = [ask(search) for _ in range(6)]
    for n, value in ((j[3], 10.0), (j[4], 11.0), (j[5], 12.0)):
        assert search.report(n, 1, value) == Decision.CONTINUE  # no earlier job has reported
    # the three later jobs do not count (with them: median 11.0, and maximising), so each of
    # these has fewer than three earlier jobs and goes on, though worse than those before it
    assert search.report(j[0], 1, 3.0) == Decision.CONTINUE
    assert search.report(j[1], 1, 2.0) == Decision.CONTINUE
    assert search.report(j[2], 1, 1.0) == Decision.CONTINUE
    assert search.report(j[0], 2, 0.0) == Decision.CONTINUE  # running average 1.5
    assert search.report(j[1], 2, 4.0) == Decision.CONTINUE  # 3.0
    assert search.report(j[2], 2, 7.0) == Decision.CONTINUE  # 4.0
    # maximising: 0.5 < median of [1.5, 3.0, 4.0] = 3.0
    assert search.report(j[3], 2, 0.5) == Decision.STOP_EARLY
    # median of [1.5, 3.0, 4.0, 5.25] = 3.5: equal goes on
    assert search.report(j[4], 2, 3.5) == Decision.CONTINUE
    # median of [1.5, 3.0, 4.0, 5.25, 7.25] = 4.0
    assert search.report(j[5], 2, 3.9) == Decision.STOP_EARLY


# warm start, results -------------------------------------------------------------------------


WARM = {
    "IntegerParameterRanges": [
        {"Name": "n", "MinValue": "1", "MaxValue": "10", "ScalingType": "Linear"}
    ],
    "ContinuousParameterRanges": [
        {"Name": "p", "MinValue": "0", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"},
        {"Name": "lr", "MinValue": "1e-3", "MaxValue": "1", "ScalingType": "Logarithmic"},
    ],
    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["adam", "sgd"]}],
}
FITS = {"n": "3", "p": "0.5", "lr": "0.01", "opt": "sgd"}


def warm_search() -> Search:
    return Search(parse_ranges(WARM), "Bayesian", minimize=True, seed=0)


def test_add_history_adds_a_finished_trial() -> None:
    search = warm_search()
    assert search.add_history({**FITS, "epochs": "10"}, 0.25) is True
    (trial,) = search.study.trials
    assert trial.state == TrialState.COMPLETE
    assert trial.value == 0.25
    assert trial.params["n"] == 3
    assert trial.params["lr"] == 0.01
    assert trial.params["opt"] == "sgd"
    assert trial.params["p"] == pytest.approx(0.5)  # stored as 1 - p
    assert search.study.best_value == 0.25
    suggestion = search.ask()
    assert suggestion is not None
    assert suggestion.number == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("p", "0"),
        ("p", "0.999"),
        ("n", "1"),
        ("n", "10"),
        ("n", "3.0"),
        ("lr", "1"),
        ("lr", "0.001"),
        ("opt", "adam"),
    ],
)
def test_add_history_accepts_values_on_the_bounds(name: str, value: str) -> None:
    search = warm_search()
    assert search.add_history({**FITS, name: value}, 1.0) is True
    assert len(search.study.trials) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n", "11"),
        ("n", "0"),
        ("n", "three"),
        ("p", "1.0"),
        ("p", "-0.1"),
        ("lr", "2"),
        ("lr", "0.0001"),
        ("lr", "nan"),
        ("opt", "rmsprop"),
        ("opt", "Adam"),
    ],
)
def test_add_history_refuses_values_outside_the_ranges(name: str, value: str) -> None:
    search = warm_search()
    assert search.add_history({**FITS, name: value}, 1.0) is False
    assert search.study.trials == []


@pytest.mark.parametrize("missing", ["n", "p", "lr", "opt"])
def test_add_history_refuses_a_missing_name(missing: str) -> None:
    search = warm_search()
    values = {k: v for k, v in FITS.items() if k != missing}
    assert search.add_history(values, 1.0) is False
    assert search.study.trials == []


def test_add_history_refuses_a_fraction_for_an_integer_range() -> None:
    search = warm_search()
    assert search.add_history({**FITS, "n": "2.5"}, 1.0) is False
    assert search.study.trials == []


def test_tell_records_how_jobs_ended() -> None:
    search = Search(one_continuous(), "Random", minimize=True, seed=0)
    done, failed, stopped = (ask(search) for _ in range(3))
    search.tell(failed, None)
    search.tell(done, 0.75)
    search.tell(stopped, None, stopped_early=True)
    trials = search.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED]
    assert trials[0].value == 0.75
    assert trials[1].value is None
    assert search.study.best_trial.number == done


def test_tell_forgets_the_running_trial() -> None:
    search = Search(one_continuous(), "Random", minimize=True, seed=0)
    number = ask(search)
    search.tell(number, 1.0)
    with pytest.raises(KeyError):
        search.tell(number, 1.0)


def test_suggestion_numbers_count_up() -> None:
    search = Search(one_continuous(), "Random", minimize=True, seed=0)
    assert [ask(search) for _ in range(4)] == [0, 1, 2, 3]
