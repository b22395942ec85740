"""Client setup shared by the plugins that talk to an OpenAI-compatible server (the LLM,
ASR, TTS and vision plugins): the default endpoint, the `openai` clients, a plain `httpx`
client with the bearer key, and the words for an HTTP failure.

Every client is built the same way: no automatic retries (the conversation, not the
client, decides what to do), one `timeout`, and `trust_env=False` unless the caller says
otherwise, so proxies and keys come from the settings passed in, never from the process
environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

import httpx

if TYPE_CHECKING:  # the openai package takes a while to import: only its users pay
    import openai

__all__ = [
    "DEFAULT_BASE_URL",
    "async_http_client",
    "async_openai_client",
    "base_url_or_default",
    "describe_http_error",
    "openai_client",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers ignore the key, but the openai client insists on one; passing it
# explicitly also stops the package from reading OPENAI_API_KEY from the environment.
_NO_KEY = "no-key"


def base_url_or_default(base_url: str | None) -> str:
    """`base_url` without a trailing slash; OpenAI's own when none is given."""
    return (base_url or DEFAULT_BASE_URL).rstrip("/")


class _ClientOptions(TypedDict):
    api_key: str
    default_headers: dict[str, str]
    timeout: float
    max_retries: int


def _options(api_key: str | None, headers: Mapping[str, str], timeout: float) -> _ClientOptions:
    return {
        "api_key": api_key or _NO_KEY,
        "default_headers": dict(headers),
        "timeout": timeout,
        "max_retries": 0,
    }


def async_openai_client(
    base_url: str,
    *,
    api_key: str | None,
    headers: Mapping[str, str],
    timeout: float,
    trust_env: bool = False,
) -> openai.AsyncOpenAI:
    import openai

    http = openai.DefaultAsyncHttpxClient(trust_env=trust_env, timeout=timeout)
    return openai.AsyncOpenAI(
        base_url=base_url, http_client=http, **_options(api_key, headers, timeout)
    )


def openai_client(
    base_url: str,
    *,
    api_key: str | None,
    headers: Mapping[str, str],
    timeout: float,
    trust_env: bool = False,
) -> openai.OpenAI:
    """The synchronous client, for plugins the runtime runs in a worker thread."""
    import openai

    http = openai.DefaultHttpxClient(trust_env=trust_env, timeout=timeout)
    return openai.OpenAI(base_url=base_url, http_client=http, **_options(api_key, headers, timeout))


def async_http_client(
    *,
    api_key: str | None,
    headers: Mapping[str, str] | None,
    timeout: float,
    trust_env: bool = False,
) -> httpx.AsyncClient:
    """A plain HTTP client for the endpoints the `openai` client does not stream as
    needed (speech, transcription): `Authorization: Bearer` when a key is given."""
    all_headers = dict(headers or {})
    if api_key:
        all_headers["Authorization"] = f"Bearer {api_key}"
    return httpx.AsyncClient(headers=all_headers, timeout=timeout, trust_env=trust_env)


def describe_http_error(exc: httpx.HTTPError) -> str:
    """What went wrong, for the message of a plugin's `…Unavailable` error."""
    if isinstance(exc, httpx.TimeoutException):
        return "no response in time"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}"
