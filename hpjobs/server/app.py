"""The HTTP endpoint: one ASGI application (Starlette) speaking SageMaker's JSON 1.1 protocol and
Bedrock's REST-JSON protocols, for every operation hpjobs implements.

- ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>``: the SageMaker operations;
- the Bedrock runtime routes (``/model/{modelId}/converse``, ``/converse-stream``, ``/invoke``,
  ``/invoke-with-response-stream``) and the Bedrock control-plane routes (foundation models,
  model customization jobs, custom models), matched from botocore's own request URIs.

Handlers run in a thread pool, so a long generation never blocks a describe call; streams are
sent frame by frame as they are generated. Request bodies above ``max_body_bytes`` are refused.
Faults of hpjobs itself are 500 (which botocore retries); everything the caller did wrong is a 4xx
with AWS's code and message.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from hpjobs.errors import (
    InternalFailure,
    InternalServerException,
    SerializationException,
    ServiceError,
    ValidationException,
)
from hpjobs.operations import SERVICES, operation
from hpjobs.server import protocol, sigv4

__all__ = ["DEFAULT_MAX_BODY", "create_app"]

log = logging.getLogger("hpjobs.server")

#: InvokeModel bodies may be 25,000,000 bytes; a little room above that for the JSON around them.
DEFAULT_MAX_BODY = 26 * 1024 * 1024
_REST_SERVICES = ("bedrock-runtime", "bedrock")


@dataclass(frozen=True)
class RestRoute:
    service: str
    operation: str
    method: str
    pattern: re.Pattern[str]


def _rest_routes() -> list[RestRoute]:
    """Every implemented REST operation's method and URI template, as a regular expression over
    the raw (still percent-encoded) path."""
    from hpjobs import shapes

    routes = []
    for service in _REST_SERVICES:
        for name in SERVICES[service]:
            http = shapes.operation_model(service, name).http
            template = http["requestUri"].split("?", 1)[0]
            routes.append(RestRoute(service, name, http["method"], _template_pattern(template)))
    return routes


def _template_pattern(template: str) -> re.Pattern[str]:
    """``/model/{modelId}/converse`` as a pattern; ``{name+}`` labels may span slashes."""
    parts = []
    for literal, label in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
        parts.append(re.escape(literal))
        if label:
            greedy = label.endswith("+")
            parts.append(f"(?P<{label.rstrip('+')}>{'.+' if greedy else '[^/]+'})")
    return re.compile("^" + "".join(parts) + "$")


def _to_response(reply: protocol.Reply, request_id: str) -> Response:
    headers = {**reply.headers, "x-amzn-RequestId": request_id}
    if isinstance(reply.body, bytes):
        return Response(reply.body, reply.status, headers, reply.media_type)
    return StreamingResponse(reply.body, reply.status, headers, reply.media_type)


class Endpoint:
    """What the routes share: the REST route table, the body limit and the signature check."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body = max_body_bytes
        self.routes = _rest_routes()
        self.keys = sigv4.access_keys()

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise _TooLarge(self.max_body)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body:
                raise _TooLarge(self.max_body)
        return bytes(body)

    def _check_signature(self, request: Request, body: bytes) -> None:
        if not self.keys:
            return
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        query = request.scope.get("query_string", b"").decode("latin-1")
        url = f"{request.url.scheme}://{request.headers.get('host', '')}{raw_path}"
        signed = sigv4.SignedRequest(
            request.method, url + (f"?{query}" if query else ""), dict(request.headers), body
        )
        sigv4.verify(signed, self.keys)

    async def sagemaker(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            body = await self._body(request)
            self._check_signature(request, body)
            name = _target(request.headers.get("x-amz-target", ""))
            payload = _json_object(body)
            response = await run_in_threadpool(operation("sagemaker", name), payload)
            reply = protocol.json_reply(response)
        except ServiceError as error:
            reply = protocol.json_error(error)
        except _TooLarge as error:
            reply = protocol.json_error(ValidationException(str(error)))
        except Exception:
            log.exception("SageMaker request failed")
            reply = protocol.json_error(
                InternalFailure("The server encountered an internal error.")
            )
        return _to_response(reply, request_id)

    def _match(self, method: str, raw_path: str) -> tuple[RestRoute, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            match = route.pattern.match(raw_path)
            if match is not None:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
        return None

    async def rest(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        found = self._match(request.method, raw_path.split("?", 1)[0])
        if found is None:
            return _to_response(_unknown_route(request.method, raw_path), request_id)
        route, labels = found
        try:
            body = await self._body(request)
            self._check_signature(request, body)
            query = parse_qs(
                request.scope.get("query_string", b"").decode("utf-8"), keep_blank_values=True
            )
            payload = protocol.rest_request(
                route.service, route.operation, labels, query, dict(request.headers), body
            )
            response = await run_in_threadpool(operation(route.service, route.operation), payload)
            reply = protocol.rest_reply(route.service, route.operation, response)
        except ServiceError as error:
            reply = protocol.rest_error(error)
        except _TooLarge as error:
            reply = protocol.rest_error(ValidationException(str(error)))
        except Exception:
            log.exception("%s request failed", route.operation)
            reply = protocol.rest_error(
                InternalServerException("The server encountered an internal error.")
            )
        return _to_response(reply, request_id)


class _TooLarge(Exception):
    """A request body above the limit; its text is Bedrock's for an oversized body."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "1 validation error detected: Value at 'body' failed to satisfy constraint: "
            f"Member must have length less than or equal to {limit}"
        )


def _target(header: str) -> str:
    if not header:
        raise _UnknownOperation("The request has no X-Amz-Target header naming an operation.")
    service, _, name = header.partition(".")
    if service != "SageMaker" or name not in SERVICES["sagemaker"]:
        raise _UnknownOperation(f"Operation {name or header} is not supported by this endpoint.")
    return name


class _UnknownOperation(ServiceError):
    code = "UnknownOperationException"


class _NoRoute(_UnknownOperation):
    http_status = 404


def _json_object(body: bytes) -> dict[str, Any]:
    import json

    if not body.strip():
        return {}
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        raise SerializationException("The request body is not valid JSON.") from None
    if not isinstance(decoded, dict):
        raise SerializationException("The request body must be a JSON object.")
    return decoded


def _unknown_route(method: str, path: str) -> protocol.Reply:
    return protocol.rest_error(_NoRoute(f"No operation matches {method} {path} on this endpoint."))


def create_app(max_body_bytes: int = DEFAULT_MAX_BODY) -> Starlette:
    """The ASGI application: the APIs, and the dashboard at ``GET /`` and ``/ui/…`` (off while
    signed requests are required, since a browser cannot sign)."""
    from hpjobs.dashboard import dashboard_routes

    endpoint = Endpoint(max_body_bytes)
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
    handlers: list[tuple[str, Callable[..., Any], list[str]]] = [
        ("/", endpoint.sagemaker, ["POST"]),
        ("/{path:path}", endpoint.rest, methods),
    ]
    routes: list[BaseRoute] = dashboard_routes(enabled=not endpoint.keys)
    routes += [Route(p, h, methods=m) for p, h, m in handlers]
    return Starlette(routes=routes)
