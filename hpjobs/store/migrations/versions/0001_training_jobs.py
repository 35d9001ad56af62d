"""Training jobs, their status transitions and metric points.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hpjobs.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("arn", sa.String(256), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("secondary_status", sa.String(32), nullable=False),
        sa.Column("failure_reason", sa.Text),
        sa.Column("creation_time", UTCDateTime(), nullable=False, index=True),
        sa.Column("last_modified_time", UTCDateTime(), nullable=False, index=True),
        sa.Column("training_start_time", UTCDateTime()),
        sa.Column("training_end_time", UTCDateTime()),
        sa.Column("model_artifacts", sa.Text, nullable=False),
        sa.Column("job_dir", sa.Text, nullable=False),
        sa.Column("log_path", sa.Text, nullable=False),
        sa.Column("supervisor_pid", sa.Integer),
        sa.Column("supervisor_started", sa.Float),
        sa.Column("heartbeat_time", UTCDateTime()),
    )
    op.create_table(
        "status_transitions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("training_jobs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secondary_status", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_table(
        "metric_points",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("training_jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("epoch", sa.Integer),
    )
    op.create_index("ix_metric_points_job_name_id", "metric_points", ["job_id", "name", "id"])


def downgrade() -> None:
    op.drop_table("metric_points")
    op.drop_table("status_transitions")
    op.drop_table("training_jobs")
