"""The HTTP endpoint (``hpjobs serve``) that boto3, the AWS CLI and the SageMaker SDK talk to."""

from __future__ import annotations

from hpjobs.server.app import DEFAULT_MAX_BODY, create_app

__all__ = ["DEFAULT_MAX_BODY", "create_app"]
