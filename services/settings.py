"""Samantha's settings: one TOML file, validated at start.

Where the file is: ``--config PATH``, else ``$SAMANTHA_CONFIG``, else /etc/samantha/config.toml; a
missing default file means all defaults, which run out of the box. Every key is documented in
docs/settings.md (``samantha settings`` writes it). A bad key or value exits with code 2 and one
line naming the key, the value and what is allowed.

``$SAMANTHA_OVERRIDES`` (JSON, ``{"bus": {"port": 1884}}``) is laid over the file; the supervisor
uses it to hand its private broker's port to the services it starts.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .bridge.settings import BridgeSettings
from .config import ConfigError, build, port, reference, setting
from .dialogue.settings import DialogueSettings
from .listener.settings import ListenerSettings
from .panel.settings import PanelSettings
from .voice.settings import VoiceSettings

DEFAULT_CONFIG_PATH = Path("/etc/samantha/config.toml")
SYSTEM_STATE_DIR = Path("/var/lib/samantha")
CONFIG_ENV = "SAMANTHA_CONFIG"
OVERRIDES_ENV = "SAMANTHA_OVERRIDES"


def default_state_dir() -> str:
    """/var/lib/samantha where it can be written (the device), else the user's state folder."""
    if SYSTEM_STATE_DIR.is_dir() and os.access(SYSTEM_STATE_DIR, os.W_OK):
        return str(SYSTEM_STATE_DIR)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "samantha")


@dataclass(frozen=True)
class GeneralSettings:
    """Where state lives and how much is logged."""

    state_dir: str = setting("", "folder for timers, memory, trained models ('' = /var/lib/samantha or ~/.local/state/samantha)")
    log_level: Literal["debug", "info", "warning", "error"] = setting("info", "how much the services log")


@dataclass(frozen=True)
class BusSettings:
    """The local Mosquitto broker the services talk through."""

    host: str = setting("127.0.0.1", "broker address (localhost only on the device)")
    port: int = setting(1884, "broker TCP port (1884, so a hub broker on 1883 on the same machine is no clash)", check=port)
    socket: str = setting("", "broker unix socket; used instead of host/port when set")


@dataclass(frozen=True)
class AudioSettings:
    """The sound card: which devices, and the test backends used where there is none."""

    output: Literal["auto", "pyaudio", "wav", "null"] = setting(
        "auto", "speaker backend: auto = PyAudio if a sound card exists, else null with a warning")
    output_device: str = setting("", "speaker by name (substring) or index; '' = the default device")
    output_mixer: str = setting(
        "", "ALSA mixer control that sets the volume, e.g. 'PCM' or 'Speaker' ('' = volume in software)")
    output_file: str = setting("", "with output = 'wav': the WAV file everything played is appended to")
    output_realtime: bool = setting(
        True, "wav/null output plays at real-time pace, like a speaker (false: as fast as it comes)")
    input: Literal["auto", "pyaudio", "wav", "stdin", "null"] = setting(
        "auto", "microphone backend: auto = PyAudio if a sound card exists; stdin = raw 16 kHz mono "
        "int16; null = silence")
    input_device: str = setting("", "microphone by name (substring) or index; '' = the default device")
    input_file: str = setting("", "with input = 'wav': the WAV file read as the microphone (any rate)")
    input_realtime: bool = setting(
        True, "with input = 'wav': read the file at real-time pace, like a microphone")


SECTIONS: dict[str, type] = {
    "general": GeneralSettings,
    "bus": BusSettings,
    "audio": AudioSettings,
    "voice": VoiceSettings,
    "listener": ListenerSettings,
    "dialogue": DialogueSettings,
    "panel": PanelSettings,
    "bridge": BridgeSettings,
}


@dataclass(frozen=True)
class Settings:
    """All of Samantha's settings, one attribute per section."""

    general: GeneralSettings = field(default_factory=GeneralSettings)
    bus: BusSettings = field(default_factory=BusSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    listener: ListenerSettings = field(default_factory=ListenerSettings)
    dialogue: DialogueSettings = field(default_factory=DialogueSettings)
    panel: PanelSettings = field(default_factory=PanelSettings)
    bridge: BridgeSettings = field(default_factory=BridgeSettings)
    source: str = "defaults"  # which file these came from, for log lines

    @property
    def state_dir(self) -> Path:
        return Path(self.general.state_dir or default_state_dir())


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def settings_from_dict(data: dict[str, Any], source: str = "defaults") -> Settings:
    """Validate a parsed settings table; ConfigError names the first bad key."""
    for name in data:
        if name not in SECTIONS:
            raise ConfigError(f"[{name}]: unknown section; the sections are: {', '.join(SECTIONS)}")
    sections = {name: build(cls, data.get(name, {}), name) for name, cls in SECTIONS.items()}
    return Settings(**sections, source=source)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read, merge overrides into and validate the settings file; ConfigError if it is unusable."""
    explicit = path or os.environ.get(CONFIG_ENV)
    config_path = Path(explicit) if explicit else DEFAULT_CONFIG_PATH
    data: dict[str, Any] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{config_path}: not valid TOML: {err}") from None
        except OSError as err:
            raise ConfigError(f"{config_path}: cannot be read: {err.strerror}") from None
    elif explicit:
        raise ConfigError(f"{config_path}: no such settings file")
    if overrides := os.environ.get(OVERRIDES_ENV):
        try:
            data = _merge(data, json.loads(overrides))
        except (ValueError, AttributeError) as err:
            raise ConfigError(f"${OVERRIDES_ENV}: not a JSON object: {err}") from None
    source = str(config_path) if config_path.exists() else "defaults"
    try:
        return settings_from_dict(data, source)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def settings_reference() -> str:
    """Markdown reference of every section and key (docs/settings.md)."""
    lines = ["# Settings", "", "Samantha reads one TOML file (see services/settings.py for where).", ""]
    for name, cls in SECTIONS.items():
        lines += reference(cls, name)
    return "\n".join(lines)
