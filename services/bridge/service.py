"""The bridge service: the speaker as a device in the home-automation hub, and the home's devices
within reach of its voice.

Local bus -> hub: device state, transcripts, intents (also as JSON on ``<prefix>/<node>/intent`` for
any hub), mute, volume, wake word, wake sound, LED ring and button presses. Hub -> local bus: the
hub's commands to this speaker, each checked strictly (:mod:`.speaker`). Direct control: the hub's
MQTT discovery configs become the home's entity list (HomeEntities), and HomeCommand messages are
carried out on those devices' command topics (:mod:`.home`, :mod:`.home_commands`).

The device never depends on the hub: when its broker is away the bridge keeps reconnecting, and
catches the hub up when it returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import time

from ..bus import Bus
from ..config import ConfigError
from ..messages import (
    ButtonPressed,
    DeviceState,
    HomeCommand,
    HomeCommandResult,
    HomeEntities,
    IntentRecognized,
    LightState,
    Message,
    MuteState,
    TranscriptReady,
    VolumeState,
    WakeSoundState,
    WakeWordState,
)
from ..service import Service
from ..settings import Settings
from .home import BadDiscovery, HomeDirectory, HomeEntity
from .home_commands import COMMAND_INTENTS, QUERY_INTENTS, CannotDo, plan_command
from .link import HubLink, HubUnavailable
from .speaker import (
    DEFAULT_WAKE_WORDS,
    BadHubPayload,
    SpeakerTopics,
    command_messages,
    discovery_payload,
    discovery_topic,
    hub_updates,
)

_LOGGER = logging.getLogger(__name__)

ENTITIES_SETTLE_S = 0.5  # retained discovery configs arrive in a burst; publish the list once after it
DISCOVERY_SETTLE_S = 3.0  # after connecting, the hub's discovery list stands (even if it is empty)
ENTITIES_FILE = "bridge-home-entities.json"  # the last list, for a start while the hub is away
HUB_STATUS_ONLINE = b"online"


def default_node_id() -> str:
    """The host name as a topic level: 'Kitchen-Pi.local' -> 'kitchen-pi'."""
    host = socket.gethostname().split(".")[0].lower()
    return re.sub(r"[^a-z0-9_-]+", "_", host).strip("_") or "samantha"


def _describe(entity: HomeEntity) -> str:
    state = entity.state or "unknown"
    return f"{entity.name} is {state.replace('_', ' ')}"


class BridgeService(Service):
    """Connects the speaker to the hub's MQTT broker (see the module docstring)."""

    name = "bridge"
    subscriptions = (DeviceState, TranscriptReady, IntentRecognized, MuteState, VolumeState, WakeWordState,
                     WakeSoundState, LightState, ButtonPressed, HomeCommand)

    def __init__(self, settings: Settings, bus: Bus) -> None:
        super().__init__(settings, bus)
        config = settings.bridge
        self.config = config
        self.node_id = config.node_id or default_node_id()
        self.device_name = config.device_name or f"Samantha {self.node_id}"
        self.topics = SpeakerTopics(config.topic_prefix, self.node_id)
        self.wake_words: list[str] = list(DEFAULT_WAKE_WORDS)
        self.home = HomeDirectory(config.discovery_prefix, own_node=self.node_id)
        self.status_topic = f"{config.discovery_prefix}/status"
        self.discovery_topics = [f"{config.discovery_prefix}/+/+/config", f"{config.discovery_prefix}/+/+/+/config"]
        self.link = HubLink(config, config.client_id or f"samantha-{self.node_id}", self.topics.availability,
                            on_message=self._hub_message, on_connect=self._hub_connected,
                            on_problem=self.report_error)
        self._command_topics = set(self.topics.command_topics())
        self._entities_timer: asyncio.TimerHandle | None = None
        self._entities_published: list[dict] | None = None
        self._waiters: list[tuple[str, frozenset[str], asyncio.Future[None]]] = []

    async def start(self) -> None:
        if not self.config.enabled:
            _LOGGER.info("The bridge is off (bridge.enabled = false); nothing to do")
            return
        if not self.config.host:
            raise ConfigError("bridge.host: the hub broker's address is needed when bridge.enabled = true")
        for key in ("ca_file", "cert_file", "key_file"):
            if not (path := getattr(self.config, key)):
                continue
            if not self.config.tls:
                _LOGGER.warning("bridge.%s = %r is ignored: bridge.tls is false", key, path)
            elif not os.access(path, os.R_OK):
                raise ConfigError(f"bridge.{key} = {path!r}: no such file, or it cannot be read")
        _LOGGER.info("Bridge: node %s, hub broker %s:%d%s%s", self.node_id, self.config.host, self.config.port,
                     " with TLS" if self.config.tls else "",
                     f" as {self.config.username!r}" if self.config.username else "")
        self._announce()
        await self.link.subscribe([self.status_topic, *self._command_topics])
        if self.config.direct_control:
            await self.link.subscribe(self.discovery_topics)
            self._entities_published = self._remembered_entities()

    def _remembered_entities(self) -> list[dict] | None:
        """The entity list of the last run, so that the dialogue knows the home's names at once,
        even while the hub is away (commands then get a plain "can't reach the hub")."""
        path = self.settings.state_dir / ENTITIES_FILE
        try:
            entities = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            _LOGGER.warning("Could not read %s (%s); waiting for the hub's list", path, err)
            return None
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            _LOGGER.warning("%s is not an entity list; waiting for the hub's list", path)
            return None
        _LOGGER.info("%d entities remembered from the last run, until the hub's list arrives", len(entities))
        return entities

    def _remember_entities(self, entities: list[dict]) -> None:
        path = self.settings.state_dir / ENTITIES_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(entities, ensure_ascii=False), encoding="utf-8")
            temporary.replace(path)  # never a half-written list after a power cut
        except OSError as err:
            _LOGGER.warning("Could not save the entity list to %s: %s", path, err)

    async def run(self) -> None:
        if not self.config.enabled:
            await asyncio.Event().wait()
        await self.link.run()

    async def connected(self) -> None:
        """The local bus (re)connected: its retained entity list may be gone with a broker restart."""
        if self._entities_published is not None:
            self.bus.publish(HomeEntities(entities=self._entities_published))

    # -- local bus -> hub ---------------------------------------------------------------------

    async def handle(self, message: Message) -> None:
        if isinstance(message, HomeCommand):
            self.spawn(self.carry_out(message))
            return
        if not self.config.enabled:
            return
        if isinstance(message, WakeWordState) and message.available:
            if sorted(set(message.available)) != sorted(set(self.wake_words)):
                self.wake_words = sorted(set(message.available))
                self._announce()  # the select's options changed
        for update in hub_updates(self.topics, message, self.node_id):
            if update.retain:
                self.link.publish_state(update.topic, update.payload)
            else:
                self.link.publish_event(update.topic, update.payload)

    def _announce(self) -> None:
        payload = discovery_payload(self.topics, self.device_name, self.wake_words)
        self.link.publish_state(discovery_topic(self.config.discovery_prefix, self.node_id), json.dumps(payload))

    # -- hub -> local bus ---------------------------------------------------------------------

    def _hub_connected(self) -> None:
        if self.link.connects > 1:
            _LOGGER.info("Back on the hub broker: the speaker's discovery and state sent again")
        if self.config.direct_control and self._entities_timer is None:
            # Replaces a remembered list even when the hub now announces nothing at all.
            self._entities_timer = asyncio.get_running_loop().call_later(DISCOVERY_SETTLE_S, self._publish_entities)

    def _hub_message(self, topic: str, payload: bytes) -> None:
        """Everything the hub broker sends us; only documented topics have any effect."""
        if topic in self._command_topics:
            try:
                messages = command_messages(self.topics, topic, payload, self.wake_words)
            except BadHubPayload as err:
                _LOGGER.warning("Dropped a hub command on %s: %s", topic, err)
                return
            for message in messages:
                self.bus.publish(message)
            return
        if topic == self.status_topic:
            if payload == HUB_STATUS_ONLINE:
                _LOGGER.info("The hub came online; announcing the speaker again")
                self.link.republish_all()
            return
        if topic.endswith("/config") and topic.startswith(self.config.discovery_prefix + "/"):
            if self.config.direct_control:
                self._discovery_message(topic, payload)
            # A config topic may also be someone's state topic; fall through.
        if self.home.state_received(topic, payload):
            self._check_waiters()

    def _discovery_message(self, topic: str, payload: bytes) -> None:
        before = self.home.state_topics()
        try:
            changed = self.home.discovered(topic, payload)
        except BadDiscovery as err:
            _LOGGER.debug("Ignored the discovery message on %s: %s", topic, err)
            return
        after = self.home.state_topics()
        if after != before:
            reserved = self._command_topics | {self.status_topic}
            self.spawn(self.link.subscribe(sorted(after - before - reserved)))
            self.spawn(self.link.unsubscribe(sorted(before - after - reserved)))
        if changed:
            self._schedule_entities()

    def _schedule_entities(self) -> None:
        if self._entities_timer is not None:
            self._entities_timer.cancel()
        self._entities_timer = asyncio.get_running_loop().call_later(ENTITIES_SETTLE_S, self._publish_entities)

    def _publish_entities(self) -> None:
        self._entities_timer = None
        entities = self.home.for_bus()
        if entities != self._entities_published:
            self._entities_published = entities
            _LOGGER.info("The home has %d entities the speaker can control", len(entities))
            self.bus.publish(HomeEntities(entities=entities))
            self._remember_entities(entities)

    # -- home commands ------------------------------------------------------------------------

    def _check_waiters(self) -> None:
        for entity_id, expect, future in self._waiters:
            entity = self.home.entities.get(entity_id)
            if entity is not None and entity.state in expect and not future.done():
                future.set_result(None)

    async def carry_out(self, command: HomeCommand) -> None:
        """Carry out a HomeCommand and answer it with a HomeCommandResult (always, and quickly)."""
        started = time.monotonic()
        try:
            result = await self._carry_out(command)
        except Exception as err:  # the dialogue waits for an answer whatever happens
            _LOGGER.exception("HomeCommand %s failed", command.request_id)
            result = HomeCommandResult(request_id=command.request_id, ok=False, message=f"Something went wrong: {err}")
        _LOGGER.info("HomeCommand %s %s %s -> ok=%s %s (%.0f ms)", command.request_id, command.intent,
                     command.entity_ids, result.ok, result.message, (time.monotonic() - started) * 1000)
        self.bus.publish(result)

    async def _carry_out(self, command: HomeCommand) -> HomeCommandResult:
        def answer(ok: bool, message: str = "", entities: list[HomeEntity] = ()) -> HomeCommandResult:
            states = {e.entity_id: e.state_dict() for e in entities}
            return HomeCommandResult(request_id=command.request_id, ok=ok, message=message, states=states)

        if not self.config.enabled:
            return answer(False, "The speaker is not connected to a home hub.")
        if command.intent not in COMMAND_INTENTS | QUERY_INTENTS:
            return answer(False, "That isn't something I can do with the home's devices.")
        entities, unknown = self.home.get(command.entity_ids)
        hub_away = not self.link.connected.is_set()
        if hub_away and (command.intent in COMMAND_INTENTS or not entities):
            # Also for names only remembered from the last run: the hub is what is missing.
            return answer(False, "I can't reach the home hub right now.", entities)
        if not entities:
            return answer(False, f"I don't know {', '.join(unknown) or 'which device you mean'}.")
        missing = f" I don't know {', '.join(unknown)}." if unknown else ""
        if command.intent in QUERY_INTENTS:
            known = [e for e in entities if e.state is not None or e.attributes]
            if not known:
                return answer(False, f"I haven't heard from {entities[0].name} yet.{missing}", entities)
            return answer(not unknown, ("; ".join(_describe(e) for e in entities) + "." + missing).strip(), entities)

        plans, failures = [], []
        for entity in entities:
            try:
                plans.append((entity, plan_command(entity, command.intent, command.data)))
            except CannotDo as err:
                failures.append(f"{err}.")
        waits: list[asyncio.Future[None]] = []
        waiters = []
        loop = asyncio.get_running_loop()
        for entity, plan in plans:
            if plan.expect and entity.state not in plan.expect and self.config.confirm_timeout_s > 0:
                waiter = (entity.entity_id, plan.expect, loop.create_future())
                waiters.append(waiter)
                waits.append(waiter[2])
        self._waiters.extend(waiters)
        try:
            for entity, plan in plans:
                for publish in plan.publishes:
                    try:
                        await self.link.publish_now(publish.topic, publish.payload, publish.qos, publish.retain)
                    except HubUnavailable:
                        return answer(False, "I can't reach the home hub right now.", entities)
            unconfirmed: list[str] = []
            if waits:
                await asyncio.wait(waits, timeout=self.config.confirm_timeout_s)
                unconfirmed = [self.home.entities[eid].name for eid, _, f in waiters
                               if not f.done() and eid in self.home.entities]
        finally:
            for waiter in waiters:
                self._waiters.remove(waiter)
        notes = failures + ([f"{', '.join(unconfirmed)} did not confirm yet."] if unconfirmed else [])
        return answer(bool(plans) and not failures and not unknown, " ".join(notes) + missing, entities)
