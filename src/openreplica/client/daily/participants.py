"""Participant objects in daily-python's shape (its `Participant` type): `id`, `info`
(`isLocal`, `isOwner`, `joinedAt`, `userId`, `userName`, `permissions`) and `media`
(`camera`, `microphone`, `screenVideo`, `screenAudio`, each with `state`, `offReasons`
and, for remote participants, `subscribed`).

The replica is a remote participant whose `userId` starts with `tavus-replica` (apps
written for the hosted system look for that) and whose `userName` is the name the server
gives it.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["MediaState", "local_participant", "media_info", "replica_participant"]

#: daily-python's ParticipantMediaInfo `state` values
MediaState = Literal["receivable", "playable", "loading", "interrupted", "blocked", "off"]
REPLICA_USER_ID_PREFIX = "tavus-replica"


def media_info(state: MediaState, *, remote: bool, subscribed: bool = True) -> dict[str, Any]:
    info: dict[str, Any] = {"state": state, "offReasons": ["user"] if state == "off" else []}
    if remote:
        info["subscribed"] = "subscribed" if subscribed else "unsubscribed"
    return info


def _permissions(can_send: list[str]) -> dict[str, Any]:
    return {"hasPresence": True, "canAdmin": [], "canSend": can_send, "canReceive": {"base": True}}


def local_participant(
    session_id: str, user_name: str, joined_at: str, *, microphone_on: bool
) -> dict[str, Any]:
    return {
        "id": session_id,
        "info": {
            "isLocal": True,
            "isOwner": False,
            "joinedAt": joined_at,
            "userId": session_id,
            "userName": user_name,
            "permissions": _permissions(["microphone", "camera"]),
        },
        "media": {
            "camera": media_info("off", remote=False),
            "microphone": media_info("playable" if microphone_on else "off", remote=False),
            "screenVideo": media_info("off", remote=False),
            "screenAudio": media_info("off", remote=False),
        },
    }


def replica_participant(
    session_id: str,
    replica_id: str | None,
    user_name: str,
    joined_at: str,
    *,
    audio: MediaState,
    video: MediaState,
    audio_subscribed: bool = True,
    video_subscribed: bool = True,
) -> dict[str, Any]:
    user_id = f"{REPLICA_USER_ID_PREFIX}-{replica_id}" if replica_id else REPLICA_USER_ID_PREFIX
    return {
        "id": session_id,
        "info": {
            "isLocal": False,
            "isOwner": True,
            "joinedAt": joined_at,
            "userId": user_id,
            "userName": user_name,
            "permissions": _permissions(["microphone", "camera"]),
        },
        "media": {
            "camera": media_info(video, remote=True, subscribed=video_subscribed),
            "microphone": media_info(audio, remote=True, subscribed=audio_subscribed),
            "screenVideo": media_info("off", remote=True, subscribed=False),
            "screenAudio": media_info("off", remote=True, subscribed=False),
        },
    }
