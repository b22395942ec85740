"""Bounded request bodies: the depth scan, the streamed byte count, and the route guard."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from fastapi import Request
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message

from openreplica.server.errors import ApiError
from openreplica.server.request_body import MAX_JSON_DEPTH, nesting_exceeds, read_body

from .conftest import MakeApi


@pytest.mark.parametrize(
    ("data", "limit", "exceeds"),
    [
        (b"[[1]]", 2, False),
        (b"[[[1]]]", 2, True),
        (b'{"a": {"b": []}}', 3, False),
        (b'{"a": {"b": [{}]}}', 3, True),
        (b'["[[[[[[", "{{{{"]', 1, False),  # brackets inside strings do not count
        (b'["\\"[[[[", []]', 2, False),  # nor after an escaped quote
        (b"[]" * 10_000, 1, False),  # many brackets, no depth
        (b"[" * 100_000, 64, True),  # unbalanced: stops early
    ],
)
def test_nesting_depth(data: bytes, limit: int, exceeds: bool) -> None:
    assert nesting_exceeds(data, limit) is exceeds


async def test_a_streamed_body_is_cut_off_one_chunk_past_the_limit() -> None:
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    with pytest.raises(ApiError) as info:
        await read_body(request, 4096)
    assert info.value.status == 413
    assert reads == 5  # 5 KiB read for a 4 KiB limit, never the endless rest


async def test_the_route_guard_answers_401_then_413_then_400(make_api: MakeApi) -> None:
    api = await make_api(api_key="k", max_body_bytes=2048)
    json_type = {"content-type": "application/json"}
    response = await api.client.post("/v2/personas", content=b"{bad", headers=json_type)
    assert response.status_code == 401

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 512

    response = await api.client.post(
        "/v2/personas", content=endless(), headers={**json_type, "x-api-key": "k"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": "request body is larger than 2048 bytes, the limit for this route"
    }
    deep = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    response = await api.client.patch(
        "/v2/personas/p1", content=deep, headers={**json_type, "x-api-key": "k"}
    )
    assert response.status_code == 400
    assert f"{MAX_JSON_DEPTH} levels" in response.json()["error"]


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\ax', max_size=8)
json_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3)
    ),
    max_leaves=30,
)


@given(json_values)
def test_the_scan_agrees_with_the_parsed_depth(value: object) -> None:
    data = json.dumps(value).encode()
    real = _depth(value)
    assert not nesting_exceeds(data, max(real, 1))
    if real > 1:
        assert nesting_exceeds(data, real - 1)
