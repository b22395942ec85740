"""What the routes share: the app's services and the REST auth check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from openreplica.plugins.avatar.catalog import AvatarCatalog
from openreplica.runtime import Clock
from openreplica.server.cluster_node import ClusterNode
from openreplica.server.hub import ConversationHub
from openreplica.server.request_body import check_api_key
from openreplica.server.settings import ServerSettings
from openreplica.server.store import Store

__all__ = ["MAX_PAGE_SIZE", "Services", "iso", "page_limit", "require_api_key", "services"]

#: lists return at most this many objects a page; a larger `limit` is clamped to it, as
#: the hosted API does (SPEC §5), so a wrapper asking for `limit=1000` still works
MAX_PAGE_SIZE = 100

#: documents the header in OpenAPI; the check itself is `require_api_key`
API_KEY_HEADER = APIKeyHeader(name="x-api-key", auto_error=False)


@dataclass(frozen=True)
class Services:
    settings: ServerSettings
    store: Store
    hub: ConversationHub
    clock: Clock
    catalog: AvatarCatalog
    #: this process as a cluster node (or the only one)
    node: ClusterNode


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def require_api_key(
    request: Request, key: Annotated[str | None, Security(API_KEY_HEADER)] = None
) -> None:
    """401 unless `x-api-key` matches the server's key (no key configured = REST auth off)."""
    check_api_key(request.app.state.settings, key)


def iso(epoch: float) -> str:
    """ISO-8601 UTC, e.g. 2025-11-24T16:00:00.000Z."""
    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def page_limit(limit: int) -> int:
    """`limit` clamped to `MAX_PAGE_SIZE`."""
    return min(limit, MAX_PAGE_SIZE)
