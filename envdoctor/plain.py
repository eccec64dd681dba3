"""Dataclasses to and from JSON's plain dicts and lists, shared by the check and bench documents; JSON read with
its nesting bounded and only finite numbers, so that a hostile or broken file is one line, never a traceback."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import typing
from collections.abc import Iterator, Mapping
from typing import Any, Union

MAX_DEPTH = 64  # envdoctor's documents nest 8 deep at most
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # strings (skipped whole) and brackets


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples and mappings as JSON's dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def _nesting(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """Each bracket's depth after it and where it ends, strings skipped whole; ValueError past MAX_DEPTH."""
    depth = 0
    for token in _STRUCTURE.finditer(text, start):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        elif bracket in "]}":
            depth -= 1
        yield depth, token.end()


def json_end(text: str, start: int) -> int:
    """Where the JSON object or array opening at text[start] ends, found by its brackets, so that it can be cut
    from the text around it. ValueError if it nests deeper than MAX_DEPTH or never closes."""
    end = next((end for depth, end in _nesting(text, start) if depth == 0), None)
    if end is None:
        raise ValueError("cut short: it never closes")
    return end


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str) -> Any:
    """json.loads, refusing nesting deeper than MAX_DEPTH before parsing (json.loads would recurse until Python's
    limit) and NaN or Infinity. ValueError with a one-line reason."""
    for _ in _nesting(text):
        pass
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None


def _decode(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is Union:
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _decode(inner, value, where)
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, value, where)  # type: ignore[arg-type]
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ValueError(f"{where} should be a list")
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            items = [_decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if origin is list else tuple(items)
        if len(value) != len(args):
            raise ValueError(f"{where} should have {len(args)} items")
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, str]):
        if not isinstance(value, dict):
            raise ValueError(f"{where} should be an object")
        return {str(k): _decode(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"{where} should be a finite number, not {value}")
        return float(value)
    if hint in (str, int, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ValueError(f"{where} should be {hint.__name__}, not {type(value).__name__}")
        return value
    raise ValueError(f"{where}: cannot read a field of type {hint}")


def from_plain(cls: type, data: Any, where: str) -> Any:
    """An instance of dataclass `cls` from its JSON form, every field's type checked and numbers finite;
    ValueError names the first bad field. Keys the dataclass does not have are ignored."""
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
