"""Calibrate when to ask instead of act, on the device's OWN phrases spoken and heard (never the tests).

    .venv/bin/python bench/spoken_calibrate.py [--phrases 240] [--workers 1]

Phrases are sampled from the dialogue model's own phrases (its training templates with the home's
names, as the listener's vocabulary gets them; the home is the tests' fixture home, which is the
user's home of the benchmark, not its sentences). Each is spoken by one voice in one condition
(both rotating), heard by the listener's pipeline, and understood; the reference is what the model
makes of the phrase as written. For each minimum Whisper confidence it prints the share of clips
acted on rightly and wrongly, and the lowest threshold that keeps wrong actions at or below 1 %.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.spoken import (  # noqa: E402
    TranscriptCache, _folded, _worker_hear, _worker_init, home_names, listener_key)
from bench.spoken_corpus import CONDITIONS, VOICES, Clip, cache_dir  # noqa: E402
from bench.understand import DEFAULT_TESTS, fixture_home  # noqa: E402

THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 17)]
WRONG_ACTIONS_MAX = 0.01
# When the 1 % bar costs nearly every right action, the threshold that weighs a wrong action as
# two missed commands (a wrong light off is worse than "sorry, say that again").
WRONG_ACTION_COST = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=240)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    from services.dialogue.nlu import DialogueModel
    from services.dialogue.nlu.model import WILDCARD_TEMPLATE_CONFIDENCE
    from services.spoken import PhoneticVocabulary, normalize_transcript

    home = fixture_home(Path(os.environ.get("SAMANTHA_HA_TESTS", DEFAULT_TESTS)))
    model = DialogueModel.load(cache_dir() / "state", None, home)
    phrases = model.phrases()
    vocabulary = PhoneticVocabulary([*phrases, *home_names(home)])
    chosen = random.Random(29).sample(phrases, min(args.phrases, len(phrases)))
    references = {}
    for phrase in chosen:
        result = model.understand(phrase)
        if result.intent is not None:
            references[phrase] = (result.intent, _folded(result.slots))
    voices, conditions = list(VOICES), list(CONDITIONS)
    clips = []
    for index, phrase in enumerate(references):
        seed = int(hashlib.sha256(f"calibrate|{phrase}".encode()).hexdigest()[:8], 16)
        clips.append(Clip(phrase, voices[index % len(voices)], conditions[(index // len(voices)) % len(conditions)],
                          seed))
    key = listener_key(phrases)
    store = TranscriptCache(cache_dir() / "calibration.sqlite")  # its own: a bench run may hold the other
    heard = {clip: store.get(key, clip) for clip in clips}
    jobs = [(clip, True, False) for clip in clips if heard[clip] is None]
    if jobs:
        print(f"hearing {len(jobs)} calibration clips...", file=sys.stderr, flush=True)
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.workers, _worker_init, (phrases, max(1, (os.cpu_count() or 1) // args.workers))) as pool:
            for clip, ours, _, _, _ in pool.imap_unordered(_worker_hear, jobs, chunksize=2):
                store.put(key, clip, ours)
                heard[clip] = ours
        store.commit()

    outcomes = []
    for clip in clips:
        text = normalize_transcript(heard[clip]["text"], vocabulary)
        result = model.understand(text)
        right = result.intent is not None and (result.intent, _folded(result.slots)) == references[clip.text]
        template = result.confidence >= WILDCARD_TEMPLATE_CONFIDENCE
        outcomes.append((right, result.intent is not None, heard[clip].get("confidence", 0.0), template,
                         bool(vocabulary.unknown_words(text))))
    total = len(outcomes)
    print(f"calibration: {total} of the model's own phrases, voices and conditions rotating; transcripts {key}")
    print(f"{'min heard confidence':>22s}{'right %':>10s}{'wrong actions %':>18s}")
    best = None
    balanced, balanced_value = None, None
    for threshold in THRESHOLDS:
        right = wrong = 0
        for ok, acted, heard_confidence, template, unknown in outcomes:
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
