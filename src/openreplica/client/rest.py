"""REST helpers for personas and conversations (SPEC §5), over httpx.

Every call returns the server's JSON (a `dict`) or raises `ApiError(status, body)` with
the server's error body. `conversation_*` results are plain dicts with the SPEC's keys
(`conversation_id`, `conversation_url`, `status`, `meeting_token` …).
"""

from __future__ import annotations

from typing import Any, Self

import httpx

from openreplica.client.errors import ApiError

__all__ = ["JSONObject", "RestClient"]

JSONObject = dict[str, Any]


class RestClient:
    """The `/v2` REST API of one server.

    `api_key` is sent as `x-api-key`. Pass `transport=` (an httpx transport, e.g.
    `httpx.MockTransport`) to test without a network. Close with `aclose()` or use
    `async with`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        headers = {"x-api-key": api_key} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/v2",
            headers=headers,
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ personas

    async def create_persona(self, persona: JSONObject | None = None, **fields: Any) -> JSONObject:
        """`POST /v2/personas` with `persona` and/or keyword fields (`persona_name`,
        `system_prompt`, `pipeline_mode`, `context`, `layers` …)."""
        return await self._json("POST", "/personas", {**(persona or {}), **fields})

    async def get_persona(self, persona_id: str) -> JSONObject:
        return await self._json("GET", f"/personas/{persona_id}")

    async def list_personas(self, **params: Any) -> JSONObject:
        """`{"data": […], "total_count": n}`."""
        return await self._json("GET", "/personas", params=params)

    async def patch_persona(self, persona_id: str, operations: list[JSONObject]) -> JSONObject:
        """Apply a JSON Patch (RFC 6902), e.g.
        `[{"op": "replace", "path": "/system_prompt", "value": "…"}]`."""
        return await self._json("PATCH", f"/personas/{persona_id}", operations)

    async def delete_persona(self, persona_id: str) -> None:
        await self._json("DELETE", f"/personas/{persona_id}")

    # ------------------------------------------------------------------ conversations

    async def create_conversation(
        self, conversation: JSONObject | None = None, **fields: Any
    ) -> JSONObject:
        """`POST /v2/conversations` (`persona_id`, `conversation_name`,
        `conversational_context`, `custom_greeting`, `callback_url`, `require_auth`,
        `properties` …)."""
        return await self._json("POST", "/conversations", {**(conversation or {}), **fields})

    async def get_conversation(self, conversation_id: str, *, verbose: bool = False) -> JSONObject:
        """The conversation; with `verbose`, also its `events` and `transcript`."""
        params = {"verbose": "true"} if verbose else None
        return await self._json("GET", f"/conversations/{conversation_id}", params=params)

    async def list_conversations(
        self, *, limit: int | None = None, page: int | None = None, status: str | None = None
    ) -> JSONObject:
        """`{"data": […], "total_count": n}`, optionally paged or filtered by status."""
        params = {
            k: v
            for k, v in {"limit": limit, "page": page, "status": status}.items()
            if v is not None
        }
        return await self._json("GET", "/conversations", params=params)

    async def end_conversation(self, conversation_id: str) -> JSONObject:
        return await self._json("POST", f"/conversations/{conversation_id}/end")

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._json("DELETE", f"/conversations/{conversation_id}")

    async def list_replicas(self) -> JSONObject:
        return await self._json("GET", "/replicas")

    # ------------------------------------------------------------------ plumbing

    async def _json(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
    ) -> JSONObject:
        try:
            response = await self._http.request(method, path, json=body, params=params or None)
        except httpx.HTTPError as exc:
            raise ApiError(
                0,
                {"error": f"cannot reach the server: {exc}"},
                method=method,
                url=self.base_url + "/v2" + path,
            ) from None
        if response.status_code >= 400:
            try:
                error_body: Any = response.json()
            except ValueError:
                error_body = response.text
            raise ApiError(response.status_code, error_body, method=method, url=str(response.url))
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise ApiError(
                response.status_code,
                {"error": "the server's answer is not JSON", "body": response.text[:500]},
                method=method,
                url=str(response.url),
            ) from None
        return data if isinstance(data, dict) else {"data": data}
