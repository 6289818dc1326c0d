"""Calibrate when to ask instead of act, on the device's OWN phrases spoken and heard (never the tests).

    .venv/bin/python bench/spoken_calibrate.py [--phrases 240] [--workers 1]

Phrases are sampled from the dialogue model's own phrases (its training templates with the home's
names, as the listener's vocabulary gets them; the home is the tests' fixture home, which is the
user's home of the benchmark, not its sentences). Each is spoken by one voice in one condition
(both rotating), heard by the listener's pipeline, and understood; the reference is what the model
makes of the phrase as written. For each minimum Whisper confidence it prints the share of clips
acted on rightly and wrongly, and the lowest threshold that keeps wrong actions at or below 1 %;
then the same with the dialogue model's own confidence when no template matched (the neural
model's guesses; one minimum when every word is known, one when some are not), choosing the most
right actions with no more wrong ones than without it.

    .venv/bin/python bench/spoken_calibrate.py --listener-key listener-6918ccbc4454857a41fc  # cached only
    .venv/bin/python bench/spoken_calibrate.py --heard    # the clips held out of models/heard-sentences.jsonl
    .venv/bin/python bench/spoken_calibrate.py --grammar-margin   # the listener's GRAMMAR_MARGIN
    .venv/bin/python bench/spoken_calibrate.py --command-bonus    # the dialogue's COMMAND_BONUS
    .venv/bin/python bench/spoken_calibrate.py --noise    # the listener's noise SUPPRESSION_LEVEL
    .venv/bin/python bench/spoken_calibrate.py --rival-margin   # MIN_RIVAL_MARGIN (services/spoken)

--grammar-margin hears the same own-phrase clips with the listener's Whisper and, where its first
reading is no command, takes the command nearest to it that Whisper scores best (how much less likely
than the first reading it found it); per margin it prints how many of those it would add, and how
many mean what was said (the model's understanding of them equals its understanding of the phrase).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.spoken import (  # noqa: E402
    TranscriptCache, _folded, _worker_hear, _worker_init, doubted, listener_key, reads_back)
from bench.spoken_corpus import CONDITIONS, VOICES, Clip, cache_dir  # noqa: E402
from bench.understand import DEFAULT_TESTS, fixture_home  # noqa: E402
from services.dialogue.nlu.heard import SHIPPED_HEARD_FILE, sample_home  # noqa: E402

THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 17)]
MODEL_THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(0, 10)]  # the model never acts below 0.5
NEVER = 1.01  # a model-confidence minimum no guess reaches
WRONG_ACTIONS_MAX = 0.01
# When the 1 % bar costs nearly every right action, the threshold that weighs a wrong action as
# two missed commands (a wrong light off is worse than "sorry, say that again").
WRONG_ACTION_COST = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=240)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--listener-key", help="score the clips cached under this listener key; hear nothing")
    parser.add_argument("--heard", nargs="?", type=Path, const=SHIPPED_HEARD_FILE, metavar="FILE",
                        help="calibrate on the clips held out of the heard training sentences (other voices "
                             "and noise than the bench's; default models/heard-sentences.jsonl): nothing is heard")
    parser.add_argument("--all", action="store_true", help="with --heard: every clip of the file, not only the "
                        "held-out ones (fair while the model does not learn from it, the default)")
    parser.add_argument("--command-bonus", action="store_true",
                        help="calibrate the dialogue's COMMAND_BONUS on the own-phrase clips, the whole chain as "
                             "the service runs it (readings, normalisation, act or ask)")
    parser.add_argument("--noise", action="store_true",
                        help="the listener's noise SUPPRESSION_LEVEL: the own-phrase clips heard anew at "
                             "every level (0 = off)")
    parser.add_argument("--grammar-margin", action="store_true",
                        help="calibrate the listener's GRAMMAR_MARGIN on the own-phrase clips (heard anew)")
    parser.add_argument("--rival-margin", action="store_true",
                        help="calibrate MIN_RIVAL_MARGIN (ask when another reading means something else and "
                             "scores nearly as well) on the own-phrase clips, the whole chain")
    args = parser.parse_args(argv)

    from services.dialogue.nlu import DialogueModel

    if args.heard:
        home = sample_home()
        model = DialogueModel.load(cache_dir() / "state", None, home)
        heard = held_out_clips(args.heard, everything=args.all)
        source = f"{'of' if args.all else 'held out of'} {args.heard.name}"
    else:
        home = fixture_home(Path(os.environ.get("SAMANTHA_HA_TESTS", DEFAULT_TESTS)))
        model = DialogueModel.load(cache_dir() / "state", None, home)
        if args.grammar_margin:
            return calibrate_grammar_margin(model, args)
        if args.command_bonus:
            return calibrate_command_bonus(model, home, args)
        if args.noise:
            return calibrate_noise(model, home, args)
        if args.rival_margin:
            return calibrate_rival_margin(model, home, args)
        heard, source = spoken_clips(model, args), "of the model's own phrases, voices and conditions rotating"
    outcomes = score(model, home, heard)
    print(f"calibration: {len(outcomes)} clips {source}")
    report(outcomes)
    return 0


def held_out_clips(path: Path, everything: bool = False) -> list[tuple[str, str, float]]:
    """(meant, heard, heard confidence) of the heard-sentences file's held-out clips (or all)."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    return [(r["meant"], r["heard"], r["heard_confidence"]) for r in records if everything or r.get("held_out")]


def own_phrase_clips(model, count: int) -> list[Clip]:
    """The model's own phrases (that it understands as written), voices and conditions rotating."""
    phrases = model.phrases()
    chosen = random.Random(29).sample(phrases, min(count, len(phrases)))
    understood = [phrase for phrase in chosen if model.understand(phrase).intent is not None]
    voices, conditions = list(VOICES), list(CONDITIONS)
    clips = []
    for index, phrase in enumerate(understood):
        seed = int(hashlib.sha256(f"calibrate|{phrase}".encode()).hexdigest()[:8], 16)
        clips.append(Clip(phrase, voices[index % len(voices)], conditions[(index // len(voices)) % len(conditions)],
                          seed))
    return clips


_GRAMMAR_WORKER: dict = {}


def _grammar_worker_init(phrases: list[str], grammar: str, threads: int) -> None:
    os.cpu_count = lambda: threads  # type: ignore[assignment]
    from services.command_grammar import CommandGrammar
    from services.listener.stt import WhisperSpeechToText

    stt = WhisperSpeechToText()
    stt.set_phrases(phrases)
    _GRAMMAR_WORKER.update(stt=stt, grammar=CommandGrammar.from_text(grammar))


def _grammar_worker_hear(clip: Clip) -> tuple[Clip, list[str], tuple[str, float] | None]:
    from bench.spoken_corpus import mixed_audio

    stt, grammar = _GRAMMAR_WORKER["stt"], _GRAMMAR_WORKER["grammar"]
    audio = mixed_audio(clip)
    stt.set_command_grammar(None)
    readings = stt.readings(audio)  # Whisper's own readings
    stt.set_command_grammar(grammar)
    encoded, frames = stt.encode(audio)
    return clip, [reading.text for reading in readings], stt.grammar_candidate(encoded, frames, readings)


def calibrate_grammar_margin(model, args) -> int:
    """Per margin: the commands the listener would add to Whisper's readings, and how many mean
    what was said; chosen: the most right - 2 x wrong."""
    clips = own_phrase_clips(model, args.phrases)
    phrases, grammar = model.phrases(), model.grammar().to_text()
    print(f"hearing {len(clips)} own-phrase clips...", file=sys.stderr, flush=True)
    found = []
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    with context.Pool(args.workers, _grammar_worker_init, (phrases, grammar, threads)) as pool:
        for clip, readings, candidate in pool.imap_unordered(_grammar_worker_hear, clips, chunksize=2):
            if candidate is None:
                continue
            meant = model.understand(clip.text)
            said = model.understand(candidate[0])
            right = said.intent is not None and _same_meaning(said, meant)
            found.append((candidate[1], right))
    print(f"grammar margin: {len(clips)} clips, a command near the first reading in {len(found)}")
    print(f"{'margin':>8s}{'added':>8s}{'meaning what was said':>24s}{'not':>6s}")
    rows = []
    for margin in [round(0.1 * i, 1) for i in range(0, 21)]:
        added = [right for advantage, right in found if advantage >= -margin]
        right, wrong = sum(added), len(added) - sum(added)
        rows.append((right - WRONG_ACTION_COST * wrong, -margin, right, wrong))
        print(f"{margin:8.1f}{len(added):8d}{right:24d}{wrong:6d}")
    _, margin, right, wrong = max(rows)
    print(f"chosen: GRAMMAR_MARGIN = {-margin} -> {right} commands meaning what was said added, {wrong} not")
    return 0


class _Chain:
    """The dialogue's side as the service runs it: the readings normalised, the likeliest understood
    (commands of the grammar preferred by a bonus), then acted on or asked about."""

    def __init__(self, model, home) -> None:
        from services.dialogue.service import spoken_vocabulary

        self.model = model
        self.vocabulary = spoken_vocabulary(model.phrases(), home)
        self.grammar = model.grammar().compact()

    def readings(self, ours: dict) -> list:
        from services.dialogue.readings import cleaned_readings
        from services.spoken import normalize_transcript

        readings = [(ours["text"], ours.get("confidence", 0.0)), *ours.get("alternatives", [])]
        return cleaned_readings(readings, lambda text: normalize_transcript(text, self.vocabulary))

    def decide(self, readings: list, bonus: float):
        """The reading picked, and whether heard_clearly trusts it leaving its rival aside."""
        from services.dialogue.readings import Reading, understand_likeliest
        from services.dialogue.service import heard_clearly

        pick = understand_likeliest(readings or [Reading("", 0.0)], self.model.understand, self.grammar.accepts, bonus)
        return pick, heard_clearly(pick.understanding, pick.reading.confidence, self.vocabulary, self.grammar)

    def outcome(self, reference, readings: list, bonus: float,
                min_rival_margin: float | None = None) -> tuple[bool, bool]:
        """(acted rightly, acted wrongly); neither when it asks or does nothing."""
        return _acted(reference, *self.decide(readings, bonus), min_rival_margin)


def _acted(reference, pick, clear: bool, min_rival_margin: float | None = None) -> tuple[bool, bool]:
    """(acted rightly, acted wrongly) on a pick heard_clearly trusts (``clear``) unless its rival is
    closer than ``min_rival_margin`` (the shipped MIN_RIVAL_MARGIN when None); as the conversation
    does, "stop" and "never mind" are carried out unchecked."""
    result = pick.understanding
    if result.intent is None or reads_back(pick, clear, min_rival_margin):
        return False, False
    ok = _same_meaning(result, reference)
    return ok, not ok


def _same_meaning(understood, reference) -> bool:
    """The same intent and slots (letter case aside, as the bench judges)."""
    return (understood.intent, _folded(understood.slots)) == (reference.intent, _folded(reference.slots))


def calibrate_command_bonus(model, home, args) -> int:
    """Per bonus: right and wrong actions of the whole chain on the own-phrase clips."""
    chain = _Chain(model, home)
    cases = [(model.understand(clip.text), chain.readings(ours)) for clip, ours in heard_clips(model, args)]
    print(f"command bonus: {len(cases)} clips of the model's own phrases, voices and conditions rotating")
    print(f"{'bonus':>7s}{'right %':>10s}{'wrong actions %':>18s}")
    rows = []
    for bonus in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        outcomes = [chain.outcome(reference, readings, bonus) for reference, readings in cases]
        right, wrong = sum(ok for ok, _ in outcomes), sum(bad for _, bad in outcomes)
        rows.append((right - WRONG_ACTION_COST * wrong, -wrong, -bonus, right, wrong))
        print(f"{bonus:7.2f}{100 * right / len(cases):10.1f}{100 * wrong / len(cases):18.1f}")
    _, _, bonus, right, wrong = max(rows)
    print(f"chosen: COMMAND_BONUS = {-bonus} -> right {100 * right / len(cases):.1f} %, "
          f"wrong actions {100 * wrong / len(cases):.1f} %")
    return 0


def _print_condition_row(label: str, counts: dict[str, list[int]]) -> tuple[int, int]:
    """One row of right / wrong actions per condition and over all; returns the totals."""
    right = sum(r for r, _ in counts.values())
    wrong = sum(w for _, w in counts.values())
    cells = [f"{r:5d} / {w:3d}" for r, w in counts.values()] + [f"{right:5d} / {wrong:3d}"]
    print(label + "".join(f"{cell:>12s}" for cell in cells))
    return right, wrong


RIVAL_MARGINS = (-math.inf, 0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def calibrate_rival_margin(model, home, args) -> int:
    """Per minimum rival margin: right and wrong actions of the whole chain on the own-phrase clips
    (per condition too), and the margin with the most right - 2 x wrong."""
    from services.dialogue.readings import COMMAND_BONUS
    from services.spoken.confidence import MIN_RIVAL_MARGIN

    chain = _Chain(model, home)
    clips = heard_clips(model, args)
    # The pick does not depend on the margin: decided once per clip, then every margin applied.
    cases = [(clip.condition, model.understand(clip.text), *chain.decide(chain.readings(ours), COMMAND_BONUS))
             for clip, ours in clips]
    print(f"rival margin: {len(cases)} clips of the model's own phrases, voices and conditions rotating; "
          "right / wrong actions (-inf: never ask for a rival)")
    print(f"{'margin':>7s}" + "".join(f"{name:>12s}" for name in (*CONDITIONS, "all")))
    rows = []
    for margin in RIVAL_MARGINS:
        counts = {condition: [0, 0] for condition in CONDITIONS}
        for condition, reference, pick, clear in cases:
            right, wrong = _acted(reference, pick, clear, margin)
            counts[condition][0] += right
            counts[condition][1] += wrong
        right, wrong = _print_condition_row(f"{margin:7.2f}", counts)
        rows.append((right - WRONG_ACTION_COST * wrong, -margin, right, wrong))
    _, margin, right, wrong = max(rows)
    print(f"most right - 2 x wrong: MIN_RIVAL_MARGIN = {-margin} (right {right}, wrong actions {wrong} of "
          f"{len(cases)}); services/spoken/confidence.py ships {MIN_RIVAL_MARGIN}")
    report_unclear(cases)
    return 0


def report_unclear(cases: list[tuple]) -> None:
    """Per intent: the requests read back as unclear (at the shipped margin), and how many would have
    been right or wrong had she acted on them anyway: the evidence for which intents may go unchecked
    (services/dialogue/conversation.py: UNCHECKED_INTENTS)."""
    from services.dialogue.conversation import UNCHECKED_INTENTS

    counts: dict[str, list[int]] = {}
    for _, reference, pick, clear in cases:
        result = pick.understanding
        if result.intent is None or not doubted(pick, clear):
            continue
        right = _same_meaning(result, reference)
        counts.setdefault(result.intent, [0, 0])[0 if right else 1] += 1
    print("unclear requests, per intent: right / wrong had she acted anyway"
          f" (unchecked, so acted on: {', '.join(sorted(UNCHECKED_INTENTS))})")
    for intent, (right, wrong) in sorted(counts.items(), key=lambda item: -sum(item[1])):
        print(f"  {intent:32s} {right:4d} / {wrong:4d}")


NOISE_LEVELS = (0, 1, 2, 3, 4)  # WebRTC's noise suppression levels; 0 is off


def _noise_worker_hear(clip: Clip) -> tuple[Clip, list[dict]]:
    """One clip heard by the listener at every noise suppression level."""
    from bench.spoken import _hear_with_listener
    from bench.spoken_corpus import mixed_audio
    from services.listener import noise

    audio = mixed_audio(clip)
    shipped = noise.SUPPRESSION_LEVEL
    heard = []
    for level in NOISE_LEVELS:
        noise.SUPPRESSION_LEVEL = level
        heard.append(_hear_with_listener(audio))
    noise.SUPPRESSION_LEVEL = shipped
    return clip, heard


def calibrate_noise(model, home, args) -> int:
    """Per noise suppression level (services/listener/noise.py): right and wrong actions of the whole
    chain on the own-phrase clips, per condition, and the level with the most right - 2 x wrong."""
    from services.dialogue.readings import COMMAND_BONUS
    from services.listener.noise import SUPPRESSION_LEVEL

    chain = _Chain(model, home)
    clips = own_phrase_clips(model, args.phrases)
    print(f"hearing {len(clips)} own-phrase clips at {len(NOISE_LEVELS)} levels...", file=sys.stderr, flush=True)
    # counts[level][condition] = [right, wrong]
    counts = {level: {condition: [0, 0] for condition in CONDITIONS} for level in NOISE_LEVELS}
    context = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    with context.Pool(args.workers, _worker_init, (model.phrases(), model.grammar().to_text(), threads)) as pool:
        for clip, heard in pool.imap_unordered(_noise_worker_hear, clips, chunksize=2):
            reference = model.understand(clip.text)
            for level, ours in zip(NOISE_LEVELS, heard):
                right, wrong = chain.outcome(reference, chain.readings(ours), COMMAND_BONUS)
                counts[level][clip.condition][0] += right
                counts[level][clip.condition][1] += wrong
    print(f"noise suppression: {len(clips)} own-phrase clips, voices rotating; right / wrong actions")
    print(f"{'level':>6s}" + "".join(f"{name:>12s}" for name in (*CONDITIONS, "all")))
    rows = []
    for level in NOISE_LEVELS:
        right, wrong = _print_condition_row(f"{level:6d}", counts[level])
        rows.append((right - WRONG_ACTION_COST * wrong, -level, right, wrong))
    _, level, right, wrong = max(rows)
    print(f"most right - 2 x wrong: level {-level} (right {right}, wrong actions {wrong} of {len(clips)}); "
          f"the listener ships level {SUPPRESSION_LEVEL} (services/listener/noise.py says why)")
    return 0


def heard_clips(model, args) -> list[tuple[Clip, dict]]:
    """The own-phrase clips and what the listener heard in each (cached in calibration.sqlite)."""
    phrases = model.phrases()
    clips = own_phrase_clips(model, args.phrases)
    grammar = model.grammar().to_text()
    key = args.listener_key or listener_key(phrases, grammar)
    store = TranscriptCache(cache_dir() / "calibration.sqlite")  # its own: a bench run may hold the other
    heard = {clip: store.get(key, clip) for clip in clips}
    if args.listener_key:
        clips = [clip for clip in clips if heard[clip] is not None]
    jobs = [(clip, True, False) for clip in clips if heard[clip] is None]
    if jobs:
        print(f"hearing {len(jobs)} calibration clips...", file=sys.stderr, flush=True)
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // args.workers)
        with context.Pool(args.workers, _worker_init, (phrases, grammar, threads)) as pool:
            for clip, ours, _, _, _ in pool.imap_unordered(_worker_hear, jobs, chunksize=2):
                store.put(key, clip, ours)
                heard[clip] = ours
        store.commit()
    print(f"transcripts {key}")
    return [(clip, heard[clip]) for clip in clips]


def spoken_clips(model, args) -> list[tuple[str, str, float]]:
    """(meant, heard, heard confidence) of the model's own phrases, spoken by the bench's voices."""
    return [(clip.text, ours["text"], ours.get("confidence", 0.0)) for clip, ours in heard_clips(model, args)]


def score(model, home, clips: list[tuple[str, str, float]]) -> list[tuple]:
    """Per clip: (right, acted, heard confidence, template matched, unknown words, model confidence,
    words if they are exactly a command of the grammar, else 0).

    The reference is what the model makes of the words as meant; clips whose words it does not
    understand even as written are left out."""
    from services.dialogue.nlu.model import WILDCARD_TEMPLATE_CONFIDENCE
    from services.dialogue.service import spoken_vocabulary
    from services.spoken import normalize_transcript

    vocabulary = spoken_vocabulary(model.phrases(), home)
    grammar = model.grammar().compact()
    outcomes = []
    for meant, heard, heard_confidence in clips:
        reference = model.understand(meant)
        if reference.intent is None:
            continue
        text = normalize_transcript(heard, vocabulary)
        result = model.understand(text)
        right = result.intent is not None and _same_meaning(result, reference)
        template = result.confidence >= WILDCARD_TEMPLATE_CONFIDENCE
        outcomes.append((right, result.intent is not None, heard_confidence, template,
                         bool(vocabulary.unknown_words(text)), result.confidence,
                         len(text.split()) if result.intent is not None and grammar.accepts(text) else 0))
    return outcomes


def report(outcomes: list[tuple]) -> None:
    """Right and wrong actions per threshold, and the thresholds to choose."""
    total = len(outcomes)
    print(f"{'min heard confidence':>22s}{'right %':>10s}{'wrong actions %':>18s}")
    best = None
    balanced, balanced_value = None, None
    for threshold in THRESHOLDS:
        right = wrong = 0
        for ok, acted, heard_confidence, template, unknown, _, _ in outcomes:
            act = acted and heard_confidence >= threshold and (template or not unknown)
            right += act and ok
            wrong += act and not ok
        print(f"{threshold:22.2f}{100 * right / total:10.1f}{100 * wrong / total:18.1f}")
        if best is None and wrong / total <= WRONG_ACTIONS_MAX:
            best = threshold
        value = right - WRONG_ACTION_COST * wrong
        if balanced_value is None or value > balanced_value:
            balanced, balanced_value = threshold, value
    print(f"lowest threshold with wrong actions <= {100 * WRONG_ACTIONS_MAX:.0f} %: {best}")
    print(f"threshold with the most right - {WRONG_ACTION_COST:g} x wrong: {balanced}")
    print()
    # With the model's confidence: a guess (no template) is acted on at or above a minimum, a higher
    # one when some words are unknown. Chosen as the heard minimum is: the most right actions minus
    # twice the wrong ones (ties: fewer wrong), with the heard minimum kept at MIN_HEARD_CONFIDENCE.
    # Also printed: the most right actions with no more wrong ones than without the model's
    # confidence, over all three minimums.
    from services.spoken import MIN_HEARD_CONFIDENCE

    def tally(heard_min: float, known_min: float, unknown_min: float) -> tuple[int, int]:
        right = wrong = 0
        for ok, acted, heard_confidence, template, unknown, confidence, _ in outcomes:
            act = acted and heard_confidence >= heard_min and (
                template or confidence >= (unknown_min if unknown else known_min))
            right += act and ok
            wrong += act and not ok
        return right, wrong

    right0, wrong0 = tally(MIN_HEARD_CONFIDENCE, 0.0, NEVER)
    print(f"without the model's confidence (heard >= {MIN_HEARD_CONFIDENCE}, no guess through unknown words): "
          f"right {100 * right0 / total:.1f} %, wrong actions {100 * wrong0 / total:.1f} %")
    print(f"{'heard':>7s}{'guess':>7s}{'guess, unknown words':>22s}{'right %':>10s}{'wrong actions %':>18s}")
    grid = []
    for heard_min in THRESHOLDS:
        for known_min in MODEL_THRESHOLDS:
            for unknown_min in [m for m in MODEL_THRESHOLDS if m >= known_min] + [NEVER]:
                right, wrong = tally(heard_min, known_min, unknown_min)
                grid.append((right, wrong, heard_min, known_min, unknown_min))

    def show(rows: list[tuple]) -> None:
        for right, wrong, heard_min, known_min, unknown_min in rows:
            print(f"{heard_min:7.2f}{known_min:7.2f}{unknown_min:22.2f}{100 * right / total:10.1f}"
                  f"{100 * wrong / total:18.1f}")

    # Ties: fewer wrong, then the stricter minimums.
    print("most right actions, wrong ones no more than without the model's confidence:")
    show(sorted((g for g in grid if g[1] <= wrong0), key=lambda g: (g[0], -g[1], g[2:]), reverse=True)[:4])
    print(f"most right - {WRONG_ACTION_COST:g} x wrong, heard minimum {MIN_HEARD_CONFIDENCE}:")
    kept = sorted((g for g in grid if g[2] == MIN_HEARD_CONFIDENCE),
                  key=lambda g: (g[0] - WRONG_ACTION_COST * g[1], -g[1], g[2:]), reverse=True)
    show(kept[:4])
    right, wrong, _, known_min, unknown_min = kept[0]
    print(f"chosen: MIN_GUESS_CONFIDENCE = {known_min}, MIN_GUESS_CONFIDENCE_UNKNOWN_WORDS = {unknown_min} "
          f"-> right {100 * right / total:.1f} %, wrong actions {100 * wrong / total:.1f} %")
    print()
    report_grammar(outcomes)


def report_grammar(outcomes: list[tuple]) -> None:
    """The minimum heard confidence and length for words that are exactly one of the device's
    commands (acted on whatever the other rules say), chosen by the same rule: most right - 2 x wrong."""
    from services.spoken import MIN_GUESS_CONFIDENCE, MIN_GUESS_CONFIDENCE_UNKNOWN_WORDS, MIN_HEARD_CONFIDENCE

    total = len(outcomes)
    exact = [o for o in outcomes if o[6]]
    print(f"words exactly a command of the grammar: {len(exact)} of {total} clips, "
          f"{100 * sum(o[0] for o in exact) / max(1, len(exact)):.1f} % of them understood right")
    print(f"{'exact command: min words':>26s}{'min heard':>11s}{'right %':>10s}{'wrong actions %':>18s}")
    rows = []
    for min_words in (1, 2, 3, 4, 5):
        for grammar_min in [*THRESHOLDS, NEVER]:
            right = wrong = 0
            for ok, acted, heard_confidence, template, unknown, confidence, words in outcomes:
                act = acted and ((words >= min_words and heard_confidence >= grammar_min) or (
                    heard_confidence >= MIN_HEARD_CONFIDENCE and (template or confidence >= (
                        MIN_GUESS_CONFIDENCE_UNKNOWN_WORDS if unknown else MIN_GUESS_CONFIDENCE))))
                right += act and ok
                wrong += act and not ok
            rows.append((right - WRONG_ACTION_COST * wrong, -wrong, grammar_min, min_words, right, wrong))
    for _, _, grammar_min, min_words, right, wrong in sorted(rows, reverse=True)[:8]:
        label = "never" if grammar_min == NEVER else f"{grammar_min:.2f}"
        print(f"{min_words:26d}{label:>11s}{100 * right / total:10.1f}{100 * wrong / total:18.1f}")
    _, _, grammar_min, min_words, right, wrong = max(rows)
    print(f"chosen: MIN_GRAMMAR_HEARD_CONFIDENCE = {grammar_min}, MIN_GRAMMAR_WORDS = {min_words} -> "
          f"right {100 * right / total:.1f} %, wrong actions {100 * wrong / total:.1f} %")


if __name__ == "__main__":
    sys.exit(main())
