"""Fixtures for the HTTP endpoint: the real ``hpjobs serve`` in a subprocess, and boto3 clients
pointed at it.

Each server runs with the test's environment (its HPJOBS_HOME, HPJOBS_STOP_GRACE_SECONDS=2 and
whatever else the test set before starting it), on a free loopback port. At the end of the test
the server is sent SIGTERM and must exit; training and tuning jobs it started (which outlive it by
design) are then stopped and waited for, so no process outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REGION = "us-west-2"
#: The folder of the model every well-known Bedrock model id answers with by default.
JARGON = Path(__file__).resolve().parents[2] / "hpjobs" / "generation" / "models" / "jargon"
STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One ``hpjobs serve`` process."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr together)."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then wait for the exit; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(
                f"hpjobs serve did not exit within {timeout} s of SIGTERM:\n{self.output()}"
            ) from None


def _wait_until_listening(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if server.process.poll() is not None:
            raise AssertionError(
                f"hpjobs serve exited with {server.process.returncode}:\n{server.output()}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5),
        ):
            return
        if time.monotonic() > deadline:
            server.process.kill()
            raise AssertionError(f"hpjobs serve did not listen in time:\n{server.output()}")
        time.sleep(0.05)


def launch(
    folder: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    host: str | None = None,
    new_session: bool = False,
) -> Server:
    """Start ``hpjobs serve`` (working folder and log in ``folder``) and wait until it listens;
    ``new_session`` puts it in a process group of its own, as a terminal would."""
    port = free_port()
    environment = {**os.environ, "HPJOBS_STOP_GRACE_SECONDS": "2", **(env or {})}
    log = folder / f"serve-{port}.log"
    command = [sys.executable, "-m", "hpjobs", "serve", "--port", str(port)]
    if host is not None:
        command += ["--host", host]
    command += list(args)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=new_session,
        )
    server = Server(process, host or "127.0.0.1", port, log, environment)
    _wait_until_listening(server)
    return server


def check_stopped(server: Server) -> None:
    """Stop ``server`` and check that it shut down cleanly."""
    code = server.stop()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert code in (0, -signal.SIGTERM, -signal.SIGINT), (
        f"hpjobs serve exited with {code}:\n{server.output()}"
    )
    assert "Finished server process" in server.output(), server.output()


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(home: Path, tmp_path: Path) -> Iterator[StartServer]:
    """``start_server(*args, env={...}, host=..., new_session=...)``: a running ``hpjobs serve``
    with the test's environment, stopped (and checked to have exited cleanly) when the test ends;
    then the jobs it started are stopped and waited for."""
    servers: list[Server] = []

    def start(
        *args: str,
        env: Mapping[str, str] | None = None,
        host: str | None = None,
        new_session: bool = False,
    ) -> Server:
        server = launch(tmp_path, *args, env=env, host=host, new_session=new_session)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        _settle_jobs()
    for server in servers:
        check_stopped(server)


def _settle_jobs() -> None:
    """Stop whatever tuning and training jobs are still running in this HPJOBS_HOME and wait for
    them to end, through the Python API (the same store the server used)."""
    from hpjobs.errors import ServiceError
    from hpjobs.sagemaker.training_jobs import (
        describe_training_job,
        list_training_jobs,
        stop_training_job,
    )
    from hpjobs.sagemaker.tuning_jobs import (
        describe_hyper_parameter_tuning_job,
        list_hyper_parameter_tuning_jobs,
        stop_hyper_parameter_tuning_job,
    )

    def tuning_status(name: str) -> str:
        request = {"HyperParameterTuningJobName": name}
        status: str = describe_hyper_parameter_tuning_job(request)["HyperParameterTuningJobStatus"]
        return status

    def training_status(name: str) -> str:
        status: str = describe_training_job({"TrainingJobName": name})["TrainingJobStatus"]
        return status

    tuning = list_hyper_parameter_tuning_jobs({"MaxResults": 100})
    for summary in tuning["HyperParameterTuningJobSummaries"]:
        name = summary["HyperParameterTuningJobName"]
        if summary["HyperParameterTuningJobStatus"] == "InProgress":
            with contextlib.suppress(ServiceError):
                stop_hyper_parameter_tuning_job({"HyperParameterTuningJobName": name})
        _poll(tuning_status, name)
    for job in list_training_jobs({"MaxResults": 100})["TrainingJobSummaries"]:
        name = job["TrainingJobName"]
        if job["TrainingJobStatus"] == "InProgress":
            with contextlib.suppress(ServiceError):
                stop_training_job({"TrainingJobName": name})
        _poll(training_status, name)


def _poll(status: Callable[[str], str], name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while status(name) not in {"Completed", "Failed", "Stopped"}:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {name}, started through the server, did not end")
        time.sleep(0.1)


@pytest.fixture
def server(start_server: StartServer) -> Server:
    """A server with the default options."""
    return start_server()


MakeClient = Callable[..., Any]


def _client(
    service: str, url: str, key: str = "testing", secret: str = "testing", **config: Any
) -> Any:
    """A boto3 client on ``url`` that never retries."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 0}, **config),
    )


@pytest.fixture
def make_client() -> MakeClient:
    """``make_client(service, url, key=..., secret=..., **botocore_config)``."""
    return _client


@pytest.fixture
def sagemaker(server: Server) -> Any:
    return _client("sagemaker", server.url)


def require_jargon() -> Path:
    """The shipped default model's folder; skips the test while it is absent."""
    if not ((JARGON / "model.pt").is_file() and (JARGON / "config.json").is_file()):
        pytest.skip(f"the shipped jargon model is not in {JARGON}")
    return JARGON


@pytest.fixture
def jargon() -> Path:
    return require_jargon()


@pytest.fixture(scope="module")
def shared_bedrock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a whole module of Bedrock tests (generation needs no per-test state; the
    model is loaded once). Its HPJOBS_HOME is its own."""
    require_jargon()
    folder = tmp_path_factory.mktemp("bedrock-server")
    env = {
        "HPJOBS_HOME": str(folder / "hpjobs-home"),
        "AWS_REGION": REGION,
        "HPJOBS_DATABASE_URL": "",
    }
    server = launch(folder, env=env)
    yield server
    check_stopped(server)
