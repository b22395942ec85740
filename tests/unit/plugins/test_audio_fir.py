"""Resampling by a whole factor: the same output however the input is chunked, under a
millisecond held back, in line with soxr's one-shot output, the speech band passed and
what would fold into it (or image above it) stopped."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from openreplica.plugins.audio import Resampler, resample, tone
from openreplica.plugins.audio_fir import TAPS_PER_SIDE, Decimator, Interpolator

Stream = Decimator | Interpolator
#: (a new stream, its input rate, how many outputs n inputs give)
DIRECTIONS = [
    (lambda: Decimator(3), 48000, lambda n: -(-n // 3)),  # the last partial input counts
    (lambda: Interpolator(2), 24000, lambda n: 2 * n),
]


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def level_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)) + 1e-12))


def noise(seconds: float, rate: int, seed: int = 3) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0.0, 3000.0, round(seconds * rate))
    return np.asarray(np.clip(x, -32768, 32767), np.int16)


def whole(stream: Stream, x: np.ndarray) -> np.ndarray:
    return np.concatenate([stream.process(x), stream.flush()])


@pytest.mark.parametrize("chunk", [1, 7, 480, 4801])
@pytest.mark.parametrize(("make", "rate", "outputs"), DIRECTIONS)
def test_the_output_is_the_same_however_the_input_is_chunked(
    chunk: int, make: Callable[[], Stream], rate: int, outputs: Callable[[int], int]
) -> None:
    x = noise(0.5, rate)
    expected = whole(make(), x)
    stream = make()
    parts = [stream.process(x[i : i + chunk]) for i in range(0, x.size, chunk)]
    out = np.concatenate([*parts, stream.flush()])
    assert out.tolist() == expected.tolist()
    assert out.size == outputs(x.size)
    assert whole(stream, x).tolist() == expected.tolist()  # a flushed stream starts over


@pytest.mark.parametrize(("src", "dst"), [(48000, 16000), (24000, 48000), (16000, 48000)])
def test_a_20_ms_packet_is_out_within_a_millisecond(src: int, dst: int) -> None:
    resampler, received, out = Resampler(src, dst), 0, 0
    for k in range(50):
        packet = noise(0.02, src, seed=k).tobytes()
        received += len(packet) // 2
        out += len(resampler.process(packet)) // 2
        held_back = received / src - out / dst
        assert 0 <= held_back <= 0.001 + 1 / dst
    assert TAPS_PER_SIDE / 16000 <= 0.001


@pytest.mark.parametrize(("src", "dst"), [(48000, 16000), (24000, 48000)])
def test_it_lines_up_with_the_one_shot_resampler(src: int, dst: int) -> None:
    """No delay: the speech band comes out where soxr's one-shot puts it."""
    x = (
        samples(tone(440.0, 1.0, src))
        + samples(tone(2500.0, 1.0, src, amplitude=0.2))
        + samples(tone(5000.0, 1.0, src, amplitude=0.1))
    )
    pcm = np.asarray(np.clip(x, -32768, 32767), np.int16).tobytes()
    ours = Resampler(src, dst)
    mine = samples(ours.process(pcm) + ours.flush())
    theirs = samples(resample(pcm, src, dst))
    assert mine.size == theirs.size
    inner = slice(300, mine.size - 300)
    assert np.max(np.abs(mine[inner] - theirs[inner])) < 0.005 * np.max(np.abs(theirs))


@pytest.mark.parametrize("hz", [440.0, 3000.0, 6400.0])
@pytest.mark.parametrize(("make", "rate", "outputs"), DIRECTIONS)
def test_the_speech_band_passes(
    hz: float, make: Callable[[], Stream], rate: int, outputs: Callable[[int], int]
) -> None:
    x = np.asarray(samples(tone(hz, 0.5, rate)), np.int16)
    y = whole(make(), x)
    assert abs(level_db(y[300:-300]) - level_db(x[300:-300])) <= 0.05


@pytest.mark.parametrize("hz", [8400.0, 10000.0, 15000.0, 23000.0])
def test_what_would_fold_into_the_band_is_stopped(hz: float) -> None:
    x = np.asarray(samples(tone(hz, 0.5, 48000, amplitude=0.9)), np.int16)
    assert level_db(whole(Decimator(3), x)[200:-200]) - level_db(x) <= -50


def test_no_image_of_the_band_is_made_above_it() -> None:
    """24 to 48 kHz: a 5 kHz tone, with nothing at its mirror image (19 kHz)."""
    y = whole(Interpolator(2), np.asarray(samples(tone(5000.0, 0.5, 24000)), np.int16))
    spectrum = np.abs(np.fft.rfft(y[500:-500] * np.hanning(y.size - 1000)))
    freqs = np.fft.rfftfreq(y.size - 1000, 1 / 48000)

    def at(hz: float) -> float:
        return float(spectrum[np.argmin(np.abs(freqs - hz))])

    assert 20 * np.log10(at(19000.0) / at(5000.0)) <= -50


def test_a_factor_under_two_is_refused() -> None:
    with pytest.raises(ValueError, match="2 or more"):
        Decimator(1)
    with pytest.raises(ValueError, match="2 or more"):
        Interpolator(0)
