"""The home's devices, as other integrations announced them over MQTT discovery.

zigbee2mqtt, Tasmota, ESPHome and others publish retained discovery configs on the hub broker
(``homeassistant/<component>/[<node_id>/]<object_id>/config`` and, newer, one
``homeassistant/device/<id>/config`` per device). Those configs carry the command and state topics
of each light, switch, fan, cover, lock, scene and thermostat, so the speaker can switch them
itself with no setup on the hub side. :class:`HomeDirectory` keeps that list and the last state
seen on each entity's state topics.

>>> home = HomeDirectory()
>>> home.discovered("homeassistant/light/0x01/light/config",
...     b'{"name": null, "object_id": "hallway", "schema": "json", "command_topic": "z2m/Hallway/set",'
...     b' "state_topic": "z2m/Hallway", "device": {"name": "Hallway", "identifiers": ["0x01"]}}')
True
>>> home.state_received("z2m/Hallway", b'{"state": "ON", "brightness": 254}')
True
>>> home.entities["light.hallway"].state, home.entities["light.hallway"].attributes
('on', {'brightness': 100})
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from .abbreviations import ABBREVIATIONS, DEVICE_ABBREVIATIONS

_LOGGER = logging.getLogger(__name__)

DOMAINS = ("light", "switch", "fan", "cover", "lock", "scene", "climate")
DISCOVERY_PAYLOAD_MAX_BYTES = 64 * 1024  # a single device's config is a few kB; more is junk
STATE_PAYLOAD_MAX_BYTES = 16 * 1024
TOPIC_BASE = "~"
# Options a device-based discovery payload shares with its components (HA's SHARED_OPTIONS).
SHARED_OPTIONS = ("availability", "availability_mode", "availability_template", "availability_topic",
                  "command_topic", "payload_available", "payload_not_available", "state_topic")
_DISCOVERY_TOPIC_RE = re.compile(
    r"^(?P<prefix>.+?)/(?P<component>[\w-]+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$"
)
# The templates integrations actually use for state: {{ value }}, {{ value_json.a.b }}, {{ value_json['a'] }}.
_TEMPLATE_RE = re.compile(r"^\{\{\s*value(?P<json>_json(?P<path>(?:\.\w+|\[\s*'[^']*'\s*\]|\[\s*\"[^\"]*\"\s*\])*))?\s*\}\}$")
_PATH_PART_RE = re.compile(r"\.(\w+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]")
DEFAULT_NAMES = {"light": "MQTT Light", "switch": "MQTT Switch", "fan": "MQTT Fan", "cover": "MQTT Cover",
                 "lock": "MQTT Lock", "scene": "MQTT Scene", "climate": "MQTT HVAC"}


class BadDiscovery(ValueError):
    """A discovery config this bridge cannot use (not JSON, no command topic, unknown schema)."""


def slugify(text: str) -> str:
    """Home Assistant's entity-id slug: 'Hallway Light' -> 'hallway_light'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unnamed"


def expand_abbreviations(config: dict[str, Any]) -> dict[str, Any]:
    """The config with Home Assistant's abbreviations spelled out (in device and availability too)."""
    config = {ABBREVIATIONS.get(key, key): value for key, value in config.items()}
    if isinstance(config.get("device"), dict):
        config["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in config["device"].items()}
    return config


def replace_topic_base(config: dict[str, Any]) -> dict[str, Any]:
    """Expand '~' at the start or end of every *_topic option, as Home Assistant does."""
    base = config.pop(TOPIC_BASE, None)
    if not isinstance(base, str):
        return config
    for key, value in list(config.items()):
        if key.endswith("topic") and isinstance(value, str) and value:
            if value.startswith(TOPIC_BASE):
                config[key] = base + value[1:]
            elif value.endswith(TOPIC_BASE):
                config[key] = value[:-1] + base
    return config


def read_template(template: Any, payload: str) -> Any:
    """The value a simple Home Assistant value template picks out of a payload, or None.

    Full Jinja is not evaluated here; the forms integrations use for state are: no template,
    ``{{ value }}``, ``{{ value_json.state }}``, ``{{ value_json['POWER'] }}``.
    """
    if template is None:
        return payload
    match = _TEMPLATE_RE.match(str(template).strip())
    if match is None:
        return None
    if not match.group("json"):
        return payload
    try:
        value: Any = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    for part in _PATH_PART_RE.finditer(match.group("path") or ""):
        key = next(g for g in part.groups() if g is not None)
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _topic(value: Any) -> str | None:
    """A topic one may publish to: text, no wildcards, not absurdly long."""
    if isinstance(value, str) and value and len(value) < 1024 and "+" not in value and "#" not in value \
            and "\x00" not in value:
        return value
    return None


@dataclass
class HomeEntity:
    """One controllable thing in the home, from its discovery config; state is the last one seen."""

    entity_id: str
    domain: str
    name: str
    config: dict[str, Any]
    source: str  # discovery topic (+ component id for device payloads): what removes it again
    area: str | None = None
    device_class: str | None = None
    state: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def for_bus(self) -> dict[str, Any]:
        """The entity as HomeEntities lists it: names for the dialogue, no state."""
        entity = {"entity_id": self.entity_id, "name": self.name, "domain": self.domain, "aliases": [],
                  "area": self.area, "floor": None}
        if self.device_class:
            entity["device_class"] = self.device_class
        return entity

    def state_dict(self) -> dict[str, Any]:
        """The entity's state as HomeCommandResult.states carries it."""
        return {"state": self.state, **self.attributes}

    # -- state topics -----------------------------------------------------------------------

    def state_topics(self) -> dict[str, list[str]]:
        """topic -> roles, for every topic this entity reports state on (one JSON topic may carry several)."""
        roles = {
            "state": self.option("state_topic"),
            "brightness": self.option("brightness_state_topic") if self.domain == "light" else None,
            "position": self.option("position_topic") if self.domain == "cover" else None,
            "percentage": self.option("percentage_state_topic") if self.domain == "fan" else None,
            "mode": self.option("mode_state_topic") if self.domain == "climate" else None,
            "current_temperature": self.option("current_temperature_topic") if self.domain == "climate" else None,
            "temperature": self.option("temperature_state_topic") if self.domain == "climate" else None,
        }
        if self.domain in ("scene", "climate"):
            roles.pop("state")  # scenes have none; climate's is the mode topic
        topics: dict[str, list[str]] = {}
        for role, topic in roles.items():
            if _topic(topic):  # no wildcards: "#" would pull the whole broker (and our own topics) in
                topics.setdefault(topic, []).append(role)
        return topics

    def apply_state(self, role: str, payload: str) -> bool:
        """Take in a state payload; True when the entity's state or attributes changed."""
        before = (self.state, dict(self.attributes))
        if role == "state":
            self._apply_main_state(payload)
        elif role == "brightness":
            value = _number(read_template(self.option("brightness_value_template"), payload))
            scale = _number(self.option("brightness_scale", 255)) or 255
            if value is not None:
                self.attributes["brightness"] = round(max(0.0, min(100.0, value / scale * 100)))
        elif role == "position":
            self._apply_position(read_template(self.option("position_template"), payload))
        elif role == "percentage":
            value = _number(read_template(self.option("percentage_value_template"), payload))
            if value is not None:
                self.attributes["percentage"] = value
        elif role == "mode":
            mode = read_template(self.option("mode_state_template"), payload)
            if isinstance(mode, str) and mode:
                self.state = mode[:64]
        elif role in ("current_temperature", "temperature"):
            value = _number(read_template(self.option(f"{role}_template" if role == "current_temperature"
                                                      else "temperature_state_template"), payload))
            if value is not None:
                self.attributes[role] = value
        return (self.state, self.attributes) != before

    def _apply_main_state(self, payload: str) -> None:
        if self.domain == "light" and self.option("schema") == "json":
            try:
                data = json.loads(payload)
            except (ValueError, RecursionError):
                return
            if not isinstance(data, dict):
                return
            if data.get("state") in ("ON", "OFF"):
                self.state = data["state"].lower()
            scale = _number(self.option("brightness_scale", 255)) or 255
            if (brightness := _number(data.get("brightness"))) is not None:
                self.attributes["brightness"] = round(max(0.0, min(100.0, brightness / scale * 100)))
            return
        template_key = "state_value_template" if self.domain == "light" else "value_template"
        value = read_template(self.option(template_key), payload)
        if value is None:
            return
        value = str(value)
        if self.domain in ("light", "switch", "fan"):
            on = self.option("state_on", self.option("payload_on", "ON"))
            off = self.option("state_off", self.option("payload_off", "OFF"))
            if value == str(on):
                self.state = "on"
            elif value == str(off):
                self.state = "off"
        elif self.domain == "cover":
            states = {self.option("state_open", "open"): "open", self.option("state_closed", "closed"): "closed",
                      self.option("state_opening", "opening"): "opening",
                      self.option("state_closing", "closing"): "closing",
                      self.option("state_stopped", "stopped"): "stopped"}
            if value in states:
                self.state = states[value]
            elif not self.option("position_topic"):
                self._apply_position(value)  # some covers report a position on the state topic
        elif self.domain == "lock":
            states = {self.option("state_locked", "LOCKED"): "locked",
                      self.option("state_unlocked", "UNLOCKED"): "unlocked",
                      self.option("state_locking", "LOCKING"): "locking",
                      self.option("state_unlocking", "UNLOCKING"): "unlocking",
                      self.option("state_jammed", "JAMMED"): "jammed",
                      self.option("state_open", "OPEN"): "open",
                      self.option("state_opening", "OPENING"): "opening"}
            if value in states:
                self.state = states[value]

    def _apply_position(self, raw: Any) -> None:
        position = _number(raw)
        if position is None:
            return
        opened = _number(self.option("position_open", 100))
        closed = _number(self.option("position_closed", 0))
        if opened is None or closed is None or opened == closed:
            return
        percent = round(max(0.0, min(100.0, (position - closed) / (opened - closed) * 100)))
        self.attributes["position"] = percent
        if self.option("state_topic") is None or self.state is None:
            self.state = "closed" if percent == 0 else "open"


def _entity_from_config(component: str, config: dict[str, Any], source: str) -> HomeEntity:
    """A HomeEntity from one component's expanded config; BadDiscovery if it cannot be controlled."""
    if component not in DOMAINS:
        raise BadDiscovery(f"{component} is not a kind of device the speaker controls")
    device = config.get("device") if isinstance(config.get("device"), dict) else {}
    device_name = _text(device.get("name"))
    entity_name = config.get("name", DEFAULT_NAMES[component])
    if entity_name is not None and not isinstance(entity_name, str):
        raise BadDiscovery("name is not text")
    if entity_name and device_name and entity_name != device_name:
        # Home Assistant's friendly name is "<device> <entity>", without the device name twice.
        if entity_name.lower().startswith(device_name.lower() + " "):
            name = entity_name
        else:
            name = f"{device_name} {entity_name}"
    else:
        name = entity_name or device_name or DEFAULT_NAMES[component]
    name = name.strip()[:100]
    if component == "light" and config.get("schema", "basic") not in ("basic", "default", "json"):
        raise BadDiscovery(f"light schema {config.get('schema')!r} (templates) is not supported")
    command_topic = _topic(config.get("command_topic"))
    if component == "cover":
        command_topic = command_topic or _topic(config.get("set_position_topic"))
    if component == "climate":
        command_topic = _topic(config.get("temperature_command_topic")) or _topic(config.get("mode_command_topic"))
    if command_topic is None:
        raise BadDiscovery(f"{name!r} has no command topic")
    object_id = None
    if isinstance(default_id := config.get("default_entity_id"), str) and "." in default_id:
        object_id = default_id.split(".", 1)[1]
    elif isinstance(config.get("object_id"), str):
        object_id = config["object_id"]
    entity_id = f"{component}.{slugify(object_id or name)}"
    area = _text(device.get("suggested_area"))
    device_class = _text(config.get("device_class"))
    return HomeEntity(entity_id, component, name, config, source, area=area, device_class=device_class)


def parse_discovery(topic: str, payload: bytes, discovery_prefix: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(component, source, config or None for removal) for each entity a discovery message names.

    BadDiscovery when the message is not usable at all.
    """
    match = _DISCOVERY_TOPIC_RE.match(topic)
    if match is None or match.group("prefix") != discovery_prefix:
        raise BadDiscovery(f"{topic!r:.120} is not a discovery topic")
    component = match.group("component")
    if len(payload) > DISCOVERY_PAYLOAD_MAX_BYTES:
        raise BadDiscovery(f"{len(payload)} bytes is too long for a discovery config")
    if not payload:
        return [(component, topic, None)]  # removed; for a device, every component under it
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadDiscovery("not JSON") from None
    if not isinstance(data, dict):
        raise BadDiscovery("not a JSON object")
    data = expand_abbreviations(data)
    if component != "device":
        return [(component, topic, replace_topic_base(data))]
    components = data.get("components")
    if not isinstance(components, dict):
        raise BadDiscovery("device payload without components")
    found: list[tuple[str, str, dict[str, Any] | None]] = []
    for component_id, raw in components.items():
        if not isinstance(raw, dict):
            continue
        config = expand_abbreviations(raw)
        platform = config.pop("platform", None)
        if not isinstance(platform, str):
            continue
        source = f"{topic}#{component_id}"
        if not config:
            found.append((platform, source, None))
            continue
        config["device"] = data.get("device")
        for option in SHARED_OPTIONS:
            if option in data and option not in config:
                config[option] = data[option]
        found.append((platform, source, replace_topic_base(config)))
    return found


class HomeDirectory:
    """The home's controllable entities (from discovery) and their last known state."""

    def __init__(self, discovery_prefix: str = "homeassistant", own_node: str | None = None) -> None:
        self.discovery_prefix = discovery_prefix
        self.own_node = own_node  # the speaker's own discovery payload is not part of the home
        self.entities: dict[str, HomeEntity] = {}
        self._by_source: dict[str, str] = {}
        self._state_topics: dict[str, list[tuple[str, str]]] = {}

    def discovered(self, topic: str, payload: bytes) -> bool:
        """Take in a discovery message; True when the list of entities (names, ids) changed.

        Raises BadDiscovery when the whole message is unusable.
        """
        if self.own_node and topic.split("/")[-2:-1] == [f"samantha_{self.own_node}"]:
            return False
        changed = False
        for component, source, config in parse_discovery(topic, payload, self.discovery_prefix):
            if config is None:
                changed |= self._remove_sources(source)
                continue
            try:
                entity = _entity_from_config(component, config, source)
            except BadDiscovery as err:
                if component in DOMAINS:
                    _LOGGER.info("Skipped %s from %s: %s", component, source, err)
                changed |= self._remove_sources(source)
                continue
            changed |= self._add(entity)
        return changed

    def _remove_sources(self, source: str) -> bool:
        """Forget the entity from source (and, for a device topic, every component under it)."""
        gone = [s for s in self._by_source if s == source or s.startswith(source + "#")]
        for s in gone:
            entity = self.entities.pop(self._by_source.pop(s), None)
            if entity is not None:
                self._unindex(entity)
        return bool(gone)

    def _add(self, entity: HomeEntity) -> bool:
        old_id = self._by_source.get(entity.source)
        old = self.entities.get(old_id) if old_id else None
        if old is not None:
            self.entities.pop(old.entity_id)
            self._unindex(old)
            entity.entity_id = old.entity_id if old.domain == entity.domain else entity.entity_id
            entity.state, entity.attributes = old.state, old.attributes  # an update keeps what we saw
        base, number = entity.entity_id, 2
        while entity.entity_id in self.entities:  # Home Assistant's rule for clashing ids
            entity.entity_id = f"{base}_{number}"
            number += 1
        self.entities[entity.entity_id] = entity
        self._by_source[entity.source] = entity.entity_id
        for topic, roles in entity.state_topics().items():
            self._state_topics.setdefault(topic, []).extend((entity.entity_id, role) for role in roles)
        return old is None or old.for_bus() != entity.for_bus()

    def _unindex(self, entity: HomeEntity) -> None:
        for topic in entity.state_topics():
            users = [u for u in self._state_topics.get(topic, []) if u[0] != entity.entity_id]
            if users:
                self._state_topics[topic] = users
            else:
                self._state_topics.pop(topic, None)

    def state_topics(self) -> set[str]:
        """Every topic the bridge must follow to know the home's state."""
        return set(self._state_topics)

    def state_received(self, topic: str, payload: bytes) -> bool:
        """Take in a state payload; True when some entity's state changed."""
        users = self._state_topics.get(topic)
        if not users or len(payload) > STATE_PAYLOAD_MAX_BYTES:
            return False
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return False
        changed = False
        for entity_id, role in users:
            entity = self.entities.get(entity_id)
            if entity is None:
                continue
            changed |= entity.apply_state(role, text)
        return changed

    def for_bus(self) -> list[dict[str, Any]]:
        """The entity list HomeEntities carries, sorted by id."""
        return [self.entities[entity_id].for_bus() for entity_id in sorted(self.entities)]

    def get(self, entity_ids: Iterable[str]) -> tuple[list[HomeEntity], list[str]]:
        """(known entities, unknown ids)."""
        known, unknown = [], []
        for entity_id in entity_ids:
            (known.append(self.entities[entity_id]) if entity_id in self.entities else unknown.append(entity_id))
        return known, unknown
