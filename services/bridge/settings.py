"""Settings of the bridge service (the hub's MQTT broker)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import port, setting


@dataclass(frozen=True)
class BridgeSettings:
    """The connection to the home-automation hub."""

    enabled: bool = setting(False, "connect to a hub broker")
    host: str = setting("", "hub broker address")
    port: int = setting(1883, "hub broker port", check=port)
    username: str = setting("", "hub broker user")
    password: str = setting("", "hub broker password (never logged)")
    discovery_prefix: str = setting("homeassistant", "Home Assistant's discovery prefix")
    topic_prefix: str = setting("samantha", "topics of this device on the hub broker")
