"""The dialogue model: exact template matching first, the int8 neural model for everything else.

A sentence that a template matches (Home Assistant's, the device's or the user's) is understood
exactly, with its slots, by hassil. Anything else goes to the neural model: the frozen MiniLM
encoder and an intent head trained on sentences sampled from the same templates; its slots are
found in the words (home names fuzzily, numbers, durations) following the nearest training
sentence of that intent. Its confidence decides whether to act: out-of-scope or garbled input
gets ``intent=None``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hassil import Intents, recognize_best

from services.command_grammar import CommandGrammar
from .encoder import ENCODER_DIR, EmbeddingCache, SentenceEncoder
from .heads import OnnxHead, softmax_head_onnx, train_softmax
from .heard import heard_file_digest, load_heard_variants, load_lost_commands
from .home import Home, _norm
from .sentences import (
    WHOLE_UTTERANCE_FIXED,
    WHOLE_UTTERANCE_KEY,
    Example,
    SentenceError,
    SentenceSet,
    free_text_templates,
    list_phrases,
    load_sentences,
    sample_examples,
)
from .slots import SlotVocabulary, fill_slots, find_duration

_LOGGER = logging.getLogger(__name__)

NONE_LABEL = "__none__"
# Below this the model says "not understood" rather than risk a wrong action.
CONFIDENCE_MIN = 0.5
# Cosine similarity to the nearest training sentence at which a paraphrase counts as "close"
# (full confidence) and at which it counts as unrelated (no confidence).
SIMILARITY_CLOSE = 0.6
SIMILARITY_FAR = 0.3
TEMPLATE_CONFIDENCE = 1.0
WILDCARD_TEMPLATE_CONFIDENCE = 0.95
NEIGHBOURS = 8  # nearest training sentences whose slot frames are tried
BARE_NAME_FACTOR = 0.5  # confidence kept when only names were said ("bedroom")
MAX_PHRASES = 4000
# Home Assistant intents tried first: the head's top few, if at all plausible.
GATE_TOP = 4
GATE_MIN_PROBABILITY = 0.002
# The word pieces of misheard training sentences ("cotton" for "curtain") count as words the head
# knows, as the templates' do (that is what it is to learn them); and commands heard beyond
# recognition are learned as not understood (asking again is the right answer to them).
LEARN_HEARD_PIECES = True
LEARN_LOST_COMMANDS = True
HEAD_FORMAT = 8  # bump when the files in the state dir change meaning
HEADS_KEPT = 3  # trained heads kept per state dir (one per recent sentence set)
NLU_CACHE_ENV = "SAMANTHA_NLU_CACHE"
WARM_UP_TEXTS = ("turn on the light", "what time is it", "set a timer for five minutes")
_WORD_RE = re.compile(r"[a-z0-9]", re.IGNORECASE)
# Punctuation is how a transcriber writes, not what was said: "Set a timer." is "set a timer".
# Kept: apostrophes (Amy's), a minus sign before digits, and . , : / between digits (7.5, 1,000,
# 7:30, 1/2).
_PUNCTUATION_RE = re.compile(r"(?<!\d)[.,:/](?!\d)|[.,:/](?=\D|$)|[!?;\"“”«»()\[\]{}…*_\\]|(?<!\w)-(?!\d)|-(?!\w)")
_THOUSANDS_COMMA_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")
# "1.5 hours" (as Whisper writes "one and a half hours"): the timer sentences take whole units.
_DECIMAL_DURATION_RE = re.compile(r"\b(\d+)\.(\d+) (hour|minute)s?\b", re.IGNORECASE)
# "2 1/2 minutes", "1/4 hour" (not "1 and a 1/2 hours", which the sentences take as it is).
_FRACTION_DURATION_RE = re.compile(r"(?<!and a )\b(?:(\d+) )?(\d+)/(\d+) (hour|minute)s?\b", re.IGNORECASE)
_SMALLER_UNIT = {"hour": "minute", "minute": "second"}
# "5 mins", "2 hrs", "a couple of minutes": the sentences know the units in full ("5 mins" was a
# five-minute timer named "mins").
_UNIT_ABBREVIATIONS = {"hr": "hour", "hrs": "hours", "min": "minute", "mins": "minutes", "sec": "second",
                       "secs": "seconds"}
_UNIT_ABBREVIATION_RE = re.compile(r"\b(\d+) (hrs?|mins?|secs?)\b", re.IGNORECASE)
_A_COUPLE_RE = re.compile(r"\ba couple (?:of )?(hours|minutes|seconds)\b", re.IGNORECASE)
# Requests of the home that leave something out ("all the lights except the kitchen") are beyond
# the device; taken as a template match they did the opposite of what was asked (the kitchen lights
# alone off).
_EXCLUSION_RE = re.compile(r"\b(except|excluding|apart from|other than|but not)\b", re.IGNORECASE)
# A request of the home for later at a set time ("turn on the lights at 7 pm", "... tomorrow") was
# carried out at once; the device can only do it now or after a while ("in 2 hours").
_SCHEDULED_RE = re.compile(r"\b(tomorrow|tonight|this (morning|afternoon|evening)|"
                           r"at \d{1,2}(:\d\d)? ?(am|pm|o'clock)|at \d{1,2}:\d\d)\b", re.IGNORECASE)
# "Don't turn off the TV" was turned off. Not understood rather than "okay": Whisper also hears an
# espeak voice's "turn" as "don't", and "okay" would then sound as if it had been done.
_NEGATED_RE = re.compile(r"^(please )?(don't|do not)\b", re.IGNORECASE)
# "Turn up the heating by 2 degrees" matched as a setting of 2 degrees: a change said with "by" is
# not the value to set (the device has no relative temperature).
_CHANGE_BY_RE = re.compile(r"\bby (-)?\d", re.IGNORECASE)
# Fractions said in words: "a quarter of an hour", "a half hour", "three quarters of an hour", "an
# hour and a quarter", "2 and a quarter hours". The timer sentences know only "half an hour" and
# "... and a half"; the rest they matched as one hour (the fraction skipped), a confident wrong timer.
_SPOKEN_FRACTIONS = {"half": 0.5, "quarter": 0.25, "three quarter": 0.75, "three quarters": 0.75,
                     "3 quarter": 0.75, "3 quarters": 0.75}  # a transcript has its numbers in digits
_FRACTION_WORDS = r"(half|quarter|(?:three|3) quarters?)"
_WHOLE_AND_FRACTION_RE = re.compile(  # "an hour and a quarter", "2 minutes and a half"
    rf"\b(\d+|an?|one) (hour|minute)s? and (?:a )?{_FRACTION_WORDS}\b", re.IGNORECASE)
_WHOLE_AND_FRACTION_UNIT_RE = re.compile(  # "2 and a quarter hours"
    rf"\b(\d+|one) and (?:a )?{_FRACTION_WORDS} (hour|minute)s?\b", re.IGNORECASE)
_FRACTION_OF_UNIT_RE = re.compile(  # "a quarter of an hour", "a half hour", "half a minute" (not "... and a half")
    rf"(?<!and )(?<!and a )\b((?:a|one|1) )?{_FRACTION_WORDS}(?: of)?(?: an?)? (hour|minute)s?\b( timer)?",
    re.IGNORECASE)
# A greedy free-text template ("what is {query}"; its block's metadata has check_free_text: true)
# is taken only if its free text is about the user or someone they know ("my keys", "Amy's
# birthday") or the neural head finds its intent at least this likely: "what's the weather
# tomorrow" fits the words of "what's {query}" but not its meaning.
CHECK_FREE_TEXT_KEY = "check_free_text"
FREE_TEXT_MIN_PROBABILITY = 0.1
# Free text that is only a pronoun says nothing to remember, recall or forget ("forget that").
# Not "me": "what do you know about me" asks about the user.
_PRONOUNS = {"it", "that", "this", "them", "those", "these", "you", "him", "her"}
_PERSONAL_WORDS = {"i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "myself", "our", "ours", "we", "we're"}
# Contractions that end like a possessive ("what's") but say nothing about anyone.
_NOT_POSSESSIVE = {"it's", "that's", "what's", "there's", "here's", "where's", "when's", "who's", "how's", "let's", "he's", "she's"}

# Written here, not taken from any test set: things people say near a speaker that are not
# requests, so the head learns an "out of scope" class besides gibberish.
_OUT_OF_SCOPE = [
    "the cat is asleep on the sofa", "let's go to the beach this weekend", "the football was fun yesterday",
    "I am reading a book about history", "the quick brown fox jumps over the lazy dog",
    "she said she would call later", "we had pasta for dinner", "my back hurts a bit today",
    "the train was late again", "I think it might be a good idea", "he bought a new bicycle",
    "can you believe that", "this soup needs more salt", "they are coming over on friday",
    "I forgot my umbrella at work", "the kids are playing in the garden", "the neighbours are loud",
    "that movie was way too long", "we should paint the fence", "elephants are very big animals",
    "how do you make a cake from scratch", "why is the sky blue", "write me a poem about the sea",
    "translate good morning into french", "who won the world cup in nineteen ninety",
    "tell me a joke about penguins", "order a pizza from the place downtown", "book a flight to rome",
    "send an email to my boss", "what's the capital of australia", "how far away is the moon",
    "um", "uh huh", "hmm let me think", "okay so anyway", "and then he said", "no I mean the other one",
    # Questions about the world, which "what is {query}" would otherwise take for memory questions.
    "what will the weather be like on saturday", "is it going to rain at the weekend",
    "what's the forecast for next week", "how cold will it be tonight", "what's in the news",
    # HA's weather intent tells the weather now; a forecast for another day is not understood.
    "what's the weather going to be like on sunday", "will it be sunny tomorrow", "what's the weather next week",
    "what will the weather be tomorrow morning", "tomorrow's forecast", "what's the weather doing on monday",
    "what is the weather like over the weekend",
    "who is the president of france", "what's the population of china", "what was the final score",
    "what is the square root of two", "when does the supermarket close", "when is the next train to leeds",
    "where is the nearest pharmacy", "what's the tallest mountain in the world", "what is a black hole",
    "what's the exchange rate for the dollar", "what is the speed of light", "where was shakespeare born",
]


@dataclass
class Understanding:
    """What an utterance means: the intent (None if not understood), its slots, how sure, how fast."""

    text: str
    intent: str | None
    slots: dict[str, Any]
    confidence: float
    elapsed_ms: float
    # Why a request of the home was not taken although its words matched one: "leaves_out" ("all the
    # lights except the kitchen"), "set_time" ("... at 7 pm"), "not_as_said" ("don't ...", "by 2
    # degrees"); "" otherwise. The conversation says why, where it can.
    declined: str = ""
    # The words are one of the templates word for word, no free text in them (Home Assistant's,
    # the device's or the user's): a mishearing rarely lands on one exactly.
    exact_template: bool = False


@dataclass
class _Heads:
    labels: list[str]
    head: OnnxHead
    vectors: np.ndarray  # unit embeddings of the training sentences [N, 384]
    label_ids: np.ndarray  # [N]
    frames: list[tuple[str, ...]]
    sources: list[dict[str, set[str]]]  # per training sentence: slot -> list its value came from
    fixed: list[dict[str, Any]]
    template_words: dict[str, set[str]]
    piece_index: dict[int, int]  # word-piece id -> row of the head's token weights (0 = unseen)
    slot_sources: dict[str, dict[str, set[str]]]  # intent -> slot -> lists its values come from

    def probabilities(self, embedding: np.ndarray, piece_ids: list[int]) -> np.ndarray:
        """The intent head's probabilities for one sentence."""
        rows = np.array(sorted({self.piece_index.get(i, 0) for i in piece_ids}), dtype=np.int64)
        return self.head(embedding, rows)[0]


@dataclass
class _Engine:
    """Everything one understanding needs; replaced whole, so a reload is one atomic swap."""

    sentences: SentenceSet
    ha_intents: Intents
    own_intents: Intents
    home: Home
    slot_lists: dict[str, Any]
    heads: _Heads
    custom_dir: Path | None
    vocabulary: SlotVocabulary | None = None
    ha_free_text: Intents | None = None  # Home Assistant's templates that take free text
    # The command grammar of these sentences and this home, once built (grammar_text()): the
    # sentences of the templates that take no free text, word for word.
    command_grammar: CommandGrammar | None = None


class DialogueModel:
    """Words -> intent and slots, for one home, trained from sentence templates.

    >>> model = DialogueModel.load(Path("/tmp/state"), None, Home.from_dicts([]))  # doctest: +SKIP
    >>> model.understand("set a pasta timer for nine minutes").slots                # doctest: +SKIP
    {'name': 'pasta', 'minutes': 9}
    """

    def __init__(self, state_dir: Path, encoder: SentenceEncoder, engine: _Engine, language: str) -> None:
        self.state_dir = Path(state_dir)
        self.language = language
        self._encoder = encoder
        self._warm_up(engine)
        self._engine = engine
        self._reload_lock = threading.Lock()

    # --- building ------------------------------------------------------------------------------

    @classmethod
    def load(
        cls, state_dir: Path, custom_sentences_dir: Path | None, home: Home, language: str = "en"
    ) -> "DialogueModel":
        """Load the model for these sentences from ``state_dir``, training it first if needed."""
        encoder = SentenceEncoder(ENCODER_DIR)
        sentences = load_sentences(custom_sentences_dir, language)
        engine = _build_engine(Path(state_dir), encoder, sentences, home, custom_sentences_dir)
        return cls(Path(state_dir), encoder, engine, language)

    def reload(self, custom_sentences_dir: Path | None = None, home: Home | None = None) -> None:
        """Re-read the sentences (and retrain if they changed), then swap the new model in.

        A bad sentence file raises :class:`SentenceError` and the current model keeps serving.
        """
        with self._reload_lock:
            old = self._engine
            custom_dir = Path(custom_sentences_dir) if custom_sentences_dir is not None else old.custom_dir
            sentences = load_sentences(custom_dir, self.language)
            engine = _build_engine(self.state_dir, self._encoder, sentences, home or old.home, custom_dir)
            self._warm_up(engine)
            self._engine = engine

    def set_home(self, home: Home) -> None:
        """Use this home's names from now on (no retraining: the heads do not depend on names)."""
        engine = self._engine
        # The command grammar holds the old home's names: it is built again for the new one.
        engine = dataclasses.replace(engine, home=home, slot_lists=_slot_lists(engine.sentences, home),
                                     command_grammar=None)
        self._warm_up(engine)
        self._engine = engine

    # --- using ---------------------------------------------------------------------------------

    def understand(self, text: str, context: dict[str, Any] | None = None) -> Understanding:
        """What ``text`` means. ``context`` may carry the speaker's ``area`` (a name in the home)."""
        # One engine for the whole call, even if a reload swaps in another meanwhile.
        return self._understand(self._engine, text, context)

    def _understand(self, engine: _Engine, text: str, context: dict[str, Any] | None) -> Understanding:
        started = time.perf_counter()
        said = normalise_text(text, durations=False)
        text = normalise_text(text)
        if not _WORD_RE.search(text):
            return Understanding(text, None, {}, 0.0, _ms(started))
        intent_context = dict(context or {})
        embedding, piece_ids = self._encoder.encode_with_pieces(text)
        probs = engine.heads.probabilities(embedding, piece_ids)
        try:
            matched = self._match_templates(engine, text, intent_context, probs, said)
        except Exception:  # a template hassil cannot use must not take understanding down
            _LOGGER.exception("Template matching failed for %r; using the neural model alone", text)
            matched = None
        exact_template = matched is not None and matched[2] == TEMPLATE_CONFIDENCE
        if matched is not None:
            intent, slots, confidence = matched
        else:
            intent, slots, confidence = self._neural(engine, text, embedding, intent_context, probs)
            if confidence < CONFIDENCE_MIN:
                intent, slots = None, {}
            confidence = round(confidence, 3)
        if intent is not None and "Timer" in intent and isinstance(slots.get("name"), str):
            slots = _with_timer_name(slots)  # matched by a template or filled by the neural model alike
        if intent == "HassGetState" and slots.get("domain") == "person" and isinstance(slots.get("state"), str):
            slots = _with_zone_name(slots)
        declined = _declined(intent, text) if intent is not None else ""
        if declined:
            intent, slots, confidence, exact_template = None, {}, 0.0, False
        return Understanding(text, intent, slots, confidence, _ms(started), declined, exact_template)

    def grammar(self):
        """The sentences the model knows with this home's names, as a word graph for the listener
        (services.command_grammar.WordGraph, minimized; wildcard sentences left out)."""
        from .grammar import command_grammar

        engine = self._engine
        return command_grammar([engine.own_intents, engine.ha_intents], engine.slot_lists).minimized()

    def grammar_text(self) -> str:
        """grammar() in the file form, built in a process of its own (see grammar_text_in_child).

        The model keeps it too, to know where templates can match (_match_templates)."""
        from .grammar import grammar_text_in_child

        engine = self._engine
        text = grammar_text_in_child([engine.sentences.own, engine.sentences.ha], engine.slot_lists)
        grammar = CommandGrammar.from_text(text)
        with self._reload_lock:
            if self._engine is engine:  # not for a model reloaded, or a home changed, meanwhile
                self._engine = dataclasses.replace(engine, command_grammar=grammar)
        return text

    @property
    def command_grammar(self) -> CommandGrammar | None:
        """The grammar grammar_text() built last, while it still fits the sentences and the home."""
        return self._engine.command_grammar

    def phrases(self) -> list[str]:
        """Phrases the model knows, with this home's names (bounded; for STT grammars and prompts)."""
        engine = self._engine
        return own_phrases(engine.sentences, engine.home)

    def list_values(self, name: str) -> tuple[str, ...]:
        """The values of a slot list as said ("color": "red", "blue", ...): Home Assistant's, or the
        device's or user's where they define it."""
        values = self._engine.sentences.own.get("lists", {}).get(name, {}).get("values", [])
        return tuple(value if isinstance(value, str) else str(value.get("in", "")) for value in values)

    # --- internals -----------------------------------------------------------------------------

    def _warm_up(self, engine: _Engine) -> None:
        """hassil builds its indexes on first use; do that before the engine serves anyone."""
        for text in WARM_UP_TEXTS:
            self._understand(engine, text, None)

    def _match_templates(self, engine: _Engine, text: str, context: dict[str, Any], probs: np.ndarray,
                         said: str | None = None):
        """Exact template match: the device's and user's sentences first, then Home Assistant's.

        The device's and user's sentences are tried on the words as ``said`` first (a user's list
        may hold "half an hour", which ``text`` has as "30 minutes"; a fact keeps its wording), then
        on ``text``. Home Assistant's templates are tried first only for the intents the neural head
        finds plausible (the bulk of hassil's time is spent failing on the others), then all of them.
        """
        for own_text in dict.fromkeys([said or text, text]):
            own = recognize_best(
                own_text, engine.own_intents, slot_lists=engine.slot_lists, intent_context=context,
                language=self.language, best_slot_name="name",
            )
            if own is not None:
                break
        own_wild = own is not None and any(e.is_wildcard for e in own.entities.values())
        if own_wild and not self._free_text_fits(engine, own, own_text, probs):
            own, own_wild = None, False
        if own is not None and not own_wild and own.intent.name not in engine.ha_intents.intents:
            return own.intent.name, _slot_values(own, own_text), TEMPLATE_CONFIDENCE
        labels = engine.heads.labels
        likely = [labels[i] for i in np.argsort(-probs)[:GATE_TOP] if probs[i] >= GATE_MIN_PROBABILITY]
        likely = [name for name in likely if name in engine.ha_intents.intents]
        ha = None
        first = _subset(engine.ha_intents, likely) if likely else None
        for intents in (first, _templates_that_can_match(engine, text)):
            if intents is None:
                continue
            ha = recognize_best(
                text, intents, slot_lists=engine.slot_lists, intent_context=context,
                language=self.language, best_slot_name="name",
            )
            if ha is not None and intents is first and find_duration(text):
                # "open the garage door in 5 minutes" is a delayed command (HassStartTimer), not
                # "open the garage door": a duration the match left unused needs every intent.
                if not any(e.name in _DURATION_SLOTS for e in ha.entities.values()):
                    continue
            if ha is not None:
                break
        if own is not None and not own_wild and (ha is None or _exact_slots(ha) <= _exact_slots(own)):
            # The device's own wording of an HA intent, unless HA's adds slots (e.g. the area).
            return own.intent.name, _slot_values(own, own_text), TEMPLATE_CONFIDENCE
        if ha is not None:
            wild = any(e.is_wildcard for e in ha.entities.values())
            return ha.intent.name, _slot_values(ha), WILDCARD_TEMPLATE_CONFIDENCE if wild else TEMPLATE_CONFIDENCE
        if own is not None:
            return own.intent.name, _slot_values(own, own_text), WILDCARD_TEMPLATE_CONFIDENCE
        return None

    @staticmethod
    def _free_text_fits(engine: _Engine, result: Any, text: str, probs: np.ndarray) -> bool:
        """Whether a free-text match of the device's or user's templates means what it says."""
        wild = [e.text.strip().lower() for e in result.entities.values() if e.is_wildcard]
        if any(not value or value in _PRONOUNS for value in wild):
            return False
        metadata = result.intent_metadata or {}
        if not metadata.get(CHECK_FREE_TEXT_KEY):
            return True
        # A statement kept whole ("I'm allergic to cats") is about the user by its own words.
        if _is_personal(text if metadata.get(WHOLE_UTTERANCE_KEY) else " ".join(wild)):
            return True
        labels = engine.heads.labels
        name = result.intent.name
        return name not in labels or float(probs[labels.index(name)]) >= FREE_TEXT_MIN_PROBABILITY

    def _neural(self, engine: _Engine, text: str, embedding: np.ndarray, context: dict[str, Any], probs=None):
        heads = engine.heads
        if probs is None:
            probs = heads.probabilities(embedding, self._encoder.pieces(text))
        best = int(np.argmax(probs))
        label = heads.labels[best]
        if label == NONE_LABEL:
            return None, {}, 0.0
        sims = heads.vectors @ embedding
        own = np.flatnonzero(heads.label_ids == best)
        ranked = own[np.argsort(-sims[own])]
        order = [int(i) for i in ranked[:NEIGHBOURS]]
        nearest = float(sims[order[0]]) if len(order) else 0.0
        closeness = float(np.clip((nearest - SIMILARITY_FAR) / (SIMILARITY_CLOSE - SIMILARITY_FAR), 0.0, 1.0))
        mentions = engine.home.mentions(text)
        # A statement that is itself the slot ("I take my tea with milk"), if most of the nearest
        # sentences are such statements; else only frames with slots of their own ("remember
        # that ...") are tried.
        wholes = [heads.fixed[i].get(WHOLE_UTTERANCE_FIXED) for i in order]
        # The commonest among them; a tie goes to the nearest sentence (a max over a set would leave
        # it to Python's string hashing, which differs from run to run).
        whole = max(wholes, key=wholes.count) if wholes else None
        if not whole and any(wholes):
            order = [i for i in order if not heads.fixed[i].get(WHOLE_UTTERANCE_FIXED)]
            ranked = np.array([i for i in ranked if not heads.fixed[i].get(WHOLE_UTTERANCE_FIXED)], dtype=np.int64)
        # Of the nearest sentences' frames, the one the words fill best and explain most.
        best_slots: dict[str, Any] = {}
        best_fill, best_key = 0.0, (False, False, -1, -1.0)
        for rounds, candidates in enumerate((order, _home_frames(ranked, heads, NEIGHBOURS) if mentions else [])):
            if whole or rounds and _HOME_SLOTS & set(best_slots):
                break  # the near frames used the names said; farther ones are not needed
            for index in candidates:
                slots, fill, found = fill_slots(
                    text, label, heads.frames[index], heads.fixed[index], engine.home,
                    heads.template_words.get(label, set()), engine.vocabulary, context, heads.sources[index],
                    mentions,
                )
                # As HA's matcher does, a frame naming a device beats one describing it.
                key = (fill >= 1.0, "name" in slots and slots["name"] != "all", found, fill)
                if key > best_key:
                    best_slots, best_fill, best_key = slots, fill, key
        if whole:
            best_slots, best_fill = {whole: text}, 1.0
        confidence = float(probs[best]) * (0.6 + 0.4 * closeness) * (0.5 + 0.5 * max(best_fill, 0.0))
        if not _has_request_words(text, mentions):
            confidence *= BARE_NAME_FACTOR  # "bedroom" alone names a place, asks for nothing
        if label in engine.sentences.custom_intents and _required_slots(heads, own) - set(best_slots):
            # A user's intent goes to the hub as it is, and no one there can ask "which zone?":
            # without a value every one of its sentences has, it is not understood.
            return None, {}, 0.0
        return label, best_slots, confidence


def own_phrases(sentences: SentenceSet, home: Home | None = None) -> list[str]:
    """The phrases of these sentences, with the home's names (generic ones without a home), bounded."""
    examples = sample_examples(sentences, seed=11, home=home)
    texts = sorted({e.text for e in examples})
    if len(texts) > MAX_PHRASES:
        texts = sorted(random.Random(3).sample(texts, MAX_PHRASES))
    return texts


_HOME_SLOTS = {"name", "area", "floor"}


def _home_frames(ranked: np.ndarray, heads: _Heads, count: int) -> list[int]:
    """The nearest training sentences naming things in the home, one per slot frame: many near
    sentences without a name ("turn it off", "switch that off") must not hide the frame that
    fits when a name was said ("shut off the coffee maker")."""
    chosen, seen = [], set()
    for index in ranked:
        key = (heads.frames[index], tuple(sorted(heads.fixed[index].items())))
        if key not in seen and _HOME_SLOTS & set(heads.frames[index]):
            seen.add(key)
            chosen.append(int(index))
            if len(chosen) == count:
                break
    return chosen


def _required_slots(heads: _Heads, examples: np.ndarray) -> set[str]:
    """The slots every training sentence of these (one intent's) has."""
    frames = [set(heads.frames[int(i)]) for i in examples]
    return set.intersection(*frames) if frames else set()


def _has_request_words(text: str, mentions: list[Any]) -> bool:
    """Whether anything but names of the home's things and places was said."""
    words = _norm(text).split()
    named = {i for m in mentions for i in range(m.start, m.end)}
    return any(i not in named and w not in ("the", "a", "my", "please") for i, w in enumerate(words))


def _templates_that_can_match(engine: _Engine, text: str) -> Intents:
    """Home Assistant's templates to try when those of the head's likeliest intents matched nothing:
    all of them, unless the command grammar says the text is no sentence of the templates without
    free text; then only the templates with free text can match. (Trying all of them on a misheard
    reading, which most often matches nothing, was most of the time it took to understand it.)

    The grammar lacks the words the templates let anyone add ("please", "can you"): with one of
    them said, all are tried. (It also holds at most 20 ways of saying one name: a name said in
    a 21st way is found among the head's likeliest intents only.)"""
    if (engine.command_grammar is None or _says_skip_words(text, engine.ha_intents.skip_words)
            or engine.command_grammar.accepts(text)):
        return engine.ha_intents
    return engine.ha_free_text


def _says_skip_words(text: str, skip_words: list[str]) -> bool:
    padded = f" {' '.join(text.lower().split())} "
    return any(f" {words} " in padded for words in skip_words)


def _subset(intents: Intents, names: list[str]) -> Intents:
    return Intents(
        language=intents.language,
        intents={name: intents.intents[name] for name in names},
        slot_lists=intents.slot_lists,
        expansion_rules=intents.expansion_rules,
        skip_words=intents.skip_words,
        settings=intents.settings,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


_DURATION_SLOTS = {"hours", "minutes", "seconds", "start_hours", "start_minutes", "start_seconds"}


def _exact_slots(result: Any) -> int:
    return sum(not e.is_wildcard for e in result.entities.values())


def _declined(intent: str, text: str) -> str:
    """Why a request of the home (Home Assistant's intents that change something, not questions)
    cannot be carried out as said (Understanding.declined), or "". Her own intents keep such words:
    "remember that I eat anything except fish"."""
    if (not intent.startswith("Hass") or intent.startswith("HassGet")
            or intent in ("HassNevermind", "HassRespond", "HassTimerStatus")):
        return ""
    if _EXCLUSION_RE.search(text):
        return "leaves_out"
    if _SCHEDULED_RE.search(text) and "Timer" not in intent:
        return "set_time"
    if _NEGATED_RE.search(text) or (intent == "HassClimateSetTemperature" and _CHANGE_BY_RE.search(text)):
        return "not_as_said"
    return ""


def _is_personal(text: str) -> bool:
    """Whether the words are about the user or someone's things: "my keys", "Amy's birthday"."""
    words = text.lower().split()
    return any(w in _PERSONAL_WORDS or (w.endswith("'s") and w not in _NOT_POSSESSIVE) for w in words)


def normalise_text(text: str | None, durations: bool = True) -> str:
    """The words as said: transcriber punctuation out, spaces tidied, case and apostrophes kept;
    with ``durations``, durations in the whole units the timer sentences take ("1.5 hours", "a
    quarter of an hour", "5 mins").

    >>> normalise_text("Set a timer.  ")
    'Set a timer'
    >>> normalise_text("Volume -10, please!")
    'Volume -10 please'
    """
    text = _THOUSANDS_COMMA_RE.sub("", (text or "").replace("’", "'"))
    if durations:
        text = _FRACTION_DURATION_RE.sub(_fraction_duration, text)
        text = _DECIMAL_DURATION_RE.sub(_decimal_duration, text)
        text = _spoken_fraction_durations(text)
        text = _UNIT_ABBREVIATION_RE.sub(lambda m: f"{m.group(1)} {_UNIT_ABBREVIATIONS[m.group(2).lower()]}", text)
        text = _A_COUPLE_RE.sub(r"2 \1", text)
    return " ".join(_PUNCTUATION_RE.sub(" ", text).split())


def _spoken_fraction_durations(text: str) -> str:
    """'a quarter of an hour' -> '15 minutes', 'an hour and a quarter' -> '1 hour and 15 minutes'."""
    def whole(word: str) -> int:
        return int(word) if word.isdigit() else 1  # "an hour", "one minute"

    text = _WHOLE_AND_FRACTION_RE.sub(lambda m: _in_whole_units(
        whole(m.group(1)), _SPOKEN_FRACTIONS[m.group(3).lower()], m.group(2)), text)
    text = _WHOLE_AND_FRACTION_UNIT_RE.sub(lambda m: _in_whole_units(
        whole(m.group(1)), _SPOKEN_FRACTIONS[m.group(2).lower()], m.group(3)), text)
    return _FRACTION_OF_UNIT_RE.sub(_fraction_of_unit, text)


def _fraction_of_unit(match: re.Match) -> str:
    """'a quarter of an hour' -> '15 minutes'; 'a half hour timer' -> 'a 30 minute timer'."""
    article, fraction, unit, timer = match.groups()
    duration = _in_whole_units(0, _SPOKEN_FRACTIONS[fraction.lower()], unit)
    if timer:  # said before the noun, the unit is singular and "a" stays ("a half hour timer")
        kept = article if article and article.strip().lower() == "a" else ""
        return f"{kept}{duration.removesuffix('s')}{timer}"
    return duration


def _fraction_duration(match: re.Match) -> str:
    """'2 1/2 minutes' -> '2 minutes and 30 seconds', '3/4 hours' -> '45 minutes'."""
    numerator, denominator = int(match.group(2)), int(match.group(3))
    if not denominator or numerator >= denominator:
        return match.group(0)
    return _in_whole_units(int(match.group(1) or 0), numerator / denominator, match.group(4))


def _decimal_duration(match: re.Match) -> str:
    """'1.5 hours' -> '1 hour and 30 minutes', '0.5 minutes' -> '30 seconds'."""
    return _in_whole_units(int(match.group(1)), float("0." + match.group(2)), match.group(3))


def _in_whole_units(whole: int, fraction: float, unit: str) -> str:
    """A duration of whole + fraction units, as whole units and the next smaller one."""
    unit = unit.lower()
    part = round(fraction * 60)
    smaller = f"{part} {_SMALLER_UNIT[unit]}{'s' if part != 1 else ''}"
    if not whole:
        return smaller
    larger = f"{whole} {unit}{'s' if whole != 1 else ''}"
    return f"{larger} and {smaller}" if part else larger


def _slot_values(result: Any, text: str = "") -> dict[str, Any]:
    whole = (result.intent_metadata or {}).get(WHOLE_UTTERANCE_KEY) if text else None
    if whole:
        return {whole: text}  # the statement itself: "I like my coffee black"
    slots = {}
    for entity in result.entities.values():
        value = entity.value
        if isinstance(value, str) and entity.is_wildcard:
            value = value.strip()
        elif isinstance(value, float) and value.is_integer():
            value = int(value)  # "5 minutes" is 5, not 5.0
        slots[entity.name] = value
    return slots


# Words a timer's name does not start with. "{name} timer" takes the words before "timer": "the pizza
# timer" is the timer "pizza", and "your timer" is no named timer at all (named "your", it would be a
# timer no one asked for or can find). "timer {name}" takes the words after it: Whisper often writes
# "timer named pizza" as "timer name pizza", and the timer is "pizza", not "name pizza".
_TIMER_NAME_LEADING_WORDS = frozenset("the a an my your our this that name named called".split())


def _with_timer_name(slots: dict[str, Any]) -> dict[str, Any]:
    """The slots with the timer's name without its leading article or naming word (none left: no
    name, as in "pause your timer")."""
    return _without_leading_words(slots, "name", _TIMER_NAME_LEADING_WORDS)


# Words a place a person is at (a zone, "who is at home") does not start with. Home Assistant's
# "who is [in|at] [the] {zone}" takes any words as the zone, and Whisper often hears "at" as "it":
# "who is it home" asks who is home, not who is at a zone called "it home".
_ZONE_LEADING_WORDS = frozenset("the a an it at in".split())


def _with_zone_name(slots: dict[str, Any]) -> dict[str, Any]:
    """The slots with the zone asked about (a person's state) without a leading small word (kept
    as heard when nothing else is left: "who is it")."""
    stripped = _without_leading_words(slots, "state", _ZONE_LEADING_WORDS)
    return stripped if "state" in stripped else slots


def _without_leading_words(slots: dict[str, Any], slot: str, leading: frozenset[str]) -> dict[str, Any]:
    """The slots with ``slot``'s text value stripped of its leading ``leading`` words; with none
    left, without the slot."""
    words = slots[slot].split()
    while words and words[0].lower() in leading:
        words.pop(0)
    rest = {key: value for key, value in slots.items() if key != slot}
    return rest | {slot: " ".join(words)} if words else rest


def _slot_lists(sentences: SentenceSet, home: Home) -> dict[str, Any]:
    """The home's {name}/{area}/{floor} lists (HA's own lists come with the templates)."""
    return home.slot_lists()


def _gibberish(count: int, vocab: list[str], seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = []
    for i in range(count):
        if i % 3 == 0:
            out.append(" ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 8))) for _ in range(rng.randint(1, 5))))
        else:
            out.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 6))))
    return out


def _negative_examples(encoder: SentenceEncoder) -> list[str]:
    vocab = [w for w in encoder.tokenizer.get_vocab() if w.isalpha() and len(w) > 3]
    vocab.sort()
    return _OUT_OF_SCOPE + _gibberish(1200, vocab)


def _by_slot(pairs: tuple[tuple[str, str], ...]) -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for slot, list_name in pairs:
        table.setdefault(slot, set()).add(list_name)
    return table


def _slot_sources(examples: list[Example]) -> dict[str, dict[str, set[str]]]:
    sources: dict[str, dict[str, set[str]]] = {}
    for example in examples:
        for slot, list_name in example.sources:
            sources.setdefault(example.intent, {}).setdefault(slot, set()).add(list_name)
    return sources


def _template_words(examples: list[Example]) -> dict[str, set[str]]:
    """Per intent, the words of its fixed wording (to cut wildcard values out of paraphrases)."""
    words: dict[str, set[str]] = {}
    for example in examples:
        words.setdefault(example.intent, set()).update(example.literal.lower().split())
    for table in words.values():
        table |= {"please", "can", "you", "could", "would", "samantha", "hey", "ok", "okay"}
    return words


def _build_engine(
    state_dir: Path, encoder: SentenceEncoder, sentences: SentenceSet, home: Home, custom_dir: Path | None
) -> _Engine:
    try:
        ha_intents = Intents.from_dict(sentences.ha)
        own_intents = Intents.from_dict(sentences.own)
    except Exception as err:  # a custom file that parses as YAML but not as templates
        raise SentenceError(custom_dir or "sentences", None, str(err)) from None
    heads = _load_or_train(state_dir, encoder, sentences)
    phrases, wildcards = list_phrases(ha_intents)
    own_phrases, own_wildcards = list_phrases(own_intents)
    # A user's list named like one of Home Assistant's wildcards ("zone") is their list of values:
    # its slot is filled from those values, never with whatever words stand there.
    vocabulary = SlotVocabulary({**phrases, **own_phrases}, (wildcards - own_phrases.keys()) | own_wildcards,
                                heads.slot_sources)
    return _Engine(
        sentences, ha_intents, own_intents, home, _slot_lists(sentences, home), heads, custom_dir, vocabulary,
        free_text_templates(ha_intents),
    )


def nlu_dir(state_dir: Path) -> Path:
    """Where trained heads and sentence embeddings are kept: the state folder, or a folder shared
    by many state folders ($SAMANTHA_NLU_CACHE; the test suite trains once for all its tests).
    Everything in it is keyed by the sentences' fingerprint, so sharing it is safe."""
    shared = os.environ.get(NLU_CACHE_ENV)
    return Path(shared) if shared else state_dir / "nlu"


def _load_or_train(state_dir: Path, encoder: SentenceEncoder, sentences: SentenceSet) -> _Heads:
    fingerprint = (f"{HEAD_FORMAT}-{sentences.fingerprint()}-{heard_file_digest()}"
                   f"-{int(LEARN_HEARD_PIECES)}{int(LEARN_LOST_COMMANDS)}")
    heads_dir = nlu_dir(state_dir) / "heads" / fingerprint
    meta_path = heads_dir / "heads.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("fingerprint") == fingerprint:
            os.utime(meta_path)  # recently used: kept by _prune_heads
            return _read_heads(heads_dir, meta)
    except (OSError, ValueError, KeyError):
        pass
    started = time.perf_counter()
    templated = sample_examples(sentences)
    labels = sorted({e.intent for e in templated}) + [NONE_LABEL]
    # Misheard training sentences: the head learns them all; the nearest-sentence table (whose
    # slot frames the slot filler copies) only those whose slot words were heard as said.
    slots_heard, intent_only = [], []
    for variant in load_heard_variants(set(labels)):
        example = dataclasses.replace(variant.example, text=normalise_text(variant.example.text))
        if _WORD_RE.search(example.text):
            (slots_heard if variant.slots_survived else intent_only).append(example)
    examples = templated + slots_heard
    negatives = _negative_examples(encoder)
    if LEARN_LOST_COMMANDS:
        # Commands heard so wrongly that the words no longer ask for them: not understood.
        negatives += [normalise_text(text) for text in load_lost_commands(set(labels))]
    texts = [e.text for e in examples + intent_only] + negatives
    index = {name: i for i, name in enumerate(labels)}
    y = np.array([index[e.intent] for e in examples + intent_only] + [index[NONE_LABEL]] * len(negatives),
                 dtype=np.int64)
    cache = EmbeddingCache(nlu_dir(state_dir) / "embeddings.npz", _manifest_sha())
    x = cache.embed(encoder, texts, progress=True)
    try:
        cache.save()
    except OSError as err:
        _LOGGER.warning("Could not keep the sentence embeddings in %s: %s", cache.path, err)
    piece_lists = [encoder.pieces(t) for t in texts]
    # Word pieces of the templates (and, if so chosen, of misheard ones): gibberish must not teach
    # the head any word.
    taught = len(examples) + len(intent_only) if LEARN_HEARD_PIECES else len(templated)
    seen = sorted({p for pieces in piece_lists[:taught] for p in pieces})
    piece_index = {piece: row for row, piece in enumerate(seen, start=1)}
    tokens = [np.array(sorted({piece_index.get(p, 0) for p in pieces}), dtype=np.int64) for pieces in piece_lists]
    w, w_tok, b = train_softmax(x, tokens, len(seen) + 1, y, len(labels), progress=True)
    head_bytes = softmax_head_onnx(w, w_tok, b)
    n = len(examples)
    heads = _Heads(
        labels=labels,
        head=OnnxHead(head_bytes),
        vectors=x[:n].astype(np.float32),
        label_ids=y[:n],
        frames=[e.frame for e in examples],
        sources=[_by_slot(e.sources) for e in examples],
        fixed=[dict(e.fixed) for e in examples],
        template_words=_template_words(templated),
        piece_index=piece_index,
        slot_sources=_slot_sources(templated),
    )
    try:
        _write_heads(heads_dir, fingerprint, head_bytes, heads)
        _prune_heads(heads_dir.parent)
    except OSError as err:  # a read-only state dir costs a retrain next start, nothing more
        _LOGGER.warning("Could not keep the trained heads in %s: %s", heads_dir, err)
    _LOGGER.info("Trained the dialogue model on %d sentences (%d of them misheard variants) in %.1f s",
                 len(texts), len(slots_heard) + len(intent_only), time.perf_counter() - started)
    return heads


def _prune_heads(parent: Path) -> None:
    """Keep the heads of the last few sentence sets (switching back is then instant)."""
    kept = sorted(
        (d for d in parent.iterdir() if (d / "heads.json").exists()),
        key=lambda d: (d / "heads.json").stat().st_mtime,
        reverse=True,
    )
    for stale in kept[HEADS_KEPT:]:
        for path in stale.iterdir():
            path.unlink()
        stale.rmdir()


def _manifest_sha() -> str:
    """The encoder's identity: the sha256s models/manifest.toml gives its files (other files listed
    there, such as the heard sentences, do not change what a sentence's embedding is)."""
    import hashlib
    import tomllib

    manifest = ENCODER_DIR.parent / "manifest.toml"
    entries = tomllib.loads(manifest.read_text(encoding="utf-8")).get("file", []) if manifest.exists() else []
    shas = sorted(e["sha256"] for e in entries if e["path"].startswith(ENCODER_DIR.name + "/"))
    return hashlib.sha256(" ".join(shas).encode()).hexdigest()[:16]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)
    os.replace(tmp, path)


def _write_heads(nlu_dir: Path, fingerprint: str, head_bytes: bytes, heads: _Heads) -> None:
    nlu_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(nlu_dir / "intent_head.onnx", head_bytes)
    fd, tmp = tempfile.mkstemp(dir=nlu_dir, suffix=".npz")
    os.close(fd)
    np.savez(tmp, vectors=heads.vectors.astype(np.float16), label_ids=heads.label_ids)
    os.replace(tmp, nlu_dir / "examples.npz")
    meta = {
        "fingerprint": fingerprint,
        "labels": heads.labels,
        "frames": [list(f) for f in heads.frames],
        "sources": [{k: sorted(v) for k, v in table.items()} for table in heads.sources],
        "fixed": heads.fixed,
        "template_words": {k: sorted(v) for k, v in heads.template_words.items()},
        "piece_index": sorted(heads.piece_index.items()),
        "slot_sources": {i: {k: sorted(v) for k, v in t.items()} for i, t in heads.slot_sources.items()},
    }
    # Written last: the heads are only "there" once their metadata names their fingerprint.
    _atomic_write(nlu_dir / "heads.json", json.dumps(meta).encode("utf-8"))


def _read_heads(nlu_dir: Path, meta: dict[str, Any]) -> _Heads:
    with np.load(nlu_dir / "examples.npz") as data:
        vectors = data["vectors"].astype(np.float32)
        label_ids = data["label_ids"]
    return _Heads(
        labels=meta["labels"],
        head=OnnxHead((nlu_dir / "intent_head.onnx").read_bytes()),
        vectors=vectors,
        label_ids=label_ids,
        frames=[tuple(f) for f in meta["frames"]],
        sources=[{k: set(v) for k, v in table.items()} for table in meta["sources"]],
        fixed=meta["fixed"],
        template_words={k: set(v) for k, v in meta["template_words"].items()},
        piece_index={int(k): int(v) for k, v in meta["piece_index"]},
        slot_sources={i: {k: set(v) for k, v in t.items()} for i, t in meta["slot_sources"].items()},
    )
