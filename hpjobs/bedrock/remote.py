"""Bedrock runtime requests sent to AWS itself (``--target aws``), answered as boto3 answers.

An error Bedrock answers with, also one in the middle of a stream, is raised as the same
``ServiceError`` (code, message, status), so every face reports it as the local runtime's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hpjobs.errors import aws_error

__all__ = ["invoke_bedrock"]

_STREAM_MEMBERS = {"ConverseStream": "stream", "InvokeModelWithResponseStream": "body"}


def invoke_bedrock(
    operation: str, request: Mapping[str, Any], region: str | None = None
) -> dict[str, Any]:
    """Call a Bedrock runtime ``operation`` on AWS through boto3."""
    from cloud.aws import AwsServiceError, call

    try:
        response = call("bedrock-runtime", operation, request, region)
    except AwsServiceError as error:
        raise aws_error(error.code, error.message, error.http_status) from None
    member = _STREAM_MEMBERS.get(operation)
    if member is not None and member in response:
        response[member] = _events(response[member])
    return response


def _events(stream: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    from cloud.aws import AwsServiceError, translated_errors

    try:
        with translated_errors("stream"):
            yield from stream
    except AwsServiceError as error:
        raise aws_error(error.code, error.message, error.http_status) from None
