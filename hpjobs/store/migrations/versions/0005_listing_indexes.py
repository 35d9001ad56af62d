"""Indexes that keep ListTrainingJobs to one short index walk on a big store.

- ``(status, creation_time)``, ``(status, name)`` and ``(status, id)``: StatusEquals with the sort
  by creation time (the default) or by name, and the sort by status (ties in id order), read the
  page straight off an index instead of sorting every job of that status. They replace the index
  on ``status`` alone.
- ``(creation_time, id, name, status, last_modified_time)``: the listing in creation order, with
  every column the filters look at, so NameContains and the time filters are checked in the index
  and only the rows of the page are read. It replaces the indexes on ``creation_time`` and on
  ``last_modified_time`` alone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_LISTING = ["creation_time", "id", "name", "status", "last_modified_time"]


def upgrade() -> None:
    op.create_index(
        "ix_training_jobs_status_creation_time", "training_jobs", ["status", "creation_time"]
    )
    op.create_index("ix_training_jobs_status_name", "training_jobs", ["status", "name"])
    op.create_index("ix_training_jobs_status_id", "training_jobs", ["status", "id"])
    op.create_index("ix_training_jobs_listing", "training_jobs", _LISTING)
    op.drop_index("ix_training_jobs_status", "training_jobs")
    op.drop_index("ix_training_jobs_creation_time", "training_jobs")
    op.drop_index("ix_training_jobs_last_modified_time", "training_jobs")


def downgrade() -> None:
    op.create_index("ix_training_jobs_last_modified_time", "training_jobs", ["last_modified_time"])
    op.create_index("ix_training_jobs_creation_time", "training_jobs", ["creation_time"])
    op.create_index("ix_training_jobs_status", "training_jobs", ["status"])
    op.drop_index("ix_training_jobs_listing", "training_jobs")
    op.drop_index("ix_training_jobs_status_id", "training_jobs")
    op.drop_index("ix_training_jobs_status_name", "training_jobs")
    op.drop_index("ix_training_jobs_status_creation_time", "training_jobs")
