"""Reading numbers, durations, clock times and dates out of what people say, and saying them back.

Speech-to-text writes "five", "5", "twenty-five", "1:30" or "half past seven"; the skills need
numbers. These parsers are strict enough to notice what is wrong ("minus five minutes", "February
30th") so that the reply can say so instead of guessing.

>>> parse_duration("a pasta timer for two and a half minutes").seconds
150.0
>>> parse_duration("minus five minutes").negative
True
>>> parse_clock("half past seven in the evening").hour
19
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_UNITS = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
         "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}
_NEGATIVE = {"minus", "negative"}
_UNIT_SECONDS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60, "m": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600,
    "day": 86400, "days": 86400,
}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]
_MONTH_ABBREVIATIONS = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers; "twenty-five" becomes two words, "1:30" stays one token."""
    text = text.casefold().replace("’", "'")
    text = re.sub(r"(\d)-(?=[a-z])", r"\1 ", text)  # "5-minute"
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # "twenty-five"
    text = re.sub(r"(^|\s)-(?=\d)", r"\1minus ", text)  # "-5 minutes"
    text = re.sub(r"(\d)(am|pm|a\.m\.|p\.m\.)", r"\1 \2", text)
    text = text.replace("a.m.", "am").replace("p.m.", "pm")
    found = re.findall(r"\d+:\d\d|\d+(?:\.\d+)?(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)?|½", text)
    return found


def parse_number(words: list[str], start: int) -> tuple[float, int] | None:
    """A number spoken or written at words[start:], and the index after it; None if there is none.

    Handles digits ("25", "2.5"), words ("twenty five", "a hundred and ten", "a thousand"), and
    "a"/"an" as one when a unit or scale follows ("an hour", "a thousand"). "seven thirty" is
    two numbers (7, then 30), as a clock time needs.
    """
    if start >= len(words):
        return None
    word = words[start]
    if re.fullmatch(r"\d+(\.\d+)?", word):
        value = float(word)
        index = start + 1
        if index < len(words) and words[index] in _SCALES:
            value *= _SCALES[words[index]]
            index += 1
        return value, index
    if word in ("a", "an"):
        following = words[start + 1] if start + 1 < len(words) else ""
        if following in _UNIT_SECONDS:
            return 1.0, start + 1
        if following not in _SCALES:
            return None
        words = [*words[: start + 1], *words[start + 1 :]]
    total = 0  # completed thousands/millions
    group = 0  # below a thousand
    small = 0  # below a hundred, in this group
    index = start
    seen = False
    while index < len(words):
        word = words[index]
        if word in ("a", "an") and not seen:
            small = 1
        elif word in _UNITS and word != "oh" and (small == 0 or (small % 10 == 0 and small >= 20)) and (
            _UNITS[word] < 10 or small == 0
        ):
            small += _UNITS[word]
        elif word in _TENS and small == 0:
            small = _TENS[word]
        elif word == "hundred" and seen and group == 0:
            group = max(small, 1) * 100
            small = 0
        elif word in ("thousand", "million") and seen:
            total += (group + max(small, 1 if group == 0 else 0)) * _SCALES[word]
            group = small = 0
        elif word == "and" and seen and (group or total) and index + 1 < len(words) and (
            words[index + 1] in _UNITS or words[index + 1] in _TENS
        ):
            pass  # "a hundred and ten"
        else:
            break
        seen = True
        index += 1
    if not seen:
        return None
    return float(total + group + small), index


@dataclass(frozen=True)
class Duration:
    """A spoken length of time."""

    seconds: float
    negative: bool = False


def parse_duration(text: str) -> Duration | None:
    """The length of time said in text ("1 hour and 20 minutes", "half an hour", "90 seconds").

    None when no duration is said. "minus"/"negative" before a number sets ``negative``.
    """
    words = tokens(text)
    total = 0.0
    found = False
    negative = False
    index = 0
    while index < len(words):
        word = words[index]
        if word in _NEGATIVE:
            negative = True
            index += 1
            continue
        # "half an hour", "a quarter of an hour", "half a minute"
        if word in ("half", "quarter"):
            fraction = 0.5 if word == "half" else 0.25
            rest = words[index + 1 : index + 4]
            for skip in range(len(rest)):
                if rest[skip] in _UNIT_SECONDS:
                    if all(w in ("an", "a", "of") for w in rest[:skip]):
                        total += fraction * _UNIT_SECONDS[rest[skip]]
                        found = True
                        index += skip + 2
                    break
            else:
                index += 1
                continue
            if found and index > 0 and words[index - 1] in _UNIT_SECONDS:
                continue
            index += 1
            continue
        number = parse_number(words, index)
        if number is None:
            index += 1
            continue
        value, after = number
        # "two and a half minutes"
        if words[after : after + 3] == ["and", "a", "half"]:
            value += 0.5
            after += 3
        elif after < len(words) and words[after] == "½":
            value += 0.5
            after += 1
        if after < len(words) and words[after] in _UNIT_SECONDS:
            unit = _UNIT_SECONDS[words[after]]
            after += 1
            # "an hour and a half", "a minute and a half"
            if words[after : after + 3] == ["and", "a", "half"]:
                value += 0.5
                after += 3
            total += value * unit
            found = True
            index = after
            continue
        index = max(after, index + 1)
    if not found:
        return None
    return Duration(total, negative)


@dataclass(frozen=True)
class ClockTime:
    """A time of day as said, with the date when one was said."""

    hour: int  # 0-23 when meridiem was said or hour > 12; else 1-12 and ambiguous
    minute: int
    ambiguous: bool  # "at seven" could be 7:00 or 19:00
    date: dt.date | None = None
    day_offset: int | None = None  # "today" 0, "tomorrow" 1
    weekday: int | None = None  # "on Monday"


class BadDate(ValueError):
    """A date that does not exist, such as February 30th; the message says why in plain words."""


def _ordinal_at(words: list[str], index: int) -> tuple[int, int] | None:
    """A day of the month at words[index]: "3", "3rd", "third", "twenty first"; and the index after."""
    if index >= len(words):
        return None
    word = words[index]
    match = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", word)
    if match:
        return int(match.group(1)), index + 1
    if word in _ORDINALS:
        return _ORDINALS[word], index + 1
    if word in ("twenty", "thirty") and index + 1 < len(words) and words[index + 1] in _ORDINALS:
        extra = _ORDINALS[words[index + 1]]
        if extra < 10:
            return _TENS[word] + extra, index + 2
    return None


def _month(word: str) -> int | None:
    if word in MONTHS:
        return MONTHS.index(word) + 1
    return _MONTH_ABBREVIATIONS.get(word)


def parse_date(words: list[str], today: dt.date) -> tuple[dt.date | None, set[int]]:
    """A calendar date named in words ("May 3rd", "the 3rd of May"), and the word indices it used.

    Raises BadDate for a date that does not exist. The year is this year, or next year when the
    date has passed.
    """
    used: set[int] = set()
    for index, word in enumerate(words):
        month = _month(word)
        if month is None:
            continue
        day = None
        # "May 3rd", "May the 3rd"
        after = index + 1
        if after < len(words) and words[after] == "the":
            after += 1
        if (found := _ordinal_at(words, after)) is not None:
            day, end = found
            used |= set(range(index, end))
        # "3rd of May", "the twenty first of May"
        elif index >= 2 and words[index - 1] == "of":
            for begin in (index - 3, index - 2):
                if begin >= 0 and (found := _ordinal_at(words, begin)) is not None and found[1] == index - 1:
                    day = found[0]
                    used |= set(range(begin, index + 1))
                    break
        if day is None:
            continue
        year = today.year
        try:
            date = dt.date(year, month, day)
        except ValueError:
            if month == 2 and day == 29:
                raise BadDate("February 29th only comes in a leap year, and this isn't one.") from None
            if day > 31 or day < 1:
                raise BadDate(f"There's no {MONTHS[month - 1].capitalize()} {day}.") from None
            last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
            raise BadDate(
                f"There's no {MONTHS[month - 1].capitalize()} {ordinal_text(day)}: "
                f"{MONTHS[month - 1].capitalize()} only has {last} days."
            ) from None
        if date < today:
            try:
                date = dt.date(year + 1, month, day)
            except ValueError:
                raise BadDate("That date won't come round again for a while.") from None
        return date, used
    return None, used


def ordinal_text(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def parse_clock(text: str, today: dt.date | None = None) -> ClockTime | None:
    """The time of day said in text ("7:30 am", "seven thirty", "half past six", "noon").

    None when no time is said; BadDate when a date is said that does not exist; ValueError (with a
    plain message) for an impossible time such as "25:00".
    """
    today = today or dt.date.today()
    words = tokens(text)
    date, used = parse_date(words, today)
    day_offset = None
    weekday = None
    for index, word in enumerate(words):
        if word == "tomorrow":
            day_offset = 1
            used.add(index)
        elif word in ("today", "tonight"):
            day_offset = 0
            used.add(index)
        elif word in WEEKDAYS:
            weekday = WEEKDAYS.index(word)
            used.add(index)
    rest = [w if i not in used else "" for i, w in enumerate(words)]
    meridiem = None
    joined = " ".join(w for w in rest if w)
    if re.search(r"\b(pm|evening|afternoon|tonight|night)\b", joined) or "tonight" in words:
        meridiem = "pm"
    if re.search(r"\b(am|morning)\b", joined):
        meridiem = "am"
    hour = minute = None
    if re.search(r"\bnoon\b|\bmidday\b", joined):
        hour, minute, meridiem = 12, 0, "noon"
    elif re.search(r"\bmidnight\b", joined):
        hour, minute, meridiem = 0, 0, "midnight"
    else:
        hour, minute = _relative_clock(rest) or _plain_clock(rest) or (None, None)
    if hour is None or minute is None:
        return None
    if meridiem in ("noon", "midnight"):
        return ClockTime(hour, minute, False, date, day_offset, weekday)
    if not 0 <= minute <= 59 or not 0 <= hour <= 24:
        raise ValueError("That's not a time on any clock I know.")
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif meridiem == "am" and hour > 12:
        raise ValueError("That's not a time on any clock I know.")
    if hour == 24:
        hour = 0
    ambiguous = meridiem is None and 1 <= hour <= 12
    return ClockTime(hour, minute, ambiguous, date, day_offset, weekday)


def _relative_clock(words: list[str]) -> tuple[int, int] | None:
    """ "half past seven", "quarter to eight", "ten past six", "twenty minutes to nine"."""
    for index, word in enumerate(words):
        if word not in ("past", "to", "after", "before") or index == 0:
            continue
        before = [w for w in words[max(0, index - 4) : index] if w]
        if before and before[-1] in ("minute", "minutes"):
            before = before[:-1]
        offset = None
        if before and before[-1] == "half":
            offset = 30
        elif before and before[-1] == "quarter":
            offset = 15
        else:
            for back in range(len(before)):
                parsed = parse_number(before, back)
                if parsed and parsed[1] == len(before) and parsed[0] == int(parsed[0]):
                    offset = int(parsed[0])
                    break
        following = parse_number(words, index + 1)
        if offset is None or following is None or not 0 < offset < 60:
            continue
        base = int(following[0])
        if word in ("past", "after"):
            return base, offset
        return (base - 1 if base > 1 else 12), 60 - offset
    return None


def _plain_clock(words: list[str]) -> tuple[int, int] | None:
    """ "7:30", "7 30", "seven thirty", "seven oh five", "0730", "7"."""
    for index, word in enumerate(words):
        if not word or word in ("a", "an"):
            continue
        match = re.fullmatch(r"(\d{1,2}):(\d\d)", word)
        if match:
            return int(match.group(1)), int(match.group(2))
        if re.fullmatch(r"\d{3,4}", word):
            return int(word) // 100, int(word) % 100
        number = parse_number(words, index)
        if number is None or number[0] != int(number[0]):
            continue
        hour, after = int(number[0]), number[1]
        minute = 0
        following = words[after] if after < len(words) else ""
        if following == "oh" and (nxt := parse_number(words, after + 1)):
            minute = int(nxt[0])
        elif following and following not in ("a", "an") and (nxt := parse_number(words, after)):
            minute = int(nxt[0])
        return hour, minute
    return None


def say_duration(seconds: float) -> str:
    """ "2 hours and 5 minutes", "1 minute and 30 seconds", "45 seconds" (rounded to whole seconds)."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    for value, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if value:
            parts.append(f"{value} {unit}{'s' if value != 1 else ''}")
    if not parts:
        return "0 seconds"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def say_time_left(seconds: float) -> str:
    """Time left said as a person would: whole minutes when long, seconds near the end."""
    if seconds >= 600:
        return say_duration(round(seconds / 60) * 60)
    return say_duration(seconds)


def say_clock(moment: dt.datetime | dt.time) -> str:
    """ "7:05 AM", "noon", "midnight"."""
    if moment.hour == 12 and moment.minute == 0:
        return "noon"
    if moment.hour == 0 and moment.minute == 0:
        return "midnight"
    hour12 = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    if moment.minute == 0:
        return f"{hour12} {meridiem}"
    return f"{hour12}:{moment.minute:02d} {meridiem}"


def say_date(date: dt.date, today: dt.date | None = None) -> str:
    """ "Thursday, November 26th" ("today"/"tomorrow" prefixed when they apply)."""
    text = f"{WEEKDAYS[date.weekday()].capitalize()}, {MONTHS[date.month - 1].capitalize()} {ordinal_text(date.day)}"
    if today is not None and date.year != today.year:
        text += f", {date.year}"
    return text
