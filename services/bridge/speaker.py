"""The speaker as a device in the hub: its topics, its Home Assistant discovery payload, what the
hub may ask of it, and the state it shows there.

Everything that crosses between the hub broker and the local bus passes through this module, and
only on the topics :class:`SpeakerTopics` names: hub commands are checked strictly here
(:func:`command_messages`) and become typed bus messages; bus messages become hub state
(:func:`hub_updates`). Anything else is refused.

>>> topics = SpeakerTopics("samantha", "kitchen")
>>> command_messages(topics, "samantha/kitchen/volume/set", b"40", ["hey_jarvis"])
[SetVolume(volume=40)]
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable

from ..messages import (
    ButtonPressed,
    DeviceState,
    DeviceStateName,
    IntentRecognized,
    LightState,
    ListenNow,
    Message,
    MuteState,
    Say,
    SetLight,
    SetMute,
    SetVolume,
    SetWakeSound,
    SetWakeWord,
    StopListening,
    StopSpeaking,
    TranscriptReady,
    VolumeState,
    WakeSoundState,
    WakeWordState,
)

SOFTWARE_VERSION = "0.1.0"
HA_STATE_MAX_CHARS = 255  # Home Assistant refuses longer states; the full text goes in attributes
ANNOUNCE_MAX_CHARS = 255  # the text entity's own limit in Home Assistant
HUB_PAYLOAD_MAX_BYTES = 4096  # any command payload longer than this is junk, refused unread
VOLUME_MIN, VOLUME_MAX = 0, 100
THRESHOLD_MIN, THRESHOLD_MAX, THRESHOLD_STEP = 0.05, 0.95, 0.05
DEFAULT_WAKE_WORDS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
BUTTON_EVENTS = ("single", "double", "long", "very_long")
DEVICE_STATES: tuple[str, ...] = DeviceStateName.__args__  # type: ignore[attr-defined]
ON, OFF, PRESS = "ON", "OFF", "PRESS"
# Plain ASCII decimal numbers only: no sign, "nan", "inf", "1e3", hex, junk around it, and no other
# scripts' digits (float() reads "٩" as 9; a fuzz test found that).
_NUMBER_RE = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,6})?$")
_CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class BadHubPayload(ValueError):
    """A hub command payload that is not exactly what its topic allows; nothing is carried out."""


@dataclass(frozen=True)
class SpeakerTopics:
    """Where this speaker's state and commands live on the hub broker: <prefix>/<node_id>/..."""

    prefix: str
    node_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.node_id}"

    def state(self, what: str) -> str:
        return f"{self.base}/{what}"

    def command(self, what: str) -> str:
        return f"{self.base}/{what}/set"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def intent(self) -> str:
        """Every recognised intent as JSON, for any hub to act on (documented in docs/bridge.md)."""
        return f"{self.base}/intent"

    @property
    def button(self) -> str:
        return f"{self.base}/button"

    @property
    def talk(self) -> str:
        return f"{self.base}/talk/press"

    @property
    def stop(self) -> str:
        return f"{self.base}/stop/press"

    @property
    def announce(self) -> str:
        return f"{self.base}/announce/set"

    def command_topics(self) -> list[str]:
        """Every topic the bridge takes commands on (and nothing else of its own)."""
        return [
            self.command("mute"), self.command("wake_sound"), self.command("volume"),
            self.command("wake_threshold"), self.command("wake_word"), self.command("light"),
            self.announce, self.talk, self.stop,
        ]


def _unique_id(topics: SpeakerTopics, key: str) -> str:
    return f"samantha_{topics.node_id}_{key}"


def discovery_topic(discovery_prefix: str, node_id: str) -> str:
    return f"{discovery_prefix}/device/samantha_{node_id}/config"


def discovery_payload(
    topics: SpeakerTopics, device_name: str, wake_words: Iterable[str] = DEFAULT_WAKE_WORDS
) -> dict[str, Any]:
    """Home Assistant's device-based discovery payload: one device, all its entities."""
    options = sorted(set(wake_words)) or list(DEFAULT_WAKE_WORDS)
    state, command = topics.state, topics.command

    def component(key: str, platform: str, name: str, **config: Any) -> tuple[str, dict[str, Any]]:
        return key, {"platform": platform, "name": name, "unique_id": _unique_id(topics, key), **config}

    components = dict([
        component("assist_state", "sensor", "Assist state", state_topic=state("assist_state"),
                  device_class="enum", options=list(DEVICE_STATES), icon="mdi:account-voice"),
        component("last_transcript", "sensor", "Last transcript", state_topic=state("transcript"),
                  json_attributes_topic=state("transcript/attributes"), icon="mdi:text-recognition"),
        component("last_intent", "sensor", "Last intent", state_topic=state("last_intent"),
                  json_attributes_topic=state("last_intent/attributes"), icon="mdi:head-lightbulb"),
        component("talk", "button", "Talk", command_topic=topics.talk, payload_press=PRESS,
                  icon="mdi:microphone-message"),
        component("stop", "button", "Stop", command_topic=topics.stop, payload_press=PRESS,
                  icon="mdi:stop-circle-outline"),
        component("mute", "switch", "Microphone mute", state_topic=state("mute"), command_topic=command("mute"),
                  payload_on=ON, payload_off=OFF, icon="mdi:microphone-off", entity_category="config"),
        component("wake_sound", "switch", "Wake sound", state_topic=state("wake_sound"),
                  command_topic=command("wake_sound"), payload_on=ON, payload_off=OFF, icon="mdi:bell-ring",
                  entity_category="config"),
        component("volume", "number", "Volume", state_topic=state("volume"), command_topic=command("volume"),
                  min=VOLUME_MIN, max=VOLUME_MAX, step=1, mode="slider", unit_of_measurement="%",
                  icon="mdi:volume-high"),
        component("wake_threshold", "number", "Wake word sensitivity threshold", state_topic=state("wake_threshold"),
                  command_topic=command("wake_threshold"), min=THRESHOLD_MIN, max=THRESHOLD_MAX,
                  step=THRESHOLD_STEP, mode="slider", icon="mdi:tune", entity_category="config"),
        component("wake_word", "select", "Wake word", state_topic=state("wake_word"),
                  command_topic=command("wake_word"), options=options, icon="mdi:account-voice",
                  entity_category="config"),
        component("announce", "text", "Announce", command_topic=topics.announce, min=1,
                  max=ANNOUNCE_MAX_CHARS, mode="text", icon="mdi:bullhorn"),
        component("button", "event", "Button", state_topic=topics.button, event_types=list(BUTTON_EVENTS),
                  device_class="button", icon="mdi:gesture-tap-button"),
        component("light", "light", "LED ring", schema="json", state_topic=state("light"),
                  command_topic=command("light"), brightness=True, brightness_scale=255,
                  supported_color_modes=["rgb"], icon="mdi:led-strip"),
    ])
    return {
        "device": {
            "identifiers": [f"samantha_{topics.node_id}"],
            "name": device_name,
            "manufacturer": "Samantha",
            "model": "Samantha voice companion",
            "sw_version": SOFTWARE_VERSION,
        },
        "origin": {"name": "samantha", "sw_version": SOFTWARE_VERSION},
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "components": components,
    }


# --- hub -> local bus ----------------------------------------------------------------------------


def _text(payload: bytes) -> str:
    if len(payload) > HUB_PAYLOAD_MAX_BYTES:
        raise BadHubPayload(f"{len(payload)} bytes is too long")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise BadHubPayload("not UTF-8 text") from None


def _on_off(payload: bytes) -> bool:
    text = _text(payload)
    if text not in (ON, OFF):
        raise BadHubPayload(f"{text!r:.40} is not {ON} or {OFF}")
    return text == ON


def _number(payload: bytes, low: float, high: float) -> float:
    text = _text(payload)
    if not _NUMBER_RE.match(text):
        raise BadHubPayload(f"{text!r:.40} is not a number")
    value = float(text)
    if not (math.isfinite(value) and low <= value <= high):
        raise BadHubPayload(f"{value} is not between {low} and {high}")
    return value


def _press(payload: bytes) -> None:
    if _text(payload) != PRESS:
        raise BadHubPayload(f"{payload[:40]!r} is not {PRESS}")


def _announcement(payload: bytes) -> str:
    text = _text(payload)
    if _CONTROL_CHARS_RE.search(text):
        raise BadHubPayload("control characters in the text")
    if not text.strip():
        raise BadHubPayload("nothing to say")
    if len(text) > ANNOUNCE_MAX_CHARS:
        raise BadHubPayload(f"{len(text)} characters is longer than {ANNOUNCE_MAX_CHARS}")
    return text.strip()


def _light(payload: bytes) -> SetLight:
    """Home Assistant's JSON light schema: {"state": "ON", "brightness": 0-255, "color": {r, g, b}}."""
    try:
        data = json.loads(_text(payload))
    except (ValueError, RecursionError):  # RecursionError: '[[[[...' nested too deep
        raise BadHubPayload("not JSON") from None
    if not isinstance(data, dict) or not data or set(data) - {"state", "brightness", "color", "color_mode", "transition"}:
        raise BadHubPayload("not a light command object")
    state = data.get("state")
    if state is not None and state not in (ON, OFF):
        raise BadHubPayload(f"state {state!r:.40} is not {ON} or {OFF}")
    brightness = data.get("brightness")
    if brightness is not None:
        if isinstance(brightness, bool) or not isinstance(brightness, (int, float)) or not 0 <= brightness <= 255:
            raise BadHubPayload(f"brightness {brightness!r:.40} is not 0-255")
        brightness = round(brightness / 255, 3)
    rgb = None
    if "color" in data:
        color = data["color"]
        if not isinstance(color, dict) or set(color) - {"r", "g", "b"} or len(color) != 3:
            raise BadHubPayload("color is not {r, g, b}")
        rgb = [color[c] for c in "rgb"]
        if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb):
            raise BadHubPayload(f"color {rgb!r:.60} is not three values 0-255")
    if state is None and brightness is None and rgb is None:
        raise BadHubPayload("nothing to change")
    # HA sends brightness/colour without "state" only together with turning on.
    on = True if state is None else state == ON
    return SetLight(on=on, brightness=brightness, rgb=rgb)


def command_messages(topics: SpeakerTopics, topic: str, payload: bytes, wake_words: Iterable[str]) -> list[Message]:
    """The bus messages a hub command asks for; BadHubPayload if the payload is not exactly valid.

    wake_words are the wake words the listener offers (the select's options).
    """
    if topic == topics.command("mute"):
        return [SetMute(muted=_on_off(payload))]
    if topic == topics.command("wake_sound"):
        return [SetWakeSound(enabled=_on_off(payload))]
    if topic == topics.command("volume"):
        value = _number(payload, VOLUME_MIN, VOLUME_MAX)
        if value != int(value):
            raise BadHubPayload(f"volume {value} is not a whole number")
        return [SetVolume(volume=int(value))]
    if topic == topics.command("wake_threshold"):
        value = _number(payload, THRESHOLD_MIN, THRESHOLD_MAX)
        return [SetWakeWord(threshold=round(value, 3))]
    if topic == topics.command("wake_word"):
        word = _text(payload)
        if word not in set(wake_words):
            raise BadHubPayload(f"{word!r:.40} is not one of the wake words")
        return [SetWakeWord(wake_words=[word])]
    if topic == topics.command("light"):
        return [_light(payload)]
    if topic == topics.announce:
        return [Say(text=_announcement(payload), id=f"hub-{time.time_ns()}")]
    if topic == topics.talk:
        _press(payload)
        return [ListenNow(source="hub")]
    if topic == topics.stop:
        _press(payload)
        return [StopSpeaking(), StopListening()]
    raise BadHubPayload(f"{topic!r:.80} is not a command topic of this speaker")


# --- local bus -> hub ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HubUpdate:
    """One publish to the hub: state is retained and replaces the previous value; events queue."""

    topic: str
    payload: str
    retain: bool


def _clip(text: str) -> str:
    return text if len(text) <= HA_STATE_MAX_CHARS else text[: HA_STATE_MAX_CHARS - 1] + "…"


def _state(topic: str, payload: str) -> HubUpdate:
    return HubUpdate(topic, payload, retain=True)


def hub_updates(topics: SpeakerTopics, message: Message, node_id: str) -> list[HubUpdate]:
    """What the hub should see of a local bus message (nothing for messages it does not mirror)."""
    state = topics.state
    if isinstance(message, DeviceState):
        return [_state(state("assist_state"), message.state)]
    if isinstance(message, TranscriptReady):
        attributes = {"text": message.text, "confidence": message.confidence, "backend": message.backend,
                      "follow_up": message.follow_up}
        return [_state(state("transcript"), _clip(message.text)),
                _state(state("transcript/attributes"), json.dumps(attributes, ensure_ascii=False))]
    if isinstance(message, IntentRecognized):
        event = {"node_id": node_id, "text": message.text, "intent": message.intent, "slots": message.slots,
                 "confidence": message.confidence, "at": round(time.time(), 3)}
        attributes = {"text": message.text, "slots": message.slots, "confidence": message.confidence}
        return [_state(state("last_intent"), _clip(message.intent or "unknown")),
                _state(state("last_intent/attributes"), json.dumps(attributes, ensure_ascii=False)),
                HubUpdate(topics.intent, json.dumps(event, ensure_ascii=False), retain=False)]
    if isinstance(message, MuteState):
        return [_state(state("mute"), ON if message.muted else OFF)]
    if isinstance(message, WakeSoundState):
        return [_state(state("wake_sound"), ON if message.enabled else OFF)]
    if isinstance(message, VolumeState):
        return [_state(state("volume"), str(message.volume))]
    if isinstance(message, WakeWordState):
        updates = [_state(state("wake_threshold"), f"{message.threshold:g}")]
        if message.wake_words:
            updates.append(_state(state("wake_word"), message.wake_words[0]))
        return updates
    if isinstance(message, LightState):
        light = {"state": ON if message.on else OFF, "brightness": round(message.brightness * 255),
                 "color_mode": "rgb", "color": dict(zip("rgb", message.rgb))}
        return [_state(state("light"), json.dumps(light))]
    if isinstance(message, ButtonPressed):
        return [HubUpdate(topics.button, json.dumps({"event_type": message.press}), retain=False)]
    return []
