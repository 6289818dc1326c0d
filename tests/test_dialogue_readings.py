"""Choosing between the recogniser's readings (services/dialogue/readings.py), with the rule's edges."""

from __future__ import annotations

import math

from services.dialogue.nlu.model import Understanding
from services.dialogue.readings import Reading, cleaned_readings, understand_likeliest

KNOWN = {"turn off the kitchen light": ("HassTurnOff", 1.0), "turn off the kitten": ("HassTurnOff", 0.5)}


def understand(text: str) -> Understanding:
    intent, confidence = KNOWN.get(text, (None, 0.3))
    return Understanding(text, intent, {}, confidence, 1.0)


def test_a_template_match_beats_a_likelier_reading_that_means_nothing():
    pick = understand_likeliest([Reading("turn off the kitten night", 0.8),
                                 Reading("turn off the kitchen light", 0.6)], understand)
    assert (pick.reading.text, pick.rank) == ("turn off the kitchen light", 1)


def test_a_far_less_likely_reading_does_not_win_on_meaning_alone():
    # e^-1 is the most the model's confidence can make up for
    pick = understand_likeliest([Reading("turn off the kitten night", 0.9),
                                 Reading("turn off the kitchen light", 0.2)], understand)
    assert pick.rank == 0 and pick.understanding.intent is None


def test_between_two_meanings_the_surer_one_wins_and_ties_go_to_the_likelier():
    pick = understand_likeliest([Reading("turn off the kitten", 0.7), Reading("turn off the kitchen light", 0.6)],
                                understand)
    assert pick.reading.text == "turn off the kitchen light"
    pick = understand_likeliest([Reading("turn off the kitchen light", 0.6), Reading("turn off the kitchen light", 0.6)],
                                understand)
    assert pick.rank == 0


def test_readings_are_cleaned_once_and_nothing_said_stays_nothing():
    heard = [("Turn off the light.", 0.9), ("turn off the light", 0.5), ("Turn of the light", 0.4)]
    readings = cleaned_readings(heard, lambda text: text.lower().rstrip("."))
    assert [r.text for r in readings] == ["turn off the light", "turn of the light"]
    assert cleaned_readings([("Hey Jarvis.", 0.9), ("turn on the light", 0.1)], lambda text: "" if "jarvis" in
                            text.lower() else text) == []


def test_the_reading_the_grammar_wrote_is_marked_unless_it_was_also_heard_freely():
    clean = lambda text: text.lower().rstrip(".")  # noqa: E731
    heard = [("Turn off the kitchen ceiling.", 0.7), ("turn of the kitten sealing", 0.6)]
    readings = cleaned_readings(heard, clean, grammar_reading="Turn off the kitchen ceiling.")
    assert [(r.text, r.made_by_grammar) for r in readings] == [("turn off the kitchen ceiling", True),
                                                                ("turn of the kitten sealing", False)]
    # Whisper wrote the same words freely too (only its punctuation differed): heard, not made.
    heard.append(("turn off the kitchen ceiling", 0.3))
    readings = cleaned_readings(heard, clean, grammar_reading="Turn off the kitchen ceiling.")
    assert [(r.text, r.made_by_grammar) for r in readings] == [("turn off the kitchen ceiling", False),
                                                                ("turn of the kitten sealing", False)]


def test_a_reading_that_is_exactly_a_command_gets_the_benefit_of_the_doubt():
    # "turn off the kitten" means something to the model too, and Whisper found it likelier; but
    # only the other is word for word one of the device's commands.
    readings = [Reading("turn off the kitten", 0.8), Reading("turn off the kitchen light", 0.25)]
    assert understand_likeliest(readings, understand).rank == 0
    pick = understand_likeliest(readings, understand, is_command=lambda text: text == "turn off the kitchen light",
                                command_bonus=1.0)
    assert pick.reading.text == "turn off the kitchen light"
    # words that mean nothing to the model get no bonus, whatever the grammar says
    pick = understand_likeliest([Reading("turn off the kitten night", 0.8), Reading("flurb", 0.7)], understand,
                                is_command=lambda text: True, command_bonus=5.0)
    assert pick.rank == 0


def test_a_close_reading_that_means_something_else_is_a_rival_and_agreeing_readings_are_not():
    def on_or_off(text: str) -> Understanding:
        intent = {"turn off the light": "HassTurnOff", "turn on the light": "HassTurnOn"}.get(text)
        return Understanding(text, intent, {"name": "light"} if intent else {}, 1.0 if intent else 0.0, 1.0)

    pick = understand_likeliest([Reading("turn off the light", 0.5), Reading("turn on the light", 0.4)], on_or_off)
    assert pick.understanding.intent == "HassTurnOff"
    assert abs(pick.rival_margin - math.log(0.5 / 0.4)) < 1e-9  # "on" was nearly as likely
    # the same meaning twice, or a reading that means nothing, is no rival
    pick = understand_likeliest([Reading("turn off the light", 0.5), Reading("turn off the light", 0.4),
                                 Reading("turn of the lie", 0.45)], on_or_off)
    assert pick.rival_margin == math.inf


def test_a_reading_that_differs_only_in_a_small_word_of_a_free_text_value_is_no_rival():
    def shopping(text: str) -> Understanding:
        item = text.removeprefix("add ").removesuffix(" to my list")
        return Understanding(text, "HassShoppingListAddItem", {"item": item}, 0.95, 1.0)

    # "the apples" and "apples" are the same item on the list
    pick = understand_likeliest([Reading("add apples to my list", 0.5), Reading("add the apples to my list", 0.45)],
                                shopping)
    assert pick.rival_margin == math.inf
    # "maples" is another item
    pick = understand_likeliest([Reading("add apples to my list", 0.5), Reading("add maples to my list", 0.45)],
                                shopping)
    assert pick.rival_margin < 0.2


def test_a_command_that_leaves_out_a_name_a_likelier_reading_said_does_not_win_on_its_bonus():
    # The grammar cannot hold a timer's name, so its command is the likelier reading less "pizza".
    def timers(text: str) -> Understanding:
        slots = {"minutes": 5, **({"name": "pizza"} if "pizza" in text else {})}
        return Understanding(text, "HassDecreaseTimer", slots, 1.0, 1.0)

    grammar = {"take 5 minutes from the timer"}
    readings = [Reading("take 5 minutes from pizza timer", 0.68), Reading("take 5 minutes from the timer", 0.64)]
    pick = understand_likeliest(readings, timers, is_command=grammar.__contains__, command_bonus=0.75)
    assert (pick.reading.text, pick.understanding.slots) == (readings[0].text, {"minutes": 5, "name": "pizza"})
    # the request with the name left out is the same request, not a rival
    assert pick.rival_margin == math.inf
    # a less likely reading with the name does not displace the command
    readings = [Reading("take 5 minutes from the timer", 0.68), Reading("take 5 minutes from pizza timer", 0.64)]
    pick = understand_likeliest(readings, timers, is_command=grammar.__contains__, command_bonus=0.75)
    assert pick.reading.text == "take 5 minutes from the timer"


def test_a_likelier_reading_with_another_intent_is_not_taken_for_a_fuller_one():
    def timers(text: str) -> Understanding:
        intent = "HassIncreaseTimer" if text.startswith("add") else "HassDecreaseTimer"
        slots = {"minutes": 5, **({"name": "pizza"} if "pizza" in text else {})}
        return Understanding(text, intent, slots, 1.0, 1.0)

    readings = [Reading("add 5 minutes to pizza timer", 0.68), Reading("take 5 minutes from the timer", 0.64)]
    pick = understand_likeliest(readings, timers, is_command={readings[1].text}.__contains__, command_bonus=0.75)
    assert pick.understanding.intent == "HassDecreaseTimer" and pick.rival_margin < 1.0
