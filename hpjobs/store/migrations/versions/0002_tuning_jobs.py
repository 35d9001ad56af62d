"""Hyperparameter tuning jobs, and the link from training jobs to the tuning job that made them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hpjobs.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tuning_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("name_key", sa.String(32), nullable=False, unique=True),
        sa.Column("arn", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("failure_reason", sa.Text),
        sa.Column("creation_time", UTCDateTime(), nullable=False, index=True),
        sa.Column("last_modified_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime()),
        sa.Column("completion_details", sa.JSON),
        sa.Column("job_dir", sa.Text, nullable=False),
        sa.Column("tuner_pid", sa.Integer),
        sa.Column("tuner_started", sa.Float),
        sa.Column("heartbeat_time", UTCDateTime()),
    )
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("tuning_job_id", sa.Integer))
        batch.add_column(sa.Column("tuning_job_arn", sa.String(256)))
        batch.add_column(sa.Column("tuning_definition", sa.String(64)))
        batch.add_column(sa.Column("tuned_hyperparameters", sa.JSON))
        batch.add_column(sa.Column("objective_value", sa.Float))
        batch.add_column(sa.Column("objective_status", sa.String(16)))
        batch.create_foreign_key(
            "fk_training_jobs_tuning_job_id",
            "tuning_jobs",
            ["tuning_job_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_training_jobs_tuning_job_id", ["tuning_job_id"])


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_index("ix_training_jobs_tuning_job_id")
        batch.drop_constraint("fk_training_jobs_tuning_job_id", type_="foreignkey")
        for column in (
            "objective_status",
            "objective_value",
            "tuned_hyperparameters",
            "tuning_definition",
            "tuning_job_arn",
            "tuning_job_id",
        ):
            batch.drop_column(column)
    op.drop_table("tuning_jobs")
