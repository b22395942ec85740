"""Exceptions raised by the client."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "ClientError",
    "ConnectionLost",
    "ConversationClosed",
    "ConversationEnded",
    "ConversationNotFound",
    "NotAuthorised",
    "ReconnectFailed",
]

#: WebSocket close codes of SPEC §2.1
CLOSE_NOT_AUTHORISED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_ENDED = 4410


class ClientError(Exception):
    """Base of every error the client raises on purpose."""


class ApiError(ClientError):
    """The REST API answered with an error status.

    `body` is the server's error body as sent (`{"error": …}` or `{"message": …}`),
    or the raw text when it was not JSON.
    """

    def __init__(self, status: int, body: Any, *, method: str = "", url: str = "") -> None:
        self.status = status
        self.body = body
        self.method = method
        self.url = url
        super().__init__(f"{method} {url} -> {status}: {self.detail}".strip())

    @property
    def detail(self) -> str:
        """The server's human-readable message, when it gave one."""
        if isinstance(self.body, dict):
            for key in ("error", "message", "detail"):
                if key in self.body:
                    return str(self.body[key])
        return str(self.body)


class ConnectionLost(ClientError):
    """A transport connection closed or could not be opened.

    `code` is the WebSocket close code (or the HTTP status of a refused upgrade), None
    when the network failed.
    """

    def __init__(self, code: int | None, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"connection closed ({code}): {reason}" if code else reason or "closed")


class ConversationClosed(ClientError):
    """The conversation cannot be (re)joined; raised by sends and by event iteration."""


class NotAuthorised(ConversationClosed):
    """Close code 4401: a missing or wrong meeting token / API key."""


class ConversationNotFound(ConversationClosed):
    """Close code 4404: no such conversation."""


class ConversationEnded(ConversationClosed):
    """Close code 4410: the conversation has ended."""


class ReconnectFailed(ConversationClosed):
    """The connection dropped and every reconnect attempt failed."""


def closed_error(lost: ConnectionLost) -> ConversationClosed | None:
    """The terminal error a close code means, or None when reconnecting may help."""
    code = lost.code
    if code in (CLOSE_NOT_AUTHORISED, 401, 403):
        return NotAuthorised(f"not authorised: {lost.reason or 'check the token or API key'}")
    if code in (CLOSE_NOT_FOUND, 404):
        return ConversationNotFound(f"no such conversation: {lost.reason}".rstrip(": "))
    if code in (CLOSE_ENDED, 410):
        return ConversationEnded(f"the conversation has ended: {lost.reason}".rstrip(": "))
    return None
