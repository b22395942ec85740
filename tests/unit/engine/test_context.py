"""The LLM context: prompt + conversational context + a bounded history."""

from __future__ import annotations

from openreplica.engine.context import LLMContext


def test_history_is_bounded_and_starts_at_a_user_message() -> None:
    context = LLMContext("Be brief.", max_history=4)
    context.add_user("q1")
    context.add_replica("", (("call_1", "lookup", "{}"),))
    context.add_tool_result("call_1", "lookup", "found")
    context.add_replica("a1")
    context.add_user("q2")
    context.add_replica("a2")
    # 6 messages, keep 4 -> would start at the tool result; trimmed to the next user turn
    assert [(m.role, m.content) for m in context.history] == [("user", "q2"), ("assistant", "a2")]
    assert context.messages()[0].role == "system"


def test_overwrite_and_append_change_the_system_message_only() -> None:
    context = LLMContext("Prompt.", "Ctx.")
    context.add_user("hi")
    context.append("More.")
    assert context.messages()[0].content == "Prompt.\n\nCtx.\nMore."
    context.overwrite("New.")
    assert context.messages()[0].content == "Prompt.\n\nNew."
    assert context.messages()[1].content == "hi"
