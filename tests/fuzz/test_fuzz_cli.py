"""The CLI face under valid and broken requests for every operation: exit 0 with the response,
254 with the AWS CLI's ``An error occurred (Code) when calling the Op operation: ...`` line, or 252
for a parameter it cannot parse; never a Python traceback."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fuzz.shaped import FUZZ, OPERATIONS, junk, request, settled
from hypothesis import given, settings
from hypothesis import strategies as st

from hpjobs import shapes
from hpjobs.cli import cli

HPJOBS = [sys.executable, "-m", "hpjobs"]
STREAMS = {"ConverseStream", "InvokeModelWithResponseStream"}
#: Operations whose binary response goes to an ``outfile`` argument.
OUTFILE = {"InvokeModel"}


def kebab(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name, "-"))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(type(value))


def check_cli(result: Result, name: str) -> str:
    """The AWS CLI's outcomes only; the kind of outcome (``ok``, a code, ``parse``)."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything[-3000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    if result.exit_code == 0:
        if result.stdout.strip() and name not in STREAMS:
            assert isinstance(json.loads(result.stdout), dict), result.stdout[:500]
        return "ok"
    if result.exit_code == 254:
        line = result.stderr.strip().splitlines()[0]
        match = re.fullmatch(
            rf"An error occurred \(([A-Z][A-Za-z]+)\) when calling the {name} operation: .+", line
        )
        assert match, result.stderr[:2000]
        return match[1]
    assert result.exit_code == 252, (result.exit_code, everything[-2000:])
    assert result.stderr.startswith("\nError parsing parameter"), result.stderr[:2000]
    return "parse"


def run(service: str, name: str, args: list[str], outfile: Path) -> Result:
    extra = [str(outfile)] if name in OUTFILE else []
    return CliRunner().invoke(cli, [service, kebab(name), *args, *extra], catch_exceptions=True)


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[op for _, op in OPERATIONS])
def test_cli_input_json_gets_aws_cli_outcomes(service: str, name: str, tmp_path: Path) -> None:
    outcomes: set[str] = set()

    @settings(FUZZ, max_examples=5)
    @given(request(service, name))
    def answers(given_request: Any) -> None:
        text = json.dumps(given_request, default=_json_default)
        outcomes.add(
            check_cli(run(service, name, ["--cli-input-json", text], tmp_path / "o"), name)
        )

    with settled():
        answers()
    assert outcomes - {"parse"}, f"no request of {name} reached the operation: {outcomes}"


def _options(service: str, name: str) -> list[str]:
    members = shapes.operation_model(service, name).input_shape.members
    return [f"--{kebab(m)}" for m, s in members.items() if s.type_name != "boolean"]


OPTIONS = [(s, n, option) for s, n in OPERATIONS for option in _options(s, n)]


@settings(FUZZ, max_examples=60)
@given(
    option=st.sampled_from(OPTIONS),
    value=st.one_of(
        junk().map(lambda v: json.dumps(v)),
        st.sampled_from(["{", "[" * 5000, "file:///no/such/file", "fileb:///no/such", "1e999"]),
        st.text(max_size=20),
    ),
)
def test_member_options_get_aws_cli_outcomes(
    option: tuple[str, str, str], value: str, tmp_path: Path
) -> None:
    service, name, flag = option
    if value.startswith("-"):
        value = " " + value  # a value, not an option
    check_cli(run(service, name, [f"{flag}={value}"], tmp_path / "o"), name)


def test_input_nested_too_deep_is_a_parse_error() -> None:
    """Through the real command: JSON deeper than Python's json reads is a parse error (252)."""
    done = subprocess.run(
        [*HPJOBS, "sagemaker", "list-training-jobs", "--cli-input-json", "[" * 100_000],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 252, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "\nError parsing parameter '--cli-input-json': Invalid JSON: nested too deeply\n"
    )


def test_service_error_through_the_real_command() -> None:
    done = subprocess.run(
        [*HPJOBS, "sagemaker", "create-training-job", "--cli-input-json", '{"Unknown": 1}'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (254, "")
    assert done.stderr == (
        "\nAn error occurred (SerializationException) when calling the CreateTrainingJob "
        'operation: Unknown parameter in input: "Unknown", must be one of: '
        + ", ".join(shapes.operation_model("sagemaker", "CreateTrainingJob").input_shape.members)
        + "\n"
    )
