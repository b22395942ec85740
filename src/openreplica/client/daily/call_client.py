"""`CallClient`: daily-python's call client over openreplica's WebRTC transport.

Methods return at once and report through `completion` callbacks and the
`EventHandler`, both called on the SDK's callback thread (never the caller's), as
daily-python does. The WebRTC work runs on an asyncio loop in a thread of the client's
own. Events arrive through a `Conversation`, so they come in `seq` order, exactly once,
with a dropped connection resumed.

The call has two participants: this client (`"local"`) and the replica, whose events
arrive as app messages sent by it (`on_app_message(message, replica_participant_id)`).
What daily-python offers beyond that (recording, dial-out, live streaming, custom
tracks, cameras) is not here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from openreplica.client.daily import media
from openreplica.client.daily.devices import VirtualMicrophoneDevice, VirtualSpeakerDevice
from openreplica.client.daily.participants import (
    MediaState,
    local_participant,
    replica_participant,
)
from openreplica.client.daily.rooms import resolve_meeting_url
from openreplica.client.daily.sdk import Daily, EventHandler, _Context
from openreplica.client.daily.worker import IoThread
from openreplica.client.target import ConversationTarget
from openreplica.protocol import Shutdown, UnknownEvent, encode

__all__ = ["CallClient"]

log = logging.getLogger(__name__)

JoinCompletion = Callable[[Mapping[str, Any] | None, str | None], None]
Completion = Callable[[str | None], None]
#: the microphone track's format when the call starts without a microphone device
DEFAULT_MIC_FORMAT = (16000, 1)
NOT_JOINED = "not joined to a call"


@dataclass(frozen=True, slots=True)
class _Replica:
    """Who the replica is in this call (its participant object is built from this)."""

    session_id: str
    replica_id: str | None
    name: str


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _enabled(setting: Any) -> bool:
    """`inputs.microphone` is a bool or `{"isEnabled": …, "settings": …}`."""
    return bool(setting.get("isEnabled")) if isinstance(setting, Mapping) else bool(setting)


class CallClient:
    def __init__(self, event_handler: EventHandler | None = None) -> None:
        self._sdk: _Context = Daily.context()
        self._handler = event_handler or EventHandler()
        self._lock = threading.RLock()
        self._state = "initialized"
        self._user_name = ""
        self._local_id = str(uuid.uuid4())
        self._inputs: dict[str, Any] = {
            "camera": {"isEnabled": False, "settings": {}},
            "microphone": {"isEnabled": False, "settings": {}},
        }
        self._profiles: dict[str, Any] = {
            "base": {"camera": "subscribed", "microphone": "subscribed"}
        }
        self._subscriptions: dict[str, Any] = {}
        self._joined_at = ""
        self._replica: _Replica | None = None
        self._replica_media: dict[str, MediaState] = {"audio": "loading", "video": "loading"}
        self._io: IoThread | None = None
        self._conversation: Any = None
        self._transport: Any = None
        self._join_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._microphone: VirtualMicrophoneDevice | None = None

    # ------------------------------------------------------------------ lifecycle

    def join(
        self,
        meeting_url: str,
        meeting_token: str | None = None,
        client_settings: Mapping[str, Any] | None = None,
        completion: JoinCompletion | None = None,
    ) -> None:
        """Join the conversation `meeting_url` names (see `rooms`). `client_settings`
        may hold `inputs` (e.g. `{"microphone": {"isEnabled": True, "settings":
        {"deviceId": "my-mic"}}}`). `completion(join_data, error)`."""
        with self._lock:
            if self._state not in ("initialized", "left"):
                self._complete(completion, None, f"cannot join: the call is {self._state}")
                return
            try:
                target = resolve_meeting_url(
                    meeting_url,
                    meeting_token,
                    server_url=self._sdk.server_url,
                    api_key=self._sdk.api_key,
                )
                if client_settings and "inputs" in client_settings:
                    self._inputs = self._checked_inputs(client_settings["inputs"])
            except ValueError as exc:
                self._complete(completion, None, str(exc))
                return
            self._set_state("joining")
            if self._io is None:
                self._io = IoThread()
            future = self._io.submit(self._join(target))

        def done(f: concurrent.futures.Future[None]) -> None:
            error = _error_of(f)
            if error is None:
                with self._lock:
                    self._set_state("joined")
                    data = {
                        "meetingSession": {"id": target.conversation_id},
                        "participants": self.participants(),
                    }
                    replica = self._replica_object()
                self._complete(completion, data, None)
                self._emit("on_participant_joined", replica)
            else:
                with self._lock:
                    self._set_state("left")
                self._emit("on_error", error)
                self._complete(completion, None, error)

        future.add_done_callback(done)

    def leave(self, completion: Completion | None = None) -> None:
        """Leave the call; `completion(error)`."""
        with self._lock:
            if self._state in ("initialized", "left") or self._io is None:
                self._complete(completion, None)
                return
            if self._state != "leaving":
                self._set_state("leaving")
            future = self._io.submit(self._leave("leftCall"))
        future.add_done_callback(lambda f: self._complete(completion, _error_of(f)))

    def release(self) -> None:
        """Leave (waiting for it) and stop this client's thread."""
        done = threading.Event()
        self.leave(lambda _error: done.set())
        done.wait(10)
        with self._lock:
            io, self._io = self._io, None
        if io is not None:
            io.stop()

    def set_user_name(self, user_name: str) -> None:
        with self._lock:
            self._user_name = user_name

    # ------------------------------------------------------------------ state

    def participants(self) -> dict[str, Any]:
        """`{"local": {...}, "<replica id>": {...}}` in daily-python's shape."""
        with self._lock:
            out = {"local": self._local()}
            replica = self._replica_object()
            if replica is not None:
                out[replica["id"]] = replica
            return out

    def participant_counts(self) -> dict[str, int]:
        return {"present": len(self.participants()), "hidden": 0}

    def inputs(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._inputs)

    def update_inputs(
        self, input_settings: Mapping[str, Any], completion: Completion | None = None
    ) -> None:
        """Turn the virtual microphone on or off, or switch it (`deviceId`)."""
        with self._lock:
            try:
                self._inputs = self._checked_inputs(input_settings)
            except ValueError as exc:
                self._complete(completion, str(exc))
                return
            if self._state == "joined":
                self._attach_microphone()
            inputs, local = copy.deepcopy(self._inputs), self._local()
        self._emit("on_inputs_updated", inputs)
        self._emit("on_participant_updated", local)
        self._complete(completion, None)

    def subscription_profiles(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._profiles)

    def update_subscription_profiles(
        self, profile_settings: Mapping[str, Any], completion: Completion | None = None
    ) -> None:
        """`{"base": {"microphone": "unsubscribed"}}` stops the replica's audio reaching
        the speaker; `"subscribed"` resumes it."""
        self.update_subscriptions(profile_settings=profile_settings, completion=completion)

    def subscriptions(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._subscriptions)

    def update_subscriptions(
        self,
        participant_settings: Mapping[str, Any] | None = None,
        profile_settings: Mapping[str, Any] | None = None,
        completion: Completion | None = None,
    ) -> None:
        with self._lock:
            if profile_settings:
                self._profiles = _merge(self._profiles, profile_settings)
            if participant_settings:
                self._subscriptions = _merge(self._subscriptions, participant_settings)
            profiles, subscriptions = copy.deepcopy(self._profiles), self.subscriptions()
            replica = self._replica_object()
        if profile_settings:
            self._emit("on_subscription_profiles_updated", profiles)
        if participant_settings:
            self._emit("on_subscriptions_updated", subscriptions)
        if replica is not None:
            self._emit("on_participant_updated", replica)
        self._complete(completion, None)

    # ------------------------------------------------------------------ messages

    def send_app_message(
        self,
        message: Any,
        participant_id: str | None = None,
        serialize_none: bool = True,
        completion: Completion | None = None,
    ) -> None:
        """Send `message` (a CVI interaction such as `conversation.echo` or
        `conversation.respond`) to the replica, the only other participant; with
        `participant_id`, it must be the replica's id. `completion(error)`."""
        with self._lock:
            conversation, io, replica = self._conversation, self._io, self._replica
            joined = self._state == "joined"
        if not joined or conversation is None or io is None:
            self._complete(completion, NOT_JOINED)
            return
        if participant_id not in (None, "*") and (
            replica is None or participant_id != replica.session_id
        ):
            self._complete(completion, f"no participant {participant_id!r} in the call")
            return
        try:
            body = message if serialize_none else _without_none(message)
            data = json.dumps(body).encode()
        except (TypeError, ValueError) as exc:
            self._complete(completion, f"the message is not JSON-serialisable: {exc}")
            return
        future = io.submit(conversation.send_encoded(data))
        future.add_done_callback(lambda f: self._complete(completion, _error_of(f)))

    # ------------------------------------------------------------------ on the I/O loop

    async def _join(self, target: ConversationTarget) -> None:
        from openreplica.client.conversation import Conversation
        from openreplica.client.webrtc import WebRTCTransport

        self._join_task = asyncio.current_task()
        with self._lock:
            device = self._selected_microphone()
            rate, channels = (device.sample_rate, device.channels) if device else DEFAULT_MIC_FORMAT
            self._replica_media = {"audio": "loading", "video": "loading"}
        track = media.microphone_track(self._microphone_source, rate, channels)
        transport = WebRTCTransport(target, on_track=self._on_track, microphone=track)
        conversation = Conversation(target.conversation_id, transport)
        await conversation.start(None)
        info = transport.answer_info
        with self._lock:
            self._transport, self._conversation = transport, conversation
            self._joined_at = _now_iso()
            name = info.get("persona_name") or info.get("replica_name") or "Replica"
            replica_id = info.get("replica_id")
            self._replica = _Replica(
                str(uuid.uuid4()), str(replica_id) if replica_id else None, str(name)
            )
            self._attach_microphone()
        self._spawn(self._pump_events(conversation))

    async def _leave(self, reason: str) -> None:
        task = self._join_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        with self._lock:
            conversation, self._conversation = self._conversation, None
            replica = self._replica_object()
            self._replica = None
            if self._microphone is not None:
                self._microphone.detach()
                self._microphone = None
        if conversation is not None:
            await conversation.close()
        for spawned in list(self._tasks):
            if spawned is not asyncio.current_task():
                spawned.cancel()
        if replica is not None:
            self._emit("on_participant_left", replica, reason)
        with self._lock:
            self._set_state("left")

    async def _pump_events(self, conversation: Any) -> None:
        try:
            async for event in conversation:
                message = (
                    event.raw if isinstance(event, UnknownEvent) else json.loads(encode(event))
                )
                with self._lock:
                    sender = self._replica.session_id if self._replica else ""
                self._emit("on_app_message", message, sender)
                if isinstance(event, Shutdown):
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._emit("on_error", f"the call was lost: {exc}")
        with self._lock:
            ours = self._conversation is conversation
            if ours:
                self._set_state("leaving")
        if ours:  # the conversation ended (or was lost) under us: the call is over
            await self._leave("leftCall")

    def _on_track(self, track: Any) -> None:
        kind = "audio" if track.kind == "audio" else "video"

        def playable() -> None:
            with self._lock:
                self._replica_media[kind] = "playable"
                replica = self._replica_object()
            if replica is not None:
                self._emit("on_participant_updated", replica)

        if kind == "audio":
            subscribed = lambda: self._subscribed("microphone")  # noqa: E731
            self._spawn(media.pump_audio(track, self._speaker, subscribed, playable))
        else:
            self._spawn(media.drain(track, playable))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ helpers

    def _local(self) -> dict[str, Any]:
        return local_participant(
            self._local_id,
            self._user_name,
            self._joined_at,
            microphone_on=self._microphone is not None,
        )

    def _replica_object(self) -> dict[str, Any] | None:
        """The replica's participant object as things stand (None before it joined)."""
        replica = self._replica
        if replica is None:
            return None
        return replica_participant(
            replica.session_id,
            replica.replica_id,
            replica.name,
            self._joined_at,
            audio=self._replica_media["audio"],
            video=self._replica_media["video"],
            audio_subscribed=self._subscribed("microphone"),
            video_subscribed=self._subscribed("camera"),
        )

    def _subscribed(self, media_kind: str) -> bool:
        with self._lock:
            replica_id = self._replica.session_id if self._replica else None
            own = self._subscriptions.get(replica_id, {}) if replica_id else {}
            profile = self._profiles.get(own.get("profile", "base"), {})
            value = own.get("media", {}).get(media_kind, profile.get(media_kind, "subscribed"))
            return bool(value != "unsubscribed")

    def _checked_inputs(self, update: Mapping[str, Any]) -> dict[str, Any]:
        inputs = _merge(self._inputs, update)
        mic = inputs.get("microphone")
        if isinstance(mic, Mapping):
            device_id = (mic.get("settings") or {}).get("deviceId")
            if _enabled(mic) and device_id and device_id not in self._sdk.microphones:
                raise ValueError(f"no microphone device named {device_id!r}")
        if _enabled(inputs.get("camera")):
            raise ValueError("cameras are not supported by this client: use camera False")
        return inputs

    def _selected_microphone(self) -> VirtualMicrophoneDevice | None:
        mic = self._inputs.get("microphone")
        if not _enabled(mic) or not isinstance(mic, Mapping):
            return None
        device_id = (mic.get("settings") or {}).get("deviceId")
        return self._sdk.microphones.get(device_id) if device_id else None

    def _attach_microphone(self) -> None:
        """Make the selected, enabled microphone device the one the call reads."""
        device = self._selected_microphone()
        if device is self._microphone:
            return
        if self._microphone is not None:
            self._microphone.detach()
        self._microphone = device
        if device is not None:
            device.attach()

    def _microphone_source(self) -> VirtualMicrophoneDevice | None:
        with self._lock:
            return self._microphone

    def _speaker(self) -> VirtualSpeakerDevice | None:
        return self._sdk.speaker

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._emit("on_call_state_updated", state)

    def _emit(self, method: str, *args: Any) -> None:
        self._sdk.callbacks.call(getattr(self._handler, method), *args)

    def _complete(self, completion: Callable[..., None] | None, *args: Any) -> None:
        if completion is not None:
            self._sdk.callbacks.call(completion, *args)


def _error_of(future: concurrent.futures.Future[Any]) -> str | None:
    if future.cancelled():
        return "cancelled"
    error = future.exception()
    if error is None:
        return None
    return str(error) or type(error).__name__
