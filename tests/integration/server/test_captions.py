"""`properties.enable_closed_captions` (the hosted API's meaning: the call room shows live
captions): the call page at `conversation_url` starts with captions on only when it is
set; its CC button still toggles them (tests/e2e drives the page in Chromium)."""

from __future__ import annotations

import httpx

from .conftest import ServerProcess


def test_the_call_page_starts_with_captions_only_when_enabled(server: ServerProcess) -> None:
    pages = {}
    for enabled in (True, False, None):
        properties = {} if enabled is None else {"enable_closed_captions": enabled}
        created = server.post("/v2/conversations", {"properties": properties})
        if enabled is not None:
            assert created["properties"]["enable_closed_captions"] is enabled
        response = httpx.get(created["conversation_url"])
        assert response.status_code == 200
        pages[enabled] = response.text
    assert 'class="app" id="app"' in pages[True] and 'id="cc" aria-pressed="true"' in pages[True]
    for off in (False, None):
        assert 'class="app no-captions" id="app"' in pages[off]
        assert 'id="cc" aria-pressed="false"' in pages[off]
    refused = httpx.post(
        server.url + "/v2/conversations", json={"properties": {"enable_closed_captions": "x"}}
    )
    assert refused.status_code == 400 and "enable_closed_captions" in refused.json()["error"]
