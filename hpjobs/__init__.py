"""hpjobs: SageMaker training jobs and Bedrock-style generation on one machine, from the JSON you
send to AWS.

The Python face is :func:`client`, shaped like ``boto3.client``; the operations themselves live in
:mod:`hpjobs.sagemaker` and return botocore's response shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["__version__", "client"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from hpjobs.api import Client


def client(service: str) -> Client:
    """A boto3-shaped client for ``service`` running the operations here (:mod:`hpjobs.api`)."""
    from hpjobs.api import client as make_client

    return make_client(service)
