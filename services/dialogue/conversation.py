"""The conversation: from what was understood to what Samantha does and says.

One :class:`Conversation` holds what a conversation needs to remember between turns: the
question waiting for an answer ("for how long?"), the last thing done (so "cancel that", "and the
bedroom too" and "make it brighter" refer back), the last reply (for "say that again"), the user's
name. Skills (timers, alarms, memory, the home) do the work; replies come from responses.py.

It knows nothing of the bus: it is given a ``publish`` function for device actions (timers
ringing, volume, home commands) and returns the reply to speak. That keeps it testable with plain
text in and text out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..messages import HomeCommandResult, Message, Say, SetMute, SetVolume, StopSpeaking
from .alarms import ALARM_INTENTS, Alarms
from .home_control import BRIGHTNESS_STEP_PCT, HOME_INTENTS, HomeControl, Resolution, Target, domain_in_words
from .memory import Memory, perspective
from .nlu import Home
from .responses import Responses, capitalize_first
from .ringing import Ringer, Ringing
from .settings import DialogueSettings
from .spoken import parse_number, say_clock, say_date, tokens
from .store import Store
from .timers import TIMER_INTENTS, Timers
from .turn import Question, Reply, Turn, asking

_LOGGER = logging.getLogger(__name__)

QUESTION_TTL_S = 30.0  # an answer after this long is a new request, not an answer
MAX_ATTEMPTS = 2  # ask again once when the answer made no sense, then let it go
MAX_NAME_WORDS = 3
FALLBACK_OVERRIDES_BELOW = 0.9  # model confidence under which a fallback pattern wins
DEFAULT_VOLUME = 70

# Intents for which the target is an entity in the home; other hub intents (weather, lists,
# broadcast) go to the hub without one.
TARGETED_INTENTS = frozenset({
    "HassTurnOn", "HassTurnOff", "HassToggle", "HassLightSet", "HassGetState", "HassClimateSetTemperature",
    "HassSetPosition", "HassFanSetSpeed", "HassMediaPause", "HassMediaUnpause", "HassMediaNext",
    "HassMediaPrevious", "HassVacuumStart", "HassVacuumReturnToBase", "HassLawnMowerDock",
    "HassLawnMowerStartMowing", "HassMediaPlayerMute", "HassMediaPlayerUnmute", "HassSetVolumeRelative",
    "HassSetVolume",
})

# Words that refer back to the previous request.
_ALSO_RE = re.compile(r"^(and|also|plus|what about|how about|and also)\b|\b(too|as well|also)$", re.I)
_BRIGHTER_RE = re.compile(r"\b(brighter|lighter)\b", re.I)
_DIMMER_RE = re.compile(r"\b(dimmer|darker|less bright)\b", re.I)
_IT_RE = re.compile(r"\b(it|them|that|those)\b", re.I)
_TURN_IT_RE = re.compile(r"\bturn (it|them|that) (on|off)\b|\bturn (on|off) (it|them|that)\b|\bswitch (it|them) (on|off)\b", re.I)
_AREA_WORDS_RE = re.compile(r"\bin the (?P<place>[a-z' ]+?)\s*[.!?]?$", re.I)
_THAT_RE = re.compile(r"\b(that|it)\b", re.I)
_FORGET_RE = re.compile(r"^\s*(please\s+)?forget\s+(about\s+)?(?P<query>.+?)\s*[.!?]?\s*$", re.I)
_NOT_A_QUERY = {"it", "that", "this", "about it", "about that", "it then", "that then"}
_EVERYTHING_RE = re.compile(r"^(everything|all|all of it|all about me|everything you know|everything about me)\b", re.I)
# Requests the model does not (yet) know, or knows only with doubt: incomplete ones ("set a timer",
# the conversation asks for what is missing), "forget X", and things people tell about themselves.
# Kept narrow: each matches the start of a request only.
_FALLBACK_INTENTS = (
    (re.compile(r"^(please\s+)?((can|could|would|will) you\s+)?(please\s+)?(set|start|make|create)\s+(me\s+)?"
                r"(a|an|another|the)?\s*([\w ]+\s)?timer\b", re.I), "HassStartTimer"),
    (re.compile(r"^(please\s+)?((can|could|would|will) you\s+)?(please\s+)?(set|make|create|add)\s+(me\s+)?"
                r"(a|an|another|the|my)?\s*alarm\b", re.I), "SamanthaSetAlarm"),
    (re.compile(r"^(please\s+)?remember\s+(something|this|that)\s*$", re.I), "SamanthaRemember"),
    (re.compile(r"^(please\s+)?forget\s+(about\s+)?(?!it\b|that\b|this\b)\w+", re.I), "SamanthaForget"),
    # Things people tell about themselves are worth keeping; the reply says what was kept.
    (re.compile(r"^(i (really |do |don't |do not )?(like|love|prefer|hate|dislike|take|drink)|i'?m allergic to|"
                r"i am allergic to)\b", re.I), "SamanthaRemember"),
    (re.compile(r"^my (?!name\b)[\w' ]{2,40}? (is|are) \w+", re.I), "SamanthaRemember"),
    (re.compile(r"^((how|what) do i (like|take|prefer|drink)|what am i allergic to)\b", re.I), "SamanthaRecall"),
)
# A verb that says what to do: "and turn on the bedroom too" is its own request.
_HOME_VERB_RE = re.compile(r"\b(turn|switch|open|close|shut|lock|unlock|set|dim|brighten|start|stop)\b", re.I)
_REMEMBER_WORDS_RE = re.compile(r"^(please\s+)?remember\b", re.I)
_YES_WORDS = {"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "correct", "right", "absolutely", "definitely",
              "please", "do", "go"}
_NO_WORDS = {"no", "nope", "nah", "don't", "dont", "not", "cancel", "stop"}
# Intents carried out even when heard unclearly: they only stop something, and "Did you mean: stop?"
# while the device talks is worse than stopping. Every other request, questions included, is read
# back first when unclear. (Questions used to be answered anyway, a wrong answer seeming cheaper than
# a question; measured, an unclear question is mostly a misheard one: on 937 clips of the device's
# own phrases, answering them would have given 32 right answers and 94 wrong, "what time is it" for a
# garbled command among them; bench/spoken_calibrate.py prints this per intent.)
UNCHECKED_INTENTS = frozenset({"SamanthaStop", "HassNevermind"})
# Requests that say what to set but not to what: "set the bedroom lights" (the recogniser lost "to
# fifty percent", or heard "to last" for "to max"). Carried out, the hub would turn the lights on or
# leave the heating as it is, which no one asked for; she asks for the value instead (her own volume
# asks the same way, in _on_HassSetVolume).
VALUE_SLOTS = {
    "HassLightSet": ("brightness", "brightness_step", "color", "temperature"),
    "HassClimateSetTemperature": ("temperature",),
}


def first_number(text: str) -> float | None:
    """The first number said in ``text`` ("fifty percent", "set it to 40"); "a" or "an" alone is
    no number here ("a bit lower" is not 1)."""
    words = tokens(text)
    for index, word in enumerate(words):
        parsed = parse_number(words, index)
        if parsed is not None and word not in ("a", "an"):
            return parsed[0]
    return None


def lacks_value(intent: str | None, slots: dict[str, Any]) -> bool:
    """Whether a request of ``intent`` with these slots says what to set but not to what."""
    names = VALUE_SLOTS.get(intent or "")
    return names is not None and all(slots.get(name) in (None, "") for name in names)


@dataclass
class LastHome:
    """The last home command, for "and the bedroom too", "make it brighter", "turn it off"."""

    intent: str
    target: Target
    data: dict[str, Any]
    at: float


# What she says when the model declined a request of the home (Understanding.declined).
_DECLINED_REPLIES = {"leaves_out": "cannot_leave_out", "set_time": "cannot_schedule"}


class Conversation:
    """Turns understood requests into actions and replies, remembering what was said."""

    def __init__(
        self,
        settings: DialogueSettings,
        store: Store,
        publish: Callable[[Message], None],
        home: Home,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        volume: int = DEFAULT_VOLUME,
        light_colors: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.store = store
        self.publish = publish
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone) if settings.timezone else local_zone()
        self.responses = Responses(seed=seed)
        self.ringer = Ringer(publish, settings.ring_interval_s, settings.ring_max_s, self._ring_stopped,
                             clock=clock)
        self.ringer.say = self._announce
        self.timers = Timers(self)
        self.alarms = Alarms(self)
        self.memory = Memory(store, settings.memory_match_min)
        self.home = HomeControl(home, publish, settings.home_command_timeout_s)
        self.light_colors = light_colors  # what answers "what should I set the light to?" by colour
        self.pending: Question | None = None
        self.last_reply = ""
        self.last_home: LastHome | None = None
        self._last_action: tuple[str, str, float] | None = None
        self.volume = int(store.value("volume") or volume)
        self.mic_muted = False
        self.speaking = False
        self.after_speaking: list[Message] = []  # sent when the current reply has been said

    # --- shared helpers for the skills ----------------------------------------------------------

    @property
    def user_name(self) -> str:
        return self.store.value("user_name") or ""

    def say(self, key: str, **fields: Any) -> str:
        """A reply sentence for key, addressing the user by name now and then."""
        fields.setdefault("user", self.user_name)
        return self.responses.say(key, **fields)

    def note_action(self, kind: str, item_id: str) -> None:
        self._last_action = (kind, item_id, self.clock())

    def recent_action(self, kind: str) -> str | None:
        """The id of the timer/alarm created last, if it was recent enough for "cancel that"."""
        if self._last_action is None:
            return None
        last_kind, item_id, at = self._last_action
        if last_kind != kind or self.clock() - at > self.settings.follow_up_context_s:
            return None
        return item_id

    def _announce(self, text: str) -> None:
        if text:
            self.publish(Say(text=text))

    def _ring_stopped(self, ringing: Ringing, why: str) -> None:
        if ringing.kind == "timer":
            self.timers.on_ring_stopped(ringing)
        else:
            self.alarms.on_ring_stopped(ringing)

    def stop_ringing(self) -> Reply:
        self.ringer.stop("voice")
        return Reply("")

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), tz=self.tz)

    async def run(self) -> None:
        """Watch timer and alarm deadlines for as long as the service runs."""
        await asyncio.gather(self.timers.run(), self.alarms.run())

    def on_home_result(self, result: HomeCommandResult) -> None:
        self.home.on_result(result)

    def set_home(self, home: Home) -> None:
        self.home.home = home

    # --- one turn -------------------------------------------------------------------------------

    async def respond(self, turn: Turn, check_first: bool = False) -> Reply:
        """What to do and say for one transcript.

        ``check_first``: the words may have been mis-heard (see services.spoken.worth_acting_on); a
        request that would change something is read back as a yes/no question and only carried
        out after a "yes".
        """
        if turn.intent is not None and turn.confidence < self.settings.min_confidence:
            turn.intent = None
        reply = await self._respond(turn, check_first)
        if reply.question is not None:
            reply.question.asked_at = self.clock()
            if self.pending is not None and reply.question.kind == self.pending.kind and reply.question is not self.pending:
                reply.question.attempts = self.pending.attempts
            self.pending = reply.question
        if reply.text and turn.intent != "SamanthaRepeat":
            self.last_reply = reply.text
        return reply

    async def _respond(self, turn: Turn, check_first: bool = False) -> Reply:
        pending = self.pending
        if pending is not None and self.clock() - pending.asked_at > QUESTION_TTL_S and not turn.follow_up:
            pending = self.pending = None
        if pending is not None and turn.intent == "SamanthaRepeat":
            return Reply(pending.text, pending)  # asked again, still waiting for the answer
        if pending is not None:
            if turn.intent in ("HassNevermind", "SamanthaStop") or (
                turn.intent == "SamanthaNo" and pending.kind not in ("yes_no", "heard_check")
            ):
                self.pending = None
                if turn.intent == "SamanthaStop" and self.ringer.active:
                    return self.stop_ringing()
                return Reply(self.say("nevermind"))
            self.pending = None
            answered = await pending.resume(turn)
            if answered is not None:
                return answered
            if turn.intent is None or turn.intent in ("SamanthaYes", "SamanthaNo"):
                pending.attempts += 1
                if pending.attempts >= MAX_ATTEMPTS:
                    return Reply(self.say("gave_up_question"))
                self.pending = pending
                text = self.say("not_understood_answer", question=pending.text)
                return Reply(text, pending)
            # A new request instead of an answer: the question is dropped.
        if check_first and turn.intent is not None and turn.intent not in UNCHECKED_INTENTS:
            return self._check_heard(turn)
        return await self._act(turn)

    def _check_heard(self, turn: Turn) -> Reply:
        """Read the request back and carry it out, exactly as understood, only after a yes."""
        heard = Turn(turn.text, turn.intent, dict(turn.slots), turn.confidence, turn.follow_up)
        _LOGGER.info("%r (%s) may be mis-heard: asking first", turn.text, turn.intent)

        async def answer(reply_turn: Turn) -> Reply | None:
            if reply_turn.intent not in (None, "SamanthaYes", "SamanthaNo", "HassNevermind", "SamanthaStop"):
                return None  # a new request instead of an answer ("please" in it is no "yes"): handled as one
            if _yes_or_no(reply_turn):
                return await self._act(heard)
            return Reply(self.say("check_dropped"))  # "no", or words that were no answer: let it go

        return asking(self.say("check_heard", request=turn.text.strip(" .!?,;")), "heard_check", answer)

    async def _act(self, turn: Turn) -> Reply:
        """Carry out a new request (not an answer to a question)."""
        referred = await self._refer_back(turn)
        if referred is not None:
            return referred
        fallback = self._fallback_intent(turn.text)
        if fallback is not None and (turn.intent is None or (
                turn.intent != fallback and turn.confidence < FALLBACK_OVERRIDES_BELOW)):
            # An unsure guess at a different intent loses to the plain start of a request.
            _LOGGER.info("%r: taking %s over the model's %s (%.2f)", turn.text, fallback, turn.intent,
                         turn.confidence)
            turn.intent, turn.slots = fallback, {}
            if fallback == "SamanthaRemember" and not _REMEMBER_WORDS_RE.match(turn.text):
                turn.slots = {"fact": turn.text}
            elif fallback == "SamanthaRecall":
                turn.slots = {"query": turn.text}
        if turn.intent is None:
            # "All the lights except the kitchen", "... at 7 pm": understood well enough to say why not.
            return Reply(self.say(_DECLINED_REPLIES.get(turn.declined, "not_understood")))
        return await self.dispatch(turn)

    def _fallback_intent(self, text: str) -> str | None:
        for pattern, intent in _FALLBACK_INTENTS:
            if pattern.search(text.strip()):
                return intent
        return None

    async def dispatch(self, turn: Turn) -> Reply:
        intent = turn.intent or ""
        handler = getattr(self, f"_on_{intent}", None)
        if handler is not None:
            return await handler(turn)
        if intent in TIMER_INTENTS:
            return await self.timers.handle(turn)
        if intent in ALARM_INTENTS:
            return await self.alarms.handle(turn)
        if intent in HOME_INTENTS or intent.startswith("Hass"):
            return await self.home_request(turn)
        if not intent.startswith("Samantha"):
            # The user's own intents (custom sentences) are the hub's to carry out.
            return await self._hub_request(intent, dict(turn.slots))
        _LOGGER.warning("No skill for intent %s", intent)
        return Reply(self.say("not_understood"))

    # --- referring back -------------------------------------------------------------------------

    def _recent_home(self) -> LastHome | None:
        last = self.last_home
        if last is None or self.clock() - last.at > self.settings.follow_up_context_s:
            return None
        return last

    async def _refer_back(self, turn: Turn) -> Reply | None:
        """ "and the bedroom too", "make it brighter", "turn it off": the last home request again."""
        last = self._recent_home()
        if last is None:
            return None
        text = turn.text.strip()
        has_target = bool(turn.slot_text("name") or turn.slot_text("area"))
        if (_BRIGHTER_RE.search(text) or _DIMMER_RE.search(text)) and not has_target and (
            turn.intent in (None, "HassLightSet", "SamanthaVolumeUp", "SamanthaVolumeDown") or _IT_RE.search(text)
        ):
            step = 1 if _BRIGHTER_RE.search(text) else -1
            return await self.carry_out("HassLightSet", last.target, {"brightness_step_pct": step * BRIGHTNESS_STEP_PCT},
                                        "brighter" if step > 0 else "dimmer")
        if _TURN_IT_RE.search(text) and not has_target:
            intent = "HassTurnOn" if re.search(r"\bon\b", text, re.I) else "HassTurnOff"
            return await self.home_on(intent, last.target, {})
        if turn.intent in ("HassTurnOn", "HassTurnOff") and not has_target and _IT_RE.search(text) and not turn.slot_text("domain"):
            return await self.home_on(turn.intent, last.target, {})
        if _ALSO_RE.search(text) and (
            turn.intent is None or turn.intent == last.intent
            or (turn.intent in HOME_INTENTS and not _HOME_VERB_RE.search(text))
        ):
            mentions = self.home.home.mentions(text)
            if not mentions:
                return None
            mention = mentions[0]
            slots: dict[str, Any] = {"domain": last.target.domain} if last.target.domain else {}
            slots["name" if mention.kind == "name" else "area"] = mention.value
            if mention.kind == "name":
                slots.pop("domain", None)
            resolution = self.home.resolve(slots, "")
            if resolution.target is None:
                return self._unresolved(resolution, last.intent, last.data)
            return await self.home_on(last.intent, resolution.target, dict(last.data))
        return None

    # --- the home -------------------------------------------------------------------------------

    async def home_request(self, turn: Turn) -> Reply:
        intent = turn.intent or ""
        data = {k: v for k, v in turn.slots.items() if k not in ("name", "area", "floor")}
        step = data.pop("brightness_step", None)
        if step in ("up", "down"):  # "make the kitchen light brighter"
            data["brightness_step_pct"] = BRIGHTNESS_STEP_PCT if step == "up" else -BRIGHTNESS_STEP_PCT
        if intent not in TARGETED_INTENTS and not turn.slot_text("name"):
            return await self._hub_request(intent, data)
        if not self.home.home.entities:
            return Reply(self.say("home_nothing_to_control"))
        said_area = _AREA_WORDS_RE.search(turn.text)
        if not turn.slot_text("area") and not turn.slot_text("name") and said_area:
            # "in the attic": a room the home does not have, which the model could not fill in.
            place = said_area.group("place")
            if (self.home.home.resolve("area", place) is None and self.home.home.resolve("floor", place) is None
                    and not self.home.entities_named(place) and not domain_in_words(place)):
                return self._unresolved(Resolution(unknown_area=place, domain=turn.slot_text("domain")), intent, data)
        resolution = self.home.resolve(turn.slots, turn.text)
        if resolution.target is None:
            if resolution.unknown_name == "that" and self._recent_home() is not None:
                return await self.home_on(intent, self._recent_home().target, data)  # type: ignore[union-attr]
            return self._unresolved(resolution, intent, data)
        if lacks_value(intent, turn.slots):
            return self._ask_value(intent, resolution.target, data)
        return await self.home_on(intent, resolution.target, data)

    def _ask_value(self, intent: str, target: Target, data: dict[str, Any]) -> Reply:
        """Ask what to set the target to; a number answers (brightness in percent, or degrees), and
        for a light so does a colour the model hears in the answer."""
        light = intent == "HassLightSet"

        async def answer(reply_turn: Turn) -> Reply | None:
            value: dict[str, Any] = {}
            color = reply_turn.slot_text("color") or next(
                (word for word in tokens(reply_turn.text) if word in self.light_colors), "")
            if light and color:
                value = {"color": color}
            else:
                number = first_number(reply_turn.text)
                if number is not None and (not light or 0 <= number <= 100):
                    value = {"brightness" if light else "temperature": int(number) if light else number}
            if not value:
                return None
            return await self.home_on(intent, target, {**data, **value})

        key = "home_ask_light_value" if light else "home_ask_temperature"
        return asking(self.say(key, target=target.spoken), "home_value", answer)

    def _unresolved(self, resolution: Resolution, intent: str, data: dict[str, Any]) -> Reply:
        if resolution.ask_area:
            async def answer(reply_turn: Turn) -> Reply | None:
                mentions = [m for m in self.home.home.mentions(reply_turn.text) if m.kind == "area"]
                area = mentions[0].value if mentions else self.home.home.resolve("area", reply_turn.text)
                if area is None:
                    return None
                again = self.home.resolve({"domain": resolution.domain, "area": area}, "")
                if again.target is None:
                    return self._unresolved(again, intent, data)
                return await self.home_on(intent, again.target, data)

            return asking(self.say("home_ask_which_room"), "home_area", answer)
        if resolution.unknown_area:
            words = {"light": "lights", "fan": "fans", "cover": "blinds or doors", "lock": "locks",
                     "switch": "switches"}.get(resolution.domain, "devices I can control")
            return Reply(self.say("home_unknown_area", domain_words=words, area=resolution.unknown_area.casefold()))
        return Reply(self.say("home_unknown_device", name=resolution.unknown_name))

    async def home_on(self, intent: str, target: Target, data: dict[str, Any]) -> Reply:
        """Carry out intent on target, asking first where a mistake would open the house."""
        if target.domain == "lock" and intent == "HassTurnOff" or (
            target.domain == "cover" and intent == "HassTurnOn" and "garage" in target.spoken
        ):
            key = "home_confirm_unlock" if target.domain == "lock" else "home_confirm_open"

            async def answer(reply_turn: Turn) -> Reply | None:
                yes = _yes_or_no(reply_turn)
                if yes is None:
                    return None
                if not yes:
                    return Reply(self.say("home_cancelled"))
                return await self.carry_out(intent, target, data)

            return asking(self.say(key, target=target.spoken), "yes_no", answer)
        return await self.carry_out(intent, target, data)

    async def carry_out(self, intent: str, target: Target, data: dict[str, Any], done_key: str = "") -> Reply:
        self.last_home = LastHome(intent, target, data, self.clock())
        result = await self.home.execute(intent, target, data)
        spoken = target.spoken
        if result is None:
            return Reply(self.say("home_timeout", target=spoken, target_cap=spoken))
        if not result.ok:
            message = result.message.strip()
            if message[:1].isupper():  # the bridge says what went wrong in a sentence of its own
                return Reply(message if message[-1] in ".!?" else message + ".")
            if message:
                return Reply(self.say("home_failed_reason", target=spoken, reason=message.rstrip(".")))
            return Reply(self.say("home_failed", target=spoken))
        fields = {"target": spoken, "target_cap": spoken}
        if done_key:
            return Reply(self.say(done_key, **fields))
        if intent == "HassGetState":
            return Reply(self._state_reply(target, result))
        domain = target.domain
        many = "_many" if target.plural else ""
        if intent in ("HassTurnOn", "HassTurnOff"):
            on = intent == "HassTurnOn"
            if domain == "lock":
                return Reply(self.say("locked" if on else "unlocked", **fields))
            if domain in ("cover", "valve"):
                return Reply(self.say("opened" if on else "closed", **fields))
            return Reply(self.say(("turned_on" if on else "turned_off") + many, **fields))
        if intent == "HassLightSet":
            if "brightness" in data:
                return Reply(self.say("brightness_set", brightness=_number_text(data["brightness"]), **fields))
            if "color" in data:
                return Reply(self.say("color_set", color=data["color"], **fields))
            if "brightness_step_pct" in data:
                return Reply(self.say("brighter" if data["brightness_step_pct"] > 0 else "dimmer", **fields))
        if intent == "HassClimateSetTemperature" and "temperature" in data:
            return Reply(self.say("temperature_set", temperature=_number_text(data["temperature"]), **fields))
        if result.message:
            return Reply(result.message)
        return Reply(self.say("home_done"))

    def _state_reply(self, target: Target, result: HomeCommandResult) -> str:
        states = [result.states.get(entity_id) for entity_id in target.entity_ids]
        known = []
        for state in states:
            if isinstance(state, dict):
                state = state.get("state")
            if state not in (None, "", "unknown", "unavailable"):
                known.append(str(state).replace("_", " "))
        if not known:
            if result.message:
                return result.message
            return self.say("home_state_unknown", target=target.spoken)
        state_text = known[0] if len(set(known)) == 1 else ", ".join(sorted(set(known)))
        return self.say("home_state", target=target.spoken, target_cap=target.spoken, state=state_text)

    async def _hub_request(self, intent: str, data: dict[str, Any]) -> Reply:
        """An intent for the hub with no entity of ours to name (weather, shopping list...)."""
        result = await self.home.execute(intent, Target([], "hub"), data)
        if result is None:
            return Reply(self.say("home_failed", target="hub"))
        if not result.ok:
            return Reply(result.message or self.say("home_failed", target="hub"))
        return Reply(result.message or self.say("home_done"))

    # --- the device itself ----------------------------------------------------------------------

    async def _on_SamanthaStop(self, turn: Turn) -> Reply:
        if self.ringer.active:
            return self.stop_ringing()
        if self.speaking:
            self.publish(StopSpeaking())
            return Reply("")
        return Reply(self.say("nothing_to_stop"))

    async def _on_HassNevermind(self, turn: Turn) -> Reply:
        forget = _FORGET_RE.match(turn.text)
        if forget and forget.group("query").casefold() not in _NOT_A_QUERY:
            return await self._on_SamanthaForget(Turn(turn.text, "SamanthaForget", {"query": forget.group("query")}))
        if self.ringer.active:
            return self.stop_ringing()
        if _THAT_RE.search(turn.text):
            timer_id = self.recent_action("timer")
            if timer_id and timer_id in self.timers.timers:
                return self.timers.cancel(self.timers.timers[timer_id])
            alarm_id = self.recent_action("alarm")
            if alarm_id and alarm_id in self.alarms.alarms:
                return self.alarms.cancel(self.alarms.alarms[alarm_id])
        if self.speaking:
            self.publish(StopSpeaking())
        return Reply(self.say("nevermind"))

    async def _on_SamanthaRepeat(self, turn: Turn) -> Reply:
        if not self.last_reply:
            return Reply(self.say("nothing_to_repeat"))
        return Reply(self.last_reply)

    async def _on_SamanthaWhatCanYouDo(self, turn: Turn) -> Reply:
        return Reply(self.say("what_can_you_do"))

    async def _on_HassGetCurrentTime(self, turn: Turn) -> Reply:
        text = say_clock(self.now())
        return Reply(self.say("time", time=text, time_cap=text))

    async def _on_HassGetCurrentDate(self, turn: Turn) -> Reply:
        return Reply(self.say("date", date=say_date(self.now().date())))

    # --- volume and mute ------------------------------------------------------------------------

    def set_volume(self, volume: int) -> None:
        self.volume = max(0, min(100, volume))
        self.store.set_value("volume", str(self.volume))
        self.publish(SetVolume(volume=self.volume))

    def on_volume_state(self, volume: int) -> None:
        self.volume = volume

    async def _on_HassSetVolume(self, turn: Turn) -> Reply:
        if turn.slot_text("name") or turn.slot_text("area"):
            return await self.home_request(turn)  # another speaker in the home, not this one
        value = turn.slot("volume", turn.slot("volume_level"))
        number: float | None
        try:
            number = float(str(value).rstrip("%")) if value not in (None, "") else None
        except ValueError:
            number = None
        if number is None:
            number = first_number(turn.text)
        if number is not None and re.search(r"\bminus\b|\bnegative\b|(^|\s)-\d", turn.text, re.I):
            number = -abs(number)  # the recogniser's number may have lost its sign
        if number is None:
            return asking(self.say("ask_volume"), "volume", self._volume_answer)
        if not 0 <= number <= 100:
            return asking(self.say("volume_bad"), "volume", self._volume_answer)
        self.set_volume(int(round(number)))
        self.store.set_value("volume_before_mute", None)
        return Reply(self.say("volume_set", volume=self.volume))

    async def _volume_answer(self, turn: Turn) -> Reply | None:
        words = tokens(turn.text)
        if not any(parse_number(words, i) for i in range(len(words))):
            return None
        return await self._on_HassSetVolume(Turn(turn.text, "HassSetVolume", {}))

    async def _on_SamanthaVolumeUp(self, turn: Turn) -> Reply:
        if self.volume >= 100:
            return Reply(self.say("volume_max"))
        self.set_volume(self.volume + self.settings.volume_step)
        return Reply(self.say("volume_up", volume=self.volume))

    async def _on_SamanthaVolumeDown(self, turn: Turn) -> Reply:
        if self.volume <= self.settings.volume_step:
            return Reply(self.say("volume_min"))
        self.set_volume(self.volume - self.settings.volume_step)
        return Reply(self.say("volume_down", volume=self.volume))

    async def _on_SamanthaMute(self, turn: Turn) -> Reply:
        if re.search(r"\blisten", turn.text, re.I):
            # The microphone: once muted, only the button or the hub can unmute it.
            self.after_speaking.append(SetMute(muted=True))
            return Reply(self.say("mic_muted"))
        if self.volume > 0:
            self.store.set_value("volume_before_mute", str(self.volume))
        # Say it first, then go quiet: the volume changes when the reply has been spoken.
        self.volume = 0
        self.after_speaking.append(SetVolume(volume=0))
        return Reply(self.say("speaker_muted"))

    async def _on_SamanthaUnmute(self, turn: Turn) -> Reply:
        before = self.store.value("volume_before_mute")
        if self.mic_muted:
            self.publish(SetMute(muted=False))
        if before is None and self.volume > 0:
            return Reply(self.say("already_unmuted"))
        self.set_volume(int(before or DEFAULT_VOLUME))
        self.store.set_value("volume_before_mute", None)
        return Reply(self.say("speaker_unmuted"))

    # --- who you are and small talk -------------------------------------------------------------

    async def _on_SamanthaSetName(self, turn: Turn) -> Reply:
        name = _clean_name(turn.slot_text("name"))
        if not name:
            return asking(self.say("name_bad"), "name", self._name_answer)
        had = self.user_name
        self.store.set_value("user_name", name)
        return Reply(self.say("name_changed" if had and had != name else "name_set", user=name))

    async def _name_answer(self, turn: Turn) -> Reply | None:
        text = re.sub(r"^(it's|it is|i'm|i am|my name is|call me|just)\s+", "", turn.text.strip(), flags=re.I)
        if not _clean_name(text):
            return None
        return await self._on_SamanthaSetName(Turn(turn.text, "SamanthaSetName", {"name": text}))

    async def _on_SamanthaGetName(self, turn: Turn) -> Reply:
        if re.search(r"\byour name\b|\bwho are you\b", turn.text, re.I):
            return Reply(self.say("my_name"))
        if not self.user_name:
            return asking(self.say("name_unknown"), "name", self._name_answer)
        return Reply(self.say("name_known"))

    async def _on_SamanthaGreeting(self, turn: Turn) -> Reply:
        if re.search(r"\bmorning\b", turn.text, re.I):
            return Reply(self.say("greeting_morning"))
        if re.search(r"\bevening\b", turn.text, re.I):
            return Reply(self.say("greeting_evening"))
        return Reply(self.say("greeting"))

    async def _on_SamanthaThanks(self, turn: Turn) -> Reply:
        return Reply(self.say("thanks"))

    async def _on_SamanthaHowAreYou(self, turn: Turn) -> Reply:
        return Reply(self.say("how_are_you"))

    async def _on_SamanthaWhoAreYou(self, turn: Turn) -> Reply:
        return Reply(self.say("my_name"))

    async def _on_SamanthaYes(self, turn: Turn) -> Reply:
        return Reply(self.say("yes_nothing"))

    async def _on_SamanthaNo(self, turn: Turn) -> Reply:
        return Reply(self.say("no_nothing"))

    # --- memory ---------------------------------------------------------------------------------

    async def _on_SamanthaRemember(self, turn: Turn) -> Reply:
        fact = turn.slot_text("fact")
        if not fact or fact.casefold() in ("something", "this", "that"):
            async def answer(reply_turn: Turn) -> Reply | None:
                if not reply_turn.text.strip() or reply_turn.intent in ("SamanthaYes", "SamanthaNo"):
                    return None
                return await self._on_SamanthaRemember(Turn(reply_turn.text, "SamanthaRemember",
                                                             {"fact": reply_turn.text}))

            return asking(self.say("remember_what"), "remember", answer)
        name = re.match(r"^my name is (?P<name>.+)$", fact.strip(), re.I)
        if name and _clean_name(name.group("name")):
            return await self._on_SamanthaSetName(Turn(turn.text, "SamanthaSetName", {"name": name.group("name")}))
        stored, replaced = self.memory.remember(fact)
        return Reply(self.say("remember_updated" if replaced else "remembered", fact=stored.fact))

    async def _on_SamanthaRecall(self, turn: Turn) -> Reply:
        query = turn.slot_text("query") or turn.text
        about = re.sub(r"[?.!]+$", "", query.strip()).casefold()
        if about in ("me", "myself"):
            facts = [f.fact for f in self.memory.store.facts() if f.fact.casefold().startswith("you")][-3:]
            if facts:
                listed = "; ".join(facts)
                key = "about_you" if self.user_name else "about_you_nameless"
                return Reply(self.say(key, facts=listed, facts_cap=capitalize_first(listed)))
        if about in ("my name", "me", "myself", "who i am"):
            return await self._on_SamanthaGetName(turn)
        if about in ("your name", "you"):
            return Reply(self.say("my_name"))
        found = self.memory.recall(query)
        if not found:
            return Reply(self.say("recall_unknown", query=perspective(query.strip().rstrip("?"))))
        if len(found) == 1:
            fact = found[0].fact.fact
            return Reply(self.say("recalled", fact=fact, fact_cap=capitalize_first(fact)))
        facts = [r.fact.fact for r in found[:3]]
        return Reply(self.say("recalled_many", facts="; ".join(facts)))

    async def _on_SamanthaForget(self, turn: Turn) -> Reply:
        query = turn.slot_text("query")
        if not query and (said := _FORGET_RE.match(turn.text)):
            query = said.group("query")
        query = query or turn.text
        if _EVERYTHING_RE.match(query.strip()):
            async def answer(reply_turn: Turn) -> Reply | None:
                yes = _yes_or_no(reply_turn)
                if yes is None:
                    return None
                if not yes:
                    return Reply(self.say("kept"))
                self.memory.forget_everything()
                return Reply(self.say("forgot_all"))

            return asking(self.say("forget_all_confirm"), "yes_no", answer)
        forgotten = self.memory.forget(query)
        if not forgotten:
            return Reply(self.say("forget_unknown", query=perspective(query.strip().rstrip("?"))))
        return Reply(self.say("forgot", fact="; ".join(f.fact for f in forgotten)))


def local_zone() -> dt.tzinfo:
    """The system's time zone with its daylight-saving rules (a fixed offset only as a last resort)."""
    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return dt.datetime.now().astimezone().tzinfo or dt.timezone.utc


def _yes_or_no(turn: Turn) -> bool | None:
    """True for yes, False for no, None when the answer was neither."""
    if turn.intent == "SamanthaYes":
        return True
    if turn.intent in ("SamanthaNo", "HassNevermind", "SamanthaStop"):
        return False
    words = set(tokens(turn.text))
    if words & _NO_WORDS:
        return False
    if words & _YES_WORDS:
        return True
    return None


def _clean_name(text: str) -> str:
    """ "theo." -> "Theo"; "" when it does not look like a name (too long, digits)."""
    words = re.findall(r"[^\W\d_][\w'-]*", text)
    if not words or len(words) > MAX_NAME_WORDS or re.search(r"\d", text):
        return ""
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _number_text(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number == int(number) else f"{number:g}"
