"""Alembic environment: always run on a connection the server hands over (see
`openreplica.server.schema.upgrade`); there is no alembic.ini and no URL here."""

from __future__ import annotations

from alembic import context

from openreplica.server.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
