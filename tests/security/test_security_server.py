"""What ``hpjobs serve`` exposes: it listens on loopback unless ``--host`` says otherwise (and
warns beyond it), and refuses request bodies above its limit (the default, and a chunked body
with no length) with an AWS-coded error on both protocols, recording nothing."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import free_port

from hpjobs.bedrock.customization import list_model_customization_jobs
from hpjobs.sagemaker.training_jobs import list_training_jobs
from hpjobs.server import DEFAULT_MAX_BODY

CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def _limit_text(limit: int) -> str:
    return (
        "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must "
        f"have length less than or equal to {limit}"
    )


class _Serve:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.process, self.log, self.port = process, log, port

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def listening(self) -> set[tuple[str, int]]:
        connections = psutil.Process(self.process.pid).net_connections(kind="inet")
        return {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}


@contextlib.contextmanager
def _serve(folder: Path, *args: str, connect: str = "127.0.0.1") -> Iterator[_Serve]:
    """``hpjobs serve --port <free> ARGS`` until it accepts connections on ``connect``; at the
    end SIGTERM, and a clean exit is asserted."""
    port = free_port()
    log = folder / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hpjobs", "serve", "--port", str(port), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    server = _Serve(process, log, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, server.output()
            with contextlib.suppress(OSError), socket.create_connection((connect, port), 0.5):
                break
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise
    assert code in (0, -signal.SIGTERM), server.output()


def _post(
    port: int, path: str, headers: dict[str, str], body: bytes | list[bytes] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """POST to the server; with ``body`` None, only the headers are sent (the server must answer
    from a declared ``Content-Length`` alone); a list is sent chunked, with no length."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if body is None:
            connection.putrequest("POST", path, skip_accept_encoding=True)
            for key, value in headers.items():
                connection.putheader(key, value)
            connection.endheaders()
        elif isinstance(body, list):
            connection.request("POST", path, body=iter(body), headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


SAGEMAKER = {
    "X-Amz-Target": "SageMaker.CreateTrainingJob",
    "Content-Type": "application/x-amz-json-1.1",
}
BEDROCK = {"Content-Type": "application/json"}


def test_bodies_over_the_default_limit_are_refused_on_both_protocols_and_record_nothing(
    tmp_path: Path,
) -> None:
    too_long = str(DEFAULT_MAX_BODY + 1)
    with _serve(tmp_path) as server:
        status, headers, body = _post(server.port, "/", {**SAGEMAKER, "Content-Length": too_long})
        assert status == 400
        assert headers["content-type"] == "application/x-amz-json-1.1"
        assert json.loads(body) == {
            "__type": "ValidationException",
            "message": _limit_text(DEFAULT_MAX_BODY),
        }
        status, headers, body = _post(
            server.port, "/model-customization-jobs", {**BEDROCK, "Content-Length": too_long}
        )
        assert status == 400
        assert headers["x-amzn-errortype"] == "ValidationException" + CORAL
        assert json.loads(body) == {"message": _limit_text(DEFAULT_MAX_BODY)}
    assert list_training_jobs({})["TrainingJobSummaries"] == []
    assert list_model_customization_jobs({})["modelCustomizationJobSummaries"] == []
    assert "Traceback" not in server.output()


def test_a_chunked_bedrock_body_over_the_limit_is_refused_and_records_nothing(
    tmp_path: Path,
) -> None:
    request = {
        "jobName": "too-big",
        "customModelName": "too-big",
        "roleArn": "arn:aws:iam::123456789012:role/bedrock",
        "baseModelIdentifier": "amazon.titan-text-lite-v1:0:4k",
        "trainingDataConfig": {"s3Uri": "s3://bucket/train.jsonl"},
        "outputDataConfig": {"s3Uri": "s3://bucket/out"},
        "hyperParameters": {"epochCount": "1"},
        "customModelTags": [{"key": "padding", "value": "x" * 900}],
    }
    encoded = json.dumps(request).encode()
    assert len(encoded) > 1000
    with _serve(tmp_path, "--max-body-bytes", "1000") as server:
        pieces = [encoded[i : i + 300] for i in range(0, len(encoded), 300)]
        status, headers, body = _post(server.port, "/model-customization-jobs", BEDROCK, pieces)
        assert status == 400
        assert headers["x-amzn-errortype"] == "ValidationException" + CORAL
        assert json.loads(body) == {"message": _limit_text(1000)}
    assert list_model_customization_jobs({})["modelCustomizationJobSummaries"] == []


@pytest.mark.parametrize(
    ("host", "connect", "address"),
    [("localhost", "127.0.0.1", "127.0.0.1"), ("::1", "::1", "::1")],
)
def test_loopback_names_listen_on_loopback_only_without_a_warning(
    tmp_path: Path, host: str, connect: str, address: str
) -> None:
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("this machine has no IPv6")
    with _serve(tmp_path, "--host", host, connect=connect) as server:
        assert server.listening() == {(address, server.port)}
        output = server.output()
    assert "Warning" not in output


def test_a_wildcard_ipv6_host_listens_beyond_loopback_and_says_so(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("this machine has no IPv6")
    with _serve(tmp_path, "--host", "::", connect="::1") as server:
        assert server.listening() == {("::", server.port)}
    assert "Warning: listening on ::, beyond this machine." in server.output()
