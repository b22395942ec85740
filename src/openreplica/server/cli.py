"""`openreplica serve`: load the settings once, check them, and run the app (uvicorn)."""

from __future__ import annotations

import argparse
import socket
import sys

from openreplica.server.settings import OPTIONS, ServerSettings, SettingsError

EPILOG = """Every flag can also be set by its environment variable (shown beside it); a
flag wins over the variable. Without an API key, REST auth is off and the server only
binds to a loopback address."""


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="start the server",
        description="Serve the REST API, the WebSocket data channel and webhooks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for option in OPTIONS:
        serve.add_argument(
            option.flag,
            *option.aliases,
            dest=option.name,
            default=None,
            metavar=option.metavar,
            help=f"{option.help} [env {option.env}]",
        )
    serve.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    try:
        settings = ServerSettings.load(vars(args))
        settings.check()
    except SettingsError as exc:
        print(f"openreplica serve: {exc}", file=sys.stderr)
        return 2
    if settings.workers:
        from openreplica.server.workers import supervise

        return supervise(settings)
    return serve(settings)


def serve(settings: ServerSettings, sockets: list[socket.socket] | None = None) -> int:
    """Run the app until stopped; on `sockets` (already bound: `--workers`) when given."""
    import uvicorn

    from openreplica import __version__
    from openreplica.server.app import create_app
    from openreplica.server.graceful import EndConversationsFirst
    from openreplica.server.logs import configure_logging
    from openreplica.server.ws_protocol import LenientTextWebSocketProtocol

    configure_logging(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    auth = "REST auth on (x-api-key)" if settings.rest_auth else "REST auth off: loopback only"
    node = f"node {settings.this_node_id} at {settings.node_url}; " if settings.clustered else ""
    print(
        f"openreplica {__version__} serving on http://{settings.host}:{settings.port} "
        f"({auth}); {node}data in {settings.data_dir}",
        flush=True,
    )
    if settings.testing_scripted_plugins:
        print("TESTING ONLY: scripted plugins (tone TTS, echoing LLM), no models", flush=True)
    _share_cores_fairly()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        # Frames somewhat over the message limit are read so that they get a
        # `message_too_large` reply instead of a dropped connection (SPEC §2.1).
        ws_max_size=settings.max_message_bytes * 2 + 65536,
        ws_per_message_deflate=False,
        ws=LenientTextWebSocketProtocol,  # invalid UTF-8 text gets `invalid_json`
        lifespan="on",
    )
    server = EndConversationsFirst(config, app.state)
    server.run(sockets=sockets)
    return 0 if server.started else 3


def _share_cores_fairly() -> None:
    """One OpenCV thread per call. The avatar renderer and perception call OpenCV from
    many conversations at once; its own thread pool would compete with the event loop
    for the cores and delay audio (measured by bench/perception.py). Process-wide, so it
    is set here, at the edge. The same goes for BLAS/OpenMP (the photo rig's spline
    solves): threaded, a 150x150 solve took 40 ms under load, on one thread 0.2 ms."""
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    threadpool_limits(1)
