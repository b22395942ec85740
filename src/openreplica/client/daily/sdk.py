"""`Daily` and `EventHandler`: daily-python's process-wide entry point and its callbacks.

daily-python keeps its virtual devices per process (one selected speaker per process)
and calls back from its own worker thread; `Daily` mirrors that with one `_Context`
(devices, the callback thread, where hosted room URLs go) created by `Daily.init()`.
This is the one piece of process-wide state in the client, because the API it copies
is process-wide.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from openreplica.client.daily.devices import VirtualMicrophoneDevice, VirtualSpeakerDevice
from openreplica.client.daily.worker import CallbackThread

__all__ = ["Daily", "EventHandler"]

#: where hosted room URLs (`https://tavus.daily.co/<id>`) are sent when `Daily.init`
#: is not told (read once, in `Daily.init`)
SERVER_URL_ENV = "OPENREPLICA_URL"
API_KEY_ENV = "OPENREPLICA_API_KEY"


@dataclass
class _Context:
    callbacks: CallbackThread
    server_url: str | None
    api_key: str | None
    microphones: dict[str, VirtualMicrophoneDevice] = field(default_factory=dict)
    speakers: dict[str, VirtualSpeakerDevice] = field(default_factory=dict)
    speaker: VirtualSpeakerDevice | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Daily:
    """`Daily.init()` first, then devices and `CallClient`s (names as in daily-python)."""

    _context: ClassVar[_Context | None] = None

    @staticmethod
    def init(
        worker_threads: int = 2,
        log_level: Any = None,
        *,
        server_url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        """Start the SDK. `server_url` (default `$OPENREPLICA_URL`) is the openreplica
        server that hosted-style room URLs name; `api_key` (default
        `$OPENREPLICA_API_KEY`) is sent with joins. `worker_threads` and `log_level`
        are accepted for compatibility: callbacks run on one thread, in order, and
        logging goes through the `logging` module."""
        if Daily._context is not None:
            return
        Daily._context = _Context(
            callbacks=CallbackThread(),
            server_url=server_url or os.environ.get(SERVER_URL_ENV) or None,
            api_key=api_key or os.environ.get(API_KEY_ENV) or None,
        )

    @staticmethod
    def deinit() -> None:
        """Stop the callback thread and forget every device."""
        context, Daily._context = Daily._context, None
        if context is not None:
            context.callbacks.stop()

    @staticmethod
    def create_microphone_device(
        device_name: str, sample_rate: int = 16000, channels: int = 1, non_blocking: bool = False
    ) -> VirtualMicrophoneDevice:
        context = Daily.context()
        device = VirtualMicrophoneDevice(
            device_name, sample_rate, channels, non_blocking, context.callbacks
        )
        with context.lock:
            context.microphones[device_name] = device
        return device

    @staticmethod
    def create_speaker_device(
        device_name: str, sample_rate: int = 16000, channels: int = 1, non_blocking: bool = False
    ) -> VirtualSpeakerDevice:
        context = Daily.context()
        device = VirtualSpeakerDevice(
            device_name, sample_rate, channels, non_blocking, context.callbacks
        )
        with context.lock:
            context.speakers[device_name] = device
        return device

    @staticmethod
    def select_speaker_device(device_name: str) -> None:
        """The speaker every call's received audio goes to from now on."""
        context = Daily.context()
        with context.lock:
            if device_name not in context.speakers:
                raise ValueError(f"no speaker device named {device_name!r}")
            context.speaker = context.speakers[device_name]

    @staticmethod
    def context() -> _Context:
        if Daily._context is None:
            raise RuntimeError("call Daily.init() first")
        return Daily._context


class EventHandler:
    """Subclass and override the events you want; every method does nothing here.
    They are called on the SDK's callback thread, one at a time, in order."""

    def on_active_speaker_changed(self, participant: Mapping[str, Any]) -> None: ...
    def on_app_message(self, message: Any, sender: str) -> None: ...
    def on_call_state_updated(self, state: str) -> None: ...
    def on_error(self, message: str) -> None: ...
    def on_inputs_updated(self, input_settings: Mapping[str, Any]) -> None: ...
    def on_participant_counts_updated(self, counts: Mapping[str, Any]) -> None: ...
    def on_participant_joined(self, participant: Mapping[str, Any]) -> None: ...
    def on_participant_left(self, participant: Mapping[str, Any], reason: str) -> None: ...
    def on_participant_updated(self, participant: Mapping[str, Any]) -> None: ...
    def on_subscription_profiles_updated(
        self, subscription_profiles: Mapping[str, Any]
    ) -> None: ...
    def on_subscriptions_updated(self, subscriptions: Mapping[str, Any]) -> None: ...
