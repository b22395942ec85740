"""Train the audio-only viseme classifier (`plugins/viseme_audio.py`) from Piper speech.

    PYTHONPATH=src python scripts/train_audio_visemes.py [--out PATH] [--seed N]
    PYTHONPATH=src python scripts/train_audio_visemes.py --score WEIGHTS   # only score them

Speech: the packaged Piper voice reads the training sentences below at three speeds
(length scale 0.85, 1.0, 1.2); every 10 ms frame is labelled with the viseme of Piper's
own phoneme alignment at its centre; each is also heard resampled by 0.86 and 1.14 (a
higher and a lower "voice", vocal-tract-length perturbation). The espeak-ng voices
en-gb, en-us+m3 and en-us+f2 reading the same sentences are added, labelled by
pocketsphinx forced alignment of the known text. A two-layer network (ReLU,
softmax) is trained with Adam on numpy from `--seed` (Piper samples its speech with
noise, so each run's speech, and so its weights, differ a little: the scores of runs
differ by about a point). The weights are saved as float16. Then it is
scored on held-out sentences:
  - Piper, sentences never trained on (labels: Piper's alignments);
  - espeak-ng, two voices not trained on (en-us, en+f3; labels: pocketsphinx forced
    alignment of the known text, itself about 90 % in agreement with Piper's timing);
as the share of 25 fps video frames whose viseme matches the reference within one frame
(what `bench/avatar.py` reports for the other paths) and exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openreplica.plugins.aligner import PocketsphinxAligner
from openreplica.plugins.audio import pcm16_to_float, resample
from openreplica.plugins.base import AudioChunk
from openreplica.plugins.tts_espeak import EspeakTTS
from openreplica.plugins.tts_piper import PiperTTS, find_packaged_voice
from openreplica.plugins.viseme_audio import (
    FEATURE_RATE,
    HOP,
    AudioVisemeModel,
    Normaliser,
    estimate,
    frame_features,
    stack_context,
)
from openreplica.plugins.visemes import VISEMES, VisemeMark, frame_agreement, viseme_at

# IEEE "Harvard" sentences (phonetically balanced, public domain) and a few more.
TRAIN = """The birch canoe slid on the smooth planks.
Glue the sheet to the dark blue background.
It's easy to tell the depth of a well.
These days a chicken leg is a rare dish.
Rice is often served in round bowls.
The juice of lemons makes fine punch.
The box was thrown beside the parked truck.
The hogs were fed chopped corn and garbage.
Four hours of steady work faced us.
A large size in stockings is hard to sell.
The boy was there when the sun rose.
A rod is used to catch pink salmon.
The source of the huge river is the clear spring.
Kick the ball straight and follow through.
Help the woman get back to her feet.
A pot of tea helps to pass the evening.
Smoky fires lack flame and heat.
The soft cushion broke the man's fall.
The salt breeze came across from the sea.
The girl at the booth sold fifty bonds.
The small pup gnawed a hole in the sock.
The fish twisted and turned on the bent hook.
Press the pants and sew a button on the vest.
The swan dive was far short of perfect.
The beauty of the view stunned the young boy.
Two blue fish swam in the tank.
Her purse was full of useless trash.
The colt reared and threw the tall rider.
It snowed, rained, and hailed the same morning.
Read verse out loud for pleasure.
Hoist the load to your left shoulder.
Take the winding path to reach the lake.
Note closely the size of the gas tank.
Wipe the grease off his dirty face.
Mend the coat before you go out.
The wrist was badly strained and hung limp.
The stray cat gave birth to kittens.
The young girl gave no clear response.
The meal was cooked before the bell rang.
What joy there is in living.
A king ruled the state in the early days.
The ship was torn apart on the sharp reef.
Sickness kept him home the third week.
The wide road shimmered in the hot sun.
The lazy cow lay in the cool grass.
Lift the square stone over the fence.
The rope will bind the seven books at once.
Hop over the fence and plunge in.
The friendly gang left the drug store.
Mesh wire keeps chicks inside.
The frosty air passed through the coat.
The crooked maze failed to fool the mouse.
Adding fast leads to wrong sums.
The show was a flop from the very start.
A saw is a tool used for making boards.
The wagon moved on well oiled wheels.
March the soldiers past the next hill.
A cup of sugar makes sweet fudge.
Place a rosebush near the porch steps.
Both lost their lives in the raging storm.
We talked of the side show in the circus.
Use a pencil to write the first draft.
He ran half way to the hardware store.
The clock struck to mark the third period.
A small creek cut across the field.
Cars and busses stalled in snow drifts.
The set of china hit the floor with a crash.
This is a grand season for hikes on the road.
The dune rose from the edge of the water.
Those words were the cue for the actor to leave.
Good morning! How are you feeling today? I hope the weather is kind to you.
Thank you so much for calling. May I have your name and your account number, please?
We'll move the meeting to Friday afternoon, if that works for everyone on the team.
Oh, wow, that's amazing news! Congratulations on the new job.
Please remember to bring your passport, your boarding pass and a warm jacket.
Maybe we should order pizza, or perhaps some fresh Thai food from the market.""".splitlines()

HELD_OUT = """Hello, my name is Eileen. I flew on the space shuttle four times.
Would you like to hear about the view from orbit? It is beautiful.
Five people waited patiently by the bus stop in the freezing rain.
My brother found a very old map of the valley in his father's attic.
Which flavour of ice cream would you choose, vanilla or chocolate?
Open the window, please; it's getting much too warm in here.
Before we begin, let me summarise what we learned last week.
Bob bought a bunch of purple flowers for his mother's birthday.""".splitlines()

SPEEDS = (0.85, 1.0, 1.2)
WARPS = (0.86, 1.14)
#: espeak-ng voices trained on; the scores below use others ("en-us", "en+f3")
ESPEAK_TRAIN = ("en-gb", "en-us+m3", "en-us+f2")
ESPEAK_TEST = ("en-us", "en+f3")


def synthesize(tts: PiperTTS | EspeakTTS, texts: list[str]) -> list[AudioChunk]:
    async def run() -> list[AudioChunk]:
        out: list[AudioChunk] = []
        for text in texts:
            chunks = [c async for c in tts.synthesize(text)]
            pcm = b"".join(c.pcm for c in chunks)
            marks: list[VisemeMark] = []
            offset = 0
            for c in chunks:
                marks += [VisemeMark(m.offset + offset, m.viseme) for m in c.visemes]
                offset += c.samples
            out.append(AudioChunk(pcm, chunks[0].sample_rate, tuple(marks)))
        return out

    return asyncio.run(run())


def labelled_frames(chunk: AudioChunk) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    x = pcm16_to_float(resample(chunk.pcm, chunk.sample_rate, FEATURE_RATE)).astype(np.float32)
    frames = -(-len(x) // HOP)
    features = frame_features(x, HOP // 2, frames, Normaliser())
    index = {v: i for i, v in enumerate(VISEMES)}
    labels = [
        index[
            viseme_at(chunk.visemes, round((j * HOP + HOP // 2) * chunk.sample_rate / FEATURE_RATE))
        ]
        for j in range(frames)
    ]
    return stack_context(features), np.array(labels)


def train(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], hidden: int, epochs: int, seed: int
) -> AudioVisemeModel:
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-3
    xs = ((x - mean) / std).astype(np.float32)
    k = len(VISEMES)
    params = [
        (rng.standard_normal((x.shape[1], hidden)) * np.sqrt(2.0 / x.shape[1])).astype(np.float32),
        np.zeros(hidden, np.float32),
        (rng.standard_normal((hidden, k)) * np.sqrt(1.0 / hidden)).astype(np.float32),
        np.zeros(k, np.float32),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step, lr, batch, decay = 0, 2e-3, 256, 1e-4
    onehot = np.eye(k, dtype=np.float32)[y]
    for epoch in range(epochs):
        order = rng.permutation(len(xs))
        rate = lr * (0.5 ** (epoch // 8))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            xb, tb = xs[idx], onehot[idx]
            w1, b1, w2, b2 = params
            pre = xb @ w1 + b1
            h = np.maximum(pre, 0.0)
            logits = h @ w2 + b2
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            g_logits = (p - tb) / len(idx)
            g_w2 = h.T @ g_logits + decay * w2
            g_b2 = g_logits.sum(axis=0)
            g_h = g_logits @ w2.T * (pre > 0)
            g_w1 = xb.T @ g_h + decay * w1
            g_b1 = g_h.sum(axis=0)
            step += 1
            for i, g in enumerate((g_w1, g_b1, g_w2, g_b2)):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                mh = m[i] / (1 - 0.9**step)
                vh = v[i] / (1 - 0.999**step)
                params[i] = (params[i] - rate * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return AudioVisemeModel(mean, std, *params)


def score(model: AudioVisemeModel, chunks: list[AudioChunk]) -> tuple[float, float]:
    return score_marks([estimate(c.pcm, c.sample_rate, model) for c in chunks], chunks)


def score_marks(
    estimated: list[tuple[VisemeMark, ...]], chunks: list[AudioChunk]
) -> tuple[float, float]:
    exact = near = total = 0
    for marks, c in zip(estimated, chunks, strict=True):
        e, n = frame_agreement(marks, c.visemes, c.samples, c.sample_rate, within=0)
        w, _ = frame_agreement(marks, c.visemes, c.samples, c.sample_rate, within=1)
        exact, near, total = exact + e, near + w, total + n
    return near / total, exact / total


def espeak_reference(voice: str, texts: list[str]) -> list[AudioChunk]:
    aligner = PocketsphinxAligner()
    out = []
    for c, text in zip(synthesize(EspeakTTS(voice=voice), texts), texts, strict=True):
        out.append(AudioChunk(c.pcm, c.sample_rate, aligner.align(c.pcm, c.sample_rate, text)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(__file__).resolve().parents[1] / "src/openreplica/plugins/viseme_audio.npz"
    parser.add_argument("--out", type=Path, default=default)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--score", type=Path, help="only score these weights (no training)")
    args = parser.parse_args()
    if args.score is not None:
        evaluate(AudioVisemeModel.load(args.score), None)
        return

    t0 = time.perf_counter()
    speech: list[AudioChunk] = []
    model_path, config_path = find_packaged_voice()
    for speed in SPEEDS:
        speech += synthesize(
            PiperTTS(model_path, config_path, threads=1, length_scale=speed), TRAIN
        )
    # Vocal-tract-length perturbation: the same speech read as if sampled at another rate
    # is higher or lower (formants and pitch), so the classifier sees more than one voice.
    warped = [AudioChunk(c.pcm, round(c.sample_rate * f), c.visemes) for c in speech for f in WARPS]
    # A second synthesiser, so the classifier is not only Piper's ear: espeak-ng voices
    # labelled by pocketsphinx forced alignment (noisier labels; not the voices scored).
    formant = [c for v in ESPEAK_TRAIN for c in espeak_reference(v, TRAIN)]
    xs, ys = zip(*(labelled_frames(c) for c in speech + warped + formant), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    seconds = sum(c.duration for c in speech + formant)
    print(f"training speech: {seconds:.0f} s, {len(x)} frames ({time.perf_counter() - t0:.0f} s)")
    counts = np.bincount(y, minlength=len(VISEMES)) / len(y)
    print(
        "label shares: " + ", ".join(f"{v} {c:.0%}" for v, c in zip(VISEMES, counts, strict=True))
    )
    t0 = time.perf_counter()
    model = train(x, y, args.hidden, args.epochs, args.seed)
    print(f"trained {model.weights} weights in {time.perf_counter() - t0:.0f} s")
    model.save(args.out)
    evaluate(AudioVisemeModel.load(args.out), speech[len(TRAIN) : 2 * len(TRAIN)])
    print(f"wrote {args.out}")


def evaluate(model: AudioVisemeModel, trained_on: list[AudioChunk] | None) -> None:
    """Print the scores (of what was saved: float16 weights)."""
    if trained_on is not None:
        near, exact = score(model, trained_on)
        print(f"Piper, training sentences: {near:.1%} within one frame, {exact:.1%} exact")
    held = synthesize(PiperTTS.default(threads=1), HELD_OUT)
    near, exact = score(model, held)
    print(f"Piper, held-out sentences: {near:.1%} within one frame, {exact:.1%} exact")
    for voice in ESPEAK_TEST:
        reference = espeak_reference(voice, HELD_OUT)
        near, exact = score(model, reference)
        base, _ = score_marks([(VisemeMark(0, "relaxed"),)] * len(reference), reference)
        print(
            f"espeak-ng {voice} (pocketsphinx labels), held-out: {near:.1%} within one frame, "
            f"{exact:.1%} exact (always relaxed: {base:.1%})"
        )
    base, _ = score_marks([(VisemeMark(0, "relaxed"),)] * len(held), held)
    print(f"(baseline 'always relaxed' on held-out Piper: {base:.1%} within one frame)")
    t0 = time.process_time()
    for c in held:
        estimate(c.pcm, c.sample_rate, model)
    cpu = time.process_time() - t0
    print(f"cost: {1000 * cpu / sum(c.duration for c in held):.1f} ms CPU per second of audio")


if __name__ == "__main__":
    main()
