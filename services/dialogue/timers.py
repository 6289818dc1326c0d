"""Kitchen timers: several at once, named or not; start, cancel, pause, resume, add or take off
time, ask how long is left. A finished timer rings until stopped (see ringing.py).

Deadlines are absolute (epoch seconds) and stored at once, so a timer keeps counting while the
service is down and rings when it comes back (if it is not more than the ringing limit late).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from ..messages import TimerEvent
from .ringing import Ringing
from .spoken import parse_duration, parse_number, say_duration, say_time_left
from .store import TimerRow, new_id
from .turn import Reply, Turn, asking

if TYPE_CHECKING:
    from .conversation import Conversation

_LOGGER = logging.getLogger(__name__)

IDLE_CHECK_S = 30.0  # re-check deadlines at least this often (the clock may be set after boot)
NAME_MATCH_MIN = 75.0
_CANCEL_WORDS_RE = re.compile(r"\b(cancel|stop|delete|remove|clear|kill|rid|turn off|switch off|end|scrap)\b", re.I)
_RESUME_WORDS_RE = re.compile(r"\b(unpause|resume|continue|restart|unfreeze)\b", re.I)
# "a nine minute pasta timer": the word before "timer" names it, unless it is part of the length.
_NAMED_TIMER_RE = re.compile(r"\b(?P<name>[a-z]+) timer\b", re.I)
_NOT_A_NAME = {"a", "an", "the", "my", "that", "this", "one", "new", "another", "second", "seconds", "minute",
               "minutes", "hour", "hours", "sec", "min", "kitchen", "set", "start", "cancel", "stop", "your"}
_DURATION_WORDS = {"second", "seconds", "minute", "minutes", "hour", "hours", "sec", "secs", "min", "mins",
                   "hr", "hrs", "and", "half", "quarter", "for"}
_NAME_NOISE_RE = re.compile(r"\b(timer|timers|the|my|a|an|one)\b", re.IGNORECASE)

TIMER_INTENTS = (
    "HassStartTimer", "HassCancelTimer", "HassCancelAllTimers", "HassIncreaseTimer", "HassDecreaseTimer",
    "HassPauseTimer", "HassUnpauseTimer", "HassTimerStatus",
)


def clean_name(name: str) -> str:
    """ "the pasta timer" -> "pasta"; "nine minute pasta" -> "pasta" (the length is not the name)."""
    words = _NAME_NOISE_RE.sub(" ", name).casefold().split()
    kept = [w for w in words if w not in _DURATION_WORDS and parse_number([w], 0) is None]
    return " ".join(kept)


def label(timer: TimerRow) -> str:
    """How a timer is called when speaking of it: "pasta timer", "5 minute timer"."""
    if timer.name:
        return f"{timer.name} timer"
    length = say_duration(timer.duration_s)
    # "5 minutes" -> "5 minute timer", as people say it
    return re.sub(r"(\d+) (hour|minute|second)s\b", r"\1 \2", length) + " timer"


class Timers:
    """The timers skill: state in the store, one task watching the deadlines."""

    def __init__(self, conversation: "Conversation") -> None:
        self.conv = conversation
        self.store = conversation.store
        self.settings = conversation.settings
        self._changed = asyncio.Event()
        self.timers: dict[str, TimerRow] = {t.id: t for t in self.store.timers()}

    # --- time passing ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Ring timers when they are due, for ever."""
        while True:
            now = self.conv.clock()
            wait = IDLE_CHECK_S
            for timer in list(self.timers.values()):
                if timer.deadline is None or timer.id in self.conv.ringer.ringing:
                    continue
                if timer.deadline <= now:
                    self._due(timer, now)
                else:
                    wait = min(wait, timer.deadline - now)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(wait, 0.0))
            except asyncio.TimeoutError:
                pass

    def _due(self, timer: TimerRow, now: float) -> None:
        late = now - (timer.ringing_since or timer.deadline or now)
        if late > self.settings.ring_max_s:
            # It finished long ago while the device was off: ringing now would only startle.
            _LOGGER.info("Timer %s finished %.0f s ago while down; dropping it", timer.id, late)
            self._delete(timer)
            return
        if timer.ringing_since is None:
            timer.ringing_since = timer.deadline
            self.store.save_timer(timer)
        announcement = self.conv.say("timer_done", label=label(timer), label_cap=label(timer))
        self.conv.ringer.ring(
            Ringing(timer.id, "timer", timer.name, timer.ringing_since or now, announcement)
        )

    def on_ring_stopped(self, ringing: Ringing) -> None:
        timer = self.timers.get(ringing.id)
        if timer is not None:
            self._delete(timer, publish=False)

    def _changed_now(self) -> None:
        self._changed.set()

    def _delete(self, timer: TimerRow, publish: bool = False) -> None:
        self.timers.pop(timer.id, None)
        self.store.delete_timer(timer.id)
        if publish:
            self.conv.publish(TimerEvent(timer_id=timer.id, event="cancelled", name=timer.name))
        self._changed_now()

    def _event(self, timer: TimerRow, event: str) -> None:
        self.conv.publish(TimerEvent(timer_id=timer.id, event=event, name=timer.name,  # type: ignore[arg-type]
                                     seconds_left=round(timer.seconds_left(self.conv.clock()), 1)))

    # --- finding timers -------------------------------------------------------------------------

    def running(self) -> list[TimerRow]:
        return sorted(self.timers.values(), key=lambda t: t.seconds_left(self.conv.clock()))

    def find(self, turn: Turn) -> list[TimerRow]:
        """The timers the words point at: by name, by original length, else all of them."""
        timers = self.running()
        name = clean_name(turn.slot_text("name"))
        if name:
            scored = [(fuzz.WRatio(name, t.name.casefold()), t) for t in timers if t.name]
            best = [t for score, t in scored if score >= NAME_MATCH_MIN]
            return best
        start_s = sum(
            float(turn.slot(key) or 0) * unit
            for key, unit in (("start_hours", 3600), ("start_minutes", 60), ("start_seconds", 1))
        )
        if start_s > 0:
            return [t for t in timers if abs(t.duration_s - start_s) < 1]
        return timers

    def _choose(self, turn: Turn, verb: str, act, prefer=None) -> Reply:
        """Act on the one timer meant, or ask which one. prefer narrows an unnamed choice
        (resuming means a paused timer, pausing a running one)."""
        timers = self.find(turn)
        if prefer is not None and len(timers) > 1:
            timers = [t for t in timers if prefer(t)] or timers
        if not self.timers:
            return Reply(self.conv.say("no_timers"))
        if not timers:
            return Reply(self.conv.say("timer_not_found", name=clean_name(turn.slot_text("name")) or "such"))
        if len(timers) == 1:
            return act(timers[0])
        recent = self.conv.recent_action("timer")
        if recent and re.search(r"\b(that|it)\b", turn.text, re.IGNORECASE):
            chosen = [t for t in timers if t.id == recent]
            if chosen:
                return act(chosen[0])
        choices = [label(t) for t in timers]

        async def answer(reply_turn: Turn) -> Reply | None:
            picked = self.pick(reply_turn.text, timers)
            if picked is None:
                return None
            return act(picked)

        text = self.conv.say("ask_which_timer", choices=_or_list(choices))
        return asking(text, f"which_timer_{verb}", answer)

    def pick(self, text: str, timers: list[TimerRow]) -> TimerRow | None:
        """The timer an answer like "the pasta one" or "the five minute one" names."""
        said = clean_name(text)
        duration = parse_duration(text)
        best: tuple[float, TimerRow | None] = (0.0, None)
        for timer in timers:
            score = fuzz.partial_ratio(timer.name.casefold(), said) if timer.name and said else 0.0
            if duration and abs(duration.seconds - timer.duration_s) < 1:
                score = max(score, 100.0)
            if score > best[0]:
                best = (score, timer)
        return best[1] if best[0] >= NAME_MATCH_MIN else None

    # --- intents --------------------------------------------------------------------------------

    async def handle(self, turn: Turn) -> Reply:
        intent = turn.intent
        if intent == "HassStartTimer":
            return self.start_from(turn)
        if intent == "HassCancelAllTimers":
            if not _CANCEL_WORDS_RE.search(turn.text):
                # Cancelling every timer cannot be undone: without a word that asks for it
                # ("what timers do I have"), answer the question the words ask instead.
                return self.status(turn)
            return self.cancel_all()
        if intent == "HassCancelTimer" and _RESUME_WORDS_RE.search(turn.text):
            intent = "HassUnpauseTimer"  # "unpause the timer" must never cancel it
        if intent == "HassCancelTimer":
            if self.conv.ringer.active and not turn.slot_text("name"):
                return self.conv.stop_ringing()
            return self._choose(turn, "cancel", self.cancel)
        if intent == "HassPauseTimer":
            return self._choose(turn, "pause", self.pause, prefer=lambda t: not t.paused)
        if intent == "HassUnpauseTimer":
            return self._choose(turn, "resume", self.resume, prefer=lambda t: t.paused)
        if intent == "HassTimerStatus":
            return self.status(turn)
        if intent in ("HassIncreaseTimer", "HassDecreaseTimer"):
            return self.change_from(turn, sign=1 if intent == "HassIncreaseTimer" else -1)
        return Reply(self.conv.say("not_understood"))

    def duration_of(self, turn: Turn) -> tuple[float | None, bool]:
        """(seconds, negative) said in the words, else in the model's slots; (None, False) if none."""
        parsed = parse_duration(turn.text)
        if parsed is not None:
            return parsed.seconds, parsed.negative
        seconds = 0.0
        found = False
        for key, unit in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
            value = turn.slot(key)
            if value is None or value == "":
                continue
            try:
                seconds += float(value) * unit
                found = True
            except (TypeError, ValueError):
                continue
        return (seconds, seconds < 0) if found else (None, False)

    def start_from(self, turn: Turn, name: str | None = None) -> Reply:
        if name is None:
            name = clean_name(turn.slot_text("name"))
            said = _NAMED_TIMER_RE.search(turn.text)
            if not name and said and said.group("name").casefold() not in _NOT_A_NAME and parse_number(
                    [said.group("name").casefold()], 0) is None:
                name = said.group("name").casefold()
        seconds, negative = self.duration_of(turn)
        if seconds is None:
            return self._ask_duration(name)
        if negative:
            return self._ask_duration(name, self.conv.say("timer_negative"))
        if seconds < 1:
            return self._ask_duration(name, self.conv.say("timer_zero"))
        if seconds > self.settings.max_timer_s:
            return Reply(self.conv.say(
                "timer_too_long", duration=say_duration(seconds), duration_cap=say_duration(seconds),
                max=say_duration(self.settings.max_timer_s)))
        if len(self.timers) >= self.settings.max_timers:
            return Reply(self.conv.say("too_many_timers", count=len(self.timers)))
        return self.start(seconds, name)

    def _ask_duration(self, name: str, text: str = "") -> Reply:
        async def answer(reply_turn: Turn) -> Reply | None:
            if parse_duration(reply_turn.text) is None and not (
                reply_turn.intent == "HassStartTimer" and self.duration_of(reply_turn)[0] is not None
            ):
                return None
            return self.start_from(reply_turn, name=name or clean_name(reply_turn.slot_text("name")))

        if not text:
            text = (self.conv.say("ask_timer_duration_named", name=name) if name
                    else self.conv.say("ask_timer_duration"))
        return asking(text, "timer_duration", answer)

    def start(self, seconds: float, name: str) -> Reply:
        now = self.conv.clock()
        timer = TimerRow(new_id("t"), name, seconds, now + seconds, None, None, now)
        self.store.save_timer(timer)
        self.timers[timer.id] = timer
        self.conv.note_action("timer", timer.id)
        self._event(timer, "started")
        self._changed_now()
        _LOGGER.info("Timer %s (%s) started for %.0f s", timer.id, name or "unnamed", seconds)
        duration = say_duration(seconds)
        if name:
            return Reply(self.conv.say("timer_started_named", name=name, name_cap=name, duration=duration))
        return Reply(self.conv.say("timer_started", duration=duration, duration_cap=duration))

    def cancel(self, timer: TimerRow) -> Reply:
        if timer.id in self.conv.ringer.ringing:
            self.conv.ringer.forget(timer.id)
        self._delete(timer, publish=True)
        name = label(timer)
        return Reply(self.conv.say("timer_cancelled", label=name, label_cap=name))

    def cancel_all(self) -> Reply:
        timers = list(self.timers.values())
        if not timers:
            return Reply(self.conv.say("no_timers"))
        if self.conv.ringer.active:
            self.conv.ringer.stop("cancelled")
        for timer in timers:
            self._delete(timer, publish=True)
        if len(timers) == 1:
            return Reply(self.conv.say("one_timer_cancelled", label=label(timers[0])))
        return Reply(self.conv.say("all_timers_cancelled", count=len(timers)))

    def pause(self, timer: TimerRow) -> Reply:
        name = label(timer)
        if timer.paused:
            return Reply(self.conv.say("timer_already_paused", label=name))
        timer.remaining_s = timer.seconds_left(self.conv.clock())
        timer.deadline = None
        self.store.save_timer(timer)
        self._event(timer, "paused")
        self._changed_now()
        left = say_time_left(timer.remaining_s)
        return Reply(self.conv.say("timer_paused", label=name, label_cap=name, left=left))

    def resume(self, timer: TimerRow) -> Reply:
        name = label(timer)
        left = say_time_left(timer.seconds_left(self.conv.clock()))
        if not timer.paused:
            return Reply(self.conv.say("timer_not_paused", label=name, left=left))
        timer.deadline = self.conv.clock() + (timer.remaining_s or 0.0)
        timer.remaining_s = None
        self.store.save_timer(timer)
        self._event(timer, "resumed")
        self._changed_now()
        return Reply(self.conv.say("timer_resumed", label=name, label_cap=name, left=left))

    def change_from(self, turn: Turn, sign: int) -> Reply:
        seconds, negative = self.duration_of(turn)
        if seconds is None or seconds <= 0 or negative:
            async def answer(reply_turn: Turn) -> Reply | None:
                if parse_duration(reply_turn.text) is None:
                    return None
                merged = Turn(reply_turn.text, turn.intent, dict(turn.slots), reply_turn.confidence)
                return self.change_from(merged, sign)

            return asking(self.conv.say("ask_timer_change"), "timer_change", answer)
        return self._choose(turn, "change", lambda timer: self.change(timer, sign * seconds))

    def change(self, timer: TimerRow, delta_s: float) -> Reply:
        now = self.conv.clock()
        left = timer.seconds_left(now)
        name = label(timer)
        delta = say_duration(abs(delta_s))
        if left + delta_s <= 0:
            return Reply(self.conv.say("timer_decrease_too_much", label=name, left=say_time_left(left), delta=delta))
        if left + delta_s > self.settings.max_timer_s:
            return Reply(self.conv.say("timer_too_long", duration=say_duration(left + delta_s),
                                       duration_cap=say_duration(left + delta_s),
                                       max=say_duration(self.settings.max_timer_s)))
        if timer.paused:
            timer.remaining_s = left + delta_s
        else:
            timer.deadline = now + left + delta_s
        timer.duration_s += delta_s
        self.store.save_timer(timer)
        self._event(timer, "updated")
        self._changed_now()
        key = "timer_increased" if delta_s > 0 else "timer_decreased"
        return Reply(self.conv.say(key, label=name, left=say_time_left(left + delta_s), delta=delta, delta_cap=delta))

    def status(self, turn: Turn) -> Reply:
        timers = self.find(turn)
        if not self.timers:
            return Reply(self.conv.say("no_timers"))
        if not timers:
            return Reply(self.conv.say("timer_not_found", name=clean_name(turn.slot_text("name")) or "such"))
        now = self.conv.clock()
        if len(timers) == 1:
            timer = timers[0]
            left = say_time_left(timer.seconds_left(now))
            key = "timer_status_paused" if timer.paused else "timer_status_one"
            return Reply(self.conv.say(key, label=label(timer), label_cap=label(timer), left=left))
        parts = [
            f"the {label(t)} with {say_time_left(t.seconds_left(now))} left{' (paused)' if t.paused else ''}"
            for t in timers
        ]
        return Reply(self.conv.say("timer_status_many", count=len(timers), summary=_and_list(parts)))


def _and_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _or_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
