"""``NextToken`` for list operations: filter, then sort, then page.

A token is opaque to the caller; it holds the offset of the next page and a fingerprint of the
request's filters and sort order, so a token can only continue the listing it came from.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select

from hpjobs.errors import ValidationException

__all__ = ["PageToken", "time_filters"]

_MAX_OFFSET = 2**53
_NOT_PAGING = ("NextToken", "MaxResults")


@dataclass(frozen=True)
class PageToken:
    offset: int
    fingerprint: str

    @classmethod
    def for_request(cls, request: Mapping[str, Any]) -> PageToken:
        """Where the page this request asks for starts (``ValidationException`` for a token
        that is malformed or belongs to another listing)."""
        query = {k: v for k, v in request.items() if k not in _NOT_PAGING}
        text = json.dumps(query, sort_keys=True, default=str)
        fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
        token = request.get("NextToken")
        if not token:
            return cls(0, fingerprint)
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            offset = int(data["offset"])
            if data["query"] != fingerprint or not 0 <= offset <= _MAX_OFFSET:
                raise ValueError
        except (ValueError, KeyError, TypeError, OverflowError):
            raise ValidationException(
                "The NextToken is not valid for this request: pass the token from the previous "
                "response together with the same filters and sort order."
            ) from None
        return cls(offset, fingerprint)

    def next(self, page_size: int) -> str:
        """The token of the page after one of ``page_size`` items starting here."""
        raw = json.dumps({"offset": self.offset + page_size, "query": self.fingerprint}).encode()
        return base64.urlsafe_b64encode(raw).decode()


def time_filters(
    query: Select[Any], request: Mapping[str, Any], created: Any, modified: Any
) -> Select[Any]:
    """``CreationTimeAfter``/``Before`` and ``LastModifiedTimeAfter``/``Before`` (exclusive)."""
    bounds = [
        ("CreationTimeAfter", created, True),
        ("CreationTimeBefore", created, False),
        ("LastModifiedTimeAfter", modified, True),
        ("LastModifiedTimeBefore", modified, False),
    ]
    for key, column, after in bounds:
        if key in request:
            query = query.where(column > request[key] if after else column < request[key])
    return query
