"""The machinery behind settings: sections are dataclasses whose fields carry their own rules.

A section declares each key with :func:`setting` (default, help, allowed values); :func:`build`
validates a TOML table against it and raises :class:`ConfigError` naming the key, the value and
what is allowed. The same declarations generate the settings reference (``samantha settings``).

>>> @dataclass(frozen=True)
... class Example:
...     volume: int = setting(70, "speaker volume", minimum=0, maximum=100)
>>> build(Example, {"volume": 101}, "voice")
Traceback (most recent call last):
...
services.config.ConfigError: voice.volume = 101: must be at most 100
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, TypeVar, Union

T = TypeVar("T")


class ConfigError(ValueError):
    """A settings file that cannot be used; the message names the key, the value and what is allowed."""


def setting(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """A settings key: its default, one line of help, and its limits.

    ``check(value)`` may return a message saying what is wrong, or None when the value is fine.
    Allowed values of a Literal type are taken from the type hint.
    """
    metadata = {"help": help, "minimum": minimum, "maximum": maximum, "check": check}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return f"a list of {_describe(item)}"
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
             dict: "a table", type(None): "nothing"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _convert(value: Any, hint: Any) -> Any:
    """value as the hinted type, or raise TypeError."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(hint):
            try:
                return _convert(value, arg)
            except TypeError:
                continue
        raise TypeError
    if origin is Literal:
        if value in typing.get_args(hint):
            return value
        raise TypeError
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        if not isinstance(value, list):
            raise TypeError
        return [_convert(v, item) for v in value]
    if hint is Any:
        return value
    if hint is type(None):
        if value is None:
            return None
        raise TypeError
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise TypeError
    if isinstance(value, hint):
        return value
    raise TypeError


def build(cls: type[T], table: Any, section: str) -> T:
    """An instance of the section class from a TOML table, or ConfigError."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table of keys, not {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{section}.{key}"
        if key not in fields:
            raise ConfigError(f"{name}: unknown key; the keys of [{section}] are: {', '.join(fields)}")
        try:
            value = _convert(value, hints[key])
        except TypeError:
            raise ConfigError(f"{name} = {value!r}: must be {_describe(hints[key])}") from None
        meta = fields[key].metadata
        if meta.get("minimum") is not None and value < meta["minimum"]:
            raise ConfigError(f"{name} = {value!r}: must be at least {meta['minimum']}")
        if meta.get("maximum") is not None and value > meta["maximum"]:
            raise ConfigError(f"{name} = {value!r}: must be at most {meta['maximum']}")
        if meta.get("check") is not None and (problem := meta["check"](value)):
            raise ConfigError(f"{name} = {value!r}: {problem}")
        values[key] = value
    return cls(**values)


def reference(cls: type, section: str) -> list[str]:
    """Markdown lines documenting a section: key, default, allowed values, help."""
    hints = typing.get_type_hints(cls)
    lines = [f"### [{section}]", "", "| key | default | allowed | what it does |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        allowed = _describe(hints[f.name])
        if f.metadata.get("minimum") is not None or f.metadata.get("maximum") is not None:
            allowed += f" ({f.metadata.get('minimum')}..{f.metadata.get('maximum')})"
        lines.append(f"| `{f.name}` | `{default!r}` | {allowed} | {f.metadata.get('help', '')} |")
    return lines + [""]


# Reusable checks, in the spirit of Home Assistant's small validators.

def port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be a TCP port, 0-65535 (0 picks a free one)"


def zero_to_one(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "must be between 0 and 1"
