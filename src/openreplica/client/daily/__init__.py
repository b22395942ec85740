"""A daily-python-shaped client: the names, signatures and threading model of
daily-python's public API (`from daily import *`), over openreplica's WebRTC transport.

    from openreplica.client.daily import CallClient, Daily, EventHandler

    Daily.init()                                   # server_url=… for hosted room URLs
    mic = Daily.create_microphone_device("my-mic", sample_rate=16000, channels=1)
    speaker = Daily.create_speaker_device("my-speaker", sample_rate=16000, channels=1)
    Daily.select_speaker_device("my-speaker")
    client = CallClient(event_handler=MyHandler())
    client.join(conversation_url, client_settings={"inputs": {"camera": False,
        "microphone": {"isEnabled": True, "settings": {"deviceId": "my-mic"}}}},
        completion=lambda data, error: ...)
    client.send_app_message({"message_type": "conversation",
        "event_type": "conversation.respond", "properties": {"text": "Hi"}})
    pcm = speaker.read_frames(1600)                # 100 ms of the replica's voice
    mic.write_frames(pcm_16k_mono)                 # heard as the user speaking

Needs aiortc (a dependency of the package). See docs/client.md and docs/porting.md.
"""

from openreplica.client.daily.call_client import CallClient
from openreplica.client.daily.devices import VirtualMicrophoneDevice, VirtualSpeakerDevice
from openreplica.client.daily.sdk import Daily, EventHandler

__all__ = [
    "CallClient",
    "Daily",
    "EventHandler",
    "VirtualMicrophoneDevice",
    "VirtualSpeakerDevice",
]
