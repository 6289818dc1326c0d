"""Settings of the bridge service (the hub's MQTT broker).

The hub broker is a second broker, not the local bus: typically Home Assistant's Mosquitto add-on.
A minimal section::

    [bridge]
    enabled = true
    host = "homeassistant.local"
    username = "samantha"
    password = "..."
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import port, setting

_TOPIC_LEVEL_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_TOPIC_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")


def topic_level(value: str) -> str | None:
    """One MQTT topic level of letters, digits, '_' and '-' (or '' for the default)."""
    if value == "" or _TOPIC_LEVEL_RE.match(value):
        return None
    return "must be letters, digits, '_' or '-' only (it becomes part of MQTT topics)"


def topic_prefix(value: str) -> str | None:
    """Topic levels separated by '/', with no wildcards and no empty levels."""
    if _TOPIC_PREFIX_RE.match(value):
        return None
    return "must be topic levels of letters, digits, '_' or '-', separated by '/' (no '+', '#')"


@dataclass(frozen=True)
class BridgeSettings:
    """The connection to the home-automation hub."""

    enabled: bool = setting(False, "connect to a hub broker")
    host: str = setting("", "hub broker address")
    port: int = setting(1883, "hub broker port (8883 is usual with TLS)", check=port)
    username: str = setting("", "hub broker user ('' = connect without one)")
    password: str = setting("", "hub broker password (never logged)")
    tls: bool = setting(False, "connect with TLS")
    ca_file: str = setting("", "with tls: CA certificate file that signed the broker's certificate ('' = the system's CAs)")
    cert_file: str = setting("", "with tls: client certificate file, for brokers that ask for one")
    key_file: str = setting("", "with tls: the client certificate's private key file ('' = it is in cert_file)")
    tls_insecure: bool = setting(False, "with tls: do not check the broker's host name (self-signed test setups only)")
    client_id: str = setting("", "MQTT client id on the hub broker ('' = samantha-<node_id>)")
    discovery_prefix: str = setting("homeassistant", "Home Assistant's discovery prefix", check=topic_prefix)
    topic_prefix: str = setting("samantha", "topics of this device on the hub broker: <topic_prefix>/<node_id>/...", check=topic_prefix)
    node_id: str = setting("", "this speaker's id in topics and in the hub ('' = the host name)", check=topic_level)
    device_name: str = setting("", "this speaker's name in the hub ('' = Samantha <node_id>)")
    direct_control: bool = setting(True, "read the hub's MQTT discovery configs and control those devices directly")
    confirm_timeout_s: float = setting(
        2.0, "how long a home command waits for the device's state topic to confirm it", minimum=0.0, maximum=10.0)

    def __repr__(self) -> str:
        """Like the dataclass's, with the password redacted: settings can end up in logs."""
        fields = ", ".join(
            f"{name}={'***' if name == 'password' and value else repr(value)}"
            for name, value in self.__dict__.items()
        )
        return f"{type(self).__name__}({fields})"
