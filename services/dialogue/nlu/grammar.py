"""The dialogue model's templates as a word graph for the listener (services/command_grammar.py).

hassil turns the templates into a finite-state acceptor of words (its fst module, which Home
Assistant's speech-to-phrase also builds on); its lists stay placeholders there ("{area}"), which are
filled here with the values a user can say: the home's names, areas and floors, the lists' words;
ranges become ``<number>``. Wildcards (timer names, things to remember) cannot be in a grammar: those
sentences are left out, and Whisper's free hearing serves them.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from hassil.expression import ListReference
from hassil.fst import EPS, intents_to_fst
from hassil.intents import Intents, RangeSlotList, TextSlotList

from services.command_grammar import NUMBER, WordGraph, grammar_words

from .sentences import references, value_texts

_LOGGER = logging.getLogger(__name__)

MAX_VALUE_TEXTS = 20  # spoken forms of one list value ("living room[s]")
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")


def grammar_text_in_child(templates: list[dict[str, Any]], home_lists: dict) -> str:
    """grammar_text() in a short-lived process of its own.

    Building the graph takes ~40 MB of small Python objects for a few seconds; freed, they stay
    scattered over the heap (~28 MB of resident memory the dialogue service would keep for good).
    In a child they go with it. A plain subprocess: multiprocessing would leave its resource
    tracker process running (13 MB) for as long as the service runs."""
    # The child finds this package where the service found it, whatever its working folder.
    root = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    child = subprocess.run([sys.executable, "-m", __name__], input=pickle.dumps((templates, home_lists)),
                           capture_output=True, check=False, env=env)
    if child.returncode:
        raise RuntimeError(f"building the command grammar failed: {child.stderr.decode(errors='replace')[-2000:]}")
    return child.stdout.decode("utf-8")


def grammar_text(templates: list[dict[str, Any]], home_lists: dict) -> str:
    """The file form of the grammar of these template sets (hassil's dict form) and home."""
    return command_grammar([Intents.from_dict(data) for data in templates], home_lists).minimized().to_text()


def command_grammar(intent_sets: list[Intents], home_lists: dict) -> WordGraph:
    """One graph accepting every sentence of these intents (wildcard sentences left out)."""
    graph = WordGraph()
    final = 1
    graph.finals.add(final)
    next_state = 2
    for intents in intent_sets:
        values = _slot_values(intents, home_lists)
        fst = intents_to_fst(intents, slot_lists=home_lists).remove_spaces()
        fst.prune()
        offset = next_state
        next_state += max(fst.states | set(fst.arcs)) + 1
        graph.add(graph.start, fst.start + offset, None)
        for state in fst.final_states:
            graph.add(state + offset, final, None)
        for source, arcs in fst.arcs.items():
            for arc in arcs:
                label = arc.in_label
                if not label or label == EPS or label == "<skip>":
                    # "<skip>" marks where Home Assistant lets words be skipped: the search skips words itself.
                    graph.add(source + offset, arc.to_state + offset, None)
                    continue
                next_state = _add_label(graph, source + offset, arc.to_state + offset, label, values, next_state)
    return graph


def _add_label(graph: WordGraph, source: int, target: int, label: str, values: dict[str, list[list[str]]],
               next_state: int) -> int:
    """Arcs for one hassil label: a word, or a word with placeholders ("{minutes}-minute")."""
    pieces = _PLACEHOLDER.split(label)  # text, slot, text, slot, ..., text
    choices: list[list[list[str]]] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            options = values.get(piece)
            if not options:
                return next_state  # a list with nothing to say in this home: a dead branch
            choices.append(options)
        elif grammar_words(piece):
            choices.append([grammar_words(piece)])
    state = source
    for position, options in enumerate(choices):
        end = target if position == len(choices) - 1 else next_state
        if end != target:
            next_state += 1
        for words in options:
            at = state
            for word_index, word in enumerate(words):
                to = end if word_index == len(words) - 1 else next_state
                if to != end:
                    next_state += 1
                graph.add(at, to, word)
                at = to
        state = end
    if not choices:
        graph.add(source, target, None)
    return next_state


def _slot_values(intents: Intents, home_lists: dict) -> dict[str, list[list[str]]]:
    """What can be said for each slot name, as word lists: hassil's graph names slots, not lists."""
    lists_by_slot: dict[str, set[str]] = defaultdict(set)
    expressions = [sentence.expression for intent in intents.intents.values() for data in intent.data
                   for sentence in data.sentences]
    for expression in [*expressions, *(rule.expression for rule in intents.expansion_rules.values())]:
        for reference in references(expression):
            if isinstance(reference, ListReference):
                lists_by_slot[reference.slot_name].add(reference.list_name)
    for slot in ("name", "area", "floor"):
        lists_by_slot[slot].add(slot)

    values: dict[str, list[list[str]]] = {}
    for slot, list_names in lists_by_slot.items():
        texts: dict[tuple[str, ...], None] = {}
        for list_name in sorted(list_names):
            slot_list = home_lists.get(list_name) or intents.slot_lists.get(list_name)
            if isinstance(slot_list, RangeSlotList):
                texts[(NUMBER,)] = None
            elif isinstance(slot_list, TextSlotList):
                for text, _ in value_texts(slot_list, intents, MAX_VALUE_TEXTS):
                    if words := tuple(grammar_words(text)):
                        texts[words] = None
        values[slot] = [list(words) for words in texts]
    return values


if __name__ == "__main__":  # grammar_text_in_child's child: the pickled arguments on stdin, the text on stdout
    sys.stdout.write(grammar_text(*pickle.loads(sys.stdin.buffer.read())))
