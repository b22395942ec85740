"""Build the interactions of SPEC §1.1 as typed messages.

Pure functions: each returns a protocol `Interaction` that `openreplica.protocol.encode`
turns into exactly the SPEC's JSON. `Conversation`'s helpers send these.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from openreplica.protocol import (
    SENSITIVITY_LEVELS,
    AppendContext,
    AppendContextProps,
    ContextProps,
    Echo,
    EchoProps,
    Interrupt,
    OverwriteContext,
    Respond,
    RespondProps,
    Resume,
    ResumeProps,
    Sensitivity,
    SensitivityLevel,
    SensitivityProps,
    ToolResult,
    ToolResultProps,
)
from openreplica.protocol.interactions import DEFAULT_ECHO_SAMPLE_RATE

__all__ = [
    "DEFAULT_ECHO_SAMPLE_RATE",
    "append_context",
    "echo_audio_chunk",
    "echo_text",
    "interrupt",
    "output_text",
    "overwrite_context",
    "respond",
    "resume",
    "sensitivity",
    "tool_result",
]


def echo_text(conversation_id: str, text: str, *, inference_id: str | None = None) -> Echo:
    """`conversation.echo` with text: the replica says exactly `text`."""
    return Echo(
        conversation_id=conversation_id,
        properties=EchoProps(modality="text", text=text, inference_id=inference_id),
    )


def echo_audio_chunk(
    conversation_id: str,
    pcm: bytes,
    *,
    sample_rate: int = DEFAULT_ECHO_SAMPLE_RATE,
    inference_id: str | None = None,
    done: bool = False,
) -> Echo:
    """One `conversation.echo` audio chunk of 16-bit little-endian mono PCM."""
    if len(pcm) % 2:
        raise ValueError(f"PCM must hold whole 16-bit samples; got {len(pcm)} bytes")
    return Echo(
        conversation_id=conversation_id,
        properties=EchoProps(
            modality="audio",
            audio=base64.b64encode(pcm).decode("ascii"),
            sample_rate=sample_rate,
            inference_id=inference_id,
            done=done,
        ),
    )


def respond(conversation_id: str, text: str) -> Respond:
    """`conversation.respond`: as if the user had said `text`."""
    return Respond(conversation_id=conversation_id, properties=RespondProps(text=text))


def interrupt(conversation_id: str) -> Interrupt:
    """`conversation.interrupt`: stop speaking now."""
    return Interrupt(conversation_id=conversation_id)


def overwrite_context(conversation_id: str, context: str) -> OverwriteContext:
    """`conversation.overwrite_llm_context`: replace the conversational context."""
    return OverwriteContext(conversation_id=conversation_id, properties=ContextProps(context))


def append_context(
    conversation_id: str, context: str, *, job_status: str | None = None
) -> AppendContext:
    """`conversation.append_llm_context`: add to the context without speaking."""
    return AppendContext(
        conversation_id=conversation_id,
        properties=AppendContextProps(context=context, job_status=job_status),
    )


def sensitivity(
    conversation_id: str,
    *,
    pause: SensitivityLevel | None = None,
    interrupt: SensitivityLevel | None = None,
) -> Sensitivity:
    """`conversation.sensitivity`: change turn-taking live (at least one level)."""
    for name, level in (("pause", pause), ("interrupt", interrupt)):
        if level is not None and level not in SENSITIVITY_LEVELS:
            raise ValueError(
                f"{name} must be one of {', '.join(SENSITIVITY_LEVELS)}; got {level!r}"
            )
    if pause is None and interrupt is None:
        raise ValueError("give pause=…, interrupt=… or both")
    return Sensitivity(
        conversation_id=conversation_id,
        properties=SensitivityProps(
            participant_pause_sensitivity=pause, participant_interrupt_sensitivity=interrupt
        ),
    )


def output_text(output: Any) -> str:
    """A tool's return value as the string the LLM sees (non-strings as JSON)."""
    if isinstance(output, str):
        return output
    return json.dumps(output, default=_jsonable, ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    for attr in ("model_dump", "_asdict", "to_dict"):
        method = getattr(value, attr, None)
        if callable(method):
            return method()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def tool_result(
    conversation_id: str,
    tool_call_id: str,
    output: Any,
    *,
    name: str = "",
    status: str = "success",
) -> ToolResult:
    """`conversation.tool_result`; `output` other than a string is sent as JSON text."""
    if status not in ("success", "error"):
        raise ValueError(f"status must be 'success' or 'error'; got {status!r}")
    return ToolResult(
        conversation_id=conversation_id,
        properties=ToolResultProps(
            tool_call_id=tool_call_id,
            output=output_text(output),
            name=name,
            status="error" if status == "error" else "success",
        ),
    )


def resume(conversation_id: str, last_seq: int) -> Resume:
    """`system.resume`: replay every retained event after `last_seq`."""
    return Resume(conversation_id=conversation_id, properties=ResumeProps(last_seq=last_seq))
