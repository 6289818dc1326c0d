"""Every message on Samantha's local bus, typed and versioned, in one place.

Each message is a frozen dataclass with a ``TOPIC``; on the wire it is one JSON object, its fields
plus ``"v"`` (the message version). ``parse(topic, payload)`` turns what arrives into the right class
or raises :class:`BadMessage`, which services log and drop.

Try any of them by hand against a running bus (``samantha run`` prints the port)::

    mosquitto_pub -p PORT -t samantha/voice/say -m '{"text": "Hello, I am here."}'

The README's "Bus messages" table is generated from this module (``samantha messages``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar, Union

MESSAGE_VERSION = 1
TOPIC_PREFIX = "samantha/"
MAX_PAYLOAD_BYTES = 256 * 1024  # longer than any sentence or entity list; refuse the rest unread
MAX_ALTERNATIVES = 10  # readings of one utterance a recogniser may offer besides its best
MAX_TEXT_CHARS = 2000  # a spoken sentence; longer strings are bad input, not speech

M = TypeVar("M", bound="Message")


class BadMessage(ValueError):
    """A payload that does not fit its topic's message type."""


@dataclass(frozen=True)
class Message:
    """Base of every bus message."""

    TOPIC: ClassVar[str] = ""
    RETAIN: ClassVar[bool] = False  # retained messages are state: a late subscriber gets the last one
    EXAMPLE: ClassVar[str] = "{}"  # a payload to paste into mosquitto_pub

    def to_dict(self) -> dict[str, Any]:
        return {"v": MESSAGE_VERSION, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls: type[M], payload: bytes | str) -> M:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise BadMessage(f"{cls.__name__}: payload of {len(payload)} bytes is too large")
        try:
            data = json.loads(payload or "{}")
        except (ValueError, UnicodeDecodeError) as err:
            raise BadMessage(f"{cls.__name__}: not JSON ({err})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls: type[M], data: Any) -> M:
        if not isinstance(data, dict):
            raise BadMessage(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
        version = data.get("v", MESSAGE_VERSION)
        if version != MESSAGE_VERSION:
            raise BadMessage(f"{cls.__name__}: version {version!r} is not {MESSAGE_VERSION}")
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                kwargs[f.name] = _check(cls.__name__, f.name, data[f.name], hints[f.name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise BadMessage(f"{cls.__name__}: missing field {f.name!r}")
        message = cls(**kwargs)
        message.validate()
        return message

    def validate(self) -> None:
        """Checks beyond types (ranges); raise BadMessage."""


def _check(owner: str, name: str, value: Any, hint: Any) -> Any:
    """Return value if it fits the type hint (ints widen to float), else raise BadMessage."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    where = f"{owner}.{name}"
    if origin in (Union, types.UnionType):
        for arg in args:
            try:
                return _check(owner, name, value, arg)
            except BadMessage:
                continue
        raise BadMessage(f"{where}: {value!r:.80} is not {hint}")
    if hint is type(None):
        if value is None:
            return None
    elif origin is Literal:
        if value in args:
            return value
        raise BadMessage(f"{where}: {value!r:.80} is not one of {list(args)}")
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            if len(value) > MAX_TEXT_CHARS:
                raise BadMessage(f"{where}: text of {len(value)} characters is too long")
            return value
    elif origin is list or hint is list:
        if isinstance(value, list):
            return [_check(owner, name, item, args[0]) for item in value] if args else value
    elif origin is dict or hint is dict:
        if isinstance(value, dict):
            return value
    elif hint is Any:
        return value
    raise BadMessage(f"{where}: {value!r:.80} is not {getattr(hint, '__name__', hint)}")


# --- listener ------------------------------------------------------------------------------------

ListenSource = Literal["wake", "button", "hub", "follow_up", "command"]


@dataclass(frozen=True)
class WakeDetected(Message):
    """The wake word was heard."""

    TOPIC: ClassVar[str] = "samantha/listener/wake"
    EXAMPLE: ClassVar[str] = '{"wake_word": "hey_jarvis", "score": 0.93, "at": 1764140000.0}'
    wake_word: str
    score: float
    at: float  # seconds since the epoch, when the wake word ended


@dataclass(frozen=True)
class ListeningStarted(Message):
    """The listener is taking in a request."""

    TOPIC: ClassVar[str] = "samantha/listener/listening/started"
    EXAMPLE: ClassVar[str] = '{"source": "wake"}'
    source: ListenSource


@dataclass(frozen=True)
class ListeningEnded(Message):
    """The listener stopped taking in a request, and why."""

    TOPIC: ClassVar[str] = "samantha/listener/listening/ended"
    EXAMPLE: ClassVar[str] = '{"reason": "speech_end"}'
    reason: Literal["speech_end", "no_speech", "max_length", "cancelled", "muted"]


@dataclass(frozen=True)
class TranscriptPartial(Message):
    """What has been recognised so far, while the user is still speaking."""

    TOPIC: ClassVar[str] = "samantha/listener/transcript/partial"
    EXAMPLE: ClassVar[str] = '{"text": "set a timer"}'
    text: str


@dataclass(frozen=True)
class TranscriptReady(Message):
    """The final transcript of one request, with the recogniser's other readings of it (likeliest first)."""

    TOPIC: ClassVar[str] = "samantha/listener/transcript"
    EXAMPLE: ClassVar[str] = ('{"text": "set a timer for five minutes", "confidence": 0.9, "backend": "whisper", '
                              '"alternatives": ["set a timer for 5 minutes"], "alternative_confidences": [0.7]}')
    text: str
    confidence: float = 1.0
    backend: str = ""
    speech_ended_at: float = 0.0  # epoch seconds at the end of speech, for latency measurements
    follow_up: bool = False  # heard in a follow-up window (an answer to the device's question)
    # Other readings of the same speech, likeliest first, and the recogniser's confidence in each:
    # the dialogue takes the likeliest reading it understands, not just the first.
    alternatives: list[str] = field(default_factory=list)
    alternative_confidences: list[float] = field(default_factory=list)
    # The one reading (the text or an alternative) the recogniser wrote from the device's command
    # grammar rather than heard freely, if any: it is a command by construction, so its being one
    # is no sign it was heard right (services/spoken/confidence.py).
    grammar_reading: str = ""

    def validate(self) -> None:
        if len(self.alternatives) != len(self.alternative_confidences):
            raise BadMessage("TranscriptReady: alternatives and alternative_confidences differ in length")
        if len(self.alternatives) > MAX_ALTERNATIVES:
            raise BadMessage(f"TranscriptReady: more than {MAX_ALTERNATIVES} alternatives")


@dataclass(frozen=True)
class MuteState(Message):
    """Whether the microphone is muted (retained)."""

    TOPIC: ClassVar[str] = "samantha/listener/mute"
    RETAIN: ClassVar[bool] = True
    EXAMPLE: ClassVar[str] = '{"muted": false}'
    muted: bool


@dataclass(frozen=True)
class SetMute(Message):
    """Mute or unmute the microphone; muted, captured audio is not processed at all."""

    TOPIC: ClassVar[str] = "samantha/listener/mute/set"
    EXAMPLE: ClassVar[str] = '{"muted": true}'
    muted: bool


@dataclass(frozen=True)
class ListenNow(Message):
    """Start listening for a request without the wake word (button, hub, follow-up)."""

    TOPIC: ClassVar[str] = "samantha/listener/listen"
    EXAMPLE: ClassVar[str] = '{"source": "hub"}'
    source: ListenSource = "command"


@dataclass(frozen=True)
class StopListening(Message):
    """Cancel the request being listened to."""

    TOPIC: ClassVar[str] = "samantha/listener/stop"


@dataclass(frozen=True)
class SetWakeWord(Message):
    """Change the wake words and/or the detection threshold; omitted fields stay as they are."""

    TOPIC: ClassVar[str] = "samantha/listener/wake/set"
    EXAMPLE: ClassVar[str] = '{"wake_words": ["hey_jarvis"], "threshold": 0.5}'
    wake_words: list[str] | None = None
    threshold: float | None = None

    def validate(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise BadMessage(f"SetWakeWord.threshold: {self.threshold} is not between 0 and 1")


@dataclass(frozen=True)
class WakeWordState(Message):
    """The wake words in use and the threshold (retained)."""

    TOPIC: ClassVar[str] = "samantha/listener/wake/state"
    RETAIN: ClassVar[bool] = True
    EXAMPLE: ClassVar[str] = '{"wake_words": ["hey_jarvis"], "threshold": 0.5, "available": ["alexa", "hey_jarvis"]}'
    wake_words: list[str]
    threshold: float
    available: list[str] = field(default_factory=list)


# --- voice ---------------------------------------------------------------------------------------

Chime = Literal["wake", "done", "error", "timer"]


@dataclass(frozen=True)
class Say(Message):
    """Speak a sentence. With expect_reply the listener opens a follow-up window after it."""

    TOPIC: ClassVar[str] = "samantha/voice/say"
    EXAMPLE: ClassVar[str] = '{"text": "Hello, I am here."}'
    text: str
    id: str = ""
    expect_reply: bool = False

    def validate(self) -> None:
        if not self.text.strip():
            raise BadMessage("Say.text: nothing to say")


@dataclass(frozen=True)
class PlayChime(Message):
    """Play one of the device's sounds."""

    TOPIC: ClassVar[str] = "samantha/voice/chime"
    EXAMPLE: ClassVar[str] = '{"name": "done"}'
    name: Chime


@dataclass(frozen=True)
class StopSpeaking(Message):
    """Cut off whatever the speaker is saying or playing."""

    TOPIC: ClassVar[str] = "samantha/voice/stop"


@dataclass(frozen=True)
class SetVolume(Message):
    """Set the speaker volume, 0-100."""

    TOPIC: ClassVar[str] = "samantha/voice/volume/set"
    EXAMPLE: ClassVar[str] = '{"volume": 60}'
    volume: int

    def validate(self) -> None:
        if not 0 <= self.volume <= 100:
            raise BadMessage(f"SetVolume.volume: {self.volume} is not between 0 and 100")


@dataclass(frozen=True)
class VolumeState(Message):
    """The speaker volume, 0-100 (retained)."""

    TOPIC: ClassVar[str] = "samantha/voice/volume"
    RETAIN: ClassVar[bool] = True
    EXAMPLE: ClassVar[str] = '{"volume": 60}'
    volume: int


@dataclass(frozen=True)
class SpeakingStarted(Message):
    """The speaker started playing speech or a chime."""

    TOPIC: ClassVar[str] = "samantha/voice/speaking/started"
    EXAMPLE: ClassVar[str] = '{"id": "", "text": "Hello"}'
    id: str = ""
    text: str = ""


@dataclass(frozen=True)
class SpeakingFinished(Message):
    """The speaker went quiet again."""

    TOPIC: ClassVar[str] = "samantha/voice/speaking/finished"
    EXAMPLE: ClassVar[str] = '{"id": "", "interrupted": false}'
    id: str = ""
    interrupted: bool = False
    expect_reply: bool = False


# --- dialogue ------------------------------------------------------------------------------------

DeviceStateName = Literal[
    "idle", "wake", "listening", "thinking", "speaking", "muted", "error", "timer_ringing"
]


@dataclass(frozen=True)
class DeviceState(Message):
    """What the device as a whole is doing, for LEDs and the hub (retained)."""

    TOPIC: ClassVar[str] = "samantha/state"
    RETAIN: ClassVar[bool] = True
    EXAMPLE: ClassVar[str] = '{"state": "idle"}'
    state: DeviceStateName


@dataclass(frozen=True)
class IntentRecognized(Message):
    """What a transcript meant. intent is null when it was not understood."""

    TOPIC: ClassVar[str] = "samantha/dialogue/intent"
    EXAMPLE: ClassVar[str] = (
        '{"text": "turn off the kitchen light", "intent": "HassTurnOff", '
        '"slots": {"name": "kitchen light"}, "confidence": 0.98}'
    )
    text: str
    intent: str | None
    slots: dict = field(default_factory=dict)
    confidence: float = 0.0


@dataclass(frozen=True)
class TimerEvent(Message):
    """A timer or alarm changed: started, paused, resumed, cancelled, ringing, stopped."""

    TOPIC: ClassVar[str] = "samantha/dialogue/timer"
    EXAMPLE: ClassVar[str] = '{"timer_id": "t1", "name": "pasta", "event": "ringing", "seconds_left": 0}'
    timer_id: str
    event: Literal["started", "paused", "resumed", "cancelled", "ringing", "stopped", "updated"]
    name: str = ""
    seconds_left: float = 0.0
    kind: Literal["timer", "alarm"] = "timer"


@dataclass(frozen=True)
class HomeCommand(Message):
    """Ask the bridge to act on the home's entities; the answer comes as HomeCommandResult."""

    TOPIC: ClassVar[str] = "samantha/home/command"
    EXAMPLE: ClassVar[str] = (
        '{"request_id": "r1", "intent": "HassTurnOff", "entity_ids": ["light.kitchen"], "data": {}}'
    )
    request_id: str
    intent: str
    entity_ids: list[str]
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HomeCommandResult(Message):
    """The bridge's answer to a HomeCommand; states maps entity_id to its state where known."""

    TOPIC: ClassVar[str] = "samantha/home/result"
    EXAMPLE: ClassVar[str] = '{"request_id": "r1", "ok": true, "message": "", "states": {}}'
    request_id: str
    ok: bool
    message: str = ""
    states: dict = field(default_factory=dict)


@dataclass(frozen=True)
class HomeEntities(Message):
    """The home's entities the device can control (retained). Each: entity_id, name, domain,
    aliases, area, floor, and optionally state."""

    TOPIC: ClassVar[str] = "samantha/home/entities"
    RETAIN: ClassVar[bool] = True
    EXAMPLE: ClassVar[str] = (
        '{"entities": [{"entity_id": "light.kitchen", "name": "Kitchen light", "domain": "light", '
        '"area": "Kitchen"}]}'
    )
    entities: list[dict]


# --- panel ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ButtonPressed(Message):
    """The device's button was pressed: single, double, long (>= 1 s) or very long (>= 10 s)."""

    TOPIC: ClassVar[str] = "samantha/panel/button"
    EXAMPLE: ClassVar[str] = '{"press": "single"}'
    press: Literal["single", "double", "long", "very_long"]


# --- bridge: settings the hub can change, carried out by voice and panel ------------------------


@dataclass(frozen=True)
class SetWakeSound(Message):
    """Play (or not) the chime when the wake word is heard; the voice service carries it out."""

    TOPIC: ClassVar[str] = "samantha/voice/wake_sound/set"
    EXAMPLE: ClassVar[str] = '{"enabled": false}'
    enabled: bool


@dataclass(frozen=True)
class WakeSoundState(Message):
    """Whether the wake chime plays (retained; published by the voice service)."""

    TOPIC: ClassVar[str] = "samantha/voice/wake_sound"
    RETAIN: ClassVar[bool] = True
    EXAMPLE: ClassVar[str] = '{"enabled": true}'
    enabled: bool


@dataclass(frozen=True)
class SetLight(Message):
    """The LED ring as a lamp while the device is idle: on/off, brightness 0-1, colour [r, g, b]
    0-255; omitted fields stay as they are. The panel service carries it out; device states
    (listening, speaking, ...) still show over it."""

    TOPIC: ClassVar[str] = "samantha/panel/light/set"
    EXAMPLE: ClassVar[str] = '{"on": true, "brightness": 0.4, "rgb": [255, 160, 60]}'
    on: bool | None = None
    brightness: float | None = None
    rgb: list[int] | None = None

    def validate(self) -> None:
        if self.brightness is not None and not 0.0 <= self.brightness <= 1.0:
            raise BadMessage(f"SetLight.brightness: {self.brightness} is not between 0 and 1")
        if self.rgb is not None and (len(self.rgb) != 3 or not all(0 <= c <= 255 for c in self.rgb)):
            raise BadMessage(f"SetLight.rgb: {self.rgb!r:.80} is not three values 0-255")


@dataclass(frozen=True)
class LightState(Message):
    """The LED ring lamp (retained; published by the panel service)."""

    TOPIC: ClassVar[str] = "samantha/panel/light"
    RETAIN: ClassVar[bool] = True
    EXAMPLE: ClassVar[str] = '{"on": true, "brightness": 0.4, "rgb": [255, 160, 60]}'
    on: bool
    brightness: float = 1.0
    rgb: list[int] = field(default_factory=lambda: [255, 255, 255])


# --- all services --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceError(Message):
    """Something a user should know went wrong (microphone unplugged, LEDs failed, hub unreachable)."""

    TOPIC: ClassVar[str] = "samantha/error"
    EXAMPLE: ClassVar[str] = '{"service": "listener", "message": "microphone unplugged, retrying"}'
    service: str
    message: str


ALL_MESSAGES: tuple[type[Message], ...] = tuple(
    cls for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, Message) and cls is not Message
)
MESSAGES_BY_TOPIC: dict[str, type[Message]] = {cls.TOPIC: cls for cls in ALL_MESSAGES}
assert len(MESSAGES_BY_TOPIC) == len(ALL_MESSAGES), "two messages share a topic"


def parse(topic: str, payload: bytes | str) -> Message:
    """The message for a topic and payload; BadMessage for unknown topics or bad payloads."""
    cls = MESSAGES_BY_TOPIC.get(topic)
    if cls is None:
        raise BadMessage(f"unknown topic {topic!r}")
    return cls.from_json(payload)
