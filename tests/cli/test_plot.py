"""``hpjobs plot``: images of real training and tuning jobs (fixture scripts), the panels they are
made of, and the error paths."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers import TERMINAL, training_request, wait_for

from hpjobs.cli import cli
from hpjobs.cli.plot import Trial, figure_size, metric_panels, trials, tuning_figure
from hpjobs.sagemaker.training_jobs import create_training_job
from hpjobs.sagemaker.tuning_jobs import (
    create_hyper_parameter_tuning_job,
    describe_hyper_parameter_tuning_job,
)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
#: matplotlib's "tab:red", the colour of trials that were stopped early
STOPPED_RGB = np.array([214, 39, 40]) / 255


def hpjobs(*args: str) -> Result:
    return CliRunner().invoke(cli, ["plot", *args])


def pixels(path: Path) -> Any:
    """The image at ``path`` as an RGB array of floats in [0, 1]."""
    from matplotlib.image import imread

    return imread(path)[..., :3]


def assert_drawn(path: Path, panels: int) -> Any:
    """``path`` holds an image of ``panels`` panels at the size hpjobs gives it, not blank."""
    image = pixels(path)
    width, height = figure_size(panels)
    assert image.shape[:2] == (height, width)
    colours = np.unique((image * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100
    assert image.std() > 0.05
    return image


def has_colour(image: Any, rgb: Any, tolerance: float = 0.04) -> bool:
    return bool((np.abs(image - rgb).max(axis=-1) < tolerance).sum() > 20)


def metric(name: str, regex: str) -> dict[str, str]:
    return {"Name": name, "Regex": regex}


def definition(output: Path, **static: str) -> dict[str, Any]:
    """A training job definition running fixture ``objective.py``."""
    job = training_request("unused", output)
    del job["TrainingJobName"]
    job["AlgorithmSpecification"]["MetricDefinitions"] = [
        metric("objective", r"objective=([0-9.]+)")
    ]
    job["StaticHyperParameters"] = job.pop("HyperParameters")
    job["StaticHyperParameters"].update(
        {"sagemaker_program": '"objective.py"', "epochs": "2", **static}
    )
    return job


def tune(name: str, output: Path, ranges: dict[str, Any], **config: Any) -> dict[str, Any]:
    """Run a tuning job that minimizes ``objective.py`` over ``ranges``; its last description."""
    limits = config.pop("ResourceLimits", {"MaxParallelTrainingJobs": 2})
    static = config.pop("static", {})
    create_hyper_parameter_tuning_job(
        {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": {
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
                "ResourceLimits": limits,
                "ParameterRanges": ranges,
                **config,
            },
            "TrainingJobDefinition": definition(output, **static),
        }
    )
    deadline = time.monotonic() + 60
    while True:
        description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
        if description["HyperParameterTuningJobStatus"] in TERMINAL:
            return description
        assert time.monotonic() < deadline, description
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------------
# Real jobs through the command
# ------------------------------------------------------------------------------------------------


def test_a_training_job_and_a_tuning_job_of_one_name(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = training_request("twin", output)
    request["AlgorithmSpecification"]["MetricDefinitions"] = [
        metric("train:loss", r"loss=([0-9.]+)"),
        metric("validation:loss", r"loss=([0-9.]+)"),
        metric("train:accuracy", r"accuracy=([0-9.]+)"),
    ]
    create_training_job(request)
    description = tune(
        "twin",
        output,
        {
            "IntegerParameterRanges": [
                {"Name": "y", "MinValue": "-3", "MaxValue": "3", "ScalingType": "Linear"}
            ],
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0.1", "MaxValue": "10", "ScalingType": "Logarithmic"}
            ],
            "CategoricalParameterRanges": [{"Name": "mode", "Values": ["a", "b"]}],
        },
        Strategy="Random",
        RandomSeed=3,
        ResourceLimits={"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
    )
    assert description["TrainingJobStatusCounters"]["Completed"] == 4
    assert wait_for("twin")["TrainingJobStatus"] == "Completed"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    result = hpjobs("twin")  # the training job
    assert result.exit_code == 0, result.output
    assert result.stdout == "twin.png\n"
    assert_drawn(work / "twin.png", panels=2)  # loss (train and validation), accuracy

    target = tmp_path / "trials.png"
    result = hpjobs("twin", "--tuning", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{target}\n"
    image = assert_drawn(target, panels=4)  # objective, then y, x and mode
    assert not has_colour(image, STOPPED_RGB)
    assert sorted(p.name for p in work.iterdir()) == ["twin.png"]


def test_trials_stopped_early_have_their_own_marker(output: Path, tmp_path: Path) -> None:
    # Grid runs x in the order given; when the fourth job reports epoch 1, the three before it
    # had 11 or 12 there, so x=30 (795) is worse than their median and is stopped.
    description = tune(
        "early",
        output,
        {"CategoricalParameterRanges": [{"Name": "x", "Values": ["2", "1", "3", "30"]}]},
        Strategy="Grid",
        TrainingJobEarlyStoppingType="Auto",
        ResourceLimits={"MaxParallelTrainingJobs": 1},
        static={"epochs": "3", "seconds": "0.2"},
    )
    assert description["TrainingJobStatusCounters"]["Stopped"] == 1
    result = hpjobs("early", "-o", str(tmp_path / "early.png"))
    assert result.exit_code == 0, result.output
    image = assert_drawn(tmp_path / "early.png", panels=2)
    assert has_colour(image, STOPPED_RGB)


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_unknown_name_is_an_aws_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = hpjobs("nothing-here")
    assert result.exit_code == 254
    assert result.stderr == (
        "\nAn error occurred (ValidationException) when calling the DescribeTrainingJob "
        "operation: Requested resource not found.\n"
    )
    result = hpjobs("nothing-here", "--tuning")
    assert result.exit_code == 254
    assert result.stderr == (
        "\nAn error occurred (ResourceNotFound) when calling the DescribeHyperParameterTuningJob "
        "operation: Amazon SageMaker can't find a tuning job called nothing-here. "
        "Type another name.\n"
    )
    assert list(work.iterdir()) == []


def test_jobs_without_values_draw_nothing(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_training_job(training_request("silent", output))  # no MetricDefinitions
    tune(
        "failing",
        output,
        {"CategoricalParameterRanges": [{"Name": "x", "Values": ["1"]}]},
        Strategy="Grid",
        static={"fail": '"true"'},
    )
    assert wait_for("silent")["TrainingJobStatus"] == "Completed"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = hpjobs("silent")
    assert (result.exit_code, result.stderr) == (
        1,
        "Training job silent has no metric points yet.\n",
    )
    result = hpjobs("failing")
    assert (result.exit_code, result.stderr) == (
        1,
        "Hyperparameter tuning job failing has no objective values yet.\n",
    )
    assert list(work.iterdir()) == []


def test_an_output_folder_that_does_not_exist_is_a_one_line_error(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "plot.png"
    result = hpjobs("nothing-here", "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Could not write {target}: folder {target.parent} does not exist.\n"
    )


def test_help_does_not_import_matplotlib() -> None:
    code = (
        "import sys\n"
        "from hpjobs.cli import cli\n"
        "from hpjobs.cli.plot import plot\n"
        "cli(['--help'], standalone_mode=False)\n"
        "plot(['--help'], standalone_mode=False)\n"
        "print('matplotlib' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
    assert "plot" in done.stdout


# ------------------------------------------------------------------------------------------------
# Panels
# ------------------------------------------------------------------------------------------------


def point(name: str, value: float, seconds: float, epoch: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "MetricName": name,
        "Value": value,
        "Timestamp": T0 + timedelta(seconds=seconds),
    }
    if epoch is not None:
        found["Epoch"] = epoch
    return found


def test_metrics_differing_by_channel_share_a_panel() -> None:
    points = [
        point("train:loss", 1.0, 1, 1),
        point("validation:loss", 1.5, 1, 1),
        point("validation:accuracy", 0.5, 1, 1),
        point("train:loss", 0.5, 2, 2),
        point("validation:loss", 0.9, 2, 2),
        point("validation:accuracy", 0.7, 2, 2),
        point("val_rmse", 3.0, 3),
        point("rmse", 2.0, 3),
        point("lr", 0.1, 4),
    ]
    panels = metric_panels(points, T0)
    assert [(p.title, [s.label for s in p.series]) for p in panels] == [
        ("loss", ["train:loss", "validation:loss"]),
        ("accuracy", ["validation:accuracy"]),
        ("rmse", ["val_rmse", "rmse"]),
        ("lr", ["lr"]),
    ]
    loss = panels[0]
    assert loss.x_label == "Epoch"
    assert loss.series[1].x == [1.0, 2.0]
    assert loss.series[1].y == [1.5, 0.9]


def test_metrics_without_distinct_epochs_are_drawn_over_seconds() -> None:
    start = T0 - timedelta(seconds=10)
    points = [
        point("loss", 1.0, 0),  # no epoch
        point("loss", 0.5, 2.5),
        point("acc", 0.1, 1, 1),  # epoch 1 twice
        point("acc", 0.2, 2, 1),
        point("f1", math.inf, 1, 1),
    ]
    loss, acc, f1 = metric_panels(points, start)
    assert loss.x_label == acc.x_label == "Seconds since the job started"
    assert loss.series[0].x == [10.0, 12.5]
    assert acc.series[0].x == [11.0, 12.0]
    assert f1.x_label == "Epoch"
    assert math.isnan(f1.series[0].y[0])


def child(number: int, status: str, value: float | None, **tuned: str) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": f"t-{number:03d}",
        "CreationTime": T0 + timedelta(seconds=number),
        "TrainingJobStatus": status,
        "TunedHyperParameters": tuned,
    }
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": "Maximize",
            "MetricName": "validation:accuracy",
            "Value": value,
        }
    return summary


def test_trials_are_in_launch_order_and_need_an_objective() -> None:
    children = [
        child(3, "Stopped", 0.4, lr="0.1"),
        child(1, "Completed", 0.5, lr="0.01"),
        child(2, "Failed", None, lr="1"),
        child(4, "Stopping", 0.6, lr="0.5"),
    ]
    assert trials(children) == [
        Trial("t-001", "Completed", 0.5, {"lr": "0.01"}),
        Trial("t-003", "Stopped", 0.4, {"lr": "0.1"}),
        Trial("t-004", "InProgress", 0.6, {"lr": "0.5"}),
    ]


def tuning_description(**extra: Any) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "demo",
        "HyperParameterTuningJobStatus": "InProgress",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:accuracy",
            },
        },
        **extra,
    }


def test_tuning_figure_panels_scales_and_legend() -> None:
    description = tuning_description(
        TrainingJobDefinitions=[
            {
                "DefinitionName": "one",
                "HyperParameterRanges": {
                    "ContinuousParameterRanges": [
                        {"Name": "lr", "MinValue": "0.001", "MaxValue": "1"},  # Auto: log
                    ],
                    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["sgd", "adam"]}],
                },
            },
            {
                "DefinitionName": "two",
                "HyperParameterRanges": {
                    "IntegerParameterRanges": [
                        {"Name": "layers", "MinValue": "1", "MaxValue": "4"},
                    ],
                    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["adamw"]}],
                },
            },
        ]
    )
    found = trials(
        [
            child(1, "Completed", 0.5, lr="0.01", opt="sgd"),
            child(2, "Stopped", 0.3, lr="0.5", opt="adam"),
            child(3, "Completed", 0.8, layers="2", opt="adamw"),
            child(4, "InProgress", 0.9, layers="3", opt="adam"),
        ]
    )
    figure = tuning_figure(description, found)
    first, lr, opt, layers = figure.axes
    legend = first.get_legend()
    assert legend is not None
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["completed", "stopped early", "in progress", "best so far"]
    assert first.get_title() == "validation:accuracy (maximize)"
    best = first.get_lines()[0].get_ydata()
    assert list(best) == [0.5, 0.5, 0.8, 0.8]  # maximized; the running trial does not count
    assert (lr.get_title(), lr.get_xscale()) == ("lr", "log")
    assert (layers.get_title(), layers.get_xscale()) == ("layers", "linear")
    assert [t.get_text() for t in opt.get_xticklabels()] == ["sgd", "adam", "adamw"]


def test_figure_size_grows_by_rows_of_three() -> None:
    assert figure_size(1) == (500, 350)
    assert figure_size(3) == (1500, 350)
    assert figure_size(4) == (1500, 700)
    assert figure_size(7) == (1500, 1050)
