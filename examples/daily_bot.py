"""A daily-python bot for a CVI conversation, ported to openreplica by two changed lines.

It creates a conversation over the REST API, joins it with daily-python's `CallClient`,
records the replica's voice from a virtual speaker into a WAV file, optionally plays a
WAV file into a virtual microphone (heard as the user speaking), and sends each line as
an app message: `conversation.respond` (the replica answers) or, with `--echo`,
`conversation.echo` (the replica says it verbatim). It prints what the replica says.

    python examples/daily_bot.py --persona-id p123 --say "Tell me a joke."
    python examples/daily_bot.py --echo --say "Hello there." --record replica.wav
    python examples/daily_bot.py --persona-id p123 --speak question.wav

docs/porting.md shows the port line by line.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import wave
from typing import Any

import httpx

# The port, 1 of 2: `from daily import CallClient, Daily, EventHandler` becomes
from openreplica.client.daily import CallClient, Daily, EventHandler

# The port, 2 of 2: the REST base URL, "https://tavusapi.com", becomes the server's
API_BASE = os.environ.get("OPENREPLICA_URL", "http://127.0.0.1:8000")
SAMPLE_RATE = 16000


class Bot(EventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.replica_done = threading.Event()
        self.ended = threading.Event()

    def on_participant_joined(self, participant: Any) -> None:
        info = participant["info"]
        if "tavus-replica" in info["userId"]:
            print(f"replica joined: {info['userName']}", flush=True)

    def on_app_message(self, message: Any, sender: str) -> None:
        if not isinstance(message, dict):
            return
        event, props = message.get("event_type"), message.get("properties") or {}
        if event == "conversation.utterance":
            print(f"{props.get('role')}: {props.get('speech')}", flush=True)
        elif event == "conversation.replica.stopped_speaking":
            self.replica_done.set()
        elif event == "system.error":
            print(f"error: {props.get('message')}", flush=True)
            self.replica_done.set()
        elif event == "system.shutdown":
            self.ended.set()

    def on_call_state_updated(self, state: str) -> None:
        if state == "left":
            self.ended.set()


def create_conversation(api_key: str | None, persona_id: str | None, echo: bool) -> Any:
    headers = {"x-api-key": api_key} if api_key else {}
    with httpx.Client(base_url=API_BASE, headers=headers, timeout=30) as http:
        if persona_id is None:
            persona = {"persona_name": "Bot demo", "pipeline_mode": "echo" if echo else "full"}
            persona_id = (
                http.post("/v2/personas", json=persona).raise_for_status().json()["persona_id"]
            )
        body = {"persona_id": persona_id, "conversation_name": "daily bot"}
        return http.post("/v2/conversations", json=body).raise_for_status().json()


def record(speaker: Any, path: str, stop: threading.Event) -> None:
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        while not stop.is_set():
            out.writeframes(speaker.read_frames(SAMPLE_RATE // 10))  # 100 ms at a time


def speak(mic: Any, path: str) -> None:
    with wave.open(path, "rb") as source:
        if (source.getframerate(), source.getnchannels()) != (SAMPLE_RATE, 1):
            raise SystemExit(f"{path}: give 16 kHz mono 16-bit PCM")
        while frames := source.readframes(SAMPLE_RATE // 10):
            mic.write_frames(frames)  # blocking: paced in real time
    mic.write_frames(bytes(2 * SAMPLE_RATE))  # a second of silence ends the turn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api-key", default=os.environ.get("OPENREPLICA_API_KEY"))
    parser.add_argument("--persona-id")
    parser.add_argument("--echo", action="store_true", help="conversation.echo, not respond")
    parser.add_argument("--say", action="append", default=[], help="a line to send")
    parser.add_argument("--speak", help="a 16 kHz mono WAV file to say into the microphone")
    parser.add_argument("--record", default="replica.wav", help="where the replica's voice goes")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    try:
        conversation = create_conversation(args.api_key, args.persona_id, args.echo)
    except httpx.HTTPStatusError as error:  # e.g. a wrong API key (401): one line
        sys.exit(
            f"daily_bot: {error.request.url} -> {error.response.status_code}: "
            f"{error.response.text.strip()}"
        )
    except httpx.HTTPError as error:
        sys.exit(f"daily_bot: cannot reach {API_BASE}: {error}")
    Daily.init()
    mic = Daily.create_microphone_device("bot-mic", sample_rate=SAMPLE_RATE, channels=1)
    speaker = Daily.create_speaker_device("bot-speaker", sample_rate=SAMPLE_RATE, channels=1)
    Daily.select_speaker_device("bot-speaker")

    bot = Bot()
    client = CallClient(event_handler=bot)
    joined = threading.Event()
    failure: list[str] = []

    def on_joined(data: Any, error: str | None) -> None:
        if error:
            failure.append(error)
        joined.set()

    client.join(
        conversation["conversation_url"],
        meeting_token=conversation.get("meeting_token"),
        client_settings={
            "inputs": {
                "camera": False,
                "microphone": {"isEnabled": True, "settings": {"deviceId": "bot-mic"}},
            }
        },
        completion=on_joined,
    )
    if not joined.wait(args.timeout) or failure:
        raise SystemExit(f"could not join: {failure or 'timed out'}")
    stop = threading.Event()
    recorder = threading.Thread(target=record, args=(speaker, args.record, stop))
    recorder.start()
    try:
        if args.speak:
            bot.replica_done.clear()
            speak(mic, args.speak)
            bot.replica_done.wait(args.timeout)
        for line in args.say:
            bot.replica_done.clear()
            kind = "conversation.echo" if args.echo else "conversation.respond"
            message = {
                "message_type": "conversation",
                "event_type": kind,
                "conversation_id": conversation["conversation_id"],
                "properties": {"text": line},
            }
            client.send_app_message(message)
            if not bot.replica_done.wait(args.timeout):
                raise SystemExit(f"no answer to {line!r} in {args.timeout} s")
    finally:
        stop.set()
        recorder.join()
        client.leave()
        client.release()
        Daily.deinit()
    print(f"recorded the replica to {args.record}")


if __name__ == "__main__":
    main()
