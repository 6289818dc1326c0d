"""Sounds-alike matching: a small metaphone, a similarity score, and a vocabulary to correct words against.

The key keeps what a listener hears and drops what spelling adds: vowels after the first letter,
silent letters, doubled letters, and the letters English writes two ways (c/k/q, s/z, f/ph/v, d/t).
"rightness" and "brightness" differ in one sound; "kitchen" and "ketchup" in more than spelling.

>>> phonetic_key("brightness"), phonetic_key("rightness")
('BRTNS', 'RTNS')
>>> sounds_like("teeny", "tv") < 80
True
"""

from __future__ import annotations

import re
from typing import Iterable

from rapidfuzz import fuzz, process

# Scores are 0-100. These were set from how the measure behaves on the project's own examples
# (the docstrings and tests here), never from a test set: a word is replaced only when it is
# almost the same sound and almost the same spelling.
SNAP_MIN_SCORE = 85.0
RESOLVE_MIN_SCORE = 80.0
MIN_SNAP_LETTERS = 4  # short words collide in sound ("on"/"in", "the"/"a"): never rewrite them
SHORTLIST = 8  # candidates compared in full after the fast key comparison
_VOWELS = set("aeiou")
_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.:]\d+)?%?|%")

# Multi-letter spellings of one sound, tried in order at each position.
_DIGRAPHS = [
    ("tch", "X"), ("sch", "SK"), ("dge", "J"), ("dgi", "J"), ("dgy", "J"),
    ("ph", "F"), ("sh", "X"), ("ch", "X"), ("th", "0"), ("ck", "K"), ("gh", ""), ("wh", "W"),
    ("qu", "KW"), ("ng", "NK"),
]
_INITIAL_SILENT = ("kn", "gn", "pn", "wr", "ps")
_LETTERS = {
    "b": "B", "c": "K", "d": "T", "f": "F", "g": "K", "j": "J", "k": "K", "l": "L", "m": "M", "n": "N",
    "p": "P", "q": "K", "r": "R", "s": "S", "t": "T", "v": "F", "x": "KS", "z": "S",
}


def _word_key(word: str) -> str:
    word = re.sub(r"[^a-z]", "", word.casefold())
    if not word:
        return ""
    if word[:2] in _INITIAL_SILENT:
        word = word[1:]
    if word.endswith("mb"):
        word = word[:-1]
    out: list[str] = []
    i = 0
    while i < len(word):
        letter = word[i]
        nxt = word[i + 1] if i + 1 < len(word) else ""
        for spelling, sound in _DIGRAPHS:
            if word.startswith(spelling, i):
                out.append(sound)
                i += len(spelling)
                break
        else:
            if letter in _VOWELS or letter == "y":
                if i == 0:
                    out.append("A")  # a word's first vowel is heard; the others blur in speech
            elif letter == "c" and nxt in ("e", "i", "y"):
                out.append("S")
            elif letter == "g" and nxt in ("e", "i", "y"):
                out.append("J")
            elif letter == "h":
                if nxt in _VOWELS and (i == 0 or word[i - 1] not in _VOWELS):
                    out.append("H")
            elif letter == "w":
                if nxt in _VOWELS:
                    out.append("W")
            else:
                out.append(_LETTERS.get(letter, ""))
            i += 1
    key = "".join(out)
    return re.sub(r"(.)\1+", r"\1", key)  # "ll", "tt": one sound


def phonetic_key(text: str) -> str:
    """The sound skeleton of each word, space-separated ("bedroom lamp" -> "BTRM LMP")."""
    return " ".join(k for k in (_word_key(w) for w in text.split()) if k)


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.casefold()))


def sounds_like(heard: str, known: str) -> float:
    """0-100: how alike two words or names are, half by sound and half by spelling."""
    heard, known = _plain(heard), _plain(known)
    if heard == known:
        return 100.0
    return 0.5 * fuzz.ratio(phonetic_key(heard), phonetic_key(known)) + 0.5 * fuzz.ratio(heard, known)


def resolve_value(
    heard: str, candidates: Iterable[str], min_score: float = RESOLVE_MIN_SCORE
) -> tuple[str | None, float]:
    """The candidate (as spelled in the list) that ``heard`` most sounds like, and its score.

    (None, best score) when none is at least ``min_score``: better to ask than to act on a guess.

    >>> resolve_value("living rum", ["Living Room", "Kitchen"])[0]
    'Living Room'
    >>> resolve_value("garage", ["Living Room", "Kitchen"])[0] is None
    True
    """
    best, best_score = None, 0.0
    for candidate in candidates:
        score = sounds_like(heard, candidate)
        if score > best_score:
            best, best_score = candidate, score
    best_score = round(best_score, 1)
    return (best, best_score) if best_score >= min_score else (None, best_score)


class PhoneticVocabulary:
    """The words a device knows (from its phrases and names), to correct mis-heard words against.

    >>> vocabulary = PhoneticVocabulary(["turn on the bedroom lamp", "set the brightness to 50"])
    >>> vocabulary.correct_words(["set", "the", "rightness", "to", "50"])
    ['set', 'the', 'brightness', 'to', '50']
    """

    def __init__(self, phrases: Iterable[str], min_score: float = SNAP_MIN_SCORE) -> None:
        self.words: set[str] = set()
        for phrase in phrases:
            self.words.update(w for w in _WORD_RE.findall(phrase.casefold()) if w.isalpha())
        self.min_score = min_score
        self._choices = sorted(w for w in self.words if len(w) >= MIN_SNAP_LETTERS - 1)
        self._keys = [_word_key(w) for w in self._choices]

    def __contains__(self, word: str) -> bool:
        return word in self.words

    def nearest(self, word: str) -> tuple[str | None, float]:
        """The known word that sounds most like ``word``, and the score (None below min_score)."""
        if word in self.words:
            return word, 100.0
        shortlist = process.extract(_word_key(word), self._keys, scorer=fuzz.ratio, limit=SHORTLIST)
        best, best_score = None, 0.0
        for _, _, index in shortlist:
            candidate = self._choices[index]
            if word.endswith("s") != candidate.endswith("s"):
                # One thing or many is what was said ("tom's favorites" is not "tom's favourite"), and
                # a word heard with its "s" is rarely misheard from one without: no snapping across.
                continue
            score = sounds_like(word, candidate)
            if score > best_score:
                best, best_score = candidate, score
        return (best, best_score) if best_score >= self.min_score else (None, best_score)

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` the device has never seen in its phrases or names (numbers are known).

        A transcript full of them was most likely mis-heard; a guess made from it should be asked
        about ("Did you mean ...?") rather than acted on.
        """
        return [w for w in _WORD_RE.findall(text.casefold()) if w.isalpha() and w not in self.words]

    def correct_words(self, words: list[str]) -> list[str]:
        """Words the vocabulary lacks, replaced by a known word they sound almost exactly like.

        Two heard words that together spell a known one ("bed room") are joined. Numbers, short
        words and words with no close match are kept as heard.
        """
        out: list[str] = []
        i = 0
        while i < len(words):
            word = words[i]
            if i + 1 < len(words) and word.isalpha() and words[i + 1].isalpha():
                joined = word + words[i + 1]
                if joined in self.words and (word not in self.words or words[i + 1] not in self.words):
                    out.append(joined)
                    i += 2
                    continue
            if word.isalpha() and len(word) >= MIN_SNAP_LETTERS and word not in self.words:
                known, _ = self.nearest(word)
                out.append(known or word)
            else:
                out.append(word)
            i += 1
        return out
