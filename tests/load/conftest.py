"""The load tests run once per database engine: SQLite (a file in HPJOBS_HOME) and PostgreSQL
(Debian's server started for the session; skipped with the reason where it cannot start)."""

from __future__ import annotations

import pytest
from load.postgres import postgres_server

__all__ = ["engine", "postgres_server"]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine under test; for PostgreSQL, HPJOBS_DATABASE_URL names a new database."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("HPJOBS_DATABASE_URL", server.create_database())
    return str(request.param)
