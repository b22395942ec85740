"""uvicorn's WebSocket protocol, with one change: a text frame that is not valid UTF-8
reaches the app as bytes instead of closing the connection with an ERROR traceback.

SPEC §2.3 treats a message that is not JSON (JSON is UTF-8) like any other bad message:
one `system.error` (`invalid_json`, from the codec) and the connection goes on. RFC 6455
would fail the connection (1007); uvicorn also logged a traceback for every such frame,
so anyone could flood the log. Here it is logged once per connection, at debug.
"""

from __future__ import annotations

import logging

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["LenientTextWebSocketProtocol"]

log = logging.getLogger(__name__)


class LenientTextWebSocketProtocol(WebSocketsSansIOProtocol):
    _reported_bad_text = False

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not _utf8(self.frames):
            self.curr_msg_data_type = "bytes"  # the app answers `invalid_json`
            if not self._reported_bad_text:
                self._reported_bad_text = True
                log.debug("%s: text frame is not valid UTF-8 (once per connection)", self.client)
        super().send_receive_event_to_app()


def _utf8(frames: list[bytes]) -> bool:
    try:
        (frames[0] if len(frames) == 1 else b"".join(frames)).decode()
    except UnicodeDecodeError:
        return False
    return True
