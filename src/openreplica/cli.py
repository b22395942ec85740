"""The `openreplica` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import BinaryIO, TextIO

from openreplica import __version__
from openreplica.protocol import DEFAULT_MAX_MESSAGE_BYTES, ProtocolError, message_schema
from openreplica.protocol.validate import validate_message


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    result: int = args.run(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openreplica",
        description="openreplica: a self-hostable conversational video replica server "
        "speaking the CVI Interactions Protocol.",
    )
    parser.add_argument("--version", action="version", version=f"openreplica {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    schema = commands.add_parser("schema", help="print the JSON Schema of every message")
    schema.set_defaults(run=_run_schema)

    validate = commands.add_parser(
        "validate",
        help="check JSON messages, one per line",
        description="Read JSON messages (interactions or events), one per line, and print "
        "`ok <event_type>` or `error <code>: <message>` for each. Exits 1 if any line failed.",
    )
    validate.add_argument("file", help="a file of JSON lines, or - for standard input")
    validate.add_argument(
        "--max-bytes", type=int, default=DEFAULT_MAX_MESSAGE_BYTES, help="message size limit"
    )
    validate.set_defaults(run=_run_validate)

    _add_server_commands(commands)
    _add_models_commands(commands)
    _add_chat_command(commands)
    return parser


def _add_server_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from openreplica.server.cli import add_serve_command
    from openreplica.server.doctor import add_doctor_command

    add_serve_command(commands)
    add_doctor_command(commands)


def _add_models_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from openreplica.model_downloads import add_models_command

    add_models_command(commands)


def _add_chat_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from openreplica.client.chat import add_chat_command

    add_chat_command(commands)


def _run_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(json.dumps(message_schema(), indent=2) + "\n")
    return 0


def _run_validate(args: argparse.Namespace) -> int:
    if args.file == "-":
        return validate_lines(sys.stdin.buffer, sys.stdout, max_bytes=args.max_bytes)
    try:
        with open(args.file, "rb") as source:
            return validate_lines(source, sys.stdout, max_bytes=args.max_bytes)
    except OSError as exc:
        print(f"openreplica validate: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2


def validate_lines(source: BinaryIO, out: TextIO, *, max_bytes: int) -> int:
    failed = 0
    for raw in source:
        line = raw.strip()
        if not line:
            continue
        try:
            out.write(f"ok {validate_message(line, max_bytes=max_bytes)}\n")
        except ProtocolError as error:
            failed += 1
            out.write(f"error {error.code.value}: {error.message}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
