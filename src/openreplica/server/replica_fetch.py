"""Fetching a training photo or video (`train_image_url`, `train_video_url`), bounded and
refusing internal hosts.

Only http(s); the host must resolve to public addresses unless `allow_private` (tests,
intranets); no redirects (a redirect could lead inside); the reply must say it is
an image (a video) and stay under `max_bytes`; the whole fetch has a deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

__all__ = ["FetchError", "fetch_image", "fetch_video"]

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp"})
VIDEO_TYPES = frozenset(
    {"video/mp4", "video/webm", "video/quicktime", "video/x-matroska", "video/x-msvideo"}
)


class FetchError(ValueError):
    """The URL could not be used; the message says why."""


async def _check_host(host: str, port: int) -> None:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(
                f"{host!r} resolves to the non-public address {address}; refused "
                "(OPENREPLICA_REPLICA_FETCH_PRIVATE=1 allows it)"
            )


async def fetch_image(
    url: str,
    *,
    allow_private: bool = False,
    max_bytes: int = 10 * 1024 * 1024,
    timeout: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    return await _fetch(
        url,
        "train_image_url",
        IMAGE_TYPES,
        "an image",
        allow_private,
        max_bytes,
        timeout,
        transport,
    )


async def fetch_video(
    url: str,
    *,
    allow_private: bool = False,
    max_bytes: int = 64 * 1024 * 1024,
    timeout: float = 60.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    return await _fetch(
        url, "train_video_url", VIDEO_TYPES, "a video", allow_private, max_bytes, timeout, transport
    )


async def _fetch(
    url: str,
    field: str,
    types: frozenset[str],
    what: str,
    allow_private: bool,
    max_bytes: int,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
) -> bytes:
    noun = what.split()[-1]
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"not a URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"{field} must be an http(s) URL")
    if not allow_private:
        await _check_host(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    try:
        async with asyncio.timeout(timeout):
            async with (
                httpx.AsyncClient(
                    follow_redirects=False, trust_env=False, transport=transport
                ) as c,
                c.stream("GET", url) as resp,
            ):
                if resp.status_code != 200:
                    raise FetchError(f"{field} answered HTTP {resp.status_code}")
                kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in types:
                    raise FetchError(f"{field} is {kind or 'untyped'}, not {what}")
                length = resp.headers.get("content-length", "")
                if length.isdigit() and int(length) > max_bytes:
                    raise FetchError(f"the {noun} is over {max_bytes // (1024 * 1024)} MiB")
                data = bytearray()
                async for chunk in resp.aiter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise FetchError(f"the {noun} is over {max_bytes // (1024 * 1024)} MiB")
                return bytes(data)
    except TimeoutError as exc:
        raise FetchError(f"fetching {field} took over {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {field}: {exc or type(exc).__name__}") from exc
