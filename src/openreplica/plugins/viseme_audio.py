"""Visemes from audio alone: for speech that comes with no text and no timing (echoed
audio), an estimate of the mouth shape every 10 ms.

A small classifier (two layers, about 30k weights, numpy only) over log-mel spectra:
24 mel bands, their shape (each band minus the frame's mean, so the speaker's level does
not matter, minus the running mean shape of the speech so far, so a voice's or a
channel's colour matters less) and the frame's level relative to a slowly decaying peak
of the speech so far, stacked over ±40 ms of context. It was trained on the packaged
Piper voice's speech labelled by Piper's own phoneme alignments, plus three espeak-ng
voices labelled by pocketsphinx (`scripts/train_audio_visemes.py` makes the weights
again, prints their agreement on held-out sentences and unseen espeak-ng voices, and
writes `viseme_audio.npz` next to this module). Good on voices like those; little better
than a guess on very different ones (see docs/webrtc.md for the figures).

`AudioVisemeStream` takes one utterance's audio chunk by chunk (any rate) and returns
each chunk's `VisemeMark`s. It keeps the last 40 ms of features (and 25 ms of audio) of
the previous chunk as context, so a stream cut into chunks is labelled almost as the
whole would be (only the 40 ms of look-ahead at a chunk's end is missing). Cost: about
3–6 ms of CPU per second of audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openreplica.plugins.audio import pcm16_to_float, resample
from openreplica.plugins.visemes import VISEMES, Viseme, VisemeMark

__all__ = [
    "FEATURE_RATE",
    "HOP",
    "AudioVisemeModel",
    "AudioVisemeStream",
    "Normaliser",
    "decode",
    "estimate",
    "frame_features",
    "stack_context",
]

FloatArray = npt.NDArray[np.float32]

FEATURE_RATE = 16000
HOP = 160  # 10 ms
_WINDOW = 400  # 25 ms
_FFT = 512
_BANDS = 24
_CONTEXT = 4  # frames each side: ±40 ms
#: the level's peak falls this much (natural-log power) per frame: about 4 dB a second
_PEAK_DECAY = 0.01
#: frames within this much (natural-log power, about 17 dB) of the peak count as speech
_SPEECH_BELOW_PEAK = -4.0
#: frames quieter than this (mean log band power; digital silence is -18.4, -60 dBFS
#: noise about -7) are never speech, even when nothing louder came before them
_SILENCE_LEVEL = -12.0
#: the speech's mean shape follows the last second or so
_MEAN_RATE = 0.01
_MIN_RUN = 3  # frames: a shape shows at least 30 ms
#: closures are short and what a viewer misses most: on Piper's held-out speech, six
#: times their odds finds 65 % of m/b/p frames (within a video frame) instead of 16 %,
#: for about 1.6 points of overall agreement
_CLOSED_BIAS = 6.0
_PACKAGED = "viseme_audio.npz"


def _mel_filters() -> FloatArray:
    def mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges_mel = np.linspace(mel(np.array(100.0)), mel(np.array(7600.0)), _BANDS + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(_FFT, 1.0 / FEATURE_RATE)
    filters = np.zeros((_FFT // 2 + 1, _BANDS), np.float32)
    for b in range(_BANDS):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        rise = (freqs - lo) / (mid - lo)
        fall = (hi - freqs) / (hi - mid)
        filters[:, b] = np.clip(np.minimum(rise, fall), 0.0, None)
    return filters


_FILTERS = _mel_filters()
_BIAS = np.array([_CLOSED_BIAS if v in ("mbp", "fv") else 1.0 for v in VISEMES], np.float32)
_HANN = np.hanning(_WINDOW).astype(np.float32)


@dataclass
class Normaliser:
    """What a stream has heard so far: the level's decaying peak, and the mean spectral
    shape of its speech frames (subtracted, so a voice's or a channel's own colour
    matters less: cepstral mean normalisation, running)."""

    peak: float = -np.inf
    mean: FloatArray | None = None
    count: int = 0


def frame_features(x: FloatArray, first_centre: int, frames: int, norm: Normaliser) -> FloatArray:
    """Per-frame features of 16 kHz float audio `x`: frame j is centred on sample
    `first_centre + j * HOP` (windows reaching outside `x` see zeros).

    Returns (frames, 25) features: the band shape minus the running mean of the speech
    so far, and the level relative to the running peak; `norm` is updated (carry it to
    the next call of the same stream)."""
    if frames <= 0:
        return np.zeros((0, _BANDS + 1), np.float32)
    pad = _WINDOW
    padded = np.concatenate(
        [np.zeros(pad, np.float32), x, np.zeros(pad + frames * HOP, np.float32)]
    )
    starts = first_centre - _WINDOW // 2 + pad + np.arange(frames) * HOP
    windows = padded[starts[:, None] + np.arange(_WINDOW)[None, :]] * _HANN
    power = np.abs(np.fft.rfft(windows, _FFT)).astype(np.float32) ** 2
    logmel = np.log(power @ _FILTERS + 1e-8).astype(np.float32)
    level = logmel.mean(axis=1)
    shape = logmel - level[:, None]
    relative = np.empty(frames, np.float32)
    centred = np.empty_like(shape)
    for j, value in enumerate(level.tolist()):
        norm.peak = max(value, norm.peak - _PEAK_DECAY)
        relative[j] = value - norm.peak
        if relative[j] > _SPEECH_BELOW_PEAK and value > _SILENCE_LEVEL:
            norm.count += 1
            k = max(_MEAN_RATE, 1.0 / norm.count)
            norm.mean = (
                shape[j].copy() if norm.mean is None else norm.mean + k * (shape[j] - norm.mean)
            )
        centred[j] = shape[j] - (norm.mean if norm.mean is not None else shape[j])
    return np.concatenate([centred, relative[:, None]], axis=1)


def stack_context(features: FloatArray, left: int = 0) -> FloatArray:
    """Each frame with the `_CONTEXT` frames either side, side by side. The first `left`
    rows are context only (from before); the last frames repeat at the far end."""
    n = features.shape[0] - left
    if n <= 0:
        return np.zeros((0, features.shape[1] * (2 * _CONTEXT + 1)), np.float32)
    idx = np.arange(left, left + n)[:, None] + np.arange(-_CONTEXT, _CONTEXT + 1)[None, :]
    idx = np.clip(idx, 0, features.shape[0] - 1)
    return features[idx].reshape(n, -1)


@dataclass(frozen=True)
class AudioVisemeModel:
    """Standardisation and a two-layer classifier over the stacked features."""

    mean: FloatArray
    std: FloatArray
    w1: FloatArray
    b1: FloatArray
    w2: FloatArray
    b2: FloatArray

    @classmethod
    def load(cls, path: Path | None = None) -> AudioVisemeModel:
        """The weights in `path`, or the ones packaged with openreplica."""
        if path is None:
            with resources.as_file(resources.files(__package__) / _PACKAGED) as packaged:
                return cls.load(packaged)
        with np.load(path) as data:
            arrays = {k: np.asarray(data[k], np.float32) for k in cls.__dataclass_fields__}
        return cls(**arrays)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, **{k: getattr(self, k).astype(np.float16) for k in self.__dataclass_fields__}
        )

    @property
    def weights(self) -> int:
        return int(self.w1.size + self.b1.size + self.w2.size + self.b2.size)

    def probabilities(self, stacked: FloatArray) -> FloatArray:
        hidden = np.maximum((stacked - self.mean) / self.std @ self.w1 + self.b1, 0.0)
        logits = hidden @ self.w2 + self.b2
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=1, keepdims=True), np.float32)


def decode(probabilities: FloatArray) -> list[int]:
    """Per-frame viseme indices: closed lips (m/b/p, f/v) favoured (`_CLOSED_BIAS`),
    posteriors averaged over 30 ms, then runs shorter than `_MIN_RUN` frames given to
    the shape before them (no one-frame flicker)."""
    if len(probabilities) == 0:
        return []
    probabilities = probabilities * _BIAS
    kernel = np.ones(3, np.float32) / 3
    padded = np.pad(probabilities, ((1, 1), (0, 0)), mode="edge")
    smooth = np.stack(
        [np.convolve(padded[:, k], kernel, mode="valid") for k in range(padded.shape[1])], axis=1
    )
    labels: list[int] = [int(k) for k in smooth.argmax(axis=1)]
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if i - start < _MIN_RUN and start > 0:
                labels[start:i] = [labels[start - 1]] * (i - start)
            start = i
    return labels


class AudioVisemeStream:
    """One utterance's audio, chunk by chunk: the visemes of each chunk."""

    def __init__(self, model: AudioVisemeModel) -> None:
        self._model = model
        #: the audio just before this chunk (the first windows reach back into it)
        self._tail = np.zeros(0, np.float32)
        #: the features of the last `_CONTEXT` frames so far (context for the next ones)
        self._rows = np.zeros((0, _BANDS + 1), np.float32)
        self._norm = Normaliser()

    def marks(self, pcm: bytes, sample_rate: int) -> tuple[VisemeMark, ...]:
        """Marks for this chunk (16-bit mono PCM at `sample_rate`), offsets into it."""
        if not pcm:
            return ()
        audio = pcm if sample_rate == FEATURE_RATE else resample(pcm, sample_rate, FEATURE_RATE)
        chunk = pcm16_to_float(audio).astype(np.float32)
        frames = -(-len(chunk) // HOP)
        x = np.concatenate([self._tail, chunk])
        features = frame_features(x, len(self._tail) + HOP // 2, frames, self._norm)
        # The frames before are context: for the new frames' stacks, and for smoothing.
        left = len(self._rows)
        rows = np.concatenate([self._rows, features])
        self._rows = rows[-_CONTEXT:]
        self._tail = x[-_WINDOW:]
        labels = decode(self._model.probabilities(stack_context(rows)))[left:]
        marks: list[VisemeMark] = []
        for j, label in enumerate(labels):
            viseme: Viseme = VISEMES[label]
            if not marks or marks[-1].viseme != viseme:
                marks.append(VisemeMark(round(j * HOP * sample_rate / FEATURE_RATE), viseme))
        return tuple(marks)


def estimate(pcm: bytes, sample_rate: int, model: AudioVisemeModel) -> tuple[VisemeMark, ...]:
    """Marks for one whole utterance."""
    return AudioVisemeStream(model).marks(pcm, sample_rate)
