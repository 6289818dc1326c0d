"""A user's own intent, heard from speech: watering the garden, defined in Home Assistant's custom-sentence format.

The user writes one YAML file (zones, durations and days as lists, multi-word values, several
orders of phrases) into the custom sentences folder. The real dialogue model loads it, and
synthesized speech (Piper and espeak-ng voices) goes through the listener's real pipeline (Silero
VAD endpointing, Whisper tiny.en biased with the model's phrases and checked against its command
grammar), and the dialogue chooses among Whisper's readings and acts or asks as the service does.
What a user would notice: the garden gets watered where, how long and when they said, and a
mis-hearing never waters the wrong zone.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

GARDEN_SENTENCES = textwrap.dedent("""\
    language: en
    intents:
      WaterGarden:
        data:
          - sentences:
              - "water the {zone} for {duration} [{day}]"
              - "[please] (start|run|turn on) the (sprinklers|watering) (in|on|for) the {zone} for {duration} [{day}]"
              - "{day} water the {zone} for {duration}"
              - "give the {zone} {duration} of water [{day}]"
              - "for {duration} water the {zone} [{day}]"
    lists:
      zone:
        values:
          - "front lawn"
          - "vegetable patch"
          - "rose beds"
          - "back garden"
          - "herb garden"
      duration:
        values:
          - in: "(five|5) minutes"
            out: 5
          - in: "(ten|10) minutes"
            out: 10
          - in: "(twenty|20) minutes"
            out: 20
          - in: "half an hour"
            out: 30
          - in: "(an|one|1) hour"
            out: 60
      day:
        values:
          - in: "[on] monday"
            out: monday
          - in: "[on] wednesday"
            out: wednesday
          - in: "[on] saturday"
            out: saturday
          - in: "tomorrow [morning]"
            out: tomorrow
          - in: "every day"
            out: daily
""")

# Spoken variants: every zone, duration and day at least once, every phrase order, both engines.
SPOKEN = [
    ("water the front lawn for ten minutes", {"zone": "front lawn", "duration": 10}),
    ("water the vegetable patch for twenty minutes on saturday",
     {"zone": "vegetable patch", "duration": 20, "day": "saturday"}),
    ("please start the sprinklers in the rose beds for five minutes", {"zone": "rose beds", "duration": 5}),
    ("turn on the watering for the back garden for half an hour tomorrow",
     {"zone": "back garden", "duration": 30, "day": "tomorrow"}),
    ("on monday water the herb garden for an hour", {"zone": "herb garden", "duration": 60, "day": "monday"}),
    ("give the front lawn twenty minutes of water every day",
     {"zone": "front lawn", "duration": 20, "day": "daily"}),
    ("for ten minutes water the rose beds", {"zone": "rose beds", "duration": 10}),
    ("run the sprinklers on the vegetable patch for an hour", {"zone": "vegetable patch", "duration": 60}),
    ("tomorrow morning water the back garden for five minutes",
     {"zone": "back garden", "duration": 5, "day": "tomorrow"}),
    ("give the herb garden half an hour of water on wednesday",
     {"zone": "herb garden", "duration": 30, "day": "wednesday"}),
]
VOICES = [("piper", 1.0), ("en-us+m3", 1.0)]
# Issue 8's bar: the same accuracy as for Home Assistant's intents (>= 97 %), no wrong actions.
GOAL_RIGHT = 0.97
GOAL_MAX_WRONG = 0.01
# What the chain holds for the natural (Piper) voice at the least (9 or 10 of 10 here; Piper's output
# varies from run to run, and one run in about five heard 8), so that a regression shows at once.
PIPER_MIN_RIGHT = 0.7


def _importable() -> str | None:
    try:
        import services.dialogue.nlu  # noqa: F401
        from services.listener.pipeline import ListeningPipeline  # noqa: F401
        from services.listener.stt import WhisperSpeechToText  # noqa: F401
    except ImportError as err:
        return f"the dialogue model or the listener is not importable yet: {err}"
    return None


pytestmark = pytest.mark.skipif(_importable() is not None, reason=_importable() or "")


HOME_ENTITIES: list[dict] = []


@pytest.fixture(scope="module")
def garden_model(tmp_path_factory: pytest.TempPathFactory):
    from services.dialogue.nlu import DialogueModel, Home

    custom = tmp_path_factory.mktemp("custom_sentences")
    (custom / "garden.yaml").write_text(GARDEN_SENTENCES, encoding="utf-8")
    state = tmp_path_factory.mktemp("state")
    return DialogueModel.load(state, custom, Home.from_dicts(HOME_ENTITIES))


@pytest.fixture(scope="module")
def grammar(garden_model):
    return garden_model.grammar().compact()


@pytest.fixture(scope="module")
def listener(garden_model, grammar):
    """The listener's pipeline parts, with the model's phrases and grammar (as the service gets them)."""
    from services.listener.stt import WhisperSpeechToText
    from services.listener.vad import VoiceActivityDetector

    stt = WhisperSpeechToText()
    stt.set_phrases(garden_model.phrases())
    stt.set_command_grammar(grammar)
    yield stt, VoiceActivityDetector()
    stt.close()


def _hear(listener, wav: Path):
    """One request through the listener's pipeline, started as the button would, to its transcript."""
    from services.listener.audio_file import frames, read_audio
    from services.listener.pipeline import ListeningPipeline, ListeningStopped
    from services.listener.vad import EndpointerSettings

    stt, vad = listener
    pipeline = ListeningPipeline(None, vad, stt, EndpointerSettings())
    pipeline.listen_now("button")
    stopped = None
    for frame in frames(read_audio(str(wav))):
        stopped = next((e for e in pipeline.process(frame) if isinstance(e, ListeningStopped)), None)
        if stopped is not None:
            break
    stopped = stopped or pipeline.end_of_input()
    assert stopped is not None and stopped.transcript is not None, f"nothing heard in {wav.name}"
    return stopped.transcript.result(timeout=120)


def test_the_custom_intent_is_understood_as_text(garden_model) -> None:
    """The file is loaded: the written sentences are understood exactly (the part speech cannot blame)."""
    for text, slots in SPOKEN:
        result = garden_model.understand(text)
        assert (result.intent, result.slots) == ("WaterGarden", slots), text


def test_a_zone_that_is_not_on_the_list_waters_nothing(garden_model) -> None:
    """The user's "zone" list shares its name with one of Home Assistant's free-text lists; it is
    still a list: other words in its place are no zone, and without a zone nothing is watered."""
    for text in ("water the car park for ten minutes", "water measured a little patch for 20 minutes"):
        result = garden_model.understand(text)
        assert result.intent is None, (text, result)


def test_garden_phrases_reach_the_listener_vocabulary(garden_model, grammar) -> None:
    phrases = garden_model.phrases()
    assert any("vegetable patch" in p for p in phrases)
    assert any("herb garden" in p for p in phrases)
    # every zone in every order of the phrases, in the grammar the listener checks its hearing against
    assert grammar.accepts("give the herb garden half an hour of water on wednesday")
    assert grammar.accepts("tomorrow morning water the back garden for five minutes")
    assert not grammar.accepts("water the car park for ten minutes")


@pytest.fixture(scope="module")
def heard_garden(garden_model, grammar, listener, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Every variant spoken by every voice, heard and acted on (or asked about) once for the tests below."""
    from services.dialogue.nlu import Home
    from services.dialogue.readings import Reading, cleaned_readings, understand_likeliest
    from services.dialogue.service import heard_clearly, spoken_vocabulary
    from services.spoken import normalize_transcript
    from tests.speech import synthesize

    vocabulary = spoken_vocabulary(garden_model.phrases(), Home.from_dicts(HOME_ENTITIES))
    folder = tmp_path_factory.mktemp("garden_speech")
    outcomes = []
    for index, (text, slots) in enumerate(SPOKEN):
        for voice, speed in VOICES:
            wav = synthesize(text, folder / f"{index}-{voice}.wav", voice=voice, speed=speed,
                             lead_silence_s=0.7, trail_silence_s=0.9)
            transcript = _hear(listener, wav)
            # As the dialogue service takes a transcript: the likeliest reading, then act or ask.
            readings = [(transcript.text, transcript.confidence),
                        *[(r.text, r.confidence) for r in transcript.alternatives]]
            normalized = cleaned_readings(readings, lambda heard: normalize_transcript(heard, vocabulary),
                                          transcript.grammar_reading)
            pick = understand_likeliest(normalized or [Reading("", 0.0)], garden_model.understand, grammar.accepts)
            result = pick.understanding
            acted = result.intent is not None and heard_clearly(pick, normalized, vocabulary, grammar)
            right = acted and (result.intent, result.slots) == ("WaterGarden", slots)
            outcomes.append({"voice": voice, "right": right, "wrong": acted and not right,
                             "line": f"{voice}: said {text!r}, heard {pick.reading.text!r} "
                                     f"({pick.reading.confidence:.2f}) -> {result.intent} {result.slots}"
                                     f"{'' if acted else ' (asked first)' if result.intent else ' (not understood)'}"})
    return outcomes


def _summary(outcomes: list[dict]) -> str:
    return "\n".join(o["line"] for o in outcomes if not o["right"])


def test_watering_the_garden_from_a_natural_voice(heard_garden) -> None:
    piper = [o for o in heard_garden if o["voice"] == "piper"]
    right = sum(o["right"] for o in piper)
    assert right / len(piper) >= PIPER_MIN_RIGHT, f"{right}/{len(piper)} right:\n{_summary(piper)}"


def test_a_mishearing_never_waters_the_wrong_zone(heard_garden) -> None:
    wrong = [o for o in heard_garden if o["wrong"]]
    assert not wrong, _summary(wrong)


@pytest.mark.xfail(reason="issue 8 is open: Whisper tiny.en mishears the espeak-ng voice ('the herb garden' as "
                          "'near garden'); the device asks then, but that is not a right answer (17 of 20 here)",
                   strict=False)
def test_watering_the_garden_from_speech_at_the_goal(heard_garden) -> None:
    total = len(heard_garden)
    right = sum(o["right"] for o in heard_garden)
    wrong = sum(o["wrong"] for o in heard_garden)
    assert right / total >= GOAL_RIGHT and wrong / total <= GOAL_MAX_WRONG, (
        f"{right}/{total} right, {wrong}/{total} wrong actions:\n{_summary(heard_garden)}")


def test_silence_waters_nothing(garden_model, listener, tmp_path: Path) -> None:
    """A press of the button and no words: no watering, no transcript to act on."""
    from services.listener.audio_file import frames
    from services.listener.pipeline import ListeningPipeline, ListeningStopped
    from services.listener.vad import EndpointerSettings

    stt, vad = listener
    pipeline = ListeningPipeline(None, vad, stt, EndpointerSettings(no_speech_timeout_s=2.0))
    pipeline.listen_now("button")
    quiet = (np.random.default_rng(1).standard_normal(16000 * 3) * 30).astype(np.int16)
    stops = [e for f in frames(quiet) for e in pipeline.process(f) if isinstance(e, ListeningStopped)]
    assert stops and stops[0].reason == "no_speech" and stops[0].transcript is None
