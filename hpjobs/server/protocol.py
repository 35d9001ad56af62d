"""The wire protocols, driven by botocore's models: SageMaker's JSON 1.1 and Bedrock's REST-JSON.

JSON 1.1 (``POST /``, ``X-Amz-Target: SageMaker.<Operation>``): the request is the JSON body; the
response is JSON with timestamps as epoch seconds; an error is HTTP 400 (500 for a fault) with
``{"__type": code, "message": text}``, where botocore reads the code.

REST-JSON (Bedrock): each input member comes from where the operation's model puts it (the URI
path, the query string, a header, the JSON body, or the whole body as a blob payload); each output
member goes where the model puts it (a header, the JSON body, or the payload: raw bytes, or an
event stream of ``application/vnd.amazon.eventstream`` frames); an error carries its code in the
``x-amzn-ErrorType`` header and ``{"message": text}``. Timestamps are ISO 8601; blobs inside JSON
are base64.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hpjobs import shapes
from hpjobs.errors import ServiceError
from hpjobs.server.eventstream import error_frame, event_frame, exception_frame

__all__ = ["Reply", "json_error", "json_reply", "rest_error", "rest_reply", "rest_request"]

log = logging.getLogger("hpjobs.server")

JSON_11 = "application/x-amz-json-1.1"
EVENT_STREAM = "application/vnd.amazon.eventstream"
_CORAL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


@dataclass
class Reply:
    status: int
    body: bytes | Iterator[bytes]
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _encoder(timestamps: str) -> json.JSONEncoder:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            moment = value.astimezone(timezone.utc)
            if timestamps == "epoch":
                return moment.timestamp()
            return moment.isoformat().replace("+00:00", "Z")
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(bytes(value)).decode("ascii")
        raise TypeError(f"cannot encode {type(value).__name__}")

    return json.JSONEncoder(default=default, separators=(",", ":"), allow_nan=True)


_EPOCH = _encoder("epoch")
_ISO = _encoder("iso")


def json_reply(response: Mapping[str, Any]) -> Reply:
    """A JSON 1.1 success."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    return Reply(200, _EPOCH.encode(body).encode("utf-8"), JSON_11)


def json_error(error: ServiceError) -> Reply:
    """A JSON 1.1 error: botocore takes the code from ``__type``."""
    body = {"__type": error.code, "message": error.message}
    return Reply(error.http_status, json.dumps(body).encode("utf-8"), JSON_11)


def rest_error(error: ServiceError) -> Reply:
    """A REST-JSON error: the code in ``x-amzn-ErrorType``, as Bedrock sends it."""
    body = json.dumps({"message": error.message}).encode("utf-8")
    return Reply(error.http_status, body, headers={"x-amzn-ErrorType": error.code + _CORAL})


# -- REST-JSON requests --------------------------------------------------------------------------


def _from_text(shape: Any, values: list[str]) -> Any:
    kind = shape.type_name
    if kind == "list":
        return [_from_text(shape.member, [v]) for v in values]
    text = values[-1]
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text  # the validator reports the wrong type
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def rest_request(
    service: str,
    operation: str,
    labels: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """The operation's request dict from the parts of an HTTP request, as its model places them."""
    model = shapes.operation_model(service, operation)
    shape = model.input_shape
    payload = shape.metadata.get("payload")
    request: dict[str, Any] = {}
    if payload is not None:
        request[payload] = body
    elif body.strip():
        from hpjobs.errors import SerializationException

        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json reads
            raise SerializationException("The request body is not valid JSON.") from None
        if not isinstance(decoded, dict):
            raise SerializationException("The request body must be a JSON object.")
        request.update(decoded)
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, member in shape.members.items():
        location = member.metadata.get("location")
        wire = member.metadata.get("locationName", name)
        if location == "uri" and wire in labels:
            request[name] = labels[wire]
        elif location == "querystring" and wire in query:
            request[name] = _from_text(member, query[wire])
        elif location == "header" and wire.lower() in lowered:
            request[name] = _from_text(member, [lowered[wire.lower()]])
    return request


# -- REST-JSON responses -------------------------------------------------------------------------


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _stream_frames(events: Iterable[Mapping[str, Any]], members: Iterable[str]) -> Iterator[bytes]:
    """Event frames for a stream; an error raised while streaming becomes an exception frame
    (its union member when the stream models that error, else a generic error frame)."""
    modelled = set(members)
    try:
        for event in events:
            for kind, payload in event.items():
                if kind == "chunk" and "bytes" in payload:
                    payload = {"bytes": base64.b64encode(payload["bytes"]).decode("ascii")}
                yield event_frame(kind, json.loads(_ISO.encode(payload)))
    except ServiceError as error:
        member = _lower_camel(error.code)
        if member in modelled:
            yield exception_frame(member, error.message)
        else:
            yield error_frame(error.code, error.message)
    except Exception as error:
        log.exception("error in the middle of a stream")
        member = "internalServerException"
        text = f"The server could not finish the stream: {type(error).__name__}"
        yield (
            exception_frame(member, text)
            if member in modelled
            else error_frame("InternalServerException", text)
        )


def rest_reply(service: str, operation: str, response: Mapping[str, Any]) -> Reply:
    """The HTTP reply of a REST-JSON operation's response dict, as its model places members."""
    model = shapes.operation_model(service, operation)
    shape = model.output_shape
    headers = dict(response.get("ResponseMetadata", {}).get("HTTPHeaders", {}))
    headers.pop("content-type", None)
    payload = shape.metadata.get("payload")
    body: dict[str, Any] = {}
    for name, member in shape.members.items():
        if name not in response or name == payload:
            continue
        if member.metadata.get("location") == "header":
            headers[member.metadata.get("locationName", name)] = str(response[name])
        else:
            body[name] = response[name]
    status = int(model.http.get("responseCode", 200))
    if payload is None:
        return Reply(status, _ISO.encode(body).encode("utf-8"), headers=headers)
    member = shape.members[payload]
    content = response.get(payload)
    if member.metadata.get("eventstream"):
        frames = _stream_frames(content or [], member.members)
        return Reply(status, frames, EVENT_STREAM, headers)
    media = response.get("contentType", "application/json")
    data = (
        bytes(content.read())
        if content is not None and hasattr(content, "read")
        else bytes(content or b"")
    )
    return Reply(status, data, media, {k: v for k, v in headers.items() if k != "Content-Type"})
