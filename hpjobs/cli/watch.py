"""``hpjobs run``: create a training job from its JSON and watch it to the end.

While the job runs, its log lines scroll by and a live panel shows the secondary status, the
latest epoch, the latest metric values and the elapsed time. Ctrl-C stops the job cleanly
(StopTrainingJob, then the job's own SIGTERM grace period); a second Ctrl-C leaves it running.
The run ends with a summary: final status, metrics, times and where the model artifact is.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from hpjobs.cli.aws import call_operation, read_json_argument
from hpjobs.cli.render import (
    LogFollower,
    final_metrics_table,
    local_path_of,
    status_style,
    steady_state,
)

__all__ = ["run"]

_POLL_SECONDS = 0.02
_FINISHED = {"Completed", "Failed", "Stopped"}


def _load_request(source: str) -> dict[str, Any]:
    argument = (
        source
        if source.startswith("file://") or source.lstrip().startswith("{")
        else f"file://{source}"
    )
    request = read_json_argument("JOB_JSON", argument)
    if not isinstance(request, dict):
        raise click.BadParameter("the job JSON must be an object", param_hint="JOB_JSON")
    return request


def _default_name(request: dict[str, Any]) -> str:
    """``<image base>-<timestamp>``, as the SageMaker SDK names jobs it is given no name for."""
    image = request.get("AlgorithmSpecification", {}).get("TrainingImage", "training-job")
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", image.rsplit("/", 1)[-1].split(":")[0]).strip("-")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]
    return f"{base[: 63 - len(stamp) - 1] or 'job'}-{stamp}"


def _apply_overrides(request: dict[str, Any], overrides: tuple[str, ...]) -> None:
    hyperparameters = request.setdefault("HyperParameters", {})
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--hp")
        hyperparameters[key] = value


@click.command()
@click.argument("job_json")
@click.option("--name", help="Training job name (overrides TrainingJobName in the JSON).")
@click.option(
    "--hp",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a hyperparameter for this run (repeatable).",
)
@click.option("--detach", is_flag=True, help="Create the job and return without watching it.")
def run(job_json: str, name: str | None, overrides: tuple[str, ...], detach: bool) -> None:
    """Create the training job in JOB_JSON (a CreateTrainingJob request: a path, file://path or
    inline JSON) and show it live until it ends.

    Without a TrainingJobName (in the JSON or --name) the job is named after its image and the
    current time. Exits 0 when the job completes, 1 otherwise.
    """
    from hpjobs.sagemaker.training_jobs import create_training_job

    request = _load_request(job_json)
    if name:
        request["TrainingJobName"] = name
    request.setdefault("TrainingJobName", _default_name(request))
    if overrides:
        _apply_overrides(request, overrides)
    call_operation(create_training_job, "CreateTrainingJob", request)
    job_name = request["TrainingJobName"]
    console = Console(highlight=False, soft_wrap=True)
    if detach:
        console.print(f"Created training job {job_name}")
        return
    description = watch(job_name, console)
    if description is None:
        console.print(
            f"Left training job {job_name} running; see it with: hpjobs logs --follow {job_name}"
        )
        raise SystemExit(1)
    console.print(summary(description))
    raise SystemExit(0 if description["TrainingJobStatus"] == "Completed" else 1)


def watch(name: str, console: Console) -> dict[str, Any] | None:
    """Follow job ``name`` until it ends; its final description, or None if the user left it."""
    from rich.live import Live

    from hpjobs.sagemaker.training_jobs import (
        describe_training_job,
        stop_training_job,
        training_job_log,
    )

    steady_state()
    started = time.monotonic()
    follower = LogFollower(training_job_log(name)[0])
    stop_sent = False
    description = describe_training_job({"TrainingJobName": name})
    with Live(
        _panel(description, started), console=console, refresh_per_second=4, transient=True
    ) as live:
        while True:
            try:
                for line in follower.new_lines():
                    live.console.print(Text(line))
                if description["TrainingJobStatus"] in _FINISHED:
                    for line in follower.new_lines(final=True):
                        live.console.print(Text(line))
                    return description
                time.sleep(_POLL_SECONDS)
                description = describe_training_job({"TrainingJobName": name})
                live.update(_panel(description, started))
            except KeyboardInterrupt:
                if stop_sent:
                    return None
                stop_sent = True
                live.console.print("Stopping the training job (Ctrl-C again to leave it running)")
                call_operation(stop_training_job, "StopTrainingJob", {"TrainingJobName": name})


def _latest_epoch(description: dict[str, Any]) -> str:
    from hpjobs.sagemaker.training_jobs import training_job_epoch

    epoch = training_job_epoch(description["TrainingJobName"])
    return "-" if epoch is None else str(epoch)


def _panel(description: dict[str, Any], started: float) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    status = description["TrainingJobStatus"]
    grid.add_row(
        "Training job",
        Text(description["TrainingJobName"]),
    )
    grid.add_row(
        "Status",
        Text(f"{status} - {description['SecondaryStatus']}", style=status_style(status)),
    )
    grid.add_row("Epoch", _latest_epoch(description))
    metrics = ", ".join(
        f"{m['MetricName']}={m['Value']:.6g}" for m in description.get("FinalMetricDataList", [])
    )
    grid.add_row("Metrics", metrics or "-")
    grid.add_row("Elapsed", f"{time.monotonic() - started:.1f} s")
    return Group(Text(""), grid)


def summary(description: dict[str, Any]) -> Group:
    """The end-of-run summary of a finished job."""
    status = description["TrainingJobStatus"]
    lines: list[Any] = [
        Text(""),
        Text.assemble(
            ("Training job ", ""),
            (description["TrainingJobName"], "bold"),
            (" ended: ", ""),
            (f"{status} ({description['SecondaryStatus']})", status_style(status)),
        ),
    ]
    if "TrainingTimeInSeconds" in description:
        lines.append(
            Text(
                f"Training seconds: {description['TrainingTimeInSeconds']}   "
                f"Billable seconds: {description['BillableTimeInSeconds']}"
            )
        )
    if description.get("FailureReason"):
        lines.append(Text(f"Failure reason: {description['FailureReason']}", style="red"))
    if description.get("FinalMetricDataList"):
        lines.append(final_metrics_table(description["FinalMetricDataList"]))
    artifacts = description["ModelArtifacts"]["S3ModelArtifacts"]
    local = local_path_of(artifacts)
    where = f"{artifacts}" if local is None else f"{local}"
    exists = local is None or Path(local).exists()
    lines.append(Text(f"Model artifact: {where}" + ("" if exists else " (not written)")))
    describe = "hpjobs sagemaker describe-training-job --training-job-name"
    lines.append(Text(f"Describe it with: {describe} {description['TrainingJobName']}"))
    return Group(*lines)
