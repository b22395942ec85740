"""Virtual audio devices shaped like daily-python's: a microphone the application writes
16-bit PCM into, and a speaker it reads the call's audio from.

The application's threads call `write_frames` / `read_frames`; the call client's I/O
thread takes microphone audio out (`take`) and puts received audio in (`deliver`). One
`threading.Condition` per device guards its buffer. Blocking devices wait in real time,
as the hardware they emulate would; non-blocking ones return at once and call their
completion later on the callback thread.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from openreplica.client.daily.worker import CallbackThread

__all__ = ["VirtualMicrophoneDevice", "VirtualSpeakerDevice"]

log = logging.getLogger(__name__)

#: a blocking microphone pads what it is given to a whole number of these (daily-python
#: pads to the next multiple of 10 ms)
PAD_SECONDS = 0.01
#: the most audio a device holds; past it the oldest received audio is dropped (speaker)
#: or a write is refused (microphone), as a device's ring buffer would
BUFFER_SECONDS = 30.0
#: a blocking read waits at most this long beyond the audio it asked for
READ_SLACK_SECONDS = 1.0


class _Device:
    def __init__(
        self, name: str, sample_rate: int, channels: int, non_blocking: bool, cb: CallbackThread
    ) -> None:
        if sample_rate <= 0 or channels not in (1, 2):
            raise ValueError("sample_rate must be positive and channels 1 or 2")
        self._name = name
        self._rate = sample_rate
        self._channels = channels
        self._non_blocking = non_blocking
        self._callbacks = cb
        self._cond = threading.Condition()
        self._buffer = bytearray()
        self._capacity = int(BUFFER_SECONDS * sample_rate) * self.bytes_per_frame

    @property
    def name(self) -> str:
        return self._name

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def buffered_frames(self) -> int:
        """Frames waiting in the device (ours: not in daily-python)."""
        with self._cond:
            return len(self._buffer) // self.bytes_per_frame

    @property
    def bytes_per_frame(self) -> int:
        return 2 * self._channels

    def seconds(self, num_bytes: int) -> float:
        return num_bytes / self.bytes_per_frame / self._rate


class VirtualMicrophoneDevice(_Device):
    """Audio the application writes here is sent as the user's microphone while a call
    client has this device selected (`inputs.microphone.settings.deviceId`)."""

    def __init__(
        self, name: str, sample_rate: int, channels: int, non_blocking: bool, cb: CallbackThread
    ) -> None:
        super().__init__(name, sample_rate, channels, non_blocking, cb)
        self._written = 0  # bytes ever accepted
        self._consumed = 0  # bytes ever taken by a call
        self._pending: deque[tuple[int, int, Callable[[int], None]]] = deque()
        self._readers = 0

    def write_frames(self, frames: bytes, completion: Callable[[int], None] | None = None) -> int:
        """Queue 16-bit PCM frames; returns how many were written. A blocking device
        returns once the call has taken them (real time); a non-blocking one at once,
        calling `completion(frames)` when they have been sent. Nothing is written while
        no joined call uses the device (returns 0)."""
        size = self.bytes_per_frame
        if len(frames) % size:
            raise ValueError(f"frames must be whole {size}-byte frames of 16-bit PCM")
        if not self._non_blocking:
            pad = int(PAD_SECONDS * self._rate) * size
            frames = bytes(frames) + bytes(-len(frames) % pad)
        count = len(frames) // size
        with self._cond:
            if self._readers == 0 or len(self._buffer) + len(frames) > self._capacity:
                if self._readers:
                    log.warning("microphone %r: buffer full, %d frames dropped", self._name, count)
                count = 0
            else:
                self._buffer += frames
                self._written += len(frames)
                end = self._written
                if self._non_blocking and completion is not None:
                    self._pending.append((end, count, completion))
                elif not self._non_blocking:
                    self._cond.wait_for(lambda: self._consumed >= end or self._readers == 0)
        if count == 0 and completion is not None and self._non_blocking:
            self._callbacks.call(completion, 0)
        return count

    # -------------------------------------------------------------- the call's side

    def attach(self) -> None:
        with self._cond:
            self._readers += 1

    def detach(self) -> None:
        """The call stopped reading: what is queued is dropped, writers are released."""
        with self._cond:
            self._readers = max(0, self._readers - 1)
            if self._readers == 0:
                self._consumed = self._written
                self._buffer.clear()
                self._fire_done()
                self._cond.notify_all()

    def take(self, num_frames: int) -> bytes:
        """The next `num_frames` frames, padded with silence when too few were written."""
        want = num_frames * self.bytes_per_frame
        with self._cond:
            chunk = bytes(self._buffer[:want])
            del self._buffer[:want]
            self._consumed += len(chunk)
            self._fire_done()
            self._cond.notify_all()
        return chunk + bytes(want - len(chunk))

    def _fire_done(self) -> None:
        while self._pending and self._pending[0][0] <= self._consumed:
            _, count, completion = self._pending.popleft()
            self._callbacks.call(completion, count)


class VirtualSpeakerDevice(_Device):
    """The call's audio (the replica's voice) arrives here while this device is the
    selected speaker (`Daily.select_speaker_device`)."""

    def __init__(
        self, name: str, sample_rate: int, channels: int, non_blocking: bool, cb: CallbackThread
    ) -> None:
        super().__init__(name, sample_rate, channels, non_blocking, cb)
        self._pending: deque[tuple[int, Callable[[bytes], None]]] = deque()

    def read_frames(
        self, num_frames: int, completion: Callable[[bytes], None] | None = None
    ) -> bytes:
        """Read `num_frames` frames of 16-bit PCM. A blocking device waits until they have
        arrived (at most their duration plus a second, then returns what there is, maybe
        nothing); a non-blocking one returns `b""` and calls `completion(frames)` once
        they have arrived."""
        if num_frames <= 0:
            raise ValueError("num_frames must be positive")
        want = num_frames * self.bytes_per_frame
        with self._cond:
            if self._non_blocking:
                if completion is not None:
                    self._pending.append((want, completion))
                    self._serve()
                return b""
            self._cond.wait_for(
                lambda: len(self._buffer) >= want, self.seconds(want) + READ_SLACK_SECONDS
            )
            have = min(want, len(self._buffer) - len(self._buffer) % self.bytes_per_frame)
            chunk = bytes(self._buffer[:have])
            del self._buffer[:have]
            return chunk

    def deliver(self, pcm: bytes) -> None:
        """Received audio, already in this device's rate and channel count."""
        with self._cond:
            self._buffer += pcm
            overflow = len(self._buffer) - self._capacity
            if overflow > 0:
                del self._buffer[: overflow + (-overflow % self.bytes_per_frame)]
            self._serve()
            self._cond.notify_all()

    def _serve(self) -> None:
        while self._pending and len(self._buffer) >= self._pending[0][0]:
            want, completion = self._pending.popleft()
            chunk = bytes(self._buffer[:want])
            del self._buffer[:want]
            self._callbacks.call(completion, chunk)
