"""Interactions: the messages an application sends to the replica (SPEC §1.1).

Each interaction is a msgspec Struct tagged by `event_type`. Public-protocol aliases are
subclasses carrying the alias tag, so `isinstance(msg, OverwriteContext)` holds for both
spellings and re-encoding keeps the spelling the client used. `message_type` is not a
field: it follows from the class (`MESSAGE_TYPE`) and the codec writes it.
"""

from __future__ import annotations

import binascii
from typing import Annotated, Any, ClassVar, Literal, get_args

import msgspec

SensitivityLevel = Literal["superlow", "verylow", "low", "medium", "high"]
SENSITIVITY_LEVELS: tuple[SensitivityLevel, ...] = ("superlow", "verylow", "low", "medium", "high")

DEFAULT_ECHO_SAMPLE_RATE = 16000
#: the only sample rates echoed audio may have (SPEC §2.6): a fixed set keeps the cost of
#: resampling one message bounded (a rate of 1 Hz once turned 40 KB into 2 GB of audio)
ECHO_SAMPLE_RATES: tuple[int, ...] = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


class Props(msgspec.Struct, omit_defaults=True):
    """Base of every `properties` object."""


class NoProps(Props):
    pass


class EchoProps(Props):
    # A public playground sends "speech" for text; it is read as "text" (SPEC §1.1).
    modality: Literal["text", "audio", "speech"] = "text"
    text: str | None = None
    audio: str | None = None
    sample_rate: int = DEFAULT_ECHO_SAMPLE_RATE
    inference_id: str | None = None
    # The public protocol sends `done` as a bool or as the strings "true"/"false".
    done: bool | Literal["true", "false"] | None = None

    def __post_init__(self) -> None:
        if self.modality == "speech":
            self.modality = "text"
        if self.sample_rate not in ECHO_SAMPLE_RATES:
            raise ValueError(
                f"`properties.sample_rate` {self.sample_rate} is not allowed; use one of "
                + ", ".join(map(str, ECHO_SAMPLE_RATES))
            )
        if self.modality == "text":
            if self.text is None:
                raise ValueError("`properties.text` is required (string) when modality is text")
        else:
            if self.audio is None:
                raise ValueError(
                    "`properties.audio` is required (base64 PCM) when modality is audio"
                )
            pcm = _decode_base64(self.audio)
            if len(pcm) % 2:
                raise ValueError(
                    "`properties.audio` must hold whole 16-bit samples "
                    f"(decoded {len(pcm)} bytes, an odd count)"
                )

    @property
    def is_done(self) -> bool | None:
        """`done` as a bool, or None when the client left it out."""
        if isinstance(self.done, str):
            return self.done == "true"
        return self.done

    def pcm(self) -> bytes:
        """The decoded audio (16-bit little-endian mono), empty for text."""
        return _decode_base64(self.audio) if self.audio is not None else b""


def _decode_base64(data: str) -> bytes:
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"`properties.audio` is not valid base64: {exc}") from None


class RespondProps(Props):
    text: str

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("`properties.text` must be a non-empty string")


class ContextProps(Props):
    # `text` is the public protocol's alias of `context`.
    context: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.context is None and self.text is None:
            raise ValueError("`properties.context` is required (string)")

    @property
    def value(self) -> str:
        return self.context if self.context is not None else (self.text or "")


class AppendContextProps(ContextProps):
    job_status: str | None = None


class SensitivityProps(Props):
    participant_pause_sensitivity: SensitivityLevel | None = None
    participant_interrupt_sensitivity: SensitivityLevel | None = None

    def __post_init__(self) -> None:
        if self.participant_pause_sensitivity is None and (
            self.participant_interrupt_sensitivity is None
        ):
            raise ValueError(
                "`properties` needs participant_pause_sensitivity and/or "
                "participant_interrupt_sensitivity"
            )


class ToolResultProps(Props):
    tool_call_id: Annotated[str, msgspec.Meta(min_length=1)]
    output: Any
    name: str = ""
    status: Literal["success", "error"] = "success"

    @property
    def output_text(self) -> str:
        """The output as the string the LLM sees (non-string JSON is serialised)."""
        if isinstance(self.output, str):
            return self.output
        return msgspec.json.encode(self.output).decode()


class ResumeProps(Props):
    last_seq: Annotated[int, msgspec.Meta(ge=0)]


class Interaction(msgspec.Struct, tag_field="event_type", omit_defaults=True, kw_only=True):
    """Base of every client → replica message."""

    MESSAGE_TYPE: ClassVar[str] = "conversation"
    conversation_id: str | None = None


class Echo(Interaction, tag="conversation.echo"):
    properties: EchoProps


class Respond(Interaction, tag="conversation.respond"):
    properties: RespondProps


class Interrupt(Interaction, tag="conversation.interrupt"):
    properties: NoProps = msgspec.field(default_factory=NoProps)


class OverwriteContext(Interaction, tag="conversation.overwrite_llm_context"):
    properties: ContextProps


class OverwriteContextAlias(OverwriteContext, tag="conversation.overwrite_context"):
    pass


class AppendContext(Interaction, tag="conversation.append_llm_context"):
    properties: AppendContextProps


class AppendContextAlias(AppendContext, tag="conversation.append_context"):
    pass


class Sensitivity(Interaction, tag="conversation.sensitivity"):
    properties: SensitivityProps


class ToolResult(Interaction, tag="conversation.tool_result"):
    properties: ToolResultProps


class Resume(Interaction, tag="system.resume"):
    MESSAGE_TYPE: ClassVar[str] = "system"
    properties: ResumeProps


AnyInteraction = (
    Echo
    | Respond
    | Interrupt
    | OverwriteContext
    | OverwriteContextAlias
    | AppendContext
    | AppendContextAlias
    | Sensitivity
    | ToolResult
    | Resume
)

INTERACTION_TYPES: tuple[type[Interaction], ...] = get_args(AnyInteraction)
