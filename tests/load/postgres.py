"""A throw-away PostgreSQL server for the tests: Debian's ``initdb`` and ``pg_ctl`` in a temporary
folder, listening on a unix socket only (no port to collide with), one database per test.

As root, PostgreSQL refuses to run, so the server runs as the ``postgres`` user through
``runuser``, in a folder that user owns. Where no server can be started, :func:`server` says why
and the tests that need one are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["PostgresServer", "Unavailable", "engine", "postgres_server", "server", "stop"]

#: Enough connections for hundreds of job supervisors at once (each holds one or two).
MAX_CONNECTIONS = 1000


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


@dataclass
class PostgresServer:
    bin_dir: Path
    folder: Path
    runner: list[str]
    databases: list[str] = field(default_factory=list)

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for ``database`` through psycopg 3 over the unix socket."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"hpjobs_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [
                *self.runner,
                str(self.bin_dir / "pg_ctl"),
                "stop",
                "-D",
                str(self.data),
                "-m",
                "fast",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def data(self) -> Path:
        return self.folder / "data"


_started: PostgresServer | Unavailable | None = None


def server() -> PostgresServer:
    """The server of this test process, started on first use (``Unavailable`` when it cannot be).
    The caller stops it at the end of the session with :meth:`PostgresServer.stop`."""
    global _started
    if _started is None:
        try:
            _started = _start()
        except Unavailable as error:
            _started = error
    if isinstance(_started, Unavailable):
        raise _started
    return _started


def stop() -> None:
    """Stop the server if this process started one."""
    global _started
    if isinstance(_started, PostgresServer):
        _started.stop()
    _started = None


def _start() -> PostgresServer:
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        raise Unavailable(f"psycopg (3) is not installed: {error}") from None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True)
    if not found:
        on_path = shutil.which("initdb")
        if on_path is None:
            raise Unavailable(
                "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql "
                "package (make system)"
            )
        found = [on_path]
    bin_dir = Path(found[0]).parent
    folder = Path(tempfile.mkdtemp(prefix="hpjobs-pg-"))
    runner: list[str] = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder, ignore_errors=True)
            raise Unavailable("running as root and there is no postgres user to run as") from None
        if shutil.which("runuser") is None:
            shutil.rmtree(folder, ignore_errors=True)
            raise Unavailable("running as root and runuser is missing") from None
        os.chown(folder, user.pw_uid, user.pw_gid)
        runner = ["runuser", "-u", "postgres", "--"]
    made = PostgresServer(bin_dir=bin_dir, folder=folder, runner=runner)
    steps = [
        [
            str(bin_dir / "initdb"),
            "-D",
            str(made.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-locale",
            "-E",
            "UTF8",
        ],
        [
            str(bin_dir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(made.data),
            "-l",
            str(folder / "server.log"),
            "-o",
            f"-c listen_addresses='' -k {folder} -c max_connections={MAX_CONNECTIONS} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c shared_buffers=64MB",
        ],
    ]
    for step in steps:
        try:
            done = subprocess.run(
                [*runner, *step], capture_output=True, text=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            made.stop()
            raise Unavailable(f"{Path(step[0]).name} could not run: {error}") from None
        if done.returncode != 0:
            log = folder / "server.log"
            detail = (done.stderr or done.stdout).strip()
            with contextlib.suppress(OSError):
                detail += "\n" + log.read_text(errors="replace")[-2000:]
            made.stop()
            raise Unavailable(f"{Path(step[0]).name} failed: {detail}")
    return made


def _version(path: str) -> float:
    with contextlib.suppress(ValueError):
        return float(Path(path).parent.parent.name)
    return 0.0


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """This test process's PostgreSQL server (skips the test where none can start); stopped at
    the end of the session."""
    try:
        started = server()
    except Unavailable as why:
        pytest.skip(f"no PostgreSQL server can be started here: {why}")
    try:
        yield started
    finally:
        stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine under test, once each; for PostgreSQL, HPJOBS_DATABASE_URL names a new
    database on this process's server."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        monkeypatch.setenv("HPJOBS_DATABASE_URL", server.create_database())
    return str(request.param)
