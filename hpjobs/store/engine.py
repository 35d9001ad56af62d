"""Engine set-up, sessions and automatic migrations.

SQLite runs in WAL mode with a busy timeout and foreign keys on. Write transactions begin with
``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of failing with "database is
locked" when a read transaction tries to become a write one; read transactions stay deferred and
never block writers. The schema is brought to the newest Alembic revision on first use; when it
already is there, Alembic is not even imported.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from hpjobs.config import settings

__all__ = ["SCHEMA_REVISION", "Store", "close_stores", "get_store"]

#: The newest migration in ``migrations/versions`` (a test checks the two agree).
SCHEMA_REVISION = "0007"

_MIGRATIONS = Path(__file__).with_name("migrations")
_BUSY_TIMEOUT_MS = 30_000


class Store:
    """The database behind every operation: short read and write transactions over one engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._write = sessionmaker(
            self.engine.execution_options(hpjobs_write=True), expire_on_commit=False
        )
        self._read = sessionmaker(self.engine)
        _migrate(self.engine)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it never writes."""
        with self._read() as session:
            yield session


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def get_store() -> Store:
    """The store for the current settings (one per database URL and process). A new HPJOBS_HOME
    is made readable by its owner only: it holds the store and each job's hyperparameters and
    environment, secrets included."""
    conf = settings()
    with _stores_lock:
        store = _stores.get(conf.database_url)
        if store is None:
            conf.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            store = _stores[conf.database_url] = Store(conf.database_url)
        return store


def close_stores() -> None:
    """Close the connections of every store this process opened and forget the stores; the next
    :func:`get_store` opens its store afresh. For a process that is done with hpjobs, or that
    moves from one HPJOBS_HOME to another and should not keep each one's database open (an
    SQLite store holds three files open: the database, its WAL and its shared memory)."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.engine.dispose()


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_on_begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get("hpjobs_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, ProgrammingError):
        return None
    return None if row is None else str(row[0])


def _migrate(engine: Engine) -> None:
    if _current_revision(engine) == SCHEMA_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.execution_options(hpjobs_write=True).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A migration that rebuilds a table (SQLite's batch mode: copy, drop, rename) must not
            # fire ON DELETE CASCADE when the old table is dropped, or every status transition
            # and metric point of the rebuilt table's jobs would go with it. The pragma only
            # takes effect outside a transaction, so it is set before the migration's begins.
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(7202511)"))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"the migrated database breaks a foreign key: {broken}")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign key enforcement on this connection, outside any transaction."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
