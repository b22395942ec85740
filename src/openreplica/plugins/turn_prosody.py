"""Prosodic end-of-utterance cues from the end of a turn's audio (numpy only, ~1-2 ms).

A speaker who has finished a statement usually lets the pitch fall to the bottom of their
range, lengthens the last syllable and lets the energy die away; one who stops in the
middle of a sentence ("I would like a large … pizza") usually keeps the pitch up and
the last syllable short. These are the cues this module measures; `turn_cues.py` weighs
them against Smart Turn and the words.

The pitch is tracked by normalised autocorrelation on 8 kHz audio, 32 ms windows every
15 ms, 70-400 Hz, a second pass held within half an octave of the span's median (octave
errors). Frames are voiced where the autocorrelation peak is above 0.5 and the energy
within 30 dB of the loudest frame. From the voiced frames:

- `declination`: the pitch at the end (median of the last 60 ms of voiced frames) minus the
  pitch at the start of the span (median of its first 300 ms of voiced frames), in semitones.
  Statements fall across the sentence; a pause mid-way has not fallen yet.
- `low`: how far below the middle of the speaker's range (10th-90th percentile in the
  span) the end pitch is, as a share of that range (0 at or above the middle).
- `final_lengthening`: log of the last voiced stretch's length over the median length of
  the span's earlier voiced stretches (stretches split at gaps over 30 ms): the
  phrase-final syllable is long.
- `energy_drop`: the last 100 ms of speech against the span's median speech energy, in
  units of 10 dB (more negative: the voice died away).
- `pitch_jitter`: the median change of pitch between consecutive voiced frames, in
  semitones. A formant synthesiser's pitch (espeak-ng: ~0.21) moves far more smoothly
  than a neural or a human voice (Piper: ~0.4); `turn_cues.py` uses it to weigh Smart
  Turn, trained on human speech, less for a voice it has never heard the like of.

Two more from the energy envelope of the last 3 s (25 ms windows every 5 ms, smoothed
over 35 ms), relative to the turn itself so that a voice's own pace does not count:

- `final_syllable`: log of the last syllable nucleus's length (the envelope within 6 dB
  of its peak; nuclei are peaks standing 3 dB above both sides, at least 80 ms apart)
  over the median length of the earlier ones: phrase-final lengthening, measured per
  syllable rather than per voiced stretch (0 with fewer than three nuclei). A nucleus
  must dip 3 dB within 200 ms on each side, so one longer than ~400 ms is missed: a
  drawled last syllable then counts as the one before it. (Measuring the dips wherever
  they are found the drawl but did worse in cross-validation on the tuning half.)
- `release`: how long the voice takes to die away, seconds from the last 10 ms frame
  within 6 dB of the loudest of the last 400 ms to the end of speech. A sentence's end
  fades; a sentence stopped mid-way stops.

Limits, said plainly: the cues were chosen and weighed on synthetic voices (Piper and
espeak-ng) where a mid-sentence pause is a silence spliced into a sentence spoken whole,
so the words before it carry no hesitation at all. People who hesitate lengthen the last
word or say "uh" with a level pitch: lengthening then points the wrong way (towards
"finished"), while the level pitch still says "not finished". Questions that rise at the
end have no low ending; they rely on the other cues.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SPAN", "ProsodyFeatures", "prosody_features"]

SAMPLE_RATE = 16000
#: the analysed span: the last 2 s of the turn's audio
SPAN = 2.0
_RATE = 8000  # pitch is tracked at half rate
_WIN = 256  # 32 ms
_HOP = 120  # 15 ms
_NFFT = 512  # >= _WIN + the longest lag: no circular wrap
_MIN_LAG, _MAX_LAG = _RATE // 400, _RATE // 70
_HANN = np.hanning(_WIN)
_WINDOW_AC = np.fft.irfft(np.abs(np.fft.rfft(_HANN, n=_NFFT)) ** 2)[: _MAX_LAG + 1]
_WINDOW_AC = np.maximum(_WINDOW_AC / _WINDOW_AC[0], 1e-3)
_FRAME = _HOP / _RATE
#: a voiced stretch ends at a gap longer than this many frames (30 ms)
_GAP = round(0.03 / _FRAME)
_END_FRAMES = round(0.06 / _FRAME)  # the end pitch: the last 60 ms of voiced frames
_START_FRAMES = round(0.3 / _FRAME)  # the start pitch: the first 300 ms of them
_TAIL_FRAMES = round(0.1 / _FRAME)  # the end energy: the last 100 ms of speech
#: the syllable envelope: the last 3 s, 25 ms windows every 5 ms, smoothed over 7 hops
_ENV_SPAN, _ENV_WIN, _ENV_HOP, _ENV_SMOOTH = 3.0, 400, 80, 7
#: a nucleus stands this many dB above the envelope 200 ms either side; nuclei closer
#: than 80 ms are one; its length is where it stays within 6 dB of its peak
_PROMINENCE, _MERGE, _NUCLEUS_DB = 3.0, 16, 6.0
#: the release: 10 ms windows every 5 ms over the last 400 ms of speech
_REL_WIN, _REL_HOP, _REL_SPAN, _REL_DB = 160, 80, 80, 6.0

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ProsodyFeatures:
    declination: float
    low: float
    final_lengthening: float
    energy_drop: float
    pitch_jitter: float = 0.0
    final_syllable: float = 0.0
    release: float = 0.0


def _pitch_track(x: Floats) -> tuple[Floats, Floats, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(energy dB, F0 Hz, voiced, speech) per 15 ms frame of 16 kHz float audio (F0 is
    only meaningful where voiced)."""
    n = len(x) // 2 * 2
    y = (x[0:n:2] + x[1:n:2]) * 0.5  # 8 kHz (a two-tap low-pass is enough for pitch)
    frames = np.lib.stride_tricks.sliding_window_view(y, _WIN)[::_HOP]
    energy = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    loudest = float(energy.max())
    speech = energy > max(loudest - 35.0, -55.0)
    # only loud speech frames can be voiced: the autocorrelation is computed for them alone
    candidates = np.flatnonzero(speech & (energy > loudest - 30.0))
    picked = frames[candidates]
    centred = picked - picked.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred * _HANN, n=_NFFT, axis=1)
    ac = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=_NFFT, axis=1)[:, : _MAX_LAG + 1]
    ac = ac / (ac[:, :1] + 1e-12) / _WINDOW_AC
    rows = np.arange(len(ac))
    lag = _MIN_LAG + np.argmax(ac[:, _MIN_LAG:_MAX_LAG], axis=1)
    periodic = ac[rows, lag] > 0.5
    if periodic.sum() >= 5:  # octave errors: search again near the span's median lag
        ref = float(np.median(lag[periodic]))
        lo, hi = max(_MIN_LAG, int(ref / 1.45)), min(_MAX_LAG, int(ref * 1.45) + 1)
        lag = lo + np.argmax(ac[:, lo:hi], axis=1)
        periodic = ac[rows, lag] > 0.5
    voiced = np.zeros(len(frames), dtype=np.bool_)
    voiced[candidates[periodic]] = True
    f0 = np.full(len(frames), float(_RATE) / _MAX_LAG)
    f0[candidates] = _RATE / lag.astype(np.float64)
    return energy, f0, voiced, speech


def _stretches(voiced_idx: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Lengths (frames) of the runs of voiced frames, split at gaps over `_GAP`."""
    breaks = np.flatnonzero(np.diff(voiced_idx) > _GAP)
    starts = np.r_[voiced_idx[0], voiced_idx[breaks + 1]]
    ends = np.r_[voiced_idx[breaks], voiced_idx[-1]]
    lengths: npt.NDArray[np.intp] = ends - starts + 1
    return lengths


def prosody_features(pcm16k: bytes) -> ProsodyFeatures | None:
    """The cues at the end of a turn's 16 kHz mono 16-bit audio (trailing silence is
    ignored), or None when the span holds too little voiced speech to judge."""
    samples = np.frombuffer(pcm16k, dtype="<i2")[-round(SPAN * SAMPLE_RATE) :]
    if samples.size < _WIN * 2 * 10:
        return None
    energy, f0, voiced, speech = _pitch_track(samples.astype(np.float64) / 32768.0)
    speech_idx = np.flatnonzero(speech)
    if speech_idx.size == 0:
        return None
    last = int(speech_idx[-1])
    voiced_idx = np.flatnonzero(voiced[: last + 1])
    if voiced_idx.size < _START_FRAMES // 2:
        return None
    semitones = 12.0 * np.log2(f0[voiced_idx])
    end = float(np.median(semitones[-_END_FRAMES:]))
    p10, p90 = np.percentile(semitones, [10.0, 90.0])
    middle, spread = (p10 + p90) / 2.0, max(float(p90 - p10), 1.0)
    lengths = _stretches(voiced_idx)
    lengthening = float(np.log(lengths[-1] / np.median(lengths[:-1]))) if lengths.size > 1 else 0.0
    tail = energy[max(0, last + 1 - _TAIL_FRAMES) : last + 1]
    steps = np.abs(np.diff(semitones))[np.diff(voiced_idx) == 1]
    return ProsodyFeatures(
        declination=end - float(np.median(semitones[:_START_FRAMES])),
        low=max(0.0, float(middle - end) / spread),
        final_lengthening=lengthening,
        energy_drop=(float(np.mean(tail)) - float(np.median(energy[speech_idx]))) / 10.0,
        pitch_jitter=float(np.median(steps)) if steps.size else 0.0,
        final_syllable=_final_syllable(pcm16k),
        release=_release(samples.astype(np.float64) / 32768.0),
    )


def _envelope(x: Floats, win: int, hop: int) -> Floats:
    """Energy in dB of `win`-sample windows every `hop` samples."""
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    envelope: Floats = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return envelope


def _final_syllable(pcm16k: bytes) -> float:
    """`final_syllable`: the last nucleus's length over the earlier ones' median, logged."""
    x = np.frombuffer(pcm16k, dtype="<i2")[-round(_ENV_SPAN * SAMPLE_RATE) :]
    if x.size < _ENV_WIN * 2:
        return 0.0
    raw = _envelope(x.astype(np.float64) / 32768.0, _ENV_WIN, _ENV_HOP)
    env = np.convolve(raw, np.ones(_ENV_SMOOTH) / _ENV_SMOOTH, mode="same")
    loudest = float(env.max())
    speech = np.flatnonzero(env > max(loudest - 35.0, -55.0))
    first, last = int(speech[0]), int(speech[-1])
    inner = np.arange(first + 1, last)
    local_max = (env[inner] >= env[inner - 1]) & (env[inner] > env[inner + 1])
    local_max &= env[inner] > loudest - 25.0
    nuclei: list[int] = []
    for j in inner[local_max]:
        left = env[max(first, j - 40) : j + 1].min()
        right = env[j : min(last + 1, j + 41)].min()
        if env[j] - left < _PROMINENCE or env[j] - right < _PROMINENCE:
            continue
        if nuclei and j - nuclei[-1] < _MERGE:
            if env[j] > env[nuclei[-1]]:
                nuclei[-1] = int(j)
        else:
            nuclei.append(int(j))
    if len(nuclei) < 3:
        return 0.0
    lengths = []
    for j in nuclei:
        floor, a, b = env[j] - _NUCLEUS_DB, j, j
        while a > first and env[a - 1] > floor:
            a -= 1
        while b < last and env[b + 1] > floor:
            b += 1
        lengths.append(b - a + 1)
    return float(np.log(lengths[-1] / np.median(lengths[:-1])))


def _release(x: Floats) -> float:
    """`release`: seconds from the last frame within 6 dB of the last 400 ms's loudest
    to the end of speech."""
    env = _envelope(x, _REL_WIN, _REL_HOP)
    speech = np.flatnonzero(env > max(float(env.max()) - 35.0, -55.0))
    last = int(speech[-1])
    span = env[max(0, last - _REL_SPAN) : last + 1]
    loud = np.flatnonzero(span > span.max() - _REL_DB)
    return float(len(span) - 1 - loud[-1]) * _REL_HOP / SAMPLE_RATE
