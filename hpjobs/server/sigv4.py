"""Optional checking of AWS Signature Version 4 on incoming requests.

By default the server accepts any signature, as moto and LocalStack do. With
``HPJOBS_ACCESS_KEYS`` set (``AKID:SECRET`` pairs separated by commas) every request must be
signed with one of those keys: the signature is computed again with botocore's own SigV4 signer
over the headers the client signed, and a request that does not match is refused as AWS refuses
it, with HTTP 403: ``MissingAuthenticationTokenException`` for an unsigned request,
``UnrecognizedClientException`` for an unknown key, ``InvalidSignatureException`` for a wrong
signature or one more than five minutes away from the server's clock.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hpjobs.errors import ServiceError

__all__ = ["SignatureError", "access_keys", "verify"]

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?"
    r"Signature=(?P<sig>[0-9a-f]+)"
)


_SKEW = timedelta(minutes=5)


class SignatureError(ServiceError):
    http_status = 403


class MissingAuthenticationTokenException(SignatureError):
    code = "MissingAuthenticationTokenException"


class UnrecognizedClientException(SignatureError):
    code = "UnrecognizedClientException"


class InvalidSignatureException(SignatureError):
    code = "InvalidSignatureException"


def access_keys() -> dict[str, str]:
    """The configured ``access key id → secret``; empty when signatures are not checked."""
    raw = os.environ.get("HPJOBS_ACCESS_KEYS", "")
    pairs = [item.split(":", 1) for item in raw.split(",") if ":" in item]
    return {key.strip(): secret.strip() for key, secret in pairs}


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


def _expected(request: SignedRequest, parts: Mapping[str, str], secret: str) -> str:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    lowered = {k.lower(): v for k, v in request.headers.items()}
    signed = parts["signed"].split(";")
    headers = {name: lowered.get(name, "") for name in signed}
    aws_request = AWSRequest(request.method, request.url, data=request.body, headers=headers)
    aws_request.context["timestamp"] = lowered.get("x-amz-date", "")
    signer = SigV4Auth(Credentials(parts["key"], secret), parts["service"], parts["region"])
    canonical = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical)
    return str(signer.signature(string_to_sign, aws_request))


def _check_clock(stamp: str) -> None:
    """Refuse a signature dated more than five minutes from now, as AWS does."""
    now = datetime.now(timezone.utc)
    try:
        signed = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise InvalidSignatureException("The request has no valid X-Amz-Date header.") from None
    if abs(now - signed) > _SKEW:
        text = now.strftime("%Y%m%dT%H%M%SZ")
        raise InvalidSignatureException(
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - _SKEW).strftime('%Y%m%dT%H%M%SZ')} ({text} - 5 min.)"
            if signed < now
            else f"Signature not yet current: {stamp} is still later than "
            f"{(now + _SKEW).strftime('%Y%m%dT%H%M%SZ')} ({text} + 5 min.)"
        )


def verify(request: SignedRequest, keys: Mapping[str, str]) -> None:
    """Raise a ``SignatureError`` unless ``request`` is signed with one of ``keys``."""
    lowered = {k.lower(): v for k, v in request.headers.items()}
    authorization = lowered.get("authorization", "")
    if not authorization:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    match = _AUTHORIZATION.match(authorization)
    if match is None or match["key"] not in keys:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    _check_clock(lowered.get("x-amz-date", ""))
    expected = _expected(request, match.groupdict(), keys[match["key"]])
    if not hmac.compare_digest(expected, match["sig"]):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details."
        )
