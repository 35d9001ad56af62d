"""Training jobs can wait for a free slot: ``queued`` marks a local job recorded but not yet
started because ``HPJOBS_MAX_RUNNING_JOBS`` jobs were running; ``(queued, id)`` finds the oldest.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(
            sa.Column("queued", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_training_jobs_queue", "training_jobs", ["queued", "id"])


def downgrade() -> None:
    op.drop_index("ix_training_jobs_queue", "training_jobs")
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("queued")
