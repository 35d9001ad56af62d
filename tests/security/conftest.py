"""Fixtures of the security tests: one S3 (moto's server on loopback) per test process, with a
fresh bucket per test, and a check that a test's jobs have all ended before it returns."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(_s3_server: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """``(client, bucket)``: a boto3 S3 client on the module's server and a new empty bucket;
    every process this test starts reaches the same server."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", _s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    client = boto3.client("s3", endpoint_url=_s3_server, region_name="us-west-2")
    bucket = f"sec-{secrets.token_hex(6)}"
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return client, bucket


@pytest.fixture(autouse=True)
def _jobs_end() -> Iterator[None]:
    """Whatever a test leaves running is stopped and waited for, so nothing outlives it."""
    yield
    from helpers import wait_for

    from hpjobs.errors import ServiceError
    from hpjobs.sagemaker.training_jobs import list_training_jobs, stop_training_job

    for job in list_training_jobs({"MaxResults": 100})["TrainingJobSummaries"]:
        if job["TrainingJobStatus"] == "InProgress":
            with contextlib.suppress(ServiceError):
                stop_training_job({"TrainingJobName": job["TrainingJobName"]})
        wait_for(job["TrainingJobName"], timeout=30)
