"""The listener service: owns the microphone and turns what it hears into bus events.

Threads: the microphone is read on a capture thread of its own (reads block); frames reach the
event loop through a queue, where the pipeline (wake word ~1 ms, VAD ~0.3 ms per 80 ms frame) runs;
speech-to-text runs on its backend's worker thread and hands back a Future. Nothing slow runs on
the loop.

The microphone may fail at any time (a USB microphone unplugged): the capture thread reports it on
the bus (ServiceError), closes it, and tries to open it again every ``mic_retry_s``. The service
never dies of it.

The vocabulary for recognition comes from the dialogue service through a file; see
:mod:`services.listener.vocabulary` for that contract.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import numpy as np

from ..config import ConfigError
from ..messages import (
    ListeningEnded,
    ListeningStarted,
    ListenNow,
    Message,
    MuteState,
    SetMute,
    SetWakeWord,
    SpeakingFinished,
    SpeakingStarted,
    StopListening,
    TranscriptPartial,
    TranscriptReady,
    WakeDetected,
    WakeWordState,
)
from ..service import Service
from .verify import wake_verifier
from .pipeline import ListeningBegan, ListeningPipeline, ListeningStopped, WakeWordHeard
from .stt import SpeechToTextError, load_speech_to_text
from .vad import EndpointerSettings, VoiceActivityDetector
from .vocabulary import VOCABULARY_FILE, Vocabulary
from .wake import FRAME_SAMPLES, REFRACTORY_S, WakeWordDetector, WakeWordError

_LOGGER = logging.getLogger(__name__)

# If the voice service dies mid-sentence, SpeakingFinished never comes: stop ignoring the wake word
# after this long anyway.
SPEAKING_MAX_S = 120.0
FRAME_QUEUE_MAX = 250  # 20 s of audio; if the loop falls this far behind, old frames are dropped
VOCABULARY_CHECK_S = 2.0  # how often the vocabulary file's modification time is looked at
LISTEN_REASONS = {"speech_end", "no_speech", "max_length", "cancelled", "muted"}


class MicrophoneReader:
    """Reads the microphone on its own thread and hands frames to a callback; reopens it after failures."""

    def __init__(self, open_input, on_frame, on_error, on_recovered, retry_s: float) -> None:
        self._open_input = open_input
        self._on_frame = on_frame
        self._on_error = on_error
        self._on_recovered = on_recovered
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="microphone", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from device.audio import AudioError

        failing = False
        while not self._stop.is_set():
            mic = None
            try:
                mic = self._open_input()
                if failing:
                    self._on_recovered(mic.description)
                    failing = False
                _LOGGER.info("Listening on %s", mic.description)
                while not self._stop.is_set():
                    self._on_frame(mic.read())
            except (AudioError, OSError) as err:  # EndOfInput (stdin closed) is an AudioError too
                if not failing:
                    self._on_error(f"microphone failed: {err}; retrying every {self._retry_s:g} s")
                else:
                    _LOGGER.debug("microphone still failing: %s", err)
                failing = True
            finally:
                if mic is not None:
                    try:
                        mic.close()
                    except Exception:  # closing a device that is gone may fail too; nothing to do
                        _LOGGER.debug("closing the microphone failed", exc_info=True)
            self._stop.wait(self._retry_s)


class ListenerService(Service):
    """Wake word, end of speech and speech-to-text on the device's microphone."""

    name = "listener"
    subscriptions = (SetMute, ListenNow, StopListening, SetWakeWord, SpeakingStarted, SpeakingFinished)

    async def start(self) -> None:
        listener = self.settings.listener
        try:
            self.wake, self.stt = await asyncio.to_thread(self._load_models)
        except (SpeechToTextError, WakeWordError) as err:
            raise ConfigError(f"[listener]: {err}") from None
        self.vocabulary = Vocabulary(self.settings.state_dir / VOCABULARY_FILE)
        if self.vocabulary.phrases != self.stt.phrases:  # changed while the models were loading
            self.stt.set_phrases(self.vocabulary.phrases)
        self.stt.set_command_grammar(self.vocabulary.command_grammar)
        endpoints = EndpointerSettings(listener.trailing_silence_s, listener.max_utterance_s,
                                       listener.no_speech_timeout_s, listener.speech_threshold)
        self.pipeline = ListeningPipeline(self.wake, VoiceActivityDetector(), self.stt, endpoints,
                                          on_partial=self._on_partial,
                                          verifier=wake_verifier(self.stt, listener.wake_verify),
                                          candidate_threshold=listener.wake_candidate_threshold,
                                          direct_pass=listener.wake_direct_pass,
                                          on_wake_verdict=self._wake_verdict_from_thread)
        self.pipeline.speaking_tail_s = listener.speaking_tail_s
        self.muted = False
        self._speaking_timeout: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._frames: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=FRAME_QUEUE_MAX)
        self._reader: MicrophoneReader | None = None

    def _load_models(self):
        listener = self.settings.listener
        wake = WakeWordDetector(listener.wake_words, listener.threshold)
        stt = load_speech_to_text(listener.stt, self.settings.state_dir, listener.vosk_model, listener.whisper_model,
                                  listener.vosk_grammar)
        vocabulary = Vocabulary(self.settings.state_dir / VOCABULARY_FILE)
        stt.set_phrases(vocabulary.phrases)
        stt.set_command_grammar(vocabulary.command_grammar)
        stt.warm_up()  # also returns the heap freed after loading to the system
        _LOGGER.info("Wake words %s (threshold %.2f, verified by Whisper: %s); speech-to-text: %s",
                     ", ".join(wake.wake_words), wake.threshold, listener.wake_verify, stt.name)
        return wake, stt

    async def connected(self) -> None:
        self.bus.publish(MuteState(muted=self.muted))
        self._publish_wake_state()

    def _publish_wake_state(self) -> None:
        self.bus.publish(WakeWordState(wake_words=list(self.wake.wake_words), threshold=self.wake.threshold,
                                       available=list(self.wake.available)))

    # --- audio ---------------------------------------------------------------------------------

    async def run(self) -> None:
        from device.audio import open_input

        audio_settings = self.settings.audio
        self._reader = MicrophoneReader(
            open_input=lambda: open_input(audio_settings, FRAME_SAMPLES),
            on_frame=self._frame_from_thread,
            on_error=lambda text: self._loop.call_soon_threadsafe(self.report_error, text),
            on_recovered=lambda what: _LOGGER.info("Microphone back: %s", what),
            retry_s=self.settings.listener.mic_retry_s,
        )
        self._reader.start()
        self.spawn(self._watch_vocabulary())
        while True:
            frame = await self._frames.get()
            if self.muted:
                continue  # captured before the mute took effect: not processed either
            for event in self.pipeline.process(frame):
                self._publish(event)

    async def _watch_vocabulary(self) -> None:
        """Take in a new vocabulary from the dialogue service within VOCABULARY_CHECK_S of it being written."""
        while True:
            await asyncio.sleep(VOCABULARY_CHECK_S)
            if self.vocabulary.refresh():
                # Off the loop: Whisper's prompt is chosen from thousands of phrases.
                await asyncio.to_thread(self.stt.set_phrases, self.vocabulary.phrases)
                self.stt.set_command_grammar(self.vocabulary.command_grammar)

    def _frame_from_thread(self, frame: np.ndarray) -> None:
        if self.muted:
            return  # muted: captured audio goes nowhere, not even to the wake word
        self._loop.call_soon_threadsafe(self._enqueue, frame)

    def _enqueue(self, frame: np.ndarray) -> None:
        if self._frames.full():
            self._frames.get_nowait()
            _LOGGER.warning("Listener fell behind the microphone; dropped a frame")
        self._frames.put_nowait(frame)

    def _wake_verdict_from_thread(self) -> None:
        """The verifier has decided on a wake-word candidate (from the speech-to-text thread)."""
        self._loop.call_soon_threadsafe(self._act_on_wake_verdict)

    def _act_on_wake_verdict(self) -> None:
        for event in self.pipeline.poll_wake():
            self._publish(event)

    def _on_partial(self, text: str) -> None:
        """From the speech-to-text thread."""
        self.bus.publish_threadsafe(TranscriptPartial(text=text))

    def _publish(self, event) -> None:
        if isinstance(event, WakeWordHeard):
            _LOGGER.info("Wake word %s (score %.2f)", event.wake_word, event.score)
            self.bus.publish(WakeDetected(wake_word=event.wake_word, score=round(event.score, 3), at=time.time()))
        elif isinstance(event, ListeningBegan):
            self.bus.publish(ListeningStarted(source=event.source))
        elif isinstance(event, ListeningStopped):
            reason = event.reason if event.reason in LISTEN_REASONS else "speech_end"
            _LOGGER.info("Listening ended: %s", reason)
            self.bus.publish(ListeningEnded(reason=reason))
            if event.transcript is not None:
                self.spawn(self._deliver(event, time.time()))

    async def _deliver(self, event: ListeningStopped, speech_ended_at: float) -> None:
        try:
            transcript = await asyncio.wrap_future(event.transcript)
        except Exception as err:  # noqa: BLE001 - a model failing on one request must not stop the service
            _LOGGER.debug("speech-to-text failed", exc_info=True)
            self.report_error(f"speech-to-text failed: {err}")
            return
        _LOGGER.info("Heard %r (%s, final pass %.0f ms)", transcript.text, transcript.backend,
                     transcript.final_pass_s * 1000)
        self.bus.publish(TranscriptReady(
            text=transcript.text,
            confidence=round(transcript.confidence, 3),
            backend=transcript.backend,
            speech_ended_at=speech_ended_at,
            follow_up=event.source == "follow_up",
            alternatives=[reading.text for reading in transcript.alternatives],
            alternative_confidences=[round(reading.confidence, 3) for reading in transcript.alternatives],
            grammar_reading=transcript.grammar_reading,
        ))

    # --- bus -----------------------------------------------------------------------------------

    async def handle(self, message: Message) -> None:
        if isinstance(message, SetMute):
            self._set_mute(message.muted)
        elif isinstance(message, ListenNow):
            self._listen_now(message.source)
        elif isinstance(message, StopListening):
            if (stopped := self.pipeline.cancel("cancelled")) is not None:
                self._publish(stopped)
        elif isinstance(message, SetWakeWord):
            self._set_wake_word(message)
        elif isinstance(message, SpeakingStarted):
            self._set_speaking(True)
        elif isinstance(message, SpeakingFinished):
            self._set_speaking(False)
            if message.expect_reply and not message.interrupted:
                self._listen_now("follow_up", self.settings.listener.follow_up_s)

    def _set_mute(self, muted: bool) -> None:
        if muted == self.muted:
            self.bus.publish(MuteState(muted=muted))
            return
        self.muted = muted
        _LOGGER.info("Microphone %s", "muted" if muted else "unmuted")
        if muted:
            if (stopped := self.pipeline.cancel("muted")) is not None:
                self._publish(stopped)
        else:
            # The wake model's window still holds audio from before the mute.
            self.pipeline.suppress_wake(REFRACTORY_S)
        self.bus.publish(MuteState(muted=muted))

    def _listen_now(self, source: str, no_speech_timeout_s: float | None = None) -> None:
        if self.muted:
            _LOGGER.info("Not listening (%s): the microphone is muted", source)
            return
        if self.pipeline.listening:
            self._publish(self.pipeline.cancel("cancelled"))
        self._publish(self.pipeline.listen_now(source, no_speech_timeout_s))

    def _set_wake_word(self, message: SetWakeWord) -> None:
        try:
            if message.wake_words is not None:
                self.wake.set_wake_words(message.wake_words)
            if message.threshold is not None:
                self.wake.set_threshold(message.threshold)
        except WakeWordError as err:
            self.report_error(f"wake word not changed: {err}")
        self._publish_wake_state()

    def _set_speaking(self, speaking: bool) -> None:
        self.pipeline.set_speaking(speaking)
        if self._speaking_timeout is not None:
            self._speaking_timeout.cancel()
            self._speaking_timeout = None
        if speaking:
            self._speaking_timeout = self._loop.call_later(SPEAKING_MAX_S, self.pipeline.set_speaking, False)

    async def reload(self) -> None:
        self.vocabulary.refresh(force=True)
        await asyncio.to_thread(self.stt.set_phrases, self.vocabulary.phrases)
        self.stt.set_command_grammar(self.vocabulary.command_grammar)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.stop()
        self.stt.close()
