"""Upsampling by a whole factor: the same output however the input is chunked, under a
millisecond held back, in line with soxr's one-shot output, the band passed and no
image of it made above."""

from __future__ import annotations

import numpy as np
import pytest

from openreplica.plugins.audio import Resampler, resample, tone
from openreplica.plugins.audio_fir import Interpolator


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def level_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)) + 1e-12))


def noise(seconds: float, rate: int, seed: int = 3) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0.0, 3000.0, round(seconds * rate))
    return np.asarray(np.clip(x, -32768, 32767), np.int16)


def whole(stream: Interpolator, x: np.ndarray) -> np.ndarray:
    return np.concatenate([stream.process(x), stream.flush()])


@pytest.mark.parametrize("chunk", [1, 7, 480, 4801])
def test_the_output_is_the_same_however_the_input_is_chunked(chunk: int) -> None:
    x = noise(0.5, 24000)
    expected = whole(Interpolator(2), x)
    stream = Interpolator(2)
    parts = [stream.process(x[i : i + chunk]) for i in range(0, x.size, chunk)]
    out = np.concatenate([*parts, stream.flush()])
    assert out.tolist() == expected.tolist()
    assert out.size == 2 * x.size
    assert whole(stream, x).tolist() == expected.tolist()  # a flushed stream starts over


@pytest.mark.parametrize(("src", "dst"), [(24000, 48000), (16000, 48000)])
def test_a_20_ms_frame_is_out_within_a_millisecond(src: int, dst: int) -> None:
    resampler, received, out = Resampler(src, dst), 0, 0
    for k in range(50):
        frame = noise(0.02, src, seed=k).tobytes()
        received += len(frame) // 2
        out += len(resampler.process(frame)) // 2
        held_back = received / src - out / dst
        assert 0 <= held_back <= 0.001 + 1e-9  # 16 input samples: 1 ms at 16 kHz


def test_the_way_in_stays_with_soxr() -> None:
    """48 to 16 kHz is not a whole-factor upsampling: soxr's stream, which holds back."""
    resampler = Resampler(48000, 16000)
    out = sum(len(resampler.process(noise(0.02, 48000, seed=k).tobytes())) for k in range(10))
    assert out // 2 < 0.2 * 16000 - 0.002 * 16000


@pytest.mark.parametrize("src", [24000, 16000])
def test_it_lines_up_with_the_one_shot_resampler(src: int) -> None:
    """No delay: the band comes out where soxr's one-shot puts it."""
    x = (
        samples(tone(440.0, 1.0, src))
        + samples(tone(2500.0, 1.0, src, amplitude=0.2))
        + samples(tone(5000.0, 1.0, src, amplitude=0.1))
    )
    pcm = np.asarray(np.clip(x, -32768, 32767), np.int16).tobytes()
    ours = Resampler(src, 48000)
    mine = samples(ours.process(pcm) + ours.flush())
    theirs = samples(resample(pcm, src, 48000))
    assert mine.size == theirs.size
    inner = slice(600, mine.size - 600)
    assert np.max(np.abs(mine[inner] - theirs[inner])) < 0.005 * np.max(np.abs(theirs))


@pytest.mark.parametrize("hz", [440.0, 3000.0, 9600.0])
def test_the_band_passes(hz: float) -> None:
    x = np.asarray(samples(tone(hz, 0.5, 24000)), np.int16)
    y = whole(Interpolator(2), x)
    # the same power in twice the samples: the level (RMS) is the input's
    assert abs(level_db(y[600:-600]) - level_db(x[300:-300])) <= 0.05


@pytest.mark.parametrize("hz", [3000.0, 9000.0])
def test_no_image_of_the_band_is_made_above_it(hz: float) -> None:
    y = whole(Interpolator(2), np.asarray(samples(tone(hz, 0.5, 24000)), np.int16))
    spectrum = np.abs(np.fft.rfft(y[500:-500] * np.hanning(y.size - 1000)))
    freqs = np.fft.rfftfreq(y.size - 1000, 1 / 48000)

    def at(f: float) -> float:
        return float(spectrum[np.argmin(np.abs(freqs - f))])

    assert 20 * np.log10(at(24000.0 - hz) / at(hz)) <= -50


def test_a_factor_under_two_is_refused() -> None:
    with pytest.raises(ValueError, match="2 or more"):
        Interpolator(1)
