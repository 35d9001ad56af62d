"""How the real ``hpjobs serve`` behaves as a server: concurrency (a generation does not block
SageMaker calls), the request body limit, the listening address, SigV4 checking with
``HPJOBS_ACCESS_KEYS``, and jobs outliving the server."""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
from botocore.exceptions import ClientError
from helpers import training_request, wait_for

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
UNKNOWN_KEY = "The security token included in the request is invalid."


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def listening(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs process ``pid`` listens on."""
    connections = psutil.Process(pid).net_connections(kind="inet")
    return {(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN}


# ------------------------------------------------------------------------------------------------
# Concurrency
# ------------------------------------------------------------------------------------------------


def test_generation_does_not_block_describe(
    jargon: Path, start_server: Any, make_client: Any, output: Path
) -> None:
    server = start_server()
    sagemaker = make_client("sagemaker", server.url)
    sagemaker.create_training_job(**training_request("busy-describe", output))
    runtime = make_client("bedrock-runtime", server.url, read_timeout=120)
    runtime.converse(  # load the model before measuring
        modelId=CLAUDE,
        messages=[{"role": "user", "content": [{"text": "Hi"}]}],
        inferenceConfig={"maxTokens": 1},
    )

    spans: list[tuple[float, float, int]] = []
    errors: list[BaseException] = []
    deadline = time.monotonic() + 3.0

    def generate(seed: int) -> None:
        try:
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = runtime.converse(
                    modelId=CLAUDE,
                    messages=[{"role": "user", "content": [{"text": "Tell me about hackers."}]}],
                    inferenceConfig={"maxTokens": 200, "temperature": 1.0},
                    additionalModelRequestFields={"seed": seed},
                )
                spans.append((started, time.monotonic(), response["usage"]["outputTokens"]))
                seed += 10
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=generate, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    calls: list[tuple[float, float]] = []
    while any(thread.is_alive() for thread in threads):
        began = time.monotonic()
        job = sagemaker.describe_training_job(TrainingJobName="busy-describe")
        calls.append((began, time.monotonic()))
        assert job["TrainingJobName"] == "busy-describe"
        began = time.monotonic()
        listed = sagemaker.list_training_jobs()
        calls.append((began, time.monotonic()))
        assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == ["busy-describe"]
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    assert errors == []
    longest = max(end - start for start, end, _ in spans)
    during = [
        end - start
        for start, end in calls
        if any(begun < start and end < ended for begun, ended, _ in spans)
    ]
    assert len(during) >= 10, (calls, spans)
    # no call waits for a generation: each takes a small part of the longest generation's time
    assert statistics.median(during) < min(0.25, longest / 3), (longest, during)
    assert max(during) < 0.8, during


# ------------------------------------------------------------------------------------------------
# Body limit
# ------------------------------------------------------------------------------------------------


def _post(
    url: str, path: str, headers: dict[str, str], body: bytes | list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        if isinstance(body, list):
            connection.request("POST", path, body=iter(body), headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_bodies_above_the_limit_are_refused(start_server: Any, make_client: Any) -> None:
    server = start_server("--max-body-bytes", "1000")
    limit_text = (
        "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must "
        "have length less than or equal to 1000"
    )
    runtime = make_client("bedrock-runtime", server.url)
    with pytest.raises(runtime.exceptions.ValidationException) as converse:
        runtime.converse(
            modelId=CLAUDE, messages=[{"role": "user", "content": [{"text": "x" * 2000}]}]
        )
    assert error_of(converse) == ("ValidationException", limit_text, 400)
    headers = converse.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "ValidationException" + CORAL

    sagemaker = make_client("sagemaker", server.url)
    with pytest.raises(ClientError) as listed:
        sagemaker.list_training_jobs(NameContains="x" * 1000)
    assert error_of(listed) == ("ValidationException", limit_text, 400)

    # a chunked body has no Content-Length: it is refused once it grows past the limit
    status, response_headers, body = _post(
        server.url,
        "/",
        {
            "X-Amz-Target": "SageMaker.ListTrainingJobs",
            "Content-Type": "application/x-amz-json-1.1",
        },
        [b'{"NameContains": "', b"y" * 600, b"y" * 600, b'"}'],
    )
    assert status == 400
    assert json.loads(body) == {"__type": "ValidationException", "message": limit_text}

    assert response_headers["content-type"] == "application/x-amz-json-1.1"

    # below the limit, requests go through (and the connection is still usable)
    status, _, body = _post(
        server.url,
        "/",
        {
            "X-Amz-Target": "SageMaker.ListTrainingJobs",
            "Content-Type": "application/x-amz-json-1.1",
        },
        [b'{"NameContains": "', b"y" * 60, b'"}'],
    )
    assert (status, json.loads(body)) == (200, {"TrainingJobSummaries": []})
    assert sagemaker.list_training_jobs(NameContains="x" * 63)["TrainingJobSummaries"] == []


# ------------------------------------------------------------------------------------------------
# Listening address
# ------------------------------------------------------------------------------------------------


def test_binds_loopback_by_default(start_server: Any) -> None:
    server = start_server()
    assert listening(server.process.pid) == {("127.0.0.1", server.port)}
    assert "Warning" not in server.output()


def test_warns_when_listening_beyond_the_machine(start_server: Any) -> None:
    server = start_server(host="0.0.0.0")
    assert listening(server.process.pid) == {("0.0.0.0", server.port)}
    assert "Warning: listening on 0.0.0.0, beyond this machine." in server.output()


# ------------------------------------------------------------------------------------------------
# SigV4
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def signed_server(start_server: Any) -> Any:
    return start_server(env={"HPJOBS_ACCESS_KEYS": "AKIDOTHER:other, AKIDTEST:secret"})


def test_sigv4_with_the_right_key(signed_server: Any, make_client: Any) -> None:
    url = signed_server.url
    sagemaker = make_client("sagemaker", url, key="AKIDTEST", secret="secret")
    assert sagemaker.list_training_jobs(MaxResults=5)["TrainingJobSummaries"] == []
    other = make_client("sagemaker", url, key="AKIDOTHER", secret="other")
    assert other.list_training_jobs()["TrainingJobSummaries"] == []

    control = make_client("bedrock", url, key="AKIDTEST", secret="secret")
    details = control.get_foundation_model(modelIdentifier=CLAUDE)["modelDetails"]
    assert details["modelId"] == CLAUDE
    arn = f"arn:aws:bedrock:us-west-2::foundation-model/{CLAUDE}"
    assert control.get_foundation_model(modelIdentifier=arn)["modelDetails"]["modelArn"] == arn
    by_provider = control.list_foundation_models(byProvider="Mistral AI")["modelSummaries"]
    assert by_provider  # a query string with a space, signed and checked
    assert {m["providerName"] for m in by_provider} == {"Mistral AI"}

    # the signature is accepted, so the request reaches the runtime's own checks
    runtime = make_client("bedrock-runtime", url, key="AKIDTEST", secret="secret")
    with pytest.raises(runtime.exceptions.ValidationException) as unknown:
        runtime.converse(
            modelId="anthropic.claude-0-v1:0",
            messages=[{"role": "user", "content": [{"text": "Hi"}]}],
        )
    assert error_of(unknown) == (
        "ValidationException",
        "The provided model identifier is invalid.",
        400,
    )


@pytest.mark.parametrize(
    ("key", "secret", "code", "message"),
    [
        ("AKIDTEST", "wrong", "InvalidSignatureException", BAD_SIGNATURE),
        ("AKIDNOBODY", "secret", "UnrecognizedClientException", UNKNOWN_KEY),
    ],
    ids=["wrong-secret", "unknown-key"],
)
def test_sigv4_refusals(
    signed_server: Any, make_client: Any, key: str, secret: str, code: str, message: str
) -> None:
    url = signed_server.url
    sagemaker = make_client("sagemaker", url, key=key, secret=secret)
    with pytest.raises(ClientError) as listed:
        sagemaker.list_training_jobs()
    assert error_of(listed) == (code, message, 403)

    control = make_client("bedrock", url, key=key, secret=secret)
    with pytest.raises(ClientError) as get:
        control.get_foundation_model(modelIdentifier=CLAUDE)
    assert error_of(get) == (code, message, 403)
    headers = get.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == code + CORAL

    runtime = make_client("bedrock-runtime", url, key=key, secret=secret)
    with pytest.raises(ClientError) as converse:
        runtime.converse(modelId=CLAUDE, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert error_of(converse) == (code, message, 403)


def test_sigv4_generation_with_the_right_key(
    jargon: Path, signed_server: Any, make_client: Any
) -> None:
    runtime = make_client("bedrock-runtime", signed_server.url, key="AKIDTEST", secret="secret")
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    response = runtime.converse(modelId=CLAUDE, messages=messages, inferenceConfig={"maxTokens": 3})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert 1 <= response["usage"]["outputTokens"] <= 3
    streamed = runtime.converse_stream(
        modelId="us." + CLAUDE, messages=messages, inferenceConfig={"maxTokens": 3}
    )
    assert [next(iter(event)) for event in streamed["stream"]][-1] == "metadata"


def test_sigv4_covers_the_body(signed_server: Any, make_client: Any) -> None:
    sagemaker = make_client("sagemaker", signed_server.url, key="AKIDTEST", secret="secret")

    def tamper(request: Any, **_: Any) -> None:
        request.body = b'{"MaxResults": 7}'
        request.headers["Content-Length"] = str(len(request.body))

    sagemaker.meta.events.register("before-send.sagemaker.ListTrainingJobs", tamper)
    with pytest.raises(ClientError) as caught:
        sagemaker.list_training_jobs(MaxResults=5)
    assert error_of(caught) == ("InvalidSignatureException", BAD_SIGNATURE, 403)


def test_sigv4_refuses_unsigned_requests(signed_server: Any) -> None:
    status, _, body = _post(
        signed_server.url,
        "/",
        {
            "X-Amz-Target": "SageMaker.ListTrainingJobs",
            "Content-Type": "application/x-amz-json-1.1",
        },
        b"{}",
    )
    assert status == 403
    assert json.loads(body) == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }


# ------------------------------------------------------------------------------------------------
# Jobs outlive the server
# ------------------------------------------------------------------------------------------------


def test_training_job_survives_sigterm_of_the_server(
    start_server: Any, make_client: Any, output: Path
) -> None:
    server = start_server()
    sagemaker = make_client("sagemaker", server.url)
    request = training_request("outlives", output)
    request["HyperParameters"].update({"behaviour": '"sleep"', "seconds": "3"})
    sagemaker.create_training_job(**request)
    wait_for("outlives", lambda d: d["SecondaryStatus"] == "Training", timeout=30)

    code = server.stop()
    assert code in (0, -signal.SIGTERM)
    assert not psutil.pid_exists(server.process.pid)
    during = wait_for("outlives", lambda d: True)
    assert during["TrainingJobStatus"] == "InProgress"

    done = wait_for("outlives", timeout=60)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert "FailureReason" not in done
    assert (output / "outlives" / "output" / "model.tar.gz").is_file()


def test_training_job_survives_ctrl_c_on_the_server_terminal(
    start_server: Any, make_client: Any, output: Path
) -> None:
    """Ctrl-C in a terminal sends SIGINT to the server's whole process group."""
    server = start_server(new_session=True)
    sagemaker = make_client("sagemaker", server.url)
    request = training_request("outlives-int", output)
    request["HyperParameters"].update({"behaviour": '"sleep"', "seconds": "3"})
    sagemaker.create_training_job(**request)
    wait_for("outlives-int", lambda d: d["SecondaryStatus"] == "Training", timeout=30)

    os.killpg(server.process.pid, signal.SIGINT)
    assert server.process.wait(timeout=20) in (0, -signal.SIGINT)
    done = wait_for("outlives-int", timeout=60)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")


def test_sigv4_refuses_a_signature_from_the_past(signed_server: Any) -> None:
    from datetime import datetime, timedelta, timezone

    stamp = (datetime.now(timezone.utc) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    authorization = (
        f"AWS4-HMAC-SHA256 Credential=AKIDTEST/{stamp[:8]}/us-west-2/sagemaker/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    )
    headers = {
        "X-Amz-Target": "SageMaker.ListTrainingJobs",
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Date": stamp,
        "Authorization": authorization,
    }
    status, _, body = _post(signed_server.url, "/", headers, b"{}")
    assert status == 403
    reply = json.loads(body)
    assert reply["__type"] == "InvalidSignatureException"
    assert reply["message"].startswith(f"Signature expired: {stamp} is now earlier than ")
