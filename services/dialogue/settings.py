"""Settings of the dialogue service (understanding, skills, memory, the home)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import setting, zero_to_one


def _timezone(value: str) -> str | None:
    if not value:
        return None
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)
    except Exception:  # ZoneInfoNotFoundError, ValueError for odd strings
        return "must be a time zone name such as 'Europe/London', or '' for the system's"
    return None


@dataclass(frozen=True)
class DialogueSettings:
    """What Samantha understands, about which home, and how her skills behave."""

    sentences_dir: str = setting("/etc/samantha/sentences", "folder of custom sentences (Home Assistant's custom-sentence YAML)")
    areas: list[str] = setting([], "the home's areas (rooms), until the hub provides them")
    floors: list[str] = setting([], "the home's floors, until the hub provides them")
    entities: list[dict] = setting([], "the home's entities, until the hub provides them: {entity_id, name, domain, area, aliases}")
    home_command_timeout_s: float = setting(5.0, "how long to wait for the hub to carry out a command", minimum=0.5, maximum=30.0)
    min_confidence: float = setting(0.5, "below this confidence a transcript counts as not understood", check=zero_to_one)
    timezone: str = setting("", "time zone for the time, date and alarms ('' = the system's)", check=_timezone)
    max_timer_s: float = setting(86400.0, "longest timer anyone can set (24 h)", minimum=60.0, maximum=7 * 86400.0)
    max_timers: int = setting(20, "how many timers may run at once", minimum=1, maximum=100)
    ring_interval_s: float = setting(2.0, "a ringing timer or alarm chimes this often", minimum=0.5, maximum=30.0)
    ring_max_s: float = setting(900.0, "a ringing timer or alarm gives up after this long (15 min)", minimum=10.0, maximum=3600.0)
    volume_step: int = setting(10, "how much 'louder' and 'quieter' change the volume", minimum=1, maximum=50)
    follow_up_context_s: float = setting(120.0, "how long 'and the bedroom too' or 'cancel that' refer to the last request", minimum=5.0, maximum=3600.0)
    memory_match_min: float = setting(60.0, "how closely a question must match a remembered fact (0-100)", minimum=0.0, maximum=100.0)
