"""Request and response bodies of the REST API (SPEC §5), for validation and OpenAPI.

Known fields are type-checked (a wrong type is a 400 naming the field); unknown fields
are kept, so a persona written for the public API (with settings this server does not
use) is accepted and round-trips unchanged.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from openreplica.protocol import SensitivityLevel
from openreplica.server.errors import bad_request

__all__ = [
    "ConversationCreate",
    "ConversationList",
    "ConversationOut",
    "ConversationProperties",
    "Layers",
    "PersonaCreate",
    "PersonaList",
    "PersonaOut",
    "ReplicaList",
    "ReplicaOut",
    "ReplicaRename",
]

Level3 = Literal["low", "medium", "high"]

#: the hosted API's new names (PALs and Faces, SPEC §5 [added]) → the names used here.
#: Requests may use either; responses carry both.
NEW_NAMES = {
    "pal_id": "persona_id",
    "face_id": "replica_id",
    "default_face_id": "default_replica_id",
}


def old_names(data: Any, *new: str) -> Any:
    """A request body with the new names in `new` turned into the old ones. Naming one
    thing twice with different values is a 400 (raised here, not as a pydantic error, so
    that its message names both fields)."""
    if not isinstance(data, dict) or not any(name in data for name in new):
        return data
    out = dict(data)
    for name in new:
        if name not in out:
            continue
        value, old = out.pop(name), NEW_NAMES[name]
        if out.get(old) is not None and value is not None and out[old] != value:
            raise bad_request(f"`{name}` and `{old}` name different objects; send one of them")
        if out.get(old) is None:
            out[old] = value
    return out


def with_new_names(out: dict[str, Any]) -> dict[str, Any]:
    """A response object with each new name beside the old one it aliases."""
    for new, old in NEW_NAMES.items():
        if out.get(old) is not None:
            out[new] = out[old]
    return out


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class LLMLayer(_Open):
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    tools: list[dict[str, Any]] | None = None
    headers: dict[str, str] | None = None
    extra_body: dict[str, Any] | None = None


class TTSLayer(_Open):
    tts_engine: str | None = None
    voice: str | None = None
    external_voice_id: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    model: str | None = None
    #: the hosted API's name for `model`
    tts_model_name: str | None = None
    #: a rate (> 0; 1 = normal); a hosted engine's word for it ("fast") is ignored here
    speed: float | str | None = None
    #: a hosted engine's voice settings; `speed` in it is read as `speed` above
    voice_settings: dict[str, Any] | None = None


class STTLayer(_Open):
    stt_engine: str | None = None
    participant_pause_sensitivity: SensitivityLevel | None = None
    participant_interrupt_sensitivity: SensitivityLevel | None = None
    hotwords: list[str] | None = None
    #: ours: `auto`, `silero` or `webrtc` (default: the server's `--vad-engine`)
    vad_engine: str | None = None
    #: ours: `smart_turn` or `silence` (default: the server's `--turn-detector`)
    turn_detector: str | None = None
    #: ours: an OpenAI-compatible transcription endpoint (`stt_engine: openai`)
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None


class ConversationalFlowLayer(_Open):
    #: how long the replica waits before taking its turn (high = waits longest)
    turn_taking_patience: Level3 | None = None
    #: how easily the user interrupts the replica
    replica_interruptibility: Level3 | None = None


class Layers(_Open):
    llm: LLMLayer | None = None
    tts: TTSLayer | None = None
    stt: STTLayer | None = None
    perception: dict[str, Any] | None = None
    conversational_flow: ConversationalFlowLayer | None = None


class _PersonaFields(_Open):
    persona_name: str | None = None
    #: `user` (made through this API, the default) or `system` (a stock persona)
    persona_type: Literal["user", "system"] | None = None
    system_prompt: str | None = None
    pipeline_mode: Literal["full", "echo"] = "full"
    context: str | None = None
    default_replica_id: str | None = None
    layers: Layers | None = None


class PersonaCreate(_PersonaFields):
    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return old_names(data, "default_face_id")

    @classmethod
    def stored(cls, document: dict[str, Any]) -> PersonaCreate:
        """A persona document as stored (validated by this model when it was created
        or patched). A document stored before a field it holds was declared here may have
        a value of another type there: such a value is left out (it was never used)."""
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            cleaned = copy.deepcopy(document)
            for error in exc.errors():
                _drop(cleaned, error["loc"])
            return cls.model_validate(cleaned)


def _drop(document: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    """Remove the field at `loc` (a pydantic error location) from `document`."""
    parent: Any = document
    for key in loc[:-1]:
        if not isinstance(parent, dict) or key not in parent:
            return
        parent = parent[key]
    if isinstance(parent, dict):
        parent.pop(loc[-1], None)


class PersonaOut(_PersonaFields):
    persona_id: str
    pal_id: str
    default_face_id: str | None = None
    created_at: str
    updated_at: str
    #: for the operator: why conversations with this persona cannot work as asked (no
    #: LLM, an unreachable endpoint, an unknown engine); only on create, get and patch
    warnings: list[str] | None = None


class PersonaList(BaseModel):
    data: list[PersonaOut]
    total_count: int


class ConversationProperties(_Open):
    max_call_duration: float | None = Field(default=None, gt=0)
    participant_left_timeout: float | None = Field(default=None, ge=0)
    participant_absent_timeout: float | None = Field(default=None, ge=0)
    enable_recording: bool | None = None
    #: the call page (`conversation_url`) starts with live captions on
    enable_closed_captions: bool | None = None
    language: str | None = None


class ConversationCreate(_Open):
    persona_id: str | None = None
    replica_id: str | None = None
    conversation_name: str | None = None
    conversational_context: str | None = None
    custom_greeting: str | None = None
    callback_url: str | None = None
    require_auth: bool = False
    audio_only: bool = False
    #: the replica never joins: created `ended`, no webhooks, no cost (SPEC §5 [added])
    test_mode: bool = False
    properties: ConversationProperties | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        return old_names(data, "pal_id", "face_id")

    @classmethod
    def stored(cls, request: dict[str, Any]) -> ConversationCreate:
        """The request a conversation was created with, as stored with its record (it was
        validated then, so this cannot fail on a record this server wrote)."""
        return cls.model_validate(request)

    @field_validator("callback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class ConversationOut(_Open):
    conversation_id: str
    conversation_name: str | None = None
    conversation_url: str
    status: Literal["active", "ended"]
    callback_url: str | None = None
    created_at: str
    updated_at: str
    persona_id: str | None = None
    pal_id: str | None = None
    replica_id: str
    face_id: str
    meeting_token: str | None = None
    shutdown_reason: str | None = None
    test_mode: bool | None = None
    events: list[dict[str, Any]] | None = None
    transcript: list[dict[str, Any]] | None = None


class ConversationList(BaseModel):
    data: list[ConversationOut]
    total_count: int


class ReplicaOut(BaseModel):
    replica_id: str
    face_id: str
    replica_name: str
    #: `system` for the built-in characters, `user` for portraits added to this server
    replica_type: Literal["system", "user"]
    status: Literal["started", "completed", "error"]
    training_progress: str
    created_at: str | None = None
    updated_at: str | None = None
    thumbnail_video_url: str | None = None
    #: ours: how it is drawn, `character` or `portrait`
    kind: str
    #: ours: a JPEG still of a user replica (`GET /v2/replicas/{id}/thumbnail`)
    thumbnail_url: str | None = None
    #: why training failed (`status` `error`)
    error_message: str | None = None


class ReplicaRename(BaseModel):
    replica_name: str = Field(min_length=1, max_length=512)


class ReplicaCreate(BaseModel):
    replica_name: str | None = Field(default=None, min_length=1, max_length=512)
    train_image_url: str | None = Field(default=None, max_length=2048)
    train_video_url: str | None = Field(default=None, max_length=2048)
    callback_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")


class ReplicaList(BaseModel):
    data: list[ReplicaOut]
    total_count: int
