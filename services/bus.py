"""The client every service uses to talk over the local bus (Mosquitto), built on aiomqtt.

It connects by itself and reconnects with backoff when the broker goes away; messages published
while it is away wait in a bounded queue. What arrives is parsed into typed messages; a payload that
does not fit its topic is logged and dropped, never passed on.

>>> bus = Bus(BusSettings(port=1883), "example", subscriptions=[Say])   # doctest: +SKIP
>>> bus.publish(Say(text="Hello"))                                      # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

import aiomqtt

from .messages import BadMessage, Message, parse

if TYPE_CHECKING:
    from .settings import BusSettings

_LOGGER = logging.getLogger(__name__)

RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0
OUTGOING_QUEUE_MAX = 1000  # messages kept while the broker is away; the oldest go first


# Without it a message sent right after another waits ~40 ms for the first one's ACK (Nagle).
TCP_NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def bus_client(settings: BusSettings, client_id: str) -> aiomqtt.Client:
    """An aiomqtt client for the local bus: its unix socket when set, else TCP without Nagle's delay."""
    if settings.socket:
        return aiomqtt.Client(settings.socket, transport="unix", identifier=client_id)
    return aiomqtt.Client(settings.host, settings.port, identifier=client_id, socket_options=[TCP_NO_DELAY])


class Bus:
    """A service's connection to the local bus."""

    def __init__(
        self,
        settings: BusSettings,
        client_id: str,
        subscriptions: Iterable[type[Message]] = (),
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.subscriptions = tuple(subscriptions)
        self.connected = asyncio.Event()
        self._outgoing: deque[Message] = deque()
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dropped = 0

    def _client(self) -> aiomqtt.Client:
        return bus_client(self.settings, self.client_id)

    def publish(self, message: Message) -> None:
        """Send a message as soon as the bus is reachable; never blocks."""
        if len(self._outgoing) >= OUTGOING_QUEUE_MAX:
            lost = self._outgoing.popleft()
            self.dropped += 1
            _LOGGER.warning("Bus queue full; dropped %s", type(lost).__name__)
        self._outgoing.append(message)
        self._wakeup.set()

    def publish_threadsafe(self, message: Message) -> None:
        """publish() from a thread that is not the event loop's (audio, GPIO callbacks)."""
        assert self._loop is not None, "the bus is not running"
        self._loop.call_soon_threadsafe(self.publish, message)

    async def flush(self, timeout: float) -> None:
        """Wait until everything published has been sent, or timeout seconds (the bus may be away)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._outgoing and self.connected.is_set() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    async def run(
        self,
        on_message: Callable[[Message], Awaitable[None]],
        on_connect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Stay connected for ever, handing each parsed message to on_message in order."""
        self._loop = asyncio.get_running_loop()
        delay = RECONNECT_MIN_S
        where = self.settings.socket or f"{self.settings.host}:{self.settings.port}"
        while True:
            try:
                async with self._client() as client:
                    for cls in self.subscriptions:
                        await client.subscribe(cls.TOPIC)
                    self.connected.set()
                    delay = RECONNECT_MIN_S
                    _LOGGER.debug("Connected to the bus at %s", where)
                    if on_connect is not None:
                        await on_connect()
                    sender = asyncio.create_task(self._send(client))
                    try:
                        async for mqtt_message in client.messages:
                            await self._deliver(mqtt_message, on_message)
                    finally:
                        sender.cancel()
                        await asyncio.gather(sender, return_exceptions=True)
            except aiomqtt.MqttError as err:
                if self.connected.is_set():
                    _LOGGER.warning("Lost the bus at %s (%s); reconnecting", where, err)
                else:
                    _LOGGER.debug("Bus at %s not reachable (%s); retrying in %.1f s", where, err, delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            while self._outgoing:
                message = self._outgoing[0]
                await client.publish(message.TOPIC, message.to_json(), qos=0, retain=message.RETAIN)
                self._outgoing.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _deliver(
        self, mqtt_message: aiomqtt.Message, on_message: Callable[[Message], Awaitable[None]]
    ) -> None:
        topic = str(mqtt_message.topic)
        payload = mqtt_message.payload
        if not isinstance(payload, (bytes, bytearray, str)):
            payload = b""
        try:
            message = parse(topic, bytes(payload) if not isinstance(payload, str) else payload)
        except BadMessage as err:
            _LOGGER.warning("Dropped a bad message on %s: %s", topic, err)
            return
        try:
            await on_message(message)
        except Exception:  # one bad message must not take the service down
            _LOGGER.exception("Error while handling %s", type(message).__name__)
