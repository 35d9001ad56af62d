"""``hpjobs run``: create a training job from its JSON and watch it to the end.

While the job runs, its log lines scroll by and a live panel shows the secondary status, the
latest epoch, the latest metric values and the elapsed time. Ctrl-C stops the job cleanly
(StopTrainingJob, then the job's own SIGTERM grace period); a second Ctrl-C leaves it running.
The run ends with a summary: final status, metrics, times and where the model artifact is.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from hpjobs._settle import settle
from hpjobs.cli.aws import call_operation, read_json_argument
from hpjobs.cli.cloud import aws_target_options, make_target, submit_and_watch
from hpjobs.cli.render import (
    LogFollower,
    counted_interrupts,
    final_metrics_table,
    local_path_of,
    status_style,
)

__all__ = ["load_request", "run", "summary", "watch"]

_POLL_SECONDS = 0.02
_FINISHED = {"Completed", "Failed", "Stopped"}


def load_request(source: str) -> dict[str, Any]:
    argument = (
        source
        if source.startswith("file://") or source.lstrip().startswith("{")
        else f"file://{source}"
    )
    request = read_json_argument("JOB_JSON", argument)
    if not isinstance(request, dict):
        raise click.BadParameter("the job JSON must be an object", param_hint="JOB_JSON")
    return request


def is_tuning_request(request: dict[str, Any]) -> bool:
    return "HyperParameterTuningJobConfig" in request or "HyperParameterTuningJobName" in request


def _default_name(image: str, length: int, stamp_format: str) -> str:
    """``<image base>-<timestamp>``, as the SageMaker SDK names jobs it is given no name for."""
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", image.rsplit("/", 1)[-1].split(":")[0]).strip("-")
    stamp = datetime.now(timezone.utc).strftime(stamp_format)
    return f"{base[: length - len(stamp) - 1] or 'job'}-{stamp}"


def _definitions(request: dict[str, Any]) -> list[dict[str, Any]]:
    if "TrainingJobDefinitions" in request:
        return list(request["TrainingJobDefinitions"])
    return [request.setdefault("TrainingJobDefinition", {})]


def _name_request(request: dict[str, Any], name: str | None) -> str:
    """The job's name: ``--name``, else the request's, else one made from the image."""
    tuning = is_tuning_request(request)
    key = "HyperParameterTuningJobName" if tuning else "TrainingJobName"
    if name:
        request[key] = name
    if key not in request:
        spec = _definitions(request)[0] if tuning else request
        image = spec.get("AlgorithmSpecification", {}).get("TrainingImage", "job")
        if tuning:
            request[key] = _default_name(image, 32, "%y%m%d-%H%M%S")
        else:
            request[key] = _default_name(image, 63, "%Y-%m-%d-%H-%M-%S-%f")[:-3]
    return str(request[key])


def _apply_overrides(request: dict[str, Any], overrides: tuple[str, ...]) -> None:
    """``--hp KEY=VALUE``: a training job's HyperParameters, or every tuning definition's
    StaticHyperParameters."""
    if is_tuning_request(request):
        targets = [d.setdefault("StaticHyperParameters", {}) for d in _definitions(request)]
    else:
        targets = [request.setdefault("HyperParameters", {})]
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--hp")
        for hyperparameters in targets:
            hyperparameters[key] = value


@click.command()
@click.argument("job_json")
@click.option("--name", help="The job's name (overrides the name in the JSON).")
@click.option(
    "--hp",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a hyperparameter for this run (repeatable).",
)
@click.option("--detach", is_flag=True, help="Create the job and return without watching it.")
@aws_target_options
def run(
    job_json: str,
    name: str | None,
    overrides: tuple[str, ...],
    detach: bool,
    target: str,
    **aws: Any,
) -> None:
    """Create the job in JOB_JSON and show it live until it ends.

    JOB_JSON (a path, file://path or inline JSON) is a CreateTrainingJob request or a
    CreateHyperParameterTuningJob request. Without a name (in the JSON or --name) the job is named
    after its image and the current time. Exits 0 when the job completes, 1 otherwise.

    With --target aws the request is migrated (see 'hpjobs migrate'), its local data uploaded to
    --bucket, and the job created on SageMaker through boto3; its status changes and CloudWatch
    log lines are printed as they come.
    """
    request = load_request(job_json)
    job_name = _name_request(request, name)
    if overrides:
        _apply_overrides(request, overrides)
    console = Console(highlight=False, soft_wrap=True)
    if target == "aws":
        submit_and_watch(request, make_target(aws), console, detach)
        return
    if is_tuning_request(request):
        from hpjobs.cli.tune_watch import run_tuning

        run_tuning(request, console, detach)
        return
    from hpjobs.sagemaker.training_jobs import create_training_job

    call_operation(create_training_job, "CreateTrainingJob", request)
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

    with ExitStack() as stack:
        # Ctrl-C is counted from here on, not only once the loop runs: a press while the watch
        # gets ready (settling, the first describe) must stop the job, not end the command.
        interrupts = stack.enter_context(counted_interrupts())
        settle()
        started = time.monotonic()
        follower = LogFollower(training_job_log(name)[0])
        stop_sent = False
        description = describe_training_job({"TrainingJobName": name})
        panel = _panel(description, started)
        live = stack.enter_context(
            Live(panel, console=console, refresh_per_second=4, transient=True)
        )
        while True:
            for line in follower.new_lines():
                live.console.print(Text(line))
            if description["TrainingJobStatus"] in _FINISHED:
                for line in follower.new_lines(final=True):
                    live.console.print(Text(line))
                return description
            time.sleep(_POLL_SECONDS)
            if interrupts.new():
                if stop_sent:
                    return None
                stop_sent = True
                live.console.print("Stopping the training job (Ctrl-C again to leave it running)")
                call_operation(stop_training_job, "StopTrainingJob", {"TrainingJobName": name})
            description = describe_training_job({"TrainingJobName": name})
            live.update(_panel(description, started))


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
