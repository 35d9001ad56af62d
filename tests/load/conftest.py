"""The load tests run once per database engine: SQLite (a file in HPJOBS_HOME) and PostgreSQL
(Debian's server started for the session; skipped with the reason where it cannot start)."""

from __future__ import annotations

from load.postgres import engine, postgres_server

__all__ = ["engine", "postgres_server"]
