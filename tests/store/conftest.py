"""Store tests that run on both engines get PostgreSQL from the load tests' server helper."""

from __future__ import annotations

from load.postgres import postgres_server

__all__ = ["postgres_server"]
