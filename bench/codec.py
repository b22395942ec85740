"""Codec benchmark: decode+validate per interaction type, encode per event type.

Beside each figure, the same messages through pydantic v2 models as a baseline. The
pydantic models are derived field by field from the msgspec Structs (same names, types,
literals and the `event_type` discriminator), so both sides validate the same shape.

Run: .venv/bin/python bench/codec.py [--rounds 200]
Figures are per message, in microseconds: p50, p95 and p99 over rounds of 200 calls each.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
import pydantic
from percentiles import percentile

from openreplica import protocol as p

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
BATCH = 200


def pydantic_model(struct: type[msgspec.Struct], cache: dict[type, Any]) -> Any:
    """A pydantic model with the Struct's fields (tag as a Literal discriminator)."""
    if struct in cache:
        return cache[struct]
    fields: dict[str, Any] = {}
    tag = struct.__struct_config__.tag
    if isinstance(tag, str):
        fields["event_type"] = (Literal[tag], ...)  # type: ignore[valid-type]
        fields["message_type"] = (str, struct.MESSAGE_TYPE)  # type: ignore[attr-defined]
    for info in msgspec.structs.fields(struct):
        annotation = _convert(info.type, cache)
        if info.required:
            fields[info.name] = (annotation, ...)
        elif info.default_factory is not msgspec.NODEFAULT:
            fields[info.name] = (annotation, pydantic.Field(default_factory=dict))
        else:
            fields[info.name] = (annotation, info.default)
    model = pydantic.create_model(struct.__name__ + "Model", **fields)
    cache[struct] = model
    return model


def _convert(annotation: Any, cache: dict[type, Any]) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return pydantic_model(annotation, cache)
    origin = get_origin(annotation)
    if origin is Annotated:
        return _convert(get_args(annotation)[0], cache)
    if origin in (Union, type(int | str)):
        return Union[tuple(_convert(a, cache) for a in get_args(annotation))]  # noqa: UP007
    if origin in (list, dict):
        return origin[tuple(_convert(a, cache) for a in get_args(annotation))]
    return annotation


def per_call_us(fn: Callable[[], object], rounds: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(BATCH):
            fn()
        samples.append((time.perf_counter_ns() - start) / BATCH / 1000)
    return percentile(samples, 50), percentile(samples, 95), percentile(samples, 99)


def _lines(name: str) -> list[bytes]:
    text = (FIXTURES / name).read_text()
    return [line.encode() for line in text.splitlines() if line.strip()]


def label(line: bytes) -> str:
    """The event type, plus what tells apart two fixtures of the same type."""
    message = json.loads(line)
    props = message.get("properties", {})
    detail = props.get("modality") or props.get("role") or ""
    if props.get("final"):
        detail += " final"
    return f"{message['event_type']} ({detail.strip()})" if detail else message["event_type"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    cache: dict[type, Any] = {}
    interaction_union = pydantic.TypeAdapter(
        Annotated[
            Union[tuple(pydantic_model(c, cache) for c in p.INTERACTION_TYPES)],  # noqa: UP007
            pydantic.Field(discriminator="event_type"),
        ]
    )

    print("decode + validate one interaction (µs per message)")
    print(
        f"{'message':42} {'msgspec p50':>11} {'p95':>7} {'p99':>7} {'pydantic p50':>12} "
        f"{'p95':>7} {'p99':>7} {'ratio':>6}"
    )
    for line in _lines("golden_interactions.jsonl"):
        name = label(line)
        ours = per_call_us(
            lambda line=line: p.decode_interaction(line, conversation_id="c123"), args.rounds
        )
        theirs = per_call_us(lambda line=line: interaction_union.validate_json(line), args.rounds)
        print(
            f"{name:42} {ours[0]:11.2f} {ours[1]:7.2f} {ours[2]:7.2f} {theirs[0]:12.2f} "
            f"{theirs[1]:7.2f} {theirs[2]:7.2f} {theirs[0] / ours[0]:5.1f}x"
        )

    print()
    print("encode one event (µs per message)")
    print(
        f"{'message':42} {'msgspec p50':>11} {'p95':>7} {'p99':>7} {'pydantic p50':>12} "
        f"{'p95':>7} {'p99':>7} {'ratio':>6}"
    )
    for line in _lines("golden_events.jsonl"):
        event = p.decode_event(line)
        model = pydantic_model(type(event), cache).model_validate_json(line)
        name = label(line)
        ours = per_call_us(lambda event=event: p.encode(event), args.rounds)
        theirs = per_call_us(
            lambda model=model: model.model_dump_json(exclude_none=True), args.rounds
        )
        print(
            f"{name:42} {ours[0]:11.2f} {ours[1]:7.2f} {ours[2]:7.2f} {theirs[0]:12.2f} "
            f"{theirs[1]:7.2f} {theirs[2]:7.2f} {theirs[0] / ours[0]:5.1f}x"
        )


if __name__ == "__main__":
    main()
