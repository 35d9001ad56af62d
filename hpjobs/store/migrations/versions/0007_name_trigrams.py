"""On PostgreSQL, a trigram index on the lower-cased training job name, so that NameContains
with a rare substring reads the few matching rows instead of every job.

NameContains matches without regard to case on every database (as SQLite's LIKE always did);
``pg_trgm``'s GIN index answers ``lower(name) LIKE '%...%'``. The extension ships with
PostgreSQL and is trusted, so a database owner may create it; where it cannot be created, the
index is left out with a warning and NameContains still works, by reading every row. SQLite
needs nothing: its listing index already holds the name.

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


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        logging.getLogger("hpjobs.store").warning(
            "NameContains will read every training job: the pg_trgm extension could not be "
            "created (%s)",
            str(error.orig).strip(),
        )
        return
    op.create_index(
        _INDEX,
        "training_jobs",
        [sa.text("lower(name) gin_trgm_ops")],
        postgresql_using="gin",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
