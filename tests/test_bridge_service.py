"""The bridge service as a process between the local bus and a second real Mosquitto playing the
hub: the speaker appears in the hub, the hub's commands reach the services, the services' state
reaches the hub, and the home's devices announced on the hub are switched by HomeCommand."""

from __future__ import annotations

import json
import time

import pytest

from ha_discovery_schema import problems
from services.messages import (
    ButtonPressed,
    DeviceState,
    HomeCommand,
    HomeCommandResult,
    HomeEntities,
    IntentRecognized,
    ListenNow,
    MuteState,
    Say,
    SetMute,
    SetVolume,
    SetWakeWord,
    StopListening,
    StopSpeaking,
    TranscriptReady,
    VolumeState,
    WakeWordState,
)
from test_bridge_support import (  # noqa: F401  (fixtures)
    BASE,
    DISCOVERY_TOPIC,
    Z2M_LIGHT,
    Z2M_LIGHT_TOPIC,
    bridge,
    hub,
    hub_client,
)

pytestmark = pytest.mark.slow


def result_for(request_id: str):
    return lambda m: isinstance(m, HomeCommandResult) and m.request_id == request_id


def test_the_speaker_appears_in_the_hub_with_a_valid_discovery_payload(bridge, hub_client):
    payload = json.loads(hub_client.latest(DISCOVERY_TOPIC))
    assert problems(payload) == []
    assert payload["device"]["identifiers"] == ["samantha_testnode"]
    assert hub_client.read_retained(DISCOVERY_TOPIC) == hub_client.latest(DISCOVERY_TOPIC)
    assert hub_client.read_retained(f"{BASE}/availability") == b"online"


def test_hub_commands_reach_the_services(bridge, hub_client, probe):
    hub_client.publish(f"{BASE}/mute/set", "ON")
    assert probe.wait_for(SetMute) == SetMute(muted=True)
    hub_client.publish(f"{BASE}/volume/set", "35")
    assert probe.wait_for(SetVolume) == SetVolume(volume=35)
    hub_client.publish(f"{BASE}/announce/set", "The washing machine is done.")
    assert probe.wait_for(Say).text == "The washing machine is done."
    hub_client.publish(f"{BASE}/talk/press", "PRESS")
    assert probe.wait_for(ListenNow) == ListenNow(source="hub")
    hub_client.publish(f"{BASE}/stop/press", "PRESS")
    probe.wait_for(StopSpeaking)
    probe.wait_for(StopListening)
    hub_client.publish(f"{BASE}/wake_threshold/set", "0.7")
    assert probe.wait_for(SetWakeWord) == SetWakeWord(threshold=0.7)


def test_invalid_hub_commands_carry_nothing_out(bridge, hub_client, probe):
    for topic, raw in [("mute/set", "yes"), ("volume/set", "250"), ("announce/set", ""), ("talk/press", "x"),
                       ("wake_word/set", "hey_siri")]:
        hub_client.publish(f"{BASE}/{topic}", raw)
    # Topics that are not the speaker's documented command topics, even ones named like the bus's.
    hub_client.publish(Say.TOPIC, Say(text="from the hub broker").to_json())
    hub_client.publish(f"{BASE}/voice/say", "hello")
    hub_client.publish(f"{BASE}/say/set", "hello")
    hub_client.publish(f"{BASE}/mute", "ON")  # a state topic, not a command
    hub_client.publish(f"{BASE}/volume/set", "20")  # a valid one after them: it alone arrives
    assert probe.wait_for(SetVolume) == SetVolume(volume=20)
    commands = (SetMute, Say, ListenNow, SetWakeWord)
    assert [m for m in probe.history if isinstance(m, commands)] == []
    assert "Dropped a hub command on samantha/testnode/volume/set" in bridge.log()


def test_the_services_state_reaches_the_hub(bridge, hub_client, probe):
    probe.publish(DeviceState(state="listening"))
    assert hub_client.wait_for(f"{BASE}/assist_state") == b"listening"
    probe.publish(MuteState(muted=True))
    assert hub_client.wait_for(f"{BASE}/mute") == b"ON"
    probe.publish(VolumeState(volume=55))
    assert hub_client.wait_for(f"{BASE}/volume") == b"55"
    probe.publish(TranscriptReady(text="what time is it"))
    assert hub_client.wait_for(f"{BASE}/transcript") == b"what time is it"
    probe.publish(ButtonPressed(press="double"))
    assert json.loads(hub_client.wait_for(f"{BASE}/button")) == {"event_type": "double"}
    probe.publish(IntentRecognized(text="what time is it", intent="HassGetCurrentTime", confidence=0.9))
    event = json.loads(hub_client.wait_for(f"{BASE}/intent"))
    assert event["intent"] == "HassGetCurrentTime" and event["text"] == "what time is it"
    assert hub_client.latest(f"{BASE}/last_intent") == b"HassGetCurrentTime"
    probe.publish(Say(text="this stays on the device"))
    probe.publish(HomeCommand(request_id="local", intent="HassNevermind", entity_ids=[]))
    probe.wait_for(lambda m: isinstance(m, HomeCommandResult) and m.request_id == "local")
    documented = {f"{BASE}/{what}" for what in (
        "availability", "assist_state", "transcript", "transcript/attributes", "last_intent",
        "last_intent/attributes", "mute", "volume", "button", "intent")} | {DISCOVERY_TOPIC}
    assert {topic for topic, _, _ in hub_client.history} <= documented  # nothing else left the device
    assert hub_client.read_retained(f"{BASE}/volume") == b"55"
    assert hub_client.read_retained(f"{BASE}/intent", timeout=0.5) is None  # an event, not state


def test_new_wake_words_update_the_hubs_select(bridge, hub_client, probe):
    probe.publish(WakeWordState(wake_words=["hey_mycroft"], threshold=0.5, available=["hey_jarvis", "hey_mycroft"]))
    payload = json.loads(hub_client.wait_for(
        DISCOVERY_TOPIC, lambda p: json.loads(p)["components"]["wake_word"]["options"] == ["hey_jarvis", "hey_mycroft"]))
    assert problems(payload) == []
    assert hub_client.wait_for(f"{BASE}/wake_word") == b"hey_mycroft"
    hub_client.publish(f"{BASE}/wake_word/set", "hey_jarvis")
    assert probe.wait_for(SetWakeWord) == SetWakeWord(wake_words=["hey_jarvis"])


def test_the_speaker_announces_itself_again_when_home_assistant_restarts(bridge, hub_client):
    hub_client.latest(DISCOVERY_TOPIC)
    hub_client.drain()
    hub_client.publish("homeassistant/status", "online")
    assert hub_client.wait_for(f"{BASE}/availability", timeout=5) == b"online"
    assert problems(json.loads(hub_client.wait_for(DISCOVERY_TOPIC, timeout=5))) == []


def test_the_last_will_marks_the_speaker_offline(broker, hub, hub_client, probe, tmp_path):
    from test_bridge_support import start_bridge

    process = start_bridge(broker, hub.port, tmp_path, hub_client)
    process.process.kill()  # no goodbye: the broker must publish the will
    process.stop()
    # The broker notices at 1.5 x keepalive at the latest; a killed process closes its socket at once.
    assert hub_client.wait_for(f"{BASE}/availability", lambda p: p == b"offline", timeout=60) == b"offline"


def test_a_zigbee2mqtt_light_is_listed_and_switched_off(bridge, hub_client, probe):
    hub_client.publish(Z2M_LIGHT_TOPIC, json.dumps(Z2M_LIGHT), retain=True)
    entities = probe.wait_for(lambda m: isinstance(m, HomeEntities) and m.entities).entities
    assert entities == [{"entity_id": "light.hallway", "name": "Hallway", "domain": "light", "aliases": [],
                         "area": "Hallway", "floor": None}]
    hub_client.publish("zigbee2mqtt/Hallway", json.dumps({"state": "ON", "brightness": 254}), retain=True)
    hub_client.drain()

    # zigbee2mqtt answers a command with the new state; here the test plays zigbee2mqtt.
    probe.publish(HomeCommand(request_id="r1", intent="HassTurnOff", entity_ids=["light.hallway"]))
    assert json.loads(hub_client.wait_for("zigbee2mqtt/Hallway/set")) == {"state": "OFF"}
    hub_client.publish("zigbee2mqtt/Hallway", json.dumps({"state": "OFF", "brightness": 254}), retain=True)
    result = probe.wait_for(result_for("r1"))
    assert result.ok and result.message == ""
    assert result.states == {"light.hallway": {"state": "off", "brightness": 100}}

    probe.publish(HomeCommand(request_id="r2", intent="HassGetState", entity_ids=["light.hallway"]))
    result = probe.wait_for(result_for("r2"))
    assert result.ok and result.states["light.hallway"]["state"] == "off"

    probe.publish(HomeCommand(request_id="r3", intent="HassLightSet", entity_ids=["light.hallway"],
                              data={"brightness": 50, "color": "red"}))
    assert json.loads(hub_client.wait_for("zigbee2mqtt/Hallway/set")) == {
        "state": "ON", "brightness": 127, "color": {"r": 255, "g": 0, "b": 0}}


def test_an_unconfirmed_command_is_still_answered(bridge, hub_client, probe):
    hub_client.publish(Z2M_LIGHT_TOPIC, json.dumps(Z2M_LIGHT), retain=True)
    probe.wait_for(lambda m: isinstance(m, HomeEntities) and m.entities)
    started = time.monotonic()
    probe.publish(HomeCommand(request_id="quiet", intent="HassTurnOn", entity_ids=["light.hallway"]))
    result = probe.wait_for(result_for("quiet"))
    assert result.ok and "did not confirm" in result.message
    assert time.monotonic() - started < 5


def test_garage_door_state_answers_is_it_open(bridge, hub_client, probe):
    cover = {"name": "Garage door", "device_class": "garage", "cmd_t": "~/set", "stat_t": "~/state",
             "~": "tasmota/garage", "uniq_id": "garage1", "dev": {"ids": ["garage"], "name": "Garage", "sa": "Garage"}}
    hub_client.publish("homeassistant/cover/garage1/config", json.dumps(cover), retain=True)
    entities = probe.wait_for(lambda m: isinstance(m, HomeEntities) and m.entities).entities
    # Home Assistant strips the device name from an entity name that starts with it.
    assert entities == [{"entity_id": "cover.garage_door", "name": "Garage door", "domain": "cover",
                         "aliases": [], "area": "Garage", "floor": None, "device_class": "garage"}]
    hub_client.publish("tasmota/garage/state", "open", retain=True)
    time.sleep(0.3)
    probe.publish(HomeCommand(request_id="q", intent="HassGetState", entity_ids=["cover.garage_door"]))
    result = probe.wait_for(result_for("q"))
    assert result.ok and result.states == {"cover.garage_door": {"state": "open"}}
    assert result.message == "Garage door is open."

    probe.publish(HomeCommand(request_id="c", intent="HassTurnOff", entity_ids=["cover.garage_door"]))
    assert hub_client.wait_for("tasmota/garage/set") == b"CLOSE"
    hub_client.publish("tasmota/garage/state", "closing")
    assert probe.wait_for(result_for("c")).states == {"cover.garage_door": {"state": "closing"}}


def test_unknown_entities_and_intents_get_a_plain_answer(bridge, probe):
    probe.publish(HomeCommand(request_id="u", intent="HassTurnOff", entity_ids=["light.nowhere"]))
    result = probe.wait_for(result_for("u"))
    assert not result.ok and "light.nowhere" in result.message


def test_a_removed_device_leaves_the_list(bridge, hub_client, probe):
    hub_client.publish(Z2M_LIGHT_TOPIC, json.dumps(Z2M_LIGHT), retain=True)
    probe.wait_for(lambda m: isinstance(m, HomeEntities) and m.entities)
    hub_client.publish(Z2M_LIGHT_TOPIC, "", retain=True)
    assert probe.wait_for(HomeEntities).entities == []


def test_home_command_with_the_hub_away_fails_quickly(broker, hub, hub_client, probe, tmp_path):
    from test_bridge_support import start_bridge

    hub_client.publish(Z2M_LIGHT_TOPIC, json.dumps(Z2M_LIGHT), retain=True)
    process = start_bridge(broker, hub.port, tmp_path, hub_client, probe)
    try:
        probe.wait_for(lambda m: isinstance(m, HomeEntities) and m.entities)
        hub_client.close()
        hub.stop()
        time.sleep(0.5)
        started = time.monotonic()
        probe.publish(HomeCommand(request_id="away", intent="HassTurnOff", entity_ids=["light.hallway"]))
        result = probe.wait_for(result_for("away"))
        assert not result.ok and result.message == "I can't reach the home hub right now."
        assert time.monotonic() - started < 1.0
        assert process.alive()
    finally:
        process.stop()


def test_after_a_restart_with_the_hub_away_the_home_is_still_known(broker, hub, hub_client, probe, tmp_path):
    from services.broker import PrivateBroker
    from test_bridge_support import BusProbe, start_bridge

    hub_client.publish(Z2M_LIGHT_TOPIC, json.dumps(Z2M_LIGHT), retain=True)
    first = start_bridge(broker, hub.port, tmp_path, hub_client, probe)
    try:
        names = probe.wait_for(lambda m: isinstance(m, HomeEntities) and m.entities).entities
    finally:
        first.stop()
    hub_client.close()
    hub.stop()
    with PrivateBroker() as fresh_bus:  # a reboot: the local broker kept nothing either
        fresh_probe = BusProbe(fresh_bus.port)
        second = start_bridge(fresh_bus, hub.port, tmp_path)
        try:
            assert fresh_probe.wait_for(HomeEntities).entities == names
            fresh_probe.publish(HomeCommand(request_id="x", intent="HassTurnOff", entity_ids=["light.hallway"]))
            result = fresh_probe.wait_for(result_for("x"))
            assert not result.ok and result.message == "I can't reach the home hub right now."
        finally:
            second.stop()
            fresh_probe.close()
