"""Which conversation a `join(meeting_url)` means.

- An openreplica URL is used as it is: the `conversation_url`
  (`http://HOST:PORT/c/<id>?t=TOKEN`) or the data channel's WebSocket or REST URL.
- A hosted-style room URL (`https://tavus.daily.co/<conversation_id>`, one path segment)
  names the conversation on the configured openreplica server (`Daily.init(server_url=…)`
  or `OPENREPLICA_URL`), so an app that builds or stores room URLs ports with a setting.

`meeting_token` is the conversation's `meeting_token`; it wins over a `?t=` in the URL.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from openreplica.client.target import ConversationTarget

__all__ = ["resolve_meeting_url"]


def resolve_meeting_url(
    meeting_url: str,
    meeting_token: str | None = None,
    *,
    server_url: str | None = None,
    api_key: str | None = None,
) -> ConversationTarget:
    """The conversation `meeting_url` names; ValueError with the reason when none."""
    try:
        return ConversationTarget.from_url(meeting_url, token=meeting_token, api_key=api_key)
    except ValueError:
        pass
    parts = urlsplit(meeting_url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or len(segments) != 1:
        raise ValueError(
            f"not a meeting URL: {meeting_url!r}; expected http://HOST/c/<id> or a room URL "
            "https://DOMAIN/<conversation_id>"
        )
    if server_url is None:
        raise ValueError(
            f"{meeting_url!r} is a hosted room URL: say which openreplica server hosts it "
            "with Daily.init(server_url=...) or OPENREPLICA_URL"
        )
    token = meeting_token or parse_qs(parts.query).get("t", [None])[0]
    return ConversationTarget(server_url.rstrip("/"), segments[0], token, api_key)
