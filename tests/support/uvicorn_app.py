"""The app served by a real uvicorn on a loopback port inside the test's event loop (the
browser tests talk to it), stopped at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from eventually import eventually
from fastapi import FastAPI

__all__ = ["uvicorn_serving"]


@asynccontextmanager
async def uvicorn_serving(
    app: FastAPI, port: int, *, start_timeout: float = 5.0
) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1:`port`; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    await eventually(
        lambda: server.started, timeout=start_timeout, interval=0.01, message="uvicorn start"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
