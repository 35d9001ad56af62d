"""``hpjobs logs``, ``hpjobs jobs``, ``hpjobs tuning-jobs`` and ``hpjobs metrics``: looking at
jobs, for people."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hpjobs._settle import settle
from hpjobs.cli.aws import aws_errors, call_operation, print_json
from hpjobs.cli.render import LogFollower, status_style

__all__ = ["jobs", "logs", "metrics", "tuning_jobs"]

_FOLLOW_POLL_SECONDS = 0.25
_FINISHED = {"Completed", "Failed", "Stopped"}


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the job ends.")
def logs(name: str, follow: bool) -> None:
    """Print the log of training job NAME (its stdout and stderr, and hpjobs' own lines).

    For a job running on AWS the lines come from CloudWatch Logs
    (/aws/sagemaker/TrainingJobs, every stream of the job)."""
    from hpjobs.sagemaker.training_jobs import training_job_log, training_job_place

    with aws_errors("DescribeTrainingJob"):
        target, arn = training_job_place(name)
        if target == "aws":
            _remote_logs(name, arn, follow)
            return
        path, status = training_job_log(name)
    follower = LogFollower(path)
    settle()
    while True:
        for line in follower.new_lines(final=not follow or status in _FINISHED):
            click.echo(line)
        if not follow or status in _FINISHED:
            return
        time.sleep(_FOLLOW_POLL_SECONDS)
        status = training_job_log(name)[1]


def _remote_logs(name: str, arn: str, follow: bool) -> None:
    from cloud.sagemaker import LOG_GROUP, LogReader
    from hpjobs.cli.cloud import poll_seconds, setup_errors
    from hpjobs.redaction import log_redactor
    from hpjobs.sagemaker.remote import region_of
    from hpjobs.sagemaker.training_jobs import describe_training_job

    reader = LogReader(name, region_of(arn))
    hide = log_redactor(name)
    told = False
    with setup_errors():
        while True:
            status = describe_training_job({"TrainingJobName": name})["TrainingJobStatus"]
            for event in reader.read():
                click.echo(hide(event.message))
            if reader.streams == 0 and not told:
                # said on stderr, once: stdout holds the log lines only
                still = "" if status in _FINISHED else " yet"
                click.echo(
                    f"Training job {name} ({status}) has no log streams in CloudWatch Logs "
                    f"({LOG_GROUP}, {reader.region}){still}.",
                    err=True,
                )
                told = True
            if not follow or status in _FINISHED:
                return
            time.sleep(poll_seconds())


def _newest_first(status: str | None, name_contains: str | None, limit: int) -> dict[str, Any]:
    """A List request for the newest jobs first, filtered as the table's options say."""
    request: dict[str, Any] = {
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": limit,
    }
    if status:
        request["StatusEquals"] = status
    if name_contains:
        request["NameContains"] = name_contains
    return request


def _duration(summary: dict[str, Any]) -> str:
    end = summary.get("TrainingEndTime") or datetime.now(timezone.utc)
    seconds = int((end - summary["CreationTime"]).total_seconds())
    return f"{seconds // 60}m {seconds % 60:02d}s"


@click.command()
@click.option(
    "--status",
    "status_equals",
    type=click.Choice(["InProgress", "Completed", "Failed", "Stopping", "Stopped"]),
)
@click.option("--name-contains", default=None, help="Only jobs whose name contains this.")
@click.option("--max", "max_results", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print ListTrainingJobs' JSON instead.")
def jobs(
    status_equals: str | None, name_contains: str | None, max_results: int, as_json: bool
) -> None:
    """Training jobs, newest first, as a table."""
    from hpjobs.sagemaker.training_jobs import list_training_jobs

    request = _newest_first(status_equals, name_contains, max_results)
    response = call_operation(list_training_jobs, "ListTrainingJobs", request)
    if as_json:
        print_json(response)
        return
    table = Table()
    for column in ("Name", "Status", "Secondary status", "Created (UTC)", "Duration"):
        table.add_column(column)
    for summary in response["TrainingJobSummaries"]:
        status = summary["TrainingJobStatus"]
        table.add_row(
            summary["TrainingJobName"],
            Text(status, style=status_style(status)),
            summary.get("SecondaryStatus", ""),
            summary["CreationTime"].strftime("%Y-%m-%d %H:%M:%S"),
            _duration(summary),
        )
    Console().print(table)


def _epoch_rows(
    points: list[dict[str, Any]],
) -> tuple[list[str], list[tuple[str, dict[str, float]]]]:
    """Metric names, and one row per epoch (or per point where the log named no epoch)."""
    names: list[str] = []
    rows: list[tuple[str, dict[str, float]]] = []
    by_epoch: dict[int, dict[str, float]] = {}
    for point in points:
        if point["MetricName"] not in names:
            names.append(point["MetricName"])
        epoch = point.get("Epoch")
        if epoch is None:
            rows.append(
                (
                    point["Timestamp"].strftime("%H:%M:%S.%f")[:-3],
                    {point["MetricName"]: point["Value"]},
                )
            )
            continue
        if epoch not in by_epoch:
            by_epoch[epoch] = {}
            rows.append((str(epoch), by_epoch[epoch]))
        by_epoch[epoch][point["MetricName"]] = point["Value"]
    return names, rows


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print every metric point as JSON.")
def metrics(name: str, as_json: bool) -> None:
    """The metrics of training job NAME, one row per epoch."""
    from hpjobs.sagemaker.training_jobs import training_job_metrics

    with aws_errors("DescribeTrainingJob"):
        points = training_job_metrics(name)
    if as_json:
        print_json({"MetricPoints": points})
        return
    names, rows = _epoch_rows(points)
    if not rows:
        click.echo(f"Training job {name} has no metric points yet.")
        return
    table = Table(title=f"Metrics of {name}", title_justify="left")
    table.add_column("Epoch")
    for metric in names:
        table.add_column(metric, justify="right")
    for label, values in rows:
        table.add_row(label, *(f"{values[m]:.6g}" if m in values else "" for m in names))
    Console().print(table)


@click.command("tuning-jobs")
@click.option(
    "--status",
    "status_equals",
    type=click.Choice(["InProgress", "Completed", "Failed", "Stopping", "Stopped"]),
)
@click.option("--name-contains", default=None, help="Only tuning jobs whose name contains this.")
@click.option("--max", "max_results", default=20, show_default=True, type=click.IntRange(1, 100))
def tuning_jobs(status_equals: str | None, name_contains: str | None, max_results: int) -> None:
    """Hyperparameter tuning jobs, newest first, with their best objective so far."""
    from hpjobs.sagemaker.tuning_jobs import (
        describe_hyper_parameter_tuning_job,
        list_hyper_parameter_tuning_jobs,
    )

    request = _newest_first(status_equals, name_contains, max_results)
    response = call_operation(
        list_hyper_parameter_tuning_jobs, "ListHyperParameterTuningJobs", request
    )
    table = Table()
    for column in ("Name", "Status", "Strategy", "Done/Run/Stop/Fail", "Best", "Created (UTC)"):
        table.add_column(column)
    for summary in response["HyperParameterTuningJobSummaries"]:
        name = summary["HyperParameterTuningJobName"]
        best = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name}).get(
            "BestTrainingJob", {}
        )
        metric = best.get("FinalHyperParameterTuningJobObjectiveMetric")
        counters = summary["TrainingJobStatusCounters"]
        failed = counters["RetryableError"] + counters["NonRetryableError"]
        status = summary["HyperParameterTuningJobStatus"]
        table.add_row(
            name,
            Text(status, style=status_style(status)),
            summary["Strategy"],
            f"{counters['Completed']}/{counters['InProgress']}/{counters['Stopped']}/{failed}",
            "-" if metric is None else f"{metric['Value']:.6g}",
            summary["CreationTime"].strftime("%Y-%m-%d %H:%M:%S"),
        )
    Console().print(table)
