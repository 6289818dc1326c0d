"""One spelling for what speech-to-text writes in many: case, punctuation, hyphens, numbers.

>>> normalize_transcript("Turn on the Living Room lights, please.")
'turn on the living room lights please'
>>> normalize_transcript("Set a 5-minute pizza timer")
'set a 5 minute pizza timer'
>>> normalize_transcript("What's the CO2 level?")
"what's the co2 level"
>>> numbers_to_digits("a hundred and twenty five degrees")
'125 degrees'
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .phonetic import PhoneticVocabulary

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000}
# "one" is a number only next to something counted; alone it is a pronoun ("the other one").
_COUNTED = {
    "percent", "%", "degree", "degrees", "second", "seconds", "minute", "minutes", "hour", "hours",
    "day", "days", "ounce", "ounces", "cup", "cups", "gram", "grams", "pound", "pounds", "liter", "liters",
    "litre", "litres", "inch", "inches", "foot", "feet", "am", "pm", "o'clock", "times", "point",
}
# Letters then digits stay one word: the names of what a sensor measures ("co2", "o3", "pm2.5",
# "no2") are written so in Home Assistant's sentences; split ("co 2") they match none.
_TOKEN_RE = re.compile(r"\d+/\d+|\d+(?:[.:]\d+)?%?|[a-z]+\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|%")


def _number_run(words: list[str], start: int) -> tuple[int, int]:
    """The value and length of the spelled-out number at words[start:] (length 0 if none)."""
    total, current, index, last = 0, 0, start, ""
    if words[start] in ("a", "an") and start + 1 < len(words) and words[start + 1] in _SCALES:
        current, index, last = 1, start + 1, "unit"  # "a hundred"
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        if word in _UNITS and last not in ("unit",):
            current += _UNITS[word]
            last = "unit"
        elif word in _TENS and last not in ("unit", "tens"):
            current += _TENS[word]
            last = "tens"
        elif word in _SCALES and last in ("unit", "tens"):
            current = current * _SCALES[word]
            if _SCALES[word] >= 1000:
                total, current = total + current, 0
            last = "scale"
        elif word == "and" and last == "scale" and (following in _UNITS or following in _TENS):
            pass  # "a hundred and ten"
        else:
            break
        index += 1
    if not last:
        return 0, 0
    return total + current, index - start


def numbers_to_digits(text: str) -> str:
    """Spelled-out numbers as digits ("twenty five" -> "25"); a lone "one" only before a counted unit."""
    words = text.split()
    out: list[str] = []
    i = 0
    while i < len(words):
        value, length = _number_run(words, i)
        if length == 0:
            out.append(words[i])
            i += 1
            continue
        following = words[i + length] if i + length < len(words) else ""
        if length == 1 and words[i] == "one" and following not in _COUNTED:
            out.append(words[i])
        else:
            out.append(str(value))
        i += length
    return " ".join(out)


def normalize_transcript(text: str, vocabulary: "PhoneticVocabulary | None" = None) -> str:
    """A transcript in the plain form the dialogue model reads best.

    Lower case; punctuation dropped (but "50%", "2.5", "7:30", "1/2" and "don't" kept); numbers glued to
    words split ("12-ounce" -> "12 ounce", "5pm" -> "5 pm"); spelled-out numbers as digits. With a
    vocabulary (the device's phrases and names), words it lacks are replaced by a known word that
    sounds almost the same ("rightness" -> "brightness").
    """
    text = text.casefold().replace("’", "'")
    text = re.sub(r"(\d)-(?=[a-z])", r"\1 ", text)  # "12-ounce", "5-minute"
    text = re.sub(r"(?<=[a-z])-(?=\d)", " ", text)  # "covid-19"
    text = re.sub(r"(\d)(am|pm)\b", r"\1 \2", text)
    text = re.sub(r"\b([ap])\.m\.", r"\1m", text)
    text = text.replace("-", " ")
    words = _TOKEN_RE.findall(text)
    if vocabulary is not None:
        words = vocabulary.correct_words(words)
    return numbers_to_digits(" ".join(words))
