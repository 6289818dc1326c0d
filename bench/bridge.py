"""Benchmark of the bridge: hub command -> local bus message, HomeCommand -> the device's command
topic on the hub broker, and what the service costs.

Two real private Mosquitto brokers (the local bus and one playing the hub) and the bridge as its own
process (``python -m services.bridge``), as `samantha run` starts it. This script's MQTT clients
stamp each message as it leaves and as it arrives, so every figure includes two broker hops:

- hub -> bus: the hub publishes ``<prefix>/<node>/volume/set``; until SetVolume arrives on the bus
  (what the voice service would act on);
- bus -> hub: HomeCommand(HassTurnOn/Off, light.hallway) on the bus; until the zigbee2mqtt-style
  light's command topic receives {"state": ...} on the hub broker; and until HomeCommandResult
  (the light reports no state, so the bridge answers right after publishing);
- cost: RSS of the bridge process, and its CPU while idle (connected to both brokers, the home's
  entities known).

Run: ``python bench/bridge.py [--count N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench._process import cpu_seconds, rss_mb  # noqa: E402

from services.broker import PrivateBroker  # noqa: E402
from services.messages import HomeCommand, HomeCommandResult, HomeEntities, SetVolume, parse  # noqa: E402

NODE = "bench"
BASE = f"samantha/{NODE}"
LIGHT_TOPIC = "homeassistant/light/0xbench/light/config"
LIGHT = {"name": None, "object_id": "hallway", "schema": "json", "command_topic": "zigbee2mqtt/Hallway/set",
         "device": {"identifiers": ["0xbench"], "name": "Hallway"}, "unique_id": "0xbench_light"}
IDLE_MEASURE_S = 10.0
WAIT_S = 10.0


class Stamped:
    """An MQTT client that stamps (perf_counter) each message it receives on its topics."""

    def __init__(self, port: int, topics: list[str]) -> None:
        self.arrivals: "queue.Queue[tuple[float, str, bytes]]" = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{time.time_ns()}")
        self.client.on_message = lambda c, u, m: self.arrivals.put((time.perf_counter(), m.topic, bytes(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        for topic in topics:
            self.client.subscribe(topic)
        time.sleep(0.3)

    def send(self, topic: str, payload: str | bytes, retain: bool = False) -> float:
        sent = time.perf_counter()
        self.client.publish(topic, payload, qos=0, retain=retain)
        return sent

    def wait(self, check, timeout: float = WAIT_S) -> tuple[float, str, bytes]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                arrival = self.arrivals.get(timeout=left)
            except queue.Empty:
                break
            if check(arrival[1], arrival[2]):
                return arrival
        raise TimeoutError("nothing arrived")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def bus_message(topic: str, payload: bytes):
    try:
        return parse(topic, payload)
    except ValueError:
        return None


def figures(name: str, samples_s: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples_s)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"{name}: median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms (n={len(ms)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300, help="messages per measurement")
    args = parser.parse_args()

    with PrivateBroker() as bus, PrivateBroker() as hub, tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(f'[general]\nstate_dir = "{folder}"\nlog_level = "warning"\n')
        overrides = {"bus": {"host": "127.0.0.1", "port": bus.port},
                     "bridge": {"enabled": True, "host": "127.0.0.1", "port": hub.port, "node_id": NODE}}
        env = {**os.environ, "SAMANTHA_OVERRIDES": json.dumps(overrides), "SAMANTHA_CONFIG": str(config)}
        hub_side = Stamped(hub.port, [f"{BASE}/availability", "zigbee2mqtt/#"])
        # Like the dialogue: results and SetVolume only (not its own HomeCommands echoed back).
        bus_side = Stamped(bus.port, [SetVolume.TOPIC, HomeCommandResult.TOPIC, HomeEntities.TOPIC])
        hub_side.send(LIGHT_TOPIC, json.dumps(LIGHT), retain=True)
        bridge = subprocess.Popen([sys.executable, "-m", "services.bridge"], env=env, cwd=REPO)
        try:
            hub_side.wait(lambda t, p: t == f"{BASE}/availability" and p == b"online")
            bus_side.wait(lambda t, p: isinstance(m := bus_message(t, p), HomeEntities) and m.entities)
            time.sleep(0.5)

            hub_to_bus = []
            for i in range(args.count):
                volume = i % 100
                sent = hub_side.send(f"{BASE}/volume/set", str(volume))
                arrived, _, _ = bus_side.wait(lambda t, p: bus_message(t, p) == SetVolume(volume=volume))
                hub_to_bus.append(arrived - sent)

            bus_to_hub, answered = [], []
            for i in range(args.count):
                intent = "HassTurnOn" if i % 2 else "HassTurnOff"
                request_id = f"b{i}"
                sent = bus_side.send(HomeCommand.TOPIC, HomeCommand(request_id=request_id, intent=intent,
                                                                    entity_ids=["light.hallway"]).to_json())
                arrived, _, _ = hub_side.wait(lambda t, p: t == "zigbee2mqtt/Hallway/set")
                result_at, _, _ = bus_side.wait(
                    lambda t, p: isinstance(m := bus_message(t, p), HomeCommandResult) and m.request_id == request_id)
                bus_to_hub.append(arrived - sent)
                answered.append(result_at - sent)

            time.sleep(2.0)  # let the last work settle before measuring idle
            cpu_before, wall_before = cpu_seconds(bridge.pid), time.monotonic()
            time.sleep(IDLE_MEASURE_S)
            idle_cpu = (cpu_seconds(bridge.pid) - cpu_before) / (time.monotonic() - wall_before)
            rss = rss_mb(bridge.pid)
        finally:
            bridge.terminate()
            bridge.wait(5)
            hub_side.close()
            bus_side.close()

    print("bridge benchmark (two real Mosquitto brokers, bridge as its own process)")
    figures("hub command -> bus message (volume/set -> SetVolume)", hub_to_bus)
    figures("HomeCommand -> hub command topic publish (HassTurnOn/Off -> zigbee2mqtt/Hallway/set)", bus_to_hub)
    figures("HomeCommand -> HomeCommandResult (no state topic to wait for)", answered)
    print(f"bridge RSS: {rss:.1f} MB")
    print(f"bridge idle CPU: {idle_cpu * 100:.2f} % of one core (over {IDLE_MEASURE_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
