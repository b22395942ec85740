"""Where the user's speech actually stopped, a little before the VAD says so.

The VAD's end of speech is the start of its first frame below the off threshold, and
Silero's probability decays for a while after the last sound: on the synthetic speech
set that frame starts 12-175 ms (p50 ~85) after the last audible sample. Turn-ending
pauses are meant to count from the last sound, so the voice path looks back over the
audio just before that frame for the end of the last 10 ms block that is still loud
relative to the speech before it (`DB_BELOW_PEAK` under the loudest block of the last
`LOOKBACK` seconds), above the room's noise (`DB_OVER_NOISE` over the quietest block
from the VAD's end on, which the VAD already called silence) and above an absolute
floor, at most `MAX_BACK` before the VAD's end: the pause then counts from there.
Without the noise term, a sentence ending softly in a noisy room put the threshold at the
noise's level, and the pause counted from the VAD's end.
Measured on the larger synthetic set's 80 complete sentences (`bench/turn_timeline.py
--set larger`): the estimate lands p50 4 ms after the true last audible sample (p95 40,
p99 101), 1 of 80 more than 20 ms before it; it moves the start of the pause ~70 ms
earlier at p50.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK", "DB_BELOW_PEAK", "DB_OVER_NOISE", "LOOKBACK", "MAX_BACK", "audible_end"]

#: the loudness is judged over blocks of this many seconds
BLOCK = 0.01
#: a block this many dB under the loudest one of the look-back window is not speech
DB_BELOW_PEAK = 30.0
#: a block must be this many dB over the quietest block from the VAD's end on (the noise)
DB_OVER_NOISE = 6.0
#: the window (seconds before the VAD's end) whose loudest block sets the level
LOOKBACK = 0.3
#: the estimate is never more than this before the VAD's end
MAX_BACK = 0.1
#: below this level (dBFS, RMS) a block is silence whatever the speech's level
FLOOR_DBFS = -60.0


def audible_end(pcm: bytes, pcm_end: float, vad_end: float, rate: int) -> float:
    """The media time (seconds) where the last audible sound in `pcm` stops, between
    `vad_end - MAX_BACK` and `vad_end`. `pcm`: 16-bit mono audio at `rate` ending at
    media time `pcm_end` (it may run past `vad_end`: sound heard there keeps the end at
    `vad_end`). With no audio, or none loud enough, the VAD's end stands."""
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64) / 32768.0
    block = max(1, round(BLOCK * rate))
    start = pcm_end - x.size / rate
    first = max(0, round((vad_end - LOOKBACK - start) * rate))
    x = x[first:]
    n = x.size // block
    if n == 0:
        return vad_end
    rms = np.sqrt((x[: n * block].reshape(n, block) ** 2).mean(axis=1))
    threshold = max(float(rms.max()) * 10 ** (-DB_BELOW_PEAK / 20), 10 ** (FLOOR_DBFS / 20))
    # blocks wholly inside the VAD's silence (from its end on) tell how loud the room is
    silence_from = round((vad_end - start) * rate) - first  # a sample index into x
    noise = rms[max(0, -(-silence_from // block)) :]
    if noise.size:
        threshold = max(threshold, float(noise.min()) * 10 ** (DB_OVER_NOISE / 20))
    loud = np.flatnonzero(rms >= threshold)
    if loud.size == 0:
        return vad_end
    end = start + (first + (int(loud[-1]) + 1) * block) / rate
    return min(vad_end, max(vad_end - MAX_BACK, end))
