"""CORS (SPEC §2.5) on a real server process: preflights are answered and responses carry
`Access-Control-Allow-Origin` on the REST API, the WebRTC offer endpoint and /static, for
any origin by default and only for the configured origins otherwise; auth is unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openreplica.server.settings import ServerSettings, SettingsError

from .conftest import ServerProcess

APP = "http://127.0.0.1:5173"
OTHER = "https://evil.example"


@pytest.fixture(scope="module")
def narrow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that allows one origin only and has an API key."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("cors") / "data",
        env={"OPENREPLICA_CORS_ORIGINS": APP, "OPENREPLICA_API_KEY": "k1"},
    )
    proc.start()
    yield proc
    proc.stop()


def preflight(base: str, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        base + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
    )


def test_default_allows_any_origin_everywhere(server: ServerProcess) -> None:
    cid = server.conversation()
    offer = f"/v2/conversations/{cid}/webrtc/offer"
    for path, method in [(offer, "POST"), ("/v2/conversations", "POST"), ("/v2/personas", "GET")]:
        response = preflight(server.url, path, OTHER, method)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["access-control-allow-origin"] == "*"
        assert method in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "content-type" in allowed and "x-api-key" in allowed
        assert "access-control-allow-credentials" not in response.headers
    # Simple requests carry the header too: REST, static files, and the offer's refusal.
    listed = httpx.get(server.url + "/v2/conversations", headers={"Origin": OTHER})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == "*"
    for name in ("openreplica.js", "openreplica.classic.js"):
        script = httpx.get(f"{server.url}/static/{name}", headers={"Origin": OTHER})
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert script.headers["access-control-allow-origin"] == "*"
    bad = httpx.post(server.url + offer, json={"type": "offer"}, headers={"Origin": OTHER})
    assert bad.status_code == 400
    assert bad.headers["access-control-allow-origin"] == "*"


def test_configured_origins_only_and_auth_unchanged(narrow: ServerProcess) -> None:
    ok = preflight(narrow.url, "/v2/conversations/c1/webrtc/offer", APP)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == APP
    refused = preflight(narrow.url, "/v2/conversations/c1/webrtc/offer", OTHER)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    # A cross-origin request still needs the key; the refusal is readable by the app.
    no_key = httpx.get(narrow.url + "/v2/conversations", headers={"Origin": APP})
    assert no_key.status_code == 401
    assert no_key.headers["access-control-allow-origin"] == APP
    with_key = httpx.get(
        narrow.url + "/v2/conversations", headers={"Origin": APP, "x-api-key": "k1"}
    )
    assert with_key.status_code == 200
    other = httpx.get(
        narrow.url + "/v2/conversations", headers={"Origin": OTHER, "x-api-key": "k1"}
    )
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("*", ("*",)),
        (
            "https://a.example, http://localhost:5173/",
            ("https://a.example", "http://localhost:5173"),
        ),
    ],
)
def test_origins_setting_parses(raw: str, expected: tuple[str, ...], tmp_path: Path) -> None:
    settings = ServerSettings.load({}, {"OPENREPLICA_CORS_ORIGINS": raw, "HOME": str(tmp_path)})
    assert settings.cors_origins == expected


@pytest.mark.parametrize(
    "raw", ["example.com", "https://a.example/path", "*,https://a.example", ","]
)
def test_bad_origins_are_refused_with_the_reason(raw: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="OPENREPLICA_CORS_ORIGINS"):
        ServerSettings.load({}, {"OPENREPLICA_CORS_ORIGINS": raw, "HOME": str(tmp_path)})
