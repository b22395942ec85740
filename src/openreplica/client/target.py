"""Where a conversation lives: parse the URLs an application is given."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

__all__ = ["ConversationTarget"]

_PAGE = re.compile(r"^(?P<root>.*?)/c/(?P<id>[^/]+)/?$")
_API = re.compile(r"^(?P<root>.*?)/v2/conversations/(?P<id>[^/]+)(?:/ws|/webrtc/offer)?/?$")


@dataclass(frozen=True, slots=True)
class ConversationTarget:
    """A conversation on a server: its HTTP base URL, its id and its credentials."""

    base_url: str
    conversation_id: str
    token: str | None = None
    api_key: str | None = None

    @classmethod
    def from_url(
        cls, url: str, *, token: str | None = None, api_key: str | None = None
    ) -> ConversationTarget:
        """Parse a `conversation_url` (`http://host/c/{id}?t=…`), a WebSocket URL
        (`ws://host/v2/conversations/{id}/ws?t=…`) or a REST URL of the conversation."""
        parts = urlsplit(url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        if scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not a conversation URL: {url!r}")
        match = _PAGE.match(parts.path) or _API.match(parts.path)
        if match is None:
            raise ValueError(
                f"cannot find a conversation id in {url!r}; expected …/c/ID or "
                "…/v2/conversations/ID/ws"
            )
        query = parse_qs(parts.query)
        url_token = query.get("t", [None])[0]
        base = urlunsplit((scheme, parts.netloc, match["root"], "", ""))
        return cls(base.rstrip("/"), match["id"], token or url_token, api_key)

    def with_credentials(
        self, *, token: str | None = None, api_key: str | None = None
    ) -> ConversationTarget:
        """A copy with the given credentials filled in (None keeps the current one)."""
        return replace(self, token=token or self.token, api_key=api_key or self.api_key)

    def ws_url(self, last_seq: int | None = None) -> str:
        """The data-channel WebSocket URL (SPEC §2.1)."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query: dict[str, str] = {}
        if self.token:
            query["t"] = self.token
        if last_seq is not None:
            query["last_seq"] = str(last_seq)
        path = f"{parts.path}/v2/conversations/{self.conversation_id}/ws"
        return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))

    def http_url(self, path: str) -> str:
        """An HTTP URL under the conversation's REST path (`""`, `"/webrtc/offer"` …)."""
        return f"{self.base_url}/v2/conversations/{self.conversation_id}{path}"

    def auth_headers(self) -> dict[str, str]:
        """`x-api-key` when an API key is known."""
        return {"x-api-key": self.api_key} if self.api_key else {}
