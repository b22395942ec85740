"""Perception with any OpenAI-compatible vision model (`perception_model: "openai"`).

Chat completions with image inputs (base64 `data:image/jpeg` URLs of the latest frames):
- each look asks the `visual_awareness_queries` (-> the visual context), and, when the
  persona has `visual_tools`, a second request with the `visual_tool_prompt`, the tools
  and the frames lets the model call one (-> `conversation.perception_tool_call`);
- each user turn with `audio_tools` is a text-only request with the `audio_tool_prompt`,
  the transcript and the speech features;
- at the end, the `perception_analysis_queries` are answered from the visual contexts
  seen during the call and a few key frames.

Synchronous on purpose: the runtime runs it in a worker thread. Every failure (timeout,
HTTP error, connection refused, malformed reply) raises `PerceptionUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import openai

from openreplica.plugins.base import PerceptionUnavailable
from openreplica.plugins.openai_http import base_url_or_default, openai_client
from openreplica.plugins.perception.base import (
    AudioToolCall,
    Image,
    Observation,
    SpeechFeatures,
    VisionToolCall,
)
from openreplica.plugins.perception.config import PerceptionConfig
from openreplica.plugins.perception.frames import data_url

__all__ = ["DEFAULT_MODEL", "OpenAIVisionPerception"]

DEFAULT_MODEL = "gpt-4o-mini"
#: key frames kept for the end-of-call analysis (thinned to stay spread over the call)
_KEYFRAMES = 6

AWARENESS_SYSTEM = (
    "You are the eyes of a video-call assistant. You see the user's camera. Answer the "
    "questions about what you see in one or two short sentences in total, plainly, "
    "without preamble. Say so if no one is in view."
)
DEFAULT_AWARENESS = ("Is someone in view? If so, where are they looking and what are they doing?",)
DEFAULT_TOOL_PROMPT = (
    "You watch the user's camera during a video call. Call a tool only when what you see "
    "clearly matches its description; otherwise reply 'none'."
)
DEFAULT_AUDIO_PROMPT = (
    "You listen to the user during a voice call. Call a tool only when what the user said, "
    "or how they said it, clearly matches its description; otherwise reply 'none'."
)
DEFAULT_ANALYSIS = ("Summarise what you saw of the user during the call.",)

T = TypeVar("T")


class OpenAIVisionPerception:
    name = "openai"

    def __init__(self, config: PerceptionConfig, *, trust_env: bool = False) -> None:
        self.config = config
        self.base_url = base_url_or_default(config.base_url)
        self.model = config.model or DEFAULT_MODEL
        self._client = openai_client(
            self.base_url,
            api_key=config.api_key,
            headers=config.headers,
            timeout=config.timeout,
            trust_env=trust_env,
        )
        #: (clock time, visual context) of every look
        self._seen: list[tuple[float, str]] = []
        self._keyframes: list[Image] = []

    # ------------------------------------------------------------------ vision

    def observe(self, images: Sequence[Image], at: float) -> Observation:
        images = list(images)[-self.config.frames_per_look :]
        if not images:
            return Observation("")
        urls = [data_url(img) for img in images]
        queries = self.config.visual_awareness_queries or DEFAULT_AWARENESS
        text = "Questions:\n" + "\n".join(f"- {q}" for q in queries)
        reply = self._create(
            messages=[
                {"role": "system", "content": AWARENESS_SYSTEM},
                {"role": "user", "content": _with_images(text, urls)},
            ],
            max_tokens=200,
        )
        context = (reply.content or "").strip()
        calls: tuple[VisionToolCall, ...] = ()
        if self.config.visual_tools:
            calls = tuple(self._visual_tools(urls))
        self._seen.append((at, context))
        self._keep_keyframe(images[-1])
        return Observation(context, calls, {"model": self.model})

    def _visual_tools(self, urls: list[str]) -> list[VisionToolCall]:
        config = self.config
        reply = self._create(
            messages=[
                {"role": "system", "content": config.visual_tool_prompt or DEFAULT_TOOL_PROMPT},
                {"role": "user", "content": _with_images("The latest camera frames:", urls)},
            ],
            tools=list(config.visual_tools),
            tool_choice="auto",
        )
        out = []
        for call in reply.tool_calls or ():
            function = getattr(call, "function", None)
            if function is None:
                continue
            try:
                args = json.loads(function.arguments or "{}")
            except json.JSONDecodeError:
                args = {"arguments": function.arguments}
            if not isinstance(args, dict):
                args = {"value": args}
            out.append(VisionToolCall(function.name, args))
        return out

    def _keep_keyframe(self, image: Image) -> None:
        self._keyframes.append(image)
        if len(self._keyframes) > _KEYFRAMES:
            # keep every other one: what stays is spread over the whole call
            self._keyframes = self._keyframes[::2]

    # ------------------------------------------------------------------ audio

    def audio_tools(self, transcript: str, speech: SpeechFeatures) -> list[AudioToolCall]:
        if not self.config.audio_tools or not transcript.strip():
            return []
        how = (
            "typed, not spoken"
            if speech.typed
            else f"{speech.duration:.1f} s of speech in {speech.segments} segment(s), "
            f"{speech.words_per_second(transcript):.1f} words per second"
        )
        prompt = self.config.audio_tool_prompt or DEFAULT_AUDIO_PROMPT
        reply = self._create(
            messages=[
                {"role": "system", "content": prompt},
                {"role": "user", "content": f"The user said: {json.dumps(transcript)}\n({how})"},
            ],
            tools=list(self.config.audio_tools),
            tool_choice="auto",
        )
        out = []
        for call in reply.tool_calls or ():
            function = getattr(call, "function", None)
            if function is None:
                continue
            arguments = function.arguments or "{}"
            try:
                json.loads(arguments)
            except json.JSONDecodeError:
                arguments = json.dumps({"arguments": arguments})
            out.append(AudioToolCall(function.name, arguments))
        return out

    # ------------------------------------------------------------------ analysis

    def analysis(self) -> str:
        if not self._seen:
            return "No camera frames were seen during the call."
        start = self._seen[0][0]
        seen = "\n".join(f"[{at - start:5.0f} s] {text}" for at, text in self._seen[-60:] if text)
        queries = self.config.perception_analysis_queries or DEFAULT_ANALYSIS
        text = (
            "What you saw of the user's camera during a video call, look by look:\n"
            f"{seen}\n\nSome frames from the call follow. Answer each question briefly:\n"
            + "\n".join(f"- {q}" for q in queries)
        )
        urls = [data_url(img, max_side=384) for img in self._keyframes[-4:]]
        reply = self._create(
            messages=[
                {"role": "system", "content": "You write short, factual call analyses."},
                {"role": "user", "content": _with_images(text, urls)},
            ],
            max_tokens=600,
        )
        return (reply.content or "").strip()

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ HTTP

    def _create(self, **kwargs: Any) -> Any:
        """One chat completion; its first choice's message."""
        response = self._guard(
            lambda: self._client.chat.completions.create(model=self.model, **kwargs)
        )
        try:
            return response.choices[0].message
        except (AttributeError, IndexError, TypeError) as exc:
            raise self._error(f"malformed response: {exc}") from exc

    def _guard(self, call: Callable[[], T]) -> T:
        timeout = self.config.timeout
        try:
            return call()
        except openai.APITimeoutError as exc:
            raise self._error(f"no response within {timeout:g} s") from exc
        except openai.APIStatusError as exc:
            raise self._error(f"HTTP {exc.status_code}: {str(exc.message)[:300]}") from exc
        except openai.APIConnectionError as exc:
            raise self._error(f"cannot connect: {exc.__cause__ or exc}") from exc
        except Exception as exc:  # malformed JSON, unexpected shapes
            raise self._error(f"malformed response: {type(exc).__name__}: {exc}") from exc

    def _error(self, what: str) -> PerceptionUnavailable:
        return PerceptionUnavailable(f"vision model at {self.base_url}: {what}")


def _with_images(text: str, urls: Sequence[str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return parts
