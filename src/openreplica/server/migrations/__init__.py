"""Alembic migrations of the store's schema (run by `openreplica.server.schema`)."""
