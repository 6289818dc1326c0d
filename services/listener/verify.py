"""Second opinion on a wake-word candidate: does Whisper hear the wake phrase in the last seconds?

openWakeWord alone must trade misses in noise against false accepts: at a threshold low enough to
catch "hey jarvis" in 10 dB white noise it also fires on other speech. So it only *proposes* at a
low candidate threshold, and the speech-to-text model the listener has loaded anyway (Whisper
tiny.en; never a second copy) transcribes VERIFY_WINDOW_S of audio around the candidate, prompted
with the wake phrase. The candidate becomes a detection when the text matches the phrase
(fuzzy, so "hey jarvis", "a jarvis", "hey, Jervis" and "jarvis" all count). When it does not, Whisper
hears the window once more with the steady background noise taken out (spectral subtraction): in
loud fan-like noise tiny.en often hears nothing ("you") or other words in the raw audio, and the
clean-up, applied to every window, would cost it some words it hears in the raw one.

Verification runs on the speech-to-text worker thread, only for candidates: idle CPU is unchanged.

>>> wake_phrase("hey_jarvis")
'hey jarvis'
>>> says_wake_phrase("Hey, Jervis!", "hey jarvis")
True
>>> says_wake_phrase("Harvest season is busy.", "hey jarvis")
False
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
from dataclasses import dataclass

import numpy as np

from .stt import SpeechToText, WhisperSpeechToText

_LOGGER = logging.getLogger(__name__)

# Audio the verifier hears: the ~1 s wake phrase plus what came just before and after it.
VERIFY_WINDOW_S = 2.0
# A candidate is proposed as the score starts rising, often before the word is over: Whisper
# hears the window once the score has stopped rising for VERIFY_SETTLE_S (the word is over), or
# VERIFY_AFTER_MAX_S after the candidate at the latest.
VERIFY_SETTLE_S = 0.24
VERIFY_AFTER_MAX_S = 0.8
# rapidfuzz scores (0-100): the whole phrase somewhere in the text, or its distinctive last word.
PHRASE_MATCH = 85.0
SHORT_WORD_LETTERS = 3  # "a", "hi", "hey", "oh" before the distinctive word
KEY_WORD_MATCH = 82.0  # "jervis" (83) is the word, "jars" (80) is not
# Steady noise taken out before the second hearing. The noise floor of each frequency is a low
# percentile of its power over the window (words are short and move between frequencies; a fan's
# noise is always there), scaled to the mean of exponentially distributed noise power.
NOISE_FFT_SAMPLES = 512  # 32 ms, half-overlapping
NOISE_FLOOR_PERCENTILE = 20.0
NOISE_OVERSUBTRACTION = 2.0  # take out twice the floor: the floor varies from frame to frame
NOISE_GAIN_FLOOR = 0.1  # at most -20 dB: deeper cuts leave "musical" tones that Whisper hears as words


def ready_to_verify(seconds_since_candidate: float, seconds_since_peak: float) -> bool:
    """Whether the wake phrase is over, so the verifier can hear it whole."""
    return seconds_since_peak >= VERIFY_SETTLE_S - 1e-6 or seconds_since_candidate >= VERIFY_AFTER_MAX_S - 1e-6


def wake_phrase(model_name: str) -> str:
    """The words of an openWakeWord model: hey_jarvis -> 'hey jarvis', hey_jarvis_v0.1 -> 'hey jarvis'."""
    name = re.sub(r"_v\d+(\.\d+)*$", "", model_name)
    return " ".join(part for part in name.split("_") if part)


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z']+", " ", text.lower()).replace("'", "").split()


def says_wake_phrase(text: str, phrase: str) -> bool:
    """Whether a transcript is the wake phrase, allowing for Whisper's spellings of it.

    Accepted: the phrase within the text (rapidfuzz partial ratio >= PHRASE_MATCH: "hey jarvis",
    "hey jervis", "hey jarvis set a timer"), or the phrase's last, distinctive word (ratio >=
    KEY_WORD_MATCH: "jarvis", "jervis") opening the text or after a short word ("a jarvis").
    """
    from rapidfuzz import fuzz

    words = _words(text)
    if not words:
        return False
    target = " ".join(_words(phrase))
    said = " ".join(words)
    # partial_ratio finds the shorter string in the longer: a text shorter than the phrase ("hey")
    # would match a part of the phrase, so it is compared whole.
    match = fuzz.partial_ratio(target, said) if len(said) >= len(target) else fuzz.ratio(target, said)
    if match >= PHRASE_MATCH:
        return True
    # The distinctive word alone: where the phrase has one word, anywhere; else where it opens the
    # text or follows a short word ("a jarvis", "hi jarvis"), not inside a sentence ("... morning
    # Jarvis Cocker was ...": somebody talking about a Jarvis).
    phrase_words = target.split()
    key = phrase_words[-1]
    for index, word in enumerate(words):
        if fuzz.ratio(key, word) >= KEY_WORD_MATCH and (
                len(phrase_words) == 1 or index == 0 or len(words[index - 1]) <= SHORT_WORD_LETTERS):
            return True
    return False


def without_steady_noise(audio: np.ndarray) -> np.ndarray:
    """int16 audio with its steady background noise (fan, hum, shower) subtracted, same length.

    Spectral subtraction: each 32 ms frame's spectrum is scaled down where it is near the window's
    noise floor, by at most NOISE_GAIN_FLOOR. numpy only (scipy would add ~30 MB to the listener).
    """
    samples = audio.astype(np.float64)
    hop = NOISE_FFT_SAMPLES // 2
    # sqrt-Hann before and after the FFT: at half overlap the two windows add up to exactly one.
    window = np.sqrt(np.hanning(NOISE_FFT_SAMPLES + 1)[:-1])
    count = max(1, -(-len(samples) // hop)) + 1
    padded = np.zeros((count + 1) * hop)
    padded[hop:hop + len(samples)] = samples
    starts = hop * np.arange(count)
    spectra = np.fft.rfft(padded[starts[:, None] + np.arange(NOISE_FFT_SAMPLES)] * window, axis=1)
    power = np.abs(spectra) ** 2
    # Noise power is exponentially distributed per bin: its p-th percentile is -ln(1 - p) times its mean.
    floor = np.percentile(power, NOISE_FLOOR_PERCENTILE, axis=0) / -np.log1p(-NOISE_FLOOR_PERCENTILE / 100)
    gain = np.maximum(1.0 - NOISE_OVERSUBTRACTION * floor / np.maximum(power, 1e-12), NOISE_GAIN_FLOOR)
    frames = np.fft.irfft(spectra * gain, n=NOISE_FFT_SAMPLES, axis=1) * window
    out = np.zeros((count + 1) * hop)
    out[:count * hop] += frames[:, :hop].ravel()
    out[hop:] += frames[:, hop:].ravel()
    return np.clip(np.round(out[hop:hop + len(samples)]), -32768, 32767).astype(np.int16)


@dataclass(frozen=True)
class Verdict:
    """What the verifier heard and whether it is the wake phrase."""

    accepted: bool
    text: str  # what Whisper heard; both hearings ("first / second") when it heard the window twice


def wake_verifier(stt: SpeechToText, enabled: bool) -> WakeVerifier | None:
    """The verifier for this speech-to-text backend when verification is on and possible."""
    if not enabled:
        return None
    if not isinstance(stt, WhisperSpeechToText):
        _LOGGER.warning("wake_verify needs the Whisper backend (speech-to-text is %s): wake words unverified",
                        stt.name)
        return None
    return WakeVerifier(stt)


class WakeVerifier:
    """Confirms wake-word candidates with the listener's own Whisper model, on its worker thread."""

    def __init__(self, stt: WhisperSpeechToText) -> None:
        self.stt = stt

    def verify(self, audio: np.ndarray, wake_word: str) -> Verdict:
        """Transcribe int16 audio ending just after a candidate and match it (runs on the calling thread).

        Heard as it is first; if that is not the wake phrase, once more without the steady noise."""
        phrase = wake_phrase(wake_word)
        prompt = phrase.title() + "."
        text, _confidence = self.stt.transcribe(audio, prompt=prompt, skip_no_speech=False)
        verdict = Verdict(accepted=says_wake_phrase(text, phrase), text=text)
        if not verdict.accepted:
            again, _confidence = self.stt.transcribe(without_steady_noise(audio), prompt=prompt, skip_no_speech=False)
            verdict = Verdict(accepted=says_wake_phrase(again, phrase), text=f"{text} / {again}")
        _LOGGER.debug("wake verifier: %r -> %s", verdict.text, "accept" if verdict.accepted else "reject")
        return verdict

    def submit(self, audio: np.ndarray, wake_word: str) -> concurrent.futures.Future:
        """verify() on the speech-to-text worker thread: a Future of the Verdict."""
        future = self.stt._worker.submit(self.verify, audio, wake_word)
        self.stt.release_memory_later()
        return future
