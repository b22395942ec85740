"""`/docs` and `/redoc` work offline: every URL their pages load is on this server."""

from __future__ import annotations

import re

import pytest

from .conftest import MakeApi

URL = re.compile(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_load_only_local_assets(make_api: MakeApi, page: str) -> None:
    api = await make_api()
    response = await api.client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "cdn." not in html and "googleapis" not in html
    urls = URL.findall(html)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts, html  # the page does load its JavaScript …
    assert "/openapi.json" in html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url  # … from here
        asset = await api.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000 or url.endswith(".json") or url.endswith(".svg"), url
    if page == "/docs":
        css = [u for u in urls if u.endswith(".css")]
        assert css and (await api.client.get(css[0])).headers["content-type"].startswith("text/css")


async def test_the_openapi_document_is_still_served(make_api: MakeApi) -> None:
    api = await make_api()
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "openreplica"
