"""What the bridge tests share: a second real Mosquitto playing the hub, a client on it, and the
bridge service started as its own process (as `samantha run` and systemd start it).

No tests here; the other tests/test_bridge_*.py import these helpers and fixtures.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
import pytest
from conftest import BusProbe  # noqa: F401  (re-exported for the bridge tests)

from services.broker import PrivateBroker
from services.messages import HomeCommand, HomeCommandResult

NODE = "testnode"
BASE = f"samantha/{NODE}"
DISCOVERY_TOPIC = f"homeassistant/device/samantha_{NODE}/config"
REPO = Path(__file__).resolve().parent.parent

# A zigbee2mqtt light as zigbee2mqtt 1.x/2.x announces it (schema json, name null, object_id).
Z2M_LIGHT_TOPIC = "homeassistant/light/0x0017880104e45517/light/config"
Z2M_LIGHT = {
    "availability": [{"topic": "zigbee2mqtt/bridge/state", "value_template": "{{ value_json.state }}"}],
    "brightness": True,
    "brightness_scale": 254,
    "command_topic": "zigbee2mqtt/Hallway/set",
    "device": {"identifiers": ["zigbee2mqtt_0x0017880104e45517"], "manufacturer": "Philips",
               "model": "Hue white and color ambiance E26/E27", "name": "Hallway", "suggested_area": "Hallway"},
    "json_attributes_topic": "zigbee2mqtt/Hallway",
    "name": None,
    "object_id": "hallway",
    "origin": {"name": "Zigbee2MQTT", "sw": "1.40.2", "url": "https://www.zigbee2mqtt.io"},
    "schema": "json",
    "state_topic": "zigbee2mqtt/Hallway",
    "supported_color_modes": ["xy", "color_temp"],
    "unique_id": "0x0017880104e45517_light_zigbee2mqtt",
}


class HubClient:
    """A test's client on the hub broker: sees everything, publishes anything."""

    def __init__(self, port: int, tls: dict[str, Any] | None = None, username: str | None = None,
                 password: str | None = None, insecure: bool = False) -> None:
        self.messages: "queue.Queue[tuple[str, bytes, bool]]" = queue.Queue()
        self.history: list[tuple[str, bytes, bool]] = []
        self.last: dict[str, bytes] = {}  # the latest payload seen on each topic
        self.port = port
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hub-{time.time_ns()}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a, **k: subscribed.set()
        self.tls, self.username, self.password, self.insecure = tls, username, password, insecure
        self._secure(self.client)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("#")
        assert subscribed.wait(5), "hub client could not subscribe"

    def _secure(self, client: mqtt.Client) -> None:
        if self.tls is not None:
            client.tls_set(**self.tls)
            client.tls_insecure_set(self.insecure)
        if self.username is not None:
            client.username_pw_set(self.username, self.password)

    def _on_message(self, client, userdata, msg) -> None:
        item = (msg.topic, bytes(msg.payload), bool(msg.retain))
        with self._lock:
            self.history.append(item)
            self.last[msg.topic] = item[1]
        self.messages.put(item)

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def wait_for(self, topic: str, check: Callable[[bytes], bool] = lambda p: True,
                 timeout: float = 10.0) -> bytes:
        """The next payload on topic (from now on) that passes check."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got_topic, payload, _ = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if got_topic == topic and check(payload):
                return payload
        seen = [t for t, _, _ in self.history[-15:]]
        raise AssertionError(f"nothing on {topic} within {timeout} s; last topics: {seen}")

    def latest(self, topic: str, timeout: float = 5.0) -> bytes:
        """The latest payload on topic, waiting for the first one if none came yet."""
        deadline = time.monotonic() + timeout
        while topic not in self.last and time.monotonic() < deadline:
            time.sleep(0.02)
        assert topic in self.last, f"nothing on {topic} within {timeout} s"
        return self.last[topic]

    def read_retained(self, topic: str, timeout: float = 5.0) -> bytes | None:
        """What the broker keeps retained on topic, as a client connecting now would get it."""
        got: "queue.Queue[bytes]" = queue.Queue()
        reader = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"reader-{time.time_ns()}")
        reader.on_message = lambda c, u, msg: got.put(bytes(msg.payload)) if msg.retain else None
        self._secure(reader)
        reader.connect("127.0.0.1", self.port)
        reader.loop_start()
        reader.subscribe(topic)
        try:
            return got.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            reader.disconnect()  # before loop_stop, which else waits out paho's 1 s select
            reader.loop_stop()

    def seen(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.history if t == topic]

    def drain(self) -> None:
        while not self.messages.empty():
            self.messages.get_nowait()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class BridgeProcess:
    """The bridge service as a child process against a bus broker and a hub broker."""

    def __init__(self, bus_port: int, folder: Path, bridge: dict[str, Any]) -> None:
        self.log_path = folder / "bridge.log"
        config = folder / "config.toml"
        config.write_text(f'[general]\nstate_dir = "{folder}"\nlog_level = "info"\n')
        overrides = {"bus": {"host": "127.0.0.1", "port": bus_port},
                     "bridge": {"enabled": True, "host": "127.0.0.1", "node_id": NODE, **bridge}}
        env = {**os.environ, "SAMANTHA_OVERRIDES": json.dumps(overrides), "SAMANTHA_CONFIG": str(config),
               "PYTHONUNBUFFERED": "1"}
        env.pop("NOTIFY_SOCKET", None)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "services.bridge"], env=env, cwd=REPO,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def hub():
    """The second Mosquitto, playing the home-automation hub's broker."""
    with PrivateBroker() as running:
        yield running


@pytest.fixture
def hub_client(hub):
    client = HubClient(hub.port)
    yield client
    client.close()


def wait_until_listening(probe, timeout: float = 10.0) -> None:
    """Until the bridge answers on the local bus (it subscribes there and to the hub in parallel)."""
    deadline = time.monotonic() + timeout
    for attempt in range(1000):
        request_id = f"ready-{attempt}"
        probe.publish(HomeCommand(request_id=request_id, intent="HassNevermind", entity_ids=[]))
        try:
            probe.wait_for(lambda m: isinstance(m, HomeCommandResult) and m.request_id == request_id, timeout=0.3)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError("the bridge does not answer on the local bus") from None


def start_bridge(broker: PrivateBroker, hub_port: int, folder: Path, hub_client: HubClient | None = None,
                 probe=None, **bridge: Any) -> BridgeProcess:
    """Start the bridge; with hub_client (probe), wait until it is online on the hub broker (bus)."""
    process = BridgeProcess(broker.port, folder, {"port": hub_port, **bridge})
    try:
        if hub_client is not None:
            hub_client.wait_for(f"{BASE}/availability", lambda p: p == b"online", timeout=15)
        if probe is not None:
            wait_until_listening(probe)
    except AssertionError as err:
        process.stop()
        raise AssertionError(f"{err}; the bridge's log:\n{process.log()}") from None
    return process


@pytest.fixture
def bridge(broker, hub, hub_client, probe, tmp_path):
    """A running bridge, online on the hub broker."""
    process = start_bridge(broker, hub.port, tmp_path, hub_client, probe)
    yield process
    process.stop()
