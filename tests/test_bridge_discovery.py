"""The speaker's Home Assistant discovery payload and the hub's commands to it, checked without
brokers: against a schema written from Home Assistant's documentation, against Home Assistant's own
schemas when they are installed, and command by command."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ha_discovery_schema import problems
from services.bridge.speaker import (
    BadHubPayload,
    SpeakerTopics,
    command_messages,
    discovery_payload,
    hub_updates,
)
from services.messages import (
    IntentRecognized,
    ListenNow,
    Say,
    SetLight,
    SetMute,
    SetVolume,
    SetWakeSound,
    SetWakeWord,
    StopListening,
    StopSpeaking,
    TranscriptReady,
)

TOPICS = SpeakerTopics("samantha", "kitchen")
WAKE_WORDS = ["alexa", "hey_jarvis"]
# Home Assistant 2025.x in its own venv (device discovery needs 2025.x; it needs Python >= 3.13):
#   (script/setup --test does it, into .venv-ha)  python3.13 -m venv .venv-ha && .venv-ha/bin/pip install homeassistant==2025.4.4 \
#       home-assistant-frontend==20250411.0 paho-mqtt==2.1.0   (the last two for test_bridge_home_assistant.py)
HA_PYTHON = Path(os.environ.get("SAMANTHA_HA_PYTHON",
                               Path(__file__).resolve().parent.parent / ".venv-ha/bin/python"))

# Runs inside Home Assistant's venv: expand the payload as HA's mqtt/discovery.py does, validate the
# device payload and each component with HA's DISCOVERY_SCHEMA, and report keys HA drops silently.
HA_CHECK = r'''
import copy, importlib, json, logging, sys
logging.disable(logging.CRITICAL)
import voluptuous as vol
from homeassistant.components.mqtt import discovery
from homeassistant.components.mqtt.schemas import DEVICE_DISCOVERY_SCHEMA, SHARED_OPTIONS
payload = copy.deepcopy(json.load(sys.stdin))
found = []
discovery._replace_all_abbreviations(payload)
try:
    DEVICE_DISCOVERY_SCHEMA(copy.deepcopy(payload))
except vol.Invalid as err:
    found.append(f"device payload: {err}")
for component_id, config in payload.get("components", {}).items():
    config = dict(config)
    platform = config.pop("platform")
    config["device"], config["origin"] = payload["device"], payload["origin"]
    for option in SHARED_OPTIONS:
        if option in payload and option not in config:
            config[option] = payload[option]
    schema = importlib.import_module(f"homeassistant.components.mqtt.{platform}").DISCOVERY_SCHEMA
    try:
        validated = schema(dict(config))
    except vol.Invalid as err:
        found.append(f"{component_id} ({platform}): {err}")
        continue
    if dropped := sorted(set(config) - set(validated)):
        found.append(f"{component_id} ({platform}): Home Assistant drops {dropped}")
print(json.dumps(found))
'''


def payload(wake_words=WAKE_WORDS) -> dict:
    return discovery_payload(TOPICS, "Samantha kitchen", wake_words)


def test_discovery_payload_has_every_entity_the_hub_shows():
    components = payload()["components"]
    platforms = {key: c["platform"] for key, c in components.items()}
    assert platforms == {
        "assist_state": "sensor", "last_transcript": "sensor", "last_intent": "sensor", "talk": "button",
        "stop": "button", "mute": "switch", "wake_sound": "switch", "volume": "number",
        "wake_threshold": "number", "wake_word": "select", "announce": "text", "button": "event",
        "light": "light",
    }
    assert components["button"]["event_types"] == ["single", "double", "long", "very_long"]
    assert components["wake_word"]["options"] == WAKE_WORDS
    assert payload()["availability_topic"] == "samantha/kitchen/availability"


def test_discovery_payload_follows_home_assistants_documented_schema():
    assert problems(payload()) == []


def test_the_documented_schema_catches_mistakes():
    broken = payload()
    broken["components"]["volume"] = {**broken["components"]["volume"], "stat_t": "x", "min": 200}
    broken["components"]["talk"].pop("command_topic")
    broken["components"]["mute"]["unique_id"] = broken["components"]["stop"]["unique_id"]
    found = problems(broken)
    assert any("unknown option 'stat_t'" in p for p in found)
    assert any("min 200 is not below max 100" in p for p in found)
    assert any("talk: missing required 'command_topic'" in p for p in found)
    assert any("used twice" in p for p in found)


@pytest.mark.skipif(not HA_PYTHON.exists(), reason=f"Home Assistant's venv is not at {HA_PYTHON}")
def test_discovery_payload_passes_home_assistants_own_schemas():
    def ha_problems(data: dict) -> list[str]:
        done = subprocess.run([str(HA_PYTHON), "-c", HA_CHECK], input=json.dumps(data), capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    assert ha_problems(payload()) == []
    broken = payload()
    broken["components"]["volume"]["bogus_option"] = 1  # the check itself must be able to fail
    assert ha_problems(broken) == ["volume (number): Home Assistant drops ['bogus_option']"]


@pytest.mark.parametrize("what, raw, expected", [
    ("mute", b"ON", [SetMute(muted=True)]),
    ("mute", b"OFF", [SetMute(muted=False)]),
    ("wake_sound", b"OFF", [SetWakeSound(enabled=False)]),
    ("volume", b"40", [SetVolume(volume=40)]),
    ("volume", b"100.0", [SetVolume(volume=100)]),
    ("wake_threshold", b"0.65", [SetWakeWord(threshold=0.65)]),
    ("wake_word", b"alexa", [SetWakeWord(wake_words=["alexa"])]),
    ("light", b'{"state": "OFF"}', [SetLight(on=False)]),
    ("light", b'{"state": "ON", "brightness": 255, "color": {"r": 255, "g": 0, "b": 10}}',
     [SetLight(on=True, brightness=1.0, rgb=[255, 0, 10])]),
])
def test_valid_hub_commands_become_bus_messages(what, raw, expected):
    assert command_messages(TOPICS, TOPICS.command(what), raw, WAKE_WORDS) == expected


def test_buttons_and_announce_become_bus_messages():
    assert command_messages(TOPICS, TOPICS.talk, b"PRESS", WAKE_WORDS) == [ListenNow(source="hub")]
    assert command_messages(TOPICS, TOPICS.stop, b"PRESS", WAKE_WORDS) == [StopSpeaking(), StopListening()]
    (say,) = command_messages(TOPICS, TOPICS.announce, "Dinner is ready, ça va?".encode(), WAKE_WORDS)
    assert isinstance(say, Say) and say.text == "Dinner is ready, ça va?"


@pytest.mark.parametrize("what, raw", [
    ("mute", b"on"), ("mute", b"ON "), ("mute", b"1"), ("mute", b"true"), ("mute", b""), ("mute", b"\xff"),
    ("volume", b"101"), ("volume", b"-1"), ("volume", b"50.5"), ("volume", b"nan"), ("volume", b"inf"),
    ("volume", b"1e2"), ("volume", b" 50"), ("volume", b"0x10"), ("volume", b"9" * 500), ("volume", b"-0"),
    ("volume", "٩".encode()), ("volume", "５０".encode()),
    ("wake_threshold", b"0"), ("wake_threshold", b"1"), ("wake_threshold", b"0.99"), ("wake_threshold", b"NaN"),
    ("wake_word", b"hey_siri"), ("wake_word", b"ALEXA"), ("wake_word", b""),
    ("light", b"ON"), ("light", b'{"state": "on"}'), ("light", b'{"brightness": 300}'),
    ("light", b'{"color": {"r": 1, "g": 2}}'), ("light", b'{"state": "ON", "hack": 1}'), ("light", b"[]"),
    ("light", b'{"brightness": true}'),
])
def test_invalid_hub_commands_are_refused(what, raw):
    with pytest.raises(BadHubPayload):
        command_messages(TOPICS, TOPICS.command(what), raw, WAKE_WORDS)


@pytest.mark.parametrize("raw", [b"", b"   ", b"x" * 256, b"bell\x07", b"\xc3\x28", b"line\x00"])
def test_invalid_announcements_are_refused(raw):
    with pytest.raises(BadHubPayload):
        command_messages(TOPICS, TOPICS.announce, raw, WAKE_WORDS)


def test_buttons_take_only_press():
    for raw in (b"press", b"", b"PRESS\n", b"ON"):
        with pytest.raises(BadHubPayload):
            command_messages(TOPICS, TOPICS.talk, raw, WAKE_WORDS)


def test_unknown_topics_are_not_commands():
    with pytest.raises(BadHubPayload):
        command_messages(TOPICS, "samantha/kitchen/voice/say", b"hello", WAKE_WORDS)


def test_long_transcripts_fit_the_hubs_state_limit_and_keep_the_full_text_in_attributes():
    text = "remember that " + "the blue car is parked on level three " * 10
    state, attributes = hub_updates(TOPICS, TranscriptReady(text=text), "kitchen")
    assert len(state.payload) <= 255 and state.retain
    assert json.loads(attributes.payload)["text"] == text


def test_every_intent_is_published_on_the_documented_topic():
    updates = hub_updates(TOPICS, IntentRecognized(text="turn off the kitchen light", intent="HassTurnOff",
                                                  slots={"name": "kitchen light"}, confidence=0.97), "kitchen")
    event = next(u for u in updates if u.topic == "samantha/kitchen/intent")
    assert not event.retain
    assert json.loads(event.payload) | {"at": 0} == {
        "node_id": "kitchen", "text": "turn off the kitchen light", "intent": "HassTurnOff",
        "slots": {"name": "kitchen light"}, "confidence": 0.97, "at": 0}
