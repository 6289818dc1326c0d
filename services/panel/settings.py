"""Settings of the panel service (button and LEDs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import setting


@dataclass(frozen=True)
class PanelSettings:
    """The button and the LEDs."""

    button_pin: int = setting(17, "BCM pin of the button (17 on the ReSpeaker 2-mic HAT)", minimum=0, maximum=27)
    leds: Literal["none", "pwmled", "rgbled", "board", "apa102"] = setting("none", "kind of LEDs")
    brightness: float = setting(0.5, "LED brightness", minimum=0.0, maximum=1.0)
