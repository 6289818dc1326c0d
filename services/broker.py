"""A private Mosquitto broker as a child process: for `samantha run` in development and for tests.

On the device the broker is systemd/samantha-bus.service with systemd/mosquitto.conf; here the same
kind of config is generated for a free port and a socket in a temporary folder.

>>> with PrivateBroker() as broker:          # doctest: +SKIP
...     print(broker.port, broker.socket_path)
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

BROKER_START_TIMEOUT_S = 5.0


class BrokerError(RuntimeError):
    """The broker could not be started (mosquitto missing, or it exited)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BrokerError("mosquitto is not installed (apt-get install mosquitto; script/setup does it)")


class PrivateBroker:
    """Mosquitto on 127.0.0.1:<free port> and a unix socket, gone when stopped."""

    def __init__(self, port: int = 0, folder: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="samantha-bus-"))
        self.socket_path = self.folder / "bus.sock"
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        lines = [
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence false",
            # Without it a second message sent right after a first waits ~40 ms (Nagle's algorithm).
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            f"listener {self.port} 127.0.0.1",
            f"listener 0 {self.socket_path}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to 'mosquitto', who can't write our folder
        return "\n".join(lines) + "\n"

    def start(self) -> "PrivateBroker":
        conf = self.folder / "mosquitto.conf"
        conf.write_text(self.config())
        self.process = subprocess.Popen(
            [find_mosquitto(), "-c", str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C goes to the supervisor, which stops the broker last
        )
        deadline = time.monotonic() + BROKER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise BrokerError(f"mosquitto exited: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on port {self.port} within {BROKER_START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stderr:
            self.process.stderr.close()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PrivateBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
