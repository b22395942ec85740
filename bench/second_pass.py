"""PocketSphinx's final pass: the second search's default window against the shipped one.

The synthetic speech set (tests/support/speech_set.py, Piper and espeak-ng) is decoded
utterance by utterance by three decoders in turn, each fed the same audio: from 0.2 s
before the first audible sample (the voice path's pre-roll) to 64 ms after the last one
(where the early final runs), for a hesitant utterance up to 64 ms into its pause (the
words the turn's decision reads there). Per decoder it prints the final pass's thread CPU
(`end_utt`: p50 / p95 ms, and the total against the default window's), how many
transcripts differ from the default window's, the word error rate of the complete
utterances (words lower-cased, punctuation dropped), and how many hesitant utterances
end on a word no sentence ends with (`ends_mid_sentence`: the words say "not finished").

  default window   fwdflat as PocketSphinx ships it (successors within 25 frames)
  shipped          `asr_worker.build_decoder(second_pass=True)`
  one pass         `second_pass=False` (the tree search's best path alone)

CPU figures are thread CPU, so the machine's load does not distort them much; the
machine's speed does (compare within one run).

Run: PYTHONPATH=src .venv/bin/python bench/second_pass.py [--set small|larger]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from percentiles import percentile
from speech_set import Utterance, speech_set
from turn_timeline import edit_distance, words

from openreplica.engine.trailing_words import ends_mid_sentence
from openreplica.plugins.asr_worker import SAMPLE_RATE, build_decoder
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.plugins.tts_piper import PiperTTS

PREROLL = 0.2
AFTER_END = 0.064
PUSH_BYTES = 1024  # 32 ms, as the voice path pushes


@dataclass
class Tally:
    cpu: list[float] = field(default_factory=list)
    differ: int = 0
    errors: int = 0
    reference_words: int = 0
    unfinished: int = 0


def default_window_decoder() -> Any:
    from pocketsphinx import Decoder

    return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", fwdflat=True)


def decode(decoder: Any, u: Utterance) -> tuple[str, float]:
    """The final transcript of `u`'s speech (to its pause when hesitant), and the thread
    CPU of the final pass."""
    end = (u.pause[0] if u.pause is not None else u.end) + AFTER_END
    audio = u.pcm[round((u.start - PREROLL) * SAMPLE_RATE) * 2 : round(end * SAMPLE_RATE) * 2]
    decoder.start_utt()
    for i in range(0, len(audio), PUSH_BYTES):
        decoder.process_raw(audio[i : i + PUSH_BYTES], False, False)
    started = time.thread_time()
    decoder.end_utt()
    cpu = time.thread_time() - started
    hyp = decoder.hyp()
    return (hyp.hypstr if hyp is not None else ""), cpu


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=("small", "larger"), default="larger")
    args = parser.parse_args(argv)
    piper = PiperTTS.default(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    piper.load()
    utterances = await speech_set(
        {"piper": piper, "espeak": EspeakTTS()}, larger=args.set == "larger"
    )
    decoders = {
        "default window": default_window_decoder(),
        "shipped": build_decoder(None, second_pass=True),
        "one pass": build_decoder(None, second_pass=False),
    }
    tallies = {name: Tally() for name in decoders}
    for u in utterances:
        heard = {name: decode(decoder, u) for name, decoder in decoders.items()}
        baseline = heard["default window"][0]
        for name, (text, cpu) in heard.items():
            tally = tallies[name]
            tally.cpu.append(cpu)
            tally.differ += text != baseline
            if u.hesitant:
                tally.unfinished += ends_mid_sentence(text)
            else:
                tally.errors += edit_distance(words(text), words(u.text))
                tally.reference_words += len(words(u.text))
    hesitant = sum(u.hesitant for u in utterances)
    print(
        f"{len(utterances) - hesitant} complete and {hesitant} hesitant utterances "
        f"({args.set} set), final pass thread CPU in ms"
    )
    print(
        f"{'decoder':16}{'CPU p50 / p95':>15}{'total':>8}{'differ':>9}"
        f"{'word errors':>13}{'unfinished':>12}"
    )
    base_total = sum(tallies["default window"].cpu)
    for name, t in tallies.items():
        cpu = f"{1000 * percentile(t.cpu, 50):.1f} / {1000 * percentile(t.cpu, 95):.1f}"
        wer = f"{100 * t.errors / max(1, t.reference_words):.1f} %"
        print(
            f"{name:16}{cpu:>15}{sum(t.cpu) / base_total:>8.2f}{t.differ:>9}"
            f"{wer:>13}{t.unfinished:>8} / {hesitant}"
        )


if __name__ == "__main__":
    asyncio.run(main())
