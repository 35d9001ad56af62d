"""``--target aws`` on the Bedrock runtime commands and on ``hpjobs chat``: the same request goes
to Amazon Bedrock through boto3, and the answer is printed as the local one is.

Three ways of standing in for Bedrock: botocore's ``Stubber`` on a real boto3 client (the request
boto3 is given, and the response it returns, are checked exactly); boto3's own chain with nothing
configured (set-up errors); and the real ``hpjobs serve`` on loopback, reached through
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` by ``hpjobs`` run as a subprocess. Generations use
temperature 0 (greedy), so the text through AWS equals the text generated here.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from helpers import free_port, serving

from hpjobs.cli import cli

REPO = Path(__file__).resolve().parents[2]
JARGON = REPO / "hpjobs" / "generation" / "models" / "jargon"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "What is a hacker?"}]}]
INFERENCE = {"maxTokens": 5, "temperature": 0}
NO_CREDENTIALS = (
    "Error: no AWS credentials found: run 'aws configure', set AWS_PROFILE, or set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
)
NO_REGION = (
    "Error: no AWS region: give --region, or set AWS_REGION (or a region in your AWS profile)\n"
)
INVALID_MODEL = (
    "\nAn error occurred (ValidationException) when calling the {} operation: "
    "The provided model identifier is invalid.\n"
)
#: Environment variables through which boto3 could find credentials, a profile or a region.
AWS_CHAIN = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def converse_args(*extra: str) -> list[str]:
    return [
        "bedrock-runtime", "converse", "--model-id", MODEL,
        "--messages", json.dumps(MESSAGES), "--inference-config", json.dumps(INFERENCE), *extra,
    ]  # fmt: skip


@pytest.fixture
def bare_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """boto3's chain with nothing in it: no credentials, profile, region or config files, no
    instance metadata."""
    for name in AWS_CHAIN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent" / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent" / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


# --- botocore's Stubber on a real boto3 client ------------------------------------------------


class StubbedClients:
    """Stands in for ``cloud.aws.client``: hands out one real ``bedrock-runtime`` client wrapped
    in a ``Stubber``, and records what it was asked for."""

    def __init__(self) -> None:
        import boto3
        from botocore.stub import Stubber

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        self.client = session.client("bedrock-runtime")
        self.stubber = Stubber(self.client)
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, service: str, region: str | None = None) -> Any:
        self.asked.append((service, region))
        return self.client


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedClients]:
    import cloud.aws

    clients = StubbedClients()
    monkeypatch.setattr(cloud.aws, "client", clients)
    with clients.stubber:
        yield clients


CONVERSE_RESPONSE: dict[str, Any] = {
    "output": {"message": {"role": "assistant", "content": [{"text": "A per"}]}},
    "stopReason": "max_tokens",
    "usage": {"inputTokens": 17, "outputTokens": 5, "totalTokens": 22},
    "metrics": {"latencyMs": 312},
}
CONVERSE_REQUEST: dict[str, Any] = {
    "modelId": MODEL,
    "messages": MESSAGES,
    "inferenceConfig": INFERENCE,
}


def test_converse_sends_the_request_to_bedrock_and_prints_its_answer(
    stubbed: StubbedClients,
) -> None:
    metadata = {"RequestId": "2b5a4e6c-0000-4000-8000-000000000000", "HTTPStatusCode": 200}
    stubbed.stubber.add_response(
        "converse", {**CONVERSE_RESPONSE, "ResponseMetadata": metadata}, CONVERSE_REQUEST
    )
    result = invoke(*converse_args("--target", "aws"))
    assert result.exception is None, result.output
    assert result.exit_code == 0
    stubbed.stubber.assert_no_pending_responses()
    assert stubbed.asked == [("bedrock-runtime", None)]
    assert result.stdout == json.dumps(CONVERSE_RESPONSE, indent=4) + "\n"
    assert result.stderr == ""


def test_region_option_chooses_the_client_region(stubbed: StubbedClients) -> None:
    stubbed.stubber.add_response("converse", dict(CONVERSE_RESPONSE), CONVERSE_REQUEST)
    result = invoke(*converse_args("--target", "aws", "--region", "eu-central-1"))
    assert result.exit_code == 0, result.output
    stubbed.stubber.assert_no_pending_responses()
    assert stubbed.asked == [("bedrock-runtime", "eu-central-1")]
    assert json.loads(result.stdout) == CONVERSE_RESPONSE


def _converse_stubbed_real_clients(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Make ``cloud.aws.client`` build its real clients, each stubbed to answer one Converse;
    the list receives ``(client, stubber)`` for each client made."""
    from botocore.stub import Stubber

    import cloud.aws

    real = cloud.aws.client
    made: list[Any] = []

    def stubbed_client(service: str, region: str | None = None) -> Any:
        client = real(service, region)
        stubber = Stubber(client)
        stubber.add_response("converse", dict(CONVERSE_RESPONSE), CONVERSE_REQUEST)
        stubber.activate()
        made.append((client, stubber))
        return client

    monkeypatch.setattr(cloud.aws, "client", stubbed_client)
    return made


def test_region_option_reaches_the_boto3_client(
    bare_aws: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real ``cloud.aws.client``: --region wins over the environment's region."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    made = _converse_stubbed_real_clients(monkeypatch)
    for extra, region in ((("--region", "ap-southeast-2"), "ap-southeast-2"), ((), "us-west-2")):
        result = invoke(*converse_args("--target", "aws", *extra))
        assert result.exit_code == 0, result.output
        client, stubber = made.pop()
        stubber.assert_no_pending_responses()
        assert client.meta.region_name == region
        assert json.loads(result.stdout) == CONVERSE_RESPONSE


def test_invoke_model_writes_bedrocks_body_to_the_outfile(
    stubbed: StubbedClients, tmp_path: Path
) -> None:
    from botocore.response import StreamingBody

    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": MESSAGES}
    raw = json.dumps(body)
    answer = (
        b'{"id":"msg_bdrk_01","type":"message","role":"assistant","content":'
        b'[{"type":"text","text":"A per"}],"stop_reason":"max_tokens"}'
    )
    stubbed.stubber.add_response(
        "invoke_model",
        {"body": StreamingBody(io.BytesIO(answer), len(answer)), "contentType": "application/json"},
        {"modelId": MODEL, "body": raw.encode("utf-8")},
    )
    outfile = tmp_path / "reply.json"
    result = invoke(
        "bedrock-runtime", "invoke-model", "--target", "aws", "--model-id", MODEL,
        "--body", raw, str(outfile),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stubbed.stubber.assert_no_pending_responses()
    assert outfile.read_bytes() == answer
    assert result.stdout == json.dumps({"contentType": "application/json"}, indent=4) + "\n"


def test_invoke_model_base64_body_is_decoded_before_sending(
    stubbed: StubbedClients, tmp_path: Path
) -> None:
    import base64

    from botocore.response import StreamingBody

    raw = b'{"inputText": "hi"}'
    answer = b'{"results": []}'
    stubbed.stubber.add_response(
        "invoke_model",
        {"body": StreamingBody(io.BytesIO(answer), len(answer)), "contentType": "application/json"},
        {"modelId": "amazon.titan-text-express-v1", "body": raw},
    )
    outfile = tmp_path / "reply.json"
    result = invoke(
        "bedrock-runtime", "invoke-model", "--target", "aws",
        "--model-id", "amazon.titan-text-express-v1", "--cli-binary-format", "base64",
        "--body", base64.b64encode(raw).decode("ascii"), str(outfile),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stubbed.stubber.assert_no_pending_responses()
    assert outfile.read_bytes() == answer


def test_error_bedrock_answers_with_is_printed_as_the_aws_cli_prints_it(
    stubbed: StubbedClients,
) -> None:
    stubbed.stubber.add_client_error(
        "converse",
        service_error_code="ValidationException",
        service_message="The provided model identifier is invalid.",
        http_status_code=400,
        expected_params=CONVERSE_REQUEST,
    )
    result = invoke(*converse_args("--target", "aws"))
    stubbed.stubber.assert_no_pending_responses()
    assert result.exit_code == 254
    assert result.stdout == ""
    assert result.stderr == INVALID_MODEL.format("Converse")


def test_service_error_keeps_bedrocks_code_and_status(stubbed: StubbedClients) -> None:
    from hpjobs.bedrock.remote import invoke_bedrock
    from hpjobs.errors import ServiceError

    stubbed.stubber.add_client_error(
        "converse",
        service_error_code="ThrottlingException",
        service_message="Too many requests, please wait before trying again.",
        http_status_code=429,
    )
    with pytest.raises(ServiceError) as caught:
        invoke_bedrock("Converse", CONVERSE_REQUEST)
    error = caught.value
    assert (error.code, error.message, error.http_status) == (
        "ThrottlingException",
        "Too many requests, please wait before trying again.",
        429,
    )


class StreamingClient:
    """A client whose ConverseStream answers two deltas, then fails as Bedrock fails mid-stream
    (botocore raises ``EventStreamError`` while the stream is read)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def converse_stream(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {"ResponseMetadata": {"HTTPStatusCode": 200}, "stream": self._stream()}

    @staticmethod
    def _stream() -> Iterator[dict[str, Any]]:
        from botocore.exceptions import EventStreamError

        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockDelta": {"delta": {"text": "A per"}, "contentBlockIndex": 0}}
        yield {"contentBlockDelta": {"delta": {"text": "son"}, "contentBlockIndex": 0}}
        error = {"Error": {"Code": "ModelStreamErrorException", "Message": STREAM_FAILURE}}
        raise EventStreamError(error, "ConverseStream")


STREAM_FAILURE = "The model stopped in the middle of its answer."


@pytest.fixture
def streaming(monkeypatch: pytest.MonkeyPatch) -> StreamingClient:
    import cloud.aws

    fake = StreamingClient()
    monkeypatch.setattr(cloud.aws, "client", lambda service, region=None: fake)
    return fake


def test_error_in_the_middle_of_a_stream_is_a_service_error(streaming: StreamingClient) -> None:
    from hpjobs.bedrock.remote import invoke_bedrock
    from hpjobs.errors import ServiceError

    response = invoke_bedrock("ConverseStream", CONVERSE_REQUEST)
    assert set(response) == {"stream"}
    stream = iter(response["stream"])
    assert next(stream) == {"messageStart": {"role": "assistant"}}
    with pytest.raises(ServiceError) as caught:
        list(stream)
    assert (caught.value.code, caught.value.message) == (
        "ModelStreamErrorException",
        STREAM_FAILURE,
    )


def test_converse_stream_prints_the_events_then_the_error(streaming: StreamingClient) -> None:
    result = invoke(
        "bedrock-runtime", "converse-stream", "--target", "aws", "--model-id", MODEL,
        "--messages", json.dumps(MESSAGES), "--inference-config", json.dumps(INFERENCE),
    )  # fmt: skip
    assert streaming.requests == [CONVERSE_REQUEST]
    assert result.exit_code == 254
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "A per"}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": "son"}, "contentBlockIndex": 0}},
    ]
    assert result.stderr == (
        "\nAn error occurred (ModelStreamErrorException) when calling the ConverseStream "
        f"operation: {STREAM_FAILURE}\n"
    )


def test_chat_prints_the_text_then_the_error(streaming: StreamingClient) -> None:
    result = invoke(
        "chat", "--target", "aws", "--temperature", "0", "--max-tokens", "5", "--region",
        "us-east-1", "Hacker",
    )  # fmt: skip
    assert streaming.requests == [
        {
            "modelId": MODEL,
            "messages": [{"role": "user", "content": [{"text": "Hacker"}]}],
            "inferenceConfig": {"maxTokens": 5, "temperature": 0.0},
        }
    ]
    assert result.exit_code == 254
    assert result.stdout == "A person"
    assert result.stderr == (
        "\nAn error occurred (ModelStreamErrorException) when calling the ConverseStream "
        f"operation: {STREAM_FAILURE}\n"
    )


# --- set-up problems: one line, exit 253 ------------------------------------------------------

_SETUP_COMMANDS: dict[str, list[str]] = {
    "converse": converse_args(),
    "converse-stream": [
        "bedrock-runtime", "converse-stream", "--model-id", MODEL,
        "--messages", json.dumps(MESSAGES),
    ],
    "invoke-model": [
        "bedrock-runtime", "invoke-model", "--model-id", MODEL, "--body", "{}", "out.json",
    ],
    "chat": ["chat", "--max-tokens", "5", "Hacker"],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(_SETUP_COMMANDS))
def test_missing_credentials_is_one_line(
    command: str, bare_aws: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bare_aws.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bare_aws.chdir(tmp_path)
    result = invoke(*_SETUP_COMMANDS[command], "--target", "aws")
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 253
    assert result.stderr == NO_CREDENTIALS
    assert result.stdout == ""
    assert not (tmp_path / "out.json").exists()


def test_missing_credentials_as_a_real_command(bare_aws: pytest.MonkeyPatch) -> None:
    bare_aws.setenv("AWS_DEFAULT_REGION", "us-east-1")
    result = subprocess.run(
        [sys.executable, "-m", "hpjobs", *converse_args("--target", "aws")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 253
    assert result.stderr == NO_CREDENTIALS
    assert result.stdout == ""


@pytest.mark.parametrize("command", sorted(_SETUP_COMMANDS))
def test_missing_region_is_one_line(
    command: str, bare_aws: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bare_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    bare_aws.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bare_aws.chdir(tmp_path)
    result = invoke(*_SETUP_COMMANDS[command], "--target", "aws")
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 253
    assert result.stderr == NO_REGION
    assert result.stdout == ""


def test_aws_region_variable_gives_the_region(bare_aws: pytest.MonkeyPatch) -> None:
    """``cloud.aws.resolve_region`` (as ``client`` uses it) honours AWS_REGION, as its message
    promises (botocore alone reads only AWS_DEFAULT_REGION); AWS_REGION wins over
    AWS_DEFAULT_REGION, as in the AWS CLI v2, and --region over both."""
    from cloud.aws import resolve_region

    bare_aws.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert resolve_region(None) == "us-west-2"
    bare_aws.setenv("AWS_REGION", "eu-west-3")
    assert resolve_region(None) == "eu-west-3"
    assert resolve_region("ap-south-1") == "ap-south-1"


def test_converse_with_only_aws_region_set_reaches_bedrock(
    bare_aws: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    bare_aws.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bare_aws.setenv("AWS_REGION", "eu-west-3")
    made = _converse_stubbed_real_clients(monkeypatch)
    result = invoke(*converse_args("--target", "aws"))
    assert result.stderr == ""
    assert result.exit_code == 0
    assert [client.meta.region_name for client, _ in made] == ["eu-west-3"]
    assert json.loads(result.stdout) == CONVERSE_RESPONSE


def test_unreachable_endpoint_is_one_line(bare_aws: pytest.MonkeyPatch) -> None:
    port = free_port()  # nothing listens on it once it is closed
    bare_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    bare_aws.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bare_aws.setenv("AWS_MAX_ATTEMPTS", "1")
    bare_aws.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")
    result = invoke(*converse_args("--target", "aws", "--region", "us-east-1"))
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 253
    url = f"http://127.0.0.1:{port}/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    assert (
        result.stderr
        == f'Error: could not connect to AWS: Could not connect to the endpoint URL: "{url}"\n'
    )


# --- --target local never touches boto3 -------------------------------------------------------


def _require_jargon() -> None:
    if not ((JARGON / "model.pt").is_file() and (JARGON / "config.json").is_file()):
        pytest.skip(f"the shipped jargon model is not in {JARGON}")


@pytest.mark.parametrize("target", [(), ("--target", "local")], ids=["default", "local"])
def test_local_target_needs_no_aws(target: tuple[str, ...], bare_aws: pytest.MonkeyPatch) -> None:
    import boto3

    import cloud.aws
    import hpjobs.bedrock.remote

    _require_jargon()

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("--target local reached boto3")

    bare_aws.setattr(cloud.aws, "client", forbidden)
    bare_aws.setattr(hpjobs.bedrock.remote, "invoke_bedrock", forbidden)
    bare_aws.setattr(boto3.session, "Session", forbidden)
    result = invoke(*converse_args(*target))
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    reply = json.loads(result.stdout)
    assert set(reply) == {"output", "stopReason", "usage", "metrics"}
    assert reply["usage"]["outputTokens"] <= 5


def test_local_target_ignores_the_region_option(bare_aws: pytest.MonkeyPatch) -> None:
    _require_jargon()
    result = invoke(*converse_args("--target", "local", "--region", "nowhere-1"))
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == {"output", "stopReason", "usage", "metrics"}


# --- the real ``hpjobs serve`` as Bedrock's endpoint ------------------------------------------


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of one ``hpjobs serve`` (own HPJOBS_HOME, loopback, free port) for the module;
    stopped with SIGTERM at the end, as the server tests stop theirs."""
    _require_jargon()
    folder = tmp_path_factory.mktemp("bedrock-endpoint")
    env = {
        **os.environ,
        "HPJOBS_HOME": str(folder / "hpjobs-home"),
        "HPJOBS_DATABASE_URL": "",
        "HPJOBS_STOP_GRACE_SECONDS": "2",
        "AWS_REGION": "us-west-2",
    }
    with serving(folder, env) as url:
        yield url


def hpjobs(
    *args: str, env: Mapping[str, str] | None = None, folder: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpjobs", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder or REPO,
        env=dict(env) if env is not None else None,
    )


@pytest.fixture
def aws_env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a command whose boto3 finds Bedrock at ``endpoint``, with dummy
    credentials and a region from the environment only."""
    env = {k: v for k, v in os.environ.items() if k not in AWS_CHAIN}
    env.update(
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-west-2",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "absent" / "credentials"),
        AWS_CONFIG_FILE=str(tmp_path / "absent" / "config"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )
    return env


def test_chat_through_aws_streams_the_local_text(aws_env: dict[str, str]) -> None:
    args = ("chat", "--temperature", "0", "--max-tokens", "40", "Hacker")
    local = hpjobs(*args, env=aws_env)
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip()
    remote = hpjobs(*args, "--target", "aws", env=aws_env)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert remote.stderr == ""


def test_chat_through_aws_reports_bedrocks_error(aws_env: dict[str, str]) -> None:
    args = ("chat", "--model-id", "acme.nothing-v1:0", "--max-tokens", "5", "Hacker")
    remote = hpjobs(*args, "--target", "aws", env=aws_env)
    assert remote.returncode == 254
    assert remote.stdout == ""
    assert remote.stderr == INVALID_MODEL.format("ConverseStream")
    local = hpjobs(*args, env=aws_env)
    assert (local.returncode, local.stderr) == (254, remote.stderr)


def _events(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_converse_stream_through_aws_prints_the_local_events(aws_env: dict[str, str]) -> None:
    args = (
        "bedrock-runtime", "converse-stream", "--model-id", MODEL,
        "--messages", json.dumps(MESSAGES),
        "--inference-config", json.dumps({"temperature": 0, "maxTokens": 16}),
    )  # fmt: skip
    local = _events(hpjobs(*args, env=aws_env))
    remote = _events(hpjobs(*args, "--target", "aws", env=aws_env))

    def text(events: list[dict[str, Any]]) -> str:
        deltas = [
            e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
        ]
        return "".join(deltas)

    assert text(local)
    assert text(remote) == text(local)
    assert [next(iter(e)) for e in remote] == [next(iter(e)) for e in local]
    # everything but the measured latency is the same
    for events in (local, remote):
        events[-1]["metadata"].pop("metrics")
    assert remote == local
