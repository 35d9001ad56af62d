"""SageMaker on AWS: submitting jobs, checking what they need, reading their logs.

Requests and responses are the dicts boto3 takes and returns. A training job's log is in CloudWatch
Logs, group ``/aws/sagemaker/TrainingJobs``, one stream per instance named
``<job>/algo-<n>-<epoch seconds>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cloud.aws import AwsServiceError, AwsSetupError, call, client, translated_errors

__all__ = [
    "LOG_GROUP",
    "LogEvent",
    "LogReader",
    "check_bucket",
    "check_role",
    "sagemaker_call",
]

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def sagemaker_call(operation: str, request: Mapping[str, Any], region: str) -> dict[str, Any]:
    """One SageMaker operation on AWS."""
    return call("sagemaker", operation, request, region)


def check_bucket(bucket: str, region: str) -> None:
    """``AwsSetupError`` unless ``bucket`` exists and these credentials may use it."""
    s3 = client("s3", region)
    try:
        with translated_errors("HeadBucket"):
            s3.head_bucket(Bucket=bucket)
    except AwsServiceError as error:
        if error.http_status == 404 or error.code in ("404", "NoSuchBucket"):
            raise AwsSetupError(
                f"the S3 bucket {bucket} does not exist: create it (aws s3 mb s3://{bucket}) "
                "or give another --bucket"
            ) from None
        if error.http_status == 403 or error.code in ("403", "AccessDenied"):
            raise AwsSetupError(
                f"these AWS credentials may not use the S3 bucket {bucket} (access denied)"
            ) from None
        raise


def check_role(role_arn: str, region: str) -> None:
    """``AwsSetupError`` when IAM says the role does not exist. A caller who may not read IAM
    roles is not stopped here: SageMaker itself then checks the role."""
    name = role_arn.rsplit("/", 1)[-1]
    iam = client("iam", region)
    try:
        with translated_errors("GetRole"):
            iam.get_role(RoleName=name)
    except AwsServiceError as error:
        if error.code == "NoSuchEntity":
            raise AwsSetupError(
                f"the IAM role {role_arn} does not exist: create a SageMaker execution role "
                "or give another --role"
            ) from None
        if error.code not in ("AccessDenied", "AccessDeniedException"):
            raise


@dataclass(frozen=True)
class LogEvent:
    """One line of a job's log."""

    stream: str
    timestamp: datetime
    message: str


@dataclass
class LogReader:
    """Reads a training job's CloudWatch log streams; each :meth:`read` returns only what is
    new since the last one."""

    job_name: str
    region: str
    #: How many log streams the job had at the last read (none until it has started logging).
    streams: int = 0
    _tokens: dict[str, str] = field(default_factory=dict)

    def read(self) -> list[LogEvent]:
        logs = client("logs", self.region)
        events: list[LogEvent] = []
        streams = self._streams(logs)
        self.streams = len(streams)
        for stream in streams:
            events.extend(self._stream_events(logs, stream))
        events.sort(key=lambda event: event.timestamp)
        return events

    def _streams(self, logs: Any) -> list[str]:
        names: list[str] = []
        try:
            with translated_errors("DescribeLogStreams"):
                pages = logs.get_paginator("describe_log_streams").paginate(
                    logGroupName=LOG_GROUP, logStreamNamePrefix=f"{self.job_name}/"
                )
                for page in pages:
                    names.extend(s["logStreamName"] for s in page.get("logStreams", []))
        except AwsServiceError as error:
            if error.code == "ResourceNotFoundException":
                return []  # no job has logged in this region yet
            raise
        return sorted(names)

    def _stream_events(self, logs: Any, stream: str) -> list[LogEvent]:
        events: list[LogEvent] = []
        while True:
            request: dict[str, Any] = {
                "logGroupName": LOG_GROUP,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if stream in self._tokens:
                request["nextToken"] = self._tokens[stream]
            with translated_errors("GetLogEvents"):
                page = logs.get_log_events(**request)
            for item in page.get("events", []):
                when = datetime.fromtimestamp(item["timestamp"] / 1000, tz=timezone.utc)
                events.append(LogEvent(stream, when, item["message"]))
            token = page.get("nextForwardToken")
            if token is None or token == self._tokens.get(stream):
                return events
            self._tokens[stream] = token
            if not page.get("events"):
                return events
