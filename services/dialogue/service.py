"""The dialogue service: transcripts in, replies and device actions out, and the device's state.

It loads the dialogue model once, writes the phrases it knows to ``<state>/vocabulary.txt`` for
the listener, and runs the conversation (skills, memory, timers). It also owns the device state
machine (idle, wake, listening, thinking, speaking, muted, error, timer_ringing), published retained
for the LEDs and the hub, and decides what a single button press means.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..messages import (
    ButtonPressed,
    DeviceState,
    HomeCommandResult,
    HomeEntities,
    IntentRecognized,
    ListenNow,
    ListeningEnded,
    ListeningStarted,
    Message,
    MuteState,
    Say,
    ServiceError,
    SpeakingFinished,
    SpeakingStarted,
    StopListening,
    StopSpeaking,
    TranscriptReady,
    VolumeState,
    WakeDetected,
)
from .. import command_grammar
from ..memory import release_freed_memory
from ..service import Service
from ..spoken import PhoneticVocabulary, Signs, normalize_transcript, worth_acting_on
from .conversation import Conversation
from .nlu import DialogueModel, Home, SentenceError
from .nlu.model import WILDCARD_TEMPLATE_CONFIDENCE
from .readings import Pick, Reading, cleaned_readings, understand_likeliest
from .store import Store
from .turn import Turn

_LOGGER = logging.getLogger(__name__)

VOCABULARY_FILE = "vocabulary.txt"
GRAMMAR_FILE = command_grammar.GRAMMAR_FILE
ERROR_SHOW_S = 3.0  # how long the "error" state shows after a service reports a problem
AFTER_SPEAKING_TIMEOUT_S = 15.0  # send deferred actions even if the speaker never says it finished
MAX_REQUEST_CHARS = 400  # no spoken request is longer; the rest is noise the model need not read
THINKING_TIMEOUT_S = 20.0  # "thinking" after the end of speech, if no transcript ever comes
WAKE_TIMEOUT_S = 10.0  # "wake" without "listening started" (listener gone) falls back to idle
# A transcript may start with the wake word itself ("hey jarvis, stop" heard while the device was
# already listening); it is not part of the request.
_WAKE_PHRASE_RE = re.compile(
    r"^\W*(?:(?:hey|hi|ok|okay)[\s,]+)?(?:jarvis|mycroft|rhasspy|alexa)\b[\s,.!?]*", re.IGNORECASE)


def without_wake_phrase(text: str) -> str:
    """ "Hey Jarvis, stop." -> "stop." (the rest unchanged)."""
    return _WAKE_PHRASE_RE.sub("", text, count=1).strip()


def clean_transcript(text: str) -> str:
    """What the recogniser wrote, without the wake word and the full stop it likes to add."""
    return without_wake_phrase(text)[:MAX_REQUEST_CHARS].rstrip(" .!?,;").strip()


# What is acted on when heard without the wake word while a timer or alarm rings.
STOP_INTENTS = frozenset({"SamanthaStop", "HassNevermind", "HassCancelTimer", "HassCancelAllTimers",
                          "SamanthaCancelAlarm"})


def spoken_vocabulary(phrases: list[str], home: Home) -> PhoneticVocabulary:
    """The words the device knows, to correct and judge what speech-to-text heard: its phrases and
    the home's names, aliases, areas and floors."""
    names = [text for entity in home.entities for text in (entity.name, *entity.aliases)]
    names += [text for place in (*home.areas, *home.floors) for text in (place.name, *place.aliases)]
    return PhoneticVocabulary([*phrases, *names])


def is_spoken(message: TranscriptReady) -> bool:
    """Heard by a recogniser (it names itself); typed text (the hub, tests) has no backend."""
    return bool(message.backend)


def heard_signs(pick: Pick, readings: Sequence[Reading], vocabulary: PhoneticVocabulary,
                grammar: command_grammar.CommandGrammar | None = None) -> Signs:
    """What says whether the reading picked (of ``readings``, the recogniser's, likeliest first) was
    heard right (services/spoken/confidence.py)."""
    understanding = pick.understanding
    template_matched = understanding.confidence >= WILDCARD_TEMPLATE_CONFIDENCE
    return Signs(
        # How sure the recogniser was of what it heard first, whichever reading was picked.
        heard_confidence=readings[0].confidence if readings else 0.0,
        rival_margin=pick.rival_margin,
        # Word for word a command as heard freely (a template, or the grammar, which has no "please"
        # or "for me"); a reading the grammar wrote is one by construction.
        exact_command=(understanding.intent is not None and not pick.reading.made_by_grammar
                       and (understanding.exact_template
                            or (grammar is not None and grammar.accepts(understanding.text)))),
        made_by_grammar=pick.reading.made_by_grammar,
        words_left_out=max(0, len(readings[0].text.split()) - len(pick.reading.text.split())) if readings else 0,
        template_matched=template_matched,
        # A template's words are all known: any unknown ones are in its free text (a song, a
        # shopping item), where a user's words are rightly new to the device.
        unknown_words=0 if template_matched else len(vocabulary.unknown_words(understanding.text)))


def heard_clearly(pick: Pick, readings: Sequence[Reading], vocabulary: PhoneticVocabulary,
                  grammar: command_grammar.CommandGrammar | None = None) -> bool:
    """Whether a spoken request's understanding (the reading picked of ``readings``) is safe to act
    on without asking first: services/spoken/confidence.py weighs how sure the recogniser was of
    its first reading, how close a reading meaning something else came, whether the words are
    exactly one of the device's commands (the grammar), whether a template matched, and how many
    words of a neural guess the device has never seen. A thermostat setting no one asks for is
    asked about however clearly it was heard."""
    return (worth_acting_on(heard_signs(pick, readings, vocabulary, grammar))
            and not implausible_setpoint(pick.understanding.intent, pick.understanding.slots))


# Home Assistant's default limits of a thermostat's setpoint (climate DEFAULT_MIN_TEMP/MAX_TEMP: 7-35
# degrees Celsius, 45-95 Fahrenheit). Heard outside both, the number was most likely misheard
# ("twenty point five" as "1.5"): she asks before setting the heating to it.
SETPOINT_RANGES = ((7.0, 35.0), (45.0, 95.0))


def implausible_setpoint(intent: str | None, slots: dict) -> bool:
    """Whether a thermostat is to be set to a temperature no thermostat is set to."""
    if intent != "HassClimateSetTemperature":
        return False
    try:
        degrees = float(slots.get("temperature"))
    except (TypeError, ValueError):
        return False  # none said: she asks for it anyway
    return not any(low <= degrees <= high for low, high in SETPOINT_RANGES)


def write_vocabulary(path: Path, phrases: list[str]) -> None:
    """One phrase per line, replaced atomically so the listener never reads half a file."""
    write_atomically(path, "\n".join(phrases) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """The file replaced whole: a reader sees the old one or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.stem}-",
                                     delete=False) as handle:
        handle.write(text)
        temporary = handle.name
    os.replace(temporary, path)


class DeviceStateMachine:
    """What the device is doing, from the events of all services; publishes on change only."""

    def __init__(self, publish) -> None:
        self.publish = publish
        self.muted = False
        self.ringing = False
        self.speaking = False
        self.listening = False
        self.thinking = False
        self.wake = False
        self.error_until = 0.0
        self.state = "idle"

    def current(self) -> str:
        if self.muted:
            return "muted"
        if self.ringing:
            return "timer_ringing"
        if time.monotonic() < self.error_until:
            return "error"
        if self.speaking:
            return "speaking"
        if self.thinking:
            return "thinking"
        if self.listening:
            return "listening"
        if self.wake:
            return "wake"
        return "idle"

    def update(self, force: bool = False) -> None:
        state = self.current()
        if state != self.state or force:
            self.state = state
            self.publish(DeviceState(state=state))  # type: ignore[arg-type]


class DialogueService(Service):
    """Understands transcripts, runs the skills, speaks the replies, owns the device state."""

    name = "dialogue"
    subscriptions = (
        TranscriptReady, ButtonPressed, HomeCommandResult, HomeEntities, SpeakingStarted, SpeakingFinished,
        ListeningStarted, ListeningEnded, WakeDetected, MuteState, StopSpeaking, VolumeState, ServiceError,
    )

    def __init__(self, settings, bus) -> None:
        super().__init__(settings, bus)
        self.dialogue = settings.dialogue
        self.state_dir: Path = settings.state_dir
        self.model: DialogueModel | None = None
        self.conversation: Conversation | None = None
        self.store: Store | None = None
        self.home: Home | None = None
        self.vocabulary = PhoneticVocabulary([])  # replaced once the model has loaded
        self.grammar: command_grammar.CommandGrammar | None = None  # the commands, once the model has loaded
        self.machine = DeviceStateMachine(self.bus.publish)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dialogue-model")
        self._db_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dialogue-db")
        self._turns = asyncio.Lock()
        self._reply_ids = itertools.count(1)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._wake_handle: asyncio.TimerHandle | None = None
        self._deferred_for = ""  # the reply after which conversation.after_speaking is sent
        # While a timer rings, the device listens for "stop" without the wake word (its own chime
        # would hide the wake word); these windows are ours, and what they hear that is not
        # understood gets no "sorry?" (it is likely the chime).
        self._ring_listening = False
        self._listen_source = ""

    # --- life cycle -----------------------------------------------------------------------------

    def _custom_dir(self) -> Path | None:
        folder = Path(self.dialogue.sentences_dir) if self.dialogue.sentences_dir else None
        return folder if folder is not None and folder.is_dir() else None

    def _settings_home(self) -> Home:
        return Home.from_dicts(self.dialogue.entities, areas=self.dialogue.areas, floors=self.dialogue.floors)

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(self.state_dir)
        home = self.home = self._settings_home()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        self.model = await loop.run_in_executor(
            self._executor, DialogueModel.load, self.state_dir, self._custom_dir(), home, "en")
        release_freed_memory()  # training and template parsing peak far above what stays in use
        _LOGGER.info("Dialogue model ready in %.1f s", time.perf_counter() - started)
        await self._write_vocabulary()
        self.conversation = Conversation(self.dialogue, self.store, self.bus.publish, home,
                                         volume=self.settings.voice.volume,
                                         light_colors=self.model.list_values("color"))
        self.conversation.ringer.on_change = self._ringing_changed

    async def connected(self) -> None:
        self.machine.update(force=True)

    async def run(self) -> None:
        assert self.conversation is not None
        await self.conversation.run()

    async def reload(self) -> None:
        """SIGHUP: retrain from changed custom sentences and swap the model in, no restart."""
        if self.model is None:
            return
        try:
            # Its own thread: the current model keeps answering while the new one trains.
            await asyncio.to_thread(self.model.reload, self._custom_dir(), None)
        except SentenceError as err:
            self.report_error(f"custom sentences not loaded, the previous ones stay: {err}")
            return
        if self.conversation is not None:  # a colour the user's sentences add answers "set it to what?" too
            self.conversation.light_colors = self.model.list_values("color")
        await self._write_vocabulary()
        release_freed_memory()
        _LOGGER.info("Dialogue model reloaded")

    async def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._db_executor.shutdown(wait=True)
        if self.store is not None:
            self.store.close()

    async def _write_vocabulary(self) -> None:
        """The phrases for the listener, and the words spoken transcripts are checked against."""
        assert self.model is not None and self.home is not None
        loop = asyncio.get_running_loop()
        phrases = await loop.run_in_executor(self._executor, self.model.phrases)
        self.vocabulary = await loop.run_in_executor(self._executor, spoken_vocabulary, phrases, self.home)
        try:
            grammar_text = await loop.run_in_executor(self._executor, self.model.grammar_text)
            write_atomically(self.state_dir / GRAMMAR_FILE, grammar_text)
            # The model keeps the grammar it built (to know where its templates can match): one copy.
            self.grammar = self.model.command_grammar or command_grammar.CommandGrammar.from_text(grammar_text)
            _LOGGER.info("Wrote %d grammar steps to %s", self.grammar.arc_count, self.state_dir / GRAMMAR_FILE)
        except (OSError, RuntimeError, ValueError) as err:  # the device still works, hearing freely
            _LOGGER.error("No command grammar for the listener: %s", err)
        write_vocabulary(self.state_dir / VOCABULARY_FILE, phrases)
        _LOGGER.info("Wrote %d phrases to %s", len(phrases), self.state_dir / VOCABULARY_FILE)

    # --- the bus --------------------------------------------------------------------------------

    async def handle(self, message: Message) -> None:
        machine = self.machine
        conversation = self.conversation
        assert conversation is not None
        if isinstance(message, TranscriptReady):
            machine.listening = False
            machine.wake = False
            if message.text.strip():
                machine.thinking = True
                self.spawn(self._on_transcript(message))
        elif isinstance(message, ButtonPressed):
            self._on_button(message)
        elif isinstance(message, HomeCommandResult):
            conversation.on_home_result(message)
        elif isinstance(message, HomeEntities):
            self.spawn(self._on_entities(message))
        elif isinstance(message, SpeakingStarted):
            machine.speaking = True
            conversation.speaking = True
        elif isinstance(message, SpeakingFinished):
            machine.speaking = False
            conversation.speaking = False
            if not self._deferred_for or message.id == self._deferred_for:
                self._flush_after_speaking()
            self._listen_for_stop()
        elif isinstance(message, WakeDetected):
            machine.wake = True
            self._arm_wake_timeout()
        elif isinstance(message, ListeningStarted):
            machine.wake = False
            machine.listening = True
            self._listen_source = message.source
        elif isinstance(message, ListeningEnded):
            machine.listening = False
            machine.wake = False
            if message.reason == "speech_end":
                # The transcript follows: "thinking" from now on, not a blink of "idle" in between.
                machine.thinking = True
                self._arm_thinking_timeout()
            else:
                self._listen_for_stop()
        elif isinstance(message, MuteState):
            machine.muted = message.muted
            conversation.mic_muted = message.muted
        elif isinstance(message, StopSpeaking):
            # From the hub's stop button (or our own, when it is a no-op): a ringing timer stops too.
            if conversation.ringer.active:
                conversation.ringer.stop("hub")
        elif isinstance(message, VolumeState):
            conversation.on_volume_state(message.volume)
        elif isinstance(message, ServiceError):
            if message.service != self.name:
                machine.error_until = time.monotonic() + ERROR_SHOW_S
                asyncio.get_running_loop().call_later(ERROR_SHOW_S + 0.05, machine.update)
        machine.update()

    def _on_button(self, message: ButtonPressed) -> None:
        """Single press: stop what sounds (ringing, then speech, then listening), else listen."""
        if message.press != "single":
            return  # double and long presses are the hub's to use (the panel sends them there)
        conversation = self.conversation
        assert conversation is not None
        if conversation.ringer.active:
            conversation.ringer.stop("button")
        elif self.machine.speaking:
            self.bus.publish(StopSpeaking())
        elif self.machine.listening or self.machine.wake:
            self.bus.publish(StopListening())
        else:
            self.bus.publish(ListenNow(source="button"))

    def _ringing_changed(self) -> None:
        assert self.conversation is not None
        ringing = self.conversation.ringer.active
        self.machine.ringing = ringing
        self.machine.update()
        if ringing:
            self._listen_for_stop()
        elif self._ring_listening:
            self._ring_listening = False
            if self.machine.listening and self._listen_source == "command":
                self.bus.publish(StopListening())

    def _listen_for_stop(self) -> None:
        """While ringing and nobody is talking to the device, keep a listening window open."""
        conversation = self.conversation
        if conversation is None or not conversation.ringer.active or self.machine.muted:
            return
        if self.machine.listening or self.machine.thinking or self.machine.speaking:
            return  # opened again when the speaker goes quiet
        self._ring_listening = True
        self.bus.publish(ListenNow(source="command"))

    def _arm_thinking_timeout(self) -> None:
        def expire() -> None:
            if self.machine.thinking and not self._turns.locked():
                self.machine.thinking = False  # the transcript never came (speech-to-text failed)
                self.machine.update()

        asyncio.get_running_loop().call_later(THINKING_TIMEOUT_S, expire)

    def _arm_wake_timeout(self) -> None:
        if self._wake_handle is not None:
            self._wake_handle.cancel()

        def expire() -> None:
            if self.machine.wake:
                self.machine.wake = False
                self.machine.update()

        self._wake_handle = asyncio.get_running_loop().call_later(WAKE_TIMEOUT_S, expire)

    def _flush_after_speaking(self) -> None:
        conversation = self.conversation
        if conversation is None:
            return
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._deferred_for = ""
        pending, conversation.after_speaking = conversation.after_speaking, []
        for message in pending:
            self.bus.publish(message)

    async def _on_entities(self, message: HomeEntities) -> None:
        entities = [e for e in message.entities if isinstance(e, dict) and e.get("name")]
        areas = sorted({str(e["area"]) for e in entities if e.get("area")} | set(self.dialogue.areas))
        try:
            home = Home.from_dicts(entities or self.dialogue.entities, areas=areas, floors=self.dialogue.floors)
        except (KeyError, TypeError, ValueError) as err:
            _LOGGER.warning("Ignored the hub's entity list: %s", err)
            return
        assert self.model is not None and self.conversation is not None
        self.model.set_home(home)
        self.conversation.set_home(home)
        self.home = home
        _LOGGER.info("The home has %d entities in %d areas", len(home.entities), len(home.areas))
        await self._write_vocabulary()

    async def _on_transcript(self, message: TranscriptReady) -> None:
        async with self._turns:
            try:
                await self._converse(message)
            except Exception:  # a bug in one skill must not leave the user without an answer
                _LOGGER.exception("Failed to answer %r", message.text)
                assert self.conversation is not None
                self.bus.publish(Say(text=self.conversation.say("error")))
            finally:
                await self._commit()
                self.machine.thinking = False
                self.machine.update()
                self._listen_for_stop()

    async def _converse(self, message: TranscriptReady) -> None:
        assert self.model is not None and self.conversation is not None
        loop = asyncio.get_running_loop()
        spoken = is_spoken(message)
        ringing_window = self._ring_listening and self._listen_source == "command"
        readings = self._readings(message, spoken)
        if ringing_window:
            # Heard without the wake word: only what the recogniser is surest of may stop the chime.
            readings = readings[:1]
        if not readings:  # only the wake word, or nothing at all
            self.bus.publish(IntentRecognized(text=message.text, intent=None))
            return
        is_command = self.grammar.accepts if self.grammar is not None and spoken else None
        pick = await loop.run_in_executor(self._executor, understand_likeliest, readings, self.model.understand,
                                          is_command)
        text, understanding = pick.reading.text, pick.understanding
        if pick.rank:
            _LOGGER.info("Took the recogniser's reading %d, %r, over %r", pick.rank + 1, text, readings[0].text)
        self.bus.publish(IntentRecognized(
            text=text, intent=understanding.intent, slots=dict(understanding.slots),
            confidence=float(understanding.confidence)))
        if ringing_window and understanding.intent not in STOP_INTENTS:
            # Heard without the wake word while the chime sounds: only "stop" counts (it may be
            # the device's own announcement or chime coming back through the microphone).
            _LOGGER.info("Heard %r while ringing; not a stop", text)
            return
        check_first = (spoken and understanding.intent is not None
                       and not heard_clearly(pick, readings, self.vocabulary, self.grammar))
        turn = Turn(text, understanding.intent, dict(understanding.slots),
                    float(understanding.confidence), message.follow_up, understanding.declined)
        assert self.store is not None
        with self.store.deferred():
            reply = await self.conversation.respond(turn, check_first=check_first)
        _LOGGER.info("%r -> %s %s -> %r", message.text, understanding.intent, understanding.slots, reply.text)
        reply_id = f"reply-{next(self._reply_ids)}"
        if reply.text:
            self.bus.publish(Say(text=reply.text, id=reply_id, expect_reply=reply.expect_reply))
        if self.conversation.after_speaking:
            if not reply.text:
                self._flush_after_speaking()
                return
            # e.g. "Muted." is said first, then the volume goes to 0.
            self._deferred_for = reply_id
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            self._flush_handle = loop.call_later(AFTER_SPEAKING_TIMEOUT_S, self._flush_after_speaking)

    def _readings(self, message: TranscriptReady, spoken: bool) -> list[Reading]:
        """What was heard, cleaned up: the transcript and the recogniser's other readings of it."""
        if not spoken:
            return cleaned_readings([(message.text, 1.0)], clean_transcript)

        def clean(text: str) -> str:
            # One spelling for what the recogniser writes many ways, mis-heard words brought back
            # to known ones ("rightness" -> "brightness").
            return normalize_transcript(clean_transcript(text), self.vocabulary)

        heard = [(message.text, message.confidence), *zip(message.alternatives, message.alternative_confidences)]
        return cleaned_readings(heard, clean, message.grammar_reading)

    async def _commit(self) -> None:
        """Make the turn's changes durable, off the event loop (the reply is already on its way)."""
        assert self.store is not None
        await asyncio.get_running_loop().run_in_executor(self._db_executor, self.store.commit)
