"""What Samantha remembers about you: facts you tell her, found again when you ask.

A fact is kept as she would say it back ("I like my coffee black" becomes "you like your coffee
black"), with its subject ("your coffee") when it has the shape "X is Y". A question is matched to
the facts by their content words with rapidfuzz (token-set similarity: all of the question's words
found in a fact scores 100), which on the measured set in tests/test_conversation.py picks the
right fact for every paraphrase that shares a content word and refuses unrelated questions.

>>> perspective("I like my coffee black")
'you like your coffee black'
>>> content_words("when is Amy's birthday")
['amy', 'birthday']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from .store import FactRow, Store

# Words a question and a fact share without being about the same thing.
STOP_WORDS = frozenset(
    """a an the is are was were be been am do does did what what's whats when when's where where's who
    who's whom which how how's why i me my mine myself you your yours yourself we our us it its it's
    that this these those there of to in on at for from with about and or as by tell remind know
    remember recall please again can could would will should samantha hey s d ll re ve m""".split()
)
# Flip the speaker's words to the device's point of view; applied word by word.
_FLIP = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "i'm": "you're",
    "i've": "you've", "i'll": "you'll", "i'd": "you'd", "am": "are", "we": "you", "our": "your",
    "us": "you", "ours": "yours",
    "you": "I", "your": "my", "yours": "mine", "yourself": "myself", "you're": "I'm", "you've": "I've",
}
_COPULA_RE = re.compile(r"^(?P<subject>.+?)\s+(?P<verb>is|are|was|were|'s)\s+(?P<value>.+)$", re.IGNORECASE)
_WORD_RE = re.compile(r"[\w']+")
MAX_FACT_CHARS = 300


def perspective(text: str) -> str:
    """The sentence as the device says it back: my -> your, I -> you (and the other way)."""
    words = text.replace("’", "'").split()
    flipped = []
    for index, word in enumerate(words):
        bare = word.strip(".,!?;:").casefold()
        tail = word[len(word.rstrip(".,!?;:")) :]
        if bare in _FLIP:
            new = _FLIP[bare]
            # "you" after a verb is the object: "remind you" -> "remind me"
            if bare == "you" and index > 0:
                new = "me"
            if bare == "you" and index == 0:
                new = "I"
            flipped.append(new + tail)
        else:
            flipped.append(word)
    text = " ".join(flipped)
    text = re.sub(r"\byou are\b", "you are", text)
    text = re.sub(r"\bI is\b", "I am", text)
    return text


def _normalise_word(word: str) -> str:
    word = word.casefold().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    # A light stemmer, so that "parked" finds "park" and "birthdays" finds "birthday".
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """The words that say what something is about (no question words, pronouns or 's)."""
    words = [_normalise_word(w) for w in _WORD_RE.findall(text)]
    return [w for w in words if w and w not in STOP_WORDS]


@dataclass(frozen=True)
class Recollection:
    """A fact and how well it matched a question (0-100)."""

    fact: FactRow
    score: float


def clean_fact(text: str) -> str:
    text = text.strip().strip(".!?").strip()
    return re.sub(r"\s+", " ", text)[:MAX_FACT_CHARS]


def split_fact(fact: str) -> tuple[str, str]:
    """(subject, value) of "Amy's birthday is May 3rd"; (whole fact, "") without a verb "to be"."""
    match = _COPULA_RE.match(fact)
    if match:
        return match.group("subject").strip(), match.group("value").strip()
    return fact, ""


class Memory:
    """Facts told to the device, kept in the store, found again by their content words."""

    def __init__(self, store: Store, min_score: float = 60.0) -> None:
        self.store = store
        self.min_score = min_score

    def remember(self, said: str) -> tuple[FactRow, bool]:
        """Keep a fact (in the device's words); a new value for the same subject replaces the old.

        Returns the stored fact and whether it replaced one.
        """
        fact = perspective(clean_fact(said))
        subject, value = split_fact(fact)
        replaced = False
        if value:
            key = content_words(subject)
            for old in self.store.facts():
                old_subject, old_value = split_fact(old.fact)
                if old_value and content_words(old_subject) == key:
                    self.store.delete_fact(old.id)
                    replaced = True
        fact_id = self.store.add_fact(subject, fact)
        return FactRow(fact_id, subject, fact, 0.0), replaced

    def recall(self, question: str) -> list[Recollection]:
        """The facts that answer a question, best first ([] when none matches well enough)."""
        query = content_words(perspective(question))
        if not query:
            return []
        scored = []
        for fact in self.store.facts():
            subject_words = content_words(fact.subject)
            fact_words = content_words(fact.fact)
            if not fact_words:
                continue
            # The question's words inside the subject are the best sign; inside the value is fine too.
            score = max(
                fuzz.token_set_ratio(" ".join(query), " ".join(subject_words)),
                fuzz.token_set_ratio(" ".join(query), " ".join(fact_words)) - 5,
            )
            # token_set_ratio gives 100 when the words of either side are all in the other;
            # a one-word fact must not answer every question that happens to contain that word.
            covered = sum(1 for w in query if any(fuzz.ratio(w, f) >= 85 for f in fact_words))
            if covered == 0:
                continue
            score *= covered / len(query) if len(query) > 1 else 1.0
            if score >= self.min_score:
                scored.append(Recollection(fact, score))
        scored.sort(key=lambda r: (-r.score, -r.fact.id))
        if scored:
            best = scored[0].score
            scored = [r for r in scored if r.score >= best - 5]
        return scored

    def forget(self, question: str) -> list[FactRow]:
        """Delete the facts a question names; returns them."""
        found = self.recall(question)
        for recollection in found:
            self.store.delete_fact(recollection.fact.id)
        return [r.fact for r in found]

    def forget_everything(self) -> int:
        return self.store.delete_all_facts()
