"""The panel service: the physical button and the LEDs.

It reports presses as ``ButtonPressed`` (single, double, long, very_long); what a press does
(start listening, stop a ringing timer, ...) is the dialogue service's decision, since it owns the
device's state. The one exception is the very long press, which by default toggles the microphone
mute here (``SetMute``), so that muting works even when nothing else does.

The LEDs follow the retained ``DeviceState``, ``MuteState`` and ``VolumeState``; while the device is
idle they can be a lamp (``SetLight`` from the hub, kept across restarts in ``<state>/light.json``
and published retained as ``LightState``). Button and LEDs are opened separately (the button first):
when one fails (pin busy, no SPI) the other keeps working and the failure goes on the bus as a
``ServiceError``. SIGHUP retries whatever failed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from device.button import NoGpioOnPi, PanelButton, Press, PressClassifier, choose_pin_factory
from device.leds import (
    HAT_PRESETS,
    Animation,
    STATE_ANIMATIONS,
    Apa102Ring,
    LedBackend,
    LedRenderer,
    LedRow,
    RgbLed,
    SingleLed,
    volume_animation,
)

from ..config import ConfigError
from ..messages import (
    ButtonPressed,
    DeviceState,
    LightState,
    Message,
    MuteState,
    SetLight,
    SetMute,
    VolumeState,
)
from ..service import Service
from .settings import PanelSettings

_LOGGER = logging.getLogger(__name__)

NO_PIN = -1
LIGHT_FILE = "light.json"
PINS_NEEDED = {"pwmled": "1 pin", "rgbled": "3 pins (red, green, blue)"}


@dataclass(frozen=True)
class LedWiring:
    """Which LEDs to drive, after the board preset and the custom keys are combined."""

    kind: str  # pwmled, rgbled, board, apa102
    pins: tuple[int, ...] = ()
    count: int = 1
    spi_port: int = 0
    spi_device: int = 1
    power_pin: int | None = None


def check_press_times(panel: PanelSettings) -> None:
    """ConfigError unless a long press is shorter than a very long one."""
    if panel.long_press_s >= panel.very_long_press_s:
        raise ConfigError(f"panel.long_press_s = {panel.long_press_s}: must be shorter than "
                          f"panel.very_long_press_s ({panel.very_long_press_s})")


def led_wiring(panel: PanelSettings) -> LedWiring | None:
    """The LEDs the settings describe, or None; ConfigError when the keys do not fit together."""
    kind = panel.leds
    if kind == "none" and panel.hat != "none":
        preset = HAT_PRESETS[panel.hat]
        return LedWiring("apa102", count=preset.led_count, spi_port=preset.spi_port,
                         spi_device=preset.spi_device,
                         power_pin=None if preset.led_power_pin == NO_PIN else preset.led_power_pin)
    if kind == "none":
        return None
    pins = tuple(panel.led_pins)
    wanted = {"pwmled": 1, "rgbled": 3}.get(kind)
    if wanted is not None and len(pins) != wanted:
        raise ConfigError(f"panel.led_pins = {list(pins)}: leds = {kind!r} needs {PINS_NEEDED[kind]}")
    if kind == "board" and not pins:
        raise ConfigError("panel.led_pins = []: leds = 'board' needs one pin per LED")
    if kind == "apa102":
        return LedWiring("apa102", count=panel.led_count, spi_port=panel.spi_port, spi_device=panel.spi_device,
                         power_pin=None if panel.led_power_pin == NO_PIN else panel.led_power_pin)
    return LedWiring(kind, pins=pins, count=len(pins))


def open_leds(wiring: LedWiring, active_high: bool = True) -> LedBackend:
    """Open the LED hardware; raises gpiozero's errors (pin in use, SPI unavailable)."""
    if wiring.kind == "pwmled":
        return SingleLed(wiring.pins[0], active_high=active_high)
    if wiring.kind == "rgbled":
        return RgbLed(*wiring.pins, active_high=active_high)
    if wiring.kind == "board":
        return LedRow(wiring.pins, active_high=active_high)
    if wiring.kind == "apa102":
        return Apa102Ring(wiring.count, port=wiring.spi_port, device=wiring.spi_device, power_pin=wiring.power_pin)
    raise ConfigError(f"panel.leds = {wiring.kind!r}: unknown kind of LEDs")


def describe(wiring: LedWiring) -> str:
    """The LEDs in a few words, for log lines and errors."""
    if wiring.kind == "apa102":
        return f"{wiring.count} APA102 LEDs on SPI{wiring.spi_port}.{wiring.spi_device}"
    return f"{wiring.kind} on GPIO {', '.join(map(str, wiring.pins))}"


class PanelService(Service):
    """Reports button presses on the bus and shows the device's state on the LEDs."""

    name = "panel"
    subscriptions = (DeviceState, MuteState, VolumeState, SetLight)

    def __init__(self, settings, bus) -> None:
        super().__init__(settings, bus)
        self.panel: PanelSettings = settings.panel
        self.button: PanelButton | None = None
        self.leds: LedRenderer | None = None
        check_press_times(self.panel)  # ConfigError before anything is opened
        self.wiring = led_wiring(self.panel)
        self.state = "idle"
        self.muted = False
        self.volume: int | None = None
        self.light_file = Path(settings.state_dir) / LIGHT_FILE
        self.light = load_light(self.light_file)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            factory = choose_pin_factory()
        except NoGpioOnPi as err:  # simulated pins stand in, so the rest still runs
            self.report_error(f"button and LEDs do not work: {err}")
            factory = "MockFactory"
        _LOGGER.info("GPIO through %s", factory)
        self._open_button()
        self._open_leds()

    def _open_button(self) -> None:
        if self.button is not None or self.panel.button_pin == NO_PIN:
            return
        assert self._loop is not None
        classifier = PressClassifier(
            long_press_s=self.panel.long_press_s,
            very_long_press_s=self.panel.very_long_press_s,
            double_press_window_s=self.panel.double_press_window_s,
        )
        try:
            self.button = PanelButton(
                self.panel.button_pin, loop=self._loop, on_press=self.on_press, classifier=classifier,
                pull_up=self.panel.button_pull_up, bounce_time_s=self.panel.bounce_time_s)
        except Exception as err:  # pin busy, no such pin, no GPIO access
            self.report_error(f"button on GPIO {self.panel.button_pin} failed: {err}; presses are not seen")
            return
        _LOGGER.info("Button on GPIO %d", self.panel.button_pin)

    def _open_leds(self) -> None:
        if self.leds is not None or self.wiring is None:
            return
        try:
            backend = open_leds(self.wiring, active_high=self.panel.led_active_high)
        except Exception as err:  # pin busy, SPI unavailable
            self.report_error(f"LEDs ({describe(self.wiring)}) failed: {err}{self._button_note()}")
            return
        self.leds = LedRenderer(backend, brightness=self.panel.brightness,
                                frame_rate_hz=self.panel.frame_rate_hz, on_error=self._leds_failed_on_thread)
        self._show_state()
        _LOGGER.info("LEDs: %s", describe(self.wiring))

    def _leds_failed_on_thread(self, err: BaseException) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._leds_failed, err)
        except RuntimeError:  # the loop is already closed: shutting down anyway
            pass

    def _leds_failed(self, err: BaseException) -> None:
        if self.leds is not None:
            leds, self.leds = self.leds, None
            leds.close(turn_off=False)
        assert self.wiring is not None
        self.report_error(f"LEDs ({describe(self.wiring)}) stopped working: {err}{self._button_note()}")

    def _button_note(self) -> str:
        return "; the button still works" if self.button is not None else ""

    def on_press(self, press: Press) -> None:
        """A classified press, on the event loop: report it; a very long press may toggle mute."""
        self.bus.publish(ButtonPressed(press=press))
        if press == "very_long" and self.panel.very_long_press == "mute":
            self.bus.publish(SetMute(muted=not self.muted))

    async def connected(self) -> None:
        self.bus.publish(self.light)

    async def handle(self, message: Message) -> None:
        if isinstance(message, SetLight):
            self.light = LightState(
                on=self.light.on if message.on is None else message.on,
                brightness=self.light.brightness if message.brightness is None else message.brightness,
                rgb=list(self.light.rgb if message.rgb is None else message.rgb),
            )
            save_light(self.light_file, self.light)
            self.bus.publish(self.light)
            self._show_state()
        elif isinstance(message, DeviceState):
            self.state = message.state
            self._show_state()
        elif isinstance(message, MuteState):
            self.muted = message.muted
            self._show_state()
        elif isinstance(message, VolumeState):
            # The first (retained) volume is where we start, not a change to show.
            if self.volume is not None and message.volume != self.volume and self.leds is not None:
                self.leds.flash(volume_animation(message.volume), self.panel.volume_display_s)
            self.volume = message.volume

    def shown_state(self) -> str:
        """What the LEDs should show: the device state, with mute showing whenever it is idle."""
        if self.muted and self.state == "idle":
            return "muted"
        return self.state

    def _show_state(self) -> None:
        if self.leds is None:
            return
        state = self.shown_state()
        if state == "idle" and self.light.on:
            red, green, blue = (channel / 255 * self.light.brightness for channel in self.light.rgb)
            self.leds.play(Animation("solid", (red, green, blue)))
        else:
            self.leds.play(STATE_ANIMATIONS[state])

    async def reload(self) -> None:
        """SIGHUP: try again to open a button or LEDs that failed."""
        self._open_leds()
        self._open_button()

    async def stop(self) -> None:
        if self.button is not None:
            self.button.close()
            self.button = None
        if self.leds is not None:
            self.leds.close()
            self.leds = None


def load_light(path: Path) -> LightState:
    """The lamp as it was left; off when there is no (readable) file."""
    try:
        return LightState.from_json(path.read_bytes())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as err:  # BadMessage is a ValueError
        _LOGGER.warning("Ignoring %s: %s", path, err)
    return LightState(on=False)


def save_light(path: Path, light: LightState) -> None:
    """Write atomically, so that a crash leaves the previous lamp setting."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(light.to_json(), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as err:
        _LOGGER.warning("Could not keep the lamp setting in %s: %s", path, err)
