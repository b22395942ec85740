"""A scripted narrator: an echo-mode replica reads lines out, one after the other.

Creates an echo persona (the replica says only what it is sent, no LLM) and a
conversation, joins it, narrates each line and waits until it has been spoken, then
ends the conversation and prints the transcript.

    python examples/echo_narrator.py --base-url http://127.0.0.1:8000
    python examples/echo_narrator.py --line "Once upon a time." --line "The end."
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from openreplica.client import ClientError, ReplicaClient

SCRIPT = [
    "Welcome to the openreplica narrator.",
    "Every line you give me is spoken exactly as written.",
    "That is all for today. Goodbye!",
]


async def narrate(base_url: str, api_key: str | None, lines: list[str]) -> None:
    async with ReplicaClient(base_url, api_key) as client:
        persona = await client.create_persona(
            persona_name="Narrator", pipeline_mode="echo", system_prompt="You narrate."
        )
        info = await client.create_conversation(
            persona_id=persona["persona_id"], conversation_name="Narration"
        )
        print(f"conversation {info['conversation_id']}: {info['conversation_url']}")
        async with await client.connect(info, last_seq=0) as conv:
            for line in lines:
                said = await conv.say(line)
                print(f"said: {said.spoken!r} ({said.duration or 0:.1f}s)", flush=True)
            await client.end_conversation(conv.conversation_id)
            await conv.wait_closed()
            print("transcript:")
            for entry in conv.transcript():
                print(f"  +{entry.seconds_from_start:5.1f}s {entry.role}: {entry.content}")
        await client.delete_persona(persona["persona_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=os.environ.get("OPENREPLICA_API_KEY"))
    parser.add_argument("--line", action="append", help="a line to narrate (repeatable)")
    args = parser.parse_args()
    try:
        asyncio.run(narrate(args.base_url, args.api_key, args.line or SCRIPT))
    except ClientError as error:  # e.g. a wrong API key (401): one line, no traceback
        sys.exit(f"echo_narrator: {error}")


if __name__ == "__main__":
    main()
