"""Misheard training sentences: what the build script keeps, what the dialogue model learns from.

The shipped file (models/heard-sentences.jsonl) is checked against its manifest entry and the
installed templates; the loading and alignment rules are checked on small files written here.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from functools import partial
from pathlib import Path

import pytest

from services.dialogue.nlu.heard import SHIPPED_HEARD_FILE, heard_file_digest, load_heard_variants, load_lost_commands

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "models"))

from build_heard_sentences import VOICES, slots_survived  # noqa: E402

BENCH_ESPEAK_VOICES = {"en-us+m3", "en-gb-x-rp+f3", "en-gb-scotland+m5"}


def _record(meant: str, heard: str, intent: str, survived: bool = True) -> dict:
    return {"meant": meant, "heard": heard, "intent": intent, "slots_survived": survived,
            "frame": ["name"], "fixed": [["domain", "light"]], "sources": [["name", "name"]]}


def _write(path: Path, records: list) -> Path:
    lines = [json.dumps({"about": "test"})] + [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_variants_keep_their_intent_frame_and_whether_slots_survived(tmp_path):
    path = _write(tmp_path / "heard.jsonl", [
        _record("turn on the kitchen light", "turn on the kitchen lie.", "HassTurnOn", survived=False),
        _record("turn off the desk lamp", "turn off the desk lamp please", "HassTurnOff"),
    ])
    variants = load_heard_variants({"HassTurnOn", "HassTurnOff"}, path)
    assert [(v.example.text, v.example.intent, v.slots_survived) for v in variants] == [
        ("turn on the kitchen lie.", "HassTurnOn", False), ("turn off the desk lamp please", "HassTurnOff", True)]
    assert variants[0].example.frame == ("name",) and variants[0].example.fixed == (("domain", "light"),)


def test_variants_of_other_intents_lost_commands_and_bad_lines_are_left_out(tmp_path):
    path = _write(tmp_path / "heard.jsonl", [
        _record("turn on the kitchen light", "turn on the kitchen light now", "HassNotInstalled"),
        # Whisper kept only the tail: learning it would teach acting on words that ask for nothing.
        _record("broadcast everywhere that the car is here", "the car is here.", "HassBroadcast"),
        "{not json",
        {"meant": "no intent here"},
        _record("what's the temperature", "water's the temperature", "HassGetState"),
        # Nothing of the command left: learned as not understood.
        _record("what's the temperature in the kitchen", "puh la lu.", "HassGetState"),
        # Held out to calibrate the ask-or-act gate with: never learned from.
        {**_record("turn off the desk lamp", "turn of the desk lamb", "HassTurnOff"), "held_out": True},
        {**_record("broadcast that dinner is ready", "the car", "HassBroadcast"), "held_out": True},
    ])
    installed = {"HassTurnOn", "HassTurnOff", "HassBroadcast", "HassGetState"}
    assert [v.example.text for v in load_heard_variants(installed, path)] == ["water's the temperature"]
    # The lost command is learned as not understood (the half-heard broadcast is left out: it may
    # still be a request); the held-out ones are not learned at all.
    assert load_lost_commands(installed, path) == ["puh la lu."]


def test_no_file_means_no_variants(tmp_path):
    assert load_heard_variants({"HassTurnOn"}, tmp_path / "missing.jsonl") == []
    assert heard_file_digest(tmp_path / "missing.jsonl") == "none"


@pytest.mark.parametrize("heard, survived", [
    ("Set the kitchen light to 50%.", True),         # punctuation and number style do not matter
    ("Set that kitchen light to 50 percent", True),  # a command word misheard, the slots intact
    ("Set the kitchen lie to 50 percent", False),    # a slot word misheard
    ("Set the kitchen light to 15 percent", False),
    ("Set the light to 50 percent", False),           # a slot word lost
])
def test_slots_survive_only_when_their_words_were_heard_as_said(heard, survived):
    values = [("name", "kitchen light"), ("brightness", "50")]
    assert slots_survived("set the kitchen light to 50 percent", heard, values) is survived


def test_the_shipped_file_is_the_one_the_manifest_names_and_fits_the_templates():
    manifest = tomllib.loads((REPO / "models" / "manifest.toml").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["file"] if e["path"] == SHIPPED_HEARD_FILE.name)
    data = SHIPPED_HEARD_FILE.read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)

    from services.dialogue.nlu.sentences import load_sentences, sample_examples

    intents = {e.intent for e in sample_examples(load_sentences(None))}
    header, *lines = data.decode("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    held_out = [r for r in records if r.get("held_out")]
    records = [r for r in records if not r.get("held_out")]
    assert json.loads(header)["variants"] == len(records) and json.loads(header)["held_out"] == len(held_out)
    assert {r["intent"] for r in records} <= intents
    assert all(r["heard"] != r["meant"] for r in records)
    # Most of them are usable (the rest lost their command words in the hearing).
    assert len(load_heard_variants(intents, SHIPPED_HEARD_FILE)) > len(records) / 2


def test_heard_sentences_are_made_with_other_voices_than_the_spoken_bench():
    espeak = {v.espeak_voice for v in VOICES if v.engine == "espeak"}
    assert espeak and not espeak & BENCH_ESPEAK_VOICES
    assert all(v.length_scale != 1.0 for v in VOICES if v.engine == "piper")


def test_the_model_learns_what_misheard_commands_mean(tmp_path, monkeypatch):
    """Misheard training sentences that no template matches are understood as what was meant;
    commands heard beyond recognition are not acted on (with the shipped file switched on)."""
    import services.dialogue.nlu.model as model_module

    monkeypatch.setattr(model_module, "heard_file_digest", partial(heard_file_digest, SHIPPED_HEARD_FILE))
    monkeypatch.setattr(model_module, "load_heard_variants", partial(load_heard_variants, path=SHIPPED_HEARD_FILE))
    monkeypatch.setattr(model_module, "load_lost_commands", partial(load_lost_commands, path=SHIPPED_HEARD_FILE))
    from services.dialogue.nlu import DialogueModel
    from services.dialogue.nlu.heard import sample_home
    from services.dialogue.nlu.model import TEMPLATE_CONFIDENCE, WILDCARD_TEMPLATE_CONFIDENCE

    from services.dialogue.nlu.sentences import load_sentences, sample_examples

    model = DialogueModel.load(tmp_path, None, sample_home())
    intents = {e.intent for e in sample_examples(load_sentences(None))}
    guessed = []
    for variant in load_heard_variants(intents, SHIPPED_HEARD_FILE):
        result = model.understand(variant.example.text)
        if result.confidence not in (TEMPLATE_CONFIDENCE, WILDCARD_TEMPLATE_CONFIDENCE):
            guessed.append(result.intent == variant.example.intent)
    assert len(guessed) > 20 and sum(guessed) / len(guessed) > 0.8
    lost = [model.understand(text) for text in load_lost_commands(intents, SHIPPED_HEARD_FILE)]
    unmatched = [r for r in lost if r.confidence not in (TEMPLATE_CONFIDENCE, WILDCARD_TEMPLATE_CONFIDENCE)]
    assert len(unmatched) > 10 and sum(r.intent is None for r in unmatched) / len(unmatched) > 0.6
