"""Spoken accuracy: Home Assistant's test sentences, spoken and heard, through to the right action.

    .venv/bin/python bench/spoken.py                     # the default design (see --design)
    .venv/bin/python bench/spoken.py --sample 120        # a quick stratified run
    .venv/bin/python bench/spoken.py --voices piper-joe,espeak-us-m3 --snr clean,6dB --workers 2

Each sentence of ../shared/data/ha-intents-tests/en (SAMANTHA_HA_TESTS overrides) is spoken by a
synthetic voice, padded with 0.5-1 s of silence, mixed with household noise (music, running water,
babble) at 15, 9 or 6 dB SNR or left clean, and then heard by:

- samantha: the listener's real pipeline in-process (Silero VAD endpointing, Whisper tiny.en with
  the dialogue model's phrases as vocabulary, its beam's several readings and the nearest command
  of the dialogue model's command grammar, exactly as the listener service uses them), then the
  real dialogue model choosing between those readings, never asking back, with the tests' home
  (_fixtures.yaml) as the user's entities;
- samantha+spoken: as the dialogue service acts on the same transcript: normalize_transcript with
  the device's vocabulary, the reading chosen with the grammar's bonus for exact commands, then
  heard_clearly (ask instead of act when services/spoken/confidence.py's act-or-ask model, which
  weighs how sure Whisper was, how close a reading meaning something else came, whether the words
  are an exact command or matched a template, and words unknown to the device, finds the chance of
  being right under two in three);
- baseline: plain Whisper tiny.en (int8, beam 1, no prompt) on the whole clip, then hassil exact
  template matching with the same installed templates and home.

A command is *right* when the intent and every slot are right; a *wrong action* is an intent
returned (acted on) that is wrong or carries a wrong slot. Sentences are only spoken and measured,
never trained on. Audio and transcripts are cached (bench/spoken_corpus.py: SAMANTHA_BENCH_CACHE,
default ~/.cache/samantha-bench) keyed by content hash: a re-run after a dialogue-model change only
re-scores; a listener change (its source files or its prompt) transcribes again.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import json
import multiprocessing
import os
import platform
import resource
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.spoken_corpus import (  # noqa: E402
    CONDITIONS, VOICES, Clip, cache_dir, mixed_audio, stratified_order)
from bench.understand import DEFAULT_TESTS, fixture_home, load_tests, slots_match  # noqa: E402

LISTENER_SOURCES = ("stt.py", "grammar_decoding.py", "pipeline.py", "vad.py", "vocabulary.py", "noise.py")
GRAMMAR_SOURCES = ("command_grammar.py", "dialogue/nlu/grammar.py")
BASELINE_KEY = "whisper-tiny.en-int8-beam1-noprompt-v1"
PROGRESS_EVERY_S = 30.0
CHAINS = ("samantha", "samantha+spoken", "baseline")


# --- the worker: hears clips (one process per core; each loads its models once) ----------------

_WORKER: dict[str, Any] = {}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_init(phrases: list[str], grammar: str, threads: int, whisper_model: str | None = None) -> None:
    # The listener sizes Whisper's thread pool to the machine; with one worker per core each must
    # keep to its share, or the workers fight over the cores.
    os.cpu_count = lambda: threads  # type: ignore[assignment]
    from faster_whisper import WhisperModel

    from services.listener.stt import WhisperSpeechToText, plain_whisper_model
    from services.listener.vad import VoiceActivityDetector

    started = time.perf_counter()
    stt = WhisperSpeechToText(whisper_model)
    stt.set_phrases(phrases)
    if grammar:
        from services.command_grammar import CommandGrammar

        stt.set_command_grammar(CommandGrammar.from_text(grammar))
    _WORKER.update(stt=stt, vad=VoiceActivityDetector(), load_s=time.perf_counter() - started)
    _WORKER["listener_rss_mb"] = _rss_mb()
    _WORKER["baseline"] = WhisperModel(str(plain_whisper_model()), device="cpu", compute_type="int8",
                                       cpu_threads=threads)


def _hear_with_listener(samples) -> dict[str, Any]:
    """The listener's pipeline on one clip, as the service runs it after the wake word."""
    from services.listener.audio_file import frames
    from services.listener.pipeline import ListeningPipeline, ListeningStopped
    from services.listener.settings import ListenerSettings
    from services.listener.vad import EndpointerSettings

    listener = ListenerSettings()
    endpoints = EndpointerSettings(listener.trailing_silence_s, listener.max_utterance_s,
                                   listener.no_speech_timeout_s, listener.speech_threshold)
    pipeline = ListeningPipeline(None, _WORKER["vad"], _WORKER["stt"], endpoints)
    started = time.perf_counter()
    cpu_started = time.process_time()
    pipeline.listen_now("command")
    stopped = None
    for frame in frames(samples):
        stopped = next((e for e in pipeline.process(frame) if isinstance(e, ListeningStopped)), None)
        if stopped is not None:
            break
    if stopped is None:
        stopped = pipeline.end_of_input()
    ended = time.perf_counter()
    if stopped is None or stopped.transcript is None:
        return {"text": "", "reason": stopped.reason if stopped else "none", "final_ms": 0.0,
                "total_ms": (ended - started) * 1000, "cpu_ms": (time.process_time() - cpu_started) * 1000}
    transcript = stopped.transcript.result()
    return {"text": transcript.text, "reason": stopped.reason, "confidence": round(transcript.confidence, 3),
            "alternatives": [[reading.text, round(reading.confidence, 3)] for reading in transcript.alternatives],
            "grammar_reading": transcript.grammar_reading,
            "final_ms": (time.perf_counter() - ended) * 1000, "total_ms": (time.perf_counter() - started) * 1000,
            "cpu_ms": (time.process_time() - cpu_started) * 1000}


def _hear_plain(samples) -> dict[str, Any]:
    """Plain Whisper tiny.en on the whole clip: no VAD, no prompt."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    segments, _ = _WORKER["baseline"].transcribe(
        samples.astype("float32") / 32768.0, language="en", beam_size=1, temperature=0.0,
        without_timestamps=True, vad_filter=False, condition_on_previous_text=False)
    text = " ".join(s.text.strip() for s in segments).strip()
    return {"text": text, "total_ms": (time.perf_counter() - started) * 1000,
            "cpu_ms": (time.process_time() - cpu_started) * 1000}


def _worker_hear(job: tuple[Clip, bool, bool]) -> tuple[Clip, dict | None, dict | None, float, float]:
    clip, need_ours, need_base = job
    samples = mixed_audio(clip)
    ours = _hear_with_listener(samples) if need_ours else None
    base = _hear_plain(samples) if need_base else None
    return clip, ours, base, _WORKER["listener_rss_mb"], _rss_mb()


def progress(done: int, total: int, started: float) -> str:
    """How far a hearing run is: clips done, rate, time left."""
    rate = done / (time.perf_counter() - started)
    return f"  {done}/{total} clips, {rate:.2f}/s, ~{(total - done) / rate / 60:.0f} min left"


# --- the transcript cache -------------------------------------------------------------------------


class TranscriptCache:
    """What each chain heard in each clip, in SQLite under the bench cache."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=120)  # another run may be writing
        self._db.execute("CREATE TABLE IF NOT EXISTS heard (chain TEXT, clip TEXT, result TEXT, "
                         "PRIMARY KEY (chain, clip))")

    def get(self, chain: str, clip: Clip) -> dict | None:
        row = self._db.execute("SELECT result FROM heard WHERE chain=? AND clip=?", (chain, clip.key())).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, chain: str, clip: Clip, result: dict) -> None:
        self._db.execute("INSERT OR REPLACE INTO heard VALUES (?, ?, ?)", (chain, clip.key(), json.dumps(result)))

    def commit(self) -> None:
        self._db.commit()


def listener_key(phrases: list[str], grammar: str, whisper_model: str | None = None) -> str:
    """Changes whenever what the listener would hear could change: its code, its prompt, its model."""
    from services.listener.vocabulary import whisper_prompt

    digest = hashlib.sha256(whisper_prompt(phrases).encode())
    digest.update(hashlib.sha256(grammar.encode()).digest())
    for name in GRAMMAR_SOURCES:
        digest.update((REPO / "services" / name).read_bytes())
    if whisper_model:
        digest.update(str(Path(whisper_model).resolve()).encode())
    else:  # the default: tiny.en with the tuned decoder, named by its sha256 in the manifest
        from services.listener.tuned_whisper import expected_sha256

        digest.update(expected_sha256().encode())
    for name in LISTENER_SOURCES:
        digest.update((REPO / "services" / "listener" / name).read_bytes())
    return "listener-" + digest.hexdigest()[:20]


# --- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One clip to score: the test case it speaks and the clip."""

    case: int
    clip: Clip


def plan(cases: list, indices: list[int], voices: list[str], conditions: list[str], design: str) -> list[Item]:
    """The clips of a run.

    full: every sentence x every voice x every condition.
    rotate: every sentence in every condition, the voice rotating so that across the conditions
    each sentence is also spoken once by each voice (a Latin square when there are as many voices
    as conditions).
    """
    items = []
    for case in indices:
        text = cases[case][0]
        for c_index, condition in enumerate(conditions):
            if design == "full":
                chosen = voices
            else:
                chosen = [voices[(case + c_index) % len(voices)]]
            for voice in chosen:
                seed = int(hashlib.sha256(f"{case}|{voice}|{condition}".encode()).hexdigest()[:8], 16)
                items.append(Item(case, Clip(text, voice, condition, seed)))
    return items


# --- scoring ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    right: bool
    wrong_action: bool
    intent: str | None
    slots: dict[str, Any]
    asked: bool = False  # read back instead of acted on ("Did you mean: ...?")
    asked_right: bool = False  # ... and what she read back was right: a "yes" carries it out


def judge(intent: str | None, slots: dict[str, Any], expected_intent: str, expected_slots: dict) -> Outcome:
    """Right: intent and all slots; a wrong action: an intent acted on that is wrong or has a wrong slot."""
    right = intent == expected_intent and slots_match(_folded(slots), _folded(expected_slots))
    return Outcome(right, intent is not None and not right, intent, slots)


def _folded(slots: dict[str, Any]) -> dict[str, Any]:
    # Speech has no letter case: "play the office" names the show "The Office" as well as a
    # transcript can. Names of things in the home are canonical values already, so this only
    # matters for free text (search queries, messages, list items).
    def fold(value: Any) -> Any:
        if isinstance(value, str):
            return value.casefold()
        if isinstance(value, list):
            return [fold(v) for v in value]
        return value

    return {name: fold(value) for name, value in slots.items()}


def home_names(home) -> list[str]:
    """Every name in the home: entities, their aliases, areas and floors."""
    names = []
    for entity in home.entities:
        names += [entity.name, *entity.aliases]
    for place in [*home.areas, *home.floors]:
        names += [place.name, *place.aliases]
    return names


def reads_back(pick, clear: bool) -> bool:
    """Whether the device asks "Did you mean ...?" instead of acting, as the dialogue service and
    its conversation decide: an understood request heard_clearly does not trust (``clear``), unless
    stop or never mind."""
    from services.dialogue.conversation import UNCHECKED_INTENTS

    intent = pick.understanding.intent
    return intent is not None and intent not in UNCHECKED_INTENTS and not clear


def listener_readings(ours: dict) -> list[tuple[str, float]]:
    """The listener's readings of a clip (cached transcript), likeliest first, as (text, confidence)."""
    return [(ours["text"], ours.get("confidence", 0.0)), *ours.get("alternatives", [])]


def spoken_readings(ours: dict, vocabulary) -> list:
    """The readings as the dialogue service takes them from a transcript: cleaned up, normalised,
    the one the grammar wrote marked (services/dialogue/service.py, DialogueService._readings)."""
    from services.dialogue.readings import cleaned_readings
    from services.spoken import normalize_transcript

    return cleaned_readings(listener_readings(ours), lambda text: normalize_transcript(text, vocabulary),
                            ours.get("grammar_reading", ""))


def score_all(items: list[Item], cases: list, heard: dict, model, ha_intents, home, grammar,
              dialogue_ms: list[tuple[float, int]] | None = None) -> dict:
    """Outcomes per chain per item; in ``dialogue_ms``, per item, the CPU time of the dialogue's side
    of samantha+spoken (what the dialogue service does with a transcript) and its number of readings."""
    from hassil import recognize_best

    from services.dialogue.conversation import lacks_value
    from services.dialogue.readings import Reading, understand_likeliest
    from services.dialogue.service import heard_clearly, spoken_vocabulary

    slot_lists = home.slot_lists()
    # What the device knows, as the dialogue service would hand it over: its phrases and its home's names.
    vocabulary = spoken_vocabulary(model.phrases(), home)
    outcomes: dict[str, list[Outcome]] = {chain: [] for chain in CHAINS}
    for item in items:
        _, intent, expected, context = cases[item.case]
        ours, base = heard[item]
        # The listener's readings of the clip, likeliest first; the dialogue weighs each one's
        # likelihood against what its model understands (services/dialogue/readings.py), as the service does.
        heard_readings = listener_readings(ours)
        def understand(text: str) -> Any:
            return model.understand(text, context)
        result = understand_likeliest([Reading(t, c) for t, c in heard_readings], understand).understanding
        outcomes["samantha"].append(judge(result.intent, result.slots, intent, expected))
        started = time.thread_time()
        normalized = spoken_readings(ours, vocabulary)
        pick = understand_likeliest(normalized or [Reading("", 0.0)], understand, grammar.accepts)
        result = pick.understanding
        clear = heard_clearly(pick, normalized, vocabulary, grammar)
        if dialogue_ms is not None:
            dialogue_ms.append(((time.thread_time() - started) * 1000, len(normalized)))
        if reads_back(pick, clear):
            read_back = judge(result.intent, result.slots, intent, expected)  # ask, do not act
            outcomes["samantha+spoken"].append(dataclasses.replace(
                judge(None, {}, intent, expected), asked=True, asked_right=read_back.right))
        elif lacks_value(result.intent, result.slots):  # "set the bedroom lights": she asks to what
            outcomes["samantha+spoken"].append(dataclasses.replace(judge(None, {}, intent, expected), asked=True))
        else:
            outcomes["samantha+spoken"].append(judge(result.intent, result.slots, intent, expected))
        matched = recognize_best(base["text"], ha_intents, slot_lists=slot_lists, intent_context=context,
                                 best_slot_name="name") if base["text"] else None
        if matched is None:
            outcomes["baseline"].append(judge(None, {}, intent, expected))
        else:
            slots = {e.name: e.value for e in matched.entities.values()}
            outcomes["baseline"].append(judge(matched.intent.name, slots, intent, expected))
    return outcomes


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}" if whole else "   - "


def report(items: list[Item], outcomes: dict, voices: list[str], conditions: list[str]) -> list[str]:
    """Tables: per condition (rows) and voice (columns), right % / wrong-action %, per chain."""
    lines = []
    for chain in CHAINS:
        lines.append(f"\n[{chain}]  right % / wrong actions %  (n = clips)")
        lines.append(f"{'':8s}" + "".join(f"{v:>22s}" for v in voices) + f"{'all voices':>22s}")
        for condition in [*conditions, "all"]:
            row = f"{condition:8s}"
            for voice in [*voices, "all"]:
                picked = [o for item, o in zip(items, outcomes[chain])
                          if (voice == "all" or item.clip.voice == voice)
                          and (condition == "all" or item.clip.condition == condition)]
                n = len(picked)
                right = sum(o.right for o in picked)
                wrong = sum(o.wrong_action for o in picked)
                row += f"{_pct(right, n)} / {_pct(wrong, n)} ({n:4d})"
            lines.append(row)
        if any(o.asked for o in outcomes[chain]):
            lines.append("asked back (\"Did you mean: ...?\"), % of clips: all asked / of them read back right, "
                         "so that a \"yes\" carries it out")
            for condition in [*conditions, "all"]:
                picked = [o for item, o in zip(items, outcomes[chain])
                          if condition == "all" or item.clip.condition == condition]
                asked = sum(o.asked for o in picked)
                lines.append(f"{condition:8s}{_pct(asked, len(picked))} / {_pct(sum(o.asked_right for o in picked), len(picked))}")
    return lines


def _words(text: str) -> list[str]:
    from services.spoken import normalize_transcript

    return normalize_transcript(text).split()


def error_source(said: str, heard: str, names: set[str]) -> str:
    """Where a failure comes from: understanding (heard right) or which kind of recognition error."""
    import difflib

    from services.spoken.normalize import _TENS, _UNITS

    said_words, heard_words = _words(said), _words(heard)
    if not heard_words:
        return "recognition: nothing heard"
    if said_words == heard_words:
        return "understanding (heard right)"
    changed: list[str] = []
    missed: list[str] = []  # words said but not heard as said
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=said_words, b=heard_words).get_opcodes():
        if tag != "equal":
            changed += said_words[i1:i2] + heard_words[j1:j2]
            missed += said_words[i1:i2]
    if any(w[0].isdigit() or w in _UNITS or w in _TENS for w in changed):
        return "recognition: numbers"
    in_names = [w for w in missed if w in names]
    if missed and len(in_names) == len(missed):
        return "recognition: names only (entity/area/floor)"
    if in_names:
        return "recognition: names and command words"
    return "recognition: command words only"


def error_sources(items, cases, heard, outcomes, home, chain: str = "samantha", examples: int = 3) -> list[str]:
    """Failures of a chain counted by source, with a few examples of each."""
    names = {w for name in home_names(home) for w in _words(name)} - {"the", "my", "a", "of", "and"}
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    shown: dict[str, list[str]] = collections.defaultdict(list)
    failures = 0
    for item, outcome in zip(items, outcomes[chain]):
        if outcome.right:
            continue
        failures += 1
        said = cases[item.case][0]
        text = heard[item][0 if chain != "baseline" else 1]["text"]
        source = error_source(said, text, names)
        counts[source][0] += 1
        counts[source][1] += outcome.wrong_action
        if len(shown[source]) < examples:
            shown[source].append(f"      said {said!r} heard {text!r} -> {outcome.intent} {outcome.slots}"
                                 f"{'  [WRONG ACTION]' if outcome.wrong_action else ''}")
    lines = [f"where the {failures} failures of [{chain}] come from (failures / of them wrong actions):"]
    for source, (count, wrong) in sorted(counts.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"  {source:42s} {count:5d} / {wrong:5d}")
        lines += shown[source]
    return lines


def error_examples(items, cases, heard, outcomes, limit: int) -> list[str]:
    """Failing clips of our chain, with what was heard and understood."""
    lines = []
    for item, outcome in zip(items, outcomes["samantha"]):
        if outcome.right:
            continue
        sentence, intent, expected, _ = cases[item.case]
        tag = "WRONG ACTION" if outcome.wrong_action else "not understood"
        lines.append(f"{tag:14s} {item.clip.voice}/{item.clip.condition}/{item.clip.noise}: said {sentence!r} "
                     f"heard {heard[item][0]['text']!r} -> {outcome.intent} {outcome.slots} "
                     f"(want {intent} {expected})")
        if len(lines) >= limit:
            break
    return lines


# --- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=Path, default=Path(os.environ.get("SAMANTHA_HA_TESTS", DEFAULT_TESTS)))
    parser.add_argument("--sample", type=int, default=0, help="N sentences, stratified by intent (0 = all)")
    parser.add_argument("--voices", default=",".join(VOICES), help=f"comma-separated, of {', '.join(VOICES)}")
    parser.add_argument("--snr", default=",".join(CONDITIONS), help=f"comma-separated, of {', '.join(CONDITIONS)}")
    parser.add_argument("--design", choices=["rotate", "full"], default="rotate",
                        help="rotate: every sentence in every condition, voices rotating (default); "
                             "full: every sentence x voice x condition")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="hearing processes")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N failing clips")
    parser.add_argument("--listener-key", help="score only the clips whose transcripts are cached under this "
                        "key (printed by every run; the listener code may have changed since): nothing is heard")
    parser.add_argument("--whisper-model", help="the listener's Whisper model folder, as [listener] whisper_model "
                        "(default: the one the listener loads); the baseline stays plain Whisper tiny.en")
    parser.add_argument("--no-grammar", action="store_true",
                        help="the listener without the dialogue model's command grammar (Whisper's readings only)")
    parser.add_argument("--errors-file", type=Path, help="write every clip's outcome as JSON lines here")
    args = parser.parse_args(argv)

    voices = [v for v in args.voices.split(",") if v]
    conditions = [c for c in args.snr.split(",") if c]
    for name in voices:
        if name not in VOICES:
            parser.error(f"unknown voice {name!r}; voices: {', '.join(VOICES)}")
    for name in conditions:
        if name not in CONDITIONS:
            parser.error(f"unknown condition {name!r}; conditions: {', '.join(CONDITIONS)}")

    from hassil import Intents

    from services.dialogue.nlu import DialogueModel
    from services.dialogue.nlu.heard import HEARD_FILE, heard_file_digest
    from services.dialogue.nlu.sentences import load_ha_templates
    from services.spoken.confidence import ACT_CHANCE

    cases = load_tests(args.tests)
    # In stratified order: the clips are heard in that order, so a run cut short has heard a
    # stratified sample, which --sample N then scores alone from the cache.
    indices = stratified_order(cases)[:args.sample or len(cases)]
    items = plan(cases, indices, voices, conditions, args.design)
    home = fixture_home(args.tests)
    cache = cache_dir()
    started = time.perf_counter()
    model = DialogueModel.load(cache / "state", None, home)
    model_load_s = time.perf_counter() - started
    phrases = model.phrases()
    # The dialogue's, whatever the listener is given; built as the service builds it, so that the
    # model keeps it too (it tells the model where templates can match).
    grammar = model.grammar_text()
    listener_grammar = "" if args.no_grammar else grammar
    ours_key = args.listener_key or listener_key(phrases, listener_grammar, args.whisper_model)
    store = TranscriptCache(cache / "transcripts.sqlite")

    heard: dict[Item, list] = {}
    jobs = []
    for item in items:
        ours, base = store.get(ours_key, item.clip), store.get(BASELINE_KEY, item.clip)
        heard[item] = [ours, base]
        if ours is None or base is None:
            jobs.append((item.clip, ours is None, base is None))
    planned = len(items)
    if args.listener_key:
        # Transcripts of older listener code cannot be made any more: score what was heard then.
        items = [item for item in items if None not in heard[item]]
        jobs = []
    by_clip = collections.defaultdict(list)
    for item in items:
        by_clip[item.clip].append(item)

    workers = max(1, min(args.workers, len(jobs)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    listener_rss = worker_rss = 0.0
    hear_started = time.perf_counter()
    if jobs:
        print(f"hearing {len(jobs)} of {len(items)} clips with {workers} worker(s) x {threads} thread(s)...",
              file=sys.stderr, flush=True)
        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, _worker_init, (phrases, listener_grammar, threads, args.whisper_model)) as pool:
            last = time.perf_counter()
            for done, (clip, ours, base, l_rss, w_rss) in enumerate(
                    pool.imap_unordered(_worker_hear, jobs, chunksize=2), 1):
                listener_rss, worker_rss = max(listener_rss, l_rss), max(worker_rss, w_rss)
                if ours is not None:
                    store.put(ours_key, clip, ours)
                if base is not None:
                    store.put(BASELINE_KEY, clip, base)
                for item in by_clip[clip]:
                    heard[item][0] = ours or heard[item][0]
                    heard[item][1] = base or heard[item][1]
                if time.perf_counter() - last > PROGRESS_EVERY_S:
                    store.commit()
                    last = time.perf_counter()
                    print(progress(done, len(jobs), hear_started), file=sys.stderr, flush=True)
        store.commit()
    hear_s = time.perf_counter() - hear_started

    score_started = time.perf_counter()
    ha_intents = Intents.from_dict(load_ha_templates("en"))
    from services.command_grammar import CommandGrammar

    dialogue_ms: list[tuple[float, int]] = []
    outcomes = score_all(items, cases, heard, model, ha_intents, home, CommandGrammar.from_text(grammar),
                         dialogue_ms)
    score_s = time.perf_counter() - score_started

    final_ms = [heard[i][0]["final_ms"] for i in items if "final_ms" in heard[i][0]]
    ours_ms = [heard[i][0]["total_ms"] for i in items]
    base_ms = [heard[i][1]["total_ms"] for i in items]
    print(f"Spoken accuracy: Home Assistant intent tests (en), {len(indices)} of {len(cases)} sentences, "
          f"{len(items)} clips" + (f" (of {planned} planned: the ones heard under {ours_key})"
                                   if len(items) < planned else ""))
    print(f"design: {args.design} — " + (
        "every sentence x every voice x every condition" if args.design == "full" else
        "every sentence in every condition; the voice rotates so each sentence is spoken by each voice once "
        "across the conditions" if len(voices) == len(conditions) else
        "every sentence in every condition, the voice rotating over sentences"))
    print(f"voices: {', '.join(voices)}; conditions: {', '.join(conditions)} "
          f"(noise rotating music / running water / babble, SNR against the speech)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average {os.getloadavg()[0]:.1f}")
    print(f"home-assistant-intents {version('home-assistant-intents')}, hassil {version('hassil')}, "
          f"faster-whisper {version('faster-whisper')}; listener prompt from {len(phrases)} model phrases; "
          f"transcripts {ours_key}")
    print(f"dialogue model trained with the heard sentences of {HEARD_FILE} (sha256 {heard_file_digest()}...)"
          if HEARD_FILE.exists() else "dialogue model trained on its templates alone (no heard sentences)")
    print(f"hearing: {len(jobs)} clips transcribed now ({len(items) - len(jobs)} from cache) in {hear_s / 60:.1f} min "
          f"with {workers} worker(s); scoring {score_s:.0f} s; model load {model_load_s:.1f} s")
    print("samantha = listener pipeline (Silero VAD + Whisper tiny.en, vocabulary prompt) + dialogue model; "
          "samantha+spoken = same + services.spoken: normalize_transcript, and worth_acting_on (ask instead of "
          f"acting when the act-or-ask model's chance of being right is under {ACT_CHANCE:.2f}; questions too, "
          "only stop and never mind are done unchecked, as the dialogue service does); "
          "baseline = plain Whisper tiny.en + hassil exact templates")
    for line in report(items, outcomes, voices, conditions):
        print(line)
    print()
    if final_ms:
        print(f"transcription (faster than real time, so the end-of-speech guess rarely finishes early): "
              f"listener p50 {statistics.median(ours_ms):.0f} ms per clip, wait after end of audio p50 "
              f"{statistics.median(final_ms):.0f} ms; plain Whisper p50 {statistics.median(base_ms):.0f} ms")
    if dialogue_ms:
        # Each reading is understood (a spoken request has up to five, and the grammar's), so a heard
        # request costs the dialogue more than one sentence does (bench/understand.py, bench/dialogue.py).
        spent = sorted(ms for ms, _ in dialogue_ms)
        print(f"the dialogue's side of a heard request (its readings cleaned up, each understood, the pick, act "
              f"or ask), CPU time: median {statistics.median(spent):.1f} ms, p95 "
              f"{spent[int(0.95 * (len(spent) - 1))]:.1f} ms; {statistics.mean(n for _, n in dialogue_ms):.1f} "
              f"readings a request on average")
    cpu = [heard[i][0]["cpu_ms"] + heard[i][1]["cpu_ms"] for i in items if "cpu_ms" in heard[i][0]
           and "cpu_ms" in heard[i][1]]
    if cpu:
        per_clip_s = statistics.mean(cpu) / 1000
        cores = os.cpu_count() or 1
        full = len(indices) * len(VOICES) * len(CONDITIONS)
        print(f"CPU per clip (both chains): mean {per_clip_s:.2f} s -> this design ({len(items)} clips) needs "
              f"~{len(items) * per_clip_s / cores / 60:.0f} min of {cores} idle cores, the full cross product "
              f"({full} clips) ~{full * per_clip_s / cores / 60:.0f} min (plus synthesis on a cold cache)")
    if listener_rss:
        print(f"max RSS: hearing worker {listener_rss:.0f} MB with the listener's models "
              f"({worker_rss:.0f} MB with the baseline's Whisper too); "
              f"this process (dialogue model + hassil) {_rss_mb():.0f} MB")
    else:
        print(f"max RSS: this process (dialogue model + hassil) {_rss_mb():.0f} MB (all transcripts from cache)")
    print()
    for line in error_sources(items, cases, heard, outcomes, home):
        print(line)
    if args.show_errors:
        print()
        for line in error_examples(items, cases, heard, outcomes, args.show_errors):
            print(line)
    if args.errors_file:
        with args.errors_file.open("w", encoding="utf-8") as out:
            for n, item in enumerate(items):
                sentence, intent, expected, context = cases[item.case]
                record = {"said": sentence, "intent": intent, "slots": expected, "context": context,
                          "voice": item.clip.voice, "condition": item.clip.condition, "noise": item.clip.noise,
                          "heard": heard[item][0]["text"], "baseline_heard": heard[item][1]["text"]}
                for chain in CHAINS:
                    o = outcomes[chain][n]
                    record[chain] = {"right": o.right, "wrong_action": o.wrong_action, "intent": o.intent,
                                     "slots": o.slots, "asked": o.asked, "asked_right": o.asked_right}
                out.write(json.dumps(record, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
