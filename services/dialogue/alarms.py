"""Alarms at a clock time, once or every day, in the home's time zone.

Recurrence: once, daily, or weekdays (Monday to Friday). "Wake me up at 7" means the next 7 o'clock that has not passed yet (7 AM when it is night, 7 PM
in the afternoon); the reply always says which, with AM/PM and the day. A date that does not exist
("February 30th") or a time that has passed is said plainly and nothing is stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import TYPE_CHECKING

from ..messages import TimerEvent
from .ringing import Ringing
from .spoken import BadDate, ClockTime, parse_clock, say_clock, say_date
from .store import AlarmRow, new_id
from .turn import Reply, Turn, asking

if TYPE_CHECKING:
    from .conversation import Conversation

_LOGGER = logging.getLogger(__name__)

IDLE_CHECK_S = 30.0  # re-check at least this often: the clock may jump (NTP after boot, DST)
ALARM_INTENTS = ("SamanthaSetAlarm", "SamanthaCancelAlarm", "SamanthaListAlarms")
REPEATING = ("daily", "weekdays")
SATURDAY = 5


def rings_on(recurrence: str, day: dt.date) -> bool:
    """Whether an alarm with this recurrence rings on that day."""
    return recurrence != "weekdays" or day.weekday() < SATURDAY


def at(date: dt.date, hour: int, minute: int, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=tz)


def next_time(clock: ClockTime, now: dt.datetime) -> dt.datetime:
    """The moment an alarm said as `clock` should ring, after now (may be in the past for a date)."""
    tz = now.tzinfo
    assert tz is not None
    hours = [clock.hour]
    if clock.ambiguous:
        # "7" alone: 7 AM or 7 PM. With a day named, people mean the morning one.
        hours = [clock.hour % 12, clock.hour % 12 + 12] if clock.hour != 12 else [12, 0]
    if clock.date is not None or clock.day_offset == 1 or clock.weekday is not None:
        day = clock.date
        if day is None and clock.day_offset is not None:
            day = now.date() + dt.timedelta(days=clock.day_offset)
        if day is None and clock.weekday is not None:
            ahead = (clock.weekday - now.weekday()) % 7 or 7
            day = now.date() + dt.timedelta(days=ahead)
        assert day is not None
        hour = clock.hour if not clock.ambiguous else (clock.hour % 12 if clock.hour != 12 else 12)
        return at(day, hour, clock.minute, tz)
    candidates = []
    for offset in (0, 1):
        day = now.date() + dt.timedelta(days=offset)
        candidates += [at(day, hour, clock.minute, tz) for hour in hours]
    future = sorted(c for c in candidates if c > now)
    if clock.day_offset == 0:
        today = [c for c in future if c.date() == now.date()]
        return today[0] if today else at(now.date(), clock.hour, clock.minute, tz)
    return future[0]


def when_words(moment: dt.datetime, now: dt.datetime) -> str:
    """ "today", "tomorrow", "on Monday", "on Thursday, May 3rd"."""
    days = (moment.date() - now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days < 7:
        return "on " + moment.strftime("%A")
    return "on " + say_date(moment.date(), now.date())


class Alarms:
    """The alarms skill: alarms in the store, one task watching them."""

    def __init__(self, conversation: "Conversation") -> None:
        self.conv = conversation
        self.store = conversation.store
        self.settings = conversation.settings
        self._changed = asyncio.Event()
        self.alarms: dict[str, AlarmRow] = {a.id: a for a in self.store.alarms()}

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.conv.clock(), tz=self.conv.tz)

    async def run(self) -> None:
        while True:
            now = self.conv.clock()
            wait = IDLE_CHECK_S
            for alarm in list(self.alarms.values()):
                if alarm.id in self.conv.ringer.ringing:
                    continue
                if alarm.next_at <= now:
                    self._due(alarm, now)
                else:
                    wait = min(wait, alarm.next_at - now)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(wait, 0.0))
            except asyncio.TimeoutError:
                pass

    def _due(self, alarm: AlarmRow, now: float) -> None:
        due_at = alarm.ringing_since or alarm.next_at
        if now - due_at > self.settings.ring_max_s:
            _LOGGER.info("Alarm %s was due %.0f s ago while down; not ringing it", alarm.id, now - due_at)
            self._after_ring(alarm)
            return
        alarm.ringing_since = due_at
        self.store.save_alarm(alarm)
        moment = dt.datetime.fromtimestamp(due_at, tz=self.conv.tz)
        text = self.conv.say("alarm_ringing", time=say_clock(moment))
        self.conv.ringer.ring(Ringing(alarm.id, "alarm", say_clock(moment), due_at, text))

    def _after_ring(self, alarm: AlarmRow) -> None:
        """A rung alarm: gone if it was for once, else set for the same time tomorrow."""
        if alarm.recurrence in REPEATING:
            now = self.now()
            last = dt.datetime.fromtimestamp(alarm.next_at, tz=self.conv.tz)
            nxt = at(max(last.date(), now.date()), alarm.hour, alarm.minute, self.conv.tz)
            while nxt.timestamp() <= now.timestamp() or not rings_on(alarm.recurrence, nxt.date()):
                nxt = at(nxt.date() + dt.timedelta(days=1), alarm.hour, alarm.minute, self.conv.tz)
            alarm.next_at = nxt.timestamp()
            alarm.ringing_since = None
            self.store.save_alarm(alarm)
        else:
            self.alarms.pop(alarm.id, None)
            self.store.delete_alarm(alarm.id)
        self._changed.set()

    def on_ring_stopped(self, ringing: Ringing) -> None:
        alarm = self.alarms.get(ringing.id)
        if alarm is not None:
            self._after_ring(alarm)

    # --- intents --------------------------------------------------------------------------------

    async def handle(self, turn: Turn) -> Reply:
        if turn.intent == "SamanthaSetAlarm":
            return self.set_from(turn)
        if turn.intent == "SamanthaCancelAlarm":
            return self.cancel_from(turn)
        return self.listing()

    def _clock(self, turn: Turn) -> ClockTime | None:
        """The time said: in the whole sentence (dates too), else in the model's time slot."""
        today = self.now().date()
        clock = parse_clock(turn.text, today)
        if clock is None and turn.slot_text("time"):
            clock = parse_clock(turn.slot_text("time"), today)
        return clock

    def set_from(self, turn: Turn, recurrence: str | None = None) -> Reply:
        recurrence = recurrence or str(turn.slot("recurrence") or "")
        if re.search(r"\b(week ?days?|monday to friday|work ?days?)\b", turn.text, re.I):
            recurrence = "weekdays"  # the model's slot says only once or daily
        if recurrence not in ("once", *REPEATING):
            daily = re.search(r"\b(every ?day|daily|each day|every morning)\b", turn.text, re.I)
            recurrence = "daily" if daily else "once"
        try:
            clock = self._clock(turn)
        except (BadDate, ValueError) as err:
            return self._ask_time(recurrence, self.conv.say("alarm_bad_time", problem=str(err)))
        if clock is None:
            return self._ask_time(recurrence, self.conv.say("ask_alarm_time"))
        now = self.now()
        moment = next_time(clock, now)
        while not rings_on(recurrence, moment.date()):
            moment = at(moment.date() + dt.timedelta(days=1), moment.hour, moment.minute, self.conv.tz)
        if moment <= now:
            return self._ask_time(recurrence, self.conv.say("alarm_in_past"))
        for alarm in self.alarms.values():
            if abs(alarm.next_at - moment.timestamp()) < 60:
                return Reply(self.conv.say("alarm_already", time=say_clock(moment), when=when_words(moment, now)))
        alarm = AlarmRow(new_id("a"), moment.hour, moment.minute, recurrence, moment.timestamp(), None,
                         self.conv.clock())
        self.store.save_alarm(alarm)
        self.alarms[alarm.id] = alarm
        self.conv.note_action("alarm", alarm.id)
        self.conv.publish(TimerEvent(timer_id=alarm.id, event="started", name=say_clock(moment), kind="alarm",
                                     seconds_left=round(moment.timestamp() - self.conv.clock(), 1)))
        self._changed.set()
        _LOGGER.info("Alarm %s set for %s (%s)", alarm.id, moment.isoformat(), recurrence)
        key = {"daily": "alarm_set_daily", "weekdays": "alarm_set_weekdays"}.get(recurrence, "alarm_set_once")
        return Reply(self.conv.say(key, time=say_clock(moment), when=when_words(moment, now)))

    def _ask_time(self, recurrence: str, text: str) -> Reply:
        async def answer(reply_turn: Turn) -> Reply | None:
            try:
                if self._clock(reply_turn) is None:
                    return None
            except (BadDate, ValueError):
                pass  # set_from says what is wrong with it
            if reply_turn.intent == "SamanthaSetAlarm":  # a whole new request says its own recurrence
                return self.set_from(reply_turn)
            return self.set_from(reply_turn, recurrence)

        return asking(text, "alarm_time", answer)

    def describe(self, alarm: AlarmRow) -> str:
        moment = dt.datetime.fromtimestamp(alarm.next_at, tz=self.conv.tz)
        if alarm.recurrence == "daily":
            return f"every day at {say_clock(moment)}"
        if alarm.recurrence == "weekdays":
            return f"on weekdays at {say_clock(moment)}"
        return f"{when_words(moment, self.now())} at {say_clock(moment)}"

    def listing(self) -> Reply:
        alarms = sorted(self.alarms.values(), key=lambda a: a.next_at)
        if not alarms:
            return Reply(self.conv.say("no_alarms"))
        if len(alarms) == 1:
            return Reply(self.conv.say("alarms_list_one", alarm=self.describe(alarms[0])))
        parts = [self.describe(a) for a in alarms]
        return Reply(self.conv.say("alarms_list_many", count=len(alarms),
                                   summary=", ".join(parts[:-1]) + " and " + parts[-1]))

    def cancel(self, alarm: AlarmRow) -> Reply:
        described = self.describe(alarm)
        if alarm.id in self.conv.ringer.ringing:
            self.conv.ringer.forget(alarm.id)
        self.alarms.pop(alarm.id, None)
        self.store.delete_alarm(alarm.id)
        self.conv.publish(TimerEvent(timer_id=alarm.id, event="cancelled", kind="alarm",
                                     name=say_clock(dt.datetime.fromtimestamp(alarm.next_at, tz=self.conv.tz))))
        self._changed.set()
        return Reply(self.conv.say("alarm_cancelled", alarm=described))

    def cancel_from(self, turn: Turn) -> Reply:
        alarms = sorted(self.alarms.values(), key=lambda a: a.next_at)
        if not alarms:
            return Reply(self.conv.say("no_alarms"))
        if self.conv.ringer.active and any(a.id in self.conv.ringer.ringing for a in alarms):
            return self.conv.stop_ringing()
        if re.search(r"\b(all|every)\b|alarms\b", turn.text, re.I) and len(alarms) > 1:
            for alarm in alarms:
                self.cancel(alarm)
            return Reply(self.conv.say("alarms_cancelled", count=len(alarms)))
        try:
            clock = self._clock(turn)
        except (BadDate, ValueError):
            clock = None
        if clock is not None:
            matching = [a for a in alarms if a.minute == clock.minute and (
                a.hour == clock.hour or (clock.ambiguous and a.hour % 12 == clock.hour % 12))]
            if not matching:
                return Reply(self.conv.say("alarm_not_found", time=say_clock(dt.time(clock.hour, clock.minute)),
                                           listing=self.listing().text))
            alarms = matching
        if len(alarms) == 1:
            return self.cancel(alarms[0])
        recent = self.conv.recent_action("alarm")
        if recent and re.search(r"\b(that|it)\b", turn.text, re.I) and recent in self.alarms:
            return self.cancel(self.alarms[recent])
        choices = [self.describe(a) for a in alarms]

        async def answer(reply_turn: Turn) -> Reply | None:
            if re.search(r"\b(all|both|every)\b", reply_turn.text, re.I):
                for alarm in alarms:
                    if alarm.id in self.alarms:
                        self.cancel(alarm)
                return Reply(self.conv.say("alarms_cancelled", count=len(alarms)))
            try:
                said = parse_clock(reply_turn.text, self.now().date())
            except (BadDate, ValueError):
                said = None
            if said is None:
                return None
            for alarm in alarms:
                if alarm.minute == said.minute and alarm.hour % 12 == said.hour % 12:
                    return self.cancel(alarm)
            return None

        return asking(self.conv.say("ask_which_alarm", choices=", ".join(choices[:-1]) + " or " + choices[-1]),
                      "which_alarm", answer)
