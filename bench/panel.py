"""Benchmark of the panel: button press → ButtonPressed on the bus, and what the service costs.

Latency: the panel service runs in this process (so the benchmark can drive gpiozero's mock button
pin electrically) against a real private Mosquitto; a separate MQTT client receives the events.
Each figure is from the edge that decides the press to the event arriving at that client:

- double: from the second press going down (reported at once);
- long: from the release;
- single, double press off: from the release (reported at once);
- single, double press on: from the release, which includes the double-press window, because a
  single press is only certain once the window has passed;
- very long: from the moment the hold reaches the threshold (reported while held).

Cost: the panel as a real process (``python -m services.panel``, simulated pins off a Pi) with a
3-LED APA102 ring: RSS, CPU while idle (LEDs still), and CPU while the LEDs animate (here bit-banged
over mock pins, far slower than the Pi's hardware SPI, so an upper bound).

Run: ``python bench/panel.py [--presses N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench._process import cpu_seconds, rss_mb  # noqa: E402

from services.broker import PrivateBroker  # noqa: E402
from services.bus import Bus  # noqa: E402
from services.messages import ButtonPressed, DeviceState  # noqa: E402
from services.panel.service import PanelService  # noqa: E402
from services.settings import settings_from_dict  # noqa: E402

BUTTON = 17
TAP_S = 0.03
GAP_S = 0.05
IDLE_MEASURE_S = 10.0
STATE_DIR = tempfile.mkdtemp(prefix="bench-panel-state-")


class Receiver:
    """An MQTT client on the bus that stamps each ButtonPressed as it arrives."""

    def __init__(self, port: int) -> None:
        self.events: "queue.Queue[tuple[float, str]]" = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{time.time_ns()}")
        self.client.on_message = lambda c, u, m: self.events.put(
            (time.monotonic(), ButtonPressed.from_json(m.payload).press))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a, **k: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(ButtonPressed.TOPIC)
        assert subscribed.wait(5)

    def publish(self, message) -> None:
        self.client.publish(message.TOPIC, message.to_json(), retain=message.RETAIN).wait_for_publish(5)

    def next(self, timeout: float = 15.0) -> tuple[float, str]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class PanelInThread:
    """The panel service on its own event loop in a thread of this process."""

    def __init__(self, port: int, **panel) -> None:
        self.settings = settings_from_dict({"general": {"state_dir": STATE_DIR},
                                            "bus": {"host": "127.0.0.1", "port": port}, "panel": panel})
        self.ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        bus = Bus(self.settings.bus, f"bench-panel-{time.time_ns()}", PanelService.subscriptions)
        service = PanelService(self.settings, bus)
        await service.start()
        task = asyncio.create_task(bus.run(service.handle, service.connected))
        await bus.connected.wait()
        self.ready.set()
        await self._stop.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.stop()

    def __enter__(self) -> "PanelInThread":
        self._thread.start()
        assert self.ready.wait(10)
        time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def figures(name: str, samples_ms: list[float]) -> None:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"  {name:<34} n={len(ordered):<4} median {statistics.median(ordered):7.2f} ms   "
          f"p99 {p99:7.2f} ms   max {ordered[-1]:7.2f} ms")


def measure_latency(port: int, receiver: Receiver, presses: int) -> None:
    pin = Device.pin_factory.pin(BUTTON)

    def expect(kind: str) -> float:
        at, press = receiver.next()
        assert press == kind, f"expected {kind}, got {press}"
        return at

    print("button press -> ButtonPressed at another bus client (panel in-process, real Mosquitto):")
    with PanelInThread(port, double_press_window_s=0.0):
        samples = []
        for _ in range(presses):
            pin.drive_low()
            time.sleep(TAP_S)
            released = time.monotonic()
            pin.drive_high()
            samples.append((expect("single") - released) * 1000)
            time.sleep(GAP_S)
        figures("single, double press off", samples)

    with PanelInThread(port, double_press_window_s=0.3, very_long_press_s=2.0, very_long_press="event"):
        samples = []
        for _ in range(presses):
            pin.drive_low(); time.sleep(TAP_S); pin.drive_high(); time.sleep(GAP_S)  # noqa: E702
            second = time.monotonic()
            pin.drive_low()
            samples.append((expect("double") - second) * 1000)
            time.sleep(TAP_S); pin.drive_high(); time.sleep(0.35)  # noqa: E702
        figures("double (from the second press)", samples)

        samples = []
        for _ in range(max(10, presses // 4)):
            pin.drive_low(); time.sleep(TAP_S)  # noqa: E702
            released = time.monotonic()
            pin.drive_high()
            samples.append((expect("single") - released) * 1000)
            time.sleep(GAP_S)
        figures("single, 0.3 s double-press window", samples)

        samples = []
        for _ in range(max(5, presses // 10)):
            pin.drive_low(); time.sleep(1.02)  # noqa: E702
            released = time.monotonic()
            pin.drive_high()
            samples.append((expect("long") - released) * 1000)
            time.sleep(GAP_S)
        figures("long (from the release)", samples)

        samples = []
        for _ in range(3):
            pressed = time.monotonic()
            pin.drive_low()
            samples.append((expect("very_long") - pressed - 2.0) * 1000)
            pin.drive_high()
            time.sleep(GAP_S)
        figures("very long (from reaching 2 s here)", samples)


def measure_process(port: int, receiver: Receiver, tmp: Path) -> None:
    config = tmp / "config.toml"
    config.write_text("")
    env = {**os.environ, "SAMANTHA_CONFIG": str(config),
           "SAMANTHA_OVERRIDES": json.dumps({"general": {"state_dir": STATE_DIR},
                                             "bus": {"host": "127.0.0.1", "port": port},
                                             "panel": {"hat": "respeaker-2mic"}})}
    env.pop("GPIOZERO_PIN_FACTORY", None)
    process = subprocess.Popen([sys.executable, "-m", "services.panel"], env=env, cwd=REPO,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "panel ready" in line:
                break
        threading.Thread(target=process.stderr.read, daemon=True).start()
        receiver.publish(DeviceState(state="idle"))
        time.sleep(2.0)
        start = cpu_seconds(process.pid)
        time.sleep(IDLE_MEASURE_S)
        idle = (cpu_seconds(process.pid) - start) / IDLE_MEASURE_S * 100
        receiver.publish(DeviceState(state="thinking"))
        time.sleep(1.0)
        start = cpu_seconds(process.pid)
        time.sleep(5.0)
        animating = (cpu_seconds(process.pid) - start) / 5.0 * 100
        print("panel service process (python -m services.panel, simulated pins, 3 APA102 LEDs):")
        print(f"  RSS {rss_mb(process.pid):.1f} MB")
        print(f"  CPU idle (LEDs still)       {idle:.2f} % of one core over {IDLE_MEASURE_S:.0f} s")
        print(f"  CPU animating (spin, 30 fps) {animating:.2f} % of one core "
              "(SPI bit-banged over mock pins; hardware SPI on the Pi costs far less)")
        receiver.publish(DeviceState(state="idle"))
    finally:
        process.terminate()
        process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=100, help="presses per pattern")
    args = parser.parse_args()
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start "
          "(other work on the machine shows in the p99 figures)")
    with PrivateBroker() as broker, tempfile.TemporaryDirectory(prefix="bench-panel-") as tmp:
        receiver = Receiver(broker.port)
        try:
            measure_latency(broker.port, receiver, args.presses)
            measure_process(broker.port, receiver, Path(tmp))
        finally:
            receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
