"""The command grammar: every sentence the dialogue model knows, as the listener holds a hearing against it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from services.command_grammar import (
    GRAMMAR_FILE, CommandGrammar, WordGraph, grammar_words, heard_words, read_grammar)
from services.dialogue.nlu import DialogueModel
from services.listener.grammar_decoding import GrammarWalk
from services.listener.stt import Reading, WhisperSpeechToText
from services.listener.vocabulary import Vocabulary
from tests.speech import words
from tests.test_listener_support import silence, speech
from tests.test_understanding import HOME


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> DialogueModel:
    return DialogueModel.load(tmp_path_factory.mktemp("grammar-state"), None, HOME)


@pytest.fixture(scope="module")
def grammar(model: DialogueModel) -> CommandGrammar:
    return model.grammar().compact()


SMALL_GRAMMAR = """
    0 1 turn
    1 2 on
    1 2 off
    2 3 the
    3 6 kitchen
    6 4 light
    3 4 fan
    4 5 please
    4 5
    0 7 set
    7 8 a
    8 9 timer
    9 10 for
    10 11 <number>
    11 5 minutes
"""


def small_word_graph() -> WordGraph:
    """turn (on|off) the (kitchen light|fan) [please]; set a timer for <number> minutes"""
    graph = WordGraph(start=0, finals={5})
    for line in SMALL_GRAMMAR.strip().splitlines():
        source, target, *word = line.split()
        graph.add(int(source), int(target), word[0] if word else None)
    return graph


def small_graph() -> CommandGrammar:
    return small_word_graph().compact()


def test_words_are_compared_without_case_punctuation_or_hyphens():
    assert grammar_words("Set a 15-minute timer, please.") == ["set", "a", "15", "minute", "timer", "please"]
    assert grammar_words("Volume to 50%") == ["volume", "to", "50", "percent"]
    # number words said as one number stay one word of what was heard
    assert heard_words("set a timer for twenty five minutes") == ["set", "a", "timer", "for", "twenty five", "minutes"]


def test_a_graph_accepts_its_sentences_and_nothing_else():
    graph = small_graph()
    assert graph.accepts("Turn off the kitchen light.")
    assert graph.accepts("turn on the fan please")
    assert graph.accepts("set a timer for 12 minutes")
    assert graph.accepts("set a timer for twenty five minutes")
    assert not graph.accepts("turn off the kitchen")
    assert not graph.accepts("turn off the kitchen light now")
    assert not graph.accepts("set a timer for minutes")
    assert not graph.accepts("")


def test_a_minimized_graph_and_its_text_form_keep_every_sentence():
    text = small_word_graph().minimized().to_text()
    graph = CommandGrammar.from_text(text)
    for sentence in ("turn off the kitchen light", "turn on the fan please", "set a timer for 3 minutes"):
        assert graph.accepts(sentence), sentence
    assert not graph.accepts("turn the kitchen light")
    steps = [line.split() for line in text.partition("\narcs\n")[2].splitlines()]
    assert steps and all(int(word) >= 0 for _, _, word in steps)  # no steps without a word left
    assert len(steps) < small_word_graph().arc_count  # "the", "on/off" shared


def test_the_nearest_sentence_to_a_mishearing():
    graph = small_graph()
    assert graph.nearest("turn of the kitten light")[0][0] == "turn off the kitchen light"
    assert graph.nearest("set timer for 7 minute")[0][0] == "set a timer for 7 minutes"  # the number as heard
    assert graph.nearest("what a lovely day it is today") == []  # nothing near enough
    # One word heard as two ("kit chen"): nearly as close as the word itself, not a word lost and one misheard.
    text, cost = graph.nearest("turn on the kit chen light")[0]
    assert text == "turn on the kitchen light" and cost < 0.5


def test_a_bad_grammar_file_says_what_is_wrong_and_is_not_used(tmp_path: Path, caplog):
    good = CommandGrammar.from_text(small_word_graph().to_text())
    assert good.accepts("turn on the fan")
    with pytest.raises(ValueError, match="three whole numbers"):
        CommandGrammar.from_text("states 2\nfinal 1\nwords on\narcs\n0 1 zero\n")
    with pytest.raises(ValueError, match="not there"):
        CommandGrammar.from_text("states 2\nfinal 1\nwords on\narcs\n0 7 0\n")
    path = tmp_path / GRAMMAR_FILE
    path.write_text("states 2\nfinal x\narcs\n")
    with caplog.at_level(logging.WARNING):
        assert read_grammar(path) is None
    assert "'final'" in caplog.text
    assert read_grammar(tmp_path / "missing.txt") is None


def test_the_models_grammar_holds_its_commands_with_this_homes_names(grammar: CommandGrammar):
    assert grammar.accepts("turn off the kitchen ceiling")
    assert grammar.accepts("turn on the work light")  # an alias
    assert grammar.accepts("set a timer for 5 minutes")
    assert grammar.accepts("what's your name")  # the device's own skills
    assert not grammar.accepts("turn off the kitten sealing")
    assert not grammar.accepts("elephants never forget their keys")
    assert grammar.nearest("turn of the kitten ceiling")[0][0] == "turn off the kitchen ceiling"


def test_the_listener_reads_the_grammar_beside_the_vocabulary(tmp_path: Path, model: DialogueModel):
    (tmp_path / "vocabulary.txt").write_text("turn off the kitchen ceiling\n")
    vocabulary = Vocabulary(tmp_path / "vocabulary.txt")
    assert vocabulary.command_grammar is None and vocabulary.phrases == ["turn off the kitchen ceiling"]
    (tmp_path / GRAMMAR_FILE).write_text(model.grammar().to_text())
    assert vocabulary.refresh()
    assert vocabulary.command_grammar is not None and vocabulary.command_grammar.accepts("turn off the kitchen ceiling")


@pytest.fixture(scope="module")
def whisper(model: DialogueModel, grammar: CommandGrammar) -> WhisperSpeechToText:
    stt = WhisperSpeechToText()
    stt.set_phrases(model.phrases())
    stt.set_command_grammar(grammar)
    return stt


def test_whisper_adds_the_command_it_finds_as_likely_as_a_mishearing(whisper: WhisperSpeechToText):
    audio = np.concatenate([silence(0.3), speech("turn off the kitchen ceiling", "piper"), silence(0.3)])
    encoded, frames = whisper.encode(audio)
    misheard = [Reading("Turn of the kitten sealing.", 0.6)]
    readings = whisper._with_grammar_reading(encoded, frames, misheard)
    assert [words(r.text) for r in readings][:2] == [["turn", "off", "the", "kitchen", "ceiling"],
                                                    ["turn", "of", "the", "kitten", "sealing"]]
    assert 0.0 < readings[0].confidence <= 1.0
    # Marked as the grammar's writing, so the dialogue does not take it for a command heard freely.
    assert [r.made_by_grammar for r in readings][:2] == [True, False]


def test_whisper_adds_no_command_that_was_not_said(whisper: WhisperSpeechToText):
    audio = np.concatenate([silence(0.3), speech("elephants never forget their keys", "piper"), silence(0.3)])
    readings = whisper.readings(audio)
    assert words(readings[0].text) == ["elephants", "never", "forget", "their", "keys"]
    assert not any(whisper.command_grammar.accepts(reading.text) for reading in readings)


def _walked(walk: GrammarWalk, tokens: list[int]):
    """The position after the tokens, or None where one leaves the grammar."""
    position = walk.start()
    for token in tokens:
        position = walk.after(position, token)
        if position is None:
            return None
    return position


def test_whispers_tokens_are_walked_through_the_grammar(whisper: WhisperSpeechToText):
    walk = GrammarWalk.for_tokenizer(small_graph(), whisper._tokenizer)
    encode = whisper._tokenizer.encode
    for said in [" Turn off the kitchen light.", " turn on the fan please", " Set a timer for 25 minutes.",
                 " set a timer for twenty five minutes", " Turn off the Kitchen-Light?"]:
        position = _walked(walk, encode(said))
        assert position is not None and walk.may_end(position), said
    # a command begun but not finished may go on, and may not end yet
    begun = _walked(walk, encode(" Turn off the kitch"))
    assert begun is not None and not walk.may_end(begun)
    for strayed in [" Turn off the kitchen lamp", " turn of the fan", " set a timer for minutes", " please"]:
        assert _walked(walk, encode(strayed)) is None, strayed


def test_whisper_held_to_the_grammar_writes_the_command_said(whisper: WhisperSpeechToText, grammar: CommandGrammar):
    audio = np.concatenate([silence(0.3), speech("turn off the kitchen ceiling", "piper"), silence(0.3)])
    encoded, frames = whisper.encode(audio)
    assert words(whisper._grammar_decoded(encoded, frames)) == ["turn", "off", "the", "kitchen", "ceiling"]
    # Whisper's tokens are tried as it ranks them: a grammar without the words said still gives a command
    whisper.set_command_grammar(small_graph())
    try:
        held = whisper._grammar_decoded(encoded, frames)
        assert held is None or small_graph().accepts(held)
    finally:
        whisper.set_command_grammar(grammar)
