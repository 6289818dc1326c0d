"""Home Assistant's MQTT device-discovery payload, as its documentation describes it, as a checker.

Written from https://www.home-assistant.io/integrations/mqtt/ (device discovery, shared options)
and the pages of each MQTT platform used here (sensor, button, switch, number, select, text, event,
light with the JSON schema). Stricter than Home Assistant in one way on purpose: HA drops keys it
does not know *silently*, so a typo'd key would never show up as an error there; here every
unknown key is an error.

``problems(payload)`` returns a list of sentences; an empty list means the payload is valid.
"""

from __future__ import annotations

import re
from typing import Any, Callable

Check = Callable[[Any], bool]

_TOPIC_FORBIDDEN = re.compile(r"[+#\x00]")


def text(value: Any) -> bool:
    return isinstance(value, str)


def nonempty_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def publish_topic(value: Any) -> bool:
    """A topic one may publish to: non-empty, no wildcards, at most 65535 bytes."""
    return isinstance(value, str) and bool(value) and not _TOPIC_FORBIDDEN.search(value) \
        and len(value.encode()) <= 65535


def subscribe_topic(value: Any) -> bool:
    """A topic one may subscribe to: '+' only as a whole level, '#' only as the last level."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return False
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "+" in level and level != "+":
            return False
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
    return True


def boolean(value: Any) -> bool:
    return isinstance(value, bool)


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def qos(value: Any) -> bool:
    return value in (0, 1, 2) and not isinstance(value, bool)


def one_of(*allowed: Any) -> Check:
    return lambda value: value in allowed


def list_of_text(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value) \
        and len(set(value)) == len(value)


def icon(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^[a-z0-9-]+:[a-z0-9-]+$", value) is not None


def template(value: Any) -> bool:
    return isinstance(value, str)


AVAILABILITY = {"topic": subscribe_topic, "payload_available": text, "payload_not_available": text,
                "value_template": template}

# Options every MQTT entity documents.
ENTITY_OPTIONS: dict[str, Check] = {
    "availability": lambda v: isinstance(v, list) and all(isinstance(a, dict) and "topic" in a for a in v),
    "availability_mode": one_of("all", "any", "latest"),
    "availability_template": template,
    "availability_topic": subscribe_topic,
    "enabled_by_default": boolean,
    "encoding": text,
    "entity_category": one_of("config", "diagnostic"),
    "entity_picture": text,
    "icon": icon,
    "json_attributes_template": template,
    "json_attributes_topic": subscribe_topic,
    "name": lambda v: v is None or isinstance(v, str),
    "object_id": text,
    "default_entity_id": text,
    "payload_available": text,
    "payload_not_available": text,
    "qos": qos,
    "unique_id": nonempty_text,
    "platform": text,
}

SENSOR_DEVICE_CLASSES = {
    "apparent_power", "aqi", "area", "atmospheric_pressure", "battery", "blood_glucose_concentration",
    "carbon_dioxide", "carbon_monoxide", "conductivity", "current", "data_rate", "data_size", "date",
    "distance", "duration", "energy", "energy_distance", "energy_storage", "enum", "frequency", "gas",
    "humidity", "illuminance", "irradiance", "moisture", "monetary", "nitrogen_dioxide", "nitrogen_monoxide",
    "nitrous_oxide", "ozone", "ph", "pm1", "pm10", "pm25", "power", "power_factor", "precipitation",
    "precipitation_intensity", "pressure", "reactive_power", "signal_strength", "sound_pressure", "speed",
    "sulphur_dioxide", "temperature", "timestamp", "volatile_organic_compounds",
    "volatile_organic_compounds_parts", "voltage", "volume", "volume_flow_rate", "volume_storage", "water",
    "weight", "wind_direction", "wind_speed",
}
COLOR_MODES = {"onoff", "brightness", "color_temp", "hs", "xy", "rgb", "rgbw", "rgbww", "white"}

# Per platform: (required options, optional options) beyond ENTITY_OPTIONS.
PLATFORMS: dict[str, tuple[dict[str, Check], dict[str, Check]]] = {
    "sensor": ({"state_topic": subscribe_topic}, {
        "device_class": one_of(*SENSOR_DEVICE_CLASSES), "expire_after": positive_int, "force_update": boolean,
        "last_reset_value_template": template, "options": list_of_text, "state_class": one_of(
            "measurement", "measurement_angle", "total", "total_increasing"),
        "suggested_display_precision": lambda v: isinstance(v, int) and v >= 0,
        "unit_of_measurement": text, "value_template": template}),
    "button": ({"command_topic": publish_topic}, {
        "command_template": template, "device_class": one_of("identify", "restart", "update"),
        "payload_press": text, "retain": boolean}),
    "switch": ({"command_topic": publish_topic}, {
        "command_template": template, "device_class": one_of("outlet", "switch"), "optimistic": boolean,
        "payload_off": text, "payload_on": text, "retain": boolean, "state_off": text, "state_on": text,
        "state_topic": subscribe_topic, "value_template": template}),
    "number": ({"command_topic": publish_topic}, {
        "command_template": template, "device_class": text, "max": number, "min": number,
        "mode": one_of("auto", "box", "slider"), "optimistic": boolean, "payload_reset": text, "retain": boolean,
        "state_topic": subscribe_topic, "step": lambda v: number(v) and v >= 0.001,
        "unit_of_measurement": text, "value_template": template}),
    "select": ({"command_topic": publish_topic, "options": list_of_text}, {
        "command_template": template, "optimistic": boolean, "retain": boolean, "state_topic": subscribe_topic,
        "value_template": template}),
    "text": ({"command_topic": publish_topic}, {
        "command_template": template, "max": lambda v: isinstance(v, int) and 0 <= v <= 255,
        "min": lambda v: isinstance(v, int) and 0 <= v <= 255, "mode": one_of("text", "password"),
        "pattern": text, "retain": boolean, "state_topic": subscribe_topic, "value_template": template}),
    "event": ({"state_topic": subscribe_topic, "event_types": list_of_text}, {
        "device_class": one_of("button", "doorbell", "motion"), "value_template": template}),
    "light": ({"command_topic": publish_topic, "schema": one_of("json")}, {
        "brightness": boolean, "brightness_scale": positive_int, "effect": boolean, "effect_list": list_of_text,
        "flash": boolean, "flash_time_long": positive_int, "flash_time_short": positive_int,
        "max_kelvin": positive_int, "min_kelvin": positive_int, "color_temp_kelvin": boolean,
        "optimistic": boolean, "retain": boolean, "state_topic": subscribe_topic,
        "supported_color_modes": lambda v: isinstance(v, list) and bool(v) and set(v) <= COLOR_MODES,
        "transition": boolean, "white_scale": positive_int}),
}

DEVICE = {"identifiers": lambda v: isinstance(v, (str, list)) and bool(v), "connections": list,
          "configuration_url": text, "hw_version": text, "manufacturer": text, "model": text, "model_id": text,
          "name": text, "serial_number": text, "suggested_area": text, "sw_version": text, "via_device": text}
ORIGIN = {"name": nonempty_text, "sw_version": text, "support_url": text}
# Options of the device payload itself; the shared ones are inherited by every component.
SHARED = {"availability": ENTITY_OPTIONS["availability"], "availability_mode": ENTITY_OPTIONS["availability_mode"],
          "availability_template": template, "availability_topic": subscribe_topic,
          "command_topic": publish_topic, "payload_available": text, "payload_not_available": text,
          "state_topic": subscribe_topic}
DEVICE_PAYLOAD = {**SHARED, "device": dict, "origin": dict, "components": dict, "qos": qos, "encoding": text}


def _check_keys(where: str, data: dict[str, Any], allowed: dict[str, Check], required: dict[str, Check],
                found: list[str]) -> None:
    for key, check in required.items():
        if key not in data:
            found.append(f"{where}: missing required {key!r}")
    for key, value in data.items():
        check = required.get(key) or allowed.get(key)
        if check is None:
            found.append(f"{where}: unknown option {key!r}")
        elif check in (dict, list):
            if not isinstance(value, check):
                found.append(f"{where}: {key!r} must be a {check.__name__}")
        elif not check(value):
            found.append(f"{where}: {key!r} = {value!r} is not valid")


def _component_rules(where: str, platform: str, config: dict[str, Any], found: list[str]) -> None:
    """The rules between options that the documentation states in words."""
    if platform == "sensor":
        if config.get("options") is not None and config.get("device_class") != "enum":
            found.append(f"{where}: options need device_class enum")
        if config.get("device_class") == "enum" and ("unit_of_measurement" in config or "state_class" in config):
            found.append(f"{where}: an enum sensor has no unit or state class")
    if platform == "number":
        low, high = config.get("min", 1), config.get("max", 100)
        if not low < high:
            found.append(f"{where}: min {low} is not below max {high}")
    if platform == "text":
        if not config.get("min", 0) <= config.get("max", 255):
            found.append(f"{where}: min is above max")
    if platform == "light":
        modes = set(config.get("supported_color_modes") or [])
        if modes & {"onoff", "brightness"} and len(modes) > 1:
            found.append(f"{where}: onoff and brightness must be the only color mode")
        if config.get("brightness") is False and modes - {"onoff"}:
            found.append(f"{where}: colour modes imply brightness")


def problems(payload: Any) -> list[str]:
    """Everything wrong with a device discovery payload (empty when valid)."""
    found: list[str] = []
    if not isinstance(payload, dict):
        return ["payload is not a JSON object"]
    _check_keys("device payload", payload, DEVICE_PAYLOAD, {"device": dict, "origin": dict, "components": dict},
                found)
    device = payload.get("device")
    if isinstance(device, dict):
        _check_keys("device", device, DEVICE, {}, found)
        if not device.get("identifiers") and not device.get("connections"):
            found.append("device: needs identifiers or connections")
    if isinstance(payload.get("origin"), dict):
        _check_keys("origin", payload["origin"], ORIGIN, {"name": nonempty_text}, found)
    components = payload.get("components")
    if not isinstance(components, dict) or not components:
        return found + ["components: none"]
    unique_ids: set[str] = set()
    for component_id, config in components.items():
        where = f"components.{component_id}"
        if not re.match(r"^[a-zA-Z0-9_-]+$", component_id):
            found.append(f"{where}: component ids are letters, digits, '_' and '-'")
        if not isinstance(config, dict):
            found.append(f"{where}: not an object")
            continue
        platform = config.get("platform")
        if platform not in PLATFORMS:
            found.append(f"{where}: platform {platform!r} is not one this checker knows")
            continue
        merged = {**{k: v for k, v in payload.items() if k in SHARED}, **config}
        required, optional = PLATFORMS[platform]
        _check_keys(where, merged, {**ENTITY_OPTIONS, **optional}, required, found)
        _component_rules(where, platform, merged, found)
        unique_id = config.get("unique_id")
        if not unique_id:
            found.append(f"{where}: device-based discovery needs a unique_id")
        elif unique_id in unique_ids:
            found.append(f"{where}: unique_id {unique_id!r} is used twice")
        unique_ids.add(unique_id)
    return found
