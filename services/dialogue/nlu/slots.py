"""Slot filling for sentences no template matched: numbers, durations, domains and home names.

The intent head says what is wanted and the nearest training sentence says which slots that kind
of request carries; this module finds those slots in the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
    "brighten": "light", "brighter": "light", "dim": "light", "dimmer": "light",
    "lock": "lock", "locks": "lock",
    "tv": "media_player", "television": "media_player", "speaker": "media_player", "music": "media_player",
    "vacuum": "vacuum", "hoover": "vacuum",
    "valve": "valve", "valves": "valve",
    "switches": "switch", "plug": "switch", "plugs": "switch",  # not "switch": "switch on" is a verb
}

_WILDCARD_SLOTS = {"item", "fact", "query", "message", "search_query", "time", "conversation_command"}
_NUMBER_SLOTS = ("brightness", "volume", "position", "temperature", "percentage", "volume_step")


_DIGITS = {w: n for w, n in _UNITS.items() if 1 <= n <= 9 and w not in ("a", "an")}
_NEGATIVE = {"minus", "negative"}
_SCALES = {"hundred": 100, "thousand": 1000}
# A minus sign before digits ("-5 minutes") is said as "minus": _norm() would drop the sign.
_MINUS_SIGN_RE = re.compile(r"(?<![\w.])[-\u2212](?=\d)")
_THOUSANDS_COMMA_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")  # "1,000"


def number_words(text: str) -> list[str]:
    """The words of ``text`` for number parsing: lower case, signs kept as "minus", no hyphens."""
    text = _THOUSANDS_COMMA_RE.sub("", _MINUS_SIGN_RE.sub(" minus ", text))
    return _norm(text).replace("-", " ").split()


def _below_hundred(words: list[str], i: int) -> tuple[int | None, int]:
    """"seven", "forty", "forty two" at ``words[i]``; returns (value, index after it)."""
    if i < len(words) and words[i] in _TENS:
        value, i = _TENS[words[i]], i + 1
        if i < len(words) and words[i] in _DIGITS:
            value, i = value + _DIGITS[words[i]], i + 1
        return value, i
    if i < len(words) and words[i] in _UNITS and words[i] not in ("a", "an"):
        return _UNITS[words[i]], i + 1
    return None, i


def _below_thousand(words: list[str], i: int) -> tuple[int | None, int]:
    """"one hundred and twenty", "a hundred", "twelve hundred", "forty" at ``words[i]``."""
    value, j = _below_hundred(words, i)
    if value is None and i < len(words) and words[i] in ("a", "an", "hundred"):
        if words[i] == "hundred":
            value, j = 1, i
        elif i + 1 < len(words) and words[i + 1] in _SCALES:
            value, j = 1, i + 1  # "a hundred", "a thousand"
    if value is None:
        return None, i
    if j < len(words) and words[j] == "hundred":
        value, j = value * 100, j + 1
        rest_at = j + 1 if j < len(words) and words[j] == "and" else j
        rest, after = _below_hundred(words, rest_at)
        if rest is not None:
            value, j = value + rest, after
    return value, j


def _word_number(words: list[str], i: int) -> tuple[int | None, int]:
    """A number in words up to the thousands: "a thousand", "two thousand and five"."""
    value, j = _below_thousand(words, i)
    if value is None:
        if i < len(words) and words[i] == "thousand":
            value, j = 1, i
        else:
            return None, i
    if j < len(words) and words[j] == "thousand":
        value, j = value * 1000, j + 1
        rest_at = j + 1 if j < len(words) and words[j] == "and" else j
        rest, after = _below_thousand(words, rest_at)
        if rest is not None and (rest_at == j or rest < 100):  # "thousand and five", not "... and a hundred"
            value, j = value + rest, after
    return value, j


def parse_number(words: list[str], start: int) -> tuple[float | None, int]:
    """A number (digits or English words, up to the thousands; "minus"/"negative" keep their
    sign, so that a skill can refuse it) at ``words[start]``; returns (value, words used)."""
    if start >= len(words):
        return None, 0
    if words[start] in _NEGATIVE:
        value, used = parse_number(words, start + 1)
        if value is None or words[start + 1] in _NEGATIVE:
            return None, 0
        return -value, used + 1
    word = words[start].rstrip("%")
    if re.fullmatch(r"\d+(\.\d+)?", word):
        value = float(word)
        used = 1
        if start + 1 < len(words) and words[start + 1] in _SCALES:  # "2 thousand"
            value, used = value * _SCALES[words[start + 1]], 2
        return (int(value) if value.is_integer() else value), used
    if word in ("a", "an"):
        value, end = _word_number(words, start)
        return (value, end - start) if value is not None else (1, 1)  # "a minute"
    value, end = _word_number(words, start)
    return (value, end - start) if value is not None else (None, 0)


def find_duration(text: str) -> dict[str, int]:
    """{"hours"|"minutes"|"seconds": n} for "nine minutes", "an hour and a half", "90 seconds"."""
    words = number_words(text)
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


_DECIMAL_RE = re.compile(r"(?<![\w.])(\d+\.\d+)(?![\w.]*\s*(hours?|minutes?|seconds?|mins?|secs?)\b)")


def find_number(text: str, skip_duration: bool = True) -> int | float | None:
    """The first number in ``text`` that is not part of a duration."""
    decimal = _DECIMAL_RE.search(text)
    if decimal:
        return float(decimal.group(1))
    words = number_words(text)
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


_TIME_START = {"noon", "midnight", "half", "quarter"}
_TIME_STOP = {"every", "daily", "each", "on", "please", "weekdays", "weekends", "and"}
_DAILY_RE = re.compile(r"\b(every ?(day|morning|night|evening|weekday)s?|daily|each (day|morning)|weekdays)\b")


def find_time(text: str) -> str | None:
    """The clock time in the words, as said: "7:30 am", "seven thirty", "half past six"."""
    words = [w.strip(",.!?;\"") for w in text.lower().split()]
    words = [w for w in words if w]
    for i, word in enumerate(words):
        if re.match(r"\d", word) or word in _TIME_START or (word in _UNITS and word not in ("a", "an")) or word in _TENS:
            end = i
            while end < len(words) and words[end] not in _TIME_STOP:
                end += 1
            return " ".join(words[i:end]) or None
    return None


_BRIGHTER = {"brighter", "lighter", "brighten", "more"}
_DIMMER = {"dimmer", "darker", "dim", "less", "lower"}


def brightness_step(text: str) -> str | None:
    """"up" for "a bit brighter", "down" for "a little dimmer", else None."""
    words = set(_norm(text).split())
    if words & _BRIGHTER:
        return "up"
    if words & _DIMMER:
        return "down"
    return None


def recurrence(text: str) -> str:
    """"daily" if the words ask for it every day, else "once"."""
    return "daily" if _DAILY_RE.search(text.lower()) else "once"


# Words of a request's own wording may be separated by a few of the user's ("remember *for me*
# that ..."); a longer run of other words is where the free text starts.
_MAX_GAP_LEADING = 2
_MAX_GAP_TRAILING = 1


def _cut(words: list[str], template_words: set[str], max_gap: int) -> int:
    last, gap = -1, 0
    for i, word in enumerate(words):
        if word in template_words:
            last, gap = i, 0
        else:
            gap += 1
            if gap > max_gap:
                break
    return last + 1


def strip_template_words(text: str, template_words: set[str]) -> str:
    """The free text of a wildcard: the utterance minus the request's own words around it."""
    spoken = re.findall(r"[\w'’:]+", text)  # as said (case kept), for the value itself
    words = [_norm(w) for w in spoken]
    # The widest cut that still leaves some free text ("cancel *pizza* timer").
    for max_gap in range(_MAX_GAP_LEADING, -1, -1):
        start = _cut(words, template_words, max_gap)
        rest = words[start:]
        end = len(rest) - _cut(rest[::-1], template_words, min(max_gap, _MAX_GAP_TRAILING))
        if end > 0:
            return " ".join(spoken[start : start + end])
    return ""


@dataclass(frozen=True)
class SlotVocabulary:
    """What the templates say about slots: list phrases, wildcard lists, each slot's lists."""

    phrases: dict[str, list[tuple[str, Any]]]  # text list -> (phrase, value), longest first
    wildcards: set[str]  # wildcard list names
    sources: dict[str, dict[str, set[str]]]  # intent -> slot -> lists its values come from


_HOME_LISTS = {"name", "area", "floor"}
DURATION_SLOTS = {"hours", "minutes", "seconds", "start_hours", "start_minutes", "start_seconds"}
_ADJUSTING = ("HassStartTimer", "HassIncreaseTimer", "HassDecreaseTimer")


def _find_phrase(norm: str, pairs: list[tuple[str, Any]]) -> Any:
    padded = f" {norm} "
    for phrase, value in pairs:
        if f" {phrase} " in padded:
            return value
    return None


def find_durations(text: str) -> list[tuple[dict[str, int], bool]]:
    """Each duration in the words, and whether it names a timer ("the 5 minute timer")."""
    words = number_words(text)
    found: list[tuple[dict[str, int], bool]] = []
    i = 0
    while i < len(words):
        value, used = parse_number(words, i)
        unit_at = i + used
        if value is not None and unit_at < len(words) and words[unit_at] in _DURATION_UNITS:
            part = find_duration(" ".join(words[i:]))
            # how far this duration reaches: to the last unit word of the run
            end = unit_at + 1
            while end < len(words) and (words[end] in _DURATION_UNITS or words[end] in ("and", "a", "half") or parse_number(words, end)[0] is not None):
                end += 1
            part = find_duration(" ".join(words[i:end]))
            names_timer = end < len(words) and words[end] == "timer"
            found.append((part, names_timer))
            i = end
            continue
        i += 1
    return found


def fill_slots(
    text: str,
    intent: str,
    frame: tuple[str, ...],
    fixed: dict[str, Any],
    home: Home,
    template_words: set[str],
    vocabulary: SlotVocabulary | None = None,
    context: dict[str, Any] | None = None,
    example_sources: dict[str, set[str]] | None = None,
    mentions: list[Any] | None = None,
) -> tuple[dict[str, Any], float, int]:
    """Slots for ``frame`` found in ``text``; how completely the frame was filled (0..1), and
    how many of its slots the words gave.

    ``frame`` and ``fixed`` come from the nearest training sentence of the intent: the slots
    that kind of request carries, and the values its template sets itself (domain=light).
    """
    vocabulary = vocabulary or SlotVocabulary({}, set(), {})
    # The lists the nearest sentence took its values from, else any list the intent uses.
    sources = {**vocabulary.sources.get(intent, {}), **(example_sources or {})}
    norm = _norm(text)
    words = norm.split()
    slots: dict[str, Any] = {}
    wanted = set(frame)
    found_parts, wanted_parts = 0, 0
    evidence = False  # a list phrase of this frame was heard (so its fixed device class fits)

    # Entities, areas, floors. A bare device kind ("lights") is a domain, not the entity "Light".
    generic_ok = "name" in wanted and "domain" not in wanted
    mentions = [
        m for m in (home.mentions(text) if mentions is None else mentions)
        if not (
            m.kind == "name" and " ".join(words[m.start : m.end]) in DOMAIN_WORDS
            and (m.score < 100 or not generic_ok)
        )
    ]
    by_kind: dict[str, list[Any]] = {}
    for mention in mentions:
        by_kind.setdefault(mention.kind, []).append(mention)
    for kind in ("name", "area", "floor"):
        lists = sources.get(kind, set())
        if kind not in wanted or (lists and not lists & _HOME_LISTS):
            continue
        if not lists and kind in fixed:
            continue  # a fixed value such as name=all
        wanted_parts += 1
        if by_kind.get(kind):
            slots[kind] = by_kind[kind][0].value
            found_parts += 1
        elif kind == "area" and context and context.get("area"):
            slots[kind] = context["area"]
            found_parts += 1

    # Durations: "for 5 minutes" sets or changes a timer, "the 1 hour timer" picks one.
    if wanted & DURATION_SLOTS:
        wanted_parts += 1
        durations = find_durations(text)
        for part, names_timer in durations:
            # "a 10 minute timer" is the new timer; "add 5 minutes to the 1 hour timer" picks one.
            prefix = "" if intent == "HassStartTimer" or (intent in _ADJUSTING and not names_timer) else "start_"
            slots.update({prefix + unit: value for unit, value in part.items()})
        if durations:
            found_parts += 1

    # Slots from the templates' lists: colours, states, device classes, media classes, ...
    for slot in sorted(wanted - set(slots) - DURATION_SLOTS - _HOME_LISTS):
        lists = sources.get(slot, set())
        text_lists = [name for name in sorted(lists) if name in vocabulary.phrases]
        if not text_lists and (lists & vocabulary.wildcards or slot in _WILDCARD_SLOTS):
            continue  # free text: after the others
        if text_lists:
            wanted_parts += 1
            for name in text_lists:
                value = _find_phrase(norm, vocabulary.phrases[name])
                if value is not None:
                    slots[slot] = value
                    found_parts += 1
                    evidence = True
                    break
        if slot not in slots and (slot in _NUMBER_SLOTS or (lists and not text_lists and not lists & vocabulary.wildcards)):
            # Wanted whether or not it is found: "set the brightness to zebra" fills half the frame.
            wanted_parts += not text_lists
            number = find_number(text)
            if number is not None:
                slots[slot] = number
                found_parts += 1
            elif slot == "brightness" and (step := brightness_step(text)):
                # "a bit brighter": no number, a direction (like HA's volume_step for volume).
                slots["brightness_step"] = step
                found_parts += 1

    # Values the template sets itself, where the words agree.
    for slot, value in fixed.items():
        if slot not in wanted or slot in slots or "brightness_step" in slots and slot == "brightness":
            continue
        if slot == "domain":
            said = find_domain(text)
            if "name" in slots:
                if home.domain_of(slots["name"]) not in (None, value):
                    continue
            else:
                # A device kind must be heard ("the lights"); a frame that only assumes one
                # ("turn on the microwave" -> lights?) is not filled.
                wanted_parts += 1
                if not said and not evidence:
                    continue
                value = said or value
                found_parts += 1
        elif slot == "device_class" and not evidence and value.replace("_", " ") not in norm:
            continue
        slots[slot] = value
    if "domain" in wanted and "domain" not in slots and "name" not in slots and (said := find_domain(text)):
        slots["domain"] = said

    if intent == "SamanthaSetAlarm":
        wanted.add("time")
        slots["recurrence"] = recurrence(text)
        when = find_time(text)
        if when:
            slots["time"] = when
            wanted.discard("time")

    # Free text last: what is left between the request's own words.
    wild = {
        slot for slot in wanted - set(slots)
        if sources.get(slot, set()) & vocabulary.wildcards or slot in _WILDCARD_SLOTS
    }
    if intent == "SamanthaSetName":
        wild.add("name")
    said = _values_said(slots)
    if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in slots.values()):
        said |= _NUMBER_WORDS  # "minus five" is the duration, not the timer's name
    for slot in sorted(wild):
        wanted_parts += 1
        value = strip_template_words(text, template_words | said)
        if value and all(w.isdigit() or w in _NUMBER_WORDS for w in _norm(value).split()):
            value = ""  # only a number: the duration or level, said already
        if value:
            slots[slot] = value
            found_parts += 1
    completeness = found_parts / wanted_parts if wanted_parts else 1.0
    return slots, completeness, found_parts


_NUMBER_WORDS = (
    (set(_UNITS) - {"a", "an"}) | set(_TENS) | {"hundred", "thousand", "and", "minus", "negative", "half", "quarter"}
)


def _values_said(slots: dict[str, Any]) -> set[str]:
    """Words already used by other slots, so free text does not take them again."""
    return {w for v in slots.values() if isinstance(v, str) for w in _norm(v).split()}
