"""Home commands: which entities the words mean, the command on the bus, and the answer awaited.

The bridge carries a HomeCommand out and answers with a HomeCommandResult. The reply waits for
that answer (``home_command_timeout_s``), so Samantha never says "done" for something that did not
happen: no answer means "I can't reach the kitchen light right now".

Conventions (as in Home Assistant's intents): HassTurnOn/HassTurnOff on a lock lock/unlock it, on
a cover open/close it. Relative brightness ("make it brighter") is HassLightSet with
``data["brightness_step_pct"]`` (+/-), the absolute one ``data["brightness"]`` (0-100).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ..messages import HomeCommand, HomeCommandResult, Message
from .nlu import Home

_LOGGER = logging.getLogger(__name__)

HOME_INTENTS = frozenset({
    "HassTurnOn", "HassTurnOff", "HassToggle", "HassLightSet", "HassGetState", "HassClimateSetTemperature",
    "HassClimateGetTemperature", "HassSetPosition", "HassFanSetSpeed", "HassMediaPause", "HassMediaUnpause",
    "HassMediaNext", "HassMediaPrevious", "HassVacuumStart", "HassVacuumReturnToBase", "HassLawnMowerDock",
    "HassLawnMowerStartMowing", "HassMediaPlayerMute", "HassMediaPlayerUnmute", "HassSetVolumeRelative",
    "HassMediaSearchAndPlay", "HassShoppingListAddItem", "HassListAddItem", "HassListCompleteItem",
    "HassShoppingListCompleteItem",
})
# Slots that name the target; the rest of the slots travel as the command's data.
TARGET_SLOTS = ("name", "area", "floor", "domain", "device_class")
BRIGHTNESS_STEP_PCT = 25
# Words that say which kind of device is meant, when the model gave no domain.
_DOMAIN_WORDS = {
    "light": r"\blights?\b|\blamps?\b",
    "fan": r"\bfans?\b",
    "cover": r"\bblinds?\b|\bcurtains?\b|\bshutters?\b|\bgarage\b",
    "lock": r"\block\b|\bdoor\b",
    "switch": r"\bswitch(es)?\b|\bplugs?\b",
    "climate": r"\bheating\b|\bthermostat\b",
}
DOMAIN_WORDS_SPOKEN = {"light": "lights", "fan": "fans", "cover": "covers", "lock": "locks", "switch": "switches",
                       "climate": "thermostats", "media_player": "speakers"}


@dataclass
class Target:
    """The entities a request means, and how to speak of them."""

    entity_ids: list[str]
    spoken: str  # "kitchen light", "lights in the bedroom"
    domain: str = ""
    area: str = ""
    plural: bool = False


@dataclass
class Resolution:
    """The target, or what is missing: an area to ask for, or a name nobody knows."""

    target: Target | None = None
    ask_area: bool = False
    unknown_name: str = ""
    unknown_area: str = ""
    choices: list[str] = field(default_factory=list)
    domain: str = ""


def domain_in_words(text: str) -> str:
    for domain, pattern in _DOMAIN_WORDS.items():
        if re.search(pattern, text, re.IGNORECASE):
            return domain
    return ""


class HomeControl:
    """Resolves targets against the home and sends commands, waiting for the bridge's answers."""

    def __init__(self, home: Home, publish: Callable[[Message], None], timeout_s: float) -> None:
        self.home = home
        self.publish = publish
        self.timeout_s = timeout_s
        self._waiting: dict[str, asyncio.Future[HomeCommandResult]] = {}

    # --- which entities -------------------------------------------------------------------------

    def entities_named(self, name: str) -> list[Any]:
        canonical = self.home.resolve("name", name)
        if canonical is None:
            return []
        return [e for e in self.home.entities if e.name == canonical]

    def resolve(self, slots: dict[str, Any], text: str, area_hint: str = "") -> Resolution:
        """The entities slots and words point at; for "turn on the lights" with several rooms, ask."""
        name = str(slots.get("name") or "").strip()
        domain = str(slots.get("domain") or "") or domain_in_words(text)
        area_said = str(slots.get("area") or "").strip() or area_hint
        area = self.home.resolve("area", area_said) if area_said else None
        if name:
            entities = self.entities_named(name)
            if not entities:
                return Resolution(unknown_name=name)
            entity = entities[0]
            ids = sorted({e.entity_id for e in entities})
            return Resolution(Target(ids, entity.name.casefold(), entity.domain, entity.area or ""))
        if area_said and area is None:
            return Resolution(unknown_area=area_said, domain=domain)
        candidates = [e for e in self.home.entities if not domain or e.domain == domain]
        if area is not None:
            candidates = [e for e in candidates if (e.area or "").casefold() == area.casefold()]
            if not candidates:
                return Resolution(unknown_area=area, domain=domain)
            ids = sorted({e.entity_id for e in candidates})
            kind = DOMAIN_WORDS_SPOKEN.get(domain, "devices") if len(ids) > 1 else (
                candidates[0].name.casefold())
            spoken = f"{kind} in the {area.casefold()}" if len(ids) > 1 else kind
            return Resolution(Target(ids, spoken, domain, area, len(ids) > 1))
        if not domain:
            return Resolution(ask_area=False, unknown_name="that")
        ids = sorted({e.entity_id for e in candidates})
        if len(ids) == 1:
            entity = candidates[0]
            return Resolution(Target(ids, entity.name.casefold(), entity.domain, entity.area or ""))
        if not ids:
            return Resolution(unknown_name=DOMAIN_WORDS_SPOKEN.get(domain, domain), domain=domain)
        areas = sorted({e.area for e in candidates if e.area})
        return Resolution(ask_area=True, choices=areas, domain=domain)

    # --- carrying out ---------------------------------------------------------------------------

    async def execute(self, intent: str, target: Target, data: dict[str, Any]) -> HomeCommandResult | None:
        """Send the command and wait for the bridge's answer; None when none came in time."""
        request_id = uuid.uuid4().hex[:12]
        future: asyncio.Future[HomeCommandResult] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self.publish(HomeCommand(request_id=request_id, intent=intent, entity_ids=target.entity_ids, data=data))
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except asyncio.TimeoutError:
            _LOGGER.warning("No answer from the hub to %s on %s within %.1f s", intent, target.entity_ids,
                            self.timeout_s)
            return None
        finally:
            self._waiting.pop(request_id, None)

    def on_result(self, result: HomeCommandResult) -> None:
        future = self._waiting.get(result.request_id)
        if future is not None and not future.done():
            future.set_result(result)
