"""Slot filling for sentences no template matched: numbers, durations, domains and home names.

The intent head says what is wanted and the nearest training sentence says which slots that kind
of request carries; this module finds those slots in the words.
"""

from __future__ import annotations

import re
from typing import Any

from .home import Home, _norm

_UNITS = {
    "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_DURATION_UNITS = {
    "hour": "hours", "hours": "hours", "hr": "hours", "hrs": "hours",
    "minute": "minutes", "minutes": "minutes", "min": "minutes", "mins": "minutes",
    "second": "seconds", "seconds": "seconds", "sec": "seconds", "secs": "seconds",
}
_NEXT_UNIT = {"hours": ("minutes", 60), "minutes": ("seconds", 60), "seconds": (None, 0)}

# Words that name a kind of device when no device is named ("kill the lights in the kitchen").
DOMAIN_WORDS = {
    "light": "light", "lights": "light", "lamp": "light", "lamps": "light", "lighting": "light",
    "fan": "fan", "fans": "fan",
    "blind": "cover", "blinds": "cover", "curtain": "cover", "curtains": "cover", "shade": "cover",
    "shades": "cover", "shutter": "cover", "shutters": "cover", "cover": "cover", "covers": "cover",
    "window": "cover", "windows": "cover", "garage": "cover",
    "lock": "lock", "locks": "lock",
    "tv": "media_player", "television": "media_player", "speaker": "media_player", "music": "media_player",
    "vacuum": "vacuum", "hoover": "vacuum",
    "valve": "valve", "valves": "valve",
    "switch": "switch", "switches": "switch", "plug": "switch", "plugs": "switch",
}

_WILDCARD_SLOTS = {"item", "fact", "query", "message", "search_query", "time", "conversation_command"}
_NUMBER_SLOTS = ("brightness", "volume", "position", "temperature", "percentage", "volume_step")


def parse_number(words: list[str], start: int) -> tuple[float | None, int]:
    """A number (digits or English words) at ``words[start]``; returns (value, words used)."""
    if start >= len(words):
        return None, 0
    word = words[start].rstrip("%")
    if re.fullmatch(r"\d+(\.\d+)?", word):
        value = float(word)
        return (int(value) if value.is_integer() else value), 1
    total, used = 0, 0
    i = start
    if words[i] in _TENS:
        total += _TENS[words[i]]
        i += 1
        if i < len(words) and words[i] in _UNITS and words[i] not in ("a", "an", "zero"):
            total += _UNITS[words[i]]
            i += 1
        used = i - start
    elif words[i] in _UNITS:
        total = _UNITS[words[i]]
        i += 1
        used = 1
    elif words[i] == "hundred":
        return 100, 1
    if used and i < len(words) and words[i] == "hundred":
        total *= 100
        used += 1
    return (total, used) if used else (None, 0)


def find_duration(text: str) -> dict[str, int]:
    """{"hours"|"minutes"|"seconds": n} for "nine minutes", "an hour and a half", "90 seconds"."""
    words = _norm(text).replace("-", " ").split()
    found: dict[str, int] = {}
    i = 0
    while i < len(words):
        if words[i] == "half" and i + 2 < len(words) and words[i + 1] in ("a", "an") and words[i + 2] in _DURATION_UNITS:
            unit = _DURATION_UNITS[words[i + 2]]
            smaller, factor = _NEXT_UNIT[unit]
            if smaller:
                found[smaller] = found.get(smaller, 0) + factor // 2
            i += 3
            continue
        value, used = parse_number(words, i)
        if value is not None and i + used < len(words) and words[i + used] in _DURATION_UNITS:
            unit = _DURATION_UNITS[words[i + used]]
            found[unit] = found.get(unit, 0) + int(value)
            i += used + 1
            # "... and a half"
            if words[i : i + 3] == ["and", "a", "half"]:
                smaller, factor = _NEXT_UNIT[unit]
                if smaller:
                    found[smaller] = found.get(smaller, 0) + factor // 2
                i += 3
            continue
        i += 1
    return found


def find_number(text: str, skip_duration: bool = True) -> int | float | None:
    """The first number in ``text`` that is not part of a duration."""
    words = _norm(text).replace("-", " ").split()
    i = 0
    while i < len(words):
        value, used = parse_number(words, i)
        if value is not None and words[i] not in ("a", "an", "one") or (value is not None and words[i] == "one" and len(words) > 1):
            after = words[i + used] if i + used < len(words) else ""
            if not (skip_duration and after in _DURATION_UNITS):
                return value
            i += used + 1
            continue
        i += 1
    return None


def find_domain(text: str) -> str | None:
    """The device kind named in the words, if one is."""
    for word in _norm(text).split():
        if word in DOMAIN_WORDS:
            return DOMAIN_WORDS[word]
    return None


def strip_template_words(text: str, template_words: set[str]) -> str:
    """The free text of a wildcard: the utterance minus its leading and trailing template words."""
    words = _norm(text).split()
    while words and words[0] in template_words:
        words.pop(0)
    while words and words[-1] in template_words:
        words.pop()
    return " ".join(words)


def fill_slots(
    text: str,
    intent: str,
    frame: tuple[str, ...],
    fixed: dict[str, Any],
    home: Home,
    template_words: set[str],
    context: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], float]:
    """Slots for ``frame`` found in ``text``; also how completely the frame was filled (0..1)."""
    slots: dict[str, Any] = {}
    wanted = set(frame)
    found_parts, wanted_parts = 0, 0
    mentions = home.mentions(text)
    by_kind: dict[str, list[Any]] = {}
    for mention in mentions:
        by_kind.setdefault(mention.kind, []).append(mention)
    for kind in ("name", "area", "floor"):
        if kind in wanted:
            wanted_parts += 1
            if by_kind.get(kind):
                slots[kind] = by_kind[kind][0].value
                found_parts += 1
            elif kind == "area" and context and context.get("area"):
                slots[kind] = context["area"]
                found_parts += 1
    # A named entity the frame did not expect is still what the user meant ("turn off the tv").
    if "name" not in wanted and by_kind.get("name") and not (wanted & {"area", "floor"} and by_kind.get("area")):
        if not (wanted & _WILDCARD_SLOTS):
            slots["name"] = by_kind["name"][0].value
    if not (wanted & {"name", "area", "floor"}) and by_kind.get("area") and intent.startswith("Hass"):
        if not (wanted & _WILDCARD_SLOTS):
            slots["area"] = by_kind["area"][0].value
    if "domain" in wanted and "name" not in slots:
        domain = fixed.get("domain") or find_domain(text)
        if domain:
            slots["domain"] = domain
    for key in ("device_class", "state", "media_class", "recurrence", "volume_step", "response"):
        if key in wanted and key in fixed:
            slots[key] = fixed[key]
    duration = find_duration(text)
    if wanted & {"hours", "minutes", "seconds", "start_hours", "start_minutes", "start_seconds"}:
        wanted_parts += 1
        if duration:
            found_parts += 1
            prefix = "start_" if intent not in ("HassStartTimer", "HassIncreaseTimer", "HassDecreaseTimer") else ""
            slots.update({prefix + unit: value for unit, value in duration.items()})
    for key in _NUMBER_SLOTS:
        if key in wanted and key not in slots:
            wanted_parts += 1
            number = find_number(text)
            if number is not None:
                slots[key] = number
                found_parts += 1
    wild = (wanted & _WILDCARD_SLOTS) | ({"name"} if intent in ("SamanthaSetName",) else set())
    for key in sorted(wild):
        wanted_parts += 1
        value = strip_template_words(text, template_words)
        if value:
            slots[key] = value
            found_parts += 1
    completeness = found_parts / wanted_parts if wanted_parts else 1.0
    return slots, completeness
