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
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from hpjobs.charts import (
    HyperparameterAxis,
    Panel,
    Series,
    Trial,
    best_so_far,
    hyperparameter_axis,
    metric_panels,
    objective,
    ranges,
    time_zero,
    trials,
    tuned_names,
)
from hpjobs.cli.aws import aws_errors
from hpjobs.errors import ServiceError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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


#: How trials of each status are drawn: legend label, marker, colour, filled.
_TRIAL_STYLES: dict[str, tuple[str, str, str, bool]] = {
    "Completed": ("completed", "o", "tab:blue", True),
    "Stopped": ("stopped early", "X", "tab:red", True),
    "InProgress": ("in progress", "o", "tab:green", False),
    "Failed": ("failed", "v", "tab:gray", True),
}


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

    local = training_job_place(name)[0] == "local"
    # A job on AWS has points here (none means nothing to draw), so it needs no describe.
    description = describe_training_job({"TrainingJobName": name}) if local else {}
    return time_zero(description, points, local)


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
    from hpjobs.sagemaker.tuning_jobs import tuning_job_children

    return tuning_job_children(name)


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

    metric, minimize = objective(description)
    spans = ranges(description)
    names = tuned_names(spans, found)
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
        best_so_far(found, minimize),
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
        _hyperparameter_panel(ax, hyperparameter_axis(name, spans.get(name), found), found)
        ax.set_ylabel(metric)
    return figure


def _hyperparameter_panel(ax: Axes, axis: HyperparameterAxis, found: Sequence[Trial]) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    ax.set_title(axis.name)
    ax.grid(True, alpha=0.3)
    _scatter(ax, found, axis.x, legend=False)
    if axis.kind == "categorical":
        categories = axis.categories
        ax.set_xticks(range(len(categories)), labels=categories)
        if len(categories) > 4 or any(len(c) > 8 for c in categories):
            ax.tick_params(axis="x", labelrotation=30)
        ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.set_xlabel(f"{axis.name} (categorical)")
        return
    ax.set_xlabel(f"{axis.name} (log scale)" if axis.kind == "log" else axis.name)
    if axis.low is None or axis.high is None:
        return
    # The x axis spans the whole range searched, so that the trials show where they fell.
    low, high = axis.low, axis.high
    if axis.kind == "log":
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
    if axis.integer:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


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
