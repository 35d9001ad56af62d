"""``application/vnd.amazon.eventstream`` frames, as botocore reads them (reference bedrock.md
§2.3): big-endian lengths, string headers, CRC32 of the prelude and of the whole message."""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Mapping
from typing import Any

__all__ = ["error_frame", "event_frame", "exception_frame", "frame"]

_STRING = 7


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One message: prelude, prelude CRC, headers, payload, message CRC."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def event_frame(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """An event of the stream's union member ``event_type`` with a JSON payload."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return frame(headers, json.dumps(payload, separators=(",", ":")).encode("utf-8"))


def exception_frame(exception_type: str, message: str) -> bytes:
    """A modelled exception in the middle of a stream; ``exception_type`` is the union member's
    lowerCamel name (``validationException``), as the real service sends it."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"message": message}).encode("utf-8"))


def error_frame(code: str, message: str) -> bytes:
    """An unmodelled error in the middle of a stream."""
    headers = {":error-code": code, ":error-message": message, ":message-type": "error"}
    return frame(headers, b"")
