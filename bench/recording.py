"""Recording benchmark: the CPU one recorded conversation costs.

N calls are recorded at once for `--seconds` of real time: each gets the media a live
call taps (the replica speaking without pause, 20 ms frames of 24 kHz speech, and the
user's microphone, 20 ms frames of 48 kHz stereo) and, in the video mode, renders the
replica's face at the recording's fps, all through the real `Recordings` code (worker
threads, mixing, Opus and VP8 encoding into WebM files). The same loop is run once without
recorders; the difference is the recordings' cost. Printed per N:

- CPU (user + system, all threads) as % of one core, in total and per recorded call;
- event-loop time spent in the taps per call (what recording adds to the hot path);
- the file size per minute of call.

Run: .venv/bin/python bench/recording.py [--calls 1,4] [--seconds 10] [--fps 10]
     [--audio-only]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from openreplica.engine import EngineSettings
from openreplica.plugins.audio import tone
from openreplica.plugins.avatar.catalog import AvatarCatalog
from openreplica.plugins.scripted import ScriptedTTS
from openreplica.protocol import ReplicaJoined, ReplicaJoinedProps, Shutdown, ShutdownProps
from openreplica.runtime import ConversationRuntime, RuntimePlugins, SystemClock
from openreplica.server.recordings import CallRecorder, Recordings, RecordingSettings

FRAME = 0.02


async def _drive(
    recorders: list[CallRecorder], seconds: float, clock: SystemClock
) -> tuple[float, float]:
    """Feed every recorder 20 ms frames in real time; (CPU seconds, tap seconds)."""
    replica = tone(220.0, FRAME, 24000, 0.3)
    user = tone(440.0, FRAME, 48000, 0.3) * 2  # stereo-sized frame
    cpu0, start = time.process_time(), time.perf_counter()
    taps = 0.0
    frames = round(seconds / FRAME)
    for i in range(frames):
        t0 = time.perf_counter()
        for recorder in recorders:
            recorder.write(replica, 24000)
            recorder.user_audio(user, 48000, 2)
        taps += time.perf_counter() - t0
        await asyncio.sleep(max(0.0, start + (i + 1) * FRAME - time.perf_counter()))
    return time.process_time() - cpu0, taps


async def _run(calls: int, seconds: float, fps: float, audio_only: bool) -> dict[str, float]:
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "recordings"
        recordings = Recordings(
            RecordingSettings(directory, fps=fps), clock, AvatarCatalog(Path(tmp) / "replicas")
        )
        idle_cpu, _ = await _drive([], seconds, clock)
        runtimes, recorders = [], []
        for n in range(calls):
            runtime = ConversationRuntime(
                f"c{n}", EngineSettings(), RuntimePlugins(tts=ScriptedTTS()), clock
            )
            recorder = recordings.start(runtime, "r-aria", audio_only)
            assert recorder is not None
            joined = ReplicaJoined(
                conversation_id=f"c{n}", properties=ReplicaJoinedProps(replica_id="r-aria")
            )
            recorder.on_event(joined, b"")
            runtimes.append(runtime)
            recorders.append(recorder)
        cpu, taps = await _drive(recorders, seconds, clock)
        end = Shutdown(conversation_id="c", properties=ShutdownProps(shutdown_reason="x"))
        for recorder in recorders:
            recorder.on_event(end, b"")
        finish0 = time.process_time()
        durations = [
            await recordings.finish(r, rec) for r, rec in zip(runtimes, recorders, strict=True)
        ]
        finish_cpu = time.process_time() - finish0
        sizes = [p.stat().st_size for p in directory.glob("*.webm")]
    assert all(d is not None for d in durations)
    extra = cpu - idle_cpu
    return {
        "cpu_pct": extra / seconds * 100,
        "per_call_pct": extra / seconds * 100 / calls,
        "tap_us_per_frame": taps / round(seconds / FRAME) / calls * 1e6,
        "finish_ms": finish_cpu * 1000 / calls,
        "mb_per_minute": statistics.mean(sizes) / seconds * 60 / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="1,4", help="recorded calls at once")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--audio-only", action="store_true")
    args = parser.parse_args()
    mode = "audio only" if args.audio_only else f"audio + 384x384 video at {args.fps:g} fps"
    print(f"recording: {mode}, {args.seconds:g} s per run")
    print(
        "| calls | CPU (% of a core) | per call | loop time in taps per 20 ms frame | "
        "finish per call | MB per minute |"
    )
    print("|---|---|---|---|---|---|")
    for calls in [int(c) for c in args.calls.split(",")]:
        r = asyncio.run(_run(calls, args.seconds, args.fps, args.audio_only))
        print(
            f"| {calls} | {r['cpu_pct']:.1f} % | {r['per_call_pct']:.1f} % | "
            f"{r['tap_us_per_frame']:.1f} µs | {r['finish_ms']:.0f} ms | "
            f"{r['mb_per_minute']:.2f} |"
        )


if __name__ == "__main__":
    main()
