"""Bedrock: runtime invocations, model customization jobs and the custom models they make.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hpjobs.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("time", UTCDateTime(), nullable=False, index=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(2048), nullable=False),
        sa.Column("local_model", sa.Text, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("input_tokens", sa.Integer, nullable=False),
        sa.Column("output_tokens", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("stop_reason", sa.String(32)),
    )
    op.create_table(
        "customization_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_name", sa.String(63), nullable=False, unique=True),
        sa.Column("job_arn", sa.String(1011), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("client_request_token", sa.String(256), unique=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("failure_message", sa.Text),
        sa.Column("creation_time", UTCDateTime(), nullable=False, index=True),
        sa.Column("last_modified_time", UTCDateTime(), nullable=False),
        sa.Column("end_time", UTCDateTime()),
        sa.Column("training_job_name", sa.String(63), nullable=False),
        sa.Column("custom_model_name", sa.String(63), nullable=False),
        sa.Column("custom_model_arn", sa.String(1011), nullable=False),
        sa.Column("base_model_id", sa.String(2048), nullable=False),
        sa.Column("customization_type", sa.String(32), nullable=False),
        sa.Column("metrics", sa.JSON),
    )
    op.create_table(
        "custom_models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_name", sa.String(63), nullable=False, unique=True),
        sa.Column("model_arn", sa.String(1011), nullable=False, unique=True),
        sa.Column(
            "job_id",
            sa.Integer,
            sa.ForeignKey("customization_jobs.id", ondelete="SET NULL"),
            index=True,
        ),
        sa.Column("base_model_id", sa.String(2048), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("path", sa.Text),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("creation_time", UTCDateTime(), nullable=False, index=True),
        sa.Column("metrics", sa.JSON),
    )


def downgrade() -> None:
    op.drop_table("custom_models")
    op.drop_table("customization_jobs")
    op.drop_table("invocations")
