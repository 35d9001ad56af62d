"""How fast `hpjobs serve` answers real clients, beside moto's server.

1. DescribeTrainingJob from a boto3 client on loopback, one request at a time for N requests:
   requests per second, p50 and p99 latency — against `hpjobs serve` (a real job recorded in its
   store) and against moto's server (the same job created there), measured in the same run.
   Goal: at least moto's throughput.
2. Time to first streamed token of ConverseStream (the shipped model), median over several calls.

    python benchmarks/serve.py [--requests N]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

SCRIPTS = Path(__file__).parent / "scripts"
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(service: str, url: str) -> Any:
    config = Config(retries={"max_attempts": 0})
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", config=config, **CREDENTIALS
    )


def request(name: str, output: Path) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "hpjobs/pytorch", "TrainingInputMode": "File"},
        "HyperParameters": {
            "sagemaker_program": '"busy.py"',
            "sagemaker_submit_directory": json.dumps(str(SCRIPTS)),
        },
        "RoleArn": "arn:aws:iam::123456789012:role/benchmark",
        "OutputDataConfig": {"S3OutputPath": output.as_uri()},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def describe_latencies(url: str, name: str, count: int) -> list[float]:
    sagemaker = client("sagemaker", url)
    for _ in range(10):  # warm-up: connection, first model load
        sagemaker.describe_training_job(TrainingJobName=name)
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        sagemaker.describe_training_job(TrainingJobName=name)
        latencies.append(time.perf_counter() - started)
    return latencies


def summary(label: str, latencies: list[float]) -> float:
    ordered = sorted(latencies)
    rate = len(ordered) / sum(ordered)
    p50 = ordered[len(ordered) // 2] * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"  {label:14s} {rate:8.1f} requests/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return rate


def first_token(url: str, calls: int) -> list[float]:
    runtime = client("bedrock-runtime", url)
    times = []
    for index in range(calls):
        started = time.perf_counter()
        response = runtime.converse_stream(
            modelId="anthropic.claude-3-haiku-20240307-v1:0",
            messages=[{"role": "user", "content": [{"text": "What is a hacker?"}]}],
            inferenceConfig={"maxTokens": 32},
            additionalModelRequestFields={"seed": index},
        )
        for event in response["stream"]:
            if "contentBlockDelta" in event:
                times.append(time.perf_counter() - started)
                break
        for _ in response["stream"]:
            pass
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "HPJOBS_HOME": str(Path(scratch) / "home")}
        env.pop("HPJOBS_DATABASE_URL", None)
        port = _free_port()
        command = [sys.executable, "-m", "hpjobs", "serve", "--port", str(port)]
        with server(command, env, port) as url:
            sagemaker = client("sagemaker", url)
            sagemaker.create_training_job(**request("bench-job", Path(scratch) / "out"))
            waiter = sagemaker.get_waiter("training_job_completed_or_stopped")
            waiter.wait(TrainingJobName="bench-job", WaiterConfig={"Delay": 1})
            ours = describe_latencies(url, "bench-job", options.requests)
            ttft = first_token(url, 10)
        moto_port = _free_port()
        moto = [sys.executable, "-m", "moto.server", "-p", str(moto_port)]
        with server(moto, env, moto_port) as url:
            client("sagemaker", url).create_training_job(
                **request("bench-job", Path(scratch) / "out")
            )
            theirs = describe_latencies(url, "bench-job", options.requests)
    print(f"DescribeTrainingJob, {options.requests} requests one at a time from boto3 on loopback:")
    mine = summary("hpjobs serve", ours)
    peer = summary("moto server", theirs)
    print(f"  throughput ratio hpjobs/moto: {mine / peer:.2f}x (goal: at least 1x)")
    print(
        f"ConverseStream time to first token: median {statistics.median(ttft) * 1000:.1f} ms "
        f"over {len(ttft)} calls"
    )


if __name__ == "__main__":
    main()
