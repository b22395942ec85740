"""The offline engine on real photographs that ship with scikit-image."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from skimage import data

from openreplica.plugins.perception import PerceptionConfig, SpeechFeatures, build_perception
from openreplica.plugins.perception.basic import BasicPerception
from openreplica.plugins.perception.detector import FaceDetector


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.stack([image] * 3, axis=-1) if image.ndim == 2 else image


def test_a_portrait_has_one_face_facing_the_camera(detector: FaceDetector) -> None:
    found = detector.detect(data.astronaut())
    assert len(found.faces) == 1
    face = found.faces[0]
    assert face.facing == "camera" and face.position == "centre"
    assert found.lighting == "ok" and found.person_in_view


@pytest.mark.parametrize("photo", ["chelsea", "coffee"])
def test_photos_without_a_person_have_no_face(detector: FaceDetector, photo: str) -> None:
    found = detector.detect(getattr(data, photo)())
    assert found.faces == () and not found.person_in_view


def test_the_photographer_in_profile_is_not_taken_for_a_frontal_face(
    detector: FaceDetector,
) -> None:
    found = detector.detect(_rgb(data.camera()))
    assert all(face.facing != "camera" for face in found.faces)


def test_a_dark_room_is_dark(detector: FaceDetector) -> None:
    dark = (data.astronaut() * 0.15).astype(np.uint8)
    assert detector.detect(dark).lighting == "dark"
    bright = np.full((240, 320, 3), 245, np.uint8)
    assert detector.detect(bright).lighting == "bright"


def test_visual_context_sentences() -> None:
    engine = BasicPerception(PerceptionConfig())
    seen = engine.observe([data.astronaut()], 0.0)
    assert seen.visual_context == "One person is in view, facing the camera; the room is well lit."
    empty = engine.observe([data.coffee()], 1.0)
    assert empty.visual_context == "No one is in view of the camera; the room is well lit."
    dark = engine.observe([(data.coffee() * 0.1).astype(np.uint8)], 2.0)
    assert dark.visual_context.startswith("No one is in view") and "dark" in dark.visual_context


def test_two_portraits_side_by_side_are_two_people() -> None:
    engine = BasicPerception(PerceptionConfig())
    pair = np.concatenate([data.astronaut(), data.astronaut()], axis=1)
    seen = engine.observe([pair], 0.0)
    assert seen.details["faces"] == 2
    assert seen.visual_context.startswith("Two people are in view")


TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "user_left",
            "description": "Call when the user leaves the camera view.",
            "parameters": {
                "type": "object",
                "properties": {"people": {"type": "integer"}, "note": {"type": "string"}},
            },
        },
    },
    {"name": "room_too_dark", "description": "The room is too dark to see the user."},
]


def test_visual_tools_fire_when_their_condition_starts() -> None:
    config = PerceptionConfig(visual_tools=tuple(_tool(t) for t in TOOLS))
    engine = BasicPerception(config)
    assert engine.observe([data.coffee()], 0.0).tool_calls == ()  # nobody was ever there
    assert engine.observe([data.astronaut()], 1.0).tool_calls == ()
    left = engine.observe([data.coffee()], 2.0).tool_calls
    assert [(c.name, c.arguments["people"]) for c in left] == [("user_left", 0)]
    assert left[0].arguments["note"].startswith("No one is in view")
    assert engine.observe([data.coffee()], 3.0).tool_calls == ()  # still gone: no repeat
    dark = engine.observe([(data.coffee() * 0.1).astype(np.uint8)], 4.0).tool_calls
    assert [c.name for c in dark] == ["room_too_dark"]


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    from openreplica.plugins.perception import normalise_tools

    return dict(normalise_tools([tool])[0])


def test_audio_tools_from_quoted_phrases_and_speaking_rate() -> None:
    tools = (
        _tool(
            {
                "name": "end_call",
                "description": 'Call when the user says "goodbye" or "see you".',
                "parameters": {"type": "object", "properties": {"phrase": {"type": "string"}}},
            }
        ),
        _tool({"name": "speaking_fast", "description": "The user speaks very fast."}),
    )
    engine = BasicPerception(PerceptionConfig(audio_tools=tools))
    calls = engine.audio_tools("OK, goodbye then", SpeechFeatures(1.5, 1))
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("end_call", {"phrase": "goodbye"})
    ]
    rushed = "one two three four five six seven eight nine ten"
    assert [c.name for c in engine.audio_tools(rushed, SpeechFeatures(2.0, 1))] == ["speaking_fast"]
    assert engine.audio_tools(rushed, SpeechFeatures(typed=True)) == []
    assert engine.audio_tools("good night", SpeechFeatures(1.0, 1)) == []


def test_the_analysis_summarises_every_look_and_answers_queries() -> None:
    config = PerceptionConfig(
        perception_analysis_queries=(
            "Was the user visible throughout the call?",
            "How many people were there?",
            "Was the lighting good?",
            "What colour was their shirt?",
        )
    )
    engine = build_perception(config)
    assert isinstance(engine, BasicPerception)
    for i, photo in enumerate([data.astronaut()] * 3 + [data.coffee()]):
        engine.observe([photo], float(i))
    text = engine.analysis()
    assert "Over 4 looks at the camera (3 s), someone was in view 75% of the time" in text
    assert "at most 1 person was in view at once" in text
    assert "Q: How many people were there?\nA: At most 1 person at once." in text
    assert "A: Someone was in view 75% of the time." in text
    assert "A: The picture was mostly well lit (100% of the looks)." in text
    assert "cannot answer this" in text.split("shirt?")[1]


def test_no_frames_no_statistics() -> None:
    engine = BasicPerception(PerceptionConfig(perception_analysis_queries=("Anyone?",)))
    assert engine.analysis().startswith("No camera frames were seen during the call.")
