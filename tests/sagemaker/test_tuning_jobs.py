"""Hyperparameter tuning jobs end to end through the Python API: a real tuner process launching
real child training jobs (fixture scripts ``objective.py`` and ``tune_report.py``), real SQLite.

Every test waits for its tuning jobs to reach a terminal status, so no process outlives it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import SCRIPTS, TERMINAL, wait_for
from sqlalchemy import select

from hpjobs.errors import ResourceNotFound, ServiceError
from hpjobs.sagemaker.training_jobs import (
    describe_training_job,
    list_training_jobs,
    stop_training_job,
    training_job_metrics,
)
from hpjobs.sagemaker.tuning_jobs import (
    create_hyper_parameter_tuning_job,
    delete_hyper_parameter_tuning_job,
    describe_hyper_parameter_tuning_job,
    list_hyper_parameter_tuning_jobs,
    list_training_jobs_for_hyper_parameter_tuning_job,
    stop_hyper_parameter_tuning_job,
)
from hpjobs.store import TuningJob, get_store

Request = dict[str, Any]
Response = dict[str, Any]

ARN_PREFIX = "arn:aws:sagemaker:us-west-2:000000000000:hyper-parameter-tuning-job/"
OBJECTIVE = {"Name": "objective", "Regex": "objective=([0-9.]+)"}


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def wait_for_tuning(
    name: str, until: Callable[[Response], bool] | None = None, timeout: float = 60
) -> Response:
    """Describe tuning job ``name`` until ``until`` holds (default: a terminal status)."""
    until = until or (lambda d: d["HyperParameterTuningJobStatus"] in TERMINAL)
    deadline = time.monotonic() + timeout
    while True:
        description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
        if until(description):
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"tuning job {name} did not get there in {timeout} s")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _nothing_outlives_the_test(home: Path) -> Iterator[None]:
    """Even when a test fails half way, stop what it left running and wait for the end."""
    yield
    listed = list_hyper_parameter_tuning_jobs({"MaxResults": 100})
    for summary in listed["HyperParameterTuningJobSummaries"]:
        name = summary["HyperParameterTuningJobName"]
        if summary["HyperParameterTuningJobStatus"] == "InProgress":
            with contextlib.suppress(ServiceError):
                stop_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
        wait_for_tuning(name, timeout=30)
    for job in list_training_jobs({"MaxResults": 100})["TrainingJobSummaries"]:
        if job["TrainingJobStatus"] == "InProgress":
            with contextlib.suppress(ServiceError):
                stop_training_job({"TrainingJobName": job["TrainingJobName"]})
        wait_for(job["TrainingJobName"], timeout=30)


def children(name: str, **options: Any) -> list[Response]:
    """Every child summary of tuning job ``name``, in the default order (Name)."""
    request: Request = {"HyperParameterTuningJobName": name, "MaxResults": 100, **options}
    summaries: list[Response] = list_training_jobs_for_hyper_parameter_tuning_job(request)[
        "TrainingJobSummaries"
    ]
    return summaries


def names(summaries: list[Response]) -> list[str]:
    return [s["TrainingJobName"] for s in summaries]


def objective_of(summary: Response) -> float:
    value: float = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    return value


def continuous(name: str, low: str, high: str, scaling: str = "Linear") -> Request:
    return {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": scaling}


def integer(name: str, low: str, high: str, scaling: str = "Linear") -> Request:
    return continuous(name, low, high, scaling)


def categorical(name: str, *values: str) -> Request:
    return {"Name": name, "Values": list(values)}


def definition(output: Path, script: str = "objective.py", **static: str) -> Request:
    """A training job definition running fixture ``script``, with epochs 3 unless overridden."""
    return {
        "AlgorithmSpecification": {
            "TrainingImage": "hpjobs/pytorch",
            "TrainingInputMode": "File",
            "MetricDefinitions": [dict(OBJECTIVE)],
        },
        "StaticHyperParameters": {
            "sagemaker_program": json.dumps(script),
            "sagemaker_submit_directory": json.dumps(SCRIPTS.as_uri()),
            "epochs": "3",
            **static,
        },
        "RoleArn": "arn:aws:iam::123456789012:role/test",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def tuning_request(
    name: str,
    output: Path,
    *,
    strategy: str = "Random",
    max_jobs: int | None = 2,
    parallel: int = 1,
    ranges: Request | None = None,
    script: str = "objective.py",
    static: dict[str, str] | None = None,
    **config: Any,
) -> Request:
    """Minimise ``objective`` over ``ranges`` (default: continuous x and y in [-5, 5])."""
    limits: Request = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    if ranges is None:
        ranges = {
            "ContinuousParameterRanges": [continuous("x", "-5", "5"), continuous("y", "-5", "5")]
        }
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ResourceLimits": limits,
            "ParameterRanges": ranges,
            **config,
        },
        "TrainingJobDefinition": definition(output, script, **(static or {})),
    }


def run(request: Request, timeout: float = 60) -> Response:
    """Create the tuning job and wait for its end; its last description."""
    create_hyper_parameter_tuning_job(request)
    return wait_for_tuning(request["HyperParameterTuningJobName"], timeout=timeout)


def tuner_pid(name: str) -> int:
    with get_store().read() as session:
        job = session.scalars(select(TuningJob).where(TuningJob.name_key == name.lower())).one()
        assert job.tuner_pid is not None
        return job.tuner_pid


def objective(x: float, y: float = 0.0, epoch: int = 3) -> float:
    """What fixture ``objective.py`` prints for ``x``, ``y`` at ``epoch``."""
    return round((x - 2) ** 2 + (y + 1) ** 2 + 10.0 / epoch, 6)


# ------------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------------


def test_grid_runs_every_combination_exactly_once(output: Path) -> None:
    request = tuning_request(
        "grid-all",
        output,
        strategy="Grid",
        max_jobs=None,
        parallel=3,
        ranges={
            "CategoricalParameterRanges": [
                categorical("x", "1", "2", "3"),
                categorical("y", "0", "-1"),
                categorical("mode", "a", "b"),
            ]
        },
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 12
    tuned = [c["TunedHyperParameters"] for c in children("grid-all")]
    assert len(tuned) == 12
    seen = sorted((t["x"], t["y"], t["mode"]) for t in tuned)
    assert seen == sorted(itertools.product(["1", "2", "3"], ["0", "-1"], ["a", "b"]))
    best = description["BestTrainingJob"]
    assert {k: best["TunedHyperParameters"][k] for k in ("x", "y")} == {"x": "2", "y": "-1"}
    assert objective_of(best) == pytest.approx(objective(2, -1))


def test_grid_with_two_definitions_runs_every_combination_of_both(output: Path) -> None:
    request = tuning_request("grid-two", output, strategy="Grid", max_jobs=None, parallel=1)
    del request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    single = request.pop("TrainingJobDefinition")
    small = dict(single, DefinitionName="small")
    small["HyperParameterRanges"] = {"CategoricalParameterRanges": [categorical("x", "1", "2")]}
    large = dict(single, DefinitionName="large")
    large["HyperParameterRanges"] = {
        "CategoricalParameterRanges": [categorical("x", "3", "4", "5")]
    }
    request["TrainingJobDefinitions"] = [small, large]
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    seen = sorted(
        (c["TrainingJobDefinitionName"], c["TunedHyperParameters"]["x"])
        for c in children("grid-two")
    )
    assert seen == [("large", "3"), ("large", "4"), ("large", "5"), ("small", "1"), ("small", "2")]


def test_random_seed_repeats_the_same_values_and_integers_are_integer_strings(
    output: Path,
) -> None:
    ranges = {
        "IntegerParameterRanges": [
            integer("n", "1", "1000"),
            integer("m", "1", "1000000", "Logarithmic"),
        ],
        "ContinuousParameterRanges": [continuous("x", "-5", "5")],
        "CategoricalParameterRanges": [categorical("mode", "a", "b", "c")],
    }
    for name in ("seed-one", "seed-two", "seed-other"):
        seed = 42 if name != "seed-other" else 43
        create_hyper_parameter_tuning_job(
            tuning_request(name, output, max_jobs=4, parallel=2, ranges=ranges, RandomSeed=seed)
        )
    tuned = {}
    for name in ("seed-one", "seed-two", "seed-other"):
        assert wait_for_tuning(name)["HyperParameterTuningJobStatus"] == "Completed"
        tuned[name] = [c["TunedHyperParameters"] for c in children(name)]
    assert tuned["seed-one"] == tuned["seed-two"]
    assert tuned["seed-one"] != tuned["seed-other"]
    for values in itertools.chain.from_iterable(tuned.values()):
        assert set(values) == {"n", "m", "x", "mode"}
        assert re.fullmatch(r"[1-9]\d*", values["n"]) and 1 <= int(values["n"]) <= 1000
        assert re.fullmatch(r"[1-9]\d*", values["m"]) and 1 <= int(values["m"]) <= 1_000_000
        assert -5 <= float(values["x"]) <= 5
        assert values["mode"] in {"a", "b", "c"}


def test_bayesian_completes_a_small_run(output: Path) -> None:
    request = tuning_request("bayes", output, strategy="Bayesian", max_jobs=4, parallel=2)
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"]["Completed"] == 4
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    values = [objective_of(c) for c in children("bayes")]
    assert objective_of(description["BestTrainingJob"]) == min(values)


# ------------------------------------------------------------------------------------------------
# Children: names, hyperparameters, arguments
# ------------------------------------------------------------------------------------------------


def test_children_names_hyperparameters_and_arguments(output: Path, home: Path) -> None:
    ranges = {
        "IntegerParameterRanges": [integer("n", "1", "9")],
        "ContinuousParameterRanges": [continuous("x", "0", "2")],
    }
    request = tuning_request(
        "Kids-Tune", output, max_jobs=3, parallel=2, ranges=ranges, script="tune_report.py"
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    summaries = children("kids-tune", SortBy="CreationTime")
    assert len(summaries) == 3
    for number, summary in enumerate(summaries, start=1):
        name = summary["TrainingJobName"]
        assert re.fullmatch(rf"Kids-Tune-{number:03d}-[0-9a-f]{{8}}", name)
        assert summary["TuningJobName"] == "Kids-Tune"
        tuned = summary["TunedHyperParameters"]
        assert set(tuned) == {"n", "x"}
        assert re.fullmatch(r"[1-9]", tuned["n"])
        job = describe_training_job({"TrainingJobName": name})
        assert job["TuningJobArn"] == ARN_PREFIX + "kids-tune"
        assert job["TuningJobArn"] == description["HyperParameterTuningJobArn"]
        static = request["TrainingJobDefinition"]["StaticHyperParameters"]
        assert job["HyperParameters"] == {
            **static,
            "n": tuned["n"],
            "x": tuned["x"],
            "_tuning_objective_metric": "objective",
        }
        log = (home / "jobs" / name / "logs" / "algo-1.log").read_text()
        [line] = [line for line in log.splitlines() if line.startswith("argv=")]
        argv = json.loads(line.removeprefix("argv="))
        assert "_tuning_objective_metric" not in " ".join(argv)
        pairs = dict(zip(argv[::2], argv[1::2], strict=True))
        assert pairs["-n"] == tuned["n"]  # the toolkit gives one-letter names one dash
        assert pairs["-x"] == tuned["x"]
        expected = abs(float(tuned["x"]) - 1) + int(tuned["n"]) + 1 / 3
        assert objective_of(summary) == pytest.approx(expected, abs=1e-6)


def test_describe_reports_counters_best_job_and_times(output: Path) -> None:
    request = tuning_request("desc-tune", output, max_jobs=4, parallel=2)
    description = run(request)
    assert description["HyperParameterTuningJobName"] == "desc-tune"
    assert description["HyperParameterTuningJobArn"] == ARN_PREFIX + "desc-tune"
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["HyperParameterTuningJobConfig"] == request["HyperParameterTuningJobConfig"]
    assert description["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] == (
        "hpjobs/pytorch"
    )
    assert description["TrainingJobStatusCounters"] == {
        "Completed": 4,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    summaries = children("desc-tune")
    values = {s["TrainingJobName"]: objective_of(s) for s in summaries}
    best = description["BestTrainingJob"]
    assert objective_of(best) == min(values.values())
    assert values[best["TrainingJobName"]] == min(values.values())
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "objective"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Type"] == "Minimize"
    assert best["ObjectiveStatus"] == "Succeeded"
    for summary in summaries:
        job = describe_training_job({"TrainingJobName": summary["TrainingJobName"]})
        [final] = [m for m in job["FinalMetricDataList"] if m["MetricName"] == "objective"]
        assert final["Value"] == objective_of(summary)
        tuned = summary["TunedHyperParameters"]
        assert objective_of(summary) == pytest.approx(
            objective(float(tuned["x"]), float(tuned["y"])), abs=1e-5
        )
    details = description["TuningJobCompletionDetails"]
    assert isinstance(details["NumberOfTrainingJobsObjectiveNotImproving"], int)
    assert 0 <= details["NumberOfTrainingJobsObjectiveNotImproving"] <= 3
    runtime = description["ConsumedResources"]["RuntimeInSeconds"]
    assert isinstance(runtime, int)
    end = description["HyperParameterTuningEndTime"]
    assert description["CreationTime"] <= end <= description["LastModifiedTime"]
    assert runtime >= int((end - description["CreationTime"]).total_seconds())
    assert max(s["TrainingEndTime"] for s in summaries) <= end
    assert "OverallBestTrainingJob" not in description
    assert "FailureReason" not in description


# ------------------------------------------------------------------------------------------------
# The list operations
# ------------------------------------------------------------------------------------------------


def test_list_training_jobs_for_a_tuning_job_sorts_filters_and_pages(output: Path) -> None:
    request = tuning_request(
        "lst-tune",
        output,
        strategy="Grid",
        max_jobs=None,
        parallel=2,
        ranges={"CategoricalParameterRanges": [categorical("x", "-1", "0", "1", "3", "5")]},
    )
    assert run(request)["HyperParameterTuningJobStatus"] == "Completed"
    everything = children("lst-tune")
    assert len(everything) == 5
    assert names(everything) == sorted(names(everything))
    by_value = {s["TrainingJobName"]: objective_of(s) for s in everything}
    ascending = children("lst-tune", SortBy="FinalObjectiveMetricValue")
    assert [objective_of(s) for s in ascending] == sorted(by_value.values())
    assert by_value[names(ascending)[0]] == min(by_value.values())
    descending = children("lst-tune", SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    assert [objective_of(s) for s in descending] == sorted(by_value.values(), reverse=True)
    assert names(children("lst-tune", SortOrder="Descending")) == sorted(
        names(everything), reverse=True
    )
    assert names(children("lst-tune", StatusEquals="Completed")) == names(everything)
    assert children("lst-tune", StatusEquals="Failed") == []
    default_page = list_training_jobs_for_hyper_parameter_tuning_job(
        {"HyperParameterTuningJobName": "lst-tune"}
    )
    assert "NextToken" not in default_page
    assert names(default_page["TrainingJobSummaries"]) == names(everything)
    paged: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page_request: Request = {"HyperParameterTuningJobName": "LST-TUNE", "MaxResults": 2}
        if token:
            page_request["NextToken"] = token
        page = list_training_jobs_for_hyper_parameter_tuning_job(page_request)
        paged += names(page["TrainingJobSummaries"])
        pages += 1
        token = page.get("NextToken")
        if token is None:
            break
    assert pages == 3
    assert paged == names(everything)


def test_list_tuning_jobs_sorts_filters_and_pages(output: Path) -> None:
    created = ["beta-tune", "Gamma-Other", "Alpha-Tune"]
    for name in created:
        static = {"fail": "true"} if name == "Gamma-Other" else None
        request = tuning_request(name, output, max_jobs=1, script="tune_report.py", static=static)
        create_hyper_parameter_tuning_job(request)
    for name in created:
        wait_for_tuning(name)

    def listed(**request: Any) -> list[str]:
        response = list_hyper_parameter_tuning_jobs(request)
        return [
            s["HyperParameterTuningJobName"] for s in response["HyperParameterTuningJobSummaries"]
        ]

    assert listed() == ["Alpha-Tune", "beta-tune", "Gamma-Other"]
    assert listed(SortOrder="Descending") == ["Gamma-Other", "beta-tune", "Alpha-Tune"]
    assert listed(SortBy="CreationTime") == created
    assert listed(SortBy="CreationTime", SortOrder="Descending") == created[::-1]
    assert listed(SortBy="Status") == ["beta-tune", "Alpha-Tune", "Gamma-Other"]
    assert listed(NameContains="TUNE") == ["Alpha-Tune", "beta-tune"]
    assert listed(NameContains="gamma") == ["Gamma-Other"]
    assert listed(NameContains="-T") == ["Alpha-Tune", "beta-tune"]
    assert listed(StatusEquals="Completed") == ["Alpha-Tune", "beta-tune"]
    assert listed(StatusEquals="Failed") == ["Gamma-Other"]
    assert listed(StatusEquals="InProgress") == []
    summaries = list_hyper_parameter_tuning_jobs({})["HyperParameterTuningJobSummaries"]
    second = next(s for s in summaries if s["HyperParameterTuningJobName"] == "Gamma-Other")
    assert listed(SortBy="CreationTime", CreationTimeAfter=second["CreationTime"]) == ["Alpha-Tune"]
    first = summaries[0]
    assert first["HyperParameterTuningJobArn"] == ARN_PREFIX + "alpha-tune"
    assert first["HyperParameterTuningJobStatus"] == "Completed"
    assert first["Strategy"] == "Random"
    assert first["ResourceLimits"] == {"MaxParallelTrainingJobs": 1, "MaxNumberOfTrainingJobs": 1}
    assert first["TrainingJobStatusCounters"]["Completed"] == 1
    assert first["ObjectiveStatusCounters"]["Succeeded"] == 1
    assert first["CreationTime"] <= first["HyperParameterTuningEndTime"]
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page_request: Request = {"MaxResults": 1, "NameContains": "tune"}
        if token:
            page_request["NextToken"] = token
        page = list_hyper_parameter_tuning_jobs(page_request)
        pages.append(
            [s["HyperParameterTuningJobName"] for s in page["HyperParameterTuningJobSummaries"]]
        )
        token = page.get("NextToken")
        if token is None:
            break
    assert pages == [["Alpha-Tune"], ["beta-tune"]]


# ------------------------------------------------------------------------------------------------
# Parallelism
# ------------------------------------------------------------------------------------------------


def _intervals(name: str) -> list[tuple[Any, Any]]:
    return sorted((c["TrainingStartTime"], c["TrainingEndTime"]) for c in children(name))


def test_parallel_training_jobs_really_overlap_and_one_never_does(output: Path) -> None:
    slow = {"seconds": "0.35"}
    create_hyper_parameter_tuning_job(
        tuning_request("par-two", output, max_jobs=2, parallel=2, static=slow)
    )
    create_hyper_parameter_tuning_job(
        tuning_request("par-one", output, max_jobs=3, parallel=1, static=slow)
    )
    assert wait_for_tuning("par-two")["HyperParameterTuningJobStatus"] == "Completed"
    assert wait_for_tuning("par-one")["HyperParameterTuningJobStatus"] == "Completed"
    (first_start, first_end), (second_start, second_end) = _intervals("par-two")
    assert second_start < first_end  # the second began before the first ended
    assert first_start < second_end
    one = _intervals("par-one")
    assert len(one) == 3
    for (_, end), (start, _) in itertools.pairwise(one):
        assert end <= start
    for child in children("par-one"):
        job = describe_training_job({"TrainingJobName": child["TrainingJobName"]})
        assert job["TrainingTimeInSeconds"] >= 1


# ------------------------------------------------------------------------------------------------
# Early stopping: Hyperband and Auto
# ------------------------------------------------------------------------------------------------


def _epochs(name: str) -> list[int]:
    return [p["Epoch"] for p in training_job_metrics(name) if p["MetricName"] == "objective"]


def _stopped_children_count_their_last_objective(summaries: list[Response]) -> list[Response]:
    stopped = [s for s in summaries if s["TrainingJobStatus"] == "Stopped"]
    for summary in stopped:
        assert summary["ObjectiveStatus"] == "Succeeded"
        points = [
            p["Value"]
            for p in training_job_metrics(summary["TrainingJobName"])
            if p["MetricName"] == "objective"
        ]
        assert points
        assert objective_of(summary) == points[-1]
    return stopped


def test_hyperband_stops_weaker_jobs_early(output: Path) -> None:
    request = tuning_request(
        "hyperband",
        output,
        strategy="Hyperband",
        max_jobs=6,
        parallel=1,
        static={"epochs": "9", "seconds": "0.2"},
        RandomSeed=3,
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    summaries = children("hyperband")
    assert len(summaries) == 6
    stopped = _stopped_children_count_their_last_objective(summaries)
    assert stopped, "no training job was stopped early"
    for summary in stopped:
        assert max(_epochs(summary["TrainingJobName"])) < 9
    finished = [s for s in summaries if s["TrainingJobStatus"] == "Completed"]
    assert finished
    for summary in finished:
        assert _epochs(summary["TrainingJobName"]) == list(range(1, 10))
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 6, "Pending": 0, "Failed": 0}
    assert description["TrainingJobStatusCounters"]["Stopped"] == len(stopped)
    values = [objective_of(s) for s in summaries]
    assert objective_of(description["BestTrainingJob"]) == min(values)


def test_hyperband_stops_a_job_that_reaches_max_resource(output: Path) -> None:
    """Static epochs 6 but MaxResource 2: the tuner stops the job after its second epoch."""
    request = tuning_request(
        "hb-max",
        output,
        strategy="Hyperband",
        max_jobs=1,
        static={"epochs": "6", "seconds": "1"},
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 2}},
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    [child] = children("hb-max")
    assert child["TrainingJobStatus"] == "Stopped"
    assert child["ObjectiveStatus"] == "Succeeded"
    assert 2 <= max(_epochs(child["TrainingJobName"])) < 6
    _stopped_children_count_their_last_objective([child])
    assert description["BestTrainingJob"]["TrainingJobName"] == child["TrainingJobName"]


def test_auto_early_stopping_stops_clearly_worse_later_jobs(output: Path) -> None:
    request = tuning_request(
        "auto-stop",
        output,
        strategy="Grid",
        max_jobs=None,
        parallel=1,
        ranges={"CategoricalParameterRanges": [categorical("x", "2", "2.5", "1.5", "-5", "9")]},
        static={"epochs": "4", "seconds": "0.3"},
        TrainingJobEarlyStoppingType="Auto",
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    summaries = children("auto-stop")
    status = {s["TunedHyperParameters"]["x"]: s["TrainingJobStatus"] for s in summaries}
    assert status == {
        "2": "Completed",
        "2.5": "Completed",
        "1.5": "Completed",
        "-5": "Stopped",
        "9": "Stopped",
    }
    stopped = _stopped_children_count_their_last_objective(summaries)
    for summary in stopped:
        assert max(_epochs(summary["TrainingJobName"])) < 4
    assert description["TrainingJobStatusCounters"]["Stopped"] == 2
    assert description["ObjectiveStatusCounters"]["Succeeded"] == 5
    assert description["BestTrainingJob"]["TunedHyperParameters"] == {"x": "2"}


# ------------------------------------------------------------------------------------------------
# Completion criteria
# ------------------------------------------------------------------------------------------------


def test_target_objective_value_completes_the_job_early(output: Path) -> None:
    request = tuning_request(
        "target",
        output,
        strategy="Grid",
        max_jobs=None,
        ranges={"CategoricalParameterRanges": [categorical("x", "-4", "2", "-3", "5", "-5")]},
        TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 5.0},
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    summaries = children("target", SortBy="CreationTime")
    assert [s["TunedHyperParameters"]["x"] for s in summaries] == ["-4", "2"]
    assert objective_of(description["BestTrainingJob"]) == pytest.approx(objective(2))
    assert objective_of(description["BestTrainingJob"]) <= 5.0


def test_best_objective_not_improving_completes_the_job_early(output: Path) -> None:
    request = tuning_request(
        "not-improving",
        output,
        strategy="Grid",
        max_jobs=None,
        ranges={"CategoricalParameterRanges": [categorical("x", "2", "-4", "-3", "5", "-5", "6")]},
        TuningJobCompletionCriteria={
            "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}
        },
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    summaries = children("not-improving", SortBy="CreationTime")
    assert [s["TunedHyperParameters"]["x"] for s in summaries] == ["2", "-4", "-3", "5"]
    details = description["TuningJobCompletionDetails"]
    assert details["NumberOfTrainingJobsObjectiveNotImproving"] == 3
    assert description["BestTrainingJob"]["TunedHyperParameters"] == {"x": "2"}


# ------------------------------------------------------------------------------------------------
# Failures, stop, a dead tuner
# ------------------------------------------------------------------------------------------------


def test_a_failing_child_counts_as_non_retryable_with_objective_failed(output: Path) -> None:
    request = tuning_request(
        "one-fails",
        output,
        strategy="Grid",
        max_jobs=None,
        script="tune_report.py",
        ranges={"CategoricalParameterRanges": [categorical("fail", "false", "true")]},
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"] == {
        "Completed": 1,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 1,
        "Stopped": 0,
    }
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 0, "Failed": 1}
    [failed] = children("one-fails", StatusEquals="Failed")
    assert failed["TunedHyperParameters"] == {"fail": "true"}
    assert failed["ObjectiveStatus"] == "Failed"
    assert failed["FailureReason"]
    assert "FinalHyperParameterTuningJobObjectiveMetric" not in failed
    assert description["BestTrainingJob"]["TunedHyperParameters"] == {"fail": "false"}
    assert children("one-fails", SortBy="FinalObjectiveMetricValue") == [
        description["BestTrainingJob"]
    ]


def test_a_tuning_job_whose_every_child_fails_ends_failed(output: Path) -> None:
    request = tuning_request(
        "all-fail", output, max_jobs=2, parallel=2, script="tune_report.py", static={"fail": "true"}
    )
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("No training job reported the objective metric.")
    assert description["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}
    assert "BestTrainingJob" not in description
    assert "HyperParameterTuningEndTime" in description
    summaries = children("all-fail")
    assert [c["TrainingJobStatus"] for c in summaries] == ["Failed", "Failed"]
    last = summaries[-1]["FailureReason"]
    assert "failing on purpose" in last
    assert (
        description["FailureReason"]
        == (f"No training job reported the objective metric. The last failure: {last}"[:1024])
    )


def test_stop_stops_the_tuning_job_and_its_running_children(output: Path) -> None:
    request = tuning_request("stop-tune", output, max_jobs=4, parallel=2, static={"seconds": "30"})
    create_hyper_parameter_tuning_job(request)
    running = wait_for_tuning(
        "stop-tune", lambda d: d["TrainingJobStatusCounters"]["InProgress"] == 2
    )
    assert running["HyperParameterTuningJobStatus"] == "InProgress"
    assert running["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 2, "Failed": 0}
    assert "HyperParameterTuningEndTime" not in running
    assert "BestTrainingJob" not in running
    assert stop_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "Stop-Tune"}) == {}
    stopping = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "stop-tune"})
    assert stopping["HyperParameterTuningJobStatus"] == "Stopping"
    assert "HyperParameterTuningEndTime" not in stopping
    description = wait_for_tuning("stop-tune", timeout=30)
    assert description["HyperParameterTuningJobStatus"] == "Stopped"
    assert "HyperParameterTuningEndTime" in description
    summaries = children("stop-tune")
    assert len(summaries) == 2
    assert [s["TrainingJobStatus"] for s in summaries] == ["Stopped", "Stopped"]
    assert description["TrainingJobStatusCounters"]["Stopped"] == 2
    assert description["TrainingJobStatusCounters"]["InProgress"] == 0
    assert description["ObjectiveStatusCounters"]["Pending"] == 0


def test_a_killed_tuner_fails_the_tuning_job_and_stops_its_children(output: Path) -> None:
    request = tuning_request("kill-tune", output, max_jobs=4, parallel=2, static={"seconds": "30"})
    create_hyper_parameter_tuning_job(request)
    wait_for_tuning("kill-tune", lambda d: d["TrainingJobStatusCounters"]["InProgress"] == 2)
    pid = tuner_pid("kill-tune")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    description = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "kill-tune"})
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        f"InternalServerError: the tuner process (pid {pid}) ended unexpectedly; its running "
        "training jobs were stopped."
    )
    assert "HyperParameterTuningEndTime" in description
    for child in names(children("kill-tune")):
        job = describe_training_job({"TrainingJobName": child})
        assert job["TrainingJobStatus"] in ("Stopping", "Stopped")
    deadline = time.monotonic() + 20
    while True:
        summaries = children("kill-tune")
        if all(s["TrainingJobStatus"] == "Stopped" for s in summaries):
            break
        assert time.monotonic() < deadline, summaries
        time.sleep(0.05)
    assert len(summaries) == 2
    final = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "kill-tune"})
    assert final["HyperParameterTuningJobStatus"] == "Failed"
    assert final["TrainingJobStatusCounters"]["Stopped"] == 2
    assert final["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}


# ------------------------------------------------------------------------------------------------
# Warm start, delete, several definitions
# ------------------------------------------------------------------------------------------------


def test_warm_start_reports_the_overall_best_only_for_identical_data(output: Path) -> None:
    parent = tuning_request(
        "ws-parent",
        output,
        max_jobs=1,
        ranges={"CategoricalParameterRanges": [categorical("x", "2")]},
    )
    assert run(parent)["HyperParameterTuningJobStatus"] == "Completed"
    [parent_best] = children("ws-parent")
    for name, kind in (
        ("ws-same", "IdenticalDataAndAlgorithm"),
        ("ws-transfer", "TransferLearning"),
    ):
        request = tuning_request(
            name,
            output,
            max_jobs=2,
            parallel=2,
            ranges={"CategoricalParameterRanges": [categorical("x", "4", "-1", "5")]},
        )
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "WS-Parent"}],
            "WarmStartType": kind,
        }
        create_hyper_parameter_tuning_job(request)
    same = wait_for_tuning("ws-same")
    transfer = wait_for_tuning("ws-transfer")
    for description in (same, transfer):
        assert description["HyperParameterTuningJobStatus"] == "Completed"
        own = children(description["HyperParameterTuningJobName"])
        assert len(own) == 2
        assert objective_of(description["BestTrainingJob"]) == min(objective_of(c) for c in own)
        assert (
            description["BestTrainingJob"]["TuningJobName"]
            == description["HyperParameterTuningJobName"]
        )
    assert same["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    overall = same["OverallBestTrainingJob"]
    assert overall["TrainingJobName"] == parent_best["TrainingJobName"]
    assert overall["TuningJobName"] == "ws-parent"
    assert objective_of(overall) == pytest.approx(objective(2))
    pool = children("ws-same") + children("ws-parent")
    assert objective_of(overall) == min(objective_of(c) for c in pool)
    assert "OverallBestTrainingJob" not in transfer


def test_delete_removes_the_tuning_job_but_keeps_its_training_jobs(
    output: Path, home: Path
) -> None:
    description = run(tuning_request("del-tune", output, max_jobs=2, parallel=2))
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    kids = names(children("del-tune"))
    assert (home / "tuning" / "del-tune").exists()
    assert delete_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "DEL-TUNE"}) == {}
    with pytest.raises(ResourceNotFound):
        describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": "del-tune"})
    with pytest.raises(ResourceNotFound):
        list_training_jobs_for_hyper_parameter_tuning_job(
            {"HyperParameterTuningJobName": "del-tune"}
        )
    assert list_hyper_parameter_tuning_jobs({}) == {"HyperParameterTuningJobSummaries": []}
    assert not (home / "tuning" / "del-tune").exists()
    listed = [s["TrainingJobName"] for s in list_training_jobs({})["TrainingJobSummaries"]]
    assert sorted(listed) == sorted(kids)
    for kid in kids:
        job = describe_training_job({"TrainingJobName": kid})
        assert job["TrainingJobStatus"] == "Completed"
        assert job["TuningJobArn"] == ARN_PREFIX + "del-tune"
    # The name is free again, and the old training jobs do not become the new job's children.
    again = run(tuning_request("del-tune", output, max_jobs=1))
    assert again["HyperParameterTuningJobStatus"] == "Completed"
    assert again["TrainingJobStatusCounters"]["Completed"] == 1
    [new_kid] = names(children("del-tune"))
    assert new_kid not in kids


def test_two_definitions_launch_children_of_both(output: Path) -> None:
    request = tuning_request("two-defs", output, max_jobs=4, parallel=2)
    config = request["HyperParameterTuningJobConfig"]
    del config["HyperParameterTuningJobObjective"], config["ParameterRanges"]
    single = request.pop("TrainingJobDefinition")
    first = json.loads(json.dumps(single))
    first["DefinitionName"] = "def-a"
    first["TuningObjective"] = {"Type": "Minimize", "MetricName": "objective"}
    first["HyperParameterRanges"] = {"ContinuousParameterRanges": [continuous("x", "-5", "5")]}
    second = definition(output, "tune_report.py")
    second["DefinitionName"] = "def-b"
    second["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "score", "Regex": "objective=([0-9.]+)"}
    ]
    second["TuningObjective"] = {"Type": "Minimize", "MetricName": "score"}
    second["HyperParameterRanges"] = {"IntegerParameterRanges": [integer("n", "0", "9")]}
    request["TrainingJobDefinitions"] = [first, second]
    description = run(request)
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert [d["DefinitionName"] for d in description["TrainingJobDefinitions"]] == [
        "def-a",
        "def-b",
    ]
    summaries = children("two-defs")
    assert len(summaries) == 4
    by_definition: dict[str, list[Response]] = {}
    for summary in summaries:
        by_definition.setdefault(summary["TrainingJobDefinitionName"], []).append(summary)
    assert sorted(by_definition) == ["def-a", "def-b"]
    metrics = {"def-a": "objective", "def-b": "score"}
    tuned = {"def-a": {"x"}, "def-b": {"n"}}
    for definition_name, members in by_definition.items():
        for summary in members:
            assert set(summary["TunedHyperParameters"]) == tuned[definition_name]
            final = summary["FinalHyperParameterTuningJobObjectiveMetric"]
            assert final["MetricName"] == metrics[definition_name]
            job = describe_training_job({"TrainingJobName": summary["TrainingJobName"]})
            hyperparameters = job["HyperParameters"]
            assert hyperparameters["_tuning_objective_metric"] == metrics[definition_name]
    assert description["ObjectiveStatusCounters"]["Succeeded"] == 4
