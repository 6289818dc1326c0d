"""Wake-word detection with openWakeWord's ONNX models, one detection per spoken wake word.

openWakeWord scores every 80 ms frame against each loaded wake word. A spoken "hey jarvis" keeps the
score above the threshold for several frames, and the model's input window (about 1.3 s of audio)
still holds the word after it was said; so after a detection the detector resets the model's score
history and ignores further detections for a refractory period. That is what makes one utterance give
one detection.

>>> detector = WakeWordDetector(["hey_jarvis"], threshold=0.5)            # doctest: +SKIP
>>> detector.process(frame)          # 1280 int16 samples -> Detection or None  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sys
import types
from dataclasses import dataclass

import numpy as np

from ..memory import onnx_sessions_without_arena
from .settings import KNOWN_WAKE_WORDS

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_SAMPLES = 1280  # 80 ms, the step openWakeWord's feature model works in
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
# Longer than the model's input window (16 embeddings, ~1.3 s) so the same word is not seen twice.
REFRACTORY_S = 2.0
RESET_SILENCE_S = 2.0  # more than the model's window


def _openwakeword_model_class():
    """openwakeword.model.Model, imported without the custom-verifier trainer.

    The package's ``__init__`` imports its verifier *training* code, which pulls in scikit-learn
    and scipy (about 95 MB of resident memory, a fifth of the whole device's budget) and fails
    where scikit-learn is not installed (openwakeword is installed without its dependencies on
    Python >= 3.12). Inference never uses it, so a stand-in module takes its place.
    """
    name = "openwakeword.custom_verifier_model"
    if "openwakeword" not in sys.modules and name not in sys.modules:
        stand_in = types.ModuleType(name)

        def train_custom_verifier(*args, **kwargs):
            raise RuntimeError("training custom verifiers is not available in Samantha's listener")

        stand_in.train_custom_verifier = train_custom_verifier  # type: ignore[attr-defined]
        sys.modules[name] = stand_in
    from openwakeword.model import Model

    return Model


class WakeWordError(ValueError):
    """A wake word that openWakeWord does not ship."""


@dataclass(frozen=True)
class Detection:
    """A wake word heard: which, its score, and the stream time (s) of the frame that crossed the threshold."""

    wake_word: str
    score: float
    at_s: float


class WakeWordDetector:
    """openWakeWord's built-in wake words, scored frame by frame (a pure streaming function).

    All four built-in models are loaded once (they are small, ~1 MB each), so the wake words can be
    switched over the bus without reloading; only the active ones are reported.
    """

    def __init__(self, wake_words: list[str], threshold: float = 0.5) -> None:
        Model = _openwakeword_model_class()
        with onnx_sessions_without_arena():  # ~40 MB less resident; see services/memory.py
            self._model = Model(wakeword_models=list(KNOWN_WAKE_WORDS), inference_framework="onnx")
        self.available: list[str] = sorted(self._model.models)
        self.wake_words: list[str] = []
        self.set_wake_words(wake_words)
        self.threshold = threshold
        self._samples_seen = 0
        self._suppressed_until_s = 0.0  # the device speaking, or just unmuted
        self._refractory_until_s = 0.0  # after a detection
        self._awaiting_fall = False  # rearmed: detect again once the score has fallen below the threshold
        self.last_scores: dict[str, float] = {}

    @property
    def now_s(self) -> float:
        """Stream time: seconds of audio processed so far."""
        return self._samples_seen / SAMPLE_RATE

    def reset(self) -> None:
        """Start afresh, as for a new recording: no score history, nothing of the old audio in the window.

        openWakeWord has no reset for its audio features; RESET_SILENCE_S of silence pushes the old
        audio out of the model's window, which is what matters.
        """
        silence = np.zeros(FRAME_SAMPLES, np.int16)
        for _ in range(round(RESET_SILENCE_S / FRAME_S)):
            self._model.predict(silence)
        self._model.reset()
        self._samples_seen = 0
        self._suppressed_until_s = self._refractory_until_s = 0.0
        self._awaiting_fall = False

    def set_wake_words(self, wake_words: list[str]) -> None:
        unknown = [w for w in wake_words if w not in self.available]
        if unknown or not wake_words:
            raise WakeWordError(
                f"unknown wake word {unknown[0] if unknown else '(none)'!r}; "
                f"the wake words are {', '.join(self.available)}")
        self.wake_words = list(dict.fromkeys(wake_words))

    def set_threshold(self, threshold: float) -> None:
        if not 0.0 < threshold < 1.0:
            raise WakeWordError(f"threshold {threshold} is not between 0 and 1")
        self.threshold = threshold

    def suppress_until(self, stream_s: float) -> None:
        """Report no detection before this stream time (the device is speaking, or just unmuted)."""
        self._suppressed_until_s = max(self._suppressed_until_s, stream_s)

    def rearm(self) -> None:
        """End the refractory period of the last detection, a candidate that proved not to be the
        wake word: the next rise of the score (after it has fallen below the threshold) is a new
        detection. Without this, a rejected candidate just before the wake word (a noise burst, a
        word said first) would hide the wake word itself for REFRACTORY_S."""
        self._refractory_until_s = 0.0
        self._awaiting_fall = True

    def process(self, frame: np.ndarray, threshold: float | None = None,
                keep_history: bool = False) -> Detection | None:
        """Score one frame (int16, 1280 samples); a Detection when a wake word was just heard.

        Every frame must go through here, even while a request is being listened to, so that the
        model's audio window is current when detection is wanted again. threshold: instead of the
        configured one (a verifier's lower candidate threshold); keep_history: do not reset the
        score history on a detection (the model scores 0 for 5 frames after a reset, and a
        verifier wants to see how high the score goes after a candidate).
        """
        threshold = self.threshold if threshold is None else threshold
        scores = self._model.predict(frame)
        self._samples_seen += len(frame)
        self.last_scores = {name: float(scores.get(name, 0.0)) for name in self.wake_words}
        if self.now_s < max(self._suppressed_until_s, self._refractory_until_s):
            return None
        name, score = max(self.last_scores.items(), key=lambda item: item[1])
        if score < threshold:
            self._awaiting_fall = False
            return None
        if self._awaiting_fall:
            return None  # still the rise that was rejected
        if not keep_history:
            self._model.reset()
        self._refractory_until_s = self.now_s + REFRACTORY_S
        _LOGGER.debug("wake word %s, score %.3f at %.2f s", name, score, self.now_s)
        return Detection(wake_word=name, score=score, at_s=self.now_s)
