"""A saved `envdoctor check --json` document turned back into facts, checking every field's type on the way."""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Mapping
from typing import Any, Union

from envdoctor.facts import Facts, Origin
from envdoctor.render.json_doc import CHECK_SCHEMA, CHECK_SCHEMA_VERSION


def _decode(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union:
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(inner, value, where)
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, value, where)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError(f"{where} should be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where} should have {len(args)} items")
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, str]):
        if not isinstance(value, dict):
            raise ValueError(f"{where} should be an object")
        return {str(k): _decode(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, bool, float):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ValueError(f"{where} should be {hint.__name__}, not {type(value).__name__}")
        return value
    raise ValueError(f"{where}: cannot read a field of type {hint}")


def from_plain(cls: type, data: Any, where: str) -> Any:
    """An instance of the facts dataclass `cls` from its JSON form; ValueError names the first bad field."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} should be an object")
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name in data:
            kwargs[field.name] = _decode(hints[field.name], data[field.name], f"{where}.{field.name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}.{field.name} is missing")
    return cls(**kwargs)


def facts_from_document(document: Any, path: str) -> Facts:
    """The facts of an `envdoctor check --json` document, marked as read from `path`."""
    if not isinstance(document, dict) or document.get("schema") != CHECK_SCHEMA:
        raise ValueError(f"JSON, but not an envdoctor check document (no \"schema\": \"{CHECK_SCHEMA}\")")
    if document.get("schema_version") != CHECK_SCHEMA_VERSION:
        raise ValueError(f"an envdoctor check document of schema version {document.get('schema_version')}; "
                         f"this envdoctor reads version {CHECK_SCHEMA_VERSION}")
    facts: Facts = from_plain(Facts, document.get("facts"), "facts")
    return dataclasses.replace(facts, origin=Origin(kind="file", hostname=facts.origin.hostname, path=path))
