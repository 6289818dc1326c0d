"""The dialogue service as its own process on a real Mosquitto broker: transcripts in, replies,
device state, timers, the button, home commands, vocabulary and reload, a kill -9 survived."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from services.command_grammar import GRAMMAR_FILE, read_grammar

from services.messages import (
    ButtonPressed,
    DeviceState,
    HomeCommand,
    HomeCommandResult,
    HomeEntities,
    IntentRecognized,
    ListenNow,
    ListeningEnded,
    ListeningStarted,
    PlayChime,
    Say,
    SpeakingFinished,
    SpeakingStarted,
    StopListening,
    StopSpeaking,
    TimerEvent,
    TranscriptReady,
    WakeDetected,
)
from tests.test_dialogue_support import DialogueProcess, dialogue_config

pytestmark = pytest.mark.slow


@pytest.fixture
def dialogue(broker, probe, tmp_path):
    service = DialogueProcess(broker, dialogue_config(tmp_path)).start(probe)
    yield service
    service.stop()


def seen(probe, predicate, since: int = 0, timeout: float = 10.0):
    """A message in the probe's history from index since on (already there or arriving)."""
    deadline = time.monotonic() + timeout
    while True:
        for message in probe.history[since:]:
            if predicate(message):
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout} s; saw {probe.history[since:][-10:]}")
        time.sleep(0.05)


def ask(probe, text: str, follow_up: bool = False, timeout: float = 20.0) -> Say:
    probe.drain()
    probe.publish(TranscriptReady(text=text, follow_up=follow_up))
    return probe.wait_for(Say, timeout=timeout)


def test_transcript_gets_intent_reply_and_state(dialogue, probe):
    probe.drain()
    start = len(probe.history)
    probe.publish(WakeDetected(wake_word="hey_jarvis", score=0.9, at=time.time()))
    probe.publish(ListeningStarted(source="wake"))
    probe.publish(ListeningEnded(reason="speech_end"))
    probe.publish(TranscriptReady(text="what time is it"))
    reply = probe.wait_for(Say)
    assert "AM" in reply.text or "PM" in reply.text or "noon" in reply.text or "midnight" in reply.text
    probe.wait_for(lambda m: isinstance(m, DeviceState) and m.state == "idle")
    seen = probe.history[start:]
    intents = [m for m in seen if isinstance(m, IntentRecognized)]
    assert intents[0].intent == "HassGetCurrentTime" and intents[0].text == "what time is it"
    states = [m.state for m in seen if isinstance(m, DeviceState)]
    assert states == ["wake", "listening", "thinking", "idle"]  # no blink of idle before the reply


def test_question_opens_a_follow_up_and_the_answer_needs_no_wake_word(dialogue, probe):
    question = ask(probe, "set a timer")
    assert question.expect_reply and "how long" in question.text.lower()
    reply = ask(probe, "three minutes", follow_up=True)
    assert "3 minutes" in reply.text and not reply.expect_reply
    started = [m for m in probe.history if isinstance(m, TimerEvent) and m.event == "started"]
    assert started and abs(started[-1].seconds_left - 180) < 2


def test_timer_rings_and_the_button_stops_it(dialogue, probe):
    start = len(probe.history)
    reply = ask(probe, "set a timer for two seconds")
    assert "2 seconds" in reply.text
    set_at = time.monotonic()
    probe.wait_for(lambda m: isinstance(m, PlayChime) and m.name == "timer", timeout=10)
    rang_after = time.monotonic() - set_at
    assert 1.5 <= rang_after <= 4.0, rang_after
    seen(probe, lambda m: isinstance(m, DeviceState) and m.state == "timer_ringing", start)
    # While it rings the device listens for "stop" without the wake word.
    seen(probe, lambda m: isinstance(m, ListenNow) and m.source == "command", start)
    probe.wait_for(lambda m: isinstance(m, PlayChime), timeout=5)  # it repeats
    start = len(probe.history)
    probe.publish(ButtonPressed(press="single"))
    seen(probe, lambda m: isinstance(m, TimerEvent) and m.event == "stopped", start)
    seen(probe, lambda m: isinstance(m, DeviceState) and m.state == "idle", start)
    probe.drain()
    time.sleep(3)
    assert not any(isinstance(m, PlayChime) for m in list(probe.received.queue))


def test_while_ringing_only_stop_is_heard_without_the_wake_word(dialogue, probe):
    ask(probe, "set a timer for one second")
    probe.wait_for(lambda m: isinstance(m, ListenNow) and m.source == "command", timeout=10)
    probe.publish(ListeningStarted(source="command"))  # the listener opened the window
    start = len(probe.history)
    # Its own announcement coming back through the microphone is not a request.
    probe.publish(TranscriptReady(text="your 1 second timer is done"))
    seen(probe, lambda m: isinstance(m, IntentRecognized), start)
    time.sleep(2.5)  # longer than between two chimes
    assert not any(isinstance(m, Say) and m.id.startswith("reply") for m in probe.history[start:])
    assert any(isinstance(m, PlayChime) for m in probe.history[start:])  # still ringing
    probe.publish(ListeningStarted(source="command"))
    probe.publish(TranscriptReady(text="Stop."))
    seen(probe, lambda m: isinstance(m, TimerEvent) and m.event == "stopped", start)


def test_stop_from_the_hub_stops_a_ringing_timer(dialogue, probe):
    ask(probe, "set a timer for one second")
    probe.wait_for(lambda m: isinstance(m, PlayChime), timeout=10)
    start = len(probe.history)
    probe.publish(StopSpeaking())  # the hub's stop button, through the bridge
    seen(probe, lambda m: isinstance(m, TimerEvent) and m.event == "stopped", start)


def test_button_listens_stops_speech_and_stops_listening(dialogue, probe):
    start = len(probe.history)
    probe.publish(ButtonPressed(press="single"))
    assert seen(probe, lambda m: isinstance(m, ListenNow), start).source == "button"
    probe.publish(ListeningStarted(source="button"))
    seen(probe, lambda m: isinstance(m, DeviceState) and m.state == "listening", start)
    start = len(probe.history)
    probe.publish(ButtonPressed(press="single"))
    seen(probe, lambda m: isinstance(m, StopListening), start)
    probe.publish(ListeningEnded(reason="cancelled"))  # what the listener answers
    probe.publish(SpeakingStarted(id="x", text="hello"))
    seen(probe, lambda m: isinstance(m, DeviceState) and m.state == "speaking", start)
    start = len(probe.history)
    probe.publish(ButtonPressed(press="single"))
    seen(probe, lambda m: isinstance(m, StopSpeaking), start)
    probe.publish(SpeakingFinished(id="x", interrupted=True))
    seen(probe, lambda m: isinstance(m, DeviceState) and m.state == "idle", start)


def test_home_command_waits_for_the_bridge(dialogue, probe):
    probe.drain()
    probe.publish(TranscriptReady(text="turn off the kitchen light"))
    command = probe.wait_for(HomeCommand)
    assert command.intent == "HassTurnOff" and command.entity_ids == ["light.kitchen"]
    probe.publish(HomeCommandResult(request_id=command.request_id, ok=True))
    assert "off" in probe.wait_for(Say).text
    # Nobody answers: the device does not claim it happened.
    reply = ask(probe, "turn on the kitchen light")
    assert "can't reach" in reply.text or "didn't answer" in reply.text


def test_entities_from_the_hub_are_understood(dialogue, probe, tmp_path):
    probe.publish(HomeEntities(entities=[
        {"entity_id": "light.hall", "name": "Hallway light", "area": "Hallway", "domain": "light"}]))
    deadline = time.monotonic() + 20
    vocabulary = tmp_path / "state" / "vocabulary.txt"
    while "hallway light" not in vocabulary.read_text().lower() and time.monotonic() < deadline:
        time.sleep(0.2)
    probe.drain()
    probe.publish(TranscriptReady(text="turn off the hallway light"))
    command = probe.wait_for(HomeCommand)
    assert command.entity_ids == ["light.hall"]


def test_a_doubtful_hearing_of_a_known_command_is_acted_on_and_a_garbled_one_asked(dialogue, probe):
    # Exactly one of the device's commands, though Whisper was unsure: mishearings rarely land on
    # another command word for word, so it is carried out.
    probe.drain()
    probe.publish(TranscriptReady(text="Turn off the kitchen light.", confidence=0.45, backend="whisper"))
    command = probe.wait_for(HomeCommand, timeout=20)
    assert command.intent == "HassTurnOff" and command.entity_ids == ["light.kitchen"]
    probe.publish(HomeCommandResult(request_id=command.request_id, ok=True))
    probe.wait_for(Say)
    # The same doubt on words that are no command (the model's guess at them): read back first.
    probe.drain()
    start = len(probe.history)
    probe.publish(TranscriptReady(text="Turn of the kitten light.", confidence=0.45, backend="whisper"))
    question = probe.wait_for(Say, timeout=20)
    assert question.expect_reply, question
    assert not [m for m in probe.history[start:] if isinstance(m, HomeCommand)]


def test_vocabulary_is_written_and_sighup_reloads_custom_sentences(dialogue, probe, tmp_path):
    vocabulary = tmp_path / "state" / "vocabulary.txt"
    phrases = vocabulary.read_text().splitlines()
    assert len(phrases) > 100 and any("timer" in p for p in phrases)
    sentences = tmp_path / "sentences"
    sentences.mkdir(exist_ok=True)
    # The user's own intent, and Home Assistant's colours with one more.
    (sentences / "garden.yaml").write_text(
        "language: en\nintents:\n  WaterTheGarden:\n    data:\n      - sentences:\n"
        "          - \"water the (garden|lawn) please\"\n"
        "lists:\n  color:\n    values: [white, red, orange, yellow, green, blue, purple, pink, coral]\n")
    before = vocabulary.stat().st_mtime_ns
    os.kill(dialogue.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 180
    while vocabulary.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert any("water the garden" in p for p in vocabulary.read_text().splitlines())
    # The listener's grammar, written beside the phrases, has the user's sentence too.
    assert read_grammar(vocabulary.parent / GRAMMAR_FILE).accepts("water the lawn please")
    probe.drain()
    probe.publish(TranscriptReady(text="water the garden please"))
    assert probe.wait_for(IntentRecognized).intent == "WaterTheGarden"
    # A user's own intent is the hub's to carry out; with no hub the device says so.
    command = probe.wait_for(HomeCommand)
    assert command.intent == "WaterTheGarden"
    assert re.search("can.t reach|isn.t answering", probe.wait_for(Say).text)
    # The colour the user added answers "set it to what?" (the colours are taken anew on reload).
    question = ask(probe, "set the color of the kitchen light")
    assert question.expect_reply and "kitchen light" in question.text.lower(), question
    probe.drain()
    probe.publish(TranscriptReady(text="coral", follow_up=True))
    command = probe.wait_for(HomeCommand)
    assert command.intent == "HassLightSet" and command.entity_ids == ["light.kitchen"]
    assert command.data.get("color") == "coral", command.data


def test_timers_and_memory_survive_kill_9(broker, probe, tmp_path):
    config = dialogue_config(tmp_path)
    service = DialogueProcess(broker, config).start(probe)
    try:
        assert "May 3rd" in ask(probe, "remember that Amy's birthday is May 3rd").text
        ask(probe, "set a pasta timer for six seconds")
        set_at = time.monotonic()
        service.kill()
        service = DialogueProcess(broker, config).start(probe)
        back_at = time.monotonic()
        probe.wait_for(lambda m: isinstance(m, PlayChime) and m.name == "timer", timeout=15)
        # It rings when it was due, or at once on her return if she came back later (a loaded
        # machine can take longer to start than the timer has to run): never early, never forgotten.
        assert 5.0 <= time.monotonic() - set_at <= max(9.0, back_at - set_at + 2.0)
        start = len(probe.history)
        probe.publish(ButtonPressed(press="single"))
        seen(probe, lambda m: isinstance(m, TimerEvent) and m.event == "stopped", start)
        assert "May 3rd" in ask(probe, "when is Amy's birthday").text
    finally:
        service.stop()


@pytest.mark.parametrize("payload", [b"", b"{", b'{"text": 5}', b'{"text": "' + b"x" * 3000 + b'"}'])
def test_bad_transcripts_are_dropped(dialogue, probe, payload):
    probe.publish_raw(TranscriptReady.TOPIC, payload)
    assert ask(probe, "what's the date").text
    assert dialogue.process.poll() is None


def _read_back_and_done_on_yes(probe, start: int) -> None:
    """"Turn off the kitchen light" was read back as a question, nothing done; a "yes" does it."""
    question = probe.wait_for(Say, timeout=20)
    assert question.expect_reply and "turn off the kitchen light" in question.text.lower(), question
    assert not [m for m in probe.history[start:] if isinstance(m, HomeCommand)]
    probe.publish(TranscriptReady(text="Yes.", confidence=0.9, backend="whisper", follow_up=True))
    command = probe.wait_for(HomeCommand, timeout=20)
    assert command.intent == "HassTurnOff" and command.entity_ids == ["light.kitchen"]
    probe.publish(HomeCommandResult(request_id=command.request_id, ok=True))
    assert "off" in probe.wait_for(Say).text


def test_unclear_spoken_command_is_read_back_before_acting(dialogue, probe):
    probe.drain()
    start = len(probe.history)
    # Whisper's own deep doubt (mean token probability 0.2) on words that would switch a light off.
    probe.publish(TranscriptReady(text="Turn off the kitchen light.", confidence=0.2, backend="whisper"))
    _read_back_and_done_on_yes(probe, start)
    # Heard clearly, it is done at once.
    probe.drain()
    probe.publish(TranscriptReady(text="Turn on the kitchen light.", confidence=0.9, backend="whisper"))
    assert probe.wait_for(HomeCommand, timeout=20).intent == "HassTurnOn"


def test_a_command_the_grammar_wrote_is_trusted_less_than_one_heard_freely(dialogue, probe):
    # Whisper fairly unsure (0.5): the words heard freely as a command are done at once; the same
    # words written by the listener from the command grammar (Whisper held to it) are read back.
    # (By the fitted act-or-ask model, services/spoken/confidence.py, the first acts from a
    # confidence of 0.41, the second from 0.61; a refit may move both.) "Please" and "for me" keep
    # a command word for word one: Home Assistant's templates skip them.
    for said in ["Turn on the kitchen light.", "Please turn on the kitchen light for me."]:
        probe.drain()
        probe.publish(TranscriptReady(text=said, confidence=0.5, backend="whisper"))
        command = probe.wait_for(HomeCommand, timeout=20)
        assert command.intent == "HassTurnOn"
        probe.publish(HomeCommandResult(request_id=command.request_id, ok=True))
        assert "on" in probe.wait_for(Say).text
    probe.drain()
    start = len(probe.history)
    probe.publish(TranscriptReady(text="Turn off the kitchen light.", confidence=0.5, backend="whisper",
                                  grammar_reading="Turn off the kitchen light."))
    _read_back_and_done_on_yes(probe, start)


def test_the_likeliest_reading_the_device_understands_is_acted_on(dialogue, probe):
    # Whisper's first reading is a mishearing; its second names a light the home has.
    probe.drain()
    probe.publish(TranscriptReady(text="Turn off the kitten night.", confidence=0.8, backend="whisper",
                                  alternatives=["Turn off the kitchen light.", "Turn of the kitchen lights."],
                                  alternative_confidences=[0.75, 0.5]))
    command = probe.wait_for(HomeCommand, timeout=20)
    assert command.intent == "HassTurnOff" and command.entity_ids == ["light.kitchen"]
    probe.publish(HomeCommandResult(request_id=command.request_id, ok=True))
    assert "off" in probe.wait_for(Say).text


def test_a_command_heard_nearly_as_well_as_its_opposite_is_read_back(dialogue, probe):
    # Whisper is fairly sure of "off", but "on" was nearly as likely: a coin toss is not acted on.
    probe.drain()
    start = len(probe.history)
    probe.publish(TranscriptReady(text="Turn off the kitchen light.", confidence=0.8, backend="whisper",
                                  alternatives=["Turn on the kitchen light."], alternative_confidences=[0.75]))
    _read_back_and_done_on_yes(probe, start)
    # With the opposite far less likely, it is done at once.
    probe.drain()
    probe.publish(TranscriptReady(text="Turn on the kitchen light.", confidence=0.8, backend="whisper",
                                  alternatives=["Turn off the kitchen light."], alternative_confidences=[0.2]))
    assert probe.wait_for(HomeCommand, timeout=20).intent == "HassTurnOn"


def test_a_silent_request_is_not_filled_in_from_a_less_likely_reading(dialogue, probe):
    probe.drain()
    start = len(probe.history)
    # Only the wake word was said; a far less likely reading hears a command in the silence after it.
    probe.publish(TranscriptReady(text="Hey Jarvis.", confidence=0.3, backend="whisper",
                                  alternatives=["Turn on the kitchen light."], alternative_confidences=[0.1]))
    recognized = probe.wait_for(IntentRecognized, timeout=20)
    assert recognized.intent is None
    time.sleep(1.0)
    assert not [m for m in probe.history[start:] if isinstance(m, HomeCommand)]


def test_transcript_alternatives_must_pair_with_their_confidences(dialogue, probe):
    probe.publish_raw(TranscriptReady.TOPIC, b'{"text": "what time is it", "alternatives": ["x"]}')
    assert ask(probe, "what's the date").text
    assert dialogue.process.poll() is None
