"""The bridge under faults: the hub broker killed and restarted, and a flood of fuzzed payloads on
every topic it listens to on the hub broker."""

from __future__ import annotations

import json
import random
import re
import time

import pytest

from services.broker import PrivateBroker
from services.messages import (
    ButtonPressed,
    HomeCommand,
    HomeCommandResult,
    HomeEntities,
    ListenNow,
    Say,
    SetLight,
    SetMute,
    SetVolume,
    SetWakeSound,
    SetWakeWord,
    StopListening,
    StopSpeaking,
    VolumeState,
)
from test_bridge_support import (  # noqa: F401  (fixtures)
    BASE,
    DISCOVERY_TOPIC,
    Z2M_LIGHT,
    Z2M_LIGHT_TOPIC,
    HubClient,
    bridge,
    hub,
    hub_client,
    start_bridge,
)

pytestmark = pytest.mark.slow

RECOVERY_S = 10.0  # the bound for being back after the hub broker returns
FUZZ_PER_TOPIC = 10_000
FLOOD_BATCH = 500  # junk payloads sent before waiting for the bridge to catch up
LOCAL_COMMANDS = (SetMute, SetVolume, Say, ListenNow, StopSpeaking, StopListening, SetWakeWord, SetWakeSound,
                  SetLight)
WAKE_WORDS = {"alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy"}


def test_hub_broker_killed_and_restarted_the_bridge_recovers_and_republishes(
        broker, hub, hub_client, probe, tmp_path):
    process = start_bridge(broker, hub.port, tmp_path, hub_client, probe)
    try:
        probe.publish(VolumeState(volume=42))
        assert hub_client.wait_for(f"{BASE}/volume") == b"42"
        hub_client.close()
        hub.process.kill()  # no clean shutdown: as if the hub's machine lost power
        hub.process.wait()

        # While the hub is away the device goes on; state changes and events wait for it.
        probe.publish(VolumeState(volume=17))
        probe.publish(ButtonPressed(press="long"))
        probe.publish(HomeCommand(request_id="away", intent="HassTurnOff", entity_ids=["light.hallway"]))
        assert not probe.wait_for(lambda m: isinstance(m, HomeCommandResult) and m.request_id == "away").ok
        time.sleep(1.0)
        assert process.alive()

        with PrivateBroker(port=hub.port) as restarted:  # the same address, empty: nothing retained
            started = time.monotonic()
            client = HubClient(restarted.port)
            try:
                client.wait_for(f"{BASE}/availability", lambda p: p == b"online", timeout=RECOVERY_S)
                assert json.loads(client.latest(DISCOVERY_TOPIC, timeout=RECOVERY_S))["components"]
                assert client.latest(f"{BASE}/volume", timeout=RECOVERY_S) == b"17"
                assert json.loads(client.latest(f"{BASE}/button", timeout=RECOVERY_S)) == {"event_type": "long"}
                assert time.monotonic() - started < RECOVERY_S
                # And it takes commands again.
                client.publish(f"{BASE}/mute/set", "ON")
                assert probe.wait_for(SetMute) == SetMute(muted=True)
                assert client.read_retained(f"{BASE}/volume") == b"17"
            finally:
                client.close()
        assert process.alive()
        assert "Lost the hub broker" in process.log()
    finally:
        assert process.stop() == 0


# --- fuzzing --------------------------------------------------------------------------------------

def _valid_number(payload: bytes, low: float, high: float, whole: bool) -> bool:
    """The documented contract: a plain decimal number in range (whole for the volume)."""
    if not re.fullmatch(rb"\d{1,6}(\.\d{1,6})?", payload):
        return False
    value = float(payload)
    return low <= value <= high and (not whole or value == int(value))


def _valid_light(payload: bytes) -> bool:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    if not isinstance(data, dict) or not data or set(data) - {"state", "brightness", "color", "color_mode",
                                                               "transition"}:
        return False
    if data.get("state") not in (None, "ON", "OFF"):
        return False
    brightness = data.get("brightness")
    if brightness is not None and (isinstance(brightness, bool) or not isinstance(brightness, (int, float))
                                   or not 0 <= brightness <= 255):
        return False
    if "color" in data:
        color = data["color"]
        if not isinstance(color, dict) or set(color) != {"r", "g", "b"} or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in color.values()):
            return False
    return any(k in data for k in ("state", "brightness", "color"))


def _valid_text(payload: bytes) -> bool:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text.strip()) and len(text) <= 255 and not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)


# What each command topic accepts, written from docs/bridge.md (not from the bridge's code).
VALID = {
    "mute/set": lambda p: p in (b"ON", b"OFF"),
    "wake_sound/set": lambda p: p in (b"ON", b"OFF"),
    "volume/set": lambda p: _valid_number(p, 0, 100, whole=True),
    "wake_threshold/set": lambda p: _valid_number(p, 0.05, 0.95, whole=False),
    "wake_word/set": lambda p: p.decode("utf-8", "replace") in WAKE_WORDS,
    "light/set": _valid_light,
    "announce/set": _valid_text,
    "talk/press": lambda p: p == b"PRESS",
    "stop/press": lambda p: p == b"PRESS",
}

NEAR_MISSES = [
    b"", b" ", b"on", b"off", b"On", b"ON ", b" OFF", b"ON\n", b"ON\x00", b"true", b"1", b"0x1", b"press", b"PRESSED",
    b"-1", b"-0", b"101", b"100.5", b"1e2", b"1E2", b"nan", b"NaN", b"inf", b"-inf", b"+5", b".5", b"5.", b"0.96",
    b"0.04", b"1", b"0", b"99999999999999999999", b"1" * 5000, b"hey_siri", b"ALEXA", b"alexa ", b"null", b"[]",
    b"{}", b'{"state": "on"}', b'{"state": "ON", "x": 1}', b'{"brightness": 256}', b'{"brightness": -1}',
    b'{"brightness": true}', b'{"color": {"r": 1, "g": 2}}', b'{"color": {"r": 1, "g": 2, "b": 300}}',
    b'{"color": [1, 2, 3]}', b'{"state": null}', b'"ON"', b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80",
    b"\x1b[31mred", b"ring\x07", "\u202e".encode() * 300, b"{" * 10000, b"[" * 100000, b"x" * 256,
    json.dumps({"state": "ON", "brightness": float("nan")}).encode(), b'{"state": "ON", "brightness": 1e999}',
]


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 255, 256, 2 ** 63, 1.5, -0.0, 1e308, rng.randint(-1000, 1000)])
    if kind == 2:
        return rng.choice(["ON", "OFF", "on", "", "~", "#", "+", "a/b/#", "homeassistant/status", "x" * 300])
    if kind in (3, 4):
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["state", "brightness", "color", "r", "g", "b", "name", "cmd_t", "stat_t", "command_topic",
            "state_topic", "~", "dev", "device", "cmps", "components", "p", "platform", "schema", "obj_id",
            "object_id", "pl_on", "pl_off", "uniq_id", "avty_t", "pos_t", "set_pos_t", "modes", "temp_cmd_t"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(6))}


def fuzz_payloads(rng: random.Random, count: int):
    """Junk of every kind: near misses, random bytes, random text, random (deep, odd) JSON."""
    for index in range(count):
        kind = index % 4
        if kind == 0:
            payload = rng.choice(NEAR_MISSES)
        elif kind == 1:
            payload = rng.randbytes(rng.choice([0, 1, 2, 5, 16, 100, 1000]))
        elif kind == 2:
            payload = "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(40))).encode(
                "utf-8", "surrogatepass")
        else:
            payload = json.dumps(_random_json(rng)).encode()
        yield payload


def test_fuzzed_payloads_on_every_hub_topic_carry_nothing_out(bridge, hub_client, probe):
    hub_client.publish(Z2M_LIGHT_TOPIC, json.dumps(Z2M_LIGHT), retain=True)
    probe.wait_for(lambda m: isinstance(m, HomeEntities) and m.entities)
    rng = random.Random(7)
    command_topics = {f"{BASE}/{what}": VALID[what] for what in VALID}
    other_topics = ["homeassistant/status", "homeassistant/light/fuzz/config",
                    "homeassistant/switch/fuzznode/fuzz/config", "homeassistant/device/fuzzdevice/config",
                    "zigbee2mqtt/Hallway"]  # the light's state topic: state, not commands
    probe.drain()
    probe.history.clear()
    refused = sentinels = 0
    started = time.monotonic()
    for topic in [*command_topics, *other_topics]:
        for index, payload in enumerate(fuzz_payloads(rng, FUZZ_PER_TOPIC)):
            valid = command_topics.get(topic)
            if valid is not None and valid(payload):
                continue  # a payload that happens to be valid is not junk; it is not sent
            refused += topic in command_topics
            hub_client.client.publish(topic, payload, qos=0)
            if index % FLOOD_BATCH == FLOOD_BATCH - 1:
                # Pace the flood: Mosquitto drops QoS 0 messages beyond its queue for a slow reader.
                hub_client.publish(f"{BASE}/volume/set", "9")
                sentinels += 1
                assert probe.wait_for(lambda m: isinstance(m, SetVolume), timeout=30) == SetVolume(volume=9)
    hub_client.publish(f"{BASE}/volume/set", "9")
    sentinels += 1
    assert probe.wait_for(lambda m: isinstance(m, SetVolume), timeout=30) == SetVolume(volume=9)
    print(f"{refused} junk commands and {len(other_topics) * FUZZ_PER_TOPIC} junk configs/states in "
          f"{time.monotonic() - started:.1f} s")
    carried_out = [m for m in probe.history if isinstance(m, LOCAL_COMMANDS)]
    assert carried_out == [SetVolume(volume=9)] * sentinels  # the pacing commands, and nothing else
    assert bridge.alive()
    log = bridge.log()
    assert log.count("Dropped a hub command") == refused  # every junk payload reached it
    assert "Traceback" not in log and "Error while handling" not in log  # every case foreseen

    # Still itself afterwards: commands, and the light it knew before the flood.
    hub_client.publish(f"{BASE}/mute/set", "OFF")
    assert probe.wait_for(SetMute) == SetMute(muted=False)
    hub_client.publish("zigbee2mqtt/Hallway", json.dumps({"state": "ON"}))
    probe.publish(HomeCommand(request_id="after", intent="HassTurnOff", entity_ids=["light.hallway"]))
    assert json.loads(hub_client.wait_for("zigbee2mqtt/Hallway/set", timeout=10)) == {"state": "OFF"}


def test_events_wait_for_the_hub_in_a_bounded_queue_oldest_dropped(hub, caplog):
    import asyncio

    from services.bridge.link import EVENT_QUEUE_MAX, HubLink
    from services.bridge.settings import BridgeSettings

    client = HubClient(hub.port)
    extra = 25
    try:
        async def scenario() -> HubLink:
            link = HubLink(BridgeSettings(enabled=True, host="127.0.0.1", port=hub.port), "queue-test",
                           f"{BASE}/availability", on_message=lambda topic, payload: None)
            for number in range(EVENT_QUEUE_MAX + extra):  # the hub is not connected yet
                link.publish_event(f"{BASE}/button", json.dumps({"event_type": "single", "n": number}))
            runner = asyncio.create_task(link.run())
            await asyncio.wait_for(link.connected.wait(), 10)
            await asyncio.sleep(1.0)
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            return link

        link = asyncio.run(scenario())
        numbers = [json.loads(p)["n"] for p in client.seen(f"{BASE}/button")]
        assert numbers == list(range(extra, EVENT_QUEUE_MAX + extra))  # in order, the oldest gone
        assert link.dropped_events == extra
        assert sum("dropped the oldest event" in r.getMessage() for r in caplog.records) == extra
        assert client.read_retained(f"{BASE}/availability") == b"offline"  # said goodbye on stop
    finally:
        client.close()
