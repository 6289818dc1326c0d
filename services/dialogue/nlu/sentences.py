"""Sentence templates: Home Assistant's, the device's own, and the user's custom sentences.

All three are Home Assistant's sentence YAML. The user's folder is read with line numbers so that
a mistake is reported as ``file:line: message``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml
from hassil import Intents, parse_sentence
from hassil.expression import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sequence,
    TextChunk,
)
from hassil.intents import Intent, RangeSlotList, SlotList, TextSlotList, WildcardSlotList
from hassil.util import merge_dict, normalize_whitespace

_LOGGER = logging.getLogger(__name__)
DEVICE_SENTENCES_DIR = Path(__file__).resolve().parent.parent / "sentences"
# A template's metadata may name a slot that is the whole utterance ("I like my coffee black" is
# the fact); sampled examples carry that in ``fixed`` under WHOLE_UTTERANCE_FIXED.
WHOLE_UTTERANCE_KEY = "whole_utterance"
WHOLE_UTTERANCE_FIXED = "__whole_utterance__"


class SentenceError(ValueError):
    """A sentence file that cannot be used; names the file and the line.

    >>> str(SentenceError("/etc/samantha/sentences/lights.yaml", 4, "unbalanced brackets"))
    '/etc/samantha/sentences/lights.yaml:4: unbalanced brackets'
    """

    def __init__(self, file: str | Path, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {message}")


@dataclass
class SentenceSet:
    """Templates ready for matching (hassil) and for sampling training sentences."""

    ha: dict[str, Any]  # Home Assistant's templates (intents, lists, expansion_rules, skip_words)
    own: dict[str, Any]  # the device's and the user's intents, with HA's lists and rules
    own_intents: set[str] = field(default_factory=set)
    custom_intents: set[str] = field(default_factory=set)

    def fingerprint(self) -> str:
        """Changes whenever any template, list or rule changes."""
        text = json.dumps([self.ha, self.own], sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# home-assistant-intents==2026.3.3 is the release this model is built and measured with. On the
# English tests of HA intents as of 2025-07-04 (the reference set in ../shared/data) hassil with
# these templates scores 99.6 % intent+slots exact, like every release from 2025.11.24 to
# 2026.3.3; 2025.7.30 scores 95.2 % (no HassMediaSearchAndPlay, no *CompleteItem), 2026.3.24
# drops to 99.4 % and the newest (2026.10.27) to 63.6 % (renamed slots and intents). So: the
# newest release that still agrees with those tests.
HA_INTENTS_VERSION = "2026.3.3"


def load_ha_templates(language: str) -> dict[str, Any]:
    """Home Assistant's templates for ``language`` from the pinned home-assistant-intents."""
    from importlib.metadata import PackageNotFoundError, version

    import home_assistant_intents

    try:
        installed = version("home-assistant-intents")
    except PackageNotFoundError:
        installed = "unknown"
    if installed != HA_INTENTS_VERSION:
        _LOGGER.warning(
            "home-assistant-intents %s is installed; Samantha is measured with %s", installed, HA_INTENTS_VERSION
        )
    data = home_assistant_intents.get_intents(language)
    if data is None:
        raise SentenceError("home-assistant-intents", None, f"no templates for language {language!r}")
    return data


def load_sentence_dir(directory: Path, language: str) -> list[tuple[Path, dict[str, Any]]]:
    """Read every *.yaml under ``directory`` (sorted); each file checked, errors with file:line."""
    loaded = []
    for path in sorted(directory.rglob("*.yaml")) + sorted(directory.rglob("*.yml")):
        text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = mark.line + 1 if mark is not None else None
            raise SentenceError(path, line, f"not valid YAML: {err.problem or err}") from None
        if data is None:
            continue
        _check_file(path, text, data, language)
        if data.get("language", language) == language:
            loaded.append((path, data))
    return loaded


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def _check_file(path: Path, text: str, data: Any, language: str) -> None:
    if not isinstance(data, dict):
        raise SentenceError(path, 1, "expected a mapping with 'language' and 'intents'")
    intents = data.get("intents", {})
    if not isinstance(intents, dict):
        raise SentenceError(path, _line_of(text, "intents"), "'intents' must be a mapping of intent names")
    for name, intent in intents.items():
        line = _line_of(text, f"{name}:")
        if not isinstance(intent, dict) or not isinstance(intent.get("data"), list):
            raise SentenceError(path, line, f"intent {name} needs a 'data' list")
        for block in intent["data"]:
            if not isinstance(block, dict) or not isinstance(block.get("sentences"), list):
                raise SentenceError(path, line, f"intent {name}: each data item needs a 'sentences' list")
            for sentence in block["sentences"]:
                if not isinstance(sentence, str):
                    raise SentenceError(path, line, f"intent {name}: sentence {sentence!r} is not text")
                try:
                    parse_sentence(sentence)
                except Exception as err:  # hassil raises several types for bad templates
                    raise SentenceError(
                        path, _line_of(text, sentence) or line, f"bad template {sentence!r}: {err}"
                    ) from None
    for key in ("lists", "expansion_rules"):
        if not isinstance(data.get(key, {}), dict):
            raise SentenceError(path, _line_of(text, key), f"'{key}' must be a mapping")


def load_sentences(custom_dir: Path | None, language: str = "en") -> SentenceSet:
    """HA's templates plus the device's own plus the user's custom sentences, checked."""
    ha = load_ha_templates(language)
    own: dict[str, Any] = {"language": language, "intents": {}}
    own_intents: set[str] = set()
    custom_intents: set[str] = set()
    device_dir = DEVICE_SENTENCES_DIR / language
    sources = [(device_dir, own_intents)]
    if custom_dir is not None and Path(custom_dir).is_dir():
        sources.append((Path(custom_dir), custom_intents))
    for directory, names in sources:
        for path, data in load_sentence_dir(directory, language):
            names.update(data.get("intents", {}))
            merge_dict(own, data)
    # The device's and the user's sentences may use HA's lists and rules (<timer_duration>, {area}).
    lists = copy.deepcopy(ha.get("lists", {}))
    lists.update(own.get("lists", {}))
    rules = dict(ha.get("expansion_rules", {}))
    rules.update(own.get("expansion_rules", {}))
    own["lists"], own["expansion_rules"] = lists, rules
    own["skip_words"] = ha.get("skip_words", [])
    for name, path in _intent_files(sources, language).items():
        try:
            Intents.from_dict({**own, "intents": {name: own["intents"][name]}})
        except Exception as err:
            raise SentenceError(path, None, f"intent {name}: {err}") from None
    _check_references(sources, own)
    return SentenceSet(ha=ha, own=own, own_intents=own_intents, custom_intents=custom_intents)


_HOME_LISTS = {"name", "area", "floor"}  # filled from the home at run time


def references(expr: Expression) -> Iterator[ListReference | RuleReference]:
    """Every {list} and <rule> an expression names (not looking into the rules)."""
    if isinstance(expr, (ListReference, RuleReference)):
        yield expr
    elif isinstance(expr, (Sequence, Alternative, Permutation)):
        for item in expr.items:
            yield from references(item)


def _check_references(sources: list[tuple[Path, set[str]]], merged: dict[str, Any]) -> None:
    """Every {list} and <rule> a sentence names must exist (else hassil fails at match time)."""
    for directory, _ in sources:
        for path in sorted(directory.rglob("*.y*ml")):
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text) or {}
            for name, intent in (data.get("intents") or {}).items():
                for block in intent.get("data") or []:
                    lists = set(merged.get("lists", {})) | set(block.get("lists") or {}) | _HOME_LISTS
                    rules = set(merged.get("expansion_rules", {})) | set(block.get("expansion_rules") or {})
                    for sentence in block.get("sentences") or []:
                        for reference in references(parse_sentence(sentence).expression):
                            kind, ref = (("list", reference.list_name) if isinstance(reference, ListReference)
                                         else ("rule", reference.rule_name))
                            if ref.isdigit() or "-" in ref and ref.replace("-", "").replace(",", "").isdigit():
                                continue  # inline range such as {1-10}
                            if (kind == "list" and ref not in lists) or (kind == "rule" and ref not in rules):
                                what = f"{{{ref}}}: no such list" if kind == "list" else f"<{ref}>: no such rule"
                                raise SentenceError(path, _line_of(text, sentence), f"intent {name}: {what}")


def _intent_files(sources: list[tuple[Path, set[str]]], language: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for directory, _ in sources:
        for path in sorted(directory.rglob("*.y*ml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for name in data.get("intents", {}):
                files.setdefault(name, path)
    return files


# --- sampling training sentences -------------------------------------------------------------

# Values for slots while sampling. The heads learn the shape of a request, not this home's
# names: the home changes without retraining, and its names are matched separately.
_SAMPLE_AREAS = [
    "kitchen", "living room", "bedroom", "office", "garage", "bathroom", "hallway", "dining room",
    "basement", "garden", "nursery", "attic", "guest room", "patio", "study", "laundry room",
    "kids room", "porch", "den", "lounge",
]
_SAMPLE_FLOORS = ["upstairs", "downstairs", "ground floor", "first floor", "second floor", "top floor", "cellar"]
_SAMPLE_NAMES = {
    "light": ["ceiling light", "desk lamp", "floor lamp", "reading light", "porch light", "strip lights", "chandelier", "bedside lamp"],
    "switch": ["coffee maker", "heater plug", "fountain", "christmas tree", "kettle"],
    "fan": ["ceiling fan", "tower fan", "extractor fan", "desk fan"],
    "cover": ["garage door", "blinds", "curtains", "roller shutter", "skylight", "awning"],
    "lock": ["front door", "back door", "patio lock", "gate lock"],
    "climate": ["thermostat", "air conditioner", "heat pump", "radiator"],
    "media_player": ["tv", "speaker", "sonos", "radio", "stereo", "soundbar"],
    "vacuum": ["roborock", "hoover", "robot vacuum"],
    "lawn_mower": ["mower", "robot mower"],
    "sensor": ["outdoor temperature", "humidity sensor", "power meter", "air quality", "rain gauge"],
    "binary_sensor": ["window sensor", "motion sensor", "smoke detector", "leak sensor", "doorbell"],
    "weather": ["forecast", "home weather"],
    "todo": ["groceries", "chores", "hardware store", "packing"],
    "scene": ["movie night", "dinner time", "relax", "bright mode"],
    "script": ["good night", "morning routine", "leave home"],
    "person": ["alice", "bob", "grandma", "sam"],
    "valve": ["water valve", "sprinkler", "gas valve"],
}
_SAMPLE_WILDCARDS = {
    "item": ["milk", "eggs", "bread and butter", "paper towels", "dog food", "call the plumber", "batteries"],
    "fact": ["my sister's birthday is on june fifth", "the spare key is under the pot", "I parked on level three", "tom likes green tea", "the wifi password is on the fridge"],
    "query": ["my sister's birthday", "the spare key", "where I parked", "tom's favourite tea", "the wifi password", "the dentist appointment"],
    "person_name": ["alice", "tom", "maria jones", "sam"],
    "time": ["7:30 am", "seven thirty", "six o'clock", "noon", "half past eight", "5 pm", "quarter to seven"],
    "timer_name": ["pasta", "eggs", "laundry", "pizza", "tea"],
    "message": ["dinner is ready", "time for bed", "the car is here", "please come downstairs"],
    "search_query": ["jazz", "the beatles", "my morning playlist", "bohemian rhapsody", "a podcast about space"],
    "conversation_command": ["turn off the lights", "lock the front door", "open the blinds"],
}
_GENERIC_WILDCARD = ["something", "the blue one", "my keys", "the big meeting", "tomorrow morning"]
_SAMPLES_PER_TEMPLATE = 10
_MAX_PHRASES_PER_VALUE = 40
_MAX_TRIES_PER_TEMPLATE = 30


@dataclass(frozen=True)
class Example:
    """One sampled training sentence and what it means."""

    text: str
    intent: str
    frame: tuple[str, ...]  # slot names the sentence carries (sorted)
    fixed: tuple[tuple[str, Any], ...] = ()  # slots the template sets itself, e.g. domain=light
    literal: str = ""  # the text without its wildcard values: the template's own words
    sources: tuple[tuple[str, str], ...] = ()  # (slot, list it was sampled from)
    values: tuple[tuple[str, str], ...] = ()  # (slot, the words said for it), in order


class _Sampler:
    def __init__(self, data: dict[str, Any], rng: random.Random, language: str, home: Any = None) -> None:
        self.intents = Intents.from_dict(data)
        self.rng = rng
        self.language = language
        self.areas, self.floors, self.names = _SAMPLE_AREAS, _SAMPLE_FLOORS, _SAMPLE_NAMES
        if home is not None and home.entities:
            self.areas = [a.name for a in home.areas] or _SAMPLE_AREAS
            self.floors = [f.name for f in home.floors] or _SAMPLE_FLOORS
            self.names = {}
            for entity in home.entities:
                self.names.setdefault(entity.domain, []).append(entity.name)

    def examples(self) -> Iterator[Example]:
        for intent in self.intents.intents.values():
            for block in intent.data:
                context = block.requires_context or {}
                domain = context.get("domain") or block.slots.get("domain")
                for sentence in block.sentences:
                    seen: set[str] = set()
                    for _ in range(_MAX_TRIES_PER_TEMPLATE):
                        slots: dict[str, Any] = {}
                        self.sources = set()
                        self.said: list[tuple[str, str]] = []
                        words = self._expr(sentence.expression, block, slots, domain)
                        text = normalize_whitespace(words).strip()
                        if text and text not in seen:
                            seen.add(text)
                            frame = set(slots) | set(block.slots)
                            for key, spec in context.items():
                                if isinstance(spec, dict) and spec.get("slot"):
                                    frame.add(key)
                            fixed = tuple(sorted((k, v) for k, v in block.slots.items() if isinstance(v, (str, int, float))))
                            whole = (block.metadata or {}).get(WHOLE_UTTERANCE_KEY)
                            if whole:  # the nearest-sentence slot filler gives the whole utterance
                                fixed += ((WHOLE_UTTERANCE_FIXED, whole),)
                            literal = text
                            for value in slots.values():
                                if isinstance(value, str):
                                    literal = literal.replace(value, " ")
                            yield Example(
                                text, intent.name, tuple(sorted(frame)), fixed,
                                normalize_whitespace(literal).strip(), tuple(sorted(self.sources)),
                                tuple(self.said),
                            )
                        if len(seen) >= _SAMPLES_PER_TEMPLATE:
                            break

    def _expr(self, expr: Expression, block: Any, slots: dict[str, Any], domain: Any) -> str:
        rng = self.rng
        if isinstance(expr, TextChunk):
            return expr.original_text
        if isinstance(expr, Alternative):
            return self._expr(rng.choice(expr.items), block, slots, domain) if expr.items else ""
        if isinstance(expr, Permutation):
            items = list(expr.items)
            rng.shuffle(items)
            return " ".join(self._expr(item, block, slots, domain) for item in items)
        if isinstance(expr, Sequence):
            return "".join(self._expr(item, block, slots, domain) for item in expr.items)
        if isinstance(expr, RuleReference):
            rule = block.expansion_rules.get(expr.rule_name) or self.intents.expansion_rules.get(expr.rule_name)
            return self._expr(rule.expression, block, slots, domain) if rule else ""
        if isinstance(expr, ListReference):
            words = self._list(expr, block, slots, domain)
            self.said.append((expr.slot_name, normalize_whitespace(words).strip()))
            return words
        return ""

    def _list(self, ref: ListReference, block: Any, slots: dict[str, Any], domain: Any) -> str:
        rng = self.rng
        name = ref.list_name
        slots[ref.slot_name] = True
        self.sources.add((ref.slot_name, name))
        if ref.is_inline_range:
            start, stop, step = ref.get_inline_range()
            return str(rng.randrange(start, stop + 1, step))
        if name == "area":
            return rng.choice(self.areas)
        if name == "floor":
            return rng.choice(self.floors)
        if name == "name":
            domains = [domain] if isinstance(domain, str) else list(domain or []) or list(self.names)
            pool = [n for d in domains for n in self.names.get(d, [])] or [
                n for names in self.names.values() for n in names
            ]
            return rng.choice(pool)
        slot_list: SlotList | None = block.slot_lists.get(name) or self.intents.slot_lists.get(name)
        if isinstance(slot_list, TextSlotList) and slot_list.values:
            value = rng.choice(slot_list.values)
            return self._expr(value.text_in, block, slots, domain)
        if isinstance(slot_list, RangeSlotList):
            numbers = list(range(slot_list.start, slot_list.stop + 1, slot_list.step))
            return str(rng.choice(numbers))
        pool = _SAMPLE_WILDCARDS.get(name) or _SAMPLE_WILDCARDS.get(ref.slot_name) or _GENERIC_WILDCARD
        value = rng.choice(pool)
        slots[ref.slot_name] = value  # remembered, so the template's own words can be told apart
        return value


def free_text_templates(intents: Intents) -> Intents:
    """Only the templates that take free text (a wildcard list: a shopping item, a timer's name),
    which no list of words can hold, of each intent that has such templates."""

    def takes_free_text(expr: Expression, block: Any, rules_seen: frozenset[str]) -> bool:
        if isinstance(expr, ListReference):
            slot_list = block.slot_lists.get(expr.list_name) or intents.slot_lists.get(expr.list_name)
            return isinstance(slot_list, WildcardSlotList)
        if isinstance(expr, RuleReference):
            rule = block.expansion_rules.get(expr.rule_name) or intents.expansion_rules.get(expr.rule_name)
            return (rule is not None and expr.rule_name not in rules_seen
                    and takes_free_text(rule.expression, block, rules_seen | {expr.rule_name}))
        if isinstance(expr, (Sequence, Alternative, Permutation)):
            return any(takes_free_text(item, block, rules_seen) for item in expr.items)
        return False

    kept: dict[str, Intent] = {}
    for intent in intents.intents.values():
        blocks = []
        for block in intent.data:
            texts = [sentence.text for sentence in block.sentences
                     if takes_free_text(sentence.expression, block, frozenset())]
            if texts:
                blocks.append(dataclasses.replace(block, sentence_texts=texts))
        if blocks:
            kept[intent.name] = Intent(intent.name, blocks)
    return Intents(language=intents.language, intents=kept, slot_lists=intents.slot_lists,
                   expansion_rules=intents.expansion_rules, skip_words=intents.skip_words,
                   settings=intents.settings)


def sample_examples(sentences: SentenceSet, seed: int = 7, home: Any = None) -> list[Example]:
    """Sentences sampled from every template (a few per template, deterministic for a seed).

    Without ``home`` the slots get generic names (for training); with it, the home's own.
    """
    examples: list[Example] = []
    language = sentences.ha.get("language", "en")
    for data in (sentences.ha, sentences.own):
        examples.extend(_Sampler(data, random.Random(seed), language, home).examples())
    return examples


def list_phrases(intents: Intents) -> tuple[dict[str, list[tuple[str, Any]]], set[str]]:
    """Per text list, (phrase, value) pairs ("low" -> "on" for battery states); and the wildcards."""
    phrases: dict[str, list[tuple[str, Any]]] = {}
    wildcards = set()
    for name, slot_list in intents.slot_lists.items():
        if isinstance(slot_list, WildcardSlotList):
            wildcards.add(name)
        elif isinstance(slot_list, TextSlotList):
            pairs = [(" ".join(text.lower().split()), value) for text, value in value_texts(slot_list, intents)]
            phrases[name] = sorted(pairs, key=lambda pair: -len(pair[0]))
    return phrases, wildcards


def value_texts(slot_list: TextSlotList, intents: Intents,
                limit: int = _MAX_PHRASES_PER_VALUE) -> Iterator[tuple[str, Any]]:
    """(spoken form, value) of a text list's values, up to ``limit`` forms a value ("living room[s]")."""
    from hassil.sample import sample_expression

    for value in slot_list.values:
        for index, text in enumerate(sample_expression(value.text_in, intents.slot_lists, intents.expansion_rules)):
            if index >= limit:
                break
            if text.strip():
                yield text, value.value_out


