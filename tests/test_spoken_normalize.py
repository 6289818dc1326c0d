"""services.spoken: what speech-to-text wrote, brought back to what the device knows.

The examples are the kinds of mistake Whisper tiny.en makes on commands (see bench/spoken.py);
the sentences here are written for these tests, not taken from any test set.
"""

from __future__ import annotations

import pytest

from services.spoken import (
    PhoneticVocabulary, normalize_transcript, numbers_to_digits, phonetic_key, resolve_value, sounds_like)

DEVICE_PHRASES = [
    "set the brightness of the desk lamp to 40 percent",
    "set temp in the office to 21 degrees",
    "turn on the bedroom lamp",
    "what's the temperature in the living room",
    "start a 10 minute pasta timer",
    "pause the tv",
]


@pytest.mark.parametrize(("heard", "expected"), [
    ("Set a 12-ounce timer.", "set a 12 ounce timer"),
    ("Turn on the Living Room lights, please!", "turn on the living room lights please"),
    ("Set a 5-minute pasta timer", "set a 5 minute pasta timer"),
    ("wake me at 7am", "wake me at 7 am"),
    ("remind me at 5 p.m.", "remind me at 5 pm"),
    ("set brightness to 50%", "set brightness to 50%"),
    ("set it to twenty-five percent", "set it to 25 percent"),
    ("a timer for one hour", "a timer for 1 hour"),
    ("a timer for 1 and a 1/2 hours.", "a timer for 1 and a 1/2 hours"),  # as Whisper writes "and a half"
    ("what’s the time", "what's the time"),
    ("What's the CO2 level?", "what's the co2 level"),  # letters then digits: one word, as in the sentences
    ("is the PM2.5 high.", "is the pm2.5 high"),
    ("", ""),
    ("...", ""),
])
def test_normalize_transcript(heard: str, expected: str) -> None:
    assert normalize_transcript(heard) == expected


@pytest.mark.parametrize(("words", "digits"), [
    ("twenty five", "25"),
    ("a hundred and ten degrees", "110 degrees"),
    ("three thousand", "3000"),
    ("nine fifty", "9 50"),  # a clock time is two numbers
    ("five five", "5 5"),
    ("turn on the other one", "turn on the other one"),  # a pronoun, not a number
    ("one minute", "1 minute"),
    ("seventy", "70"),
])
def test_numbers_to_digits(words: str, digits: str) -> None:
    assert numbers_to_digits(words) == digits


def test_phonetic_key_keeps_sounds_and_drops_spelling() -> None:
    assert phonetic_key("phone") == phonetic_key("fone")
    assert phonetic_key("kitchen") == phonetic_key("kitchin")
    assert phonetic_key("Bedroom Lamp") == "BTRM LMP"
    assert phonetic_key("knight") == phonetic_key("night")
    assert phonetic_key("") == ""


def test_sounds_like_scores_near_misses_above_different_words() -> None:
    assert sounds_like("kitchen", "Kitchen") == 100.0
    assert sounds_like("rightness", "brightness") > 85
    assert sounds_like("ketchup", "kitchen") < 70
    assert sounds_like("garage", "bedroom") < 40


def test_vocabulary_corrects_only_words_it_lacks_and_only_close_ones() -> None:
    vocabulary = PhoneticVocabulary(DEVICE_PHRASES)
    assert normalize_transcript("Set the rightness of the desk lamp to 40%", vocabulary) == \
        "set the brightness of the desk lamp to 40%"
    assert normalize_transcript("set Tempt in the office to 21 degrees", vocabulary) == \
        "set temp in the office to 21 degrees"
    # Heard words that sound like nothing the device knows are left as heard: better "not
    # understood" than a confident guess.
    assert normalize_transcript("stop time in ketchup", vocabulary) == "stop time in ketchup"
    # Known words are never rewritten, and short words never are.
    assert normalize_transcript("turn on the bedroom lamp", vocabulary) == "turn on the bedroom lamp"
    assert vocabulary.correct_words(["pose", "the", "tv"]) == ["pose", "the", "tv"]


def test_vocabulary_keeps_one_thing_or_many_as_heard() -> None:
    # "favourite" is known, "favorites" is not: the shopping item is still the favorites, not one
    # favourite; a near miss with its "s" still snaps to the known word with one.
    vocabulary = PhoneticVocabulary(["add tom's favourite tea to my list", "turn on the kitchen lights"])
    assert vocabulary.correct_words(["add", "favorites"]) == ["add", "favorites"]
    assert vocabulary.correct_words(["the", "kitchen", "lites"]) == ["the", "kitchen", "lights"]
    assert vocabulary.correct_words(["my", "favorite"]) == ["my", "favourite"]


def test_vocabulary_joins_a_word_heard_as_two() -> None:
    vocabulary = PhoneticVocabulary(DEVICE_PHRASES)
    assert vocabulary.correct_words(["turn", "on", "the", "bed", "room", "lamp"]) == \
        ["turn", "on", "the", "bedroom", "lamp"]


def test_resolve_value_finds_the_name_or_declines() -> None:
    names = ["Bedroom Lamp", "Kitchen Light", "Living Room TV", "Front Door"]
    assert resolve_value("bedroom lamb", names)[0] == "Bedroom Lamp"
    assert resolve_value("living room t v", names)[0] == "Living Room TV"
    assert resolve_value("FRONT DOOR", names) == ("Front Door", 100.0)
    value, score = resolve_value("garden shed", names)
    assert value is None and score < 80
    assert resolve_value("anything", []) == (None, 0.0)


def test_resolve_value_list_values_from_a_users_sentences() -> None:
    zones = ["front lawn", "vegetable patch", "rose beds", "back garden", "herb garden"]
    assert resolve_value("rose bed", zones)[0] == "rose beds"
    assert resolve_value("vegetable patches", zones)[0] == "vegetable patch"
    assert resolve_value("the hallway", zones)[0] is None


def test_worth_acting_on_asks_when_the_words_are_doubtful() -> None:
    from services.spoken import Signs, worth_acting_on

    # Heard surely and matched by a template: done.
    assert worth_acting_on(Signs(heard_confidence=0.95, template_matched=True))
    # A template matched words the device knows, but the recogniser was very unsure of them.
    assert not worth_acting_on(Signs(heard_confidence=0.2, template_matched=True))
    # The model's guess through words it has never seen ("turn on the ketchup"): ask.
    assert not worth_acting_on(Signs(heard_confidence=0.95, unknown_words=1))
    # Word for word one of the device's commands: a mishearing rarely lands on one, so even a
    # recogniser not quite sure of it is believed.
    assert worth_acting_on(Signs(heard_confidence=0.45, exact_command=True, template_matched=True))
    assert not worth_acting_on(Signs(heard_confidence=0.45, template_matched=True))
    # A command the grammar wrote is one by construction: less of a sign than one heard freely, and
    # less again when what was heard had more words than the command ("thank you for the effort" -> "thanks").
    assert worth_acting_on(Signs(heard_confidence=0.7, made_by_grammar=True, template_matched=True))
    assert not worth_acting_on(Signs(heard_confidence=0.7, template_matched=True))
    assert not worth_acting_on(Signs(heard_confidence=0.45, made_by_grammar=True, template_matched=True))
    assert not worth_acting_on(Signs(heard_confidence=0.7, made_by_grammar=True, template_matched=True,
                                     words_left_out=3))


def test_worth_acting_on_asks_when_another_reading_means_something_else_nearly_as_likely() -> None:
    from services.spoken import Signs, worth_acting_on

    # "turn off the lights" heard, "turn on the lights" nearly as likely: ask, even for an exact command.
    assert not worth_acting_on(Signs(heard_confidence=0.95, template_matched=True, rival_margin=0.0))
    assert not worth_acting_on(Signs(heard_confidence=0.95, exact_command=True, template_matched=True,
                                     rival_margin=0.0))
    # A rival far behind, or none, changes nothing.
    assert worth_acting_on(Signs(heard_confidence=0.95, template_matched=True, rival_margin=5.0))
    assert worth_acting_on(Signs(heard_confidence=0.95, template_matched=True))


def test_the_chance_of_being_right_grows_with_each_good_sign() -> None:
    from services.spoken import Signs, chance_right

    doubtful = Signs(heard_confidence=0.5, rival_margin=0.5)
    better = [Signs(heard_confidence=0.9, rival_margin=0.5), Signs(heard_confidence=0.5, rival_margin=2.0),
              Signs(heard_confidence=0.5, rival_margin=0.5, exact_command=True),
              Signs(heard_confidence=0.5, rival_margin=0.5, template_matched=True)]
    worse = Signs(heard_confidence=0.5, rival_margin=0.5, unknown_words=2)
    assert all(chance_right(signs) > chance_right(doubtful) for signs in better)
    assert chance_right(worse) < chance_right(doubtful)
