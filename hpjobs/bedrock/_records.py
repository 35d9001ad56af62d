"""The invocation log: one row per Bedrock runtime call, written in its own short transaction.

Bedrock itself keeps no such table (its model invocation logging goes to CloudWatch Logs or S3
and is off by default); hpjobs keeps one so that ``hpjobs`` can show what the emulator answered,
with token counts and latency, without any set-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from hpjobs.store import InvocationRecord, get_store

__all__ = ["invocations", "record_invocation"]


def record_invocation(
    operation: str,
    model_id: str,
    local_model: str,
    parameters: Mapping[str, Any],
    input_tokens: int,
    output_tokens: int,
    latency_ms: int,
    stop_reason: str | None,
) -> None:
    """Keep one invocation: ``model_id`` as the caller wrote it, ``local_model`` the model that
    answered, ``parameters`` the inference parameters in effect (JSON-serialisable)."""
    row = InvocationRecord(
        time=datetime.now(timezone.utc),
        operation=operation,
        model_id=model_id,
        local_model=local_model,
        parameters=dict(parameters),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_ms=latency_ms,
        stop_reason=stop_reason,
    )
    with get_store().write() as session:
        session.add(row)


def invocations(limit: int = 50) -> list[InvocationRecord]:
    """The newest ``limit`` invocations, newest first (detached rows, safe to read anywhere)."""
    with get_store().read() as session:
        query = select(InvocationRecord).order_by(InvocationRecord.id.desc()).limit(max(0, limit))
        rows = list(session.scalars(query))
        session.expunge_all()
    return rows
