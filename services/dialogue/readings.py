"""Which of the recogniser's readings of a request to act on.

Whisper's beam search keeps several readings of what was said, likeliest first. When it mishears a
command the right words are often among the others: "set the mid room lamp to maximum brightness"
first, "set the bedroom lamp to maximum brightness" second. The dialogue model knows which
sentences the device can carry out, so it weighs each reading's likelihood as speech against how
well the model understands it.

>>> pick = understand_likeliest([Reading("set the mid room lamp on", 0.8), Reading("set the bedroom lamp on", 0.7)],
...                             understand)  # doctest: +SKIP
>>> pick.reading.text, pick.understanding.intent  # doctest: +SKIP
('set the bedroom lamp on', 'HassTurnOn')
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Callable

from .nlu.model import Understanding

MIN_CONFIDENCE = 1e-6  # a reading the recogniser gave no chance at all still has a finite score
# Added to the score of a reading that is word for word one of the device's commands (the command
# grammar): a mishearing rarely lands on another command exactly. Chosen with
# bench/spoken_calibrate.py --command-bonus on 237 clips of the model's own phrases (never the
# tests), the whole chain: right 35.4 % without it, 46.8 % from 0.75 on (wrong actions 5.9 -> 5.5 %).
COMMAND_BONUS = 0.75


@dataclass(frozen=True)
class Reading:
    """One way the recogniser heard the request (already cleaned up for the model)."""

    text: str
    confidence: float  # the recogniser's, 0-1
    made_by_grammar: bool = False  # written from the command grammar, not heard freely (TranscriptReady)


@dataclass(frozen=True)
class Pick:
    """The reading acted on and what it means."""

    reading: Reading
    understanding: Understanding
    rank: int  # 0 = the recogniser's own first choice
    # How far the pick's score is ahead of the best reading that means something else (another
    # intent or other slots): small when the recogniser could as well have heard "turn on" as
    # "turn off". Infinite when no other reading means anything else.
    rival_margin: float = math.inf


def cleaned_readings(heard: list[tuple[str, float]], clean: Callable[[str], str],
                     grammar_reading: str = "") -> list[Reading]:
    """(text, confidence) pairs as heard, likeliest first, cleaned up; readings that clean up to
    the same words are kept once. [] when the likeliest is nothing (only the wake word, or silence):
    a less likely reading must not put words in a silent user's mouth. The one whose text is
    ``grammar_reading`` was written from the command grammar; it counts as heard freely when a
    free reading cleans up to the same words."""
    readings: list[Reading] = []
    for text, confidence in heard:
        made_by_grammar = bool(grammar_reading) and text == grammar_reading
        text = clean(text)
        if not text and not readings:
            return []
        same = next((index for index, reading in enumerate(readings) if reading.text == text), None)
        if text and same is None:
            readings.append(Reading(text, confidence, made_by_grammar))
        elif text and not made_by_grammar and readings[same].made_by_grammar:
            readings[same] = dataclasses.replace(readings[same], made_by_grammar=False)
    return readings


def understand_likeliest(readings: list[Reading], understand: Callable[[str], Understanding],
                         is_command: Callable[[str], bool] | None = None,
                         command_bonus: float = COMMAND_BONUS) -> Pick:
    """The reading that is both likely as speech and meaningful to the device.

    Each reading scores the log of the recogniser's confidence plus the dialogue model's confidence
    in what it understood (0 when it understood nothing): a template match (1.0) outweighs a
    reading the recogniser found e times likelier that means nothing; plus ``command_bonus`` when
    ``is_command`` says the words are exactly one of the device's commands. Ties go to the likelier
    reading, so a request heard clearly is taken as heard; and a likelier reading that says the
    winner's request with more (a timer's name the grammar cannot hold) is taken instead of it.
    """
    if not readings:
        raise ValueError("no readings to choose from")
    scored: list[tuple[float, Pick]] = []
    for rank, reading in enumerate(readings):
        pick = Pick(reading, understand(reading.text), rank)
        meaning = pick.understanding.confidence if pick.understanding.intent is not None else 0.0
        if meaning and is_command is not None and is_command(reading.text):
            meaning += command_bonus
        scored.append((math.log(max(reading.confidence, MIN_CONFIDENCE)) + meaning, pick))
    best_score, best = max(scored, key=lambda entry: entry[0])  # the first of equals: the likelier reading
    # The command grammar holds no free-text values (a timer's name, a list's item), so the command
    # bonus can favour a reading that is a likelier one with such a detail left out: "take 5 minutes
    # from the timer" over "take 5 minutes from pizza timer". That is the same request, less what the
    # user said; the likeliest reading that says it in full is taken.
    fuller = next(((score, pick) for score, pick in scored[:best.rank] if _says_more(pick, best)), None)
    if fuller is not None:
        best_score, best = fuller
    rival_scores = [score for score, other in scored
                    if other.understanding.intent is not None and _meaning(other) != _meaning(best)
                    and not _says_more(best, other)]
    if best.understanding.intent is not None and rival_scores:
        best = dataclasses.replace(best, rival_margin=best_score - max(rival_scores))
    return best


# Words that change no slot's meaning: "the apples" is the item "apples", "who is it home" asks who is
# "home". Whisper hears such small words in and out of a free-text value ("remove the apples on my
# list" beside "remove apples on my list"); as a rival, that is the same request.
FILLER_WORDS = frozenset("a an the my our your his her their its it this that".split())


def _says_more(pick: Pick, other: Pick) -> bool:
    """Whether ``pick`` is ``other``'s request with more said: the same intent, every slot of
    ``other`` with the same value, and some slot more."""
    intent, slots = _meaning(pick)
    other_intent, other_slots = _meaning(other)
    return (intent is not None and intent == other_intent and len(slots) > len(other_slots)
            and all(slot in slots for slot in other_slots))


def _meaning(pick: Pick) -> tuple:
    """What acting on the pick would do: its intent and slots (text values as their words, in lower
    case, without filler words)."""
    def value(slot_value: object) -> object:
        if not isinstance(slot_value, str):
            return slot_value
        return tuple(word for word in re.findall(r"[\w']+", slot_value.lower()) if word not in FILLER_WORDS)
    return pick.understanding.intent, sorted((name, value(v)) for name, v in pick.understanding.slots.items())
