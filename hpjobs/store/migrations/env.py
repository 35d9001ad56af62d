"""Alembic environment: migrations run on the connection the store hands over."""

from __future__ import annotations

from alembic import context

from hpjobs.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
context.run_migrations()
