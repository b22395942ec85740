"""Server-side interactions (SPEC §5 [added]): `POST /v2/conversations/{id}/send-app-message`
and the older `POST /v2/interactions`.

The body is one interaction, delivered exactly as if a participant had sent it on the data
channel: the same `decode_interaction` (size, JSON, type and property checks, conversation
id) and the same `runtime.submit`. What would have been a `system.error` to that
participant is the HTTP answer instead: 400 `{"error": message, "code": code}`.

The API key is checked (a route dependency) before the body is read, and the body is read
at most `MAX_APP_MESSAGE_BYTES` (+1) bytes: a larger one is a 413 before it is read whole.
Messages count against the conversation's shared rate limit, as a participant's do.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request

from openreplica.protocol import ErrorCode, ProtocolError, Resume, decode_interaction
from openreplica.runtime import ConversationRuntime
from openreplica.server.deps import Services, require_api_key, services
from openreplica.server.errors import ERROR_RESPONSES, ApiError, not_found
from openreplica.server.hub import JoinRefused
from openreplica.server.request_body import read_body

__all__ = ["MAX_APP_MESSAGE_BYTES", "NOT_ACTIVE", "router"]

#: the largest interaction accepted over REST (the hosted API's limit)
MAX_APP_MESSAGE_BYTES = 64 * 1024
NOT_ACTIVE = "App messages can only be sent to active conversations."

router = APIRouter(
    tags=["interactions"],
    dependencies=[Depends(require_api_key)],
    responses={
        **ERROR_RESPONSES,
        413: {"description": f"The body is larger than {MAX_APP_MESSAGE_BYTES} bytes"},
    },
)

#: the OpenAPI request body: any JSON object (validated by the protocol decoder)
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "one interaction (SPEC §1.1), e.g. "
                    '{"message_type": "conversation", "event_type": "conversation.echo", '
                    '"properties": {"text": "Hello"}}',
                }
            }
        },
    }
}


def _refused(code: str, message: str) -> ApiError:
    return ApiError(400, {"error": message, "code": code})


def _conversation_id_of(body: bytes) -> str:
    """The `conversation_id` the interaction names (for `POST /v2/interactions`)."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise _refused(ErrorCode.INVALID_JSON, f"message is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise _refused(ErrorCode.INVALID_JSON, "message must be a JSON object")
    conversation_id = raw.get("conversation_id")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise _refused(
            ErrorCode.INVALID_PROPERTIES,
            "`conversation_id` is required (use POST /v2/conversations/{id}/send-app-message "
            "to name it in the path)",
        )
    return conversation_id


async def _runtime(s: Services, conversation_id: str) -> ConversationRuntime:
    try:
        # A server-side interaction before any participant starts the conversation: the
        # replica joins the call (as in the hosted API, where it is in the call from
        # creation) and the participant-absent timer keeps running.
        return await s.hub.start(conversation_id)
    except JoinRefused as refused:
        if refused.http_status == 404:
            raise not_found(f"conversation {conversation_id!r} not found") from None
        raise ApiError(400, {"error": NOT_ACTIVE}) from None


async def _deliver(s: Services, conversation_id: str, body: bytes) -> dict[str, Any]:
    try:
        interaction = decode_interaction(
            body, conversation_id=conversation_id, max_bytes=MAX_APP_MESSAGE_BYTES
        )
    except ProtocolError as error:
        raise _refused(error.code, error.message) from None
    if isinstance(interaction, Resume):
        raise _refused(
            ErrorCode.UNKNOWN_EVENT_TYPE,
            "system.resume replays events to a data channel; send it on the WebSocket or the "
            "WebRTC app-message channel",
        )
    runtime = await _runtime(s, conversation_id)
    # The conversation's shared rate limit covers its REST senders too (SPEC §2.6).
    if not s.hub.allow_interaction(conversation_id):
        raise _refused(
            ErrorCode.RATE_LIMITED,
            "more than the conversation's interactions per second (all its senders "
            "together); this message was dropped, slow down",
        )
    refusals: list[tuple[str, str]] = []
    runtime.submit(
        interaction,
        lambda error, _: refusals.append((error.properties.code, error.properties.message)),
    )
    if refusals:  # the engine answers a refusal synchronously, inside submit
        raise _refused(*refusals[0])
    return {"status": "ok", "conversation_id": conversation_id}


@router.post(
    "/v2/conversations/{conversation_id}/send-app-message",
    summary="Send an interaction to a conversation",
    openapi_extra=_BODY_DOC,
)
async def send_app_message(
    conversation_id: str, request: Request, s: Annotated[Services, Depends(services)]
) -> dict[str, Any]:
    return await _deliver(s, conversation_id, await read_body(request, MAX_APP_MESSAGE_BYTES))


@router.post(
    "/v2/interactions",
    summary="Send an interaction naming its conversation (older form)",
    openapi_extra=_BODY_DOC,
)
async def send_interaction(
    request: Request, s: Annotated[Services, Depends(services)]
) -> dict[str, Any]:
    body = await read_body(request, MAX_APP_MESSAGE_BYTES)
    return await _deliver(s, _conversation_id_of(body), body)
