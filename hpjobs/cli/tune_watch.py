"""``hpjobs run tuning.json``: create a hyperparameter tuning job and watch its trials.

A live table shows every training job the tuning job launched (status, tuned values, objective,
epochs) under a line with the tuning job's status, counters, best objective so far and elapsed
time; a line is printed whenever a training job changes status, so the record stays in logs too.
Ctrl-C stops the tuning job (and its running training jobs); a second Ctrl-C leaves it running.
The run ends with a summary of the best training job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hpjobs._settle import settle
from hpjobs.cli.aws import call_operation
from hpjobs.cli.render import counted_interrupts, local_path_of, status_style

__all__ = ["announce", "headline", "run_tuning", "tuning_summary"]

_POLL_SECONDS = 0.25
_FINISHED = {"Completed", "Failed", "Stopped"}


def run_tuning(request: dict[str, Any], console: Console, detach: bool) -> None:
    from hpjobs.sagemaker.tuning_jobs import create_hyper_parameter_tuning_job

    call_operation(create_hyper_parameter_tuning_job, "CreateHyperParameterTuningJob", request)
    name = request["HyperParameterTuningJobName"]
    if detach:
        console.print(f"Created hyperparameter tuning job {name}")
        return
    description = watch_tuning(name, console)
    if description is None:
        console.print(f"Left hyperparameter tuning job {name} running.")
        raise SystemExit(1)
    console.print(tuning_summary(description))
    raise SystemExit(0 if description["HyperParameterTuningJobStatus"] == "Completed" else 1)


def watch_tuning(name: str, console: Console) -> dict[str, Any] | None:
    """Follow tuning job ``name`` to its end; its final description, or None if left running."""
    from hpjobs.sagemaker.tuning_jobs import (
        describe_hyper_parameter_tuning_job,
        stop_hyper_parameter_tuning_job,
        tuning_job_children,
    )

    with ExitStack() as stack:
        # Ctrl-C is counted while the watch gets ready too (see hpjobs.cli.watch.watch).
        interrupts = stack.enter_context(counted_interrupts())
        settle()
        started = time.monotonic()
        seen: dict[str, str] = {}
        stop_sent = False
        live = stack.enter_context(Live(console=console, refresh_per_second=4, transient=True))
        while True:
            description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
            children = tuning_job_children(name)
            for child in children:
                announce(live.console, child, seen)
            live.update(_view(description, children, started))
            if description["HyperParameterTuningJobStatus"] in _FINISHED:
                return description
            time.sleep(_POLL_SECONDS)
            if interrupts.new():
                if stop_sent:
                    return None
                stop_sent = True
                live.console.print("Stopping the tuning job (Ctrl-C again to leave it running)")
                call_operation(
                    stop_hyper_parameter_tuning_job,
                    "StopHyperParameterTuningJob",
                    {"HyperParameterTuningJobName": name},
                )


def _objective(child: dict[str, Any]) -> str:
    metric = child.get("FinalHyperParameterTuningJobObjectiveMetric")
    return "-" if metric is None else f"{metric['Value']:.6g}"


def announce(console: Console, child: dict[str, Any], seen: dict[str, str]) -> None:
    name, status = child["TrainingJobName"], child["TrainingJobStatus"]
    if seen.get(name) == status:
        return
    seen[name] = status
    tuned = " ".join(f"{k}={v}" for k, v in child["TunedHyperParameters"].items())
    text = Text.assemble((name, "bold"), " ", (status, status_style(status)), f"  {tuned}")
    if status in _FINISHED:
        text.append(f"  objective={_objective(child)}")
    console.print(text)


def _epochs(children: list[dict[str, Any]]) -> dict[str, str]:
    from hpjobs.sagemaker.training_jobs import training_job_epoch

    epochs = {}
    for child in children:
        epoch = training_job_epoch(child["TrainingJobName"])
        epochs[child["TrainingJobName"]] = "-" if epoch is None else str(epoch)
    return epochs


def _trials_table(children: list[dict[str, Any]]) -> Table:
    names = list(dict.fromkeys(k for c in children for k in c["TunedHyperParameters"]))
    table = Table(show_edge=False)
    for column in ("Training job", "Status", *names, "Objective", "Epochs"):
        table.add_column(column, justify="right" if column in ("Objective", "Epochs") else "left")
    epochs = _epochs(children)
    for child in sorted(children, key=lambda c: c["TrainingJobName"]):
        status = child["TrainingJobStatus"]
        tuned = child["TunedHyperParameters"]
        table.add_row(
            child["TrainingJobName"],
            Text(status, style=status_style(status)),
            *(_short(tuned.get(n, "")) for n in names),
            _objective(child),
            epochs[child["TrainingJobName"]],
        )
    return table


def _short(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if "." not in value else f"{number:.6g}"


def headline(description: dict[str, Any], started: float) -> Text:
    status = description["HyperParameterTuningJobStatus"]
    counters = description["TrainingJobStatusCounters"]
    best = description.get("BestTrainingJob")
    best_text = "-" if best is None else f"{_objective(best)} ({best['TrainingJobName']})"
    failed = counters["RetryableError"] + counters["NonRetryableError"]
    return Text.assemble(
        (description["HyperParameterTuningJobName"], "bold"),
        "  ",
        (status, status_style(status)),
        f"  completed {counters['Completed']}, running {counters['InProgress']}, stopped "
        f"{counters['Stopped']}, failed {failed}",
        f"  best {best_text}  {time.monotonic() - started:.1f} s",
    )


def _view(description: dict[str, Any], children: list[dict[str, Any]], started: float) -> Group:
    return Group(Text(""), headline(description, started), _trials_table(children))


def tuning_summary(
    description: dict[str, Any], artifact: Callable[[dict[str, Any]], str] | None = None
) -> Group:
    """The end-of-run summary of a finished tuning job; ``artifact`` finds the best training
    job's model artifact from its summary (by default, in the store)."""
    status = description["HyperParameterTuningJobStatus"]
    lines: list[Any] = [
        Text(""),
        Text.assemble(
            "Hyperparameter tuning job ",
            (description["HyperParameterTuningJobName"], "bold"),
            " ended: ",
            (status, status_style(status)),
            f" after {description['ConsumedResources']['RuntimeInSeconds']} s",
        ),
    ]
    if description.get("FailureReason"):
        lines.append(Text(f"Failure reason: {description['FailureReason']}", style="red"))
    counters = description["TrainingJobStatusCounters"]
    lines.append(Text("Training jobs: " + ", ".join(f"{k} {v}" for k, v in counters.items())))
    best = description.get("BestTrainingJob")
    if best is not None:
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        lines.append(
            Text(
                f"Best training job: {best['TrainingJobName']}  "
                f"{metric['MetricName']} = {metric['Value']:.6g} ({metric['Type']})"
            )
        )
        grid = Table("Hyperparameter", "Value", title="Best tuned values", title_justify="left")
        for key, value in best["TunedHyperParameters"].items():
            grid.add_row(key, value)
        lines.append(grid)
        lines.append(Text(f"Model artifact: {(artifact or _artifact)(best)}"))
    describe = (
        "hpjobs sagemaker describe-hyper-parameter-tuning-job --hyper-parameter-tuning-job-name"
    )
    lines.append(Text(f"Describe it with: {describe} {description['HyperParameterTuningJobName']}"))
    return Group(*lines)


def _artifact(best: dict[str, Any]) -> str:
    from hpjobs.sagemaker.training_jobs import describe_training_job

    location = describe_training_job({"TrainingJobName": best["TrainingJobName"]})[
        "ModelArtifacts"
    ]["S3ModelArtifacts"]
    return local_path_of(location) or location
