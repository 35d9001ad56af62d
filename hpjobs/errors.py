"""Errors every face of hpjobs reports the way AWS does.

Each error carries the AWS error code, the message text AWS uses for the same situation and the
HTTP status the wire protocols send. The CLI prints them as the AWS CLI does
(``An error occurred (Code) when calling the Op operation: message``), the HTTP server puts the
code in ``__type`` (SageMaker) or ``x-amzn-ErrorType`` (Bedrock) and the Python API raises them.

The tree::

    ServiceError                        code, message, http_status
    ├── ValidationException             400  request breaks a model or service rule
    ├── SerializationException          400  a member has the wrong type or is not in the model
    ├── ResourceInUse                   400  name taken, or resource busy
    ├── ResourceNotFound                400  SageMaker's modeled "not found"
    ├── ResourceLimitExceeded           400  more than this machine offers
    ├── ConflictException               400  (as the Bedrock model declares it)
    ├── ResourceNotFoundException       404  Bedrock's "not found"
    ├── AccessDeniedException           403
    ├── ServiceQuotaExceededException   400
    ├── ModelErrorException             424  the model failed to answer
    ├── InternalServerException         500  Bedrock's server fault
    └── InternalFailure                 500  a fault of hpjobs itself

This module is a leaf: it imports nothing from the rest of hpjobs.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AccessDeniedException",
    "ConflictException",
    "InternalFailure",
    "InternalServerException",
    "ModelErrorException",
    "ResourceInUse",
    "ResourceLimitExceeded",
    "ResourceNotFound",
    "ResourceNotFoundException",
    "SerializationException",
    "ServiceError",
    "ServiceQuotaExceededException",
    "ValidationException",
    "aws_error",
]

#: What the CLI exits with on a service error; the AWS CLI v2 uses 254 for the same.
CLI_EXIT_CODE = 254


class ServiceError(Exception):
    """An AWS-coded error: ``code`` and ``message`` are what AWS would send."""

    code: ClassVar[str] = "ServiceError"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = CLI_EXIT_CODE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def response(self) -> dict[str, Any]:
        """The error part of a botocore response, as ``ClientError.response`` holds it."""
        return {
            "Error": {"Code": self.code, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": self.http_status},
        }

    def cli_text(self, operation: str) -> str:
        """The line the AWS CLI prints for this error."""
        prefix = f"An error occurred ({self.code}) when calling the {operation} operation"
        return f"{prefix}: {self.message}"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationException(ServiceError):
    code = "ValidationException"


class SerializationException(ServiceError):
    code = "SerializationException"


class ResourceInUse(ServiceError):
    code = "ResourceInUse"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"


class ResourceLimitExceeded(ServiceError):
    code = "ResourceLimitExceeded"


class ConflictException(ServiceError):
    code = "ConflictException"


class InternalFailure(ServiceError):
    code = "InternalFailure"
    http_status = 500


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"
    http_status = 404


class AccessDeniedException(ServiceError):
    code = "AccessDeniedException"
    http_status = 403


class ServiceQuotaExceededException(ServiceError):
    code = "ServiceQuotaExceededException"


class ModelErrorException(ServiceError):
    code = "ModelErrorException"
    http_status = 424


class InternalServerException(ServiceError):
    code = "InternalServerException"
    http_status = 500


def aws_error(code: str, message: str, http_status: int = 400) -> ServiceError:
    """An error AWS itself answered a forwarded request with: AWS's code, message and status."""
    kind = type(code, (ServiceError,), {"code": code, "http_status": http_status})
    error: ServiceError = kind(message)
    return error
