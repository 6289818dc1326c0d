"""The device's LEDs: what each state looks like, the LED hardware, and the thread that animates it.

- :class:`Animation` is a pure description (effect, colour, period) that renders a frame, one
  colour per LED, for any moment; :data:`STATE_ANIMATIONS` maps each device state to one.
- Backends, all through gpiozero so that its MockFactory covers them off the Pi:
  :class:`SingleLed` (PWMLED), :class:`RgbLed` (RGBLED), :class:`LedRow` (LEDBoard) and
  :class:`Apa102Ring` (APA102/DotStar pixels on SPI, as on the ReSpeaker 2-mic and 4-mic HATs).
- :class:`LedRenderer` plays an animation on a backend at a steady frame rate on its own thread,
  and writes nothing while a still picture is showing.

>>> from gpiozero import Device
>>> from gpiozero.pins.mock import MockFactory, MockPWMPin
>>> Device.pin_factory = MockFactory(pin_class=MockPWMPin)
>>> led = SingleLed(18)
>>> led.show([(0.0, 0.0, 1.0)], brightness=0.5)
>>> Device.pin_factory.pin(18).state
0.5
>>> led.close()
"""

from __future__ import annotations

import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from gpiozero import LEDBoard, PWMLED, RGBLED, DigitalOutputDevice, SPIDevice
from gpiozero.exc import SPIFixedRate

_LOGGER = logging.getLogger(__name__)

Color = tuple[float, float, float]  # red, green, blue, each 0..1
Frame = list[Color]  # one colour per LED
Effect = Literal["off", "solid", "breathe", "spin", "blink", "level"]

OFF: Color = (0.0, 0.0, 0.0)
WHITE: Color = (1.0, 1.0, 1.0)
BLUE: Color = (0.0, 0.25, 1.0)
CYAN: Color = (0.0, 0.8, 1.0)
DIM_RED: Color = (0.3, 0.0, 0.0)
RED: Color = (1.0, 0.0, 0.0)
AMBER: Color = (1.0, 0.45, 0.0)

FRAME_RATE_HZ = 30.0
SPIN_SHARPNESS = 4  # higher = a shorter tail behind the spinning light
APA102_START_FRAME = bytes(4)  # 32 zero bits
APA102_LED_MARKER = 0xE0  # the three 1 bits that open each LED's 32-bit frame
APA102_MAX_GLOBAL = 31  # 5-bit per-LED brightness
APA102_SPI_RATE_HZ = 8_000_000  # what the ReSpeaker HATs' own driver uses


@dataclass(frozen=True)
class Animation:
    """How the LEDs look in one state: an effect in one colour, repeating every period_s.

    >>> Animation("spin", CYAN, period_s=1.0).frame(0.0, 4)[0] == CYAN
    True
    """

    effect: Effect
    color: Color = WHITE
    period_s: float = 1.0
    level: float = 1.0  # "level": the fraction of the LEDs lit (a volume bar)

    @property
    def moves(self) -> bool:
        """Whether frames change over time (a still picture is written once)."""
        return self.effect in ("breathe", "spin", "blink")

    def frame(self, t: float, count: int) -> Frame:
        """The colours of ``count`` LEDs at ``t`` seconds into the animation."""
        phase = (t / self.period_s) % 1.0 if self.period_s > 0 else 0.0
        if self.effect == "off":
            return [OFF] * count
        if self.effect == "solid":
            return [self.color] * count
        if self.effect == "breathe":
            # Starts bright, eases down to 10 % and back up: soft, never fully dark.
            return [_scale(self.color, 0.1 + 0.9 * (0.5 + 0.5 * math.cos(2 * math.pi * phase)))] * count
        if self.effect == "blink":
            return [self.color if phase < 0.5 else OFF] * count
        if self.effect == "spin":
            # One light running round the ring with a tail; on one LED it becomes a pulse.
            return [
                _scale(self.color, max(0.0, math.cos(math.pi * ((i / count - phase) % 1.0))) ** SPIN_SHARPNESS)
                for i in range(count)
            ]
        if self.effect == "level":
            lit = self.level * count
            return [_scale(self.color, min(1.0, max(0.0, lit - i))) for i in range(count)]
        raise ValueError(f"unknown LED effect {self.effect!r}")


def _scale(color: Color, factor: float) -> Color:
    return (color[0] * factor, color[1] * factor, color[2] * factor)


STATE_ANIMATIONS: dict[str, Animation] = {
    "idle": Animation("off"),
    "wake": Animation("solid", WHITE),
    "listening": Animation("solid", BLUE),
    "thinking": Animation("spin", CYAN, period_s=1.0),
    "speaking": Animation("breathe", CYAN, period_s=2.0),
    "muted": Animation("solid", DIM_RED),
    "error": Animation("blink", RED, period_s=1.0),
    "timer_ringing": Animation("blink", AMBER, period_s=0.5),
}


def volume_animation(volume: int) -> Animation:
    """A bar showing the volume (0-100): the share of the ring lit, or one LED's brightness."""
    return Animation("level", WHITE, period_s=0.0, level=max(0, min(100, volume)) / 100)


def luminance(color: Color) -> float:
    """How bright a colour looks on a one-colour LED (its strongest channel)."""
    return max(color)


# --- backends ------------------------------------------------------------------------------------


class LedBackend(ABC):
    """LED hardware that shows a frame (one colour per LED)."""

    count: int = 1

    @abstractmethod
    def show(self, frame: Sequence[Color], brightness: float) -> None:
        """Show the frame at an overall brightness (0..1)."""

    @abstractmethod
    def close(self) -> None:
        """Release the pins; safe to call twice."""


class SingleLed(LedBackend):
    """One plain LED on a PWM pin (gpiozero PWMLED): states differ by pattern and brightness."""

    count = 1

    def __init__(self, pin: int, *, active_high: bool = True) -> None:
        self._led: PWMLED | None = PWMLED(pin, active_high=active_high)

    def show(self, frame: Sequence[Color], brightness: float) -> None:
        if self._led is not None:
            self._led.value = luminance(_mean(frame)) * brightness

    def close(self) -> None:
        if self._led is not None:
            led, self._led = self._led, None
            led.close()


class RgbLed(LedBackend):
    """One RGB LED on three PWM pins (gpiozero RGBLED)."""

    count = 1

    def __init__(self, red: int, green: int, blue: int, *, active_high: bool = True) -> None:
        self._led: RGBLED | None = RGBLED(red, green, blue, active_high=active_high)

    def show(self, frame: Sequence[Color], brightness: float) -> None:
        if self._led is not None:
            self._led.value = _scale(_mean(frame), brightness)

    def close(self) -> None:
        if self._led is not None:
            led, self._led = self._led, None
            led.close()


class LedRow(LedBackend):
    """A row of plain LEDs on PWM pins (gpiozero LEDBoard): spin runs along it, volume is a bar."""

    def __init__(self, pins: Sequence[int], *, active_high: bool = True) -> None:
        self.count = len(pins)
        self._board: LEDBoard | None = LEDBoard(*pins, pwm=True, active_high=active_high)

    def show(self, frame: Sequence[Color], brightness: float) -> None:
        if self._board is not None:
            self._board.value = tuple(luminance(c) * brightness for c in frame)

    def close(self) -> None:
        if self._board is not None:
            board, self._board = self._board, None
            board.close()


def apa102_frame(frame: Sequence[Color], brightness: float) -> bytes:
    """The SPI bytes that set a chain of APA102 LEDs.

    A 32-bit zero start frame; per LED 0xE0 | 5-bit brightness, then blue, green, red; then zero
    bytes for at least one clock edge per two LEDs (so the data reaches the last LED; zeros rather
    than ones keep SK9822 clones happy).

    >>> apa102_frame([(1.0, 0.0, 0.5)], 1.0).hex()
    '00000000ff8000ff00000000'
    """
    level = round(max(0.0, min(1.0, brightness)) * APA102_MAX_GLOBAL)
    data = bytearray(APA102_START_FRAME)
    for red, green, blue in frame:
        data += bytes((APA102_LED_MARKER | level, _byte(blue), _byte(green), _byte(red)))
    data += bytes(max(4, (len(frame) + 15) // 16))
    return bytes(data)


def _byte(value: float) -> int:
    return round(max(0.0, min(1.0, value)) * 255)


class Apa102(SPIDevice):
    """A chain of APA102 (DotStar) LEDs on an SPI port, through gpiozero's SPI interface.

    gpiozero uses the kernel's hardware SPI where it can (lgpio on a Pi) and bit-bangs pins
    otherwise, which is also what its MockFactory does, so tests read the frames off mock pins.

    >>> ring = Apa102(3, port=0, device=1)               # doctest: +SKIP
    >>> ring.write(apa102_frame([RED, OFF, OFF], 0.5))   # doctest: +SKIP
    """

    def __init__(self, count: int, *, port: int = 0, device: int = 1, pin_factory=None) -> None:
        self.count = count
        super().__init__(port=port, device=device, pin_factory=pin_factory)
        try:
            self._spi.rate = APA102_SPI_RATE_HZ
        except (SPIFixedRate, NotImplementedError):
            pass  # the bit-banged interface goes as fast as it can anyway

    def write(self, data: bytes) -> None:
        """Send raw bytes (a frame from :func:`apa102_frame`)."""
        self._check_open()
        self._spi.write(list(data))


class Apa102Ring(LedBackend):
    """APA102 pixels on SPI, with the power-enable pin some boards have (GPIO 5 on the 4-mic HAT)."""

    def __init__(self, count: int, *, port: int = 0, device: int = 1, power_pin: int | None = None) -> None:
        self.count = count
        self._power: DigitalOutputDevice | None = None
        self._pixels: Apa102 | None = None
        try:
            if power_pin is not None:
                self._power = DigitalOutputDevice(power_pin, initial_value=True)
            self._pixels = Apa102(count, port=port, device=device)
        except BaseException:
            self.close()
            raise

    def show(self, frame: Sequence[Color], brightness: float) -> None:
        if self._pixels is not None:
            self._pixels.write(apa102_frame(frame, brightness))

    def close(self) -> None:
        pixels, self._pixels = self._pixels, None
        power, self._power = self._power, None
        if pixels is not None:
            pixels.close()
        if power is not None:
            power.close()


def _mean(frame: Sequence[Color]) -> Color:
    if not frame:
        return OFF
    n = len(frame)
    return (sum(c[0] for c in frame) / n, sum(c[1] for c in frame) / n, sum(c[2] for c in frame) / n)


# --- presets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HatPreset:
    """Where a known board has its LEDs (BCM pin numbers; -1 = none)."""

    led_count: int
    spi_port: int
    spi_device: int
    led_power_pin: int


HAT_PRESETS: dict[str, HatPreset] = {
    # Three APA102 on SPI0 CE1 (its button is on GPIO 17, the panel's default button pin).
    "respeaker-2mic": HatPreset(led_count=3, spi_port=0, spi_device=1, led_power_pin=-1),
    # Twelve APA102 on SPI0 CE1 behind a power switch on GPIO 5; the board has no button of its own.
    "respeaker-4mic": HatPreset(led_count=12, spi_port=0, spi_device=1, led_power_pin=5),
}


# --- the animation thread ------------------------------------------------------------------------


class LedRenderer:
    """Plays animations on an LED backend at a steady frame rate, on its own thread.

    :meth:`play` sets what the LEDs show; :meth:`flash` shows something else for a while (the
    volume) and then returns to it. Still pictures are written once and the thread sleeps. If the
    hardware fails, ``on_error(err)`` is called once (on the renderer's thread) and it stops.

    >>> renderer = LedRenderer(SingleLed(18), brightness=0.5)   # doctest: +SKIP
    >>> renderer.play(STATE_ANIMATIONS["thinking"])             # doctest: +SKIP
    """

    def __init__(
        self,
        backend: LedBackend,
        *,
        brightness: float = 1.0,
        frame_rate_hz: float = FRAME_RATE_HZ,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.backend = backend
        self.brightness = brightness
        self.frame_period_s = 1.0 / frame_rate_hz
        self.frames_written = 0
        self.failed: BaseException | None = None
        self._on_error = on_error
        self._base = Animation("off")
        self._base_since = time.monotonic()
        self._flash: Animation | None = None
        self._flash_until = 0.0
        self._flash_since = 0.0
        self._changed = threading.Event()
        self._closing = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="leds", daemon=True)
        self._thread.start()

    @property
    def showing(self) -> Animation:
        """What the LEDs show now."""
        with self._lock:
            return self._current(time.monotonic())[0]

    def play(self, animation: Animation) -> None:
        """Show this from now on (a flash in progress stays on top until it ends)."""
        with self._lock:
            if animation == self._base:
                return  # keep the phase of a running animation
            self._base = animation
            self._base_since = time.monotonic()
        self._changed.set()

    def flash(self, animation: Animation, seconds: float) -> None:
        """Show this for a while, then what play() set."""
        with self._lock:
            now = time.monotonic()
            if animation != self._flash or now >= self._flash_until:
                self._flash_since = now
            self._flash = animation
            self._flash_until = now + seconds
        self._changed.set()

    def _current(self, now: float) -> tuple[Animation, float]:
        if self._flash is not None and now < self._flash_until:
            return self._flash, now - self._flash_since
        return self._base, now - self._base_since

    def _run(self) -> None:
        last: Frame | None = None
        next_frame_at = time.monotonic()
        while not self._closing:
            self._changed.clear()
            now = time.monotonic()
            with self._lock:
                animation, elapsed = self._current(now)
                flash_left = self._flash_until - now if self._flash is not None else 0.0
            frame = animation.frame(elapsed, self.backend.count)
            if frame != last:
                try:
                    self.backend.show(frame, self.brightness)
                except Exception as err:  # pin gone, SPI error: report once and stop animating
                    self.failed = err
                    _LOGGER.error("LEDs failed: %s", err)
                    if self._on_error is not None:
                        self._on_error(err)
                    return
                self.frames_written += 1
                last = frame
            if animation.moves:
                # Steady rate: aim at the next tick; after an overrun start afresh from now.
                next_frame_at += self.frame_period_s
                if next_frame_at <= time.monotonic():
                    next_frame_at = time.monotonic() + self.frame_period_s
                timeout: float | None = next_frame_at - time.monotonic()
                if flash_left > 0:
                    timeout = min(timeout, flash_left)
            else:
                timeout = flash_left if flash_left > 0 else None
                next_frame_at = time.monotonic()
            self._changed.wait(timeout)

    def close(self, *, turn_off: bool = True) -> None:
        """Stop the thread and (by default) turn the LEDs off; safe to call twice."""
        if self._closing:
            return
        self._closing = True
        self._changed.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        if turn_off and self.failed is None:
            try:
                self.backend.show([OFF] * self.backend.count, 0.0)
            except Exception as err:
                _LOGGER.debug("Could not turn the LEDs off: %s", err)
        self.backend.close()
