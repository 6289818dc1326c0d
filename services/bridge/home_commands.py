"""What to publish for a spoken home intent, per kind of device, the way Home Assistant's MQTT
integration would publish it.

Intent names are Home Assistant's (home-assistant-intents): HassTurnOn/HassTurnOff also open and
close covers and lock and unlock locks; HassLightSet sets brightness (percent) and colour;
HassSetPosition moves covers; HassFanSetSpeed sets a fan's percentage; HassClimateSetTemperature
sets a thermostat. HassGetState and HassClimateGetTemperature publish nothing: the answer comes
from the last state seen.

>>> from .home import HomeEntity
>>> light = HomeEntity("light.hallway", "light", "Hallway", {"schema": "json", "command_topic": "z/Hallway/set"}, "t")
>>> plan_command(light, "HassTurnOff", {})
Plan(publishes=[Publish(topic='z/Hallway/set', payload='{"state": "OFF"}', qos=0, retain=False)], expect=None)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .home import HomeEntity

QUERY_INTENTS = frozenset({"HassGetState", "HassClimateGetTemperature"})
COMMAND_INTENTS = frozenset({"HassTurnOn", "HassTurnOff", "HassToggle", "HassLightSet", "HassSetPosition",
                             "HassFanSetSpeed", "HassClimateSetTemperature"})
DEFAULT_MIN_TEMP_C, DEFAULT_MAX_TEMP_C = 7.0, 35.0
# The colour names people say most; the dialogue may also send {"rgb": [r, g, b]}.
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255), "warm white": (255, 197, 143), "red": (255, 0, 0), "green": (0, 255, 0),
    "blue": (0, 0, 255), "yellow": (255, 255, 0), "orange": (255, 165, 0), "purple": (128, 0, 128),
    "pink": (255, 192, 203), "cyan": (0, 255, 255), "magenta": (255, 0, 255), "violet": (238, 130, 238),
    "turquoise": (64, 224, 208), "gold": (255, 215, 0), "lime": (0, 255, 0), "indigo": (75, 0, 130),
    "brown": (165, 42, 42), "teal": (0, 128, 128), "lavender": (230, 230, 250), "coral": (255, 127, 80),
    "amber": (255, 191, 0), "black": (0, 0, 0),
}


class CannotDo(ValueError):
    """This entity cannot carry out this intent (wrong kind of device, missing topic, bad value)."""


@dataclass(frozen=True)
class Publish:
    """One MQTT publish to a device's command topic on the hub broker."""

    topic: str
    payload: str
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True)
class Plan:
    """The publishes that carry out an intent on one entity, and the states that confirm it."""

    publishes: list[Publish] = field(default_factory=list)
    expect: frozenset[str] | None = None  # None: no state will confirm it (scenes, no state topic)


def _publish(entity: HomeEntity, topic_key: str, payload: Any) -> Publish:
    topic = entity.option(topic_key)
    if not isinstance(topic, str) or not topic:
        raise CannotDo(f"{entity.name} has no {topic_key.replace('_', ' ')}")
    qos = entity.option("qos", 0)
    qos = qos if qos in (0, 1, 2) else 0
    return Publish(topic, payload if isinstance(payload, str) else json.dumps(payload), qos,
                   entity.option("retain") is True)


def _number(value: Any) -> float | None:
    """A finite number, also from text ("50"): slot values may arrive either way."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _percent(data: dict[str, Any], key: str, low: float = 0.0) -> float:
    value = _number(data.get(key))
    if value is None or not low <= value <= 100:
        raise CannotDo(f"{data.get(key)!r:.40} is not a percentage")
    return value


def _rgb(data: dict[str, Any]) -> tuple[int, int, int] | None:
    if isinstance(rgb := data.get("rgb"), list):
        if len(rgb) == 3 and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb):
            return rgb[0], rgb[1], rgb[2]
        raise CannotDo("that colour is not three values from 0 to 255")
    if (colour := data.get("color")) is None:
        return None
    if isinstance(colour, str) and colour.strip().lower() in COLOURS:
        return COLOURS[colour.strip().lower()]
    raise CannotDo(f"I don't know the colour {colour!r:.40}")


def _expect(entity: HomeEntity, *states: str) -> frozenset[str] | None:
    """States that confirm a command, when the entity reports state at all."""
    if entity.domain == "cover" and (entity.option("state_topic") or entity.option("position_topic")):
        return frozenset(states)
    return frozenset(states) if entity.option("state_topic") else None


def _on_off(entity: HomeEntity, turn_on: bool) -> Plan:
    domain = entity.domain
    if domain in ("light", "switch", "fan"):
        if domain == "light" and entity.option("schema") == "json":
            return Plan([_publish(entity, "command_topic", {"state": "ON" if turn_on else "OFF"})],
                        _expect(entity, "on" if turn_on else "off"))
        payload = entity.option("payload_on", "ON") if turn_on else entity.option("payload_off", "OFF")
        return Plan([_publish(entity, "command_topic", str(payload))], _expect(entity, "on" if turn_on else "off"))
    if domain == "cover":  # Home Assistant's intents: "open" is HassTurnOn, "close" HassTurnOff
        if entity.option("command_topic"):
            payload = entity.option("payload_open", "OPEN") if turn_on else entity.option("payload_close", "CLOSE")
            if payload is None:
                raise CannotDo(f"{entity.name} cannot be {'opened' if turn_on else 'closed'}")
            publish = _publish(entity, "command_topic", str(payload))
        else:
            position = entity.option("position_open", 100) if turn_on else entity.option("position_closed", 0)
            publish = _publish(entity, "set_position_topic", str(position))
        return Plan([publish], _expect(entity, *(("open", "opening") if turn_on else ("closed", "closing"))))
    if domain == "lock":  # "lock the front door" is HassTurnOn, "unlock" HassTurnOff
        payload = entity.option("payload_lock", "LOCK") if turn_on else entity.option("payload_unlock", "UNLOCK")
        return Plan([_publish(entity, "command_topic", str(payload))],
                    _expect(entity, *(("locked", "locking") if turn_on else ("unlocked", "unlocking"))))
    if domain == "scene":
        if not turn_on:
            raise CannotDo(f"{entity.name} is a scene; scenes can only be activated")
        return Plan([_publish(entity, "command_topic", str(entity.option("payload_on", "ON")))], None)
    if domain == "climate":
        modes = entity.option("modes", ["auto", "off", "cool", "heat", "dry", "fan_only"])
        modes = modes if isinstance(modes, list) else []
        if turn_on:
            mode = next((m for m in ("heat", "auto", "heat_cool", "cool") if m in modes), None)
        else:
            mode = "off" if "off" in modes else None
        if mode is None:
            raise CannotDo(f"{entity.name} cannot be turned {'on' if turn_on else 'off'}")
        return Plan([_publish(entity, "mode_command_topic", mode)],
                    frozenset({mode}) if entity.option("mode_state_topic") else None)
    raise CannotDo(f"{entity.name} cannot be turned {'on' if turn_on else 'off'}")


def _stepped_brightness(entity: HomeEntity, data: dict[str, Any]) -> float:
    """ "Brighter"/"dimmer": brightness_step_pct (+/-) from the last brightness seen."""
    step = _number(data.get("brightness_step_pct"))
    if step is None or not -100 <= step <= 100:
        raise CannotDo(f"{data.get('brightness_step_pct')!r:.40} is not a brightness step")
    current = entity.attributes.get("brightness")
    if current is None:
        current = 0 if entity.state == "off" else 100  # on at an unknown level: assume full
    return max(0.0, min(100.0, current + step))


def _light_set(entity: HomeEntity, data: dict[str, Any]) -> Plan:
    if entity.domain != "light":
        raise CannotDo(f"{entity.name} is not a light")
    if "brightness" in data:
        brightness: float | None = _percent(data, "brightness")
    elif "brightness_step_pct" in data:
        brightness = _stepped_brightness(entity, data)
    else:
        brightness = None
    rgb = _rgb(data)
    if brightness is None and rgb is None:
        raise CannotDo("I need a brightness or a colour to set")
    if brightness == 0:
        return _on_off(entity, False)
    scale = entity.option("brightness_scale", 255)
    scale = scale if isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale > 0 else 255
    level = None if brightness is None else max(1, round(brightness / 100 * scale))
    if entity.option("schema") == "json":
        command: dict[str, Any] = {"state": "ON"}
        if level is not None:
            command["brightness"] = level
        if rgb is not None:
            command["color"] = {"r": rgb[0], "g": rgb[1], "b": rgb[2]}
        return Plan([_publish(entity, "command_topic", command)], _expect(entity, "on"))
    publishes = []
    if level is not None:
        publishes.append(_publish(entity, "brightness_command_topic", str(level)))
    if rgb is not None:
        publishes.append(_publish(entity, "rgb_command_topic", ",".join(map(str, rgb))))
    return Plan(publishes, _expect(entity, "on"))


def _set_position(entity: HomeEntity, data: dict[str, Any]) -> Plan:
    if entity.domain != "cover":
        raise CannotDo(f"{entity.name} is not a cover")
    percent = _percent(data, "position")
    opened, closed = entity.option("position_open", 100), entity.option("position_closed", 0)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (opened, closed)):
        raise CannotDo(f"{entity.name} has no usable position range")
    position = round(closed + (opened - closed) * percent / 100)
    expect = ("closed", "closing") if percent == 0 else ("open", "opening")
    return Plan([_publish(entity, "set_position_topic", str(position))], _expect(entity, *expect))


def _fan_speed(entity: HomeEntity, data: dict[str, Any]) -> Plan:
    if entity.domain != "fan":
        raise CannotDo(f"{entity.name} is not a fan")
    percent = _percent(data, "percentage")
    if percent == 0:
        return _on_off(entity, False)
    low, high = entity.option("speed_range_min", 1), entity.option("speed_range_max", 100)
    if not (isinstance(low, int) and isinstance(high, int) and 0 < low <= high):
        raise CannotDo(f"{entity.name} has no usable speed range")
    # Home Assistant's percentage_to_ranged_value, rounded up as its MQTT fan does.
    value = math.ceil(low - 1 + (high - low + 1) * percent / 100)
    return Plan([_publish(entity, "percentage_command_topic", str(value))], _expect(entity, "on"))


def _set_temperature(entity: HomeEntity, data: dict[str, Any]) -> Plan:
    if entity.domain != "climate":
        raise CannotDo(f"{entity.name} is not a thermostat")
    value = _number(data.get("temperature"))
    if value is None:
        raise CannotDo(f"{data.get('temperature')!r:.40} is not a temperature")
    low = entity.option("min_temp", DEFAULT_MIN_TEMP_C)
    high = entity.option("max_temp", DEFAULT_MAX_TEMP_C)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and not low <= value <= high:
        raise CannotDo(f"{entity.name} goes from {low:g} to {high:g} degrees")
    return Plan([_publish(entity, "temperature_command_topic", f"{value:g}")], None)


def plan_command(entity: HomeEntity, intent: str, data: dict[str, Any]) -> Plan:
    """The publishes that carry out intent on entity; CannotDo when it cannot be done."""
    if intent in ("HassTurnOn", "HassTurnOff"):
        return _on_off(entity, intent == "HassTurnOn")
    if intent == "HassToggle":
        turned_on = entity.state in ("on", "open", "opening", "locked", "locking")
        return _on_off(entity, not turned_on)
    if intent == "HassLightSet":
        return _light_set(entity, data)
    if intent == "HassSetPosition":
        return _set_position(entity, data)
    if intent == "HassFanSetSpeed":
        return _fan_speed(entity, data)
    if intent == "HassClimateSetTemperature":
        return _set_temperature(entity, data)
    if intent in QUERY_INTENTS:
        return Plan()
    raise CannotDo(f"I can't do that with {entity.name}")
