"""Understanding: words -> intent and slots, as a user of the speaker would notice it.

One model is trained per test session (about 15 s, most of it encoding the template sentences)
and shared; the reload tests add to it and put it back.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from services.dialogue.nlu import DialogueModel, Home, SentenceError, Understanding

HOME = Home.from_dicts(
    [
        {"entity_id": "light.kitchen_ceiling", "name": "Kitchen Ceiling", "area": "Kitchen"},
        {"entity_id": "light.bedroom_lamp", "name": "Bedroom Lamp", "area": "Bedroom"},
        {"entity_id": "light.desk_lamp", "name": "Desk Lamp", "area": "Office", "aliases": ["work light"]},
        {"entity_id": "media_player.living_room_tv", "name": "TV", "area": "Living Room"},
        {"entity_id": "lock.front_door", "name": "Front Door", "area": "Hallway"},
        {"entity_id": "cover.garage_door", "name": "Garage Door", "area": "Garage"},
        {"entity_id": "fan.ceiling_fan", "name": "Ceiling Fan", "area": "Bedroom"},
        {"entity_id": "climate.thermostat", "name": "Thermostat", "area": "Living Room"},
        {"entity_id": "switch.coffee_maker", "name": "Coffee Maker", "area": "Kitchen"},
    ],
    areas=["Kitchen", "Bedroom", "Office", "Living Room", "Hallway", "Garage"],
    floors=["Upstairs", "Downstairs"],
)

# Written for these tests; none of them is a template sentence (test_paraphrases_match_no_template).
PARAPHRASES = [
    ('kill the lights in the kitchen', 'HassTurnOff', {'area': 'Kitchen', 'domain': 'light'}),
    ('could you make the bedroom a bit brighter', 'HassLightSet', {'area': 'Bedroom', 'brightness_step': 'up'}),
    ('shut off the coffee maker', 'HassTurnOff', {'name': 'Coffee Maker'}),
    ('get the kitchen lights going', 'HassTurnOn', {'area': 'Kitchen', 'domain': 'light'}),
    ("some light in the office would be nice", "HassTurnOn", {"area": "Office", "domain": "light"}),
    ("could you brighten up the office", "HassTurnOn", {"area": "Office", "domain": "light"}),
    # HA's convention for "the fan in the bedroom": every fan there (name=all).
    ('the bedroom fan can go off now', 'HassTurnOff', {'area': 'Bedroom', 'domain': 'fan', 'name': 'all'}),
    ('make sure the front door is locked', 'HassTurnOn', {'name': 'Front Door'}),
    ('is the front door bolted', 'HassGetState', {'name': 'Front Door'}),
    ('pop the garage door open', 'HassTurnOn', {'name': 'Garage Door'}),
    ('dim the desk lamp to twenty percent', 'HassLightSet', {'name': 'Desk Lamp', 'brightness': 20}),
    ('crank the thermostat up to 22 degrees', 'HassClimateSetTemperature', {'name': 'Thermostat', 'temperature': 22}),
    ('I need a timer for twelve minutes', 'HassStartTimer', {'minutes': 12}),
    ('start counting down from five minutes', 'HassStartTimer', {'minutes': 5}),
    ('how much longer on the timer', 'HassTimerStatus', {}),
    ('got the time', 'HassGetCurrentTime', {}),
    ('okay stop it right now', 'SamanthaStop', {}),
    ('say it one more time please', 'SamanthaRepeat', {}),
    ('what sort of things can you help me with', 'SamanthaWhatCanYouDo', {}),
    ('make yourself a little louder', 'SamanthaVolumeUp', {}),
    ("you're way too loud", 'SamanthaVolumeDown', {}),
    ('thanks a million', 'SamanthaThanks', {}),
    ('hey there good to see you', 'SamanthaGreeting', {}),
    ("how's your day going", 'SamanthaHowAreYou', {}),
    ('yes please do', 'SamanthaYes', {}),
    ("no don't do that", 'SamanthaNo', {}),
    ('set my alarm clock for 6 am', 'SamanthaSetAlarm', {'time': '6 am', 'recurrence': 'once'}),
    ('what alarms have I set', 'SamanthaListAlarms', {}),
    ('shut the bedrom lamp off', 'HassTurnOff', {'name': 'Bedroom Lamp'}),
    ('please lock up the front door', 'HassTurnOn', {'name': 'Front Door'}),
    ('do you happen to know what time it is', 'HassGetCurrentTime', {}),
    ('remember for me that the spare key is in the blue pot', 'SamanthaRemember', {'fact': 'the spare key is in the blue pot'}),
    ('you can just call me Sam', 'SamanthaSetName', {'name': 'Sam'}),
]

# A verb no template uses and no sentence near it: understood, or not understood (then she asks
# again), but never taken for another request. ("scrap the timer" was understood at confidence
# 0.50, the very edge, until the model learned from misheard timer commands; then 0.19.)
UNSEEN_VERB_PARAPHRASES = [
    ('scrap the timer', 'HassCancelTimer', {}),
]

# Template sentences with the home's aliases and state words.
TEMPLATE_SENTENCES = [
    ('how hot is it in the living room', 'HassClimateGetTemperature', {'area': 'Living Room'}),
    ('turn the work light off', 'HassTurnOff', {'name': 'Desk Lamp'}),
    ('is the garage door shut', 'HassGetState', {'name': 'Garage Door', 'state': 'closed', 'domain': 'cover'}),
    ("set a pasta timer for nine minutes", "HassStartTimer", {"name": "pasta", "minutes": 9}),
    ("stop", "SamanthaStop", {}),
    ("shut up", "SamanthaStop", {}),
    ("remember that Amy's birthday is May 3rd", "SamanthaRemember", {"fact": "Amy's birthday is May 3rd"}),
    ("when is Amy's birthday", "SamanthaRecall", {"query": "Amy's birthday"}),
    ("wake me up at 7:30 am every day", "SamanthaSetAlarm", {"time": "7:30 am", "recurrence": "daily"}),
    ("my name is Maria", "SamanthaSetName", {"name": "Maria"}),
    ("what time is it", "HassGetCurrentTime", {}),
]

NOT_UNDERSTOOD = [
    "",
    "   ",
    "?!",
    "asdf qwer zxcv",
    "blorp fnar glib wub",
    "purple monkey dishwasher",
    "the cat sat on the mat",
    "my back hurts a bit today",
    "elephants never forget their keys",
]


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("samantha-state")


@pytest.fixture(scope="session")
def model(state_dir: Path) -> DialogueModel:
    return DialogueModel.load(state_dir, None, HOME)


@pytest.mark.parametrize(("text", "intent", "slots"), PARAPHRASES, ids=[p[0] for p in PARAPHRASES])
def test_paraphrases_are_understood(model: DialogueModel, text: str, intent: str, slots: dict) -> None:
    result = model.understand(text)
    assert (result.intent, result.slots) == (intent, slots), result
    assert result.confidence >= 0.5


@pytest.mark.parametrize(("text", "intent", "slots"), UNSEEN_VERB_PARAPHRASES,
                         ids=[p[0] for p in UNSEEN_VERB_PARAPHRASES])
def test_paraphrases_with_unseen_verbs_are_never_wrong_actions(model: DialogueModel, text: str, intent: str,
                                                               slots: dict) -> None:
    result = model.understand(text)
    assert result.intent is None or (result.intent, result.slots) == (intent, slots), result


def test_paraphrases_match_no_template(model: DialogueModel) -> None:
    assert len(PARAPHRASES) >= 20
    engine = model._engine
    everything = [1.0] * len(engine.heads.labels)  # let hassil try every intent
    import numpy as np

    matched = [t for t, _, _ in PARAPHRASES if model._match_templates(engine, t, {}, np.array(everything))]
    assert matched == []


@pytest.mark.parametrize(("text", "intent", "slots"), TEMPLATE_SENTENCES, ids=[p[0] for p in TEMPLATE_SENTENCES])
def test_template_sentences(model: DialogueModel, text: str, intent: str, slots: dict) -> None:
    result = model.understand(text)
    assert (result.intent, result.slots) == (intent, slots), result


@pytest.mark.parametrize("text", NOT_UNDERSTOOD)
def test_gibberish_and_empty_are_not_understood(model: DialogueModel, text: str) -> None:
    result = model.understand(text)
    assert result.intent is None, result
    assert result.slots == {}
    assert result.confidence < 0.5


def test_result_shape(model: DialogueModel) -> None:
    result = model.understand("turn off the kitchen lights")
    assert isinstance(result, Understanding)
    assert result.intent == "HassTurnOff"
    assert result.slots == {"area": "Kitchen", "domain": "light"}
    assert result.confidence == 1.0
    assert 0 < result.elapsed_ms < 1000


def test_a_template_said_word_for_word_is_marked_exact_and_free_text_or_a_guess_is_not(model: DialogueModel) -> None:
    # "please" and "for me" are words Home Assistant's templates skip: still word for word.
    for text in ["turn off the kitchen lights", "please turn off the kitchen lights for me"]:
        assert model.understand(text).exact_template, text
    assert model.understand("add apples to my shopping list").intent == "HassShoppingListAddItem"
    assert not model.understand("add apples to my shopping list").exact_template  # the item is free text
    guess = model.understand("kindly make the kitchen lamps dark")
    assert not guess.exact_template and guess.confidence < 1.0


def test_with_its_command_grammar_the_model_understands_the_same_and_forgets_it_for_a_new_home(
        model: DialogueModel) -> None:
    """The grammar only tells the model where Home Assistant's templates cannot match (a misheard
    reading, no command word for word, can only match one with free text): never another answer."""
    misheard = ["turn of the kitten light", "add a pulse to my shopping list", "set a timer for five minutes called",
                "what is the temperature in the bath room", "play the beetles in the kitchen", "who is in the hose"]
    sentences = [t for t, _, _ in PARAPHRASES + TEMPLATE_SENTENCES] + NOT_UNDERSTOOD + misheard
    before = [model.understand(t) for t in sentences]
    model.grammar_text()
    assert model.command_grammar is not None
    after = [model.understand(t) for t in sentences]
    assert [(u.intent, u.slots, u.confidence) for u in after] == [(u.intent, u.slots, u.confidence) for u in before]
    # Where the head's likeliest intents are all wrong, the templates that can match are still tried.
    import numpy as np

    engine = model._engine
    wrong_guess = np.zeros(len(engine.heads.labels))
    wrong_guess[engine.heads.labels.index("SamanthaStop")] = 1.0
    for text, intent in [("turn off the kitchen lights", "HassTurnOff"),
                         ("add apples to my shopping list", "HassShoppingListAddItem")]:
        assert model._match_templates(engine, text, {}, wrong_guess)[0] == intent
    model.set_home(HOME)  # its names may have changed: the grammar is built again for them
    assert model.command_grammar is None


def test_only_templates_with_free_text_are_kept_for_text_that_is_no_command() -> None:
    from hassil import Intents

    from services.dialogue.nlu.sentences import free_text_templates, load_sentences

    kept = free_text_templates(Intents.from_dict(load_sentences(None, "en").ha))
    assert {"HassShoppingListAddItem", "HassStartTimer", "HassMediaSearchAndPlay"} <= set(kept.intents)
    assert "HassTurnOn" not in kept.intents  # names, areas and floors are lists of words, not free text
    templates = [text for block in kept.intents["HassGetState"].data for text in block.sentence_texts]
    assert templates and all("{zone" in text for text in templates)  # "is <name> in {zone}", not the rest


def test_speaker_area_as_context(model: DialogueModel) -> None:
    result = model.understand("turn on the lights", {"area": "Bedroom"})
    assert (result.intent, result.slots) == ("HassTurnOn", {"area": "Bedroom", "domain": "light"})


def test_home_resolves_near_misses() -> None:
    assert HOME.resolve("area", "kitchn") == "Kitchen"
    assert HOME.resolve("name", "work light") == "Desk Lamp"
    assert HOME.resolve("name", "garage") is None


def test_set_home_takes_new_names_without_retraining(model: DialogueModel) -> None:
    extra = Home.from_dicts(
        [{"entity_id": "light.aquarium", "name": "Aquarium Light", "area": "Living Room"}], areas=["Living Room"]
    )
    try:
        model.set_home(extra)
        assert model.understand("switch off the aquarium light").slots == {"name": "Aquarium Light"}
    finally:
        model.set_home(HOME)


def test_a_name_with_a_chemical_formula_is_heard_as_that_name(model: DialogueModel) -> None:
    """Whisper writes "CO2"; read as "co 2" it named another sensor ("CO"), not the one asked about."""
    from services.spoken import normalize_transcript

    extra = Home.from_dicts(
        [{"entity_id": "sensor.office_co2", "name": "Office CO2 Sensor", "area": "Office"},
         {"entity_id": "sensor.office_co", "name": "Office CO Sensor", "area": "Office"}], areas=["Office"])
    try:
        model.set_home(extra)
        understood = model.understand(normalize_transcript("What's the office CO2 sensor?"))
        assert (understood.intent, understood.slots) == ("HassGetState", {"name": "Office CO2 Sensor"})
    finally:
        model.set_home(HOME)


def test_phrases_are_bounded_and_use_the_home(model: DialogueModel) -> None:
    phrases = model.phrases()
    assert 1000 < len(phrases) <= 5000
    assert any("kitchen ceiling" in p.lower() for p in phrases)


def test_custom_intent_after_reload_and_bad_file_keeps_old_model(model: DialogueModel, tmp_path: Path) -> None:
    custom = tmp_path / "sentences"
    custom.mkdir()
    (custom / "plants.yaml").write_text(
        textwrap.dedent(
            """\
            language: en
            intents:
              WaterPlants:
                data:
                  - sentences:
                      - "water the (plants|garden) [in the] {area}"
                      - "(give|bring) the {area} plants some water"
            """
        ),
        encoding="utf-8",
    )
    assert model.understand("water the plants in the kitchen").intent != "WaterPlants"
    try:
        model.reload(custom_sentences_dir=custom)
        result = model.understand("water the plants in the kitchen")
        assert (result.intent, result.slots) == ("WaterPlants", {"area": "Kitchen"})

        # A broken file: one clear error with file and line, and the model keeps serving.
        broken = custom / "broken.yaml"
        broken.write_text("language: en\nintents:\n  Oops:\n    data:\n      - sentences: [\"a\", \"b\"\n", encoding="utf-8")
        with pytest.raises(SentenceError) as caught:
            model.reload()
        assert caught.value.file == str(broken)
        assert caught.value.line == 6
        assert str(broken) in str(caught.value)
        assert model.understand("water the plants in the kitchen").intent == "WaterPlants"

        # A template that is valid YAML but not a valid template names its own line.
        broken.write_text("language: en\nintents:\n  Oops:\n    data:\n      - sentences:\n          - \"water (the plants\"\n", encoding="utf-8")
        with pytest.raises(SentenceError) as caught:
            model.reload()
        assert (caught.value.file, caught.value.line) == (str(broken), 6)
        assert model.understand("water the plants in the kitchen").intent == "WaterPlants"
    finally:
        model.reload(custom_sentences_dir=tmp_path / "none")
    assert model.understand("water the plants in the kitchen").intent != "WaterPlants"
    assert model.understand("kill the lights in the kitchen").intent == "HassTurnOff"


def test_sentence_naming_a_missing_list_is_refused_with_its_line(tmp_path: Path) -> None:
    from services.dialogue.nlu.sentences import load_sentences

    (tmp_path / "chores.yaml").write_text(
        'language: en\nintents:\n  Chores:\n    data:\n      - sentences:\n          - "do the {chore} now"\n',
        encoding="utf-8",
    )
    with pytest.raises(SentenceError) as caught:
        load_sentences(tmp_path)
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "chores.yaml"), 6)
    assert "{chore}" in caught.value.message


# --- gaps the conversation found (issue 5); phrasings written for these tests -----------------

CONVERSATION_CASES = [
    # Asking which timers there are is a status question, not "cancel them all".
    ("what timers do I have", "HassTimerStatus", {}),
    ("which timers are running", "HassTimerStatus", {}),
    ("do I have any timers", "HassTimerStatus", {}),
    ("how many timers have I got", "HassTimerStatus", {}),
    # Unpausing is not cancelling.
    ("unpause the timer", "HassUnpauseTimer", {}),
    ("resume my timer", "HassUnpauseTimer", {}),
    ("carry on with the timer", "HassUnpauseTimer", {}),
    ("continue the pasta timer", "HassUnpauseTimer", {"name": "pasta"}),
    # A timer without a duration yet: the conversation asks "for how long?".
    ("set a timer", "HassStartTimer", {}),
    ("start a timer", "HassStartTimer", {}),
    ("can you set a timer", "HassStartTimer", {}),
    ("could you start a new timer for me", "HassStartTimer", {}),
    ("I need a timer", "HassStartTimer", {}),
    # "it": no name, so the conversation fills in what was just talked about.
    ("turn it off", "HassTurnOff", {}),
    ("switch that off please", "HassTurnOff", {}),
    ("shut them off", "HassTurnOff", {}),
    ("turn it back on", "HassTurnOn", {}),
    # The device's name is small talk; the user's name is memory.
    ("what's your name", "SamanthaWhoAreYou", {}),
    ("who are you", "SamanthaWhoAreYou", {}),
    ("what should I call you", "SamanthaWhoAreYou", {}),
    ("do you have a name", "SamanthaWhoAreYou", {}),
    ("what's my name", "SamanthaGetName", {}),
    ("what is my name", "SamanthaGetName", {}),
    # Forgetting one thing, with or without "about"; forgetting everything.
    ("forget Amy's birthday", "SamanthaForget", {"query": "Amy's birthday"}),
    ("forget the door code", "SamanthaForget", {"query": "the door code"}),
    ("forget my locker number", "SamanthaForget", {"query": "my locker number"}),
    ("forget everything", "SamanthaForget", {"query": "everything"}),
    ("forget everything you know about me", "SamanthaForget", {"query": "everything"}),
    ("wipe your memory", "SamanthaForget", {"query": "everything"}),
    ("forget it", "HassNevermind", {}),
    ("forget about it", "HassNevermind", {}),
    # What people tell about themselves is kept whole.
    ("I like my coffee black", "SamanthaRemember", {"fact": "I like my coffee black"}),
    ("I take my tea with two sugars", "SamanthaRemember", {"fact": "I take my tea with two sugars"}),
    ("my favourite colour is blue", "SamanthaRemember", {"fact": "my favourite colour is blue"}),
    ("my favorite band is Queen", "SamanthaRemember", {"fact": "my favorite band is Queen"}),
    ("I'm allergic to peanuts", "SamanthaRemember", {"fact": "I'm allergic to peanuts"}),
    ("I am allergic to shellfish", "SamanthaRemember", {"fact": "I am allergic to shellfish"}),
    ("my brother's name is Oliver", "SamanthaRemember", {"fact": "my brother's name is Oliver"}),
    ("I can't eat gluten", "SamanthaRemember", {"fact": "I can't eat gluten"}),
    # ... and asked about with the whole question (the memory matches questions).
    ("how do I like my coffee", "SamanthaRecall", {"query": "how do I like my coffee"}),
    ("how do I take my tea", "SamanthaRecall", {"query": "how do I take my tea"}),
    ("what am I allergic to", "SamanthaRecall", {"query": "what am I allergic to"}),
    ("where did I leave my glasses", "SamanthaRecall", {"query": "where did I leave my glasses"}),
    ("what is my favourite colour", "SamanthaRecall", {"query": "my favourite colour"}),
    ("when is Amy's birthday", "SamanthaRecall", {"query": "Amy's birthday"}),
    ("what's the wifi password", "SamanthaRecall", {"query": "the wifi password"}),
    # Signs are kept, so the skill can refuse a negative clearly.
    ("set a timer for minus five minutes", "HassStartTimer", {"minutes": -5}),
    ("set a timer for negative 3 minutes", "HassStartTimer", {"minutes": -3}),
    ("start a timer for -10 seconds", "HassStartTimer", {"seconds": -10}),
    ("volume minus 10", "HassSetVolume", {"volume_level": -10}),
    ("set the volume to minus twenty", "HassSetVolume", {"volume_level": -20}),
    # Number words up to the thousands.
    ("set a timer for a thousand hours", "HassStartTimer", {"hours": 1000}),
    ("start a timer for two thousand hours", "HassStartTimer", {"hours": 2000}),
    ("set a timer for one hundred and twenty minutes", "HassStartTimer", {"minutes": 120}),
    ("set a timer for 1,000 hours", "HassStartTimer", {"hours": 1000}),
    ("set the volume to a thousand", "HassSetVolume", {"volume_level": 1000}),
]


@pytest.mark.parametrize(("text", "intent", "slots"), CONVERSATION_CASES, ids=[c[0] for c in CONVERSATION_CASES])
def test_what_the_conversation_needs(model: DialogueModel, text: str, intent: str, slots: dict) -> None:
    result = model.understand(text)
    assert (result.intent, result.slots) == (intent, slots), result
    assert result.confidence >= 0.5


PUNCTUATED = [
    ("Set a timer.", "HassStartTimer", {}),
    ("Set a timer for 5 minutes.", "HassStartTimer", {"minutes": 5}),
    ("What time is it?", "HassGetCurrentTime", {}),
    ("Turn off the kitchen lights!", "HassTurnOff", {"area": "Kitchen", "domain": "light"}),
    ("Remember that Amy's birthday is May 3rd.", "SamanthaRemember", {"fact": "Amy's birthday is May 3rd"}),
    ("Hmm... what timers do I have?", None, None),  # a hesitation is still not a command
    ("wake me up at 7:30 am, every day.", "SamanthaSetAlarm", {"time": "7:30 am", "recurrence": "daily"}),
]


@pytest.mark.parametrize(("text", "intent", "slots"), PUNCTUATED, ids=[c[0] for c in PUNCTUATED])
def test_punctuation_does_not_matter(model: DialogueModel, text: str, intent: str | None, slots: dict | None) -> None:
    bare = " ".join(text.replace(",", " ").replace(".", " ").replace("?", " ").replace("!", " ").split())
    result = model.understand(text)
    plain = model.understand(bare)
    assert (result.intent, result.slots) == (plain.intent, plain.slots), (result, plain)
    if intent is not None:
        assert (result.intent, result.slots) == (intent, slots), result


# Questions about the world fit "what is {query}" by their words, but are not memory questions.
OUT_OF_SCOPE_QUESTIONS = [
    "what's the weather tomorrow",
    "what's the weather for tomorrow",
    "what's the capital of france",
    "what is the meaning of life",
    "when is the next bus",
    "what's two plus two",
    "who won the game last night",
]


@pytest.mark.parametrize("text", OUT_OF_SCOPE_QUESTIONS)
def test_free_text_templates_do_not_take_questions_about_the_world(model: DialogueModel, text: str) -> None:
    result = model.understand(text)
    assert result.intent is None, result


@pytest.mark.parametrize("text", ["I like it", "forget that", "I love you"])
def test_a_pronoun_is_not_a_fact(model: DialogueModel, text: str) -> None:
    result = model.understand(text)
    assert result.intent not in ("SamanthaRemember", "SamanthaForget", "SamanthaRecall"), result


DECIMAL_DURATIONS = [
    ("set a timer for 1.5 hours", {"hours": 1, "minutes": 30}),  # Whisper's "one and a half hours"
    ("set a timer for 0.5 hours", {"minutes": 30}),
    ("set a timer for 2.25 minutes", {"minutes": 2, "seconds": 15}),
    ("set a timer for 2 1/2 minutes", {"minutes": 2, "seconds": 30}),
    ("set a timer for 3/4 hours", {"minutes": 45}),
    ("set a timer for 1 and a 1/2 hours", {"hours": 1, "minutes": 30}),  # the sentences' own form
    # Fractions in words: matched as "an hour" with the fraction skipped, they set one-hour timers.
    ("set a timer for a quarter of an hour", {"minutes": 15}),
    ("set a timer for three quarters of an hour", {"minutes": 45}),
    ("set a timer for 3 quarters of an hour", {"minutes": 45}),  # as the listener's transcript has it
    ("set a timer for an hour and a quarter", {"hours": 1, "minutes": 15}),
    ("set a half hour timer", {"minutes": 30}),
    ("set a timer for half an hour", {"minutes": 30}),
    ("set a timer for two minutes and a half", {"minutes": 2, "seconds": 30}),
    ("set a timer for 5 mins", {"minutes": 5}),  # not a timer named "mins"
    ("set a timer for 2 hrs", {"hours": 2}),
    ("set a timer for a couple of minutes", {"minutes": 2}),
]


@pytest.mark.parametrize(("text", "slots"), DECIMAL_DURATIONS, ids=[c[0] for c in DECIMAL_DURATIONS])
def test_a_decimal_duration_is_the_time_said(model: DialogueModel, text: str, slots: dict) -> None:
    result = model.understand(text)
    assert (result.intent, result.slots) == ("HassStartTimer", slots)
    # A decimal that is no duration stays as said.
    assert model.understand("set the temperature to 20.5 degrees").slots.get("temperature") == 20.5


@pytest.mark.parametrize(("text", "intent", "slots"), [
    ("set the egg timer for 5 minutes", "HassStartTimer", {"name": "egg", "minutes": 5}),
    ("pause your timer", "HassPauseTimer", {}),  # not a timer named "your"
    ("how long is left on my tea timer", "HassTimerStatus", {"name": "tea"}),
    # Whisper's "name" for "named": the timer is "pizza"
    ("start a 5 minute timer name pizza", "HassStartTimer", {"name": "pizza", "minutes": 5}),
    ("add 5 minutes to timer name pizza", "HassIncreaseTimer", {"name": "pizza", "minutes": 5}),
])
def test_a_timer_is_named_without_its_article(model: DialogueModel, text: str, intent: str, slots: dict) -> None:
    result = model.understand(text)
    assert (result.intent, result.slots) == (intent, slots)


@pytest.mark.parametrize(("text", "state"), [
    ("who is at home", "home"),
    ("who is it home", "home"),  # Whisper's "it" for "at": who is home, not at a zone "it home"
    ("who is in the office", "office"),
    ("who is away", "away"),
])
def test_the_place_asked_about_is_where_people_are(model: DialogueModel, text: str, state: str) -> None:
    result = model.understand(text)
    assert (result.intent, result.slots) == ("HassGetState", {"domain": "person", "state": state})


@pytest.mark.parametrize("text", ["turn off all the lights except the kitchen",
                                  "turn on every light apart from the bedroom lamp"])
def test_a_request_that_leaves_something_out_is_not_done_the_wrong_way_round(model: DialogueModel,
                                                                           text: str) -> None:
    # Taken as a template match it switched the one thing left out; the device cannot do "except".
    assert model.understand(text).intent is None
    # A fact may leave something out
    assert model.understand("remember that I eat anything except fish").slots == {"fact": "I eat anything except fish"}


@pytest.mark.parametrize(("text", "intent"), [
    ("do not turn off the tv", None),  # it was turned off
    ("turn on the lights at 7 pm", None),  # at once, not at 7 pm
    ("turn off the lights tomorrow", None),
    ("turn up the heating by 2 degrees", None),  # set to 2 degrees
])
def test_a_request_of_the_home_is_not_done_otherwise_than_asked(model: DialogueModel, text: str,
                                                                intent: str | None) -> None:
    result = model.understand(text)
    assert (result.intent, result.slots) == (intent, {})
    # what she can do stays done
    assert model.understand("turn the lights off in 2 hours").intent == "HassStartTimer"
    assert model.understand("set the thermostat to 20 degrees").slots.get("temperature") == 20


def test_a_setting_without_its_value_is_not_a_confident_setting(model: DialogueModel) -> None:
    # "to the max" is a brightness; "to the zebra" is none: the request is half understood at best.
    assert model.understand("set the bedroom brightness to the max").slots.get("brightness") == 100
    result = model.understand("set the bedroom brightness to the zebra")
    assert "brightness" not in result.slots and result.confidence < 0.8
