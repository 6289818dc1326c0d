"""`samantha run`: the local bus and every service in the foreground, for development and for
machines without systemd.

Each service is its own process, started as systemd would start it: a notify socket per service
(READY=1 prints "<service> ready", WATCHDOG=1 keeps it alive), a restart with backoff when it dies
or stops feeding the watchdog, and SIGTERM to all on Ctrl-C or SIGTERM, SIGKILL for what is still
there after STOP_GRACE_S.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .broker import PrivateBroker
from .memory import MALLOC_ENV
from .settings import OVERRIDES_ENV, Settings

_LOGGER = logging.getLogger(__name__)

SERVICES = ("voice", "listener", "dialogue", "panel", "bridge")
STOP_GRACE_S = 2.0  # whole shutdown stays under 3 s
RESTART_MIN_S = 0.5
RESTART_MAX_S = 10.0
STABLE_AFTER_S = 30.0  # a service up this long has its restart backoff reset
WATCHDOG_S = 30.0  # a ready service silent this long is hung: killed and restarted
START_TIMEOUT_S = 600.0  # as systemd's TimeoutStartSec: the first start may train the dialogue model
BUS_FILE = "bus.json"  # where `samantha say` and `monitor` find the private bus


def bus_file(settings: Settings) -> Path:
    return settings.state_dir / "run" / BUS_FILE


@dataclass
class Child:
    """One supervised service process."""

    name: str
    process: asyncio.subprocess.Process | None = None
    notify: socket.socket | None = None
    started_at: float = 0.0
    last_watchdog: float = 0.0
    restarts: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    """Starts the bus and the services, keeps them running, stops them all."""

    def __init__(self, settings: Settings, config_path: str | None, services: list[str],
                 bus_port: int = 0, out=sys.stdout) -> None:
        self.settings = settings
        self.config_path = config_path
        self.names = services
        self.broker = PrivateBroker(port=bus_port)
        self.children = {name: Child(name) for name in services}
        self.stopping = asyncio.Event()
        self.out = out

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def child_env(self, child: Child) -> dict[str, str]:
        env = dict(os.environ)
        overrides = json.loads(env.get(OVERRIDES_ENV) or "{}")
        overrides["bus"] = {"host": "127.0.0.1", "port": self.broker.port, "socket": str(self.broker.socket_path)}
        env[OVERRIDES_ENV] = json.dumps(overrides)
        if self.config_path:
            env["SAMANTHA_CONFIG"] = str(self.config_path)
        env["NOTIFY_SOCKET"] = str(self.broker.folder / f"notify-{child.name}.sock")
        env["WATCHDOG_USEC"] = str(int(WATCHDOG_S * 1e6))
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in MALLOC_ENV.items():  # as the systemd units set it; yours wins
            env.setdefault(key, value)
        return env

    def open_notify(self, child: Child) -> None:
        path = self.broker.folder / f"notify-{child.name}.sock"
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.setblocking(False)
        asyncio.get_running_loop().add_reader(sock.fileno(), self.on_notify, child, sock)
        child.notify = sock

    def on_notify(self, child: Child, sock: socket.socket) -> None:
        try:
            data = sock.recv(4096).decode(errors="replace")
        except OSError:
            return
        for line in data.splitlines():
            if line == "READY=1" and not child.ready.is_set():
                child.ready.set()
                self.say(f"{child.name} ready")
            elif line == "WATCHDOG=1":
                child.last_watchdog = time.monotonic()

    async def start_child(self, child: Child) -> None:
        child.ready.clear()
        child.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"services.{child.name}",
            env=self.child_env(child), stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
        )
        child.started_at = child.last_watchdog = time.monotonic()

    async def keep_running(self, child: Child) -> None:
        """Start a service and restart it, with backoff, whenever it dies."""
        delay = RESTART_MIN_S
        while not self.stopping.is_set():
            await self.start_child(child)
            assert child.process is not None
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            if code == 2:
                self.say(f"{child.name} refused its settings (exit 2); not restarting it")
                return
            if time.monotonic() - child.started_at > STABLE_AFTER_S:
                delay = RESTART_MIN_S
            child.restarts += 1
            self.say(f"{child.name} exited with {code}; restarting in {delay:.1f} s")
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, RESTART_MAX_S)

    async def watch_watchdogs(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for child in self.children.values():
                proc = child.process
                if not proc or proc.returncode is not None:
                    continue
                # As systemd does, the watchdog counts only once the service has said READY=1.
                if child.ready.is_set() and now - child.last_watchdog > WATCHDOG_S:
                    self.say(f"{child.name} stopped feeding its watchdog; killing it")
                    proc.kill()
                elif not child.ready.is_set() and now - child.started_at > START_TIMEOUT_S:
                    self.say(f"{child.name} was not ready within {START_TIMEOUT_S:.0f} s; killing it")
                    proc.kill()

    def write_bus_file(self) -> Path:
        path = bus_file(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"host": "127.0.0.1", "port": self.broker.port,
                                    "socket": str(self.broker.socket_path), "pid": os.getpid()}))
        return path

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        self.broker.start()
        path = self.write_bus_file()
        self.say(f"bus ready on 127.0.0.1:{self.broker.port} (socket {self.broker.socket_path})")
        try:
            for child in self.children.values():
                self.open_notify(child)
            keepers = [asyncio.create_task(self.keep_running(c)) for c in self.children.values()]
            watchdog = asyncio.create_task(self.watch_watchdogs())

            async def announce() -> None:
                await asyncio.gather(*(c.ready.wait() for c in self.children.values()))
                self.say("Samantha is up. Ctrl-C stops her.")

            announcer = asyncio.create_task(announce())
            await self.stopping.wait()
            self.say("stopping")
            watchdog.cancel()
            announcer.cancel()
            await self.stop_children()
            await asyncio.gather(*keepers, watchdog, announcer, return_exceptions=True)
        finally:
            for child in self.children.values():
                if child.notify:
                    loop.remove_reader(child.notify.fileno())
                    child.notify.close()
            path.unlink(missing_ok=True)
            self.broker.stop()
        self.say("stopped")
        return 0

    async def stop_children(self) -> None:
        running = [c.process for c in self.children.values() if c.process and c.process.returncode is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), STOP_GRACE_S)
        except asyncio.TimeoutError:
            for proc in running:
                if proc.returncode is None:
                    self.say(f"pid {proc.pid} did not stop in {STOP_GRACE_S} s; killing it")
                    proc.kill()
            await asyncio.gather(*(p.wait() for p in running))
