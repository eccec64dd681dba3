"""JSON documents: facts as plain data, with a schema name and version so readers can refuse what they don't know."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from envdoctor import __version__
from envdoctor.facts import Facts

CHECK_SCHEMA = "envdoctor.check"
CHECK_SCHEMA_VERSION = 1


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples and mappings as JSON's dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def check_document(facts: Facts) -> dict[str, Any]:
    return {
        "schema": CHECK_SCHEMA,
        "schema_version": CHECK_SCHEMA_VERSION,
        "envdoctor_version": __version__,
        "facts": to_plain(facts),
    }


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
