"""The home's devices as other integrations announce them (zigbee2mqtt, Tasmota, ESPHome, device
payloads), their state, and what the bridge publishes for each spoken intent."""

from __future__ import annotations

import json

import pytest

from services.bridge.home import BadDiscovery, HomeDirectory, read_template
from services.bridge.home_commands import CannotDo, plan_command
from test_bridge_support import Z2M_LIGHT, Z2M_LIGHT_TOPIC


def home_with(*announcements: tuple[str, dict | bytes]) -> HomeDirectory:
    home = HomeDirectory("homeassistant", own_node="kitchen")
    for topic, config in announcements:
        home.discovered(topic, config if isinstance(config, bytes) else json.dumps(config).encode())
    return home


def published(home: HomeDirectory, entity_id: str, intent: str, **data) -> list[tuple[str, str]]:
    plan = plan_command(home.entities[entity_id], intent, data)
    return [(p.topic, p.payload) for p in plan.publishes]


TASMOTA_SWITCH = ("homeassistant/switch/A1B2C3_RL_1/config", {
    "name": "Kettle", "stat_t": "tele/tasmota_A1B2C3/STATE", "avty_t": "tele/tasmota_A1B2C3/LWT",
    "cmd_t": "cmnd/tasmota_A1B2C3/POWER", "val_tpl": "{{value_json.POWER}}", "pl_off": "OFF", "pl_on": "ON",
    "uniq_id": "A1B2C3_RL_1", "dev": {"cns": [["mac", "A1B2C3"]], "name": "Kitchen plug", "sa": "Kitchen"}})
ESPHOME_FAN = ("homeassistant/fan/bedroom-fan/fan/config", {
    "name": "Ceiling fan", "stat_t": "bedroom-fan/fan/ceiling_fan/state",
    "cmd_t": "bedroom-fan/fan/ceiling_fan/command", "pct_cmd_t": "bedroom-fan/fan/ceiling_fan/speed_level/command",
    "pct_stat_t": "bedroom-fan/fan/ceiling_fan/speed_level/state", "spd_rng_max": 3, "uniq_id": "fan1",
    "dev": {"ids": "bedroomfan", "name": "Bedroom"}})
LOCK = ("homeassistant/lock/front/config", {
    "name": "Front door", "cmd_t": "z2m/Front door/set", "stat_t": "z2m/Front door",
    "val_tpl": "{{ value_json.state }}", "pl_lock": "LOCK", "pl_unlk": "UNLOCK", "stat_locked": "LOCKED",
    "stat_unlocked": "UNLOCKED", "uniq_id": "front_lock"})
CLIMATE = ("homeassistant/climate/living/thermostat/config", {
    "name": "Thermostat", "temp_cmd_t": "hvac/set_temp", "temp_stat_t": "hvac/state",
    "temp_stat_tpl": "{{ value_json.target }}", "curr_temp_t": "hvac/state",
    "curr_temp_tpl": "{{ value_json.current }}", "mode_cmd_t": "hvac/mode/set", "mode_stat_t": "hvac/mode",
    "modes": ["off", "heat"], "min_temp": 10, "max_temp": 28, "uniq_id": "therm",
    "dev": {"ids": ["therm"], "name": "Living room", "sa": "Living room"}})
DEVICE_PAYLOAD = ("homeassistant/device/shelly1/config", {
    "dev": {"ids": "shelly1", "name": "Porch", "sa": "Porch"}, "o": {"name": "shelly2mqtt"},
    "stat_t": "shelly1/relay/0", "cmps": {
        "relay": {"p": "switch", "name": "Light switch", "cmd_t": "shelly1/relay/0/command", "uniq_id": "s1r"},
        "temp": {"p": "sensor", "name": "Temperature", "uniq_id": "s1t"},
        "cover": {"p": "cover", "name": "Shutter", "~": "shelly1/roller", "cmd_t": "~/command",
                  "pos_t": "~/pos", "set_pos_t": "~/command/pos", "stat_t": "~/state", "uniq_id": "s1c"}}})


def test_zigbee2mqtt_light_gets_home_assistants_entity_id_and_area():
    home = home_with((Z2M_LIGHT_TOPIC, Z2M_LIGHT))
    assert home.for_bus() == [{"entity_id": "light.hallway", "name": "Hallway", "domain": "light", "aliases": [],
                               "area": "Hallway", "floor": None}]
    assert home.state_topics() == {"zigbee2mqtt/Hallway"}
    assert published(home, "light.hallway", "HassTurnOff") == [("zigbee2mqtt/Hallway/set", '{"state": "OFF"}')]
    assert published(home, "light.hallway", "HassLightSet", brightness=100) == [
        ("zigbee2mqtt/Hallway/set", '{"state": "ON", "brightness": 254}')]


def test_tasmota_abbreviations_and_value_templates():
    home = home_with(TASMOTA_SWITCH)
    (entity,) = home.for_bus()
    assert entity == {"entity_id": "switch.kitchen_plug_kettle", "name": "Kitchen plug Kettle", "domain": "switch",
                      "aliases": [], "area": "Kitchen", "floor": None}
    assert home.state_received("tele/tasmota_A1B2C3/STATE", b'{"Time": "x", "POWER": "ON"}')
    assert home.entities["switch.kitchen_plug_kettle"].state == "on"
    assert published(home, "switch.kitchen_plug_kettle", "HassTurnOff") == [("cmnd/tasmota_A1B2C3/POWER", "OFF")]


def test_fan_speed_uses_the_speed_range():
    home = home_with(ESPHOME_FAN)
    assert published(home, "fan.bedroom_ceiling_fan", "HassFanSetSpeed", percentage=50) == [
        ("bedroom-fan/fan/ceiling_fan/speed_level/command", "2")]
    assert published(home, "fan.bedroom_ceiling_fan", "HassFanSetSpeed", percentage=0) == [
        ("bedroom-fan/fan/ceiling_fan/command", "OFF")]


def test_locks_lock_on_turn_on_and_report_their_state():
    home = home_with(LOCK)
    assert published(home, "lock.front_door", "HassTurnOn") == [("z2m/Front door/set", "LOCK")]
    assert published(home, "lock.front_door", "HassTurnOff") == [("z2m/Front door/set", "UNLOCK")]
    home.state_received("z2m/Front door", b'{"state": "UNLOCKED", "battery": 80}')
    assert home.entities["lock.front_door"].state == "unlocked"


def test_thermostat_temperature_limits_and_state():
    home = home_with(CLIMATE)
    entity_id = "climate.living_room_thermostat"
    assert published(home, entity_id, "HassClimateSetTemperature", temperature=21.5) == [("hvac/set_temp", "21.5")]
    with pytest.raises(CannotDo, match="from 10 to 28"):
        plan_command(home.entities[entity_id], "HassClimateSetTemperature", {"temperature": 35})
    home.state_received("hvac/state", b'{"target": 21.5, "current": 19.0}')
    home.state_received("hvac/mode", b"heat")
    assert home.entities[entity_id].state_dict() == {"state": "heat", "temperature": 21.5,
                                                     "current_temperature": 19.0}
    assert published(home, entity_id, "HassTurnOff") == [("hvac/mode/set", "off")]


def test_device_payload_shares_options_and_expands_the_topic_base():
    home = home_with(DEVICE_PAYLOAD)
    ids = sorted(home.entities)
    assert ids == ["cover.porch_shutter", "switch.porch_light_switch"]  # the sensor is not controllable
    assert home.entities["switch.porch_light_switch"].option("state_topic") == "shelly1/relay/0"
    assert published(home, "cover.porch_shutter", "HassSetPosition", position=30) == [("shelly1/roller/command/pos", "30")]
    assert published(home, "cover.porch_shutter", "HassTurnOn") == [("shelly1/roller/command", "OPEN")]
    home.state_received("shelly1/roller/pos", b"30")
    assert home.entities["cover.porch_shutter"].attributes == {"position": 30}
    # Removing the device removes all of its entities.
    assert home.discovered("homeassistant/device/shelly1/config", b"")
    assert home.entities == {} and home.state_topics() == set()


def test_a_components_removal_inside_a_device_payload():
    topic, payload = DEVICE_PAYLOAD
    home = home_with(DEVICE_PAYLOAD)
    payload = json.loads(json.dumps(payload))
    payload["cmps"]["cover"] = {"p": "cover"}
    assert home.discovered(topic, json.dumps(payload).encode())
    assert sorted(home.entities) == ["switch.porch_light_switch"]


def test_the_speakers_own_device_and_unusable_configs_are_not_part_of_the_home():
    home = home_with(
        ("homeassistant/device/samantha_kitchen/config", {"dev": {"ids": "x"}, "o": {"name": "samantha"}, "cmps": {
            "light": {"p": "light", "schema": "json", "cmd_t": "samantha/kitchen/light/set"}}}),
        ("homeassistant/light/tmpl/config", {"name": "Template", "schema": "template", "cmd_t": "a",
                                              "cmd_on_tpl": "on", "cmd_off_tpl": "off"}),
        ("homeassistant/switch/nocmd/config", {"name": "Read only", "stat_t": "x"}),
        ("homeassistant/switch/wild/config", {"name": "Wild", "cmd_t": "a/#"}),
    )
    assert home.entities == {}
    for junk in (b"{not json", b"[1, 2]", b"\xff", b"[" * 100_000):
        with pytest.raises(BadDiscovery):
            home.discovered("homeassistant/light/junk/config", junk)


def test_clashing_names_get_home_assistants_suffixes_and_updates_keep_ids():
    a = ("homeassistant/switch/a/config", {"name": "Lamp", "cmd_t": "a/set", "uniq_id": "a"})
    b = ("homeassistant/switch/b/config", {"name": "Lamp", "cmd_t": "b/set", "uniq_id": "b"})
    home = home_with(a, b)
    assert sorted(home.entities) == ["switch.lamp", "switch.lamp_2"]
    assert not home.discovered(a[0], json.dumps({**a[1], "stat_t": "a/state"}).encode())  # names unchanged
    assert home.entities["switch.lamp"].option("state_topic") == "a/state"


@pytest.mark.parametrize("template, payload, value", [
    (None, "ON", "ON"),
    ("{{ value }}", "ON", "ON"),
    ("{{ value_json.state }}", '{"state": "OFF"}', "OFF"),
    ("{{value_json['POWER']}}", '{"POWER": "ON"}', "ON"),
    ("{{ value_json.a.b }}", '{"a": {"b": 3}}', 3),
    ("{{ value_json.missing }}", '{"state": "OFF"}', None),
    ("{{ value_json.state }}", "[[[[", None),
    ("{% if value == '1' %}ON{% endif %}", "1", None),  # real Jinja is not evaluated
])
def test_simple_value_templates(template, payload, value):
    assert read_template(template, payload) == value


def test_commands_that_do_not_fit_the_device_are_refused():
    home = home_with(TASMOTA_SWITCH, (Z2M_LIGHT_TOPIC, Z2M_LIGHT))
    with pytest.raises(CannotDo):
        plan_command(home.entities["switch.kitchen_plug_kettle"], "HassLightSet", {"brightness": 50})
    with pytest.raises(CannotDo):
        plan_command(home.entities["light.hallway"], "HassLightSet", {"color": "plaid"})
    with pytest.raises(CannotDo):
        plan_command(home.entities["light.hallway"], "HassLightSet", {"brightness": 150})
    with pytest.raises(CannotDo):
        plan_command(home.entities["light.hallway"], "HassVacuumStart", {})


def test_brighter_and_dimmer_step_from_the_last_brightness_seen():
    home = home_with((Z2M_LIGHT_TOPIC, Z2M_LIGHT))
    home.state_received("zigbee2mqtt/Hallway", b'{"state": "ON", "brightness": 127}')  # 50 %
    assert published(home, "light.hallway", "HassLightSet", brightness_step_pct=25) == [
        ("zigbee2mqtt/Hallway/set", '{"state": "ON", "brightness": 190}')]
    assert published(home, "light.hallway", "HassLightSet", brightness_step_pct=-75) == [
        ("zigbee2mqtt/Hallway/set", '{"state": "OFF"}')]
    assert published(home, "light.hallway", "HassLightSet", brightness="30") == [
        ("zigbee2mqtt/Hallway/set", '{"state": "ON", "brightness": 76}')]
