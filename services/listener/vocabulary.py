"""The phrases the dialogue model knows, as the listener gets them: a file in the state folder.

Contract with the dialogue service: it writes ``<state_dir>/vocabulary.txt``, UTF-8, one phrase per
line (the sentences its model is trained on, slot values filled in), replacing the file atomically
(write a temporary file, then rename) whenever its model changes. Blank lines and lines starting
with ``#`` are ignored. The listener re-reads the file when its modification time changes (checked
every two seconds) and on SIGHUP. A missing file means no vocabulary: free recognition.

The phrases become Vosk's grammar (recognition limited to them) and Whisper's initial prompt (a bias
towards their words). Beside it the dialogue service writes ``grammar.txt``, all its commands as a word
graph (services/command_grammar.py), re-read the same way: Whisper's hearing is checked against it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from services.command_grammar import GRAMMAR_FILE, read_grammar

_LOGGER = logging.getLogger(__name__)

VOCABULARY_FILE = "vocabulary.txt"
MAX_PHRASES = 20000  # more is not a command vocabulary; Vosk's grammar compile time grows with it
# Whisper's prompt is at most 224 tokens; English text averages ~4 characters a token.
PROMPT_MAX_CHARS = 600
PROMPT_CANDIDATES = 3000  # phrases considered for the prompt; bounds the time to build it


def read_phrases(path: Path) -> list[str]:
    """The phrases in a vocabulary file (lower-case, de-duplicated, in order); [] when it is missing."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as err:
        _LOGGER.warning("Cannot read the vocabulary %s (%s); recognising freely", path, err)
        return []
    phrases: dict[str, None] = {}
    for line in text.splitlines():
        phrase = " ".join(line.split()).lower()
        if phrase and not phrase.startswith("#"):
            phrases[phrase] = None
        if len(phrases) >= MAX_PHRASES:
            _LOGGER.warning("The vocabulary %s has more than %d phrases; using the first ones", path, MAX_PHRASES)
            break
    return list(phrases)


def whisper_prompt(phrases: list[str], max_chars: int = PROMPT_MAX_CHARS) -> str:
    """A short prompt that covers as many of the phrases' distinct words as fits.

    Greedy: the phrase bringing the most words not yet in the prompt goes next, so a vocabulary of
    thousands of templated sentences ("set a timer for 1/2/3... minutes") yields a prompt of varied,
    relevant words rather than one template many times.
    """
    step = max(1, len(phrases) // PROMPT_CANDIDATES)  # spread over the list: it may be sorted
    candidates = [(phrase, set(phrase.split())) for phrase in phrases[::step]]
    seen: set[str] = set()
    chosen: list[str] = []
    length = 0
    while candidates:
        best = max(candidates, key=lambda item: (len(item[1] - seen), -len(item[0])))
        phrase, words = best
        if not words - seen:
            break
        candidates.remove(best)
        if length + len(phrase) + 2 > max_chars:
            continue
        chosen.append(phrase)
        seen |= words
        length += len(phrase) + 2
    return ". ".join(chosen) + ("." if chosen else "")


class Vocabulary:
    """The vocabulary file, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.grammar_path = path.parent / GRAMMAR_FILE
        self._mtime_ns: tuple[int | None, int | None] | None = None
        self.phrases: list[str] = []
        self.command_grammar = None
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Re-read the files if either changed (or force); True when they changed."""
        mtime_ns = (_mtime_ns(self.path), _mtime_ns(self.grammar_path))
        if not force and mtime_ns == self._mtime_ns:
            return False
        grammar_changed = mtime_ns[1] != (self._mtime_ns or (None, None))[1] or force
        self._mtime_ns = mtime_ns
        if grammar_changed:
            self.command_grammar = read_grammar(self.grammar_path)
            if self.command_grammar is not None:
                _LOGGER.info("Command grammar: %d steps from %s", self.command_grammar.arc_count, self.grammar_path)
        phrases = read_phrases(self.path)
        changed = phrases != self.phrases or grammar_changed
        self.phrases = phrases
        if changed or force:
            _LOGGER.info("Vocabulary: %d phrases from %s", len(phrases), self.path)
        return changed


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
