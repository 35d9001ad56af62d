"""The HTTP face under valid and broken requests for every operation, against one real
``hpjobs serve``: never a 500, and every error in the protocol's AWS shape (``__type`` in a JSON
1.1 body for SageMaker, the ``x-amzn-ErrorType`` header for Bedrock)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.exceptions import ClientError
from fuzz.shaped import FUZZ, OPERATIONS, check_response, junk, request
from helpers import serving
from hypothesis import given, settings
from hypothesis import strategies as st

from hpjobs import shapes
from hpjobs.api import snake_case

REGION = "us-west-2"
JSON_11 = "application/x-amz-json-1.1"
SAGEMAKER = [op for service, op in OPERATIONS if service == "sagemaker"]
REST = [(service, op) for service, op in OPERATIONS if service != "sagemaker"]
#: Labels of REST paths, filled with a value each route accepts.
LABELS = {
    "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
    "modelIdentifier": "amazon.titan-text-lite-v1",
    "jobIdentifier": "no-such-job",
}
#: Bodies no JSON reader takes as a request object.
RAW_BODIES = [
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"1e999",
    b"\xff\xfe\x00",
    b'{"TrainingJobName": NaN}',
    b"\x00" * 64,
]
#: JSON nested deeper than Python's json module reads.
DEEP = [b"[" * 100_000, b'{"a":' * 100_000]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``hpjobs serve`` for the module, with a store of its own; the jobs it accepted are
    stopped at the end."""
    folder = tmp_path_factory.mktemp("fuzz-serve")
    env = {
        **os.environ,
        "HPJOBS_HOME": str(folder / "home"),
        "AWS_REGION": REGION,
        "HPJOBS_STOP_GRACE_SECONDS": "2",
    }
    env.pop("HPJOBS_DATABASE_URL", None)
    env.pop("HPJOBS_ACCESS_KEYS", None)
    with serving(folder, env) as url:
        try:
            yield url
        finally:
            _settle(url)


def _settle(url: str) -> None:
    """Stop the training jobs the server accepted and wait for them to end."""
    client = boto3_client("sagemaker", url)
    for job in client.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]:
        name = job["TrainingJobName"]
        with contextlib.suppress(ClientError):
            client.stop_training_job(TrainingJobName=name)
        deadline = time.monotonic() + 60
        while client.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in (
            "InProgress",
            "Stopping",
        ):
            assert time.monotonic() < deadline, f"{name} did not end"
            time.sleep(0.1)


def boto3_client(service: str, url: str, validate: bool = True) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}, parameter_validation=validate, read_timeout=120),
    )


def post(url: str, path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> Any:
    """One raw HTTP request: (status, headers with lower-case names, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(type(value))


def check_json_11(status: int, headers: dict[str, str], body: bytes) -> None:
    """A SageMaker answer: 200 with a JSON object, or 4xx with ``__type`` and ``message``."""
    assert status != 500 and status < 500, body[:2000]
    decoded = json.loads(body)
    assert isinstance(decoded, dict), body[:2000]
    if status == 200:
        return
    assert 400 <= status < 500, (status, body[:2000])
    assert set(decoded) == {"__type", "message"}, decoded
    assert decoded["__type"] and isinstance(decoded["message"], str), decoded


def check_rest_error(status: int, headers: dict[str, str], body: bytes) -> None:
    """A Bedrock error: 4xx, the code in ``x-amzn-ErrorType``, ``{"message": ...}``."""
    assert 400 <= status < 500, (status, body[:2000])
    code = headers.get("x-amzn-errortype", "").split(":", 1)[0]
    assert code and code[0].isupper(), headers
    assert set(json.loads(body)) == {"message"}, body[:2000]


# ------------------------------------------------------------------------------------------------
# SageMaker: JSON 1.1
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAGEMAKER)
def test_sagemaker_requests_get_json_11_answers(server: str, name: str) -> None:
    @settings(FUZZ, max_examples=12)
    @given(request("sagemaker", name))
    def answers(given_request: Any) -> None:
        body = json.dumps(given_request, default=_json_default).encode()
        headers = {
            "X-Amz-Target": f"SageMaker.{name}",
            "Content-Type": "application/x-amz-json-1.1",
        }
        check_json_11(*post(server, "/", body, headers))

    answers()


@settings(FUZZ, max_examples=40)
@given(st.sampled_from(SAGEMAKER), st.sampled_from(RAW_BODIES) | st.binary(max_size=64))
def test_sagemaker_unreadable_bodies_get_serialization_errors(
    server: str, name: str, body: bytes
) -> None:
    headers = {"X-Amz-Target": f"SageMaker.{name}", "Content-Type": JSON_11}
    status, answer_headers, answer = post(server, "/", body, headers)
    check_json_11(status, answer_headers, answer)


@pytest.mark.parametrize("body", DEEP, ids=["arrays", "objects"])
def test_sagemaker_nested_too_deep_is_a_serialization_error(server: str, body: bytes) -> None:
    headers = {"X-Amz-Target": "SageMaker.ListTrainingJobs"}
    status, _, answer = post(server, "/", body, headers)
    assert (status, json.loads(answer)) == (
        400,
        {"__type": "SerializationException", "message": "The request body is not valid JSON."},
    )


# ------------------------------------------------------------------------------------------------
# Bedrock: REST-JSON, through botocore's own serializer
# ------------------------------------------------------------------------------------------------


class _Sent:
    """Whether botocore got as far as sending a request (a hook on ``before-send``)."""

    def __init__(self) -> None:
        self.sent = False

    def __call__(self, **_: Any) -> None:
        self.sent = True


@pytest.mark.parametrize(("service", "name"), REST, ids=[op for _, op in REST])
def test_bedrock_requests_get_rest_answers(server: str, service: str, name: str) -> None:
    client = boto3_client(service, server, validate=False)
    sent = _Sent()
    client.meta.events.register("before-send", sent)
    outcomes: dict[str, int] = {}

    @settings(FUZZ, max_examples=10)
    @given(request(service, name))
    def answers(given_request: Any) -> None:
        if not (isinstance(given_request, dict) and all(isinstance(k, str) for k in given_request)):
            return  # not keyword arguments: the raw-body test below sends such bodies
        sent.sent = False
        try:
            response = getattr(client, snake_case(name))(**given_request)
            for member in ("stream", "body"):
                value = response.get(member)
                if value is not None:
                    list(value) if not hasattr(value, "read") else value.read()
        except ClientError as error:
            status = error.response["ResponseMetadata"].get("HTTPStatusCode", 400)
            code = error.response["Error"]["Code"]
            assert status < 500 and "Internal" not in code, error.response
            outcomes[code] = outcomes.get(code, 0) + 1
            return
        except Exception:
            if sent.sent:
                raise  # botocore could not read what the server sent
            outcomes["not sent"] = outcomes.get("not sent", 0) + 1
            return  # botocore refused to serialize it: nothing reached the server
        check_response(service, name, response)
        outcomes["ok"] = outcomes.get("ok", 0) + 1

    answers()
    assert set(outcomes) - {"not sent"}, f"no request of {name} reached the server: {outcomes}"


def _path(service: str, name: str) -> tuple[str, str]:
    http = shapes.operation_model(service, name).http
    path = http["requestUri"].split("?", 1)[0]
    for label, value in LABELS.items():
        path = path.replace("{" + label + "}", quote(value, safe="")).replace(
            "{" + label + "+}", quote(value, safe="")
        )
    return http["method"], path


REST_WITH_BODY = [
    (service, name)
    for service, name in REST
    if shapes.operation_model(service, name).http["method"] in ("POST", "PUT", "PATCH")
]


@settings(FUZZ, max_examples=40)
@given(
    st.sampled_from(REST_WITH_BODY),
    st.one_of(
        st.sampled_from(RAW_BODIES + DEEP),
        st.binary(max_size=64),
        junk().map(lambda v: json.dumps(v).encode()),
    ),
)
def test_bedrock_unreadable_bodies_get_rest_errors(
    server: str, route: tuple[str, str], body: bytes
) -> None:
    method, path = _path(*route)
    status, headers, answer = post(server, path, body, {"Content-Type": "application/json"}, method)
    if status == 200:
        assert route[1].startswith("InvokeModel"), answer[:500]  # a blob body may be a request
        return
    check_rest_error(status, headers, answer)


def test_bedrock_nested_too_deep_is_a_serialization_error(server: str) -> None:
    method, path = _path("bedrock-runtime", "Converse")
    status, headers, answer = post(server, path, b"[" * 100_000, {}, method)
    assert status == 400
    assert headers["x-amzn-errortype"].startswith("SerializationException:")
    assert json.loads(answer) == {"message": "The request body is not valid JSON."}


def test_invoke_model_nested_too_deep_is_malformed_input(server: str) -> None:
    method, path = _path("bedrock-runtime", "InvokeModel")
    status, headers, answer = post(server, path, b"[" * 100_000, {}, method)
    assert status == 400
    assert headers["x-amzn-errortype"].startswith("ValidationException:")
    assert json.loads(answer) == {
        "message": "Malformed input request: #: the request body is not valid JSON, please "
        "reformat your input and try again."
    }
