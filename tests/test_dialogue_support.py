"""Helpers for the dialogue service's tests: a state folder with the trained model, the service as
its own process on a test broker, and a live microphone for the listener on stdin."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from services.broker import PrivateBroker
from services.messages import DeviceState, WakeWordState
from tests.conftest import NLU_TEST_CACHE

SERVICE_START_S = 240.0  # a first run trains the model; generous for a busy CI machine
ENTITIES = [
    {"entity_id": "light.kitchen", "name": "Kitchen light", "area": "Kitchen", "domain": "light"},
    {"entity_id": "light.bedroom", "name": "Bedroom light", "area": "Bedroom", "domain": "light"},
]


def prepare_state_dir(state_dir: Path) -> Path:
    """A fresh state folder. The trained model comes from the suite's shared cache
    ($SAMANTHA_NLU_CACHE, keyed by the sentences), so only the first start after a change trains."""
    os.environ.setdefault("SAMANTHA_NLU_CACHE", NLU_TEST_CACHE)  # for bench/dialogue.py too
    state_dir.mkdir(parents=True, exist_ok=True)
    return state_dir


def write_toml(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                continue  # tables go below as arrays of tables
            lines.append(f"{key} = {json.dumps(value)}")
        for key, value in values.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    lines.append(f"[[{name}.{key}]]")
                    lines += [f"{k} = {json.dumps(v)}" for k, v in item.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def dialogue_config(folder: Path, **dialogue: Any) -> Path:
    state_dir = prepare_state_dir(folder / "state")
    return write_toml(folder / "config.toml", {
        "general": {"state_dir": str(state_dir), "log_level": "info"},
        "dialogue": {"sentences_dir": str(folder / "sentences"), "entities": ENTITIES,
                     "areas": ["Kitchen", "Bedroom"], "home_command_timeout_s": 1.0, **dialogue},
    })


class DialogueProcess:
    """`python -m services.dialogue` on the test broker."""

    def __init__(self, broker: PrivateBroker, config: Path) -> None:
        self.broker = broker
        self.config = config
        self.process: subprocess.Popen | None = None
        self.log = config.parent / "dialogue.log"

    def start(self, probe=None) -> "DialogueProcess":
        env = {**os.environ, "SAMANTHA_CONFIG": str(self.config),
               "SAMANTHA_OVERRIDES": json.dumps({"bus": {"host": "127.0.0.1", "port": self.broker.port}})}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "services.dialogue"], env=env,
                                            stdout=log, stderr=log)
        if probe is not None:
            # Published (retained) on every connect: the service is up and listening.
            probe.wait_for(lambda m: isinstance(m, DeviceState), timeout=SERVICE_START_S)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.terminate()
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


FRAME_SAMPLES = 1280  # 80 ms at 16 kHz, the listener's frame
SAMPLE_RATE = 16000


class LiveMicrophone:
    """Feeds a process's stdin like a live microphone: silence in real time, speech when asked."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self._speech: "queue.Queue[np.ndarray]" = queue.Queue()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="live-microphone", daemon=True)

    def start(self) -> "LiveMicrophone":
        self._thread.start()
        return self

    def speak(self, samples: np.ndarray) -> None:
        """Play 16 kHz mono int16 samples into the microphone (after what is already queued)."""
        self._idle.clear()
        self._speech.put(samples.astype(np.int16))

    def wait_until_spoken(self, timeout: float = 60.0) -> None:
        assert self._idle.wait(timeout), "the microphone did not finish speaking"

    def _run(self) -> None:
        pending = np.zeros(0, dtype=np.int16)
        next_at = time.monotonic()
        while not self._stop.is_set():
            if not len(pending):
                try:
                    pending = self._speech.get_nowait()
                except queue.Empty:
                    self._idle.set()
                    pending = np.zeros(0, dtype=np.int16)
            frame = pending[:FRAME_SAMPLES]
            pending = pending[FRAME_SAMPLES:]
            if len(frame) < FRAME_SAMPLES:
                frame = np.pad(frame, (0, FRAME_SAMPLES - len(frame)))
            try:
                self.stream.write(frame.astype("<i2").tobytes())
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                return
            next_at += FRAME_SAMPLES / SAMPLE_RATE
            time.sleep(max(0.0, next_at - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


LISTENER_START_S = 240.0


@contextmanager
def listener_on_live_microphone(samantha, folder: Path) -> Iterator[LiveMicrophone]:
    """The real listener on samantha's bus, its microphone on stdin, fed live by the test.

    It runs beside `samantha run` rather than under it, so that speech starts only once the other
    services are up (a WAV-file microphone would start playing at once)."""
    env = {**samantha.env(), "SAMANTHA_OVERRIDES": json.dumps({
        "bus": {"host": "127.0.0.1", "port": samantha.port}, "audio": {"input": "stdin"}})}
    with open(folder / "listener.log", "wb") as log:
        listener = subprocess.Popen([sys.executable, "-m", "services.listener"], env=env,
                                    stdin=subprocess.PIPE, stdout=log, stderr=log)
        microphone = LiveMicrophone(listener.stdin).start()
        try:
            samantha.probe.wait_for(WakeWordState, timeout=LISTENER_START_S)
            yield microphone
        finally:
            microphone.close()
            listener.terminate()
            try:
                listener.wait(10)
            except subprocess.TimeoutExpired:
                listener.kill()
