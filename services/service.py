"""What every service shares: settings at start, logging, the bus, systemd notify and watchdog,
and clean shutdown on SIGTERM/SIGINT (SIGHUP reloads).

A service subclasses :class:`Service` and is started with ``run_service``::

    class Echo(Service):
        name = "echo"
        subscriptions = (Say,)

        async def handle(self, message):
            self.bus.publish(SpeakingFinished(id=message.id))

    def run() -> None:
        sys.exit(run_service(Echo))
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import ClassVar

import sdnotify

from .bus import Bus
from .config import ConfigError
from .messages import Message, ServiceError
from .settings import Settings, load_settings

_LOGGER = logging.getLogger(__name__)

EXIT_BAD_CONFIG = 2
WATCHDOG_FALLBACK_S = 10.0
FLUSH_ON_STOP_S = 0.3  # within systemd's and the supervisor's stop time


class Service:
    """One of Samantha's services; override what you need."""

    name: ClassVar[str] = "service"
    subscriptions: ClassVar[tuple[type[Message], ...]] = ()

    def __init__(self, settings: Settings, bus: Bus) -> None:
        self.settings = settings
        self.bus = bus
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Open devices and load models, before the service reports ready."""

    async def connected(self) -> None:
        """Called after every (re)connect to the bus: republish retained state here."""

    async def handle(self, message: Message) -> None:
        """One message from the bus. Must return quickly; start a task (spawn) for long work."""

    async def run(self) -> None:
        """Long-running work of the service (an audio loop, timers); runs until the service stops."""
        await asyncio.Event().wait()

    async def reload(self) -> None:
        """SIGHUP: reread what can be reread without a restart."""

    async def stop(self) -> None:
        """Release devices and child processes. Called once, on shutdown."""

    def spawn(self, coro) -> asyncio.Task:
        """Run a transient task owned by the service (cancelled on shutdown, errors logged)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            _LOGGER.error("%s: task failed: %r", self.name, err, exc_info=err)

    def report_error(self, message: str) -> None:
        """Tell the user (LEDs, hub) something went wrong, and log it."""
        _LOGGER.error("%s", message)
        self.bus.publish(ServiceError(service=self.name, message=message[:500]))


def configure_logging(level: str) -> None:
    """One line per event; journald and the supervisor add time and service name."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def parse_service_args(name: str, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"samantha-{name}", description=f"Samantha's {name} service")
    parser.add_argument("--config", help="settings file (default $SAMANTHA_CONFIG or /etc/samantha/config.toml)")
    return parser.parse_args(argv)


async def _watchdog(notifier: sdnotify.SystemdNotifier) -> None:
    """Feed systemd's watchdog at half its timeout, as long as the event loop is alive."""
    usec = os.environ.get("WATCHDOG_USEC")
    interval = int(usec) / 2e6 if usec and usec.isdigit() else WATCHDOG_FALLBACK_S / 2
    while True:
        notifier.notify("WATCHDOG=1")
        await asyncio.sleep(interval)


async def serve(service_cls: type[Service], settings: Settings) -> None:
    """Run one service until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bus = Bus(settings.bus, f"samantha-{service_cls.name}-{os.getpid()}", service_cls.subscriptions)
    service = service_cls(settings, bus)
    loop.add_signal_handler(signal.SIGHUP, lambda: service.spawn(service.reload()))
    notifier = sdnotify.SystemdNotifier()
    stopper = asyncio.create_task(stop.wait())
    starting = asyncio.create_task(service.start())
    await asyncio.wait([starting, stopper], return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        # Start-up work running on threads (training the dialogue model) cannot be interrupted,
        # and nothing has been done yet that needs saving: leave at once, as systemd expects.
        _LOGGER.info("%s stopped while starting", service_cls.name)
        notifier.notify("STOPPING=1")
        logging.shutdown()
        os._exit(0)
    starting.result()  # a failed start ends the service here, with its error

    async def on_connect() -> None:
        await service.connected()

    critical = [
        asyncio.create_task(bus.run(service.handle, on_connect), name="bus"),
        asyncio.create_task(service.run(), name="run"),
    ]
    connecting = asyncio.create_task(bus.connected.wait())
    await asyncio.wait([connecting, stopper], return_when=asyncio.FIRST_COMPLETED)
    connecting.cancel()
    notifier.notify("READY=1")
    notifier.notify(f"STATUS={service_cls.name} ready")
    _LOGGER.info("%s ready", service_cls.name)
    critical.append(asyncio.create_task(_watchdog(notifier), name="watchdog"))
    done, _ = await asyncio.wait([*critical, stopper], return_when=asyncio.FIRST_COMPLETED)
    notifier.notify("STOPPING=1")
    for task in done:
        if task is not stopper and not task.cancelled() and task.exception():
            _LOGGER.error("%s: %s stopped: %r", service_cls.name, task.get_name(), task.exception(),
                          exc_info=task.exception())
    bus_task, *others = critical
    for task in [*others, stopper, *service._tasks]:
        task.cancel()
    await asyncio.gather(*others, stopper, *service._tasks, return_exceptions=True)
    await service.stop()
    await bus.flush(FLUSH_ON_STOP_S)  # the last events (e.g. "speaking finished") still go out
    bus_task.cancel()
    await asyncio.gather(bus_task, return_exceptions=True)
    failed = [t for t in done if t is not stopper and not t.cancelled() and t.exception()]
    if failed:
        raise SystemExit(1)


def run_service(service_cls: type[Service], argv: list[str] | None = None) -> int:
    """Entry point of a service process: exit code 2 for bad settings, 0 after a clean stop."""
    args = parse_service_args(service_cls.name, argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(f"samantha-{service_cls.name}: bad settings: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    configure_logging(settings.general.log_level)
    try:
        asyncio.run(serve(service_cls, settings))
    except ConfigError as err:  # a service found a problem with its own section on start
        print(f"samantha-{service_cls.name}: bad settings: {err}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    return 0
