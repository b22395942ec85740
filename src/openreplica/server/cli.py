"""`openreplica serve`: start the HTTP server."""

from __future__ import annotations

import argparse


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="start the server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI(title="openreplica")

    @app.get("/")
    def about() -> dict[str, str]:
        return {"name": "openreplica", "status": "protocol core only; the API is coming"}

    print(f"openreplica listening on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
