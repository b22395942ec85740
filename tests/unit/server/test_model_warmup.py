"""The server preloads its default models so the first caller does not pay for them."""

from __future__ import annotations

import pytest

from openreplica.plugins.options import ASROptions
from openreplica.plugins.registry import ModelCache, build_asr
from openreplica.server.plugin_factory import ModelFactory


async def test_warm_leaves_a_ready_pocketsphinx_decoder_in_the_shared_cache() -> None:
    cache = ModelCache()
    await ModelFactory(cache).warm(tts_engine="espeak", stt_engine=None)
    asr, _ = build_asr(None, ASROptions(), cache)  # the same object conversations get
    assert asr.idle_decoders == 1  # type: ignore[attr-defined]


class _NoVoice(ModelFactory):
    def _warm(self, *engines: str | None) -> None:
        raise RuntimeError("no voice")


async def test_warm_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    await _NoVoice(ModelCache()).warm(None, None)
    assert "could not preload the default models (no voice)" in caplog.text
