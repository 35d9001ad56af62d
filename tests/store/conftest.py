"""Store tests that run on both engines get them from the load tests' server helper."""

from __future__ import annotations

from load.postgres import engine, postgres_server

__all__ = ["engine", "postgres_server"]
