"""Calling AWS through boto3, with boto3's usual settings and one-line errors.

Credentials, region and endpoints come from boto3's own chain: ``AWS_PROFILE`` and the shared
config files, ``AWS_ACCESS_KEY_ID`` and friends, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``. Everything that can go wrong before AWS
answers (no credentials, no region, no connection) becomes an :class:`AwsSetupError` whose message
is one line saying what to do; an error AWS answers with becomes an :class:`AwsServiceError`
carrying AWS's code, message and HTTP status.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = [
    "AwsServiceError",
    "AwsSetupError",
    "call",
    "client",
    "resolve_region",
    "translated_errors",
]


class AwsSetupError(Exception):
    """AWS could not be reached as set up here: credentials, region, endpoint, role or bucket."""


class AwsServiceError(Exception):
    """An error AWS answered with."""

    def __init__(self, code: str, message: str, http_status: int, operation: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.operation = operation


_NO_CREDENTIALS = (
    "no AWS credentials found: run 'aws configure', set AWS_PROFILE, or set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
_NO_REGION = "no AWS region: give --region, or set AWS_REGION (or a region in your AWS profile)"


def resolve_region(region: str | None) -> str:
    """``region``, else ``AWS_REGION`` (as the AWS CLI v2 and the SDKs read it), else the one
    boto3's chain gives (``AWS_DEFAULT_REGION``, the profile); ``AwsSetupError`` when there is
    none."""
    if region:
        return region
    if os.environ.get("AWS_REGION"):
        return os.environ["AWS_REGION"]
    import boto3

    found = boto3.session.Session().region_name
    if not found:
        raise AwsSetupError(_NO_REGION)
    return str(found)


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client for ``service`` in ``region`` (or the chain's region)."""
    import boto3

    session = boto3.session.Session()
    with translated_errors(service):
        if session.get_credentials() is None:
            raise AwsSetupError(_NO_CREDENTIALS)
        return session.client(service, region_name=resolve_region(region))


@contextmanager
def translated_errors(operation: str) -> Iterator[None]:
    """Turn botocore's exceptions raised inside into :class:`AwsSetupError` /
    :class:`AwsServiceError`."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
    )

    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        raise AwsServiceError(
            str(details.get("Code", "Unknown")),
            str(details.get("Message", "")),
            int(status),
            error.operation_name or operation,
        ) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise AwsSetupError(_NO_CREDENTIALS) from None
    except NoRegionError:
        raise AwsSetupError(_NO_REGION) from None
    except EndpointConnectionError as error:
        raise AwsSetupError(f"could not connect to AWS: {error}") from None
    except ParamValidationError as error:
        text = " ".join(str(error).split())
        raise AwsServiceError("ParamValidation", text, 400, operation) from None


def call(
    service: str, operation: str, request: Mapping[str, Any], region: str | None = None
) -> dict[str, Any]:
    """Call ``operation`` (AWS's name, e.g. ``CreateTrainingJob``) with ``request``; the response
    without ``ResponseMetadata``. Streaming members stay as botocore returns them."""
    from botocore import xform_name

    aws = client(service, region)
    with translated_errors(operation):
        response: dict[str, Any] = getattr(aws, xform_name(operation))(**request)
    response.pop("ResponseMetadata", None)
    return response
