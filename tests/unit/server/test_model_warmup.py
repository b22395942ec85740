"""The server preloads its default models so the first caller does not pay for them."""

from __future__ import annotations

import os

import pytest

from openreplica.plugins.asr_pocketsphinx import PocketSphinxASR
from openreplica.plugins.options import ASROptions
from openreplica.plugins.registry import ModelCache, build_asr
from openreplica.server.plugin_factory import ModelFactory


async def test_warm_leaves_a_ready_pocketsphinx_decoder_in_the_shared_cache() -> None:
    cache = ModelCache()
    await ModelFactory(cache).warm(tts_engine="espeak", stt_engine=None)
    asr, _ = build_asr(None, ASROptions(), cache)  # the same object conversations get
    assert isinstance(asr, PocketSphinxASR)
    assert asr.workers == 1 and asr.idle_decoders == 1  # built in the worker process
    [pid] = asr.worker_pids
    await cache.aclose()  # as the server does when it stops: no worker left behind
    assert asr.worker_pids == []
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


class _NoVoice(ModelFactory):
    def _warm(self, *engines: str | None) -> None:
        raise RuntimeError("no voice")


async def test_warm_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    await _NoVoice(ModelCache()).warm(None, None)
    assert "could not preload the default models (no voice)" in caplog.text


async def test_no_asr_workers_keeps_the_decoders_in_the_server_process() -> None:
    cache = ModelCache()
    await ModelFactory(cache, asr_workers=0).warm(tts_engine="espeak", stt_engine=None)
    asr, _ = build_asr(None, ASROptions(workers=0), cache)
    assert isinstance(asr, PocketSphinxASR)
    assert asr.workers == 0 and asr.idle_decoders == 1 and asr.worker_pids == []
    await cache.aclose()
