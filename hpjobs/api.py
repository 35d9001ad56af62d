"""The Python face: a client shaped like boto3's.

>>> import hpjobs
>>> sagemaker = hpjobs.client("sagemaker")
>>> sagemaker.create_training_job(TrainingJobName="demo", ...)      # doctest: +SKIP
{'TrainingJobArn': 'arn:aws:sagemaker:us-east-1:000000000000:training-job/demo'}

Methods take the same keyword arguments as boto3's and return the same dicts (without
``ResponseMetadata``); errors are :class:`hpjobs.errors.ServiceError` subclasses whose ``code``,
``message`` and ``response`` match what ``botocore.exceptions.ClientError`` would carry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpjobs.operations import SERVICES, operation

__all__ = ["Client", "client"]


def snake_case(operation: str) -> str:
    """``CreateTrainingJob`` → ``create_training_job``, as botocore names client methods."""
    from botocore import xform_name

    return str(xform_name(operation))


class Client:
    """Operations of one service as methods, e.g. ``describe_training_job(TrainingJobName=...)``."""

    def __init__(self, service: str) -> None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; hpjobs offers: {', '.join(SERVICES)}")
        self.service = service
        self._methods = {snake_case(op): op for op in SERVICES[service]}

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        name_of_operation = self._methods.get(name)
        if name_of_operation is None:
            raise AttributeError(f"{self.service} client has no operation {name!r}")

        def call(**kwargs: Any) -> dict[str, Any]:
            return operation(self.service, name_of_operation)(kwargs)

        call.__name__ = name
        return call

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._methods})


def client(service: str) -> Client:
    """A client for ``service``: ``"sagemaker"``, ``"bedrock-runtime"`` or ``"bedrock"``."""
    return Client(service)
