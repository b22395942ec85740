"""The daily-shaped client's pieces without a network: meeting URLs, participant objects,
the virtual devices' blocking and non-blocking reads and writes, and the SDK's rules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from openreplica.client.daily import CallClient, Daily
from openreplica.client.daily.devices import VirtualMicrophoneDevice, VirtualSpeakerDevice
from openreplica.client.daily.participants import local_participant, replica_participant
from openreplica.client.daily.rooms import resolve_meeting_url
from openreplica.client.daily.worker import CallbackThread


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.005)


@pytest.fixture
def callbacks() -> Iterator[CallbackThread]:
    thread = CallbackThread()
    yield thread
    thread.stop()


def test_our_urls_are_used_as_they_are() -> None:
    target = resolve_meeting_url("http://h:8000/c/c1?t=tok", server_url="http://other")
    assert (target.base_url, target.conversation_id, target.token) == ("http://h:8000", "c1", "tok")
    assert resolve_meeting_url("http://h/c/c1?t=tok", "given").token == "given"


def test_a_hosted_room_url_goes_to_the_configured_server() -> None:
    target = resolve_meeting_url(
        "https://tavus.daily.co/c123", "tok", server_url="http://127.0.0.1:8000/", api_key="k"
    )
    assert target.base_url == "http://127.0.0.1:8000" and target.conversation_id == "c123"
    assert (target.token, target.api_key) == ("tok", "k")
    with pytest.raises(ValueError, match="OPENREPLICA_URL"):
        resolve_meeting_url("https://tavus.daily.co/c123")
    with pytest.raises(ValueError, match="not a meeting URL"):
        resolve_meeting_url("https://tavus.daily.co/a/b/c", server_url="http://x")


def test_participants_have_daily_pythons_shape() -> None:
    local = local_participant("L", "Ann", "2025-01-01T00:00:00.000Z", microphone_on=False)
    assert local["info"]["isLocal"] is True and local["info"]["userName"] == "Ann"
    assert local["media"]["microphone"] == {"state": "off", "offReasons": ["user"]}
    replica = replica_participant("R", "r-aria", "Aria", "t", audio="playable", video="loading")
    assert replica["info"]["userId"] == "tavus-replica-r-aria"
    assert replica["media"]["microphone"] == {
        "state": "playable",
        "offReasons": [],
        "subscribed": "subscribed",
    }
    assert replica["media"]["screenVideo"]["subscribed"] == "unsubscribed"


def test_a_blocking_speaker_waits_for_the_frames_it_asked_for(callbacks: CallbackThread) -> None:
    speaker = VirtualSpeakerDevice("s", 16000, 1, False, callbacks)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(speaker.read_frames(160)))
    reader.start()
    speaker.deliver(b"\x01\x00" * 100)
    assert reader.is_alive()  # 100 of 160 frames: still waiting
    speaker.deliver(b"\x02\x00" * 100)
    reader.join(5)
    assert got == [b"\x01\x00" * 100 + b"\x02\x00" * 60]
    assert speaker.read_frames(40) == b"\x02\x00" * 40


def test_a_non_blocking_speaker_completes_later(callbacks: CallbackThread) -> None:
    speaker = VirtualSpeakerDevice("s", 8000, 2, True, callbacks)
    done = threading.Event()
    seen: list[tuple[bytes, str]] = []

    def completion(frames: bytes) -> None:
        seen.append((frames, threading.current_thread().name))
        done.set()

    assert speaker.read_frames(2, completion) == b""
    speaker.deliver(bytes(range(8)))
    assert done.wait(5)
    assert seen == [(bytes(range(8)), "openreplica-daily-callbacks")]


def test_a_microphone_only_writes_while_a_call_reads_it(callbacks: CallbackThread) -> None:
    mic = VirtualMicrophoneDevice("m", 16000, 1, False, callbacks)
    assert mic.write_frames(b"\x00\x01" * 160) == 0  # no call: dropped, like a live mic
    with pytest.raises(ValueError, match="whole 2-byte frames"):
        mic.write_frames(b"\x00")
    mic.attach()
    results: list[int] = []
    writer = threading.Thread(target=lambda: results.append(mic.write_frames(b"\x05\x00" * 100)))
    writer.start()
    eventually(lambda: mic.buffered_frames == 160)
    first = mic.take(80)  # the call takes what was written, padded to 10 ms (160 frames)
    assert first == b"\x05\x00" * 80 and writer.is_alive()
    rest = mic.take(100)
    assert rest == b"\x05\x00" * 20 + bytes(160)
    writer.join(5)
    assert results == [160]
    assert mic.take(10) == bytes(20)  # nothing written: silence
    mic.detach()


def test_a_non_blocking_microphone_completes_when_sent(callbacks: CallbackThread) -> None:
    mic = VirtualMicrophoneDevice("m", 16000, 1, True, callbacks)
    mic.attach()
    done = threading.Event()
    counts: list[int] = []

    def completed(n: int) -> None:
        counts.append(n)
        done.set()

    assert mic.write_frames(b"\x00\x00" * 50, completed) == 50
    assert not done.is_set()
    mic.take(50)
    assert done.wait(5) and counts == [50]


def test_the_sdk_needs_init_and_names_devices() -> None:
    with pytest.raises(RuntimeError, match=r"Daily.init\(\)"):
        CallClient()
    Daily.init(server_url="http://127.0.0.1:9")
    try:
        with pytest.raises(ValueError, match="no speaker device"):
            Daily.select_speaker_device("missing")
        mic = Daily.create_microphone_device("m", sample_rate=24000, channels=2)
        assert (mic.name, mic.sample_rate, mic.channels) == ("m", 24000, 2)
        client = CallClient()
        result: list[tuple[object, object]] = []
        done = threading.Event()

        def joined(data: object, error: object) -> None:
            result.append((data, error))
            done.set()

        client.join("ftp://nowhere", completion=joined)
        assert done.wait(5) and result[0][0] is None and "not a meeting URL" in str(result[0][1])
        refused = threading.Event()
        errors: list[object] = []

        def sent(error: object) -> None:
            errors.append(error)
            refused.set()

        client.send_app_message({}, completion=sent)
        assert refused.wait(5) and errors == ["not joined to a call"]
        client.release()
    finally:
        Daily.deinit()
