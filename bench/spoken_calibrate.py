"""Calibrate when to ask instead of act, on the device's OWN phrases spoken and heard (never the tests).

    .venv/bin/python bench/spoken_calibrate.py [--phrases 2400] [--workers 2]   # fit the act-or-ask model

Phrases are sampled from the dialogue model's own phrases (its training templates with the home's
names, as the listener's vocabulary gets them; the home is the tests' fixture home, which is the
user's home of the benchmark, not its sentences). Each is spoken by one voice in one condition
(chosen by the phrase's hash), heard by the listener's pipeline, and understood as the dialogue
service understands it (the readings, the pick, its signs); the reference is what the model makes
of the phrase as written.

By default it fits services/spoken/confidence.py's act-or-ask model: a logistic regression from the
signs of each understood request (how sure Whisper was of its first reading, the rival reading's
margin, exact command, template matched, unknown words) to whether acting on it would be right. It
prints the weights to ship, the right and wrong actions of the shipped weights and of the fitted
model cross-validated (5 x 5 folds) beside the acting rule of no model at all, per condition.

    .venv/bin/python bench/spoken_calibrate.py --listener-key listener-6918ccbc4454857a41fc  # cached only
    .venv/bin/python bench/spoken_calibrate.py --grammar-margin   # the listener's GRAMMAR_MARGIN
    .venv/bin/python bench/spoken_calibrate.py --command-bonus    # the dialogue's COMMAND_BONUS
    .venv/bin/python bench/spoken_calibrate.py --noise    # the listener's noise SUPPRESSION_LEVEL

--grammar-margin hears the same own-phrase clips with the listener's Whisper and, where its first
reading is no command, takes the command nearest to it that Whisper scores best (how much less likely
than the first reading it found it); per margin it prints how many of those it would add, and how
many mean what was said (the model's understanding of them equals its understanding of the phrase).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.spoken import (  # noqa: E402
    TranscriptCache, _folded, _worker_hear, _worker_init, listener_key, reads_back, spoken_readings)
from bench.spoken_corpus import CONDITIONS, VOICES, Clip, cache_dir  # noqa: E402
from bench.understand import DEFAULT_TESTS, fixture_home  # noqa: E402

# A wrong action weighs as much as two missed commands (services/spoken/confidence.py says why).
from services.spoken.confidence import WRONG_ACTION_COST  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=2400)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--listener-key", help="score the clips cached under this listener key; hear nothing")
    parser.add_argument("--command-bonus", action="store_true",
                        help="calibrate the dialogue's COMMAND_BONUS on the own-phrase clips, the whole chain as "
                             "the service runs it (readings, normalisation, act or ask)")
    parser.add_argument("--noise", action="store_true",
                        help="the listener's noise SUPPRESSION_LEVEL: the own-phrase clips heard anew at "
                             "every level (0 = off)")
    parser.add_argument("--grammar-margin", action="store_true",
                        help="calibrate the listener's GRAMMAR_MARGIN on the own-phrase clips (heard anew)")
    args = parser.parse_args(argv)

    from services.dialogue.nlu import DialogueModel

    home = fixture_home(Path(os.environ.get("SAMANTHA_HA_TESTS", DEFAULT_TESTS)))
    model = DialogueModel.load(cache_dir() / "state", None, home)
    if args.grammar_margin:
        return calibrate_grammar_margin(model, args)
    if args.command_bonus:
        return calibrate_command_bonus(model, home, args)
    if args.noise:
        return calibrate_noise(model, home, args)
    return fit_act_model(model, home, args)


def own_phrase_clips(model, count: int) -> list[Clip]:
    """The model's own phrases (that it understands as written), each in a voice and condition
    chosen by the phrase's own hash: a change in which phrases are understood leaves every other
    clip (and its cached transcript) as it was."""
    phrases = model.phrases()
    chosen = random.Random(29).sample(phrases, min(count, len(phrases)))
    # "1/2" is read "one slash two" by espeak-ng, so what was said is not what the phrase means (as
    # in models/build_whisper.py, such phrases are left out).
    understood = [phrase for phrase in chosen if "/" not in phrase and model.understand(phrase).intent is not None]
    voices, conditions = list(VOICES), list(CONDITIONS)
    clips = []
    for phrase in understood:
        seed = int(hashlib.sha256(f"calibrate|{phrase}".encode()).hexdigest()[:8], 16)
        clips.append(Clip(phrase, voices[seed % len(voices)], conditions[seed // len(voices) % len(conditions)], seed))
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
        return spoken_readings(ours, self.vocabulary)

    def pick(self, readings: list, bonus: float):
        """The reading the dialogue picks and what it means."""
        from services.dialogue.readings import Reading, understand_likeliest

        return understand_likeliest(readings or [Reading("", 0.0)], self.model.understand, self.grammar.accepts, bonus)

    def signs(self, readings: list, pick):
        """The signs services/spoken/confidence.py weighs for this pick."""
        from services.dialogue.service import heard_signs

        return heard_signs(pick, readings, self.vocabulary, self.grammar)

    def decide(self, readings: list, bonus: float):
        """The reading picked, and whether heard_clearly trusts it."""
        from services.spoken import worth_acting_on

        pick = self.pick(readings, bonus)
        return pick, worth_acting_on(self.signs(readings, pick))

    def outcome(self, reference, readings: list, bonus: float) -> tuple[bool, bool]:
        """(acted rightly, acted wrongly); neither when it asks or does nothing."""
        return _acted(reference, *self.decide(readings, bonus))


def _acted(reference, pick, clear: bool) -> tuple[bool, bool]:
    """(acted rightly, acted wrongly) on a pick heard_clearly trusts (``clear``); as the
    conversation does, "stop" and "never mind" are carried out unchecked."""
    result = pick.understanding
    if result.intent is None or reads_back(pick, clear):
        return False, False
    ok = _same_meaning(result, reference)
    return ok, not ok


def _same_meaning(understood, reference) -> bool:
    """The same intent and slots, letter case aside (as the bench judges), and a free-text value
    as spoken: "six o'clock" is "6 o'clock", "what's" is "whats" (speech has no digits or
    apostrophes; an alarm at "6 o'clock" rings at six)."""
    return (understood.intent, _as_spoken(understood.slots)) == (reference.intent, _as_spoken(reference.slots))


def _as_spoken(slots: dict) -> dict:
    from services.spoken.normalize import numbers_to_digits

    return {name: numbers_to_digits(value).replace("'", "") if isinstance(value, str) else value
            for name, value in _folded(slots).items()}


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


def _print_condition_row(label: str, counts: dict[str, list[int]], score: bool = False) -> tuple[int, int]:
    """One row of right / wrong actions per condition and over all (and, with ``score``, right minus
    twice wrong); returns the totals."""
    right = sum(r for r, _ in counts.values())
    wrong = sum(w for _, w in counts.values())
    cells = [f"{r:5d} / {w:3d}" for r, w in counts.values()] + [f"{right:5d} / {wrong:3d}"]
    print(label + "".join(f"{cell:>12s}" for cell in cells) + (f"{right - WRONG_ACTION_COST * wrong:9.0f}" if score else ""))
    return right, wrong


FOLDS, REPEATS = 5, 5  # cross-validation: 5 folds, each split 5 ways


def fit_act_model(model, home, args) -> int:
    """Fit services/spoken/confidence.py's act-or-ask model on the own-phrase clips; print the
    weights and what acting by them does (shipped weights, the fit cross-validated, no model)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from services.dialogue.conversation import UNCHECKED_INTENTS
    from services.dialogue.readings import COMMAND_BONUS
    from services.spoken.confidence import ACT_CHANCE, BIAS, MIN_RIVAL_MARGIN, WEIGHTS, worth_acting_on

    chain = _Chain(model, home)
    cases = []  # (condition, pick, signs, right)
    unchecked = {condition: [0, 0] for condition in CONDITIONS}  # stop / never mind: always carried out
    for clip, ours in heard_clips(model, args):
        reference = model.understand(clip.text)
        readings = chain.readings(ours)
        pick = chain.pick(readings, COMMAND_BONUS)
        if pick.understanding.intent is None:
            continue  # not understood: she says so, nothing to decide
        right = _same_meaning(pick.understanding, reference)
        if pick.understanding.intent in UNCHECKED_INTENTS:
            unchecked[clip.condition][0 if right else 1] += 1
            continue
        cases.append((clip.condition, pick, chain.signs(readings, pick), right))
    features = np.array([signs.features() for _, _, signs, _ in cases])
    right = np.array([ok for *_, ok in cases])
    margins = np.array([signs.rival_margin for _, _, signs, _ in cases])

    def fit_and_hold_out(gate: float, repeat: int):
        """The model fitted on the requests past the gate, and each such request's chance of being
        right by a model fitted without it (5 folds); the gated ones get 0 (asked)."""
        past = margins >= gate
        chances = np.zeros(len(cases))
        part_chances = np.zeros(int(past.sum()))
        for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=repeat).split(
                features[past], right[past]):
            part = LogisticRegression(C=1.0, max_iter=5000).fit(features[past][train], right[past][train])
            part_chances[test] = part.predict_proba(features[past][test])[:, 1]
        chances[past] = part_chances
        return LogisticRegression(C=1.0, max_iter=5000).fit(features[past], right[past]), chances

    fitted, _ = fit_and_hold_out(MIN_RIVAL_MARGIN, 0)
    fitted_weights, fitted_bias = tuple(float(w) for w in fitted.coef_[0]), float(fitted.intercept_[0])

    def row(label: str, *decisions) -> None:
        """Right / wrong actions per condition when acting as ``decisions`` say (averaged over
        several, rounded), the unchecked stop / never mind included."""
        table = {condition: [0.0, 0.0] for condition in CONDITIONS}
        for acts in decisions:
            for condition in CONDITIONS:
                table[condition][0] += unchecked[condition][0]
                table[condition][1] += unchecked[condition][1]
            for (condition, *_, ok), act in zip(cases, acts):
                if act:
                    table[condition][0 if ok else 1] += 1
        _print_condition_row(f"{label:26s}", {condition: [round(count / len(decisions)) for count in counts]
                                              for condition, counts in table.items()}, score=True)

    print(f"act or ask: {len(cases)} understood requests of the model's own phrases to decide on (and "
          f"{sum(map(sum, unchecked.values()))} stop / never mind, always done), voices and conditions by "
          f"the phrase's hash; she acts when the chance of being right is >= {ACT_CHANCE:.3f}; "
          f"right / wrong actions")
    print(f"{'':26s}" + "".join(f"{name:>12s}" for name in (*CONDITIONS, "all")) + "  right - 2 x wrong")
    row("always act", [True] * len(cases))
    row("shipped", [worth_acting_on(signs) for _, _, signs, _ in cases])
    row("fitted (in sample)", [worth_acting_on(signs, fitted_weights, fitted_bias) for _, _, signs, _ in cases])
    # Held out: each request decided by a model fitted without it (the mean of five different
    # splits), with the tie gate at the shipped and other margins (-inf: none).
    for gate in sorted({-math.inf, 0.05, 0.1, 0.2, 0.3, MIN_RIVAL_MARGIN}):
        row(f"held out, ask on tie < {gate:g}",
            *[fit_and_hold_out(gate, repeat)[1] >= ACT_CHANCE for repeat in range(REPEATS)])
    print("signs: log heard confidence, rival margin (capped), exact command (heard freely), template matched, "
          "unknown words, made by the grammar, words left out")
    print(f"fitted:  WEIGHTS = {tuple(round(w, 3) for w in fitted_weights)}, BIAS = {round(fitted_bias, 3)}")
    print(f"shipped: WEIGHTS = {WEIGHTS}, BIAS = {BIAS}")
    report_unclear([(pick, worth_acting_on(signs), ok) for _, pick, signs, ok in cases])
    return 0


def report_unclear(cases: list[tuple]) -> None:
    """Per intent: the requests read back as unclear (by the shipped weights), and how many would
    have been right or wrong had she acted on them anyway: the evidence for which intents may go
    unchecked (services/dialogue/conversation.py: UNCHECKED_INTENTS)."""
    counts: dict[str, list[int]] = {}
    for pick, clear, right in cases:
        if not clear:
            counts.setdefault(pick.understanding.intent, [0, 0])[0 if right else 1] += 1
    print("unclear requests, per intent: right / wrong had she acted anyway")
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


if __name__ == "__main__":
    sys.exit(main())
