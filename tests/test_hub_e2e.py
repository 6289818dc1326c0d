"""The home's own devices by voice, end to end: a zigbee2mqtt light announced on the hub's broker
is switched off by the spoken "hey jarvis, turn off the hallway light" — synthesized speech into the
real listener, the real dialogue model and bridge under `samantha run`, an MQTT command out on the
hub, and the device saying so afterwards."""

from __future__ import annotations

import json

import pytest

from services.broker import PrivateBroker
from services.messages import HomeCommand, HomeEntities, IntentRecognized, Say, WakeDetected
from tests.running import RunningSamantha
from tests.test_bridge_support import Z2M_LIGHT, Z2M_LIGHT_TOPIC, HubClient
from tests.test_dialogue_e2e import REPLY_S, after, speech
from tests.test_dialogue_support import listener_on_live_microphone

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A hub broker with a zigbee2mqtt light, and Samantha connected to it, listening on a live mic."""
    folder = tmp_path_factory.mktemp("home")
    with PrivateBroker() as hub:
        hub_client = HubClient(hub.port)
        hub_client.publish(Z2M_LIGHT_TOPIC, json.dumps(Z2M_LIGHT), retain=True)
        bridge = {"enabled": True, "host": "127.0.0.1", "port": hub.port, "node_id": "kitchen_speaker"}
        try:
            with RunningSamantha(folder, services=["voice", "dialogue", "bridge"], extra={"bridge": bridge}) as samantha:
                with listener_on_live_microphone(samantha, folder) as microphone:
                    yield samantha, hub_client, microphone, folder
        finally:
            hub_client.close()


def test_the_hub_light_appears_among_the_home_entities(home):
    samantha, *_ = home
    entities = [m for m in samantha.probe.history if isinstance(m, HomeEntities)]
    if not entities:
        entities = [samantha.probe.wait_for(HomeEntities, 30)]
    names = {e.get("name", "").lower() for e in entities[-1].entities}
    assert "hallway" in names


def test_spoken_turn_off_the_hallway_light_switches_it_off_on_the_hub(home):
    samantha, hub_client, microphone, folder = home
    since = len(samantha.probe.history)
    hub_client.drain()
    microphone.speak(speech(folder, "turn off the hallway light", wake=True))
    command = hub_client.wait_for("zigbee2mqtt/Hallway/set",
                                  lambda p: json.loads(p).get("state") == "OFF", timeout=REPLY_S)
    assert json.loads(command)["state"] == "OFF"
    after(samantha.probe, since, lambda m: isinstance(m, WakeDetected), 5)
    intent = after(samantha.probe, since, lambda m: isinstance(m, IntentRecognized), 5)
    assert intent.intent == "HassTurnOff"
    sent = after(samantha.probe, since, lambda m: isinstance(m, HomeCommand), 5)
    assert sent.intent == "HassTurnOff" and len(sent.entity_ids) == 1
    # Nothing else on the hub was switched, and the device answered in words.
    assert not [t for t, _, _ in hub_client.history if t.endswith("/set") and t != "zigbee2mqtt/Hallway/set"]
    reply = after(samantha.probe, since, lambda m: isinstance(m, Say), REPLY_S)
    assert reply.text.strip()
