"""Registered tools answered end to end: server → LLM → tool call → client → LLM (the
server runs in this process: `local_client`)."""

from __future__ import annotations

import json

from openreplica.client import ReplicaClient

from .conftest import ScriptedLLM, llm_conversation


async def test_tools_end_to_end_including_one_that_raises(
    local_client: ReplicaClient, llm: ScriptedLLM
) -> None:
    @local_client.tool
    async def get_weather(city: str) -> dict[str, object]:
        return {"city": city, "sky": "sunny", "temperature_c": 21}

    def explode() -> str:
        raise RuntimeError("kaboom: the tool broke")

    local_client.register_tool(explode)
    info = await llm_conversation(local_client, llm)
    async with await local_client.connect(info, last_seq=0) as conv:
        turn = await conv.ask("what is the weather?")
        (call,) = turn.tool_calls
        assert call.properties.name == "get_weather"
        assert json.loads(call.properties.arguments) == {"city": "Paris"}
        weather = conv.tool_outcomes[0]
        assert weather.ok and json.loads(weather.output)["sky"] == "sunny"
        tool_message = llm.requests[-1]["messages"][-1]
        assert tool_message["role"] == "tool"
        assert tool_message["tool_call_id"] == call.properties.tool_call_id
        assert json.loads(tool_message["content"]) == {
            "city": "Paris",
            "sky": "sunny",
            "temperature_c": 21,
        }
        assert turn.reply_text.startswith("The tool said:") and "sunny" in turn.reply_text

        broken = await conv.ask("explode please")
        (boom,) = broken.tool_calls
        failed = conv.tool_outcomes[1]
        assert (failed.status, failed.output) == ("error", "kaboom: the tool broke")
        assert failed.tool_call_id == boom.properties.tool_call_id
        assert "kaboom: the tool broke" in llm.requests[-1]["messages"][-1]["content"]
        assert "kaboom" in broken.reply_text
        assert not conv.view.errors
