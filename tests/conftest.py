"""Shared fixtures: an isolated HPJOBS_HOME per test, request builders, and waiting for jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own HPJOBS_HOME (and so its own SQLite store and job folders). The
    stores it opened are closed after it, so a test process does not pile up open files."""
    from hpjobs.store import close_stores

    home = tmp_path / "hpjobs-home"
    monkeypatch.setenv("HPJOBS_HOME", str(home))
    monkeypatch.delenv("HPJOBS_DATABASE_URL", raising=False)
    monkeypatch.setenv("HPJOBS_STOP_GRACE_SECONDS", "2")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    yield home
    close_stores()


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "output"
    folder.mkdir()
    return folder


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real S3 API (moto's server on loopback) that boto3 in every process reaches."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2")
    try:
        yield client
    finally:
        server.stop()
