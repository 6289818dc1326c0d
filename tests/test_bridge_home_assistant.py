"""The speaker in a real Home Assistant: HA runs as its own process on the hub broker (when it is
installed in its own venv), discovers the speaker, shows its state, and its actions reach the
services; the blueprint in docs/ acts on a recognised intent and answers through the speaker.

script/setup --test installs it once into .venv-ha where Python 3.13 exists (about 650 MB; Home
Assistant 2025.x needs Python 3.13):
    python3.13 -m venv .venv-ha
    .venv-ha/bin/pip install homeassistant==2025.4.4 home-assistant-frontend==20250411.0 paho-mqtt==2.1.0
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from services.broker import free_port
from services.messages import (
    ButtonPressed,
    DeviceState,
    IntentRecognized,
    ListenNow,
    Say,
    SetLight,
    SetMute,
    SetVolume,
    SetWakeWord,
    TranscriptReady,
)
from test_bridge_discovery import HA_PYTHON
from test_bridge_support import BASE, HubClient, start_bridge  # noqa: F401
from test_bridge_support import hub, hub_client  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

BLUEPRINT = Path(__file__).resolve().parent.parent / "docs" / "home-assistant-blueprint.yaml"
HA_START_TIMEOUT_S = 120.0
DEVICE = "samantha_testnode"  # Home Assistant's slug of the device name "Samantha testnode"


def _ha_ready() -> bool:
    if not HA_PYTHON.exists():
        return False
    done = subprocess.run([str(HA_PYTHON), "-c", "import homeassistant, hass_frontend, paho.mqtt"],
                          capture_output=True, timeout=60)
    return done.returncode == 0


requires_ha = pytest.mark.skipif(not _ha_ready(), reason=f"Home Assistant (with frontend, paho-mqtt) is not in "
                                 f"{HA_PYTHON.parent.parent}; see this module's docstring")

# Automations the test drives through MQTT: one calls any action it is sent, one reports states.
# Queued: in the default mode ("single") a request arriving while the last run is still finishing is
# dropped, which a loaded machine made happen (the talk button's press never reached the bus).
AUTOMATIONS = """
- id: call
  alias: test call
  mode: queued
  trigger:
    - platform: mqtt
      topic: test/call
  action:
    - service: "{{ trigger.payload_json.service }}"
      target: "{{ trigger.payload_json.target }}"
      data: "{{ trigger.payload_json.data }}"
- id: report
  alias: test report
  mode: queued
  trigger:
    - platform: mqtt
      topic: test/report
  action:
    - service: mqtt.publish
      data:
        topic: test/states
        payload: >-
          {% set ns = namespace(d={}) %}
          {% for e in integration_entities('mqtt') %}
          {% set ns.d = dict(ns.d, **{e: {'state': states(e), 'attributes': states[e].attributes | default({})}}) %}
          {% endfor %}
          {{ ns.d | tojson }}
- id: vacuum
  alias: act on StartVacuum
  use_blueprint:
    path: samantha/act_on_intent.yaml
    input:
      intent_name: StartVacuum
      announce_entity: text.samantha_testnode_announce
      reply: "Starting the {{ slots.name }}"
      intent_actions:
        - service: mqtt.publish
          data:
            topic: test/acted
            payload: "{{ slots.name }} {{ node_id }}"
"""


@pytest.fixture
def home_assistant(hub, tmp_path):
    """Home Assistant on the hub broker, with MQTT set up and the test's automations."""
    config = tmp_path / "ha"
    (config / ".storage").mkdir(parents=True)
    (config / "blueprints" / "automation" / "samantha").mkdir(parents=True)
    shutil.copy(BLUEPRINT, config / "blueprints" / "automation" / "samantha" / "act_on_intent.yaml")
    (config / "configuration.yaml").write_text(
        "homeassistant:\n  name: Test\n  latitude: 0\n  longitude: 0\n  elevation: 0\n  unit_system: metric\n"
        f"  time_zone: UTC\nhttp:\n  server_host: 127.0.0.1\n  server_port: {free_port()}\n"
        "automation: !include automations.yaml\n")
    (config / "automations.yaml").write_text(AUTOMATIONS)
    entry = {"entry_id": uuid.uuid4().hex, "version": 1, "minor_version": 2, "domain": "mqtt", "title": "mqtt",
             "data": {"broker": "127.0.0.1", "port": hub.port},
             "options": {"discovery": True, "discovery_prefix": "homeassistant"},
             "pref_disable_new_entities": False, "pref_disable_polling": False, "source": "user",
             "unique_id": None, "disabled_by": None, "created_at": "2025-01-01T00:00:00+00:00",
             "modified_at": "2025-01-01T00:00:00+00:00", "discovery_keys": {}, "subentries": []}
    (config / ".storage" / "core.config_entries").write_text(json.dumps(
        {"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {"entries": [entry]}}))
    log = (tmp_path / "ha.log").open("wb")
    process = subprocess.Popen([str(HA_PYTHON), "-m", "homeassistant", "-c", str(config), "--skip-pip"],
                               stdout=log, stderr=subprocess.STDOUT)
    yield process, tmp_path / "ha.log"
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def ha_states(hub_client: HubClient, want=lambda states: True, timeout: float = 30.0) -> dict:
    """Home Assistant's states of its MQTT entities, once want(states) holds."""
    deadline = time.monotonic() + timeout
    states: dict = {}
    while time.monotonic() < deadline:
        hub_client.drain()
        hub_client.publish("test/report", "")
        try:
            states = json.loads(hub_client.wait_for("test/states", timeout=5))
        except AssertionError:
            continue
        if want(states):
            return states
        time.sleep(0.5)
    raise AssertionError(f"Home Assistant's states never fit: {json.dumps(states)[:3000]}")


def call(hub_client: HubClient, service: str, entity_id: str, **data) -> None:
    hub_client.publish("test/call", json.dumps({"service": service, "target": {"entity_id": entity_id},
                                                "data": data}))


@requires_ha
def test_home_assistant_discovers_the_speaker_and_drives_it(broker, hub, hub_client, probe, tmp_path,
                                                         home_assistant):
    process, log_path = home_assistant
    (tmp_path / "bridge").mkdir()
    bridge = start_bridge(broker, hub.port, tmp_path / "bridge", hub_client, probe)
    try:
        try:
            hub_client.wait_for("homeassistant/status", lambda p: p == b"online", timeout=HA_START_TIMEOUT_S)
        except AssertionError:
            raise AssertionError(f"Home Assistant did not start:\n{log_path.read_text()[-5000:]}") from None

        states = ha_states(hub_client, lambda s: len([e for e in s if DEVICE in e]) >= 13)
        ours = sorted(e for e in states if DEVICE in e)
        assert ours == sorted([
            f"sensor.{DEVICE}_assist_state", f"sensor.{DEVICE}_last_transcript", f"sensor.{DEVICE}_last_intent",
            f"button.{DEVICE}_talk", f"button.{DEVICE}_stop", f"switch.{DEVICE}_microphone_mute",
            f"switch.{DEVICE}_wake_sound", f"number.{DEVICE}_volume",
            f"number.{DEVICE}_wake_word_sensitivity_threshold", f"select.{DEVICE}_wake_word",
            f"text.{DEVICE}_announce", f"event.{DEVICE}_button", f"light.{DEVICE}_led_ring"])

        # The speaker's state shows in Home Assistant.
        long_text = "remember that " + "the spare key is under the blue flower pot by the door " * 6
        probe.publish(DeviceState(state="listening"))
        probe.publish(TranscriptReady(text=long_text))
        probe.publish(ButtonPressed(press="double"))
        states = ha_states(hub_client, lambda s: s[f"sensor.{DEVICE}_assist_state"]["state"] == "listening"
                           and s[f"event.{DEVICE}_button"]["attributes"].get("event_type") == "double"
                           and s[f"sensor.{DEVICE}_last_transcript"]["attributes"].get("text") == long_text)
        assert len(states[f"sensor.{DEVICE}_last_transcript"]["state"]) <= 255

        # Home Assistant's actions reach the services, as Home Assistant itself publishes them.
        call(hub_client, "text.set_value", f"text.{DEVICE}_announce", value="Dinner is ready.")
        assert probe.wait_for(Say, timeout=15).text == "Dinner is ready."
        call(hub_client, "switch.turn_on", f"switch.{DEVICE}_microphone_mute")
        assert probe.wait_for(SetMute, timeout=15) == SetMute(muted=True)
        call(hub_client, "number.set_value", f"number.{DEVICE}_volume", value=40)
        assert probe.wait_for(SetVolume, timeout=15) == SetVolume(volume=40)
        call(hub_client, "number.set_value", f"number.{DEVICE}_wake_word_sensitivity_threshold", value=0.7)
        assert probe.wait_for(SetWakeWord, timeout=15) == SetWakeWord(threshold=0.7)
        call(hub_client, "select.select_option", f"select.{DEVICE}_wake_word", option="hey_mycroft")
        assert probe.wait_for(SetWakeWord, timeout=15) == SetWakeWord(wake_words=["hey_mycroft"])
        call(hub_client, "button.press", f"button.{DEVICE}_talk")
        assert probe.wait_for(ListenNow, timeout=15) == ListenNow(source="hub")
        call(hub_client, "light.turn_on", f"light.{DEVICE}_led_ring", brightness=51, rgb_color=[255, 0, 0])
        assert probe.wait_for(SetLight, timeout=15) == SetLight(on=True, brightness=0.2, rgb=[255, 0, 0])

        # The blueprint: a recognised intent on the bus -> the bridge -> Home Assistant acts and answers.
        probe.publish(IntentRecognized(text="start the robot", intent="StartVacuum", slots={"name": "robot"},
                                       confidence=0.93))
        assert hub_client.wait_for("test/acted", timeout=15) == b"robot testnode"
        assert probe.wait_for(Say, timeout=15).text == "Starting the robot"
        probe.publish(IntentRecognized(text="start it", intent="StartVacuum", slots={"name": "robot"},
                                       confidence=0.2))  # below the blueprint's minimum: nothing
        probe.publish(IntentRecognized(text="what time is it", intent="HassGetCurrentTime", confidence=0.9))
        with pytest.raises(AssertionError):
            hub_client.wait_for("test/acted", timeout=3)

        complaints = [line for line in log_path.read_text().splitlines() if ("WARNING" in line or "ERROR" in line)
                      and ("samantha" in line.lower() or "Template variable" in line)]
        assert complaints == []  # Home Assistant took every payload of ours without a word
        assert process.poll() is None
    finally:
        bridge.stop()
