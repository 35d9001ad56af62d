"""``--output json|text|table`` on the AWS-CLI-shaped commands, against the AWS CLI itself.

The reference is the AWS CLI: its own formatter classes, fed the same data (in process), and the
real ``aws`` program (awscli, a dev dependency) sent to ``hpjobs serve`` for the same jobs, with
``cli_timestamp_format = iso8601`` (AWS CLI v2's default, and the ISO 8601 that hpjobs prints).
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.paginate import TokenDecoder
from click.testing import CliRunner, Result
from helpers import TERMINAL, serving, training_request, wait_for

from hpjobs.cli import cli
from hpjobs.cli.aws import _jsonable
from hpjobs.cli.formats import FormatError, format_json, format_table, format_text
from hpjobs.operations import operation

REPO = Path(__file__).resolve().parents[2]
AWS = Path(sys.executable).parent / "aws"
JARGON = REPO / "hpjobs" / "generation" / "models" / "jargon"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
WIDTHS = (80, 30, 400)


# --- the AWS CLI's formatters, as the reference -------------------------------------------------


def _args(query: str | None, color: str = "off") -> argparse.Namespace:
    import jmespath

    return argparse.Namespace(query=jmespath.compile(query) if query else None, color=color)


def aws_text(response: dict[str, Any], query: str | None = None) -> str:
    """What ``aws … --output text`` prints for ``response``."""
    from awscli.formatter import TextFormatter

    stream = io.StringIO()
    TextFormatter(_args(query))("Operation", copy.deepcopy(response), stream)
    return stream.getvalue()


def aws_table(
    title: str,
    response: dict[str, Any],
    query: str | None = None,
    width: int = 80,
    color: bool = False,
) -> str:
    """What ``aws … --output table`` prints for ``response`` on a terminal ``width`` wide."""
    from awscli.formatter import TableFormatter

    stream = io.StringIO()
    with (  # colorama.init would wrap this process's sys.stdout: the styles alone are wanted
        mock.patch("awscli.table.determine_terminal_width", return_value=width),
        mock.patch("colorama.init"),
    ):
        formatter = TableFormatter(_args(query, "on" if color else "off"))
    formatter(title, copy.deepcopy(response), stream)
    return stream.getvalue()


def aws_json(response: dict[str, Any], query: str | None = None) -> str:
    from awscli.formatter import JSONFormatter

    stream = io.StringIO()
    JSONFormatter(_args(query))("Operation", copy.deepcopy(response), stream)
    return stream.getvalue()


def _searched(response: dict[str, Any], query: str | None) -> Any:
    import jmespath

    return jmespath.search(query, response) if query else response


def _outcome(print_: Callable[[], str]) -> str | type[Exception]:
    """What ``print_`` prints, or Exception if it cannot print the data."""
    try:
        return print_()
    except (FormatError, AttributeError, TypeError, ValueError):
        return Exception


def assert_like_the_aws_cli(title: str, response: dict[str, Any], query: str | None = None) -> None:
    """hpjobs's text, table (each width, plain and coloured) and JSON equal the AWS CLI's, and
    where the AWS CLI fails, hpjobs fails too."""
    data = _searched(response, query)
    assert _outcome(lambda: format_text(data)) == _outcome(lambda: aws_text(response, query))
    for width in WIDTHS:
        assert _outcome(lambda width=width: format_table(data, title, width)) == _outcome(
            lambda width=width: aws_table(title, response, query, width)
        )
    assert _outcome(lambda: format_table(data, title, 80, color=True)) == _outcome(
        lambda: aws_table(title, response, query, 80, color=True)
    )
    assert format_json(data) == aws_json(response, query)


# --- shapes --------------------------------------------------------------------------------------

SHAPES: dict[str, Any] = {
    "empty object": {},
    "empty list": [],
    "string": "abc",
    "empty string": "",
    "zero": 0,
    "number": 12.5,
    "true": True,
    "false": False,
    "null": None,
    "flat object": {"b": 2, "a": "x", "c": True, "d": None, "e": 1e20},
    "one member": {"only": "value"},
    "scalar list": ["a", "b", 3],
    "list of lists": [[1, 2], [3, 4]],
    "scalars beside lists": [1, 2, [3, 4], ["five"]],
    "lists in an object": {"x": [[1, 2], [3, 4]], "y": ["p", "q"]},
    "records with other keys": [{"a": 1}, {"a": 2, "b": [1]}, {"c": "three"}],
    "key scalar in one record, nested in another": {
        "k": [{"a": 1, "b": {"c": 2}}, {"a": {"z": 1}}]
    },
    "empty records": [{}],
    "record of a list": [{"a": [1]}],
    "nested empty": {"a": {"b": {}}, "c": [], "d": "v"},
    "records in records": [[{"a": 1, "b": [1]}, {"a": 2, "b": [2]}]],
    "list beginning with a scalar": [1, {"a": 1}],
    "wide characters": {"é中文": "東京", "x": [["─", "b"]], "y": "“quoted”"},
    "long values": {
        "Name": "n" * 90,
        "Nested": {"Short": "s", "Long": "l" * 150},
        "Items": [{"K": "k1", "V": "v" * 30}, {"K": "k2", "V": "w"}],
    },
}


@pytest.mark.parametrize("data", SHAPES.values(), ids=SHAPES.keys())
def test_formats_as_the_aws_cli_does(data: Any) -> None:
    assert_like_the_aws_cli("Operation", {"Data": data}, "Data")
    if isinstance(data, dict):
        assert_like_the_aws_cli("Operation", data)


FAILING: dict[str, tuple[Any, tuple[str, ...]]] = {
    "rows of different lengths": ([[1, 2], [3]], ("table",)),
    "records then a scalar": ([{"a": 1}, 1], ("text", "table")),
    "a scalar then records": ([1, {"a": 1}], ("text",)),
}


@pytest.mark.parametrize("data, formats", FAILING.values(), ids=FAILING.keys())
def test_what_the_aws_cli_cannot_print_fails(data: Any, formats: tuple[str, ...]) -> None:
    response = {"Data": data}
    if "text" in formats:
        with pytest.raises((AttributeError, TypeError)):
            aws_text(response, "Data")
        with pytest.raises(FormatError):
            format_text(data)
    if "table" in formats:
        with pytest.raises((ValueError, TypeError)):
            aws_table("Operation", response, "Data")
        with pytest.raises(FormatError):
            format_table(data, "Operation")


# --- real responses ------------------------------------------------------------------------------


def _call(service: str, name: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    response = operation(service, name)(request or {})
    response.pop("ResponseMetadata", None)
    data: dict[str, Any] = _jsonable(response)
    return data


def _tuning_job(output: Path, name: str) -> dict[str, Any]:
    """A finished three-job grid tuning job (fixture script ``objective.py``)."""
    from hpjobs.sagemaker.tuning_jobs import (
        create_hyper_parameter_tuning_job,
        describe_hyper_parameter_tuning_job,
    )

    definition = training_request("unused", output)
    del definition["TrainingJobName"]
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    definition["StaticHyperParameters"]["sagemaker_program"] = '"objective.py"'
    definition["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "objective", "Regex": r"objective=([0-9.]+)"}
    ]
    create_hyper_parameter_tuning_job(
        {
            "HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": {
                "Strategy": "Grid",
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "objective"},
                "ResourceLimits": {"MaxParallelTrainingJobs": 3},
                "ParameterRanges": {
                    "CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2", "3"]}]
                },
            },
            "TrainingJobDefinition": definition,
        }
    )
    deadline = time.monotonic() + 90
    while True:
        described = describe_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
        if described["HyperParameterTuningJobStatus"] in TERMINAL:
            assert described["HyperParameterTuningJobStatus"] == "Completed", described
            return described
        assert time.monotonic() < deadline, described
        time.sleep(0.1)


QUERIES = (
    None,
    "TrainingJobSummaries[].[TrainingJobName, TrainingJobStatus]",
    "TrainingJobSummaries[].TrainingJobName",
    "TrainingJobSummaries[0]",
    "length(TrainingJobSummaries)",
    "Missing",
)


def test_sagemaker_responses_print_as_the_aws_cli_prints_them(output: Path) -> None:
    tuning = _tuning_job(output, "Out-Grid")
    name = tuning["HyperParameterTuningJobName"]
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    responses = {
        "DescribeHyperParameterTuningJob": _call(
            "sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name}
        ),
        "ListHyperParameterTuningJobs": _call("sagemaker", "ListHyperParameterTuningJobs"),
        "ListTrainingJobsForHyperParameterTuningJob": _call(
            "sagemaker",
            "ListTrainingJobsForHyperParameterTuningJob",
            {"HyperParameterTuningJobName": name},
        ),
        "DescribeTrainingJob": _call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": best}),
        "ListTrainingJobs": _call("sagemaker", "ListTrainingJobs"),
    }
    described = responses["DescribeTrainingJob"]
    assert described["CreationTime"].endswith("+00:00")  # ISO 8601 in every format
    assert f"\t{described['CreationTime']}\t" in format_text(described)
    for title, response in responses.items():
        assert_like_the_aws_cli(title, response)
    for query in QUERIES:
        assert_like_the_aws_cli("ListTrainingJobs", responses["ListTrainingJobs"], query)
    assert_like_the_aws_cli(
        "DescribeHyperParameterTuningJob",
        responses["DescribeHyperParameterTuningJob"],
        "BestTrainingJob.{name: TrainingJobName, x: TunedHyperParameters.x}",
    )
    text = format_text(responses["DescribeTrainingJob"]).splitlines()
    assert {best, "Completed", "False"} <= set(text[0].split("\t"))
    assert "SECONDARYSTATUSTRANSITIONS\t" in text[-2]


def test_bedrock_responses_print_as_the_aws_cli_prints_them() -> None:
    models = _call("bedrock", "ListFoundationModels")
    assert_like_the_aws_cli("ListFoundationModels", models)
    for query in (
        "modelSummaries[].modelId",
        "modelSummaries[].[providerName, modelId]",
        "modelSummaries[?providerName=='Anthropic'] | [0]",
    ):
        assert_like_the_aws_cli("ListFoundationModels", models, query)
    coloured = aws_table("ListFoundationModels", models, color=True)
    assert "\x1b[1m\x1b[34mClaude 3 Haiku\x1b[0m" in coloured  # values bright blue
    assert "\x1b[2m\x1b[33m|\x1b[0m" in coloured  # the bars of nested boxes dim yellow
    model = _call("bedrock", "GetFoundationModel", {"modelIdentifier": MODEL})
    assert_like_the_aws_cli("GetFoundationModel", model)


def test_converse_prints_as_the_aws_cli_prints_it() -> None:
    if not (JARGON / "model.pt").is_file():
        pytest.skip(f"the shipped jargon model is not in {JARGON}")
    request = {
        "modelId": MODEL,
        "messages": [{"role": "user", "content": [{"text": "What is a hacker?"}]}],
        "inferenceConfig": {"maxTokens": 6, "temperature": 0},
    }
    response = _call("bedrock-runtime", "Converse", request)
    assert_like_the_aws_cli("Converse", response)
    assert_like_the_aws_cli("Converse", response, "output.message.content[0].text")
    reply = response["output"]["message"]["content"][0]["text"]
    lines = format_text(response).splitlines()
    assert lines[0] == response["stopReason"]
    assert f"CONTENT\t{reply}" in lines


# --- the commands --------------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_output_option_of_every_generated_command() -> None:
    for group, command in (
        ("sagemaker", "describe-training-job"),
        ("sagemaker", "list-training-jobs"),
        ("bedrock", "list-foundation-models"),
        ("bedrock-runtime", "converse"),
    ):
        help_text = invoke(group, command, "--help").output
        assert "[json|text|table]" in help_text, help_text
    bad = invoke("bedrock", "list-foundation-models", "--output", "xml")
    assert bad.exit_code == 2  # a usage error, as with AWS CLI v1 (v2 exits 252)
    assert "Invalid value for '--output': 'xml' is not one of 'json', 'text', 'table'." in (
        bad.output
    )


def test_query_then_output_through_the_command() -> None:
    response = _call("bedrock", "ListFoundationModels")
    ids = [summary["modelId"] for summary in response["modelSummaries"]]
    plain = invoke("bedrock", "list-foundation-models", "--output", "text")
    assert plain.exit_code == 0, plain.output
    assert plain.stdout == aws_text(response)
    queried = invoke(
        "bedrock", "list-foundation-models", "--query", "modelSummaries[].modelId",
        "--output", "text",
    )  # fmt: skip
    assert queried.stdout == "\t".join(ids) + "\n"
    first = invoke(
        "bedrock", "list-foundation-models", "--query", "modelSummaries[0].modelId",
        "--output", "text",
    )  # fmt: skip
    assert first.stdout == f"{ids[0]}\n"
    table = invoke("bedrock", "list-foundation-models", "--output", "table")
    assert table.stdout == aws_table("ListFoundationModels", response)  # not a terminal: 80 wide
    assert table.stdout.splitlines()[1].strip("| ") == "ListFoundationModels"
    json_out = invoke("bedrock", "list-foundation-models", "--output", "json")
    assert json.loads(json_out.stdout) == response
    nothing = invoke("bedrock", "list-foundation-models", "--query", "missing", "--output", "table")
    assert (nothing.exit_code, nothing.stdout) == (0, "")
    none = invoke("bedrock", "list-foundation-models", "--query", "missing", "--output", "text")
    assert none.stdout == "None\n"
    empty = invoke("bedrock", "list-foundation-models", "--query", "missing || `{}`")
    assert (empty.exit_code, empty.stdout) == (0, "")


def test_what_the_aws_cli_cannot_print_exits_255() -> None:
    result = invoke(
        "bedrock", "list-foundation-models", "--query", "[[`1`, `2`], [`3`]]", "--output", "table"
    )
    assert result.exit_code == 255
    assert result.stdout == ""
    assert result.stderr == "\nRow should have 2 elements, instead it has 1\n"


def test_text_of_a_paginated_command_is_printed_page_by_page(output: Path) -> None:
    from hpjobs.sagemaker.training_jobs import create_training_job

    names = ["pages-a", "pages-b", "pages-c"]
    for name in names:
        create_training_job(training_request(name, output))
    for name in names:
        wait_for(name)
    query = ("--query", "TrainingJobSummaries[].TrainingJobName")
    listing = ("sagemaker", "list-training-jobs", "--sort-by", "Name", "--output", "text")
    # each page on its own, as the AWS CLI prints text: one line per page of one
    assert invoke(*listing, *query, "--page-size", "1").stdout == "pages-a\npages-b\npages-c\n"
    assert invoke(*listing, *query, "--page-size", "2").stdout == "pages-a\tpages-b\npages-c\n"
    assert invoke(*listing, *query).stdout == "pages-a\tpages-b\tpages-c\n"
    capped = invoke(*listing, *query, "--page-size", "2", "--max-items", "3")
    assert capped.stdout == "pages-a\tpages-b\npages-c\n"
    # where --max-items leaves items, a NEXTTOKEN line follows, --query or not (aws-cli#10486)
    cut = invoke(*listing, *query, "--page-size", "2", "--max-items", "1").stdout
    first, hint = cut.splitlines()
    assert first == "pages-a"
    assert hint.split("\t")[0] == "NEXTTOKEN"
    token = hint.split("\t")[1]
    assert TokenDecoder().decode(token) == {"NextToken": None, "boto_truncate_amount": 1}
    rest = invoke(*listing, *query, "--page-size", "2", "--starting-token", token).stdout
    assert rest == "pages-b\npages-c\n"  # the first page less the item printed before, then one
    unqueried = invoke(*listing, "--page-size", "2", "--max-items", "1").stdout
    assert unqueried.splitlines()[-1] == f"NEXTTOKEN\t{token}"
    one_page = invoke(*listing, *query, "--max-results", "2", "--no-paginate")
    assert one_page.stdout == "pages-a\tpages-b\n"
    # the table merges the pages, as the AWS CLI's does
    merged = invoke(
        "sagemaker", "list-training-jobs", "--sort-by", "Name", "--page-size", "1",
        "--output", "table", *query,
    )  # fmt: skip
    expected = {"TrainingJobSummaries": [{"TrainingJobName": name} for name in names]}
    assert merged.stdout == aws_table(
        "ListTrainingJobs", expected, "TrainingJobSummaries[].TrainingJobName"
    )
    lines = invoke(*listing, "--page-size", "1").stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["TRAININGJOBSUMMARIES"] * 3
    assert [line.split("\t")[6] for line in lines] == names


# --- the real AWS CLI, sent to ``hpjobs serve`` --------------------------------------------------


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    """``hpjobs serve`` on loopback, on this test's HPJOBS_HOME; stopped with SIGTERM."""
    with serving(tmp_path) as url:
        yield url


def test_the_aws_cli_and_hpjobs_print_the_same(endpoint: str, output: Path, tmp_path: Path) -> None:
    if not AWS.is_file():
        pytest.skip(f"the AWS CLI is not at {AWS}")
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-west-2\ncli_timestamp_format = iso8601\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "absent"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL=endpoint,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_REGION="us-west-2",
    )
    tuning = _tuning_job(output, "Cli-Out")
    best = tuning["BestTrainingJob"]["TrainingJobName"]

    def run(program: list[str], *args: str) -> str:
        result = subprocess.run(
            [*program, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    commands = [
        ("sagemaker", "describe-training-job", "--training-job-name", best, "--output", "table"),
        (
            "sagemaker", "describe-hyper-parameter-tuning-job",
            "--hyper-parameter-tuning-job-name", "cli-out", "--output", "text",
        ),
        (
            "sagemaker", "list-training-jobs-for-hyper-parameter-tuning-job",
            "--hyper-parameter-tuning-job-name", "cli-out", "--sort-by", "Name",
            "--page-size", "2", "--output", "text",
            "--query", "TrainingJobSummaries[].TrainingJobName",
        ),
        ("sagemaker", "list-hyper-parameter-tuning-jobs", "--output", "table"),
        (
            "bedrock", "list-foundation-models", "--output", "text",
            "--query", "modelSummaries[?providerName=='Anthropic']",
        ),
    ]  # fmt: skip
    # --max-items: the NextToken left, and --starting-token going on from it (text with --query
    # is left out: this AWS CLI prints "None" for the token there, which aws-cli#10486 mended)
    cut = (
        "sagemaker", "list-training-jobs-for-hyper-parameter-tuning-job",
        "--hyper-parameter-tuning-job-name", "cli-out", "--sort-by", "Name",
        "--page-size", "2", "--max-items", "1",
    )  # fmt: skip
    commands += [cut, (*cut, "--output", "text"), (*cut[:-4], "--max-items", "2")]
    for command in commands:
        expected = run([str(AWS)], *command)
        assert run([sys.executable, "-m", "hpjobs"], *command) == expected, command
    paged = run([str(AWS)], *commands[2])
    assert len(paged.splitlines()) == 2  # a line for each page (of two, then one)
    token = json.loads(run([str(AWS)], *cut))["NextToken"]
    rest = (*cut[:-2], "--starting-token", token)
    expected = run([str(AWS)], *rest)
    assert len(json.loads(expected)["TrainingJobSummaries"]) == 2
    assert run([sys.executable, "-m", "hpjobs"], *rest) == expected
