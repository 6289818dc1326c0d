"""Settings of the listener service (wake word, end of speech, speech-to-text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import setting, zero_to_one

KNOWN_WAKE_WORDS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")


def wake_word_names(value: list[str]) -> str | None:
    """None when every name is one of the wake words openWakeWord ships."""
    if not value:
        return "name at least one wake word"
    unknown = [name for name in value if name not in KNOWN_WAKE_WORDS]
    if unknown:
        return f"unknown wake word {unknown[0]!r}; the wake words are {', '.join(KNOWN_WAKE_WORDS)}"
    return None


@dataclass(frozen=True)
class ListenerSettings:
    """How Samantha hears."""

    wake_words: list[str] = setting(
        ["hey_jarvis"], "wake words: any of alexa, hey_jarvis, hey_mycroft, hey_rhasspy", check=wake_word_names)
    threshold: float = setting(0.5, "wake-word score that counts as a detection", check=zero_to_one)
    wake_verify: bool = setting(
        True, "confirm wake-word candidates with Whisper (the speech-to-text model, no second copy): "
        "openWakeWord proposes at wake_candidate_threshold, Whisper must hear the wake phrase; "
        "better in noise, no more false accepts; a candidate below threshold is confirmed about 0.5 s later "
        "(the request audio is kept). Needs stt = whisper (or auto without Vosk)")
    wake_candidate_threshold: float = setting(
        0.1, "with wake_verify: wake-word score that makes a candidate for the verifier", check=zero_to_one)
    # Off by default: openWakeWord is at its surest on "Jarvis" said in passing ("Jarvis Cocker was
    # the singer of Pulp" scores 0.94-0.99 as Piper reads it), which only Whisper tells apart; the
    # request's audio is kept while Whisper listens, so what it costs is the wake sound about half a
    # second later (bench/wake.py: the score that passes without verification).
    wake_direct_pass: bool = setting(
        False, "with wake_verify: a score at or above threshold counts without verification (the wake "
        "sound comes ~0.5 s sooner, but the model's confident mistakes, 'Jarvis' said in passing, wake her)")
    stt: Literal["auto", "whisper", "vosk"] = setting(
        "auto", "speech-to-text: auto = Vosk if an English Vosk model is installed, else Whisper")
    vosk_model: str = setting(
        "", "folder of the Vosk model ('' = the one `samantha models pull vosk-en` installed)")
    vosk_grammar: bool = setting(
        True, "limit Vosk to the phrases the dialogue model knows (more accurate for commands; "
        "off = free recognition, for free-form speech such as reminders)")
    whisper_model: str = setting(
        "", "folder of a CTranslate2 Whisper model ('' = tiny.en with the decoder tuned to Samantha's commands, "
        "which script/setup builds)")
    trailing_silence_s: float = setting(0.6, "silence that ends a request", minimum=0.2, maximum=3.0)
    max_utterance_s: float = setting(12.0, "longest request", minimum=2.0, maximum=60.0)
    no_speech_timeout_s: float = setting(
        5.0, "give up when nothing is said this long after the wake word", minimum=1.0, maximum=30.0)
    follow_up_s: float = setting(
        6.0, "how long to wait for an answer after the device asks a question", minimum=1.0, maximum=30.0)
    speech_threshold: float = setting(
        0.5, "voice-activity score (Silero VAD) above which a frame counts as speech", check=zero_to_one)
    speaking_tail_s: float = setting(
        0.6, "after the device stops speaking, keep ignoring the wake word this long (room echo)",
        minimum=0.0, maximum=5.0)
    mic_retry_s: float = setting(
        3.0, "when the microphone fails, try to open it again this often", minimum=0.5, maximum=60.0)
