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

import collections
import concurrent.futures
import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .stt import PartialCallback, SpeechToText, Utterance
from .vad import Endpoint, Endpointer, EndpointerSettings, VoiceActivityDetector
from .verify import VERIFY_WINDOW_S, WakeVerifier, ready_to_verify
from .wake import FRAME_SAMPLES, REFRACTORY_S, SAMPLE_RATE, Detection, WakeWordDetector

_LOGGER = logging.getLogger(__name__)

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
# Silence after speech before Whisper starts guessing the transcript. Two frames: gaps between
# words are shorter, and the guess still gets most of the trailing silence to run in.
PAUSE_GUESS_S = 0.16
VERIFY_WINDOW_FRAMES = round(VERIFY_WINDOW_S / FRAME_S)


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


@dataclass
class _Candidate:
    """A wake-word candidate waiting for the verifier; the audio after it is kept for the request."""

    detection: Detection
    peak: float
    frames: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # the wake word's score on each kept frame
    before: list[np.ndarray] = field(default_factory=list)  # the verifier's window up to the candidate
    frames_since_peak: int = 0
    verdict: concurrent.futures.Future | None = None
    frames_when_submitted: int = 0  # kept frames the verifier's window reached
    peak_when_submitted: float = 0.0

    def follow(self, score: float) -> None:
        """One more frame's score: the peak so far, and how long since it."""
        if score > self.peak:
            self.peak, self.frames_since_peak = score, 0
        else:
            self.frames_since_peak += 1


class ListeningPipeline:
    """Wake word, end of speech and speech-to-text over a stream of 80 ms int16 frames."""

    def __init__(
        self,
        wake: WakeWordDetector | None,
        vad: VoiceActivityDetector,
        stt: SpeechToText,
        endpoints: EndpointerSettings,
        on_partial: PartialCallback | None = None,
        verifier: WakeVerifier | None = None,
        candidate_threshold: float = 0.1,
        direct_pass: bool = True,
        on_wake_verdict: Callable[[], None] | None = None,
    ) -> None:
        """verifier: confirm wake-word candidates (scores >= candidate_threshold) with Whisper before
        they count; with direct_pass, a score at or above the detector's threshold counts at once."""
        self.wake = wake
        self.verifier = verifier
        self.candidate_threshold = candidate_threshold
        self.direct_pass = direct_pass
        self.on_wake_verdict = on_wake_verdict
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=VERIFY_WINDOW_FRAMES)
        self._candidate: _Candidate | None = None
        self._second_chance_until_s = 0.0
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
        if self.verifier is not None:
            self._recent.append(frame)
        # The wake model sees every frame, so its window is current when detection is wanted again.
        detection = self._detect(frame) if self.wake is not None else None
        if self._candidate is not None:
            return self._follow_candidate(frame)
        if detection is not None and not self.speaking and self._request is None:
            if self.verifier is not None and not (self.direct_pass and detection.score >= self.wake.threshold):
                self._candidate = _Candidate(detection, detection.score, before=list(self._recent))
                return events
            events.append(WakeWordHeard(detection.wake_word, detection.score, self.now_s))
            events.append(self.listen_now("wake"))
            return events  # the frame that completed the wake word is not part of the request
        if self._request is not None:
            stopped = self._listen(self._request, frame)
            if stopped is not None:
                events.append(stopped)
        return events

    def _detect(self, frame: np.ndarray) -> Detection | None:
        """The detector's verdict on a frame; with a verifier, at the (lower) candidate threshold."""
        assert self.wake is not None
        if self.verifier is None:
            return self.wake.process(frame)
        detection = self.wake.process(frame, min(self.candidate_threshold, self.wake.threshold), keep_history=True)
        if detection is None and self.direct_pass and self.now_s < self._second_chance_until_s:
            # A rejected candidate keeps the detector quiet for its refractory period; a score that
            # goes on to reach the threshold (the word was not over yet) still counts.
            name, score = max(self.wake.last_scores.items(), key=lambda item: item[1])
            if score >= self.wake.threshold:
                self._second_chance_until_s = 0.0
                detection = Detection(wake_word=name, score=score, at_s=self.now_s)
        return detection

    def _follow_candidate(self, frame: np.ndarray) -> list[Event]:
        """Keep the audio after a candidate, let the verifier hear it, and act on its verdict."""
        candidate = self._candidate
        assert candidate is not None and self.wake is not None and self.verifier is not None
        candidate.frames.append(frame)
        score = self.wake.last_scores.get(candidate.detection.wake_word, 0.0)
        candidate.scores.append(score)
        candidate.follow(score)
        if self.direct_pass and candidate.peak >= self.wake.threshold:
            return self._confirm(candidate, "score", from_now=True)  # sure enough on its own, verdict or not
        if candidate.verdict is None:
            if not ready_to_verify(len(candidate.frames) * FRAME_S, candidate.frames_since_peak * FRAME_S):
                return []
            self._submit(candidate)
        return self.poll_wake()

    def _submit(self, candidate: _Candidate, upto: int | None = None) -> None:
        """Give the verifier the VERIFY_WINDOW_S of audio that ends with the candidate's first ``upto``
        kept frames (all of them: the audio just heard); the verdict comes on its thread."""
        assert self.verifier is not None
        upto = len(candidate.frames) if upto is None else upto
        candidate.frames_when_submitted, candidate.peak_when_submitted = upto, candidate.peak
        window = (candidate.before + candidate.frames[:upto])[-VERIFY_WINDOW_FRAMES:]
        candidate.verdict = self.verifier.submit(np.concatenate(window), candidate.detection.wake_word)
        if self.on_wake_verdict is not None:
            candidate.verdict.add_done_callback(lambda _future: self.on_wake_verdict())

    def _rise_while_verifying(self, candidate: _Candidate) -> list[Event] | None:
        """After a rejection: a candidate of its own in the audio kept while the verifier heard the
        earlier window, if the score rose above where it was then (a noise burst or "hey Travis"
        proposed first, and the wake word said while Whisper was still at it, which a slow machine
        makes likelier). It starts where that rise crossed the candidate threshold, keeps the audio
        since, and is verified on the window it would have had live; None when there is no such rise."""
        scores = candidate.scores
        after = scores[candidate.frames_when_submitted:]
        if not after or max(after) <= candidate.peak_when_submitted:
            return None
        top = candidate.frames_when_submitted + int(np.argmax(after))
        start = top
        while start > candidate.frames_when_submitted and scores[start - 1] >= self.candidate_threshold:
            start -= 1
        detection = Detection(wake_word=candidate.detection.wake_word, score=scores[start],
                              at_s=candidate.detection.at_s + (start + 1) * FRAME_S)
        before = (candidate.before + candidate.frames[:start + 1])[-VERIFY_WINDOW_FRAMES:]
        later = _Candidate(detection, peak=scores[start], frames=candidate.frames[start + 1:],
                           scores=scores[start + 1:], before=before)
        self._candidate = later
        # Follow it frame by frame as _follow_candidate would have: verified where it would have been.
        for index, score in enumerate(later.scores):
            later.follow(score)
            if ready_to_verify((index + 1) * FRAME_S, later.frames_since_peak * FRAME_S):
                self._submit(later, upto=index + 1)
                return self.poll_wake()
        return []  # not over yet: _follow_candidate goes on with it

    def poll_wake(self) -> list[Event]:
        """Act on the verifier's verdict if it is in: the events, [] while there is none.

        Frames call this anyway; on_wake_verdict (from the worker thread) says when to call it
        between frames, so that a verdict does not wait for the next frame (a stalled microphone)."""
        candidate = self._candidate
        if candidate is None or candidate.verdict is None or not candidate.verdict.done():
            return []
        return self._settle(candidate)

    def _settle(self, candidate: _Candidate) -> list[Event]:
        assert candidate.verdict is not None
        try:
            verdict = candidate.verdict.result()
        except Exception:  # noqa: BLE001 - a failing verifier must not stop the wake word
            _LOGGER.warning("wake-word verifier failed; taking the candidate", exc_info=True)
            return self._confirm(candidate, "verifier failed")
        if verdict.accepted:
            return self._confirm(candidate, f"verifier heard {verdict.text!r}")
        _LOGGER.info("Wake-word candidate %s (score %.2f) rejected: the verifier heard %r",
                     candidate.detection.wake_word, candidate.peak_when_submitted, verdict.text)
        events = self._rise_while_verifying(candidate)
        if events is not None:
            return events
        self._candidate = None
        self._second_chance_until_s = candidate.detection.at_s + REFRACTORY_S
        if self.wake is not None:
            self.wake.rearm()  # the wake word itself may follow what was rejected
        return []

    def _confirm(self, candidate: _Candidate, why: str, from_now: bool = False) -> list[Event]:
        """The candidate is the wake word: the request began right after it, with the audio kept since;
        from_now: the request begins now (the score has just reached the threshold, as the wake word
        ends: the audio kept since the candidate is the rest of the wake word)."""
        self._candidate = None
        detection = candidate.detection
        _LOGGER.debug("wake word %s confirmed (%s)", detection.wake_word, why)
        first = len(candidate.frames) if from_now else 0
        events: list[Event] = [WakeWordHeard(detection.wake_word, candidate.peak, detection.at_s),
                               self.listen_now("wake", began_s=detection.at_s + first * FRAME_S)]
        for index, kept in enumerate(candidate.frames[first:], start=first):
            if self._request is None:
                break  # the request ended within the kept audio
            stopped = self._listen(self._request, kept, at_s=detection.at_s + (index + 1) * FRAME_S)
            if stopped is not None:
                events.append(stopped)
        return events

    def _listen(self, request: _Request, frame: np.ndarray, at_s: float | None = None) -> ListeningStopped | None:
        """One frame of a request; at_s: the stream time at its end, when replaying kept frames."""
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
        return self._stop(endpoint.value, transcribe=endpoint is not Endpoint.NO_SPEECH, at_s=at_s)

    def _stop(self, reason: str, transcribe: bool, at_s: float | None = None) -> ListeningStopped:
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
            at_s=self.now_s if at_s is None else at_s,
            source=request.source,
            speech_start_s=None if started is None else request.began_s + started,
            speech_end_s=None if ended is None else request.began_s + ended,
            transcript=future,
        )

    def listen_now(self, source: str = "command", no_speech_timeout_s: float | None = None,
                   began_s: float | None = None) -> ListeningBegan:
        """Start a request without the wake word (button, hub, follow-up); restarts one in progress.

        began_s: the stream time the request's audio starts at (after a verified wake word, earlier
        than now: the audio kept while verifying follows)."""
        self._candidate = None
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
        began_s = self.now_s if began_s is None else began_s
        self.vad.reset()
        self._request = _Request(
            source=source,
            began_s=began_s,
            endpointer=Endpointer(settings, FRAME_S),
            utterance=self.stt.start(self.on_partial),
        )
        return ListeningBegan(source, began_s)

    def cancel(self, reason: str = "cancelled") -> ListeningStopped | None:
        """Drop the request in progress, if any (stop command, mute), and any unverified wake word."""
        self._candidate = None
        if self._request is None:
            return None
        return self._stop(reason, transcribe=False)

    def settle_wake(self) -> list[Event]:
        """The audio ended (end of a file): wait for the verdict on a wake word being verified.

        Blocks for the verifier, so only for files, before end_of_input()."""
        events: list[Event] = []
        while (candidate := self._candidate) is not None:  # a rejection can leave a later candidate
            if candidate.verdict is None:
                self._submit(candidate)
            concurrent.futures.wait([candidate.verdict])
            events += self._settle(candidate)
        return events

    def end_of_input(self) -> ListeningStopped | None:
        """The audio ended (end of a file): transcribe what was said, if anything."""
        if self._request is None:
            return None
        return self._stop("end_of_input", transcribe=True)

    def set_speaking(self, speaking: bool) -> None:
        """The device started/stopped talking; after it stops, the wake word is ignored a little longer."""
        self.speaking = speaking
        if speaking:
            self._candidate = None  # heard before the device spoke, but the user is being answered
        if not speaking and self.wake is not None:
            self.wake.suppress_until(self.now_s + self.speaking_tail_s)

    def suppress_wake(self, seconds: float) -> None:
        """Ignore the wake word for a while (after unmuting: the model's window holds old audio)."""
        if self.wake is not None:
            self.wake.suppress_until(self.now_s + seconds)
