"""The device's button: gpiozero edges classified into presses (single, double, long, very long).

gpiozero calls back on its own thread; :class:`PanelButton` stamps each edge there and hands it to
the asyncio event loop with ``call_soon_threadsafe``, where the pure :class:`PressClassifier`
turns press/release times into presses. Timers for the double-press window and the very long hold
are event-loop timers, so nothing here blocks and no lock is needed.

Off a Raspberry Pi, :func:`choose_pin_factory` picks gpiozero's MockFactory (with a one-line
warning), and tests drive the button electrically::

    >>> from gpiozero import Device
    >>> from gpiozero.pins.mock import MockFactory
    >>> Device.pin_factory = MockFactory()
    >>> classifier = PressClassifier(double_press_window_s=0.0)
    >>> classifier.press(0.0), classifier.release(0.2)
    ([], ['single'])
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Literal

from gpiozero import Button, Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

_LOGGER = logging.getLogger(__name__)

Press = Literal["single", "double", "long", "very_long"]

LONG_PRESS_S = 1.0
VERY_LONG_PRESS_S = 10.0
DOUBLE_PRESS_WINDOW_S = 0.3  # short, because a single press is only certain once it has passed
MOCK_PIN_HISTORY = 2000  # state changes a simulated pin remembers (an animation makes many)
PIN_FACTORY_ENV = "GPIOZERO_PIN_FACTORY"
LGPIO_WORK_DIR_ENV = "LG_WD"
DEVICE_TREE_MODEL = "/proc/device-tree/model"


class SimulatedPin(MockPWMPin):
    """gpiozero's MockPWMPin with a bounded state history, for long runs off a Pi.

    MockPin records every state change for tests; an LED animation at 30 frames a second (or an
    SPI ring bit-banged through mock pins) would make that list grow without end.
    """

    def _change_state(self, value):
        changed = super()._change_state(value)
        if len(self.states) > MOCK_PIN_HISTORY:
            del self.states[: MOCK_PIN_HISTORY // 2]
        return changed


class NoGpioOnPi(RuntimeError):
    """A Raspberry Pi on which no real pin factory loaded (missing lgpio, no access to the pins)."""


def is_raspberry_pi() -> bool:
    """Whether this machine says it is a Raspberry Pi (device tree model)."""
    try:
        return "Raspberry Pi" in Path(DEVICE_TREE_MODEL).read_text(errors="replace")
    except OSError:
        return False


def choose_pin_factory() -> str:
    """Make sure gpiozero has a pin factory and return its name.

    The real one (lgpio on a Pi) when it loads; gpiozero's MockFactory with PWM-capable pins when
    ``GPIOZERO_PIN_FACTORY=mock`` or when no real factory loads (any PC), with one warning line.
    A factory already set (a test's) is kept. On a Raspberry Pi where no real factory loads the
    pins are simulated too, so that the service keeps running, but :class:`NoGpioOnPi` is raised
    after that with every factory's reason, for the caller to report.
    """
    if Device.pin_factory is not None:
        return type(Device.pin_factory).__name__
    if os.environ.get(PIN_FACTORY_ENV, "").lower() == "mock":
        Device.pin_factory = MockFactory(pin_class=SimulatedPin)
        _LOGGER.warning("%s=mock: the button and LEDs are simulated (gpiozero MockFactory)", PIN_FACTORY_ENV)
        return "MockFactory"
    # lgpio makes its notification pipes in the working directory unless told otherwise; under
    # systemd (ProtectSystem=strict, working directory /) that is read-only and lgpio fails.
    os.environ.setdefault(LGPIO_WORK_DIR_ENV, tempfile.gettempdir())
    with warnings.catch_warnings(record=True) as tried:
        warnings.simplefilter("always")
        try:
            Device.ensure_pin_factory()
            problem = None
        except Exception as err:  # BadPinFactory, or an import/OS error from one of the factories
            problem = err
    reasons = "; ".join(str(w.message) for w in tried) or str(problem)
    if problem is None:
        name = type(Device.pin_factory).__name__
        if tried:
            _LOGGER.info("GPIO through %s (%s)", name, reasons)
        return name
    Device.pin_factory = MockFactory(pin_class=SimulatedPin)
    if is_raspberry_pi():
        raise NoGpioOnPi(f"no access to the GPIO pins ({reasons}); is lgpio installed, and is the "
                         "user in the gpio group?")
    _LOGGER.warning("No GPIO here (%s): the button and LEDs are simulated (gpiozero MockFactory)", problem)
    return "MockFactory"


class PressClassifier:
    """Turns button press/release times into presses; pure, no clock of its own.

    - single: released before ``long_press_s``, and no second press within the double-press window
      (with a window of 0 the single press is reported at once on release);
    - double: a second press starts within the window after a single press is released
      (reported as the second press goes down; the rest of that press is ignored);
    - long: released after at least ``long_press_s``;
    - very_long: held for ``very_long_press_s`` (reported while still held, so the user sees the
      result and knows to let go).

    Call :meth:`press` and :meth:`release` with monotonic times, and :meth:`expire` at
    :meth:`next_deadline`; each returns the presses that are now certain.

    >>> c = PressClassifier(double_press_window_s=0.3)
    >>> c.press(0.0), c.release(0.1), c.next_deadline()
    ([], [], 0.4)
    >>> c.expire(0.4)
    ['single']
    >>> c.press(1.0), c.release(1.1), c.press(1.2)
    ([], [], ['double'])
    """

    def __init__(
        self,
        long_press_s: float = LONG_PRESS_S,
        very_long_press_s: float = VERY_LONG_PRESS_S,
        double_press_window_s: float = DOUBLE_PRESS_WINDOW_S,
    ) -> None:
        if not 0 < long_press_s < very_long_press_s:
            raise ValueError("long_press_s must be positive and shorter than very_long_press_s")
        self.long_press_s = long_press_s
        self.very_long_press_s = very_long_press_s
        self.double_press_window_s = max(0.0, double_press_window_s)
        self._down_at: float | None = None
        self._classified = False  # the press that is down was already reported (double, very long)
        self._single_until: float | None = None  # a single press waits for a possible second one

    @property
    def is_down(self) -> bool:
        return self._down_at is not None

    def press(self, now: float) -> list[Press]:
        """The button went down."""
        if self._down_at is not None:  # a repeated edge (bounce): the press is already down
            return []
        presses = self.expire(now)
        self._down_at = now
        if self._single_until is not None:
            self._single_until = None
            self._classified = True
            presses.append("double")
        return presses

    def release(self, now: float) -> list[Press]:
        """The button came up."""
        if self._down_at is None:
            return []
        held_s = now - self._down_at
        self._down_at = None
        if self._classified:
            self._classified = False
            return []
        if held_s >= self.very_long_press_s:  # expire() was not called in time
            return ["very_long"]
        if held_s >= self.long_press_s:
            return ["long"]
        if self.double_press_window_s > 0:
            self._single_until = now + self.double_press_window_s
            return []
        return ["single"]

    def expire(self, now: float) -> list[Press]:
        """Presses that became certain by time passing."""
        presses: list[Press] = []
        if self._single_until is not None and now >= self._single_until:
            self._single_until = None
            presses.append("single")
        if (self._down_at is not None and not self._classified
                and now - self._down_at >= self.very_long_press_s):
            self._classified = True
            presses.append("very_long")
        return presses

    def next_deadline(self) -> float | None:
        """When :meth:`expire` may next have something to report, or None."""
        deadlines = []
        if self._single_until is not None:
            deadlines.append(self._single_until)
        if self._down_at is not None and not self._classified:
            deadlines.append(self._down_at + self.very_long_press_s)
        return min(deadlines, default=None)


class PanelButton:
    """The physical button (a gpiozero Button) reporting classified presses on the event loop.

    ``on_press(press)`` is called on the loop's thread. Contact bounce is handled here rather than
    by the GPIO driver: the first edge counts at once (a driver's debounce would delay every press
    by the bounce time), chatter within ``bounce_time_s`` after it is ignored, and then the pin's
    real level is read again so that a missed edge cannot leave a press "held". Opening raises
    gpiozero's errors (pin in use, no such pin); ``close()`` may be called any number of times.

    >>> from gpiozero.pins.mock import MockFactory          # doctest: +SKIP
    >>> button = PanelButton(17, loop=loop, on_press=print)  # doctest: +SKIP
    >>> Device.pin_factory.pin(17).drive_low()               # doctest: +SKIP
    """

    def __init__(
        self,
        pin: int,
        *,
        loop: asyncio.AbstractEventLoop,
        on_press: Callable[[Press], None],
        classifier: PressClassifier | None = None,
        pull_up: bool = True,
        bounce_time_s: float = 0.0,
    ) -> None:
        self.pin = pin
        self.classifier = classifier or PressClassifier()
        self.bounce_time_s = bounce_time_s
        self._loop = loop
        self._on_press = on_press
        self._timer: asyncio.TimerHandle | None = None
        self._settle_timer: asyncio.TimerHandle | None = None
        self._last_edge_at = -math.inf
        self._button: Button | None = Button(pin, pull_up=pull_up, bounce_time=None)
        # Registered after construction so that no edge arrives before we are ready.
        self._button.when_pressed = self._pressed_on_gpio_thread
        self._button.when_released = self._released_on_gpio_thread

    def _pressed_on_gpio_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._edge, True, time.monotonic())

    def _released_on_gpio_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._edge, False, time.monotonic())

    def _edge(self, pressed: bool, at: float) -> None:
        if self._button is None:  # closed while the edge was on its way
            return
        if at - self._last_edge_at < self.bounce_time_s:
            return  # chatter; _settle reads the level once it is over
        self._last_edge_at = at
        self._apply(pressed, at)
        if self.bounce_time_s > 0:
            if self._settle_timer is not None:
                self._settle_timer.cancel()
            self._settle_timer = self._loop.call_at(at + self.bounce_time_s, self._settle)

    def _settle(self) -> None:
        self._settle_timer = None
        if self._button is not None:
            self._apply(self._button.is_pressed, self._loop.time())

    def _apply(self, pressed: bool, at: float) -> None:
        if pressed == self.classifier.is_down:
            return
        self._report(self.classifier.press(at) if pressed else self.classifier.release(at))

    def _expire(self) -> None:
        self._timer = None
        self._report(self.classifier.expire(self._loop.time()))

    def _report(self, presses: list[Press]) -> None:
        for press in presses:
            _LOGGER.info("Button: %s press", press.replace("_", " "))
            try:
                self._on_press(press)
            except Exception:  # a failing consumer must not stop the button
                _LOGGER.exception("Error while handling a %s press", press)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.classifier.next_deadline()
        if deadline is not None and self._button is not None:
            # loop.time() is time.monotonic(), the clock the edges are stamped with.
            self._timer = self._loop.call_at(deadline, self._expire)

    @property
    def is_pressed(self) -> bool:
        return bool(self._button is not None and self._button.is_pressed)

    def close(self) -> None:
        """Release the pin; safe to call twice."""
        for timer in (self._timer, self._settle_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._settle_timer = None
        if self._button is not None:
            button, self._button = self._button, None
            button.when_pressed = None
            button.when_released = None
            button.close()
