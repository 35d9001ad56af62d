"""``hpjobs plot``: a training job's metrics, or a tuning job's trials, as an image.

A training job gets one panel per metric, with metrics that differ only by a channel prefix
(``train:loss``, ``validation:loss``; ``loss``, ``val_loss``) sharing a panel; values are drawn
over epochs when every point of the panel names a distinct epoch, else over seconds since the
job started. A tuning job gets a panel of every trial's objective in launch order with the best
objective so far, then one panel per tuned hyperparameter (value against objective; a log axis
for Logarithmic ranges, categories for categorical ones).

matplotlib is imported only when an image is drawn, and draws through its Agg canvas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from hpjobs.cli.aws import aws_errors
from hpjobs.errors import ServiceError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hpjobs.tuning.space import ContinuousRange, IntegerRange, Range

__all__ = [
    "DPI",
    "Panel",
    "Series",
    "Trial",
    "figure_size",
    "metric_panels",
    "plot",
    "training_figure",
    "trials",
    "tuning_figure",
]

#: Size of one panel in inches, and the resolution images are written at.
PANEL_WIDTH = 5.0
PANEL_HEIGHT = 3.5
DPI = 100
MAX_COLUMNS = 3

#: Prefixes that name the data a metric was measured on; metrics differing only by one share a
#: panel. ``name:`` prefixes of any word count as well.
_CHANNEL_PREFIXES = ("train", "training", "val", "valid", "validation", "test", "eval")
_FINISHED = {"Completed", "Stopped"}

#: How trials of each status are drawn: legend label, marker, colour, filled.
_TRIAL_STYLES: dict[str, tuple[str, str, str, bool]] = {
    "Completed": ("completed", "o", "tab:blue", True),
    "Stopped": ("stopped early", "X", "tab:red", True),
    "InProgress": ("in progress", "o", "tab:green", False),
    "Failed": ("failed", "v", "tab:gray", True),
}


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


def figure_size(panels: int) -> tuple[int, int]:
    """Width and height in pixels of an image with ``panels`` panels."""
    columns, rows = _grid(panels)
    return round(columns * PANEL_WIDTH * DPI), round(rows * PANEL_HEIGHT * DPI)


def _grid(panels: int) -> tuple[int, int]:
    columns = max(1, min(panels, MAX_COLUMNS))
    return columns, max(1, math.ceil(panels / columns))


# -- the command ---------------------------------------------------------------------------------


@click.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the image (default: NAME.png in the current folder).",
)
@click.option(
    "--tuning", is_flag=True, help="NAME is a tuning job, even where a training job has that name."
)
def plot(name: str, output: Path | None, tuning: bool) -> None:
    """Draw the metrics of training job NAME, or the trials of tuning job NAME, as an image.

    A training job is preferred when both kinds of job have the name. The format follows the
    file's extension (PNG when it names none that matplotlib writes)."""
    path = output if output is not None else Path(f"{name}.png")
    if not path.parent.is_dir():
        raise click.ClickException(f"Could not write {path}: folder {path.parent} does not exist.")
    figure = _tuning_job_figure(name) if tuning else _training_or_tuning_figure(name)
    _save(figure, path)
    click.echo(str(path))


def _training_or_tuning_figure(name: str) -> Figure:
    from hpjobs.sagemaker.training_jobs import training_job_metrics

    points: list[dict[str, Any]] | None
    with aws_errors("DescribeTrainingJob"):
        try:
            points = training_job_metrics(name)
        except ServiceError:
            if not _is_tuning_job(name):
                raise
            points = None
    if points is None:
        return _tuning_job_figure(name)
    if not points:
        _nothing_yet(f"Training job {name} has no metric points yet.")
    with aws_errors("DescribeTrainingJob"):
        start = _start_time(name, points)
    return training_figure(name, metric_panels(points, start))


def _is_tuning_job(name: str) -> bool:
    from hpjobs.sagemaker.tuning_jobs import describe_hyper_parameter_tuning_job

    try:
        describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
    except ServiceError:
        return False
    return True


def _start_time(name: str, points: Sequence[Mapping[str, Any]]) -> datetime:
    """When job ``name`` started training (for a job on AWS, its first metric point's time)."""
    from hpjobs.sagemaker.training_jobs import describe_training_job, training_job_place

    if training_job_place(name)[0] == "local":
        description = describe_training_job({"TrainingJobName": name})
        started: datetime | None = description.get("TrainingStartTime")
        if started is not None:
            return started
        created: datetime = description["CreationTime"]
        return created
    first: datetime = min(point["Timestamp"] for point in points)
    return first


def _tuning_job_figure(name: str) -> Figure:
    from hpjobs.sagemaker.tuning_jobs import describe_hyper_parameter_tuning_job

    with aws_errors("DescribeHyperParameterTuningJob"):
        description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
    with aws_errors("ListTrainingJobsForHyperParameterTuningJob"):
        children = _children(description["HyperParameterTuningJobName"])
    found = trials(children)
    if not found:
        _nothing_yet(f"Hyperparameter tuning job {name} has no objective values yet.")
    return tuning_figure(description, found)


def _children(name: str) -> list[dict[str, Any]]:
    from hpjobs.cli.tune_watch import list_children

    return list_children(name)


def _nothing_yet(message: str) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(1)


def _save(figure: Figure, path: Path) -> None:
    suffix = path.suffix.lower().lstrip(".")
    kind = suffix if suffix in figure.canvas.get_supported_filetypes() else "png"
    try:
        figure.savefig(path, format=kind, dpi=DPI)
    except OSError as error:
        raise click.ClickException(f"Could not write {path}: {error.strerror or error}") from None


# -- training jobs -------------------------------------------------------------------------------


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


def _distinct_epochs(points: Sequence[Mapping[str, Any]]) -> bool:
    epochs = [p.get("Epoch") for p in points]
    return None not in epochs and len(set(epochs)) == len(epochs)


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else math.nan


def training_figure(name: str, panels: Sequence[Panel]) -> Figure:
    """The image of training job ``name``: one axes per panel."""
    from matplotlib.ticker import MaxNLocator

    figure, axes = _new_figure(len(panels), f"Training job {name}")
    for ax, panel in zip(axes, panels, strict=True):
        for series in panel.series:
            many = len(series.x) > 60
            ax.plot(series.x, series.y, marker="" if many else ".", label=series.label)
        ax.set_title(panel.title)
        ax.set_xlabel(panel.x_label)
        if panel.x_label == "Epoch":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if len(panel.series) > 1 or panel.series[0].label != panel.title:
            ax.legend(fontsize="small")
    return figure


# -- tuning jobs ---------------------------------------------------------------------------------


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


def _objective(description: Mapping[str, Any]) -> tuple[str, bool]:
    """The objective metric's name and whether it is minimized."""
    config = description.get("HyperParameterTuningJobConfig", {})
    objective = config.get("HyperParameterTuningJobObjective")
    if objective is None:
        definitions = description.get("TrainingJobDefinitions") or [{}]
        objective = definitions[0].get("TuningObjective", {})
    return objective.get("MetricName", "objective"), objective.get("Type") != "Maximize"


def _ranges(description: Mapping[str, Any]) -> dict[str, Range]:
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


def _best_so_far(found: Sequence[Trial], minimize: bool) -> list[float]:
    best = math.nan
    line = []
    for trial in found:
        value = trial.objective
        if trial.status in _FINISHED and not math.isnan(value):
            better = value < best if minimize else value > best
            best = value if math.isnan(best) or better else best
        line.append(best)
    return line


def _scatter(ax: Axes, found: Sequence[Trial], x: Sequence[float], legend: bool) -> None:
    """Trials at ``x`` against their objective, one marker style per status."""
    for status, (label, marker, colour, filled) in _TRIAL_STYLES.items():
        chosen = [
            (position, trial.objective)
            for position, trial in zip(x, found, strict=True)
            if trial.status == status and not math.isnan(position)
        ]
        if not chosen:
            continue
        ax.scatter(
            [c[0] for c in chosen],
            [c[1] for c in chosen],
            marker=marker,
            s=42,
            label=label if legend else None,
            facecolors=colour if filled else "none",
            edgecolors=colour,
            zorder=3,
        )


def tuning_figure(description: Mapping[str, Any], found: Sequence[Trial]) -> Figure:
    """The image of a tuning job (its ``DescribeHyperParameterTuningJob`` response) and of its
    trials: objective by launch order, then one panel per tuned hyperparameter."""
    from matplotlib.ticker import MaxNLocator

    metric, minimize = _objective(description)
    ranges = _ranges(description)
    names = list(ranges) + [
        n for n in dict.fromkeys(k for t in found for k in t.tuned) if n not in ranges
    ]
    title = (
        f"Hyperparameter tuning job {description['HyperParameterTuningJobName']} "
        f"({description['HyperParameterTuningJobStatus']})"
    )
    figure, axes = _new_figure(1 + len(names), title)
    first = axes[0]
    order = [float(i) for i in range(1, len(found) + 1)]
    _scatter(first, found, order, legend=True)
    first.step(
        order,
        _best_so_far(found, minimize),
        where="post",
        color="black",
        linewidth=1.2,
        label="best so far",
    )
    first.set_title(f"{metric} ({'minimize' if minimize else 'maximize'})")
    first.set_xlabel("Training job, in launch order")
    first.set_ylabel(metric)
    first.xaxis.set_major_locator(MaxNLocator(integer=True))
    first.grid(True, alpha=0.3)
    first.legend(fontsize="small")
    for ax, name in zip(axes[1:], names, strict=True):
        _hyperparameter_panel(ax, name, ranges.get(name), found)
        ax.set_ylabel(metric)
    return figure


def _hyperparameter_panel(ax: Axes, name: str, span: Range | None, found: Sequence[Trial]) -> None:
    from hpjobs.tuning.space import CategoricalRange, ContinuousRange, IntegerRange

    values = [trial.tuned.get(name) for trial in found]
    numbers = [_number(v) for v in values]
    categorical = isinstance(span, CategoricalRange) or (
        span is None and any(math.isnan(n) for v, n in zip(values, numbers, strict=True) if v)
    )
    ax.set_title(name)
    ax.grid(True, alpha=0.3)
    if categorical:
        known = list(span.values) if isinstance(span, CategoricalRange) else []
        categories = list(dict.fromkeys(known + [v for v in values if v is not None]))
        position = {value: float(i) for i, value in enumerate(categories)}
        x = [math.nan if v is None else position[v] for v in values]
        _scatter(ax, found, x, legend=False)
        ax.set_xticks(range(len(categories)), labels=categories)
        if len(categories) > 4 or any(len(c) > 8 for c in categories):
            ax.tick_params(axis="x", labelrotation=30)
        ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.set_xlabel(f"{name} (categorical)")
        return
    logarithmic = isinstance(span, IntegerRange | ContinuousRange) and (
        span.scaling == "Logarithmic"
    )
    if logarithmic:
        numbers = [n if n > 0 else math.nan for n in numbers]
    _scatter(ax, found, numbers, legend=False)
    ax.set_xlabel(f"{name} (log scale)" if logarithmic else name)
    if isinstance(span, IntegerRange | ContinuousRange):
        _range_axis(ax, span, logarithmic)


def _range_axis(ax: Axes, span: IntegerRange | ContinuousRange, logarithmic: bool) -> None:
    """An x axis spanning the whole range searched, so that the trials show where they fell."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    from hpjobs.tuning.space import IntegerRange

    low, high = float(span.low), float(span.high)
    if logarithmic:
        ax.set_xscale("log")
        if high > low > 0:
            decades = math.log10(high / low)
            pad = 10 ** (0.05 * decades)
            ax.set_xlim(low / pad, high * pad)
            subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        return
    if high > low:
        pad = 0.05 * (high - low)
        ax.set_xlim(low - pad, high + pad)
    if isinstance(span, IntegerRange):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _number(value: str | None) -> float:
    if value is None:
        return math.nan
    try:
        number = float(value)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


# -- drawing -------------------------------------------------------------------------------------


def _new_figure(panels: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of ``panels`` axes, at most ``MAX_COLUMNS`` a row, drawn on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns, rows = _grid(panels)
    figure = Figure(
        figsize=(columns * PANEL_WIDTH, rows * PANEL_HEIGHT), dpi=DPI, layout="constrained"
    )
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    axes = [figure.add_subplot(rows, columns, i + 1) for i in range(panels)]
    return figure, axes
