"""The offline perception engine (`perception_model: "basic"`): a face detector, rules,
and running statistics. No model download, no network.

- Visual context: one sentence about who is in view, where they look and the lighting,
  e.g. "One person is in view, facing the camera; the room is well lit."
- Visual tools: a tool applies when a detector condition starts to hold and the tool's
  name or description names that condition (`CONDITIONS` lists the phrases), e.g. a tool
  described "Call when the user leaves the camera view" fires when the person who was
  in view is gone. Arguments are filled from the tool's JSON schema (numbers: how many
  people, booleans: true, strings: the description of what was seen).
- Audio tools: a tool applies when the user's words contain a phrase quoted in its
  description (e.g. `Call when the user says "goodbye"`) or, without quotes, a word of
  its name; descriptions about speaking fast or slowly are checked against the words per
  second of the spoken turn.
- Analysis: statistics over every look (the share of looks with someone in view, the most
  faces at once, where people looked, the lighting), then each analysis query answered
  from them when it asks about something the detector measures.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openreplica.plugins.perception.base import (
    AudioToolCall,
    Image,
    Observation,
    SpeechFeatures,
    VisionToolCall,
)
from openreplica.plugins.perception.config import (
    PerceptionConfig,
    tool_description,
    tool_name,
    tool_parameters,
)
from openreplica.plugins.perception.detector import Detection, FaceDetector

__all__ = ["CONDITIONS", "BasicPerception", "describe"]

_NUMBERS = ["No one", "One person", "Two people", "Three people", "Four people"]

#: detector condition -> phrases in a visual tool's name/description that mean it
CONDITIONS: dict[str, tuple[str, ...]] = {
    "person_left": (
        "no one",
        "nobody",
        "leaves",
        "left the",
        "leave the",
        "absent",
        "not in view",
        "out of view",
        "out of frame",
        "empty",
    ),
    "person_appeared": ("appears", "enters", "comes back", "returns", "arrives", "in view"),
    "multiple_people": (
        "multiple people",
        "more than one",
        "another person",
        "second person",
        "someone else",
        "several people",
        "two people",
        "group",
    ),
    "looking_away": ("looking away", "looks away", "not looking", "distracted", "turns away"),
    "dark": ("dark", "poor lighting", "poorly lit", "low light", "dim"),
    "bright": ("overexposed", "too bright", "backlit", "glare"),
}
_STOPWORDS = {
    "user", "users", "says", "said", "say", "mentions", "mentioned", "asks", "speaks",
    "detect", "detected", "detects", "when", "the", "is", "a", "an", "to", "of", "on",
    "call", "tool", "word", "words", "phrase",
}  # fmt: skip
_FAST_WPS = 3.5
_SLOW_WPS = 1.5


def describe(detection: Detection) -> str:
    """One sentence for the LLM about what the camera shows."""
    faces = detection.faces
    n = len(faces)
    if n == 0:
        who = "No one is in view of the camera"
    else:
        count = _NUMBERS[n] if n < len(_NUMBERS) else f"{n} people"
        who = f"{count} {'is' if n == 1 else 'are'} in view"
        facing = [f.facing for f in faces]
        if n == 1:
            face = faces[0]
            look = "facing the camera" if face.facing == "camera" else f"looking {face.facing}"
            where = "" if face.position == "centre" else f" on the {face.position} of the picture"
            who += f"{where}, {look}"
        elif all(f == "camera" for f in facing):
            who += ", all facing the camera"
        else:
            who += f", {facing.count('camera')} facing the camera"
    lighting = {
        "dark": "the room is dark" + (", so someone may be there unseen" if n == 0 else ""),
        "ok": "the room is well lit",
        "bright": "the picture is very bright (overexposed)",
    }[detection.lighting]
    return f"{who}; {lighting}."


@dataclass
class _Stats:
    looks: int = 0
    with_person: int = 0
    facing_camera: int = 0
    max_faces: int = 0
    lighting: Counter[str] = field(default_factory=Counter)
    first_at: float | None = None
    last_at: float | None = None

    def add(self, detection: Detection, at: float) -> None:
        self.looks += 1
        self.first_at = at if self.first_at is None else self.first_at
        self.last_at = at
        if detection.faces:
            self.with_person += 1
            if any(f.facing == "camera" for f in detection.faces):
                self.facing_camera += 1
        self.max_faces = max(self.max_faces, len(detection.faces))
        self.lighting[detection.lighting] += 1


class BasicPerception:
    """Per conversation. Not thread-safe: the runtime calls it from one worker thread."""

    name = "basic"

    def __init__(self, config: PerceptionConfig, detector: FaceDetector | None = None) -> None:
        self.config = config
        self._detector = detector
        self._stats = _Stats()
        self._conditions: dict[str, bool] = {}
        self._seen_someone = False

    # ------------------------------------------------------------------ vision

    def observe(self, images: Sequence[Image], at: float) -> Observation:
        if not images:
            return Observation("")
        if self._detector is None:  # loaded in the worker thread, on first use
            self._detector = FaceDetector()
        detection = self._detector.detect(images[-1])
        self._stats.add(detection, at)
        context = describe(detection)
        calls = tuple(
            VisionToolCall(tool_name(tool), _arguments(tool, len(detection.faces), context))
            for condition in self._new_conditions(detection)
            for tool in self.config.visual_tools
            if _names(tool, CONDITIONS[condition])
        )
        details = {
            "faces": len(detection.faces),
            "facing": [f.facing for f in detection.faces],
            "lighting": detection.lighting,
            "brightness": round(detection.brightness, 1),
            "contrast": round(detection.contrast, 1),
        }
        return Observation(context, calls, details)

    def _new_conditions(self, detection: Detection) -> list[str]:
        """Conditions that hold now and did not at the previous look."""
        n = len(detection.faces)
        now = {
            "person_left": n == 0 and self._seen_someone,
            "person_appeared": n > 0,
            "multiple_people": n > 1,
            "looking_away": n > 0 and all(f.facing != "camera" for f in detection.faces),
            "dark": detection.lighting == "dark",
            "bright": detection.lighting == "bright",
        }
        self._seen_someone = self._seen_someone or n > 0
        started = [c for c, on in now.items() if on and not self._conditions.get(c, False)]
        self._conditions = now
        return started

    # ------------------------------------------------------------------ audio

    def audio_tools(self, transcript: str, speech: SpeechFeatures) -> list[AudioToolCall]:
        said = transcript.lower()
        calls = []
        for tool in self.config.audio_tools:
            text = f"{tool_name(tool)} {tool_description(tool)}".replace("_", " ").lower()
            matched = _phrase_in(tool, said)
            wps = speech.words_per_second(transcript)
            spoken = not speech.typed and speech.duration > 0
            fast = spoken and wps > _FAST_WPS and re.search(r"\b(fast|quick|rapid)", text)
            slow = spoken and 0 < wps < _SLOW_WPS and re.search(r"\bslow", text)
            if matched or fast or slow:
                args = _fill(tool, number=round(wps, 2), text=transcript, phrase=matched or "")
                calls.append(AudioToolCall(tool_name(tool), json.dumps(args)))
        return calls

    # ------------------------------------------------------------------ analysis

    def analysis(self) -> str:
        s = self._stats
        if s.looks == 0:
            summary = "No camera frames were seen during the call."
        else:
            span = (s.last_at or 0.0) - (s.first_at or 0.0)
            visible = s.with_person / s.looks
            summary = (
                f"Over {s.looks} looks at the camera ({span:.0f} s), someone was in view "
                f"{visible:.0%} of the time; at most {s.max_faces} "
                f"{'person was' if s.max_faces == 1 else 'people were'} in view at once. "
                f"{self._facing_sentence()} {self._lighting_sentence()}"
            )
        answers = [f"Q: {q}\nA: {self._answer(q)}" for q in self.config.perception_analysis_queries]
        return "\n\n".join([summary, *answers])

    def _facing_sentence(self) -> str:
        s = self._stats
        if not s.with_person:
            return "No face was seen."
        share = s.facing_camera / s.with_person
        return f"When someone was in view they faced the camera {share:.0%} of the time."

    def _lighting_sentence(self) -> str:
        s = self._stats
        if not s.looks:
            return "The lighting is unknown."
        names = {"ok": "well lit", "dark": "dark", "bright": "very bright"}
        common, count = s.lighting.most_common(1)[0]
        text = f"The picture was mostly {names[common]} ({count / s.looks:.0%} of the looks)."
        dark = s.lighting.get("dark", 0)
        if common != "dark" and dark:
            text += f" It was dark {dark / s.looks:.0%} of the time."
        return text

    def _answer(self, query: str) -> str:
        q = query.lower()
        s = self._stats
        if s.looks == 0:
            return "Unknown: no camera frames were seen."
        if re.search(r"how many|number of|people|faces|alone|anyone else", q):
            return f"At most {s.max_faces} {'person' if s.max_faces == 1 else 'people'} at once."
        if re.search(r"light|dark|bright|dim", q):
            return self._lighting_sentence()
        if re.search(r"look|eye|gaze|attention|attentive|engag|focus|camera|distract", q):
            return self._facing_sentence()
        if re.search(r"present|visible|in view|see|there|leave|left|away|show", q):
            return f"Someone was in view {s.with_person / s.looks:.0%} of the time."
        return (
            "The offline detector cannot answer this: it only sees faces, where they look "
            "and the lighting."
        )

    def close(self) -> None:
        self._detector = None


def _names(tool: Mapping[str, Any], phrases: Sequence[str]) -> bool:
    text = f"{tool_name(tool)} {tool_description(tool)}".replace("_", " ").lower()
    return any(re.search(rf"\b{re.escape(p)}", text) for p in phrases)


def _phrase_in(tool: Mapping[str, Any], said: str) -> str | None:
    """The tool's trigger phrase found in `said`, if any."""
    quoted = re.findall(r"[\"“'‘]([^\"”'’]{2,})[\"”'’]", tool_description(tool))
    phrases = [q.lower().strip() for q in quoted] or [
        w for w in tool_name(tool).lower().split("_") if len(w) > 2 and w not in _STOPWORDS
    ]
    for phrase in phrases:
        if phrase and re.search(rf"\b{re.escape(phrase)}\b", said):
            return str(phrase)
    return None


def _arguments(tool: Mapping[str, Any], faces: int, context: str) -> dict[str, Any]:
    return _fill(tool, number=faces, text=context, phrase=context)


def _fill(tool: Mapping[str, Any], *, number: float, text: str, phrase: str) -> dict[str, Any]:
    """Arguments for the tool's JSON schema from what is known."""
    props = tool_parameters(tool).get("properties")
    out: dict[str, Any] = {}
    if not isinstance(props, Mapping):
        return out
    for key, schema in props.items():
        kind = schema.get("type") if isinstance(schema, Mapping) else None
        enum = schema.get("enum") if isinstance(schema, Mapping) else None
        if enum:
            out[key] = enum[0]
        elif kind == "integer":
            out[key] = round(number)
        elif kind == "number":
            out[key] = number
        elif kind == "boolean":
            out[key] = True
        elif kind == "string":
            out[key] = phrase if re.search(r"phrase|keyword|word", key) else text
    return out
