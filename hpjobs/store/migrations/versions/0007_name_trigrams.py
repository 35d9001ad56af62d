"""On PostgreSQL, a trigram index on the lower-cased training job name, so that NameContains
with a rare substring reads the few matching rows instead of every job.

NameContains matches without regard to case on every database (as SQLite's LIKE always did);
``pg_trgm``'s GIN index answers ``lower(name) LIKE '%...%'``. The extension ships with
PostgreSQL and is trusted, so a database owner may create it; where the extension or the index
cannot be made, the index is left out with a warning that gives the statements to add it later,
and NameContains still works, by reading every row. SQLite needs nothing: its listing index
already holds the name.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEX = "ix_training_jobs_name_trgm"


_CREATE = f"CREATE INDEX {_INDEX} ON training_jobs USING gin (lower(name) gin_trgm_ops)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            bind.exec_driver_sql(_CREATE)
    except sa.exc.DBAPIError as error:
        logging.getLogger("hpjobs.store").warning(
            "NameContains will read every training job: the pg_trgm index could not be made "
            "(%s). A database owner can add it later: CREATE EXTENSION pg_trgm; %s;",
            str(error.orig).strip(),
            _CREATE,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
