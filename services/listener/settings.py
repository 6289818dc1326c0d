"""Settings of the listener service (wake word, end of speech, speech-to-text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import setting, zero_to_one


@dataclass(frozen=True)
class ListenerSettings:
    """How Samantha hears."""

    wake_words: list[str] = setting(["hey_jarvis"], "wake words: any of alexa, hey_jarvis, hey_mycroft, hey_rhasspy")
    threshold: float = setting(0.5, "wake-word score that counts as a detection", check=zero_to_one)
    stt: Literal["auto", "whisper", "vosk"] = setting("auto", "speech-to-text: auto = Vosk if an English Vosk model is installed, else Whisper")
    vosk_model: str = setting("", "folder of the Vosk model ('' = the one `samantha models pull vosk-en` installed)")
    trailing_silence_s: float = setting(0.6, "silence that ends a request", minimum=0.2, maximum=3.0)
    max_utterance_s: float = setting(12.0, "longest request", minimum=2.0, maximum=60.0)
    no_speech_timeout_s: float = setting(5.0, "give up when nothing is said this long after the wake word", minimum=1.0, maximum=30.0)
    follow_up_s: float = setting(6.0, "how long to wait for an answer after the device asks a question", minimum=1.0, maximum=30.0)
