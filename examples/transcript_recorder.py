"""An app-side recorder: join a conversation and keep its timestamped transcript.

Joins with `last_seq=0` (so it gets everything said so far), and after every finished
utterance rewrites the output file with the transcript in the webhook's shape (SPEC §6:
`role, content, timestamp, seconds_from_start, duration, inference_id`). Stops when the
conversation ends (or on Ctrl-C). Events arrive in order and exactly once even across a
dropped connection, so the file never has a gap or a repeated line.

    python examples/transcript_recorder.py http://127.0.0.1:8000/c/ID --out talk.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from openreplica.client import ClientError, TranscriptEntry, connect

#: events after which the transcript has a new or finished line
LINE_DONE = {"conversation.utterance", "conversation.replica.stopped_speaking"}


def render(entries: list[dict[str, object]]) -> str:
    lines = []
    for e in entries:
        when = datetime.fromtimestamp(float(str(e["timestamp"])), UTC).strftime("%H:%M:%S")
        lines.append(f"{when} +{e['seconds_from_start']:.1f}s {e['role']}: {e['content']}")
    return "\n".join(lines) + "\n"


async def record(url: str, out: Path, api_key: str | None) -> None:
    async with await connect(url, api_key=api_key, last_seq=0) as conv:
        print(f"recording {conv.conversation_id} to {out}", flush=True)
        async for event in conv:
            if event.event_type in LINE_DONE:
                save(conv.transcript(), out)
        save(conv.transcript(), out)
        print(f"conversation ended: {len(conv.transcript())} lines in {out}", flush=True)


def save(transcript: list[TranscriptEntry], out: Path) -> None:
    entries = msgspec.to_builtins(transcript)
    tmp = out.with_suffix(out.suffix + ".tmp")
    if out.suffix == ".json":
        tmp.write_text(json.dumps(entries, indent=2) + "\n")
    else:
        tmp.write_text(render(entries))
    tmp.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="the conversation_url (or its WebSocket URL)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("transcript.json"),
        help="output file: .json (webhook shape) or anything else (text)",
    )
    parser.add_argument("--api-key", default=os.environ.get("OPENREPLICA_API_KEY"))
    args = parser.parse_args()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(record(args.url, args.out, args.api_key))
    except ClientError as error:  # e.g. a wrong token or API key: one line, no traceback
        sys.exit(f"transcript_recorder: {error}")


if __name__ == "__main__":
    main()
