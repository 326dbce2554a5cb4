"""Alembic environment: the engine comes from :class:`broker.store.db.Database`.

On PostgreSQL the migration transaction first takes an advisory lock, so nodes that start
``broker db upgrade`` together run one after the other: the first migrates, the others find
the schema at head. The lock is released when the transaction ends, even if a node dies.
"""
from alembic import context
from sqlalchemy import text

from broker.store.models import Base

#: pg_advisory_xact_lock key of Cognate's schema migrations (any constant bigint; "cognate" in ASCII).
MIGRATION_LOCK = 0x636F676E617465

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
