"""The panel: button presses reach the bus, the LEDs show the device's state, failures stay contained.

The panel service runs in this process against the real broker fixture so that the test can drive
gpiozero's mock pins electrically (drive_low/drive_high) and read what the LEDs were given (PWM
values on mock pins, APA102 frames clocked out over mock SPI pins). The process entry point is
tested as a real process too.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
from gpiozero import LED, Device
from gpiozero.pins.mock import MockFactory, MockPWMPin, MockSPIDevice

from device.button import PressClassifier
from device.leds import Animation, LedRenderer, SingleLed, apa102_frame
from services.bus import Bus
from services.messages import (
    ButtonPressed,
    DeviceState,
    LightState,
    ListenNow,
    MuteState,
    ServiceError,
    SetLight,
    SetMute,
    TimerEvent,
    TranscriptReady,
    VolumeState,
)
from services.panel.service import PanelService
from services.settings import settings_from_dict
from tests.conftest import bus_overrides

REPO = Path(__file__).resolve().parent.parent
BUTTON = 17
SHORT_S = 0.08  # a quick tap
WINDOW_S = 0.3  # the default double-press window
SETTLE_S = WINDOW_S + 0.4  # long enough for any press still pending to have been reported


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def pwm_pins():
    """gpiozero's MockFactory with PWM-capable pins, restored afterwards (as gpiozero's own tests do)."""
    saved = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = saved


@pytest.fixture
def plain_pins():
    """MockFactory with plain pins: mock SPI devices (the APA102 frame reader) need them."""
    saved = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = saved


class RunningPanel:
    """The panel service in a thread of this process, on the test broker."""

    def __init__(self, broker, state_dir: Path | None = None, **panel) -> None:
        state_dir = state_dir or Path(tempfile.mkdtemp(prefix="panel-state-"))
        self.settings = settings_from_dict({
            "general": {"state_dir": str(state_dir)},
            "bus": {"host": "127.0.0.1", "port": broker.port},
            "panel": panel,
        })
        self.ready = threading.Event()
        self.service: PanelService | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        bus = Bus(self.settings.bus, f"panel-test-{time.time_ns()}", PanelService.subscriptions)
        self.service = PanelService(self.settings, bus)
        await self.service.start()
        tasks = [asyncio.create_task(bus.run(self.service.handle, self.service.connected)),
                 asyncio.create_task(self.service.run())]
        await bus.connected.wait()
        self.ready.set()
        await self._stop.wait()
        await asyncio.sleep(0.1)  # let the last publishes leave
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.service.stop()

    def __enter__(self) -> "RunningPanel":
        self._thread.start()
        assert self.ready.wait(10), "the panel did not connect to the bus"
        time.sleep(0.2)  # retained state delivered
        return self

    def __exit__(self, *exc) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def call(self, coroutine_function) -> None:
        """Run one of the service's coroutines (reload, ...) on its loop and wait for it."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(coroutine_function(), self._loop).result(10)


def tap(pin, hold_s: float = SHORT_S) -> None:
    """Press the button for hold_s seconds (pulled up: pressed is low)."""
    pin.drive_low()
    time.sleep(hold_s)
    pin.drive_high()


def presses(probe) -> list[str]:
    return [m.press for m in probe.history if isinstance(m, ButtonPressed)]


def wait_until(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.01)


def watch(read: Callable[[], object], seconds: float) -> list[object]:
    """Sample an output for a while (the renderer writes at 30 frames a second)."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(read())
        time.sleep(0.005)
    return samples


class Apa102Reader(MockSPIDevice):
    """The LED side of the SPI bus: records each transaction's bytes (select low .. select high)."""

    def __init__(self) -> None:
        super().__init__(clock_pin=11, mosi_pin=10, select_pin=7)  # SPI0, CE1 as on the ReSpeaker HATs
        self.frames: list[bytes] = []

    def on_select(self) -> None:
        super().on_select()
        if self.select_pin.state != self.select_high and self.rx_buf:
            bits = "".join("1" if bit else "0" for bit in self.rx_buf)
            self.frames.append(bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)))
            self.rx_buf = []

    def pixels(self, frame: bytes | None = None) -> list[tuple[int, int, int, int]]:
        """(brightness, red, green, blue) per LED of a frame (the last one by default)."""
        frame = self.frames[-1] if frame is None else frame
        assert frame[:4] == bytes(4), f"no start frame in {frame.hex()}"
        leds = []
        for i in range(4, len(frame) - 4, 4):
            head, blue, green, red = frame[i:i + 4]
            if head & 0xE0 != 0xE0:
                break
            leds.append((head & 0x1F, red, green, blue))
        assert frame[4 + 4 * len(leds):] == bytes(len(frame) - 4 - 4 * len(leds)), "end frame not zeros"
        return leds


# --- the press classifier (pure timing, default thresholds) --------------------------------------


def test_classifier_single_double_long_very_long_at_default_thresholds():
    c = PressClassifier()  # 1 s long, 10 s very long, 0.3 s double-press window
    assert c.press(0.0) == [] and c.release(0.15) == []
    assert c.next_deadline() == pytest.approx(0.45)
    assert c.expire(0.44) == [] and c.expire(0.45) == ["single"]

    assert c.press(5.0) == [] and c.release(5.1) == [] and c.press(5.35) == ["double"]
    assert c.release(5.5) == [] and c.expire(9.0) == []  # the second press is not also a single

    assert c.press(10.0) == [] and c.release(11.2) == ["long"]
    assert c.press(20.0) == [] and c.expire(29.9) == [] and c.expire(30.0) == ["very_long"]
    assert c.release(35.0) == []  # reported while held, not again on release

    # A long press then a quick one is a long and a single, not a double.
    assert c.press(40.0) == [] and c.release(41.5) == ["long"]
    assert c.press(41.6) == [] and c.release(41.7) == [] and c.expire(42.0) == ["single"]


def test_classifier_without_double_press_reports_single_on_release():
    c = PressClassifier(double_press_window_s=0.0)
    assert c.press(0.0) == [] and c.release(0.1) == ["single"]
    assert c.press(0.2) == [] and c.release(0.3) == ["single"]
    assert c.next_deadline() is None


def test_classifier_ignores_repeated_edges():
    c = PressClassifier(double_press_window_s=0.0)
    assert c.release(0.0) == []  # up while up
    assert c.press(1.0) == [] and c.press(1.01) == []  # down while down
    assert c.release(1.1) == ["single"]


# --- presses on the bus --------------------------------------------------------------------------


def test_every_press_pattern_gives_its_bus_event(pwm_pins, broker, probe):
    with RunningPanel(broker, very_long_press_s=2.0, very_long_press="event"):
        button = pwm_pins.pin(BUTTON)

        tap(button)
        assert probe.wait_for(ButtonPressed, timeout=5).press == "single"

        tap(button)
        time.sleep(0.1)
        tap(button)
        assert probe.wait_for(ButtonPressed, timeout=5).press == "double"

        tap(button, 1.2)
        assert probe.wait_for(ButtonPressed, timeout=5).press == "long"

        button.drive_low()
        # Reported while still held, so the user knows when to let go.
        assert probe.wait_for(ButtonPressed, timeout=5).press == "very_long"
        assert button.state == 0
        button.drive_high()

        time.sleep(SETTLE_S)
        assert presses(probe) == ["single", "double", "long", "very_long"]
        assert not [m for m in probe.history if isinstance(m, SetMute)], "'event' mode must not mute"


def test_single_press_is_immediate_when_double_press_is_off(pwm_pins, broker, probe):
    with RunningPanel(broker, double_press_window_s=0.0):
        button = pwm_pins.pin(BUTTON)
        tap(button)
        tap(button)
        probe.wait_for(ButtonPressed, timeout=5)
        time.sleep(SETTLE_S)
        assert presses(probe) == ["single", "single"]


def test_contact_bounce_is_one_press_and_a_very_short_tap_is_not_lost(pwm_pins, broker, probe):
    with RunningPanel(broker, bounce_time_s=0.02, very_long_press_s=2.0):
        button = pwm_pins.pin(BUTTON)
        for level in (0, 1, 0, 1, 0):  # a contact chattering as it closes ...
            button.drive_low() if level == 0 else button.drive_high()
            time.sleep(0.001)
        time.sleep(0.1)
        for level in (1, 0, 1, 0, 1):  # ... and as it opens
            button.drive_low() if level == 0 else button.drive_high()
            time.sleep(0.001)
        assert probe.wait_for(ButtonPressed, timeout=5).press == "single"
        time.sleep(SETTLE_S)

        tap(button, 0.005)  # released within the bounce time: the level read after it catches it
        assert probe.wait_for(ButtonPressed, timeout=5).press == "single"
        time.sleep(2.3)  # a press stuck "down" would turn into a very long press by now
        assert presses(probe) == ["single", "single"]


def test_very_long_press_toggles_mute(pwm_pins, broker, probe):
    probe.publish(MuteState(muted=False))  # retained, as the listener keeps it
    with RunningPanel(broker, very_long_press_s=2.0) as panel:
        button = pwm_pins.pin(BUTTON)
        tap(button, 2.2)
        assert probe.wait_for(SetMute, timeout=5).muted is True

        probe.publish(MuteState(muted=True))  # the listener confirms
        wait_until(lambda: panel.service.muted, what="panel sees the mute")
        tap(button, 2.2)
        assert probe.wait_for(SetMute, timeout=5).muted is False
        assert presses(probe) == ["very_long", "very_long"]
    probe.publish(MuteState(muted=False))


# --- LEDs ----------------------------------------------------------------------------------------


def test_single_led_shows_each_state(pwm_pins, broker, probe):
    with RunningPanel(broker, leds="pwmled", led_pins=[18], brightness=0.5):
        led = pwm_pins.pin(18)
        steady = {"idle": 0.0, "wake": 0.5, "listening": 0.5, "muted": 0.15}
        for state, value in steady.items():
            probe.publish(DeviceState(state=state))
            wait_until(lambda: led.state == pytest.approx(value), what=f"{state}: LED at {value}")
            time.sleep(0.2)
            assert led.state == pytest.approx(value), f"{state} should hold still"

        probe.publish(DeviceState(state="speaking"))  # breathes, never fully dark
        samples = watch(lambda: led.state, 2.2)[20:]
        assert min(samples) == pytest.approx(0.05, abs=0.02) and max(samples) == pytest.approx(0.5, abs=0.02)

        probe.publish(DeviceState(state="thinking"))  # on one LED the spin becomes a pulse
        samples = watch(lambda: led.state, 1.2)[20:]
        assert min(samples) < 0.02 and max(samples) > 0.45

        for state, period_s in (("error", 1.0), ("timer_ringing", 0.5)):
            probe.publish(DeviceState(state=state))
            samples = watch(lambda: led.state, 2.0)[20:]
            assert set(samples) == {0.0, 0.5}, f"{state} blinks between off and on"
            switches = sum(1 for a, b in zip(samples, samples[1:]) if a != b)
            assert switches == pytest.approx(2 * 1.9 / period_s, abs=2), f"{state} blinks every {period_s} s"

        probe.publish(DeviceState(state="idle"))
        wait_until(lambda: led.state == 0.0, what="idle: LED off")


def test_mute_shows_when_idle(pwm_pins, broker, probe):
    with RunningPanel(broker, leds="pwmled", led_pins=[18], brightness=1.0):
        led = pwm_pins.pin(18)
        probe.publish(DeviceState(state="idle"))
        probe.publish(MuteState(muted=True))
        wait_until(lambda: led.state == pytest.approx(0.3), what="muted glow")
        probe.publish(DeviceState(state="speaking"))  # the speaker still speaks while muted
        wait_until(lambda: led.state > 0.5, what="speaking shows over mute")
        probe.publish(MuteState(muted=False))
        probe.publish(DeviceState(state="idle"))
        wait_until(lambda: led.state == 0.0, what="unmuted idle is dark")


def test_rgb_led_shows_state_colours(pwm_pins, broker, probe):
    with RunningPanel(broker, leds="rgbled", led_pins=[22, 23, 24], brightness=0.5):
        rgb = lambda: tuple(round(pwm_pins.pin(p).state, 3) for p in (22, 23, 24))  # noqa: E731
        probe.publish(DeviceState(state="listening"))
        wait_until(lambda: rgb() == (0.0, 0.125, 0.5), what="listening is blue")
        probe.publish(DeviceState(state="muted"))
        wait_until(lambda: rgb() == (0.15, 0.0, 0.0), what="muted is dim red")
        probe.publish(DeviceState(state="timer_ringing"))
        assert set(watch(rgb, 1.2)[20:]) == {(0.5, 0.225, 0.0), (0.0, 0.0, 0.0)}, "ringing blinks amber"


def test_led_row_spins_and_shows_volume(pwm_pins, broker, probe):
    probe.publish(VolumeState(volume=30))  # retained: where the panel starts, not a change
    pins = [5, 6, 13, 19]
    with RunningPanel(broker, leds="board", led_pins=pins, brightness=1.0, volume_display_s=0.6):
        values = lambda: tuple(pwm_pins.pin(p).state for p in pins)  # noqa: E731
        time.sleep(0.3)
        assert values() == (0.0, 0.0, 0.0, 0.0), "starting volume is not shown"

        probe.publish(DeviceState(state="thinking"))
        brightest = {max(range(4), key=lambda i: v[i]) for v in watch(values, 1.2)[10:]}
        assert brightest == {0, 1, 2, 3}, "the light runs along the whole row"

        probe.publish(DeviceState(state="idle"))
        wait_until(lambda: values() == (0.0, 0.0, 0.0, 0.0), what="idle row dark")
        probe.publish(VolumeState(volume=50))
        wait_until(lambda: values() == (1.0, 1.0, 0.0, 0.0), what="volume 50 lights half the row")
        wait_until(lambda: values() == (0.0, 0.0, 0.0, 0.0), timeout=2, what="back to idle after the volume")
    probe.publish(VolumeState(volume=60))


def test_respeaker_2mic_ring_frames(plain_pins, broker, probe):
    reader = Apa102Reader()
    with RunningPanel(broker, hat="respeaker-2mic", brightness=0.5):
        probe.publish(DeviceState(state="listening"))
        wait_until(lambda: reader.frames and reader.pixels()[0][1:] == (0, 64, 255), what="listening frame")
        frame = reader.frames[-1]
        assert frame == bytes(4) + bytes([0xE0 | 16, 255, 64, 0]) * 3 + bytes(4)

        before = len(reader.frames)
        probe.publish(DeviceState(state="timer_ringing"))
        time.sleep(1.1)
        ringing = {tuple(reader.pixels(f)) for f in reader.frames[before:]}
        assert ringing == {((16, 255, 115, 0),) * 3, ((16, 0, 0, 0),) * 3}, "amber blink"

        probe.publish(DeviceState(state="idle"))
        wait_until(lambda: reader.pixels() == [(16, 0, 0, 0)] * 3, what="idle ring dark")
        written = len(reader.frames)
        time.sleep(0.5)
        assert len(reader.frames) == written, "a still picture is written once, not every frame"
    assert reader.pixels() == [(0, 0, 0, 0)] * 3, "LEDs off when the panel stops"


def test_respeaker_4mic_ring_powers_up_spins_and_shows_volume(plain_pins, broker, probe):
    probe.publish(VolumeState(volume=20))
    reader = Apa102Reader()
    with RunningPanel(broker, hat="respeaker-4mic", brightness=1.0, volume_display_s=0.8):
        assert plain_pins.pin(5).state == 1, "the 4-mic HAT's LED power (GPIO 5) is switched on"
        probe.publish(DeviceState(state="thinking"))
        time.sleep(1.2)
        frames = reader.frames[-30:]
        assert all(len(f) == 4 + 12 * 4 + 4 for f in frames)
        heads = {max(range(12), key=lambda i: reader.pixels(f)[i][3]) for f in frames}
        assert len(heads) >= 8, f"the light goes round the 12 LEDs, seen at {sorted(heads)}"

        probe.publish(DeviceState(state="idle"))
        probe.publish(VolumeState(volume=80))
        # 80 % of 12 LEDs: 9 full, the 10th at 60 %, 2 dark.
        bar = [(31, 255, 255, 255)] * 9 + [(31, 153, 153, 153)] + [(31, 0, 0, 0)] * 2
        wait_until(lambda: reader.pixels() == bar, what="volume bar")
        wait_until(lambda: reader.pixels() == [(31, 0, 0, 0)] * 12, timeout=3, what="back to idle")
    probe.publish(VolumeState(volume=60))


def test_lamp_from_the_hub_shows_when_idle_and_survives_a_restart(plain_pins, broker, probe, tmp_path):
    reader = Apa102Reader()
    with RunningPanel(broker, tmp_path, hat="respeaker-2mic", brightness=1.0):
        assert probe.wait_for(LightState, timeout=5).on is False
        probe.publish(DeviceState(state="idle"))
        probe.publish(SetLight(on=True, brightness=0.5, rgb=[255, 160, 60]))
        assert probe.wait_for(LightState, timeout=5) == LightState(on=True, brightness=0.5, rgb=[255, 160, 60])
        lamp = [(31, 128, 80, 30)] * 3
        wait_until(lambda: reader.pixels() == lamp, what="warm lamp on the ring")
        probe.publish(DeviceState(state="listening"))  # states show over the lamp
        wait_until(lambda: reader.pixels() == [(31, 0, 64, 255)] * 3, what="listening over the lamp")
        probe.publish(DeviceState(state="idle"))
        wait_until(lambda: reader.pixels() == lamp, what="lamp back when idle")
        probe.publish(SetLight(brightness=1.0))  # omitted fields stay
        wait_until(lambda: reader.pixels() == [(31, 255, 160, 60)] * 3, what="brighter lamp")
    probe.drain()
    with RunningPanel(broker, tmp_path, hat="respeaker-2mic", brightness=1.0):
        assert probe.wait_for(LightState, timeout=5) == LightState(on=True, brightness=1.0, rgb=[255, 160, 60])
        wait_until(lambda: reader.pixels() == [(31, 255, 160, 60)] * 3, what="lamp kept across a restart")
    probe.publish(DeviceState(state="idle"))


def test_apa102_end_frame_reaches_every_led():
    frame = apa102_frame([(0.0, 0.0, 0.0)] * 40, 1.0)
    assert len(frame) == 4 + 40 * 4 + 4  # 32 zero bits reach 64 LEDs
    assert len(apa102_frame([(0.0, 0.0, 0.0)] * 100, 1.0)) == 4 + 400 + 7


# --- failures stay contained ---------------------------------------------------------------------


def test_busy_led_pin_reports_error_and_button_still_works(pwm_pins, broker, probe):
    other_user = LED(18)  # something else holds the LED's pin
    try:
        with RunningPanel(broker, leds="pwmled", led_pins=[18]) as panel:
            error = probe.wait_for(ServiceError, timeout=5)
            assert error.service == "panel" and "LEDs" in error.message and "button still works" in error.message
            assert panel.service.leds is None
            tap(pwm_pins.pin(BUTTON))
            assert probe.wait_for(ButtonPressed, timeout=5).press == "single"
            probe.publish(DeviceState(state="listening"))  # nothing to show it on; no crash
            tap(pwm_pins.pin(BUTTON))
            assert probe.wait_for(ButtonPressed, timeout=5).press == "single"
    finally:
        other_user.close()


def test_spi_unavailable_reports_error_and_button_still_works(pwm_pins, broker, probe):
    other_user = LED(11)  # the SPI clock pin is taken: no SPI for the ring
    try:
        with RunningPanel(broker, hat="respeaker-2mic"):
            error = probe.wait_for(ServiceError, timeout=5)
            assert "APA102" in error.message and "SPI0.1" in error.message
            tap(pwm_pins.pin(BUTTON))
            assert probe.wait_for(ButtonPressed, timeout=5).press == "single"
    finally:
        other_user.close()


def test_reload_retries_leds_that_failed(pwm_pins, broker, probe):
    other_user = LED(18)
    with RunningPanel(broker, leds="pwmled", led_pins=[18], brightness=1.0) as panel:
        probe.wait_for(ServiceError, timeout=5)
        other_user.close()  # the other program let go of the pin
        panel.call(panel.service.reload)  # what SIGHUP does
        probe.publish(DeviceState(state="listening"))
        wait_until(lambda: pwm_pins.pin(18).state == 1.0, what="LEDs work after the reload")


def test_busy_button_pin_reports_error_and_leds_still_work(pwm_pins, broker, probe):
    other_user = LED(BUTTON)
    try:
        with RunningPanel(broker, leds="pwmled", led_pins=[18], brightness=1.0):
            error = probe.wait_for(ServiceError, timeout=5)
            assert "button on GPIO 17" in error.message
            probe.publish(DeviceState(state="listening"))
            wait_until(lambda: pwm_pins.pin(18).state == 1.0, what="LEDs follow the state")
    finally:
        other_user.close()


def test_leds_failing_while_running_are_reported_once(pwm_pins):
    errors: list[BaseException] = []
    led = SingleLed(18)
    renderer = LedRenderer(led, on_error=errors.append)
    renderer.play(Animation("solid"))
    wait_until(lambda: pwm_pins.pin(18).state == 1.0, what="LED on")
    led._led.close()  # the device went away underneath (as when its driver is unloaded)
    renderer.play(Animation("blink", period_s=0.2))
    wait_until(lambda: errors, what="failure reported")
    time.sleep(0.3)
    assert len(errors) == 1 and renderer.failed is errors[0]
    renderer.close()


# --- as a real process ---------------------------------------------------------------------------


def start_panel_process(broker, tmp_path, panel: dict, pin_factory: str | None = None) -> subprocess.Popen:
    config = tmp_path / "config.toml"
    config.write_text("")
    overrides = json.loads(bus_overrides(broker))
    overrides["panel"] = panel
    env = {**os.environ, "SAMANTHA_OVERRIDES": json.dumps(overrides), "SAMANTHA_CONFIG": str(config)}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    if pin_factory:
        env["GPIOZERO_PIN_FACTORY"] = pin_factory
    return subprocess.Popen([sys.executable, "-m", "services.panel"], env=env, cwd=REPO,
                            stderr=subprocess.PIPE, text=True)


def test_process_off_the_pi_simulates_pins_and_survives_a_busy_pin(broker, probe, tmp_path):
    # LEDs on the button's own pin: the button takes it, the LEDs cannot have it.
    process = start_panel_process(broker, tmp_path, {"leds": "pwmled", "led_pins": [BUTTON]})
    try:
        error = probe.wait_for(ServiceError, timeout=15)
        assert error.service == "panel" and "LEDs (pwmled on GPIO 17) failed" in error.message
        assert "the button still works" in error.message
        probe.publish(DeviceState(state="thinking"))
        probe.publish_raw(DeviceState.TOPIC, b'{"state": "dancing"}')  # bad input is dropped
        time.sleep(0.5)
        assert process.poll() is None, "the panel keeps running"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        probe.publish(DeviceState(state="idle"))
    assert process.returncode == 0
    warnings = [line for line in stderr.splitlines() if "simulated" in line]
    assert len(warnings) == 1 and "MockFactory" in warnings[0], stderr


def test_process_with_mock_factory_variable_drives_pwm(tmp_path):
    code = ("from device.button import choose_pin_factory; print(choose_pin_factory());"
            "from gpiozero import PWMLED; led = PWMLED(18); led.value = 0.25; print(led.value)")
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["MockFactory", "0.25"]
    assert "GPIOZERO_PIN_FACTORY=mock" in done.stderr


def test_a_pi_without_gpio_access_is_an_error_not_a_quiet_simulation(tmp_path):
    model = tmp_path / "model"
    model.write_text("Raspberry Pi 4 Model B Rev 1.5\x00")
    code = ("import device.button as b; b.DEVICE_TREE_MODEL = %r\n"
            "try:\n    b.choose_pin_factory()\nexcept b.NoGpioOnPi as err:\n    print('error:', err)\n"
            "from gpiozero import Device; print(type(Device.pin_factory).__name__)") % str(model)
    env = {**os.environ}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    error, factory = done.stdout.strip().splitlines()
    assert error.startswith("error: no access to the GPIO pins (") and "gpio group" in error
    assert factory == "MockFactory", "the service still runs on simulated pins"


@pytest.mark.parametrize("panel, problem", [
    ({"leds": "rgbled", "led_pins": [22]}, "panel.led_pins = [22]: leds = 'rgbled' needs 3 pins"),
    ({"long_press_s": 3.0, "very_long_press_s": 2.0}, "panel.long_press_s = 3.0: must be shorter"),
    ({"led_pins": [40]}, "panel.led_pins = [40]"),
])
def test_process_refuses_settings_that_do_not_fit(broker, tmp_path, panel, problem):
    process = start_panel_process(broker, tmp_path, panel)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 2
    assert problem in stderr, stderr


# --- end to end with the dialogue service --------------------------------------------------------

DIALOGUE_MAIN = REPO / "services" / "dialogue" / "__main__.py"


@pytest.mark.skipif(not DIALOGUE_MAIN.exists(),
                    reason="needs the dialogue service (services/dialogue/__main__.py), built in issue #3")
def test_press_during_ringing_timer_stops_it(pwm_pins, broker, probe, tmp_path):
    """A user presses the button while a timer rings: the ringing stops and the LEDs stop blinking."""
    config = tmp_path / "config.toml"
    config.write_text(f'[general]\nstate_dir = "{tmp_path / "state"}"\n')
    env = {**os.environ, "SAMANTHA_OVERRIDES": bus_overrides(broker), "SAMANTHA_CONFIG": str(config)}
    dialogue = subprocess.Popen([sys.executable, "-m", "services.dialogue"], env=env, cwd=REPO,
                                stderr=subprocess.DEVNULL)
    try:
        with RunningPanel(broker, leds="pwmled", led_pins=[18], brightness=1.0, double_press_window_s=0.0):
            led = pwm_pins.pin(18)
            # The dialogue model trains on its first start (about a minute on 2 idle cores).
            probe.wait_for(DeviceState, timeout=420)
            probe.publish(TranscriptReady(text="set a timer for 2 seconds"))
            probe.wait_for(lambda m: isinstance(m, TimerEvent) and m.event == "started", timeout=30)
            probe.wait_for(lambda m: isinstance(m, TimerEvent) and m.event == "ringing", timeout=10)
            probe.wait_for(lambda m: isinstance(m, DeviceState) and m.state == "timer_ringing", timeout=5)
            assert set(watch(lambda: led.state, 0.8)) == {0.0, 1.0}, "the LED blinks while the timer rings"

            tap(pwm_pins.pin(BUTTON))
            assert probe.wait_for(ButtonPressed, timeout=5).press == "single"
            stopped = probe.wait_for(lambda m: isinstance(m, TimerEvent) and m.event == "stopped", timeout=10)
            assert stopped.kind == "timer"
            probe.wait_for(lambda m: isinstance(m, DeviceState) and m.state != "timer_ringing", timeout=5)
            time.sleep(0.3)
            assert len(set(watch(lambda: led.state, 0.6))) == 1, "the LED stops blinking"

            tap(pwm_pins.pin(BUTTON))  # nothing sounds now: a press starts listening
            assert probe.wait_for(ListenNow, timeout=5).source == "button"
    finally:
        dialogue.send_signal(signal.SIGTERM)
        try:
            dialogue.wait(15)
        except subprocess.TimeoutExpired:  # still training: it only stops once start() is done
            dialogue.kill()
            dialogue.wait()
