"""How much audio a streaming resampler holds back, fed 20 ms at a time (a call's
packets, the playout's frames): soxr's stream (HQ, what `Resampler` uses for other
ratios) against `audio_fir` where it is used (24 kHz up to a call's 48 kHz), and the
way in (48 kHz down to 16 kHz), which stays with soxr. Held back = the input's duration
so far minus the output's, after each chunk; p50 / p95 / max in ms over 10 s of noise,
and the CPU per second of audio.

    PYTHONPATH=src .venv/bin/python bench/resample_lag.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import soxr

from openreplica.plugins.audio_fir import Interpolator

CHUNK = 0.02
SECONDS = 10.0

Step = Callable[[np.ndarray], np.ndarray]


def soxr_step(src: int, dst: int) -> Step:
    stream = soxr.ResampleStream(src, dst, 1, dtype="int16")
    return lambda x: np.asarray(stream.resample_chunk(x))


def measure(name: str, src: int, dst: int, step: Step) -> None:
    rng = np.random.default_rng(1)
    n = round(src * CHUNK)
    chunks = [
        np.asarray(np.clip(rng.normal(0, 3000, n), -32768, 32767), np.int16)
        for _ in range(round(SECONDS / CHUNK))
    ]
    received = emitted = 0
    held: list[float] = []
    cpu = time.process_time()
    for chunk in chunks:
        received += chunk.size
        emitted += step(chunk).size
        held.append(1000 * (received / src - emitted / dst))
    cpu = time.process_time() - cpu
    settled = np.array(held[10:])  # after the first 200 ms
    print(
        f"{name:34}{np.median(settled):7.1f}{np.percentile(settled, 95):7.1f}"
        f"{settled.max():7.1f}   {1000 * cpu / SECONDS:5.2f} ms"
    )


def main() -> None:
    print(f"{'resampler, 20 ms chunks':34}{'p50':>7}{'p95':>7}{'max':>7}   CPU per s of audio")
    measure("24 -> 48 kHz soxr HQ stream", 24000, 48000, soxr_step(24000, 48000))
    measure("24 -> 48 kHz audio_fir (used)", 24000, 48000, Interpolator(2).process)
    measure("48 -> 16 kHz soxr HQ stream (used)", 48000, 16000, soxr_step(48000, 16000))


if __name__ == "__main__":
    main()
