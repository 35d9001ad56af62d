"""The ``hpjobs`` command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.paginate import Paginator, TokenDecoder
from helpers import program, training_request, wait_for

from hpjobs import shapes

REPO = Path(__file__).resolve().parents[2]


def hpjobs(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "hpjobs", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hpjobs {args} exited {result.returncode}:\n{result.stderr}")
    return result


def _job_file(tmp_path: Path, request: dict[str, Any]) -> Path:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(request))
    return path


def test_help_for_every_command() -> None:
    top = hpjobs("--help").stdout
    for command in (
        "sagemaker", "bedrock-runtime", "bedrock", "run", "chat", "logs", "jobs", "tuning-jobs",
        "metrics",
    ):  # fmt: skip
        assert command in top
        assert "Usage:" in hpjobs(command, "--help").stdout
    operations = hpjobs("sagemaker", "--help").stdout
    for operation in (
        "create-training-job",
        "describe-training-job",
        "list-training-jobs",
        "stop-training-job",
        "delete-training-job",
        "create-hyper-parameter-tuning-job",
        "describe-hyper-parameter-tuning-job",
        "list-hyper-parameter-tuning-jobs",
        "list-training-jobs-for-hyper-parameter-tuning-job",
        "stop-hyper-parameter-tuning-job",
        "delete-hyper-parameter-tuning-job",
    ):
        assert operation in operations
        assert "--cli-input-json" in hpjobs("sagemaker", operation, "--help").stdout
    runtime = hpjobs("bedrock-runtime", "--help").stdout
    for operation in (
        "converse",
        "converse-stream",
        "invoke-model",
        "invoke-model-with-response-stream",
    ):
        assert operation in runtime
    assert "OUTFILE" in hpjobs("bedrock-runtime", "invoke-model", "--help").stdout
    control = hpjobs("bedrock", "--help").stdout
    for operation in (
        "list-foundation-models", "get-foundation-model", "create-model-customization-job",
        "get-model-customization-job", "list-model-customization-jobs",
        "stop-model-customization-job", "get-custom-model", "list-custom-models",
        "delete-custom-model",
    ):  # fmt: skip
        assert operation in control


def test_version() -> None:
    assert hpjobs("--version").stdout.strip() == "hpjobs, version 0.1.0"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["sagemaker", "describe-training-job", "--training-job-name", "nobody"],
        ["sagemaker", "list-training-jobs"],
        ["jobs"],
        ["tuning-jobs"],
        ["sagemaker", "list-hyper-parameter-tuning-jobs"],
        ["bedrock", "list-foundation-models"],
        ["bedrock", "list-model-customization-jobs"],
    ],
)
def test_reading_commands_do_not_import_torch(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from hpjobs.cli import cli\n"
        f"try:\n    cli.main({args!r}, prog_name='hpjobs')\n"
        "except SystemExit:\n    pass\n"
        "print('TORCH-LOADED' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().endswith("NO-TORCH"), result.stdout + result.stderr


def test_create_describe_list_through_cli_input_json(tmp_path: Path, output: Path) -> None:
    job = _job_file(tmp_path, training_request("cli-job", output))
    created = hpjobs("sagemaker", "create-training-job", "--cli-input-json", f"file://{job}")
    assert json.loads(created.stdout) == {
        "TrainingJobArn": "arn:aws:sagemaker:us-west-2:000000000000:training-job/cli-job"
    }
    assert created.stdout.startswith('{\n    "TrainingJobArn"')  # the AWS CLI's 4-space indent
    wait_for("cli-job")
    described = json.loads(
        hpjobs("sagemaker", "describe-training-job", "--training-job-name", "cli-job").stdout
    )
    assert described["TrainingJobStatus"] == "Completed"
    assert datetime.fromisoformat(described["CreationTime"]).tzinfo is not None
    listed = json.loads(hpjobs("sagemaker", "list-training-jobs", "--max-results", "5").stdout)
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == ["cli-job"]
    queried = hpjobs(
        "sagemaker", "describe-training-job", "--training-job-name", "cli-job",
        "--query", "SecondaryStatusTransitions[].Status",
    )  # fmt: skip
    assert json.loads(queried.stdout) == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]


def test_options_override_cli_input_json_and_inline_json(tmp_path: Path, output: Path) -> None:
    request = training_request("from-file", output)
    hpjobs(
        "sagemaker", "create-training-job",
        "--cli-input-json", json.dumps(request),
        "--training-job-name", "from-option",
        "--stopping-condition", '{"MaxRuntimeInSeconds": 300}',
        "--enable-network-isolation",
    )  # fmt: skip
    description = wait_for("from-option")
    assert description["StoppingCondition"] == {"MaxRuntimeInSeconds": 300}
    assert description["EnableNetworkIsolation"] is True


def test_service_errors_print_as_the_aws_cli_does(tmp_path: Path, output: Path) -> None:
    missing = hpjobs(
        "sagemaker", "describe-training-job", "--training-job-name", "nobody", check=False
    )
    assert missing.returncode == 254
    assert missing.stdout == ""
    assert missing.stderr == (
        "\nAn error occurred (ValidationException) when calling the DescribeTrainingJob "
        "operation: Requested resource not found.\n"
    )
    bad = training_request("bad_name", output)
    job = _job_file(tmp_path, bad)
    invalid = hpjobs(
        "sagemaker", "create-training-job", "--cli-input-json", f"file://{job}", check=False
    )
    assert invalid.returncode == 254
    assert invalid.stderr == (
        "\nAn error occurred (ValidationException) when calling the CreateTrainingJob operation: "
        "1 validation error detected: Value 'bad_name' at 'trainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\n"
    )
    stop = hpjobs("sagemaker", "stop-training-job", "--training-job-name", "nobody", check=False)
    assert stop.returncode == 254
    assert "An error occurred (ResourceNotFound) when calling the StopTrainingJob" in stop.stderr


def test_malformed_parameters_exit_252() -> None:
    result = hpjobs(
        "sagemaker", "create-training-job", "--cli-input-json", "{not json", check=False
    )
    assert result.returncode == 252
    assert result.stderr.startswith("\nError parsing parameter '--cli-input-json': Invalid JSON:")
    result = hpjobs("sagemaker", "list-training-jobs", "--max-results", "many", check=False)
    assert result.returncode == 252
    assert (
        "Error parsing parameter '--max-results': expected an integer, received 'many'"
        in result.stderr
    )


def test_generate_cli_skeleton() -> None:
    skeleton = json.loads(
        hpjobs("sagemaker", "create-training-job", "--generate-cli-skeleton").stdout
    )
    assert skeleton["TrainingJobName"] == ""
    assert skeleton["ResourceConfig"]["InstanceCount"] == 0
    assert skeleton["EnableNetworkIsolation"] is True
    assert isinstance(skeleton["InputDataConfig"], list)


def test_stop_and_delete_through_the_cli(tmp_path: Path, output: Path) -> None:
    request = program(training_request("cli-stop", output), "report.py", seconds="60")
    hpjobs("sagemaker", "create-training-job", "--cli-input-json", json.dumps(request))
    wait_for("cli-stop", lambda d: d["SecondaryStatus"] == "Training")
    assert hpjobs("sagemaker", "stop-training-job", "--training-job-name", "cli-stop").stdout == ""
    assert wait_for("cli-stop")["TrainingJobStatus"] == "Stopped"
    assert (
        hpjobs("sagemaker", "delete-training-job", "--training-job-name", "cli-stop").stdout == ""
    )
    gone = hpjobs(
        "sagemaker", "describe-training-job", "--training-job-name", "cli-stop", check=False
    )
    assert gone.returncode == 254


def test_run_watches_to_the_end_and_summarises(tmp_path: Path, output: Path) -> None:
    request = training_request("run-job", output)
    request["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}
    ]
    job = _job_file(tmp_path, request)
    result = hpjobs("run", str(job), "--hp", "extra=7")
    assert "epoch=3 loss=0.3333" in result.stdout
    assert "Training job run-job ended: Completed (Completed)" in result.stdout
    assert "train:loss" in result.stdout and "0.3333" in result.stdout
    artifact = output / "run-job" / "output" / "model.tar.gz"
    assert f"Model artifact: {artifact}" in result.stdout
    assert wait_for("run-job")["HyperParameters"]["extra"] == "7"


def test_run_names_a_job_without_a_name(tmp_path: Path, output: Path) -> None:
    request = training_request("ignored", output)
    del request["TrainingJobName"]
    result = hpjobs("run", str(_job_file(tmp_path, request)), "--detach")
    name = result.stdout.strip().removeprefix("Created training job ")
    assert name.startswith("pytorch-20")
    description = wait_for(name)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")


def test_run_exits_1_for_a_failed_job(tmp_path: Path, output: Path) -> None:
    request = program(training_request("run-fail", output), "report.py", behaviour="fail")
    result = hpjobs("run", str(_job_file(tmp_path, request)), check=False)
    assert result.returncode == 1
    assert "ended: Failed (Failed)" in result.stdout
    assert (
        "Failure reason: AlgorithmError: the training process exited with status 3."
        in result.stdout
    )


def test_ctrl_c_stops_the_job_cleanly(tmp_path: Path, output: Path) -> None:
    request = program(
        training_request("run-ctrl-c", output), "report.py", behaviour="sigterm-save", seconds="60"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "hpjobs", "run", str(_job_file(tmp_path, request))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        log = Path(os.environ["HPJOBS_HOME"]) / "jobs" / "run-ctrl-c" / "logs" / "algo-1.log"
        deadline = time.monotonic() + 30
        while not (log.exists() and "sleeping" in log.read_text()):
            assert time.monotonic() < deadline, "the job never started sleeping"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    assert "Stopping the training job" in stdout
    assert "caught SIGTERM, model saved" in stdout
    assert "ended: Stopped (Stopped)" in stdout
    assert wait_for("run-ctrl-c")["TrainingJobStatus"] == "Stopped"


def test_logs_jobs_and_metrics(tmp_path: Path, output: Path) -> None:
    request = training_request("look-job", output)
    request["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "loss", "Regex": r"loss=([0-9.]+)"},
        {"Name": "accuracy", "Regex": r"accuracy=([0-9.]+)"},
    ]
    hpjobs("sagemaker", "create-training-job", "--cli-input-json", json.dumps(request))
    followed = hpjobs("logs", "look-job", "--follow")
    assert "epoch=3 loss=0.3333 accuracy=0.80" in followed.stdout
    assert followed.stdout.rstrip().endswith("hpjobs: Training job ended: Completed")
    table = hpjobs("jobs").stdout
    assert "look-job" in table and "Completed" in table
    metrics = hpjobs("metrics", "look-job").stdout
    rows = [line for line in metrics.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["1", "2", "3"]
    assert "0.3333" in rows[2] and "0.8" in rows[2]
    points = json.loads(hpjobs("metrics", "look-job", "--json").stdout)["MetricPoints"]
    assert [(p["MetricName"], p["Epoch"]) for p in points][:2] == [("loss", 1), ("accuracy", 1)]
    missing = hpjobs("logs", "nobody", check=False)
    assert missing.returncode == 254


def test_list_paginates_like_the_aws_cli(tmp_path: Path, output: Path) -> None:
    for name in ("page-a", "page-b", "page-c"):
        hpjobs(
            "sagemaker",
            "create-training-job",
            "--cli-input-json",
            json.dumps(training_request(name, output)),
        )
    for name in ("page-a", "page-b", "page-c"):
        wait_for(name)

    def listed(*args: str) -> dict[str, Any]:
        listing = hpjobs("sagemaker", "list-training-jobs", "--sort-by", "Name", *args).stdout
        data: dict[str, Any] = json.loads(listing)
        return data

    def names(*args: str) -> tuple[list[str], bool]:
        data = listed(*args)
        return [s["TrainingJobName"] for s in data["TrainingJobSummaries"]], "NextToken" in data

    assert names("--page-size", "1") == (["page-a", "page-b", "page-c"], False)
    assert names("--max-results", "1", "--no-paginate") == (["page-a"], True)
    assert names("--max-results", "2") == (["page-a", "page-b"], True)
    assert names("--max-items", "3") == (["page-a", "page-b", "page-c"], False)

    # --max-items leaves a NextToken, in botocore's encoding, that --starting-token goes on from:
    # at a page boundary it holds the service's token ...
    first = listed("--page-size", "1", "--max-items", "2")
    assert [s["TrainingJobName"] for s in first["TrainingJobSummaries"]] == ["page-a", "page-b"]
    decoded = TokenDecoder().decode(first["NextToken"])
    assert list(decoded) == ["NextToken"] and decoded["NextToken"]
    assert names("--starting-token", first["NextToken"]) == (["page-c"], False)
    # ... inside a page, the page's own token and how many of its items were printed
    cut = listed("--page-size", "2", "--max-items", "1")
    assert [s["TrainingJobName"] for s in cut["TrainingJobSummaries"]] == ["page-a"]
    assert TokenDecoder().decode(cut["NextToken"]) == {
        "NextToken": None,
        "boto_truncate_amount": 1,
    }
    assert names("--starting-token", cut["NextToken"], "--page-size", "2") == (
        ["page-b", "page-c"],
        False,
    )
    again = listed("--starting-token", cut["NextToken"], "--page-size", "2", "--max-items", "1")
    assert [s["TrainingJobName"] for s in again["TrainingJobSummaries"]] == ["page-b"]
    assert list(TokenDecoder().decode(again["NextToken"])) == ["NextToken"]  # the page's end
    assert names("--starting-token", again["NextToken"], "--page-size", "2") == (["page-c"], False)

    # a starting token not of botocore's making goes to the service as its own token, as the AWS
    # CLI sends it, and the service refuses one it did not give
    refused = hpjobs(
        "sagemaker", "list-training-jobs", "--starting-token", "not-a-token", check=False
    )
    assert refused.returncode == 254
    assert refused.stderr.strip() == (
        "An error occurred (ValidationException) when calling the ListTrainingJobs operation: "
        "The NextToken is not valid for this request: pass the token from the previous response "
        "together with the same filters and sort order."
    )

    # with paging off (--no-paginate, or the request's own token or size) the AWS CLI refuses
    # its paging options, naming them in its order
    for args, named in [
        (["--no-paginate", "--page-size", "1"], "--page-size"),
        (
            ["--max-results", "1", "--max-items", "1", "--starting-token", "x"],
            "--starting-token, --max-items",
        ),
        (["--next-token", "x", "--page-size", "1"], "--page-size"),
    ]:
        clash = hpjobs("sagemaker", "list-training-jobs", *args, check=False)
        assert clash.returncode == 255, args
        assert clash.stderr == (
            "\nError during pagination: Cannot specify --no-paginate along with pagination "
            f"arguments: {named}\n"
        )
        assert clash.stdout == ""
    # the service's own NextToken is not botocore's: decoded, its members go into the request,
    # where the AWS CLI's parameter validation refuses them
    service_token = listed("--max-results", "1")["NextToken"]
    assert set(TokenDecoder().decode(service_token)) == {"offset", "query"}  # it decodes
    foreign = hpjobs(
        "sagemaker", "list-training-jobs", "--starting-token", service_token, check=False
    )
    assert foreign.returncode == 252
    allowed = ", ".join(shapes.operation_model("sagemaker", "ListTrainingJobs").input_shape.members)
    assert foreign.stderr == "\nParameter validation failed:\n" + "".join(
        f'Unknown parameter in input: "{key}", must be one of: {allowed}\n'
        for key in TokenDecoder().decode(service_token)
    )
    # botocore's older form: the service's token, three underscores, items already printed
    assert names("--starting-token", "None___1", "--page-size", "2") == (
        ["page-b", "page-c"],
        False,
    )
    second_page = listed("--max-results", "1")["NextToken"]
    assert names("--starting-token", f"{second_page}___1") == (["page-c"], False)

    # the same as botocore's own paginator over the same operation, token for token
    from hpjobs.sagemaker.training_jobs import list_training_jobs

    def listing(**request: Any) -> dict[str, Any]:
        return list_training_jobs(request)

    paginator = Paginator(
        listing,
        {
            "input_token": "NextToken",
            "output_token": "NextToken",
            "limit_key": "MaxResults",
            "result_key": "TrainingJobSummaries",
        },
        shapes.operation_model("sagemaker", "ListTrainingJobs"),
    )
    for size, most, start in [
        (1, 1, None),
        (2, 1, None),
        (2, 3, None),
        (1, 2, first["NextToken"]),
        (2, 1, cut["NextToken"]),
        (3, 1, again["NextToken"]),
    ]:
        config: dict[str, Any] = {"PageSize": size, "MaxItems": most, "StartingToken": start}
        expected = paginator.paginate(SortBy="Name", PaginationConfig=config).build_full_result()
        args = ["--page-size", str(size), "--max-items", str(most)]
        args += ["--starting-token", start] if start else []
        got = listed(*args)
        assert got.keys() == expected.keys()
        assert [s["TrainingJobName"] for s in got["TrainingJobSummaries"]] == [
            s["TrainingJobName"] for s in expected["TrainingJobSummaries"]
        ]
        assert got.get("NextToken") == expected.get("NextToken"), (size, most, start)


def test_tuning_job_through_the_cli(tmp_path: Path, output: Path) -> None:
    definition = training_request("unused", output)
    del definition["TrainingJobName"]
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    definition["StaticHyperParameters"]["sagemaker_program"] = '"objective.py"'
    definition["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "objective", "Regex": r"objective=([0-9.]+)"}
    ]
    request = {
        "HyperParameterTuningJobName": "Cli-Grid",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
            "ResourceLimits": {"MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2", "3"]}]
            },
        },
        "TrainingJobDefinition": definition,
    }
    path = tmp_path / "tuning.json"
    path.write_text(json.dumps(request))
    created = hpjobs(
        "sagemaker", "create-hyper-parameter-tuning-job", "--cli-input-json", f"file://{path}"
    )
    arn = json.loads(created.stdout)["HyperParameterTuningJobArn"]
    assert arn == "arn:aws:sagemaker:us-west-2:000000000000:hyper-parameter-tuning-job/cli-grid"
    deadline = time.monotonic() + 60
    while True:
        described = json.loads(
            hpjobs(
                "sagemaker", "describe-hyper-parameter-tuning-job",
                "--hyper-parameter-tuning-job-name", "cli-grid",
            ).stdout
        )  # fmt: skip
        if described["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    best = described["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"x": "2"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(4.333333)
    children = json.loads(
        hpjobs(
            "sagemaker", "list-training-jobs-for-hyper-parameter-tuning-job",
            "--hyper-parameter-tuning-job-name", "Cli-Grid",
            "--sort-by", "FinalObjectiveMetricValue",
            "--query", "TrainingJobSummaries[].TunedHyperParameters.x",
        ).stdout
    )  # fmt: skip
    assert children == ["2", "1", "3"]
    table = hpjobs("tuning-jobs").stdout
    row = next(line for line in table.splitlines() if "Cli-Grid" in line)
    assert "Completed" in row and "Grid" in row and "3/0/0/0" in row and "4.33333" in row
