"""Start the whole of Samantha (`samantha run`) for end-to-end tests, as a user would.

>>> with RunningSamantha(tmp_path, services=["voice"]) as samantha:      # doctest: +SKIP
...     samantha.say("Hello")
...     samantha.probe.wait_for(SpeakingFinished)
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import BusProbe

START_TIMEOUT_S = 180.0  # first start loads every model; generous for a busy CI machine


def child_pids(pid: int) -> list[int]:
    """The live processes whose parent is pid, from /proc (an exited child not yet reaped, a zombie,
    holds no memory and is left out)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
                if int(ppid) == pid and state != "Z":
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return found


def write_config(path: Path, state_dir: Path, extra: dict[str, dict[str, Any]] | None = None) -> Path:
    """A TOML settings file for tests: WAV speaker output, silent WAV microphone, private state."""
    sections: dict[str, dict[str, Any]] = {
        "general": {"state_dir": str(state_dir), "log_level": "info"},
        "audio": {"output": "wav", "output_file": str(state_dir / "speaker.wav"),
                  "input": "null"},
    }
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class RunningSamantha:
    """`samantha run` as a child process, with a probe on its bus."""

    def __init__(self, folder: Path, services: list[str] | None = None,
                 extra: dict[str, dict[str, Any]] | None = None) -> None:
        self.folder = folder
        self.state_dir = folder / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.config = write_config(folder / "config.toml", self.state_dir, extra)
        self.services = services
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.output: list[str] = []
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.probe: BusProbe | None = None

    @property
    def speaker_wav(self) -> Path:
        return self.state_dir / "speaker.wav"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "SAMANTHA_CONFIG": str(self.config)}
        env.pop("SAMANTHA_OVERRIDES", None)
        return env

    def _read(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self.output.append(line.rstrip())
            self.lines.put(line.rstrip())

    def wait_line(self, pattern: str, timeout: float = START_TIMEOUT_S) -> re.Match:
        """The next line of the supervisor's output matching a regular expression."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {timeout} s; output: {self.output[-30:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if match := re.search(pattern, line):
                return match

    def start(self) -> "RunningSamantha":
        command = [sys.executable, "-m", "services.cli", "run"]
        if self.services:
            command += ["--only", ",".join(self.services)]
        self.process = subprocess.Popen(command, env=self.env(), stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        self.port = int(self.wait_line(r"bus ready on 127\.0\.0\.1:(\d+)").group(1))
        self.probe = BusProbe(self.port)
        self.wait_line(r"Samantha is up")
        return self

    def samantha(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the `samantha` command against this instance, as a user would in another terminal."""
        return subprocess.run([sys.executable, "-m", "services.cli", *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def stop(self) -> int:
        if self.probe:
            self.probe.close()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else 0

    def __enter__(self) -> "RunningSamantha":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
