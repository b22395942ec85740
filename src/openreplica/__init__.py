"""openreplica: a self-hostable conversational video replica server."""

__version__ = "0.1.0"
