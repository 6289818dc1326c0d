"""The speaker's own thread: plays queued sentences and chimes in order, and stops at once when told.

Audio goes out in small chunks (CHUNK_S); between chunks the thread checks whether a stop came in,
so a stop cuts speech off within one chunk plus the device's buffer. Synthesis runs on a second
thread, one sentence ahead of playback, so the next sentence is ready when the current one ends.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from device.audio import AudioDeviceError, AudioOutput, open_output
from services.messages import Message, SpeakingFinished, SpeakingStarted
from services.settings import AudioSettings

from .tts import Speech, Synthesizer, TtsError

_LOGGER = logging.getLogger(__name__)

CHUNK_S = 0.02  # audio per write; a stop takes effect between two writes
SYNTH_POLL_S = 0.01  # how often a wait for synthesis looks for a stop
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_CLAUSE_END = re.compile(r"(?<=\w)[,;:]\s+")
FIRST_PIECE_MAX_CHARS = 40  # a longer first sentence is split after its first clause
MIN_CLAUSE_WORDS = 2  # ...if at least this many words follow the clause


def split_sentences(text: str) -> list[str]:
    """The sentences of a text, so that the first can play while the next is synthesised."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def speech_pieces(text: str) -> list[str]:
    """The sentences of a text, with a long first sentence split after its first clause: the
    speaker starts sooner, and the clause's own pause hides the seam."""
    sentences = split_sentences(text)
    if sentences and len(sentences[0]) > FIRST_PIECE_MAX_CHARS:
        match = _CLAUSE_END.search(sentences[0])
        if match and len(sentences[0][match.end():].split()) >= MIN_CLAUSE_WORDS:
            first = sentences[0]
            sentences[0:1] = [first[:match.end()].strip(), first[match.end():].strip()]
    return sentences


@dataclass(frozen=True)
class _Job:
    """One thing to play: a Say (text) or a chime (samples)."""

    id: str
    generation: int
    text: str = ""
    expect_reply: bool = False
    chime: np.ndarray | None = None
    chime_rate: int = 0


class SpeechPlayer:
    """Plays Say texts and chimes through the speaker, one after the other, on its own thread.

    >>> player = SpeechPlayer(AudioSettings(output="null"), synthesizer, publish=print)  # doctest: +SKIP
    >>> player.start()                                                                   # doctest: +SKIP
    >>> player.say("Hello there. How are you?", say_id="s1")                            # doctest: +SKIP
    >>> player.stop()    # cuts it off; SpeakingFinished(id="s1", interrupted=True)       # doctest: +SKIP
    >>> player.close()                                                                   # doctest: +SKIP

    publish is called from the player's thread with SpeakingStarted / SpeakingFinished; report_error
    with a message for the user when the speaker fails.
    """

    def __init__(
        self,
        audio: AudioSettings,
        synthesizer: Synthesizer,
        publish: Callable[[Message], None],
        report_error: Callable[[str], None] = lambda text: _LOGGER.error("%s", text),
        volume: int = 100,
    ) -> None:
        self.audio = audio
        self.synthesizer = synthesizer
        self.publish = publish
        self.report_error = report_error
        self._volume = volume
        self._jobs: "queue.Queue[_Job | None]" = queue.Queue()
        self._generation = 0  # bumped by stop(): jobs and audio of older generations are dropped
        self._output: AudioOutput | None = None
        self._output_failed = False
        self._thread = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._synth_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="synth")
        self.stopped_at = 0.0  # monotonic time of the last stop() (for measurements)
        self.cut_at = 0.0  # monotonic time the speaker last went quiet because of a stop

    # --- called from the event loop -------------------------------------------------------------

    def start(self) -> None:
        self._open_output()
        self._thread.start()

    def say(self, text: str, say_id: str = "", expect_reply: bool = False) -> None:
        """Queue a text to speak."""
        self._jobs.put(_Job(say_id, self._generation, text=text, expect_reply=expect_reply))

    def play(self, samples: np.ndarray, rate: int, clip_id: str) -> None:
        """Queue a clip (a chime) to play."""
        self._jobs.put(_Job(clip_id, self._generation, chime=samples, chime_rate=rate))

    def stop(self) -> None:
        """Cut off what is playing and drop what is queued."""
        self.stopped_at = time.monotonic()
        self._generation += 1

    @property
    def volume(self) -> int:
        return self._volume

    @volume.setter
    def volume(self, value: int) -> None:
        self._volume = value  # the speaker thread applies it before its next write (a mixer may be slow)

    @property
    def busy(self) -> bool:
        return not self._jobs.empty()

    def close(self) -> None:
        """Stop playing, end the thread, release the speaker."""
        self.stop()
        self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._synth_pool.shutdown(wait=False, cancel_futures=True)
        if self._output is not None:
            self._output.close()
            self._output = None

    # --- the speaker thread ---------------------------------------------------------------------

    def _open_output(self) -> AudioOutput | None:
        if self._output is not None:
            return self._output
        try:
            self._output = open_output(self.audio)
        except AudioDeviceError as err:
            if not self._output_failed:
                self.report_error(f"speaker unavailable: {err}")
            self._output_failed = True
            return None
        if self._output_failed:
            _LOGGER.info("Speaker back: %s", self._output.description)
        self._output_failed = False
        self._output.volume = self._volume
        _LOGGER.info("Playing through %s", self._output.description)
        return self._output

    def _speaker_failed(self, err: AudioDeviceError) -> None:
        self.report_error(f"speaker failed: {err}")
        self._output_failed = True
        if self._output is not None:
            try:
                self._output.close()
            except Exception:  # a broken device may fail to close too; it is gone either way
                _LOGGER.debug("closing the failed speaker", exc_info=True)
            self._output = None

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if job.chime is not None:
                    self._play_clip(job)
                else:
                    self._speak(job)
            except Exception:  # one bad job must not silence the speaker for good
                _LOGGER.exception("Error while playing %s", job.id or "a clip")
                self.publish(SpeakingFinished(id=job.id, interrupted=True, expect_reply=job.expect_reply))
            if self._jobs.empty() and self._output is not None:
                try:
                    self._output.drain()  # go idle: no CPU, device free
                except AudioDeviceError as err:
                    self._speaker_failed(err)

    def _cut(self, job: _Job) -> bool:
        return job.generation != self._generation

    def _speak(self, job: _Job) -> None:
        sentences = speech_pieces(job.text)
        started = interrupted = False
        pending: concurrent.futures.Future | None = None
        for index, sentence in enumerate(sentences):
            if self._cut(job):
                interrupted = True
                break
            future = pending or self._synth_pool.submit(self._synthesize, sentence, job)
            pending = None
            speech = self._wait_for(future, job)
            if speech is None or self._cut(job):
                interrupted = True
                break
            if index + 1 < len(sentences):
                pending = self._synth_pool.submit(self._synthesize, sentences[index + 1], job)
            if isinstance(speech, TtsError):
                self.report_error(f"cannot say {sentence[:60]!r}: {speech}")
                interrupted = True
                break
            if not started:
                self.publish(SpeakingStarted(id=job.id, text=job.text))
                started = True
            if not self._play(speech.samples, speech.rate, job):
                interrupted = True
                break
        if pending is not None:
            pending.cancel()
        if not interrupted:
            self._drain()
        self.publish(SpeakingFinished(id=job.id, interrupted=interrupted, expect_reply=job.expect_reply))

    def _synthesize(self, sentence: str, job: _Job) -> Speech | None:
        """Runs on the synthesis thread; a sentence of a stopped job is not synthesised at all."""
        return None if self._cut(job) else self.synthesizer.synthesize(sentence)

    def _wait_for(self, future: concurrent.futures.Future, job: _Job) -> Speech | TtsError | None:
        """The synthesis result, or None if a stop came in first (the result is then dropped)."""
        while True:
            try:
                return future.result(timeout=SYNTH_POLL_S)
            except concurrent.futures.TimeoutError:
                if self._cut(job):
                    return None
            except TtsError as err:
                return err

    def _play_clip(self, job: _Job) -> None:
        if self._cut(job):
            self.publish(SpeakingFinished(id=job.id, interrupted=True))
            return
        self.publish(SpeakingStarted(id=job.id))
        assert job.chime is not None
        played = self._play(job.chime, job.chime_rate, job)
        if played:
            self._drain()
        self.publish(SpeakingFinished(id=job.id, interrupted=not played))

    def _play(self, samples: np.ndarray, rate: int, job: _Job) -> bool:
        """Play samples chunk by chunk; False if a stop cut them off."""
        output = self._open_output()
        if output is None:
            return not self._cut(job)  # nothing to play on; the bus still hears started/finished
        try:
            output.open(rate)
            chunk = max(1, int(rate * CHUNK_S))
            for begin in range(0, len(samples), chunk):
                if self._cut(job):
                    output.stop()
                    self.cut_at = time.monotonic()
                    return False
                if output.volume != self._volume:
                    output.volume = self._volume
                output.write(samples[begin:begin + chunk])
        except AudioDeviceError as err:
            self._speaker_failed(err)
        return not self._cut(job)

    def _drain(self) -> None:
        if self._output is not None:
            try:
                self._output.drain()
            except AudioDeviceError as err:
                self._speaker_failed(err)
