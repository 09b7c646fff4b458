"""Alembic environment: the engine is handed in by ``Database.alembic_config``."""

from __future__ import annotations

from alembic import context

from orchestrator.store.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` runs are not supported: use `aulacast db upgrade`
    raise RuntimeError("run migrations through `aulacast db upgrade`")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
