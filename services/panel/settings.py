"""Settings of the panel service (button and LEDs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import setting, zero_to_one


def _gpio_pin(value: int) -> str | None:
    return None if -1 <= value <= 27 else "must be a BCM GPIO number, 0-27 (-1 = none)"


def _gpio_pins(value: list[int]) -> str | None:
    bad = [pin for pin in value if not 0 <= pin <= 27]
    if bad:
        return f"{bad} are not BCM GPIO numbers (0-27)"
    if len(set(value)) != len(value):
        return "a pin is listed twice"
    return None


@dataclass(frozen=True)
class PanelSettings:
    """The button and the LEDs.

    ``hat`` picks a known board: "respeaker-2mic" (button on GPIO 17, 3 APA102 LEDs on SPI0 CE1) or
    "respeaker-4mic" (12 APA102 LEDs on SPI0 CE1, LED power on GPIO 5, no button). Its LEDs are used
    unless ``leds`` names other ones; the other keys describe custom wiring.
    """

    hat: Literal["none", "respeaker-2mic", "respeaker-4mic"] = setting(
        "none", "a known board whose LEDs to use: respeaker-2mic = 3 APA102 on SPI0 CE1; respeaker-4mic = 12, "
        "powered through GPIO 5 (the 2-mic HAT's button is on GPIO 17, the default button_pin)")
    button_pin: int = setting(
        17, "BCM pin of the button (17 on the ReSpeaker 2-mic HAT; -1 = no button)", check=_gpio_pin)
    button_pull_up: bool = setting(True, "the button connects the pin to ground (internal pull-up); false = to 3.3 V")
    bounce_time_s: float = setting(
        0.02, "ignore contact chatter for this long after an edge (the edge itself counts at once; 0 = off)",
        minimum=0.0, maximum=0.5)
    double_press_window_s: float = setting(
        0.3, "a second press within this time after a short press is a double press; 0 = no double "
        "press, single presses are reported at once", minimum=0.0, maximum=1.0)
    long_press_s: float = setting(1.0, "a press held this long is a long press", minimum=0.3, maximum=5.0)
    very_long_press_s: float = setting(10.0, "a press held this long is a very long press", minimum=2.0, maximum=60.0)
    very_long_press: Literal["mute", "event"] = setting(
        "mute", "what a very long press does: 'mute' toggles the microphone (and reports the press); "
        "'event' only reports it")
    leds: Literal["none", "pwmled", "rgbled", "board", "apa102"] = setting(
        "none", "kind of LEDs: one PWM LED, an RGB LED, a row of LEDs, or APA102/DotStar pixels on SPI")
    led_pins: list[int] = setting(
        [], "BCM pins of the LEDs: pwmled 1, rgbled 3 (red, green, blue), board one per LED", check=_gpio_pins)
    led_active_high: bool = setting(True, "an LED lights when its pin is high (false: when low)")
    led_count: int = setting(3, "apa102: how many pixels", minimum=1, maximum=256)
    spi_port: int = setting(0, "apa102: SPI port", minimum=0, maximum=0)
    spi_device: int = setting(1, "apa102: SPI chip select (1 = CE1 as on the ReSpeaker HATs)", minimum=0, maximum=1)
    led_power_pin: int = setting(
        -1, "BCM pin that switches the LEDs' power on (5 on the 4-mic HAT; -1 = none)", check=_gpio_pin)
    brightness: float = setting(
        0.5, "LED brightness: the most any LED is driven (the hub's lamp brightness is a share of it)",
        minimum=0.0, maximum=1.0, check=zero_to_one)
    frame_rate_hz: float = setting(30.0, "frames per second of LED animations", minimum=5.0, maximum=60.0)
    volume_display_s: float = setting(2.0, "how long a volume change shows on the LEDs", minimum=0.0, maximum=10.0)
