"""Can a persona's conversations answer? The operator's guidance when they cannot.

Used where an operator looks: the persona's REST reply (`warnings`), the log when a
conversation starts, and `openreplica doctor`. The people in a call never see these
texts: the call page shows them a friendly state instead (static/call.js).
"""

from __future__ import annotations

import asyncio
import importlib.util

import httpx

from openreplica.server.persona_config import ConversationConfig, conversation_config
from openreplica.server.schemas import ConversationCreate, PersonaCreate
from openreplica.server.settings import ServerSettings

__all__ = ["llama_installed", "llm_problem", "persona_warnings", "reachable"]

NO_LLM = (
    "this persona has no LLM, so its replica cannot answer: run `openreplica models pull` "
    "(a local model, with pip install 'openreplica[llama]'), or set OPENREPLICA_LLM_BASE_URL "
    "(and _MODEL) to an OpenAI-compatible server, or give the persona layers.llm.base_url"
)


def llama_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


async def reachable(url: str, timeout: float = 1.0) -> str | None:
    """None when something accepts TCP connections at the URL's host and port, else why
    not. A connection only: no request is sent, so no key or quota is spent."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"{url!r} is not a URL ({exc})"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if not parsed.host:
        return f"{url!r} has no host"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parsed.host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return f"cannot connect to {parsed.host}:{port} ({exc or type(exc).__name__})"
    writer.close()
    return None


async def llm_problem(config: ConversationConfig, *, timeout: float = 1.0) -> str | None:
    """What stops a full-pipeline conversation from answering, or None."""
    if config.engine.pipeline_mode != "full":
        return None
    if config.llm_engine is None:
        return NO_LLM
    if config.llm_engine == "llama":
        path = config.llm.model or ""
        if not llama_installed():
            return (
                f"the local model {path} needs llama-cpp-python: "
                "pip install 'openreplica[llama]' (compiles llama.cpp, about 6 minutes)"
            )
        if not await asyncio.to_thread(_is_file, path):
            return f"the local model {path!r} does not exist: run `openreplica models pull`"
        return None
    base_url = config.llm.base_url or ""
    why = await reachable(base_url, timeout)
    if why is not None:
        return f"the LLM endpoint {base_url} is not reachable: {why}"
    return None


def _is_file(path: str) -> bool:
    from pathlib import Path

    return Path(path).expanduser().is_file()


async def persona_warnings(
    persona: PersonaCreate, settings: ServerSettings, default_replica_id: str = ""
) -> list[str]:
    """The persona's `warnings` for its REST reply: engine fallbacks and the LLM."""
    config = conversation_config(persona, ConversationCreate(), settings, default_replica_id)
    problem = await llm_problem(config)
    return [*config.warnings, *([problem] if problem else [])]
