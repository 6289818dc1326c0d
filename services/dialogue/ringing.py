"""The sound of a finished timer or alarm: a chime every couple of seconds until someone stops it.

Stopped by voice ("stop"), the button, or the hub (StopSpeaking); gives up by itself after
``ring_max_s`` (15 minutes by default) so that a forgotten timer does not chime all day.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

from ..messages import Message, PlayChime, StopSpeaking, TimerEvent

_LOGGER = logging.getLogger(__name__)


@dataclass
class Ringing:
    """One timer or alarm that is ringing."""

    id: str
    kind: str  # "timer" or "alarm"
    name: str
    since: float  # epoch seconds
    announcement: str  # said once, after the first chime


class Ringer:
    """Rings what is due, one chime loop for all of them."""

    def __init__(
        self,
        publish: Callable[[Message], None],
        interval_s: float,
        max_s: float,
        on_stopped: Callable[[Ringing, str], None],
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.publish = publish
        self.interval_s = interval_s
        self.max_s = max_s
        self.on_stopped = on_stopped  # (ringing, why) -> the skill tidies up (deletes the timer)
        self.on_change = on_change
        self.clock = clock
        self.ringing: dict[str, Ringing] = {}
        self._task: asyncio.Task | None = None
        self.say: Callable[[str], None] = lambda text: None

    @property
    def active(self) -> bool:
        return bool(self.ringing)

    def ring(self, ringing: Ringing) -> None:
        """Start ringing (idempotent: a timer already ringing keeps its start time)."""
        if ringing.id in self.ringing:
            return
        first = not self.ringing
        self.ringing[ringing.id] = ringing
        self.publish(TimerEvent(timer_id=ringing.id, event="ringing", name=ringing.name, kind=ringing.kind))
        _LOGGER.info("%s %s ringing", ringing.kind, ringing.name or ringing.id)
        if first:
            self.on_change()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._chime_loop())

    def stop(self, why: str = "stopped") -> list[Ringing]:
        """Stop everything that rings; returns what was stopped."""
        stopped = list(self.ringing.values())
        self.ringing.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if stopped:
            self.publish(StopSpeaking())  # cut the chime that is playing now
        for ringing in stopped:
            self.publish(TimerEvent(timer_id=ringing.id, event="stopped", name=ringing.name, kind=ringing.kind))
            self.on_stopped(ringing, why)
        if stopped:
            _LOGGER.info("Stopped ringing (%s): %s", why, ", ".join(r.name or r.id for r in stopped))
            self.on_change()
        return stopped

    def forget(self, ringing_id: str) -> None:
        """A ringing timer was cancelled some other way."""
        if self.ringing.pop(ringing_id, None) is not None and not self.ringing:
            self.stop("cancelled")

    async def _chime_loop(self) -> None:
        announced: set[str] = set()  # each one is announced once, after its first chime
        try:
            while self.ringing:
                now = self.clock()
                for ringing in list(self.ringing.values()):
                    if now - ringing.since >= self.max_s:
                        # Given up: nobody is there. Stop only the ones that have rung long enough.
                        del self.ringing[ringing.id]
                        self.publish(TimerEvent(timer_id=ringing.id, event="stopped", name=ringing.name,
                                                kind=ringing.kind))
                        self.on_stopped(ringing, "timeout")
                        _LOGGER.info("%s %s rang for %.0f s; giving up", ringing.kind, ringing.name, self.max_s)
                if not self.ringing:
                    self.on_change()
                    break
                self.publish(PlayChime(name="timer"))
                for ringing in self.ringing.values():
                    if ringing.id not in announced and ringing.announcement:
                        announced.add(ringing.id)
                        self.say(ringing.announcement)
                await asyncio.sleep(self.interval_s)
        finally:
            if self._task is asyncio.current_task():
                self._task = None
