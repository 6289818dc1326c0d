"""The connection to the hub's MQTT broker: TLS and credentials, a last will, reconnects with
backoff, state that is republished after every reconnect, and events that wait in a bounded queue.

State (retained, e.g. the volume) is kept as the last value per topic and sent again after every
(re)connect, so the hub catches up however long it was away. Events (button presses, intents) wait
in a bounded queue while the hub is away; when it is full the oldest is dropped with a log line.
Commands to the home's devices are never queued: an unlock sent minutes late is worse than none,
so :meth:`HubLink.publish_now` fails at once when the hub is away.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import OrderedDict, deque
from typing import Callable, Iterable

import aiomqtt

from .settings import BridgeSettings

_LOGGER = logging.getLogger(__name__)

RECONNECT_MIN_S = 0.25
RECONNECT_MAX_S = 5.0
KEEPALIVE_S = 30  # the broker publishes our last will this long (x1.5) after we vanish
CONNECT_TIMEOUT_S = 5.0
PUBLISH_TIMEOUT_S = 2.0
GOODBYE_TIMEOUT_S = 0.5  # shutdown must stay quick (the supervisor allows 2 s)
EVENT_QUEUE_MAX = 200  # events kept while the hub is away; the oldest go first
SUBSCRIBE_BATCH = 64  # topics per SUBSCRIBE packet
HUB_AWAY_REPORT_S = 30.0  # unreachable this long (after having been connected) is worth telling the user
ONLINE, OFFLINE = "online", "offline"
# CONNACK codes (MQTT 3.1.1 and 5) that mean the user name, password or certificate was refused.
AUTH_REFUSED_CODES = frozenset({4, 5, 134, 135})


class HubUnavailable(ConnectionError):
    """The hub broker is not connected right now."""


def _reason_code(err: aiomqtt.MqttError) -> int | None:
    rc = getattr(err, "rc", None)
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None


def describe_failure(err: Exception, where: str) -> tuple[str, bool]:
    """A sentence a user understands, and whether it is a settings problem (worth reporting at once)."""
    text = str(err)
    if isinstance(err, aiomqtt.MqttError) and _reason_code(err) in AUTH_REFUSED_CODES:
        return (f"The hub broker at {where} refused the user name or password (bridge.username, "
                f"bridge.password); retrying", True)
    if "mismatch" in text and ("Hostname" in text or "IP address" in text):
        return (f"The hub broker's certificate is not made out to {where.rsplit(':', 1)[0]} ({text}); set "
                f"bridge.host to a name in the certificate (or bridge.tls_insecure = true on a test setup); "
                f"retrying", True)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (f"The hub broker at {where} has a certificate bridge.ca_file does not vouch for ({text}); "
                f"retrying", True)
    if "SSL" in text or "TLS" in text or "WRONG_VERSION_NUMBER" in text:
        return f"TLS to the hub broker at {where} failed ({text}); check bridge.tls and the port; retrying", True
    return f"The hub broker at {where} cannot be reached ({text}); retrying", False


class HubLink:
    """The bridge's client on the hub broker.

    >>> link = HubLink(BridgeSettings(host="hub"), "samantha-kitchen", "samantha/kitchen/availability",
    ...                on_message=lambda topic, payload: None)      # doctest: +SKIP
    >>> link.publish_state("samantha/kitchen/volume", "40")          # doctest: +SKIP
    >>> await link.run()                                             # doctest: +SKIP
    """

    def __init__(
        self,
        settings: BridgeSettings,
        client_id: str,
        availability_topic: str,
        on_message: Callable[[str, bytes], None],
        on_connect: Callable[[], None] | None = None,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.availability_topic = availability_topic
        self.on_message = on_message
        self.on_connect = on_connect
        self.on_problem = on_problem or (lambda text: None)
        self.connected = asyncio.Event()
        self.where = f"{settings.host}:{settings.port}"
        self.connects = 0  # how many times the link came up (tests and logs)
        self.dropped_events = 0
        self._client: aiomqtt.Client | None = None
        self._state: dict[str, str] = {}
        self._pending: OrderedDict[str, None] = OrderedDict()  # state topics still to send
        self._events: deque[tuple[str, str]] = deque()
        self._wakeup = asyncio.Event()
        self._subscriptions: set[str] = set()

    # -- what the service hands over ----------------------------------------------------------

    def publish_state(self, topic: str, payload: str) -> None:
        """Retained state: sent now or after the next connect, and again after every reconnect."""
        if self._state.get(topic) == payload and topic not in self._pending and self.connected.is_set():
            return
        self._state[topic] = payload
        self._pending[topic] = None
        self._wakeup.set()

    def publish_event(self, topic: str, payload: str) -> None:
        """An event (not retained): sent now, or queued while the hub is away."""
        if len(self._events) >= EVENT_QUEUE_MAX:
            lost_topic, _ = self._events.popleft()
            self.dropped_events += 1
            _LOGGER.warning("Hub away and its queue full: dropped the oldest event (%s)", lost_topic)
        self._events.append((topic, payload))
        self._wakeup.set()

    def republish_all(self) -> None:
        """Send every state again (after a reconnect, or the hub restarted and asks for it);
        "online" first, so that the hub takes the rest as current."""
        self._state[self.availability_topic] = ONLINE
        for topic in self._state:
            self._pending[topic] = None
        self._pending.move_to_end(self.availability_topic, last=False)
        self._wakeup.set()

    async def publish_now(self, topic: str, payload: str, qos: int = 0, retain: bool = False) -> None:
        """Publish at once, or raise HubUnavailable; for commands that must not arrive late."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise HubUnavailable(f"the hub broker at {self.where} is not connected")
        try:
            await asyncio.wait_for(client.publish(topic, payload, qos=qos, retain=retain), PUBLISH_TIMEOUT_S)
        except (aiomqtt.MqttError, asyncio.TimeoutError) as err:
            raise HubUnavailable(f"publishing to the hub broker failed: {err}") from None

    async def subscribe(self, topics: Iterable[str]) -> None:
        """Follow more topics (now, and after every reconnect)."""
        new = [t for t in topics if t not in self._subscriptions]
        self._subscriptions.update(new)
        if new and self._client is not None and self.connected.is_set():
            await self._subscribe(self._client, new)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        gone = [t for t in topics if t in self._subscriptions]
        self._subscriptions.difference_update(gone)
        if gone and self._client is not None and self.connected.is_set():
            try:
                await self._client.unsubscribe(gone)
            except (aiomqtt.MqttError, ValueError) as err:
                _LOGGER.debug("Unsubscribe failed: %s", err)

    # -- the connection -----------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext | None:
        settings = self.settings
        if not settings.tls:
            return None
        context = ssl.create_default_context(cafile=settings.ca_file or None)
        if settings.cert_file:
            context.load_cert_chain(settings.cert_file, settings.key_file or None)
        if settings.tls_insecure:
            context.check_hostname = False
        return context

    def _new_client(self) -> aiomqtt.Client:
        settings = self.settings
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username or None,
            password=settings.password or None,
            identifier=self.client_id,
            will=aiomqtt.Will(self.availability_topic, OFFLINE, qos=1, retain=True),
            keepalive=KEEPALIVE_S,
            timeout=CONNECT_TIMEOUT_S,
            tls_context=self._tls_context(),
            tls_insecure=settings.tls_insecure if settings.tls else None,
            clean_session=True,
        )

    async def _subscribe(self, client: aiomqtt.Client, topics: list[str]) -> None:
        for start in range(0, len(topics), SUBSCRIBE_BATCH):
            batch = topics[start:start + SUBSCRIBE_BATCH]
            try:
                await client.subscribe([(topic, 0) for topic in batch])
            except ValueError:  # a malformed topic from someone's discovery config: one at a time
                for topic in batch:
                    try:
                        await client.subscribe(topic)
                    except ValueError:
                        _LOGGER.info("Cannot follow the topic %r", topic)
                        self._subscriptions.discard(topic)

    async def run(self) -> None:
        """Stay connected for ever; reconnect with backoff when the hub broker goes away."""
        delay = RECONNECT_MIN_S
        away_since: float | None = None
        last_problem = last_logged = ""
        while True:
            try:
                client = self._new_client()
                async with client:
                    self._client = client
                    await self._subscribe(client, sorted(self._subscriptions))
                    self.connected.set()
                    self.connects += 1
                    _LOGGER.info("Connected to the hub broker at %s", self.where)
                    delay, away_since, last_problem, last_logged = RECONNECT_MIN_S, None, "", ""
                    self.republish_all()
                    if self.on_connect is not None:
                        self.on_connect()
                    await self._serve(client)
            except (aiomqtt.MqttError, OSError, ssl.SSLError, ValueError) as err:
                problem, is_settings = describe_failure(err, self.where)
                if self.connected.is_set():
                    _LOGGER.warning("Lost the hub broker at %s (%s); reconnecting", self.where, err)
                    away_since = time.monotonic()
                if away_since is None:
                    away_since = time.monotonic()
                # Each problem is told once (not per retry): to the user (ServiceError, which logs it
                # too) when it is a settings mistake or lasts, else in the log only.
                if problem != last_problem and (is_settings or time.monotonic() - away_since >= HUB_AWAY_REPORT_S):
                    self.on_problem(problem)
                    last_problem = last_logged = problem
                elif problem != last_logged:
                    _LOGGER.warning("%s", problem)
                    last_logged = problem
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Receive and send until either side fails; its MqttError means a reconnect."""
        tasks = [asyncio.create_task(self._receive(client), name="hub-receive"),
                 asyncio.create_task(self._send(client), name="hub-send")]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            await self._say_goodbye(client)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if (err := task.exception()) is not None:
                raise err
        raise aiomqtt.MqttError("the connection ended")

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self._deliver(message)

    async def _say_goodbye(self, client: aiomqtt.Client) -> None:
        """On a clean stop, mark the speaker offline ourselves: the will is only for a crash."""
        try:
            await asyncio.wait_for(client.publish(self.availability_topic, OFFLINE, qos=1, retain=True),
                                   GOODBYE_TIMEOUT_S)
        except (aiomqtt.MqttError, asyncio.TimeoutError, asyncio.CancelledError):
            _LOGGER.debug("Could not say goodbye to the hub broker")

    def _deliver(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        if isinstance(payload, str):
            payload = payload.encode()
        elif not isinstance(payload, (bytes, bytearray)):
            payload = b"" if payload is None else str(payload).encode()
        try:
            self.on_message(str(message.topic), bytes(payload))
        except Exception:  # one bad message must never take the link down
            _LOGGER.exception("Error while handling a hub message on %s", message.topic)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            while self._pending or self._events:
                if self._pending:
                    topic, _ = self._pending.popitem(last=False)
                    if topic in self._state:
                        await client.publish(topic, self._state[topic], qos=1, retain=True)
                else:
                    topic, payload = self._events[0]
                    await client.publish(topic, payload, qos=1, retain=False)
                    self._events.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()
