"""JSON Schema of every message, for clients written in other languages."""

from __future__ import annotations

from typing import Any

import msgspec

from openreplica.protocol.events import EVENT_TYPES, Event, event_type_of
from openreplica.protocol.interactions import INTERACTION_TYPES, Interaction


def message_schema() -> dict[str, Any]:
    """One JSON Schema document: `oneOf` every interaction and every event.

    `message_type` is not a struct field (it follows from the class), so it is added to
    each message's schema here as a constant.
    """
    classes: tuple[type[Interaction] | type[Event], ...] = (*INTERACTION_TYPES, *EVENT_TYPES)
    schemas, components = msgspec.json.schema_components(classes, ref_template="#/$defs/{name}")
    for cls in classes:
        definition = components[cls.__name__]
        definition["properties"] = {
            "message_type": {"const": cls.MESSAGE_TYPE},
            **definition["properties"],
        }
        if cls in EVENT_TYPES:  # the server always writes it; clients may leave it out
            definition.setdefault("required", []).insert(0, "message_type")
        definition["description"] = (
            ("Interaction" if cls in INTERACTION_TYPES else "Event")
            + f" `{event_type_of(cls)}`. "
            + (definition.get("description") or "")
        ).strip()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "openreplica CVI Interactions Protocol messages",
        "oneOf": list(schemas),
        "$defs": components,
    }
