"""The listening pipeline: wake word -> listening -> end of speech -> transcript, as a pure streaming
function of 80 ms frames (no audio I/O inside), shared by the service, `samantha hear` and the benches.

>>> pipeline = ListeningPipeline(WakeWordDetector(["hey_jarvis"]), VoiceActivityDetector(),
...                              WhisperSpeechToText(), EndpointerSettings())   # doctest: +SKIP
>>> for frame in frames:                                                         # doctest: +SKIP
...     for event in pipeline.process(frame):
...         print(event)
WakeWordHeard(wake_word='hey_jarvis', score=0.99, at_s=2.64)
ListeningBegan(source='wake', at_s=2.64)
ListeningStopped(reason='speech_end', at_s=5.2, ..., transcript=<Future>)

Times are stream times: seconds of audio processed so far. Speech-to-text runs on its backend's
worker thread: a finished request carries a Future of its Transcript, and partial transcripts go to
the on_partial callback (from that thread).
"""

from __future__ import annotations

import concurrent.futures
import logging
from dataclasses import dataclass, field

import numpy as np

from .stt import PartialCallback, SpeechToText, Utterance
from .vad import Endpoint, Endpointer, EndpointerSettings, VoiceActivityDetector
from .wake import FRAME_SAMPLES, SAMPLE_RATE, WakeWordDetector

_LOGGER = logging.getLogger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
# Silence after speech before Whisper starts guessing the transcript. Two frames: gaps between
# words are shorter, and the guess still gets most of the trailing silence to run in.
PAUSE_GUESS_S = 0.16


@dataclass(frozen=True)
class WakeWordHeard:
    """The wake word was detected."""

    wake_word: str
    score: float
    at_s: float


@dataclass(frozen=True)
class ListeningBegan:
    """A request is being listened to (after the wake word, or on command)."""

    source: str
    at_s: float


@dataclass(frozen=True)
class ListeningStopped:
    """A request is over. transcript is a Future of the Transcript, or None when nothing was said."""

    reason: str  # speech_end, no_speech, max_length, cancelled, muted, end_of_input
    at_s: float
    source: str
    speech_start_s: float | None = None
    speech_end_s: float | None = None
    transcript: concurrent.futures.Future | None = field(default=None, compare=False)


Event = WakeWordHeard | ListeningBegan | ListeningStopped


@dataclass
class _Request:
    source: str
    began_s: float
    endpointer: Endpointer
    utterance: Utterance
    paused: bool = False


class ListeningPipeline:
    """Wake word, end of speech and speech-to-text over a stream of 80 ms int16 frames."""

    def __init__(
        self,
        wake: WakeWordDetector | None,
        vad: VoiceActivityDetector,
        stt: SpeechToText,
        endpoints: EndpointerSettings,
        on_partial: PartialCallback | None = None,
    ) -> None:
        self.wake = wake
        self.vad = vad
        self.stt = stt
        self.endpoints = endpoints
        self.on_partial = on_partial
        self.speaking = False  # the device itself is talking: its voice must not wake it
        self.speaking_tail_s = 0.6
        self._samples = 0
        self._request: _Request | None = None

    @property
    def now_s(self) -> float:
        """Stream time: seconds of audio processed so far."""
        return self._samples / SAMPLE_RATE

    @property
    def listening(self) -> bool:
        return self._request is not None

    @property
    def listening_source(self) -> str | None:
        return self._request.source if self._request else None

    def process(self, frame: np.ndarray) -> list[Event]:
        """Feed one frame (1280 int16 samples); the events it caused."""
        if len(frame) != FRAME_SAMPLES:
            raise ValueError(f"frames are {FRAME_SAMPLES} samples, not {len(frame)}")
        self._samples += len(frame)
        events: list[Event] = []
        # The wake model sees every frame, so its window is current when detection is wanted again.
        detection = self.wake.process(frame) if self.wake is not None else None
        if detection is not None and not self.speaking and self._request is None:
            events.append(WakeWordHeard(detection.wake_word, detection.score, self.now_s))
            events.append(self.listen_now("wake"))
            return events  # the frame that completed the wake word is not part of the request
        if self._request is not None:
            stopped = self._listen(self._request, frame)
            if stopped is not None:
                events.append(stopped)
        return events

    def _listen(self, request: _Request, frame: np.ndarray) -> ListeningStopped | None:
        request.utterance.accept(frame)
        endpoint = request.endpointer.update(self.vad.speech_probability(frame))
        endpointer = request.endpointer
        if endpointer.in_speech:
            if endpointer.silence_s >= PAUSE_GUESS_S - 1e-6 and not request.paused:
                request.paused = True
                request.utterance.pause()
            elif endpointer.silence_s == 0 and request.paused:
                request.paused = False
                request.utterance.resume()
        if endpoint is None:
            return None
        return self._stop(endpoint.value, transcribe=endpoint is not Endpoint.NO_SPEECH)

    def _stop(self, reason: str, transcribe: bool) -> ListeningStopped:
        request = self._request
        assert request is not None
        self._request = None
        endpointer = request.endpointer
        future = None
        if transcribe and endpointer.in_speech:
            future = request.utterance.finish()
        else:
            request.utterance.cancel()
        started = endpointer.speech_started_s
        ended = endpointer.last_speech_s
        return ListeningStopped(
            reason=reason,
            at_s=self.now_s,
            source=request.source,
            speech_start_s=None if started is None else request.began_s + started,
            speech_end_s=None if ended is None else request.began_s + ended,
            transcript=future,
        )

    def listen_now(self, source: str = "command", no_speech_timeout_s: float | None = None) -> ListeningBegan:
        """Start a request without the wake word (button, hub, follow-up); restarts one in progress."""
        if self._request is not None:
            self._request.utterance.cancel()
        settings = self.endpoints
        if no_speech_timeout_s is not None:
            settings = EndpointerSettings(
                trailing_silence_s=settings.trailing_silence_s,
                max_utterance_s=settings.max_utterance_s,
                no_speech_timeout_s=no_speech_timeout_s,
                speech_threshold=settings.speech_threshold,
            )
        self.vad.reset()
        self._request = _Request(
            source=source,
            began_s=self.now_s,
            endpointer=Endpointer(settings, FRAME_S),
            utterance=self.stt.start(self.on_partial),
        )
        return ListeningBegan(source, self.now_s)

    def cancel(self, reason: str = "cancelled") -> ListeningStopped | None:
        """Drop the request in progress, if any (stop command, mute)."""
        if self._request is None:
            return None
        return self._stop(reason, transcribe=False)

    def end_of_input(self) -> ListeningStopped | None:
        """The audio ended (end of a file): transcribe what was said, if anything."""
        if self._request is None:
            return None
        return self._stop("end_of_input", transcribe=True)

    def set_speaking(self, speaking: bool) -> None:
        """The device started/stopped talking; after it stops, the wake word is ignored a little longer."""
        self.speaking = speaking
        if not speaking and self.wake is not None:
            self.wake.suppress_until(self.now_s + self.speaking_tail_s)

    def suppress_wake(self, seconds: float) -> None:
        """Ignore the wake word for a while (after unmuting: the model's window holds old audio)."""
        if self.wake is not None:
            self.wake.suppress_until(self.now_s + seconds)
