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
        # APScheduler owns its job table; migrations neither create nor drop it.
        include_object=lambda obj, name, type_, reflected, compare_to: name != "apscheduler_jobs",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
