"""Whisper held to the command grammar: the command it finds likeliest on the audio, token by token.

Whisper hears freely and writes what it best knows ("increase volume on my team read"); the nearest
commands to that by word edits ("... on my bedroom") can miss the command that was said. Held to the
grammar, Whisper itself picks each next word among those a command may continue with ("... on my
TV"): grammar-constrained decoding, as whisper.cpp's command mode and Picovoice's Rhino do.

The decoding is greedy and speculative: Whisper writes freely from what has been fixed so far, the
words are walked through the grammar while they stay in it, and where they leave it the likeliest
token that keeps the sentence a command is taken (from the same step's probabilities) and Whisper
runs on from there. A clearly spoken command costs one pass of the decoder; each place it strays, one
more (CTranslate2 keeps no state between calls; the decoder is a few percent of Whisper's time).

Tokens are pieces of words with their spaces and capitals (" Kitchen", "ness", "."), the grammar is
lower-case words (services/command_grammar.py); the walk reads the characters: letters make up a
word, anything else ends it, "%" and "°" are words of their own, and a word not yet ended must be the
start of a word the grammar can take next.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from services.command_grammar import CHARACTERS_AS_WORDS, NUMBER, NUMBER_WORDS, CommandGrammar, is_number

_WORD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'")
# Each place Whisper strays from the grammar costs a pass of its decoder (~0.07 s here). A hearing
# that strays more often is no command said: on 484 clips of the model's own phrases (never the
# tests), of the commands found after 5 or more passes 2 of 60 meant what was said (those found in
# 1-4 passes: 81 of 161), and the bound keeps a garble's time in check (it took up to 1.3 s).
MAX_DECODER_PASSES = 4
# Where Whisper strays, its likeliest tokens are tried in order until one keeps to the grammar.
TOKENS_TRIED = 3000
_CACHE_LIMIT = 5_000  # entries of each lookup cache of a walk before it starts afresh (~1-3 MB at most)


class _Position:
    """Where a partly written sentence stands: the grammar states its finished words lead to, the
    states a number led to (a next number word is the same number: "twenty" "five"), the word begun."""

    __slots__ = ("states", "after_number", "word")

    def __init__(self, states: frozenset[int], after_number: frozenset[int], word: str) -> None:
        self.states, self.after_number, self.word = states, after_number, word


class GrammarWalk:
    """Walks Whisper's tokens through a command grammar (one per grammar and tokenizer)."""

    def __init__(self, grammar: CommandGrammar, token_text: Callable[[int], str | None], end_of_text: int) -> None:
        self.grammar = grammar
        self.end_of_text = end_of_text
        self._token_text = token_text
        self._texts: dict[int, str | None] = {}  # only the tokens ever tried: a few thousand of 51,864
        self._next_words_of: dict[int, dict[str, int]] = {}
        self._begins: dict[tuple, bool] = {}

    @classmethod
    def for_tokenizer(cls, grammar: CommandGrammar, tokenizer) -> GrammarWalk:
        """The walk for faster-whisper's Tokenizer: text tokens read as their text, special ones as none."""
        end_of_text = tokenizer.eot
        return cls(grammar, lambda token: tokenizer.decode([token]) if token < end_of_text else None, end_of_text)

    def start(self) -> _Position:
        return _Position(frozenset([self.grammar.start]), frozenset(), "")

    def _next_words(self, state: int) -> dict[str, int]:
        next_words = self._next_words_of.get(state)
        if next_words is None:
            if len(self._next_words_of) > _CACHE_LIMIT:
                self._next_words_of.clear()
            next_words = self._next_words_of[state] = {
                NUMBER if word_id == self.grammar.number_id else self.grammar.words[word_id]: target
                for reached in self._without_a_word(state)
                for target, word_id in self.grammar.arcs_from(reached) if word_id >= 0}
        return next_words

    def _without_a_word(self, state: int) -> set[int]:
        """The state and those its steps without a word lead to (a minimized grammar has none)."""
        reached, pending = {state}, [state]
        while pending:
            for target, word_id in self.grammar.arcs_from(pending.pop()):
                if word_id < 0 and target not in reached:
                    reached.add(target)
                    pending.append(target)
        return reached

    def _after_word(self, position: _Position, word: str) -> _Position | None:
        word = word.strip("'").rstrip(".")
        if not word:
            return position
        states, after_number = set(), set()
        for state in position.states:
            next_words = self._next_words(state)
            if word in next_words:
                states.add(next_words[word])
            if is_number(word) and NUMBER in next_words:
                states.add(next_words[NUMBER])
                after_number.add(next_words[NUMBER])
        if is_number(word) and position.after_number:
            states |= position.after_number
            after_number |= position.after_number
        if not states:
            return None
        return _Position(frozenset(states), frozenset(after_number), "")

    def _may_begin(self, position: _Position, begun: str) -> bool:
        """Whether a word the grammar can take next begins so."""
        key = (position.states, position.after_number, begun)
        known = self._begins.get(key)
        if known is None:
            if len(self._begins) > _CACHE_LIMIT:
                self._begins.clear()
            known = self._begins[key] = self._begins_a_next_word(position, begun)
        return known

    def _begins_a_next_word(self, position: _Position, begun: str) -> bool:
        numeric = begun[:1].isdigit() and all(c.isdigit() or c in ".," for c in begun)
        number_begun = numeric or any(word.startswith(begun) for word in NUMBER_WORDS)
        if position.after_number and number_begun:
            return True
        for state in position.states:
            for word in self._next_words(state):
                if (number_begun if word == NUMBER else word.startswith(begun)):
                    return True
        return False

    def after(self, position: _Position, token: int) -> _Position | None:
        """The position after this token, or None where it leaves the grammar."""
        if token not in self._texts:
            self._texts[token] = self._token_text(token)
        text = self._texts[token]
        if text is None:
            return None
        word = position.word
        for character in text.lower():
            if character in _WORD_CHARACTERS or (character == "." and word[-1:].isdigit()):  # "2.5"
                word += character
                continue
            if word:
                position = self._after_word(position, word)
                if position is None:
                    return None
                word = ""
            if character in CHARACTERS_AS_WORDS:
                position = self._after_word(position, CHARACTERS_AS_WORDS[character])
                if position is None:
                    return None
        if word and not self._may_begin(position, word):
            return None
        return _Position(position.states, position.after_number, word)

    def may_end(self, position: _Position) -> bool:
        finished = self._after_word(position, position.word) if position.word else position
        return finished is not None and any(
            reached in self.grammar.finals for state in finished.states for reached in self._without_a_word(state))


def _log_softmax(logits) -> np.ndarray:
    values = np.asarray(logits, dtype=np.float64)
    shifted = values - values.max()
    return shifted - math.log(np.exp(shifted).sum())


def grammar_decode(whisper, encoded, prompt: list[int], walk: GrammarWalk, max_new_tokens: int,
                   suppress_tokens: list[int]) -> list[int] | None:
    """The text tokens of the command Whisper finds likeliest on the encoded audio, greedily; None
    when it cannot be held to a command within the passes allowed.

    whisper: the CTranslate2 model (faster-whisper's WhisperModel.model); prompt: the tokens every
    decoding starts from (vocabulary prompt, start of transcript, no timestamps).
    """
    tokens: list[int] = []
    position = walk.start()
    for _ in range(MAX_DECODER_PASSES):
        result = whisper.generate(
            encoded, [prompt + tokens], beam_size=1, max_length=len(prompt) + max_new_tokens,
            return_logits_vocab=True, suppress_blank=False, suppress_tokens=suppress_tokens)[0]
        # The sequence repeats the tokens given after the prompt; logits[i] is the step that chose token i.
        written, steps = result.sequences_ids[0][len(tokens):], result.logits[0][len(tokens):]
        for index, logits in enumerate(steps):
            token = written[index] if index < len(written) else walk.end_of_text
            if token == walk.end_of_text and walk.may_end(position):
                return tokens
            after = walk.after(position, token) if token != walk.end_of_text else None
            if after is not None:
                tokens.append(token)
                position = after
                continue
            # Strayed: the likeliest token of this step that keeps to the grammar, then write on.
            log_probabilities = _log_softmax(logits)
            for candidate in np.argsort(-log_probabilities)[:TOKENS_TRIED].tolist():
                if candidate == walk.end_of_text:
                    if walk.may_end(position):
                        return tokens
                    continue
                after = walk.after(position, candidate)
                if after is not None:
                    tokens.append(candidate)
                    position = after
                    break
            else:
                return None
            break
        else:
            return None  # ran out of length without ending
        if len(tokens) >= max_new_tokens:
            return None
    return None
