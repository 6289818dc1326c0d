"""Settings of the dialogue service (understanding, skills, memory, the home)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import setting


@dataclass(frozen=True)
class DialogueSettings:
    """What Samantha understands and about which home."""

    sentences_dir: str = setting("/etc/samantha/sentences", "folder of custom sentences (Home Assistant's custom-sentence YAML)")
    areas: list[str] = setting([], "the home's areas (rooms), until the hub provides them")
    floors: list[str] = setting([], "the home's floors, until the hub provides them")
    entities: list[dict] = setting([], "the home's entities, until the hub provides them: {entity_id, name, domain, area, aliases}")
    home_command_timeout_s: float = setting(5.0, "how long to wait for the hub to carry out a command", minimum=0.5, maximum=30.0)
