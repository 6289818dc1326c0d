"""End of speech: Silero VAD (ONNX, through onnxruntime; no torch) and an endpointer on top of it.

The Silero model file is the one openWakeWord's wheel ships (resources/models/silero_vad.onnx), so
no other download is needed. It scores 40 ms chunks; an 80 ms frame is two of them and gets the
higher score, so a short burst of speech is not averaged away.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from ..memory import without_arena

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 16000
VAD_CHUNK_SAMPLES = 640  # 40 ms; what openWakeWord feeds this model too
INT16_FULL_SCALE = 32768.0
SPEECH_START_FRAMES = 2  # consecutive 80 ms speech frames before a request counts as begun (clicks, taps)


def silero_model_path() -> Path:
    """The Silero VAD ONNX file inside the openwakeword package (found, not imported: see wake.py)."""
    spec = importlib.util.find_spec("openwakeword")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the openwakeword package (which carries the Silero VAD model) is not installed")
    return Path(spec.origin).parent / "resources" / "models" / "silero_vad.onnx"


class VoiceActivityDetector:
    """Silero VAD: probability that a frame of 16 kHz int16 audio holds speech. Streaming, stateful."""

    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime as ort

        options = without_arena(ort.SessionOptions())  # see services/memory.py
        # One thread: the model is tiny, and the listener must leave the cores to speech-to-text.
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path or silero_model_path()), sess_options=options, providers=["CPUExecutionProvider"])
        self._sample_rate = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state (at the start of each request)."""
        self._h = np.zeros((2, 1, 64), dtype=np.float32)
        self._c = np.zeros((2, 1, 64), dtype=np.float32)

    def speech_probability(self, frame: np.ndarray) -> float:
        """Highest speech probability over the 40 ms chunks of an int16 frame."""
        samples = frame.astype(np.float32) / INT16_FULL_SCALE
        best = 0.0
        for start in range(0, len(samples) - VAD_CHUNK_SAMPLES + 1, VAD_CHUNK_SAMPLES):
            chunk = samples[start:start + VAD_CHUNK_SAMPLES][None, :]
            out, self._h, self._c = self._session.run(
                None, {"input": chunk, "h": self._h, "c": self._c, "sr": self._sample_rate})
            best = max(best, float(out[0][0]))
        return best


class Endpoint(Enum):
    """Why a request ended."""

    SPEECH_END = "speech_end"  # the user spoke and then was silent for trailing_silence_s
    NO_SPEECH = "no_speech"  # nothing was said within the timeout
    MAX_LENGTH = "max_length"  # the user spoke for longer than max_utterance_s


@dataclass
class EndpointerSettings:
    """The timings that end a request, in seconds."""

    trailing_silence_s: float = 0.6
    max_utterance_s: float = 12.0
    no_speech_timeout_s: float = 5.0
    speech_threshold: float = 0.5


class Endpointer:
    """Decides, frame by frame, when a request has ended (a pure state machine over VAD scores)."""

    def __init__(self, settings: EndpointerSettings, frame_s: float) -> None:
        self.settings = settings
        self.frame_s = frame_s
        self.elapsed_s = 0.0
        self.speech_run = 0  # consecutive speech frames
        self.silence_s = 0.0  # silence since the last speech frame
        self.speech_started_s: float | None = None  # request-relative time speech began
        self.last_speech_s: float | None = None  # request-relative end of the last speech frame

    @property
    def in_speech(self) -> bool:
        return self.speech_started_s is not None

    @property
    def pausing(self) -> bool:
        """The user spoke and has now been quiet for at least one frame."""
        return self.in_speech and self.silence_s > 0

    def update(self, speech_probability: float) -> Endpoint | None:
        """Account one frame; an Endpoint when the request is over."""
        self.elapsed_s += self.frame_s
        if speech_probability >= self.settings.speech_threshold:
            self.speech_run += 1
            self.silence_s = 0.0
            if self.speech_started_s is None and self.speech_run >= SPEECH_START_FRAMES:
                self.speech_started_s = self.elapsed_s - self.speech_run * self.frame_s
            if self.speech_started_s is not None:
                self.last_speech_s = self.elapsed_s
        else:
            self.speech_run = 0
            self.silence_s += self.frame_s
        if self.in_speech:
            # Small epsilon: frame durations added up are not exact multiples in floating point.
            if self.silence_s >= self.settings.trailing_silence_s - 1e-6:
                return Endpoint.SPEECH_END
            if self.elapsed_s - self.speech_started_s >= self.settings.max_utterance_s - 1e-6:
                return Endpoint.MAX_LENGTH
        elif self.elapsed_s >= self.settings.no_speech_timeout_s - 1e-6:
            return Endpoint.NO_SPEECH
        return None
