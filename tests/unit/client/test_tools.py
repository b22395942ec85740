"""The tool registry: sync, async and raising tools, bad arguments, automatic answers."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest

from openreplica.client import Conversation, ToolRegistry
from openreplica.client.testing import FakeServer
from openreplica.protocol import ToolCall, ToolCallProps
from openreplica.runtime.clock import settle


def call(name: str, arguments: str, call_id: str = "call_1") -> ToolCall:
    return ToolCall(
        conversation_id="c1",
        properties=ToolCallProps(name=name, arguments=arguments, tool_call_id=call_id),
    )


@dataclass
class Forecast:
    city: str
    temp_c: float


def make_registry() -> ToolRegistry:
    tools = ToolRegistry()

    @tools.register
    def add(a: int, b: int) -> int:
        return a + b

    @tools.register(name="get_weather")
    async def weather(city: str, unit: str = "c") -> Forecast:
        await asyncio.sleep(0)
        return Forecast(city, 21.5)

    def explode(**_: object) -> str:
        raise RuntimeError("the weather service is down")

    tools.register(explode)
    tools.register(lambda: "pong", name="ping")
    return tools


async def test_sync_tool_result_is_json_text() -> None:
    outcome = await make_registry().run(call("add", '{"a": 2, "b": 3}'))
    assert (outcome.output, outcome.status, outcome.ok) == ("5", "success", True)
    assert outcome.name == "add" and outcome.tool_call_id == "call_1"


async def test_async_tool_dataclass_result() -> None:
    outcome = await make_registry().run(call("get_weather", '{"city": "Paris"}'))
    assert json.loads(outcome.output) == {"city": "Paris", "temp_c": 21.5}
    assert outcome.ok


async def test_raising_tool_reports_error_with_the_message() -> None:
    outcome = await make_registry().run(call("explode", "{}"))
    assert (outcome.status, outcome.output) == ("error", "the weather service is down")


@pytest.mark.parametrize(
    ("name", "arguments", "fragment"),
    [
        ("add", "{not json", "not valid JSON"),
        ("add", "[1, 2]", "JSON object"),
        ("add", '{"a": 1}', "missing 1 required positional argument"),
        ("nope", "{}", "no tool named 'nope'"),
    ],
)
async def test_bad_calls_are_errors_not_exceptions(
    name: str, arguments: str, fragment: str
) -> None:
    outcome = await make_registry().run(call(name, arguments))
    assert outcome.status == "error" and fragment in outcome.output


async def test_empty_arguments_mean_no_arguments() -> None:
    outcome = await make_registry().run(call("ping", ""))
    assert outcome.output == "pong"


def test_registry_surface() -> None:
    tools = make_registry()
    assert sorted(tools) == ["add", "explode", "get_weather", "ping"] and len(tools) == 4
    assert "add" in tools and tools.get("missing") is None
    tools.unregister("add")
    assert "add" not in tools
    with pytest.raises(TypeError):
        tools.register(42)  # type: ignore[call-overload]


async def test_conversation_answers_registered_tools_and_leaves_others(
    conv: Conversation, server: FakeServer
) -> None:
    @conv.tool
    def get_weather(city: str) -> dict[str, object]:
        return {"city": city, "sky": "clear"}

    async def fail() -> None:
        raise ValueError("no such account")

    conv.register_tool(fail, name="lookup_account")
    server.emit("system.replica_joined", {"replica_id": "r"})
    for i, (name, args) in enumerate(
        [("get_weather", '{"city": "Oslo"}'), ("lookup_account", "{}"), ("unregistered", "{}")]
    ):
        server.emit(
            "conversation.tool_call",
            {"name": name, "arguments": args, "tool_call_id": f"call_{i}"},
            turn_idx=1,
            inference_id="inf-1",
        )
    await settle()
    results = [m["properties"] for m in server.received]
    assert results == [
        {
            "tool_call_id": "call_0",
            "name": "get_weather",
            "output": '{"city": "Oslo", "sky": "clear"}',
        },
        {
            "tool_call_id": "call_1",
            "name": "lookup_account",
            "output": "no such account",
            "status": "error",
        },
    ]
    assert [o.status for o in conv.tool_outcomes] == ["success", "error"]
    assert [c.properties.name for c in conv.turns[1].tool_calls] == [
        "get_weather",
        "lookup_account",
        "unregistered",
    ]
