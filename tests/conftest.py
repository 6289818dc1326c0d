"""Fixtures every test can use: a real private Mosquitto broker and a probe on it."""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
import time
from typing import Callable

import paho.mqtt.client as mqtt
import pytest

from services.broker import PrivateBroker
from services.messages import BadMessage, Message, parse

# The dialogue model trains once for the whole suite (and its service processes), not once per
# test's state folder: its heads and embeddings are keyed by the sentences they were trained on.
NLU_TEST_CACHE = os.path.join(tempfile.gettempdir(), "samantha-test-nlu-cache")
os.environ.setdefault("SAMANTHA_NLU_CACHE", NLU_TEST_CACHE)


class BusProbe:
    """A test's own client on the bus: publish typed messages, wait for the ones services send."""

    def __init__(self, port: int) -> None:
        self.received: "queue.Queue[Message]" = queue.Queue()
        self.history: list[Message] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.time_ns()}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a, **k: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("samantha/#")
        assert subscribed.wait(5), "probe could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        try:
            message = parse(msg.topic, msg.payload)
        except BadMessage:
            return
        with self._lock:
            self.history.append(message)
        self.received.put(message)

    def publish(self, message: Message) -> None:
        self.client.publish(message.TOPIC, message.to_json(), retain=message.RETAIN).wait_for_publish(5)

    def publish_raw(self, topic: str, payload: bytes | str) -> None:
        self.client.publish(topic, payload).wait_for_publish(5)

    def wait_for(self, predicate: type[Message] | Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """The next message (from now on) that is of the given type or satisfies the predicate."""
        check = (lambda m: isinstance(m, predicate)) if isinstance(predicate, type) else predicate
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message within {timeout} s; saw {self.history[-10:]}")
            try:
                message = self.received.get(timeout=left)
            except queue.Empty:
                continue
            if check(message):
                return message

    def drain(self) -> None:
        while not self.received.empty():
            self.received.get_nowait()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker():
    """A real Mosquitto broker on a free port, stopped after the test."""
    with PrivateBroker() as running:
        yield running


@pytest.fixture
def probe(broker):
    """A client on the broker that records every samantha/# message."""
    client = BusProbe(broker.port)
    yield client
    client.close()


def bus_overrides(broker: PrivateBroker) -> str:
    """$SAMANTHA_OVERRIDES that points a service at the test broker."""
    return json.dumps({"bus": {"host": "127.0.0.1", "port": broker.port}})
