"""The commands the dialogue model knows, as a word graph the listener holds a hearing against.

Whisper tiny.en hears freely and mishears a synthetic or accented voice ("send the manly lamp to
naps even brightness"). The dialogue model's templates say what a command can be; this graph is
those templates with the home's names and the lists' values filled in (numbers stay a slot). The
listener finds the sentences of the graph nearest to what Whisper heard (word edits, spelling-
weighted) and lets Whisper itself score them on the same audio: a sentence of the grammar that
Whisper finds about as likely as its own reading becomes one more reading for the dialogue to weigh.

Contract (the dialogue service writes, the listener reads): ``<state_dir>/grammar.txt``, UTF-8,
replaced atomically whenever the model changes::

    # comment
    states N                 (numbered 0 .. N-1; 0 is the start)
    final STATE [STATE ...]
    words WORD WORD ...      (plain words, see ``grammar_words``; ``<number>`` is any number said)
    arcs
    FROM TO WORD_NUMBER      (one step a line; -1: a step without a word)
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

_LOGGER = logging.getLogger(__name__)

GRAMMAR_FILE = "grammar.txt"
NUMBER = "<number>"
EMPTY_STEP = -1  # the word number of a step that takes no word
NO_WORD = -3  # the word number of a word no step takes (-2 is the number step of a graph with none)
MAX_ARCS = 2_000_000  # a file larger than this is not a command grammar: refuse it

# Costs of holding a hearing against a sentence: a heard word the sentence lacks, a word of the
# sentence not heard, and (scaled by spelling distance, 0..1) one word heard as another.
DELETE_COST = 1.0
INSERT_COST = 1.0
SUBSTITUTE_SCALE = 1.4
# Whisper splits a word it does not know into two it does ("deactivate" -> "the activate", "disconnected"
# -> "this connected"): two heard words may stand for one word of a sentence, costing the spelling
# distance of the two written together, plus this (so a true two-word hearing still prefers its words).
MERGE_COST = 0.1
MERGE_MAX_DISTANCE = (DELETE_COST - MERGE_COST) / SUBSTITUTE_SCALE
MERGE_MIN_LETTERS = 6  # it is long words Whisper does not know that it splits; short ones it spells
MAX_EXPANSIONS = 10_000  # bounds the search on a long or garbled hearing (median ~40 ms, p95 ~120 ms here)

NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand half".split())
CHARACTERS_AS_WORDS = {"%": "percent", "°": "degrees"}  # written as one character, said as a word
_WORD = re.compile(r"[a-z0-9']+(?:\.[0-9]+)?")


def grammar_words(text: str) -> list[str]:
    """Lower-case words without punctuation; '%' and '°' as words; hyphens split words."""
    text = text.lower()
    for character, word in CHARACTERS_AS_WORDS.items():
        text = text.replace(character, f" {word} ")
    text = re.sub(r"[-_/]", " ", text)
    return [w for w in (m.group().strip("'") for m in _WORD.finditer(text)) if w]


def is_number(word: str) -> bool:
    return word[:1].isdigit() or word in NUMBER_WORDS


def heard_words(text: str) -> list[str]:
    """What was heard, as grammar words, each run of number words made one word ('twenty five')."""
    merged: list[str] = []
    for word in grammar_words(text):
        if merged and is_number(word) and is_number(merged[-1].split()[-1]) and not word[:1].isdigit():
            merged[-1] += " " + word
        else:
            merged.append(word)
    return merged


@dataclasses.dataclass
class WordGraph:
    """A word acceptor: arcs[state] = [(next state, word or None for an empty step)]."""

    start: int = 0
    finals: set[int] = dataclasses.field(default_factory=set)
    arcs: dict[int, list[tuple[int, str | None]]] = dataclasses.field(default_factory=lambda: defaultdict(list))

    @property
    def arc_count(self) -> int:
        return sum(len(out) for out in self.arcs.values())

    def add(self, source: int, target: int, word: str | None) -> None:
        self.arcs[source].append((target, word))

    def determinized(self) -> WordGraph:
        """The same sentences with no empty steps and one arc per word from each state.

        hassil's graph has a branch per template; merged, sentences that start alike share a path,
        which is what keeps the search small. Subset construction; template grammars stay small.
        """
        def closure(states: frozenset[int]) -> frozenset[int]:
            seen, stack = set(states), list(states)
            while stack:
                for target, word in self.arcs.get(stack.pop(), ()):
                    if word is None and target not in seen:
                        seen.add(target)
                        stack.append(target)
            return frozenset(seen)

        first = closure(frozenset([self.start]))
        number = {first: 0}
        result = WordGraph(start=0)
        pending = [first]
        while pending:
            subset = pending.pop()
            source = number[subset]
            if subset & self.finals:
                result.finals.add(source)
            moves: dict[str, set[int]] = defaultdict(set)
            for state in subset:
                for target, word in self.arcs.get(state, ()):
                    if word is not None:
                        moves[word].add(target)
            for word, targets in moves.items():
                target_subset = closure(frozenset(targets))
                if target_subset not in number:
                    number[target_subset] = len(number)
                    pending.append(target_subset)
                result.add(source, number[target_subset], word)
        return result

    def reversed(self) -> WordGraph:
        """The graph read backwards (one new start with empty steps to the old finals)."""
        result = WordGraph(start=-1, finals={self.start})
        for source, arcs in self.arcs.items():
            for target, word in arcs:
                result.add(target, source, word)
        for state in self.finals:
            result.add(-1, state, None)
        return result

    def minimized(self) -> WordGraph:
        """The smallest graph with one arc per word from each state (Brzozowski: reverse and merge, twice)."""
        return self.reversed().determinized().reversed().determinized()

    def to_text(self) -> str:
        """The file form (module doc): states numbered from 0 at the start, arcs in state order."""
        order = {self.start: 0}
        for source in sorted(self.arcs, key=lambda state: (state != self.start, state)):
            order.setdefault(source, len(order))
            for target, _ in self.arcs[source]:
                order.setdefault(target, len(order))
        for state in sorted(self.finals):
            order.setdefault(state, len(order))
        words = sorted({word for arcs in self.arcs.values() for _, word in arcs if word is not None})
        word_ids = {word: index for index, word in enumerate(words)}
        rows = sorted((order[source], order[target], -1 if word is None else word_ids[word])
                      for source, arcs in self.arcs.items() for target, word in arcs)
        return "\n".join([
            "# samantha command grammar: states, words, then one step a line: FROM TO WORD (-1: no word)",
            f"states {len(order)}", "final " + " ".join(str(order[state]) for state in sorted(self.finals)),
            "words " + " ".join(words), "arcs", *(f"{a} {b} {c}" for a, b, c in rows)]) + "\n"

    def compact(self) -> CommandGrammar:
        return CommandGrammar.from_text(self.to_text())


class CommandGrammar:
    """A word graph packed for searching: arcs in flat arrays, words as numbers. Parsed straight into
    arrays: a home's commands take ~1 MB, where Python objects took 10 MB in each service holding them."""

    def __init__(self, states: int, finals: frozenset[int], words: list[str], arcs: np.ndarray) -> None:
        order = np.argsort(arcs[:, 0], kind="stable")
        self._targets = arcs[order, 1].astype(np.int32)
        self._word_ids = arcs[order, 2].astype(np.int32)
        self._offsets = np.searchsorted(arcs[order, 0], np.arange(states + 1))
        self.start = 0
        self.finals = finals
        self.words = words
        self._word_lengths = [len(word) for word in words]
        self.number_id = words.index(NUMBER) if NUMBER in words else -2
        self._word_index: dict[str, int] | None = None  # made on first use: only accepts() needs it

    @classmethod
    def from_text(cls, text: str) -> CommandGrammar:
        """Raises ValueError naming what is wrong."""
        header, separator, body = text.partition("\narcs\n")
        if not separator:
            raise ValueError("no 'arcs' line")
        fields: dict[str, list[str]] = {}
        for line in header.splitlines():
            parts = line.split()
            if parts and not parts[0].startswith("#"):
                fields[parts[0]] = parts[1:]
        try:
            states = int(fields["states"][0])
            finals = frozenset(int(state) for state in fields.get("final", []))
        except (KeyError, IndexError, ValueError):
            raise ValueError("the 'states' and 'final' lines must hold numbers") from None
        words = fields.get("words", [])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy only warns where the text stops being numbers
            try:
                numbers = np.fromstring(body, dtype=np.int64, sep=" ")
            except (DeprecationWarning, ValueError):
                raise ValueError("the arcs must be three whole numbers a line") from None
        if numbers.size % 3:
            raise ValueError("the arcs must be three whole numbers a line")
        arcs = numbers.reshape(-1, 3)
        if len(arcs) > MAX_ARCS:
            raise ValueError(f"more than {MAX_ARCS} arcs")
        if len(arcs) and (arcs[:, :2].min() < 0 or arcs[:, :2].max() >= states
                          or arcs[:, 2].min() < -1 or arcs[:, 2].max() >= len(words)):
            raise ValueError("an arc names a state or word that is not there")
        if any(not 0 <= state < states for state in finals):
            raise ValueError("a final state that is not there")
        return cls(states, finals, words, arcs)

    @property
    def arc_count(self) -> int:
        return len(self._targets)

    def arcs_from(self, state: int) -> zip:
        """(next state, word number) of each step out of a state."""
        low, high = self._offsets[state], self._offsets[state + 1]
        return zip(self._targets[low:high].tolist(), self._word_ids[low:high].tolist())

    def accepts(self, text: str) -> bool:
        """Whether the text is word for word a sentence of the graph (any number where one fits).

        A walk along the words (what nearest() finds at no cost, without its spelling comparisons,
        which the dialogue would pay for on every reading of every request)."""
        words = heard_words(text)
        if not words or not self.finals:
            return False
        if self._word_index is None:
            self._word_index = {word: index for index, word in enumerate(self.words)}
        states = self._with_empty_steps({self.start})
        for word in words:
            word_id = self._word_index.get(word, NO_WORD)
            number = self.number_id >= 0 and is_number(word.split()[0])
            reached: set[int] = set()
            for state in states:
                low, high = self._offsets[state], self._offsets[state + 1]
                ids = self._word_ids[low:high]
                steps = ids == word_id
                if number:
                    steps |= ids == self.number_id
                reached.update(self._targets[low:high][steps].tolist())
            states = self._with_empty_steps(reached)
            if not states:
                return False
        return not self.finals.isdisjoint(states)

    def _with_empty_steps(self, states: set[int]) -> set[int]:
        """The states, and every state their steps with no word lead to."""
        found, stack = set(states), list(states)
        while stack:
            state = stack.pop()
            low, high = self._offsets[state], self._offsets[state + 1]
            for target in self._targets[low:high][self._word_ids[low:high] == EMPTY_STEP].tolist():
                if target not in found:
                    found.add(target)
                    stack.append(target)
        return found

    def nearest(self, heard: str, count: int = 2, max_cost: float | None = None) -> list[tuple[str, float]]:
        """The sentences of the graph nearest to what was heard, as (text, edit cost), best first.

        A shortest-path search over (words heard so far, state): an arc's word may be heard as
        itself (free), heard as another word (costing their spelling distance), heard as two words
        (a merge), or not heard at all; a heard word may belong to no arc. ``<number>`` takes any
        number heard, as heard.
        """
        words = heard_words(heard)
        if not words or not self.finals:
            return []
        limit = max_cost if max_cost is not None else 0.5 * len(words) + 1.0
        substitute_cache: dict[tuple[int, int], float] = {}
        vocabulary, number_id, lengths = self.words, self.number_id, self._word_lengths
        merged_lengths = [len(a) + len(b) for a, b in zip(words, words[1:])]

        def substitute(index: int, word_id: int, merged: bool = False) -> float:
            key = (index, word_id, merged)
            cost = substitute_cache.get(key)
            if cost is None:
                said, word = words[index], vocabulary[word_id]
                if merged:  # words[index] and words[index + 1] heard for this one word
                    cost = MERGE_COST + SUBSTITUTE_SCALE * Levenshtein.normalized_distance(said + words[index + 1], word)
                    substitute_cache[key] = cost
                    return cost
                if word_id == number_id:
                    cost = 0.0 if is_number(said.split()[0]) else DELETE_COST + INSERT_COST
                elif said == word:
                    cost = 0.0
                else:
                    cost = SUBSTITUTE_SCALE * Levenshtein.normalized_distance(said, word)
                substitute_cache[key] = cost
            return cost

        # (cost, tie-breaker, position, state, path) where path is a linked list of output words.
        queue: list = [(0.0, 0, 0, self.start, None)]
        best: dict[tuple[int, int], float] = {}
        found: list[tuple[str, float]] = []
        counter = expansions = 0
        end = len(words)
        while queue and len(found) < count and expansions < MAX_EXPANSIONS:
            cost, _, position, state, path = heapq.heappop(queue)
            if best.get((position, state), float("inf")) < cost:
                continue
            expansions += 1
            if position == end and state in self.finals:
                text = _path_text(path)
                if all(text != seen for seen, _ in found):
                    found.append((text, cost))
                continue

            def push(new_cost: float, new_position: int, new_state: int, new_path) -> None:
                nonlocal counter
                if new_cost > limit or best.get((new_position, new_state), float("inf")) <= new_cost:
                    return
                best[(new_position, new_state)] = new_cost
                counter += 1
                heapq.heappush(queue, (new_cost, counter, new_position, new_state, new_path))

            if position < end:
                push(cost + DELETE_COST, position + 1, state, path)
            for target, word_id in self.arcs_from(state):
                if word_id < 0:
                    push(cost, position, target, path)
                    continue
                if position < end:
                    said = words[position]
                    push(cost + substitute(position, word_id), position + 1, target,
                         (said if word_id == number_id else vocabulary[word_id], path))
                    # Two heard words as this one, where they spell nearly it (a merge costing a
                    # dropped word is no better than dropping one): the length test spares most
                    # spelling comparisons, as the distance is at least the difference in length.
                    if (position + 1 < end and lengths[word_id] >= MERGE_MIN_LETTERS and word_id != number_id
                            and abs(merged_lengths[position] - lengths[word_id]) < MERGE_MAX_DISTANCE * max(
                                merged_lengths[position], lengths[word_id])):
                        merged = substitute(position, word_id, merged=True)
                        if merged < DELETE_COST:
                            push(cost + merged, position + 2, target, (vocabulary[word_id], path))
                if word_id != number_id:
                    push(cost + INSERT_COST, position, target, (vocabulary[word_id], path))
        return found


def _path_text(path) -> str:
    words = []
    while path is not None:
        word, path = path
        words.append(word)
    return " ".join(reversed(words))


def read_grammar(path: Path) -> CommandGrammar | None:
    """The grammar in a file; None when it is missing or unreadable (logged): free recognition."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        _LOGGER.warning("Cannot read the command grammar %s (%s); hearing freely", path, err)
        return None
    try:
        return CommandGrammar.from_text(text)
    except ValueError as err:
        _LOGGER.warning("The command grammar %s is not usable (%s); hearing freely", path, err)
        return None
