"""Transcript-level tests of the conversation: words in, Samantha's reply out, through the real
dialogue model, the real skills and a real SQLite store.

Where a request goes to the home, the test plays the bridge: it answers each HomeCommand with a
HomeCommandResult (ok, failed, or not at all), as the bridge does for the hub.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Awaitable, Callable

import pytest

from services.dialogue.conversation import Conversation
from services.dialogue.memory import Memory
from services.dialogue.nlu import DialogueModel, Home
from services.dialogue.readings import Pick, Reading
from services.dialogue.service import heard_clearly, spoken_vocabulary
from services.spoken import normalize_transcript
from services.dialogue.settings import DialogueSettings
from services.dialogue.store import Store
from services.dialogue.turn import Turn
from services.messages import (
    HomeCommand,
    HomeCommandResult,
    PlayChime,
    Say,
    SetMute,
    SetVolume,
    StopSpeaking,
    TimerEvent,
)

ENTITIES = [
    {"entity_id": "light.kitchen", "name": "Kitchen light", "area": "Kitchen", "domain": "light"},
    {"entity_id": "light.bedroom", "name": "Bedroom light", "area": "Bedroom", "domain": "light"},
    {"entity_id": "lock.front_door", "name": "Front door", "area": "Hallway", "domain": "lock"},
    {"entity_id": "cover.garage", "name": "Garage door", "area": "Garage", "domain": "cover"},
    {"entity_id": "climate.hallway", "name": "Thermostat", "area": "Hallway", "domain": "climate"},
]
AREAS = ["Kitchen", "Bedroom", "Hallway", "Garage"]
# Thursday 26 November 2026, 06:59:50 UTC: ten seconds before a 7 AM alarm.
START = dt.datetime(2026, 11, 26, 6, 59, 50, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture(scope="session")
def home() -> Home:
    return Home.from_dicts(ENTITIES, areas=AREAS)


@pytest.fixture(scope="session")
def model(home, tmp_path_factory) -> DialogueModel:
    """The real dialogue model, loaded once for the whole session (its trained heads come from the
    suite's shared cache, $SAMANTHA_NLU_CACHE, keyed by the sentences as on the device)."""
    return DialogueModel.load(tmp_path_factory.mktemp("dialogue-state"), None, home)


class Clock:
    """Time the test can move forward (the conversation takes a clock function)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Talk:
    """One conversation: say() a transcript, get the reply text; everything published is kept."""

    def __init__(self, model: DialogueModel, home: Home, db: Path, clock=None, **settings) -> None:
        defaults = dict(home_command_timeout_s=0.5, ring_interval_s=0.2, timezone="UTC")
        self.settings = DialogueSettings(**{**defaults, **settings})
        self.model = model
        self.published: list = []
        self.hub: str = "ok"  # how the test's bridge answers: "ok", "fail" or "silent"
        self.hub_states: dict = {}
        self.store = Store(db)
        kwargs = {"clock": clock} if clock is not None else {}
        self.conv = Conversation(self.settings, self.store, self._publish, home, seed=7,
                                 light_colors=model.list_values("color"), **kwargs)
        self.last = None
        self._vocabulary = None

    def _publish(self, message) -> None:
        self.published.append(message)
        if isinstance(message, HomeCommand) and self.hub != "silent":
            result = HomeCommandResult(request_id=message.request_id, ok=self.hub == "ok",
                                       message="" if self.hub == "ok" else "The kitchen light is offline.",
                                       states=self.hub_states)
            asyncio.get_running_loop().call_soon(self.conv.on_home_result, result)

    async def say(self, text: str, follow_up: bool = False, heard: float | None = None) -> str:
        """Typed text; or, with ``heard`` (the recogniser's confidence), a spoken transcript taken
        as the dialogue service takes it: normalised, and checked before acting when unclear."""
        check_first = False
        if heard is not None:
            vocabulary = self.vocabulary()
            text = normalize_transcript(text, vocabulary)
        understanding = self.model.understand(text)
        if heard is not None and understanding.intent is not None:
            reading = Reading(text, heard)
            check_first = not heard_clearly(Pick(reading, understanding, rank=0), [reading], vocabulary)
        turn = Turn(text, understanding.intent, dict(understanding.slots), understanding.confidence, follow_up,
                    understanding.declined)
        self.last = await self.conv.respond(turn, check_first=check_first)
        return self.last.text

    def vocabulary(self):
        if self._vocabulary is None:
            self._vocabulary = spoken_vocabulary(self.model.phrases(), self.conv.home.home)
        return self._vocabulary

    def sent(self, kind) -> list:
        return [m for m in self.published if isinstance(m, kind)]

    def clear(self) -> None:
        self.published.clear()


def converse(model, home, db: Path, scenario: Callable[[Talk], Awaitable[None]], **kwargs) -> Talk:
    """Run a scenario with the conversation's timers and alarms watched, as in the service."""
    talk = Talk(model, home, db, **kwargs)

    async def main() -> None:
        watcher = asyncio.get_running_loop().create_task(talk.conv.run())
        try:
            await scenario(talk)
        finally:
            talk.conv.ringer.stop("test over")
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    asyncio.run(main())
    return talk


@pytest.fixture
def talk_in(model, home, tmp_path):
    """converse() with this test's model, home and database."""
    def run(scenario, **kwargs) -> Talk:
        return converse(model, home, tmp_path / "samantha.db", scenario, **kwargs)
    return run


def has(text: str, *patterns: str) -> bool:
    return all(re.search(p, text, re.IGNORECASE) for p in patterns)


# --- timers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", [
    "set a timer for five minutes", "start a five minute timer", "remind me in five minutes",
    "count down five minutes",
])
def test_timer_starts_and_says_how_long(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, r"\b5 minutes\b"), reply
        assert len(talk.conv.timers.timers) == 1
        (timer,) = talk.conv.timers.timers.values()
        assert abs(timer.duration_s - 300) < 1
        assert talk.sent(TimerEvent)[0].event == "started"

    talk_in(scenario)


@pytest.mark.parametrize("phrase", [
    "set a pasta timer for nine minutes", "start a timer for nine minutes for the pasta",
    "set a pasta timer for 9 minutes", "set a nine minute pasta timer",
])
def test_named_timer(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, "pasta", r"9 minutes"), reply
        reply = await talk.say("how long is left on the pasta timer")
        assert has(reply, "pasta", r"9 minutes|8 minutes"), reply
        reply = await talk.say("cancel the pasta timer")
        assert has(reply, "pasta"), reply
        assert talk.conv.timers.timers == {}

    talk_in(scenario)


@pytest.mark.parametrize("request_words,answer", [
    ("set a timer", "three minutes"), ("start a timer", "for three minutes"),
    ("can you set a timer", "3 minutes please"),
])
def test_timer_asks_for_how_long_and_takes_the_answer(talk_in, request_words, answer):
    async def scenario(talk: Talk) -> None:
        question = await talk.say(request_words)
        assert talk.last.expect_reply and has(question, r"how long"), question
        assert talk.conv.timers.timers == {}
        reply = await talk.say(answer, follow_up=True)
        assert has(reply, r"3 minutes"), reply
        assert not talk.last.expect_reply
        (timer,) = talk.conv.timers.timers.values()
        assert abs(timer.duration_s - 180) < 1

    talk_in(scenario)


@pytest.mark.parametrize("phrase", [
    "set a timer for minus five minutes", "set a timer for negative 3 minutes", "set a timer for -5 minutes",
])
def test_negative_timer_is_refused_and_nothing_stored(talk_in, phrase, tmp_path):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, r"positive|backwards"), reply
        assert talk.conv.timers.timers == {} and talk.store.timers() == []
        assert not talk.sent(TimerEvent)

    talk_in(scenario)


@pytest.mark.parametrize("phrase", [
    "set a timer for a thousand hours", "set a timer for 1000 hours", "start a timer for two thousand hours",
])
def test_absurd_timer_is_refused_and_nothing_stored(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, r"24 hours"), reply
        assert talk.store.timers() == []

    talk_in(scenario)


@pytest.mark.parametrize("phrase", ["cancel the timer", "stop the timer", "delete my timer"])
def test_cancel_timer(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer for ten minutes")
        reply = await talk.say(phrase)
        assert has(reply, r"10 minute timer"), reply
        assert talk.store.timers() == []
        assert talk.sent(TimerEvent)[-1].event == "cancelled"

    talk_in(scenario)


@pytest.mark.parametrize("phrase", ["cancel all timers", "cancel all my timers", "clear every timer"])
def test_cancel_all_timers(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer for ten minutes")
        await talk.say("set a pasta timer for nine minutes")
        reply = await talk.say(phrase)
        assert has(reply, r"\b2\b|all"), reply
        assert talk.store.timers() == []

    talk_in(scenario)


def test_which_timer_is_asked_when_there_are_several(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("set a pasta timer for nine minutes")
        await talk.say("set an egg timer for four minutes")
        talk.conv._last_action = None  # "that" must not point at the last one here
        question = await talk.say("cancel the timer")
        assert talk.last.expect_reply and has(question, "pasta", "egg"), question
        reply = await talk.say("the pasta one", follow_up=True)
        assert has(reply, "pasta"), reply
        assert [t.name for t in talk.store.timers()] == ["egg"]

    talk_in(scenario)


@pytest.mark.parametrize("pause,resume", [
    ("pause the timer", "resume the timer"), ("hold the timer", "carry on with the timer"),
    ("put my timer on hold", "resume my timer"), ("pause my timer", "unpause the timer"),
])
def test_pause_and_resume_timer(talk_in, pause, resume):
    clock = Clock(START)

    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer for ten minutes")
        clock.now += 60
        reply = await talk.say(pause)
        assert has(reply, r"9 minutes"), reply
        (timer,) = talk.store.timers()
        assert timer.paused
        clock.now += 600  # paused: the time does not count
        reply = await talk.say("how much time is left")
        assert has(reply, "paused", r"9 minutes"), reply
        reply = await talk.say(resume)
        assert has(reply, r"9 minutes"), reply
        (timer,) = talk.store.timers()
        assert not timer.paused and abs(timer.deadline - (clock.now + 540)) < 1

    talk_in(scenario, clock=clock)


@pytest.mark.parametrize("phrase,minutes_left", [
    ("add two minutes to the timer", 12), ("give me two minutes more", 12),
    ("extend the timer by two minutes", 12), ("take one minute off the timer", 9),
    ("shorten the timer by one minute", 9), ("knock a minute off the timer", 9),
])
def test_change_timer(talk_in, phrase, minutes_left):
    clock = Clock(START)

    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer for ten minutes")
        reply = await talk.say(phrase)
        assert has(reply, rf"\b{minutes_left} minutes"), reply
        (timer,) = talk.store.timers()
        assert abs(timer.deadline - (clock.now + minutes_left * 60)) < 1

    talk_in(scenario, clock=clock)


@pytest.mark.parametrize("phrase", ["how long is left on the timer", "how much time is left",
                                    "when will the timer go off"])
def test_timer_status(talk_in, phrase):
    clock = Clock(START)

    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), "no timers|don't have any timers")
        await talk.say("set a timer for five minutes")
        clock.now += 90
        reply = await talk.say(phrase)
        assert has(reply, r"3 minutes and 30 seconds"), reply

    talk_in(scenario, clock=clock)


@pytest.mark.parametrize("stop_words", ["stop", "stop it", "be quiet", "enough"])
def test_timer_rings_until_stopped_by_voice(talk_in, stop_words):
    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer for one second")
        await asyncio.sleep(1.7)
        chimes = talk.sent(PlayChime)
        assert len(chimes) >= 3 and {c.name for c in chimes} == {"timer"}  # every 0.2 s here
        assert any(e.event == "ringing" for e in talk.sent(TimerEvent))
        assert any(has(s.text, "time's up|done") for s in talk.sent(Say))
        reply = await talk.say(stop_words)
        assert reply == ""  # stopping is its own answer
        assert talk.sent(StopSpeaking) and talk.sent(TimerEvent)[-1].event == "stopped"
        count = len(talk.sent(PlayChime))
        await asyncio.sleep(0.6)
        assert len(talk.sent(PlayChime)) == count
        assert talk.store.timers() == []

    talk_in(scenario)


def test_ringing_gives_up_after_the_limit(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer for one second")
        await asyncio.sleep(2.2)
        assert not talk.conv.ringer.active
        count = len(talk.sent(PlayChime))
        assert count >= 2
        await asyncio.sleep(0.5)
        assert len(talk.sent(PlayChime)) == count
        assert talk.store.timers() == []

    talk_in(scenario, ring_max_s=0.8)


def test_timers_survive_a_restart(model, home, tmp_path):
    db = tmp_path / "samantha.db"
    clock = Clock(START)

    async def before(talk: Talk) -> None:
        await talk.say("set a pasta timer for nine minutes")
        await talk.say("set a timer for one hour")

    converse(model, home, db, before, clock=clock)
    clock.now += 120  # two minutes pass while the service is down

    async def after(talk: Talk) -> None:
        reply = await talk.say("how long is left on the pasta timer")
        assert has(reply, "pasta", r"7 minutes"), reply
        assert len(talk.conv.timers.timers) == 2

    converse(model, home, db, after, clock=clock)


def test_a_timer_that_ended_while_down_rings_on_start(model, home, tmp_path):
    db = tmp_path / "samantha.db"
    clock = Clock(START)

    async def before(talk: Talk) -> None:
        await talk.say("set a timer for five seconds")

    converse(model, home, db, before, clock=clock)
    clock.now += 30

    async def after(talk: Talk) -> None:
        await asyncio.sleep(0.3)
        assert talk.conv.ringer.active
        assert talk.sent(PlayChime)

    converse(model, home, db, after, clock=clock)


# --- "cancel that" and never mind ----------------------------------------------------------------

@pytest.mark.parametrize("phrase", ["cancel that", "cancel it", "never mind that"])
def test_cancel_that_refers_to_the_timer_just_set(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer for ten minutes")
        await talk.say("set a pasta timer for nine minutes")
        reply = await talk.say(phrase)
        assert has(reply, "pasta"), reply
        assert [t.name for t in talk.store.timers()] == [""]

    talk_in(scenario)


@pytest.mark.parametrize("phrase", ["never mind", "forget it", "cancel"])
def test_never_mind_drops_the_question(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        await talk.say("set a timer")
        assert talk.conv.pending is not None
        reply = await talk.say(phrase, follow_up=True)
        assert reply and not talk.last.expect_reply
        assert talk.conv.pending is None
        assert talk.store.timers() == []

    talk_in(scenario)


@pytest.mark.parametrize("phrase", ["stop", "be quiet", "stop it"])
def test_stop_while_speaking_cuts_the_speech(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        talk.conv.speaking = True
        assert await talk.say(phrase) == ""
        assert talk.sent(StopSpeaking)

    talk_in(scenario)


# --- alarms ------------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase,expected", [
    ("set an alarm for 7 am", r"7 AM today"), ("wake me up at 7:30 am", r"7:30 AM today"),
    ("set an alarm for half past six in the morning", r"6:30 AM tomorrow"),
])
def test_alarm_once(talk_in, phrase, expected):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, expected), reply
        (alarm,) = talk.store.alarms()
        assert alarm.recurrence == "once"

    talk_in(scenario, clock=Clock(START))


@pytest.mark.parametrize("phrase,expected", [
    ("set an alarm for 7 am every day", "7 AM"), ("wake me up at 6 every day", "6 AM|6 PM"),
    ("set an alarm for 8 am daily", "8 AM"),
])
def test_alarm_daily(talk_in, phrase, expected):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, expected, "every day"), reply
        (alarm,) = talk.store.alarms()
        assert alarm.recurrence == "daily"
        assert has((await talk.say("what alarms do I have")), "every day")

    talk_in(scenario, clock=Clock(START))


@pytest.mark.parametrize("phrase", [
    "set an alarm for 7 am on weekdays", "wake me up at 7 am on weekdays", "set an alarm for 7 am every weekday",
])
def test_alarm_on_weekdays_skips_the_weekend(talk_in, phrase):
    clock = Clock(START + 3 * 86400)  # Sunday 29 November, just before 7 AM

    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, "7 AM", "weekdays|Monday to Friday"), reply
        (alarm,) = talk.store.alarms()
        assert alarm.recurrence == "weekdays"
        assert alarm.next_at == pytest.approx(START + 10 + 4 * 86400)  # Monday, not Sunday
        clock.now = alarm.next_at + 86400 * 4 + 1  # Friday's ring
        talk.conv.alarms._after_ring(alarm)
        assert alarm.next_at == pytest.approx(START + 10 + 11 * 86400)  # then Monday again

    talk_in(scenario, clock=clock)


def test_alarm_rings_at_its_time_and_daily_comes_back(talk_in):
    clock = Clock(START)

    async def scenario(talk: Talk) -> None:
        await talk.say("set an alarm for 7 am every day")
        await asyncio.sleep(0.1)
        assert not talk.conv.ringer.active
        clock.now = START + 11
        talk.conv.alarms._changed.set()
        await asyncio.sleep(0.3)
        assert talk.conv.ringer.active and talk.sent(PlayChime)
        assert any(has(s.text, "7 AM") for s in talk.sent(Say))
        assert await talk.say("stop") == ""
        (alarm,) = talk.store.alarms()  # daily: still there, for tomorrow
        assert alarm.next_at == pytest.approx(START + 10 + 86400)

    talk_in(scenario, clock=clock)


@pytest.mark.parametrize("phrase", [
    "set an alarm for February 30th", "wake me up at 7 on February 30th",
    "set an alarm for 7 am on February 30th",
])
def test_alarm_for_a_date_that_does_not_exist(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, "February 30th", "28 days"), reply
        assert talk.store.alarms() == []

    talk_in(scenario, clock=Clock(START))


@pytest.mark.parametrize("phrase", ["cancel my alarm", "delete the alarm", "turn off my alarm"])
def test_cancel_alarm(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), "don't have any alarms|no alarms")
        await talk.say("set an alarm for 7 am")
        reply = await talk.say(phrase)
        assert has(reply, "7 AM"), reply
        assert talk.store.alarms() == []

    talk_in(scenario, clock=Clock(START))


@pytest.mark.parametrize("phrase", ["what alarms do I have", "do I have any alarms", "list my alarms"])
def test_list_alarms(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), "don't have any alarms|no alarms")
        await talk.say("set an alarm for 7 am")
        await talk.say("set an alarm for 8 pm every day")
        reply = await talk.say(phrase)
        assert has(reply, "2 alarms", "7 AM", "every day at 8 PM"), reply

    talk_in(scenario, clock=Clock(START))


# --- time and date -----------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", ["what time is it", "what's the time", "tell me the time"])
def test_time(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), r"6:59 AM")

    talk_in(scenario, clock=Clock(START))


@pytest.mark.parametrize("phrase", ["what's the date", "what day is it", "what's today's date"])
def test_date(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), r"Thursday, November 26th")

    talk_in(scenario, clock=Clock(START))


# --- volume and mute ---------------------------------------------------------------------------

@pytest.mark.parametrize("phrase", ["set the volume to 40", "volume 40", "change the volume to 40"])
def test_set_volume(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), r"\b40\b")
        assert talk.sent(SetVolume)[-1].volume == 40

    talk_in(scenario)


@pytest.mark.parametrize("phrase", ["set the volume to 150", "volume minus 10", "set the volume to a thousand"])
def test_bad_volume_is_refused(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), "0 to 100")
        assert not talk.sent(SetVolume)

    talk_in(scenario)


@pytest.mark.parametrize("up,down", [
    ("louder", "quieter"), ("volume up", "turn the volume down"), ("turn up the volume", "lower your voice"),
])
def test_volume_up_and_down(talk_in, up, down):
    async def scenario(talk: Talk) -> None:
        await talk.say("volume 50")
        await talk.say(up)
        assert talk.sent(SetVolume)[-1].volume == 60
        await talk.say(down)
        await talk.say(down)
        assert talk.sent(SetVolume)[-1].volume == 40

    talk_in(scenario)


@pytest.mark.parametrize("mute,unmute", [
    ("mute", "unmute"), ("mute yourself", "turn the sound back on"), ("turn the sound off", "unmute yourself"),
])
def test_mute_and_unmute_the_speaker(talk_in, mute, unmute):
    async def scenario(talk: Talk) -> None:
        await talk.say("volume 55")
        reply = await talk.say(mute)
        assert has(reply, "unmute"), reply
        # Said first, then quiet: the volume change waits for the reply to be spoken.
        assert talk.conv.after_speaking == [SetVolume(volume=0)]
        talk.conv.after_speaking.clear()
        assert reply != await talk.say(unmute)
        assert talk.sent(SetVolume)[-1].volume == 55

    talk_in(scenario)


def test_stop_listening_mutes_the_microphone(talk_in):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say("stop listening")
        assert has(reply, "button"), reply
        assert talk.conv.after_speaking == [SetMute(muted=True)]

    talk_in(scenario)


# --- repeat, what can you do, small talk ------------------------------------------------------

@pytest.mark.parametrize("phrase", ["say that again", "repeat that", "what did you say"])
def test_repeat(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), "haven't said|quiet")
        first = await talk.say("what time is it")
        assert await talk.say(phrase) == first
        assert await talk.say(phrase) == first

    talk_in(scenario, clock=Clock(START))


def test_repeat_during_a_question_asks_it_again_and_keeps_waiting(talk_in):
    async def scenario(talk: Talk) -> None:
        question = await talk.say("set a timer")
        assert await talk.say("say that again", follow_up=True) == question
        assert talk.last.expect_reply
        assert has(await talk.say("two minutes", follow_up=True), "2 minutes")

    talk_in(scenario)


def test_what_do_you_know_about_me(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("my name is Theo")
        await talk.say("remember that I like my coffee black")
        assert has(await talk.say("what do you know about me"), "Theo", "coffee black")

    talk_in(scenario)


@pytest.mark.parametrize("phrase", ["what can you do", "help", "what are your skills"])
def test_what_can_you_do(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), "timer", "alarm", "remember")

    talk_in(scenario)


@pytest.mark.parametrize("phrase,expected", [
    ("hello", "hi|hello|hey"), ("hi there", "hi|hello|hey"), ("good morning", "morning"),
    ("thanks", "welcome|any time|happy|pleasure"), ("thank you very much", "welcome|any time|happy|pleasure"),
    ("cheers", "welcome|any time|happy|pleasure"),
    ("how are you", "good|well"), ("how's it going", "good|well"), ("are you ok", "good|well"),
])
def test_small_talk(talk_in, phrase, expected):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(phrase), expected)

    talk_in(scenario)


@pytest.mark.parametrize("phrase", ["asdf qwer zxcv", "the purple elephant sings opera", "um"])
def test_not_understood_is_said_plainly_and_does_nothing(talk_in, phrase):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, "didn't|not sure|over my head"), reply
        assert talk.published == []

    talk_in(scenario)


@pytest.mark.parametrize(("phrase", "expected"), [
    ("turn off all the lights except the kitchen", "one at a time"),
    ("turn on the lights at 7 pm", "set time"),
    ("don't turn on the lights", "didn't|not sure|over my head"),
    # Not understood for other reasons: no word about set times or leaving things out
    ("what's the weather tomorrow", "didn't|not sure|over my head"),
])
def test_a_request_she_cannot_do_as_said_says_why_and_does_nothing(talk_in, phrase, expected):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        assert has(reply, expected), reply
        assert talk.published == []

    talk_in(scenario)


def test_replies_vary(talk_in):
    async def scenario(talk: Talk) -> None:
        replies = [await talk.say("set a timer for five minutes") for _ in range(4)]
        assert len(set(replies)) >= 3, replies
        assert all(a != b for a, b in zip(replies, replies[1:])), replies

    talk_in(scenario)


# --- memory and names --------------------------------------------------------------------------

@pytest.mark.parametrize("remember,ask,expected", [
    ("remember that Amy's birthday is May 3rd", "when is Amy's birthday", "Amy's birthday is May 3rd"),
    ("don't forget that the wifi password is swordfish", "what's the wifi password", "swordfish"),
    ("remember that I like my coffee black", "what do you know about my coffee", "you like your coffee black"),
])
def test_remember_and_recall(talk_in, remember, ask, expected):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(remember)
        assert has(reply, re.escape(expected.split()[-1])), reply
        assert has(await talk.say(ask), re.escape(expected))

    talk_in(scenario)


@pytest.mark.parametrize("tell,ask,expected", [
    ("I like my coffee black", "how do I like my coffee", "you like your coffee black"),
    ("my favourite colour is blue", "what is my favourite colour", "your favourite colour is blue"),
    ("I'm allergic to peanuts", "what am I allergic to", "peanuts"),
])
def test_things_people_tell_about_themselves_are_kept(talk_in, tell, ask, expected):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(tell)
        assert has(reply, re.escape(expected.split()[-1])), reply
        assert len(talk.store.facts()) == 1
        assert has(await talk.say(ask), re.escape(expected))

    talk_in(scenario)


@pytest.mark.parametrize("ask", [
    "when is Amy's birthday", "what do you know about Amy's birthday", "do you remember Amy's birthday",
])
def test_recall_phrasings_and_unknown(talk_in, ask):
    async def scenario(talk: Talk) -> None:
        assert has(await talk.say(ask), "don't know|haven't told")
        await talk.say("remember that Amy's birthday is May 3rd")
        await talk.say("remember that Bob's birthday is June 1st")
        reply = await talk.say(ask)
        assert has(reply, "May 3rd") and "June" not in reply, reply

    talk_in(scenario)


@pytest.mark.parametrize("forget", [
    "forget Amy's birthday", "forget about Amy's birthday", "delete what you know about Amy's birthday",
])
def test_forget(talk_in, forget):
    async def scenario(talk: Talk) -> None:
        await talk.say("remember that Amy's birthday is May 3rd")
        await talk.say("remember that the wifi password is swordfish")
        assert has(await talk.say(forget), "May 3rd")
        assert has(await talk.say("when is Amy's birthday"), "don't know|haven't told")
        assert has(await talk.say("what's the wifi password"), "swordfish")

    talk_in(scenario)


def test_forget_everything_asks_first(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("remember that Amy's birthday is May 3rd")
        assert talk.last.expect_reply is False
        question = await talk.say("forget everything")
        assert talk.last.expect_reply and has(question, "yes or no"), question
        await talk.say("no", follow_up=True)
        assert len(talk.store.facts()) == 1
        await talk.say("forget everything")
        await talk.say("yes", follow_up=True)
        assert talk.store.facts() == []

    talk_in(scenario)


def test_a_new_value_replaces_the_old_one(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("remember that Amy's birthday is May 3rd")
        assert has(await talk.say("remember that Amy's birthday is May 4th"), "May 4th")
        reply = await talk.say("when is Amy's birthday")
        assert has(reply, "May 4th") and "3rd" not in reply, reply

    talk_in(scenario)


@pytest.mark.parametrize("tell", ["my name is Theo", "call me Theo", "I'm called Theo"])
@pytest.mark.parametrize("ask", ["what's my name", "who am I", "do you know my name"])
def test_name(talk_in, tell, ask):
    async def scenario(talk: Talk) -> None:
        question = await talk.say(ask)
        assert talk.last.expect_reply and has(question, "what should I call you"), question
        talk.conv.pending = None
        assert has(await talk.say(tell), "Theo")
        assert has(await talk.say(ask), "Theo")

    talk_in(scenario)


@pytest.mark.parametrize("ask", ["what's your name", "who are you", "what should I call you"])
def test_she_says_who_she_is_and_it_is_not_the_users_name(talk_in, ask):
    async def scenario(talk: Talk) -> None:
        await talk.say("my name is Theo")
        reply = await talk.say(ask)
        assert has(reply, "Samantha") and "Theo" not in reply, reply
        assert not talk.last.expect_reply

    talk_in(scenario)


def test_name_is_asked_for_and_used_in_replies(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("what's my name")
        assert has(await talk.say("Theo", follow_up=True), "Theo")
        replies = [await talk.say(p) for p in ["hello", "thanks", "hello", "thanks", "hello", "thanks"]]
        assert any("Theo" in r for r in replies), replies

    talk_in(scenario)


def test_memory_survives_a_restart(model, home, tmp_path):
    db = tmp_path / "samantha.db"

    async def before(talk: Talk) -> None:
        await talk.say("remember that Amy's birthday is May 3rd")
        await talk.say("my name is Theo")

    converse(model, home, db, before)

    async def after(talk: Talk) -> None:
        assert has(await talk.say("when is Amy's birthday"), "May 3rd")
        assert has(await talk.say("what's my name"), "Theo")

    converse(model, home, db, after)


# Measured: the question-to-fact matcher on paraphrases written for it (not from any test set).
MEMORY_FACTS = [
    "Amy's birthday is May 3rd", "I like my coffee black", "my wife's name is Kate",
    "the wifi password is swordfish42", "Bob's birthday is June 1st", "my car is parked on level 3",
    "the spare key is under the blue pot", "my dentist appointment is on Friday at 3",
    "the bins go out on Tuesday", "my locker number is 42",
]
MEMORY_QUESTIONS = [
    ("Amy's birthday", 0), ("when's Amy's birthday", 0), ("how do I like my coffee", 1), ("my coffee", 1),
    ("my wife's name", 2), ("the wifi password", 3), ("the password for the wifi", 3), ("Bob's birthday", 4),
    ("where did I park my car", 5), ("where is my car", 5), ("where's the spare key", 6), ("the key", 6),
    ("when is my dentist appointment", 7), ("the dentist", 7), ("when do the bins go out", 8),
    ("my locker number", 9), ("Tom's birthday", None), ("the capital of France", None), ("the weather", None),
    ("my mother's name", None), ("the door code", None),
]


def test_memory_matcher_accuracy(tmp_path):
    memory = Memory(Store(tmp_path / "m.db"))
    ids = [memory.remember(fact)[0].id for fact in MEMORY_FACTS]
    right = 0
    for question, expected in MEMORY_QUESTIONS:
        found = memory.recall(question)
        best = found[0].fact.id if found else None
        right += best == (ids[expected] if expected is not None else None)
    accuracy = right / len(MEMORY_QUESTIONS)
    print(f"memory matcher: {right}/{len(MEMORY_QUESTIONS)} right ({accuracy:.0%})")
    assert accuracy >= 0.9


# --- the home ----------------------------------------------------------------------------------

@pytest.mark.parametrize("phrase,intent,state", [
    ("turn on the kitchen light", "HassTurnOn", "on"), ("switch on the kitchen light", "HassTurnOn", "on"),
    ("turn the kitchen light on", "HassTurnOn", "on"), ("turn off the kitchen light", "HassTurnOff", "off"),
    ("switch off the kitchen light", "HassTurnOff", "off"), ("turn the kitchen light off", "HassTurnOff", "off"),
])
def test_home_command_waits_for_the_hub(talk_in, phrase, intent, state):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(phrase)
        (command,) = talk.sent(HomeCommand)
        assert command.intent == intent and command.entity_ids == ["light.kitchen"]
        assert has(reply, "kitchen light", rf"\b{state}\b"), reply
        talk.clear()
        talk.hub = "silent"
        reply = await talk.say(phrase)
        assert has(reply, "can't reach|didn't answer") and not has(reply, rf"\bis {state}\b"), reply
        talk.hub = "fail"
        reply = await talk.say(phrase)
        assert has(reply, "offline") and not has(reply, rf"\bis {state}\b"), reply

    talk_in(scenario)


@pytest.mark.parametrize("phrase,answer", [
    ("turn on the lights", "the bedroom"), ("turn on the light", "in the bedroom"),
    ("switch on the light", "bedroom"),
])
def test_which_room_is_asked_and_answered(talk_in, phrase, answer):
    async def scenario(talk: Talk) -> None:
        question = await talk.say(phrase)
        assert talk.last.expect_reply and has(question, "which room"), question
        assert not talk.sent(HomeCommand)
        reply = await talk.say(answer, follow_up=True)
        assert talk.sent(HomeCommand)[-1].entity_ids == ["light.bedroom"]
        assert has(reply, "bedroom", r"\bon\b"), reply

    talk_in(scenario)


@pytest.mark.parametrize("follow", ["and the bedroom too", "what about the bedroom", "the bedroom as well"])
def test_follow_up_refers_to_the_last_command(talk_in, follow):
    async def scenario(talk: Talk) -> None:
        await talk.say("turn off the kitchen light")
        reply = await talk.say(follow, follow_up=True)
        command = talk.sent(HomeCommand)[-1]
        assert command.intent == "HassTurnOff" and command.entity_ids == ["light.bedroom"]
        assert has(reply, "bedroom", r"\boff\b"), reply

    talk_in(scenario)


@pytest.mark.parametrize("phrase,sign", [("make it brighter", 1), ("brighter", 1), ("make it dimmer", -1)])
def test_make_it_brighter_refers_to_the_last_light(talk_in, phrase, sign):
    async def scenario(talk: Talk) -> None:
        await talk.say("turn on the kitchen light")
        reply = await talk.say(phrase)
        command = talk.sent(HomeCommand)[-1]
        assert command.intent == "HassLightSet" and command.entity_ids == ["light.kitchen"]
        assert command.data["brightness_step_pct"] * sign > 0
        assert reply, reply

    talk_in(scenario)


def test_unlocking_asks_first(talk_in):
    async def scenario(talk: Talk) -> None:
        question = await talk.say("unlock the front door")
        assert talk.last.expect_reply and has(question, "unlock", "front door"), question
        assert not talk.sent(HomeCommand)
        assert has(await talk.say("no", follow_up=True), "left it")
        assert not talk.sent(HomeCommand)
        await talk.say("unlock the front door")
        reply = await talk.say("yes", follow_up=True)
        assert talk.sent(HomeCommand)[-1].entity_ids == ["lock.front_door"]
        assert has(reply, "unlocked"), reply
        assert has(await talk.say("lock the front door"), "locked")

    talk_in(scenario)


def test_state_question_reports_the_hubs_answer(talk_in):
    async def scenario(talk: Talk) -> None:
        talk.hub_states = {"cover.garage": "closed"}
        assert has(await talk.say("is the garage door open"), "garage door is closed")

    talk_in(scenario)


def test_unknown_device_is_said_plainly(talk_in):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say("turn on the lights in the attic")
        assert has(reply, "attic|don't know|can't find|don't see"), reply
        assert not talk.sent(HomeCommand)

    talk_in(scenario)


# --- spoken transcripts heard unclearly ----------------------------------------------------------

# A recogniser's confidence too low to act on without asking, even on words that are exactly a
# command (services/spoken/confidence.py: the fitted model acts on those from about 0.21).
UNCLEAR_S = 0.15
CLEAR_S = 0.9


@pytest.mark.parametrize("heard_text,heard", [
    ("Turn off the kitchen light.", UNCLEAR_S),  # the recogniser doubted its words
])
def test_unclear_home_command_is_read_back_and_done_on_yes(talk_in, heard_text, heard):
    async def scenario(talk: Talk) -> None:
        question = await talk.say(heard_text, heard=heard)
        assert talk.last.expect_reply and has(question, "did you", "turn off the kitchen light"), question
        assert not talk.sent(HomeCommand)
        reply = await talk.say("yes", follow_up=True, heard=CLEAR_S)
        command = talk.sent(HomeCommand)[-1]
        assert command.intent == "HassTurnOff" and command.entity_ids == ["light.kitchen"]
        assert has(reply, "kitchen", r"\boff\b"), reply

    talk_in(scenario)


def test_unknown_words_guess_is_asked_and_no_does_nothing(talk_in):
    async def scenario(talk: Talk) -> None:
        # "blorp" is no word the device knows: the model's guess (a timer) is not acted on.
        question = await talk.say("Timer five minutes blorp", heard=CLEAR_S)
        assert talk.last.expect_reply and has(question, "did you", "blorp"), question
        reply = await talk.say("no", follow_up=True, heard=CLEAR_S)
        assert has(reply, "never mind|leave it"), reply
        assert not talk.sent(TimerEvent) and not talk.conv.timers.running()
        assert not talk.last.expect_reply

    talk_in(scenario)


def test_unknown_words_guess_is_carried_out_on_yes(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("Timer five minutes blorp", heard=CLEAR_S)
        assert not talk.conv.timers.running()
        reply = await talk.say("yes", follow_up=True, heard=CLEAR_S)
        assert has(reply, "5 minutes|five minutes"), reply
        assert len(talk.conv.timers.running()) == 1

    talk_in(scenario)


def test_unclear_question_answered_with_something_else_lets_it_go(talk_in):
    async def scenario(talk: Talk) -> None:
        await talk.say("turn off the kitchen light", heard=UNCLEAR_S)
        reply = await talk.say("hmm", follow_up=True, heard=CLEAR_S)
        assert has(reply, "never mind|leave it"), reply
        assert not talk.sent(HomeCommand) and not talk.last.expect_reply

    talk_in(scenario)


@pytest.mark.parametrize("text,heard", [
    ("Turn off the kitchen light.", CLEAR_S),  # spoken and clear
    ("Turn off the kitchen light.", None),  # typed
])
def test_clear_or_typed_commands_act_at_once(talk_in, text, heard):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(text, heard=heard)
        assert not talk.last.expect_reply, reply
        assert talk.sent(HomeCommand)[-1].entity_ids == ["light.kitchen"], reply

    talk_in(scenario)


@pytest.mark.parametrize("heard_text,degrees,asked", [
    ("Set the thermostat to 1.5 degrees.", 1.5, True),  # "twenty point five" misheard: no one heats to 1.5
    ("Set the thermostat to 21 degrees.", 21, False),
    ("Set the thermostat to 68 degrees.", 68, False),  # Fahrenheit
])
def test_a_thermostat_setting_no_one_would_ask_for_is_read_back(talk_in, heard_text, degrees, asked):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say(heard_text, heard=CLEAR_S)
        assert talk.last.expect_reply == asked, reply
        if asked:
            assert has(reply, "did you", "1.5") and not talk.sent(HomeCommand), reply
            reply = await talk.say("yes", follow_up=True, heard=CLEAR_S)
        assert talk.sent(HomeCommand), (reply, talk.published)
        (command,) = talk.sent(HomeCommand)
        assert command.intent == "HassClimateSetTemperature" and command.data.get("temperature") == degrees

    talk_in(scenario)


def test_unclear_question_is_read_back_and_answered_on_yes(talk_in):
    # An unclear question is mostly a misheard request: it is checked as a command is.
    async def scenario(talk: Talk) -> None:
        reply = await talk.say("What time is it?", heard=UNCLEAR_S)
        assert has(reply, "what time is it") and talk.last.expect_reply, reply
        reply = await talk.say("yes", follow_up=True, heard=CLEAR_S)
        assert has(reply, r"\d") and not talk.last.expect_reply, reply

    talk_in(scenario)


def test_unclear_stop_is_carried_out_without_asking(talk_in):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say("stop", heard=UNCLEAR_S)
        assert has(reply, "nothing to stop|all quiet") and not talk.last.expect_reply, reply

    talk_in(scenario)


def test_misheard_words_are_brought_back_before_understanding(talk_in):
    async def scenario(talk: Talk) -> None:
        reply = await talk.say("Sett a tamer four five minutes.", heard=CLEAR_S)
        assert not talk.last.expect_reply, reply
        assert len(talk.conv.timers.running()) == 1 and has(reply, "5 minutes|five minutes"), reply

    talk_in(scenario)


@pytest.mark.parametrize("phrase,answer,data", [
    ("set the brightness of the bedroom light", "fifty percent", {"brightness": 50}),
    ("set the color of the bedroom light", "blue please", {"color": "blue"}),
])
def test_setting_a_light_without_a_value_asks_for_it(talk_in, phrase, answer, data):
    """A request that lost its value in the hearing ("... to fifty percent") is not carried out as
    something else (the light turned on): she asks, and the answer sets it."""
    async def scenario(talk: Talk) -> None:
        question = await talk.say(phrase)
        assert talk.last.expect_reply and has(question, "bedroom light", "what"), question
        assert not talk.sent(HomeCommand)
        reply = await talk.say(answer, follow_up=True)
        (command,) = talk.sent(HomeCommand)
        assert command.intent == "HassLightSet" and command.entity_ids == ["light.bedroom"]
        assert {k: command.data.get(k) for k in data} == data, command.data
        assert reply, reply

    talk_in(scenario)
