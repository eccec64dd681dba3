"""Dataclasses as JSON's plain dicts and lists: shared by the check and bench documents."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples and mappings as JSON's dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value
