"""What a job's charts show, whoever draws them: a training job's metric points grouped into
panels, and a tuning job's trials with their objective values, ranges and best-so-far line.

``hpjobs plot`` draws these with matplotlib; the dashboard of ``hpjobs serve`` draws them as SVG.
Metrics that differ only by a channel prefix (``train:loss``, ``validation:loss``; ``loss``,
``val_loss``) share a panel; values are drawn over epochs when every point of the panel names a
distinct epoch, else over seconds since the job started.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpjobs.tuning.space import Range

__all__ = [
    "FINISHED_TRIALS",
    "HyperparameterAxis",
    "Panel",
    "Series",
    "Trial",
    "best_so_far",
    "hyperparameter_axis",
    "metric_panels",
    "number",
    "objective",
    "ranges",
    "time_zero",
    "trials",
    "tuned_names",
]

#: Prefixes that name the data a metric was measured on; metrics differing only by one share a
#: panel. ``name:`` prefixes of any word count as well.
_CHANNEL_PREFIXES = ("train", "training", "val", "valid", "validation", "test", "eval")
#: Trials whose objective value is final and counts for the best so far.
FINISHED_TRIALS = frozenset({"Completed", "Stopped"})


@dataclass(frozen=True)
class Series:
    """One line of a panel."""

    label: str
    x: list[float]
    y: list[float]


@dataclass(frozen=True)
class Panel:
    """One panel of a training job's image: a metric group on a shared x axis."""

    title: str
    x_label: str
    series: list[Series]


@dataclass(frozen=True)
class Trial:
    """A tuning job's training job that has an objective value."""

    name: str
    status: str
    objective: float
    tuned: dict[str, str]


def _group_of(metric: str) -> str:
    """The panel a metric belongs to: its name without a channel prefix."""
    if ":" in metric:
        return metric.rpartition(":")[2] or metric
    lowered = metric.lower()
    for prefix in _CHANNEL_PREFIXES:
        for separator in ("_", "-", "."):
            start = prefix + separator
            if lowered.startswith(start) and len(metric) > len(start):
                return metric[len(start) :]
    return metric


def metric_panels(points: Iterable[Mapping[str, Any]], start: datetime) -> list[Panel]:
    """The panels of a training job's metric points (``training_job_metrics``' shape), in the
    order their metrics first appear; ``start`` is time zero of a panel drawn over seconds."""
    groups: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for point in points:
        name = point["MetricName"]
        groups.setdefault(_group_of(name), {}).setdefault(name, []).append(point)
    panels = []
    for title, metrics in groups.items():
        by_epoch = all(_distinct_epochs(series) for series in metrics.values())
        panels.append(
            Panel(
                title=title,
                x_label="Epoch" if by_epoch else "Seconds since the job started",
                series=[
                    Series(
                        label=name,
                        x=[
                            float(p["Epoch"])
                            if by_epoch
                            else (p["Timestamp"] - start).total_seconds()
                            for p in series
                        ],
                        y=[_finite(p["Value"]) for p in series],
                    )
                    for name, series in metrics.items()
                ],
            )
        )
    return panels


def time_zero(
    description: Mapping[str, Any], points: Sequence[Mapping[str, Any]], local: bool
) -> datetime:
    """Time zero of a training job's panels drawn over seconds, from its DescribeTrainingJob
    response: when it started training (else when it was created); for a job on AWS, whose
    points carry CloudWatch's times, its first point's time."""
    if not local and points:
        first: datetime = min(p["Timestamp"] for p in points)
        return first
    started: datetime = description.get("TrainingStartTime") or description["CreationTime"]
    return started


def _distinct_epochs(points: Sequence[Mapping[str, Any]]) -> bool:
    epochs = [p.get("Epoch") for p in points]
    return None not in epochs and len(set(epochs)) == len(epochs)


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else math.nan


def trials(children: Iterable[Mapping[str, Any]]) -> list[Trial]:
    """Training jobs of a tuning job (``HyperParameterTrainingJobSummary`` shapes) that have an
    objective value, in launch order."""
    found = []
    for child in sorted(children, key=lambda c: (c["CreationTime"], c["TrainingJobName"])):
        metric = child.get("FinalHyperParameterTuningJobObjectiveMetric")
        if metric is None:
            continue
        status = child["TrainingJobStatus"]
        found.append(
            Trial(
                name=child["TrainingJobName"],
                status="InProgress" if status == "Stopping" else status,
                objective=_finite(metric["Value"]),
                tuned=dict(child.get("TunedHyperParameters", {})),
            )
        )
    return found


def objective(description: Mapping[str, Any]) -> tuple[str, bool]:
    """The objective metric's name and whether it is minimized."""
    config = description.get("HyperParameterTuningJobConfig", {})
    objective = config.get("HyperParameterTuningJobObjective")
    if objective is None:
        definitions = description.get("TrainingJobDefinitions") or [{}]
        objective = definitions[0].get("TuningObjective", {})
    return objective.get("MetricName", "objective"), objective.get("Type") != "Maximize"


def ranges(description: Mapping[str, Any]) -> dict[str, Range]:
    """The tuned hyperparameters' ranges by name, from the config and every definition."""
    from hpjobs.tuning.space import CategoricalRange, RangeError, parse_ranges

    structures = [description.get("HyperParameterTuningJobConfig", {}).get("ParameterRanges")]
    definitions = list(description.get("TrainingJobDefinitions") or [])
    if "TrainingJobDefinition" in description:
        definitions.append(description["TrainingJobDefinition"])
    structures += [d.get("HyperParameterRanges") for d in definitions]
    ranges: dict[str, Range] = {}
    for structure in structures:
        if not structure:
            continue
        try:
            parsed = parse_ranges(structure)
        except RangeError:
            continue
        for entry in parsed:
            known = ranges.get(entry.name)
            if known is None:
                ranges[entry.name] = entry
            elif isinstance(known, CategoricalRange) and isinstance(entry, CategoricalRange):
                values = tuple(dict.fromkeys(known.values + entry.values))
                ranges[entry.name] = CategoricalRange(entry.name, values)
    return ranges


def best_so_far(found: Sequence[Trial], minimize: bool) -> list[float]:
    best = math.nan
    line = []
    for trial in found:
        value = trial.objective
        if trial.status in FINISHED_TRIALS and not math.isnan(value):
            better = value < best if minimize else value > best
            best = value if math.isnan(best) or better else best
        line.append(best)
    return line


def number(value: str | None) -> float:
    if value is None:
        return math.nan
    try:
        number = float(value)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def tuned_names(spans: Mapping[str, Range], found: Sequence[Trial]) -> list[str]:
    """The tuned hyperparameters to chart: those with a range, then any other a trial names."""
    seen = dict.fromkeys(k for trial in found for k in trial.tuned)
    return list(spans) + [name for name in seen if name not in spans]


@dataclass(frozen=True)
class HyperparameterAxis:
    """Where each trial falls on the axis of one tuned hyperparameter.

    ``kind`` is ``categorical`` (``x`` are category positions 0, 1, … of ``categories``),
    ``linear`` or ``log``; ``x`` has NaN for a trial without a usable value; ``low``/``high``
    are the whole range searched, where known, so that the trials show where they fell."""

    name: str
    kind: str
    x: list[float]
    categories: list[str]
    low: float | None = None
    high: float | None = None
    integer: bool = False


def hyperparameter_axis(
    name: str, span: Range | None, found: Sequence[Trial]
) -> HyperparameterAxis:
    """The axis of hyperparameter ``name`` (range ``span`` when known) for trials ``found``."""
    from hpjobs.tuning.space import CategoricalRange, ContinuousRange, IntegerRange

    values = [trial.tuned.get(name) for trial in found]
    numbers = [number(v) for v in values]
    categorical = isinstance(span, CategoricalRange) or (
        span is None and any(math.isnan(n) for v, n in zip(values, numbers, strict=True) if v)
    )
    if categorical:
        known = list(span.values) if isinstance(span, CategoricalRange) else []
        categories = list(dict.fromkeys(known + [v for v in values if v is not None]))
        position = {value: float(i) for i, value in enumerate(categories)}
        x = [math.nan if v is None else position[v] for v in values]
        return HyperparameterAxis(name, "categorical", x, categories)
    if not isinstance(span, IntegerRange | ContinuousRange):
        return HyperparameterAxis(name, "linear", numbers, [])
    logarithmic = span.scaling == "Logarithmic"
    if logarithmic:
        numbers = [n if n > 0 else math.nan for n in numbers]
    return HyperparameterAxis(
        name,
        "log" if logarithmic else "linear",
        numbers,
        [],
        low=float(span.low),
        high=float(span.high),
        integer=isinstance(span, IntegerRange),
    )
