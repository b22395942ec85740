"""A tool-calling assistant: the LLM asks for the weather, this script answers.

Creates a persona whose LLM (any OpenAI-compatible server, e.g. llama.cpp's
`llama-server`, vLLM or OpenAI) is offered a `get_weather` tool, registers a Python
function for it, asks a question and prints the tool call and the spoken answer.

    python examples/tool_assistant.py --base-url http://127.0.0.1:8000 \
        --llm-base-url http://127.0.0.1:8080/v1 --llm-model my-model
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from openreplica.client import ClientError, ReplicaClient

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

FAKE_WEATHER = {"paris": ("sunny", 21), "oslo": ("snowing", -3), "lima": ("cloudy", 18)}


async def assist(args: argparse.Namespace) -> None:
    async with ReplicaClient(args.base_url, args.api_key) as client:

        @client.tool
        async def get_weather(city: str) -> dict[str, object]:
            sky, temp = FAKE_WEATHER.get(city.lower(), ("clear", 15))
            print(f"tool: get_weather({city!r}) -> {sky}, {temp} C", flush=True)
            return {"city": city, "sky": sky, "temperature_c": temp}

        llm: dict[str, object] = {"base_url": args.llm_base_url, "tools": [WEATHER_TOOL]}
        if args.llm_model:
            llm["model"] = args.llm_model
        if args.llm_api_key:
            llm["api_key"] = args.llm_api_key
        persona = await client.create_persona(
            persona_name="Weather assistant",
            system_prompt="You are a weather assistant. Use get_weather, answer in one sentence.",
            layers={"llm": llm},
        )
        info = await client.create_conversation(persona_id=persona["persona_id"])
        async with await client.connect(info) as conv:
            for question in args.question or ["What is the weather like in Paris?"]:
                print(f"you: {question}", flush=True)
                turn = await conv.ask(question)
                print(f"replica: {turn.reply_text}", flush=True)
            await client.end_conversation(conv.conversation_id)
        await client.delete_persona(persona["persona_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", default=os.environ.get("OPENREPLICA_API_KEY"))
    parser.add_argument("--llm-base-url", required=True, help="OpenAI-compatible endpoint")
    parser.add_argument("--llm-model", default=None)
    parser.add_argument("--llm-api-key", default=os.environ.get("OPENAI_API_KEY"))
    parser.add_argument("--question", action="append", help="what to ask (repeatable)")
    try:
        asyncio.run(assist(parser.parse_args()))
    except ClientError as error:  # e.g. a wrong API key (401): one line, no traceback
        sys.exit(f"tool_assistant: {error}")


if __name__ == "__main__":
    main()
