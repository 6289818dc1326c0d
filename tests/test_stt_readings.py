"""Whisper's several readings of one request: what the dialogue chooses from."""

from __future__ import annotations

import numpy as np
import pytest

from services.listener.stt import Reading, WhisperSpeechToText, collapse_repeats, is_video_sign_off, without_video_sign_offs
from tests.speech import words
from tests.test_listener_support import background, silence, speech


@pytest.fixture(scope="module")
def whisper() -> WhisperSpeechToText:
    stt = WhisperSpeechToText()
    stt.set_phrases(["turn off the kitchen light", "set a timer for five minutes"])
    return stt


def test_a_beam_that_repeats_itself_is_read_once():
    assert collapse_repeats("Set volume to 90%. Set volume to 90%. Set volume") == "Set volume to 90%"
    assert collapse_repeats("play corner light tom play corner light tom") == "play corner light tom"
    # a word said twice on purpose, or a sentence that ends as it began, stays as it is
    assert collapse_repeats("turn the light on in the light room") == "turn the light on in the light room"
    assert collapse_repeats("light the light") == "light the light"


def test_readings_are_distinct_and_the_first_is_what_was_said(whisper):
    audio = np.concatenate([silence(0.3), speech("turn off the kitchen light", "piper"), silence(0.5)])
    readings = whisper.readings(audio)
    assert words(readings[0].text) == ["turn", "off", "the", "kitchen", "light"]
    assert 1 <= len(readings) <= 5  # beams that differ only in punctuation are one reading
    assert len({tuple(words(reading.text)) for reading in readings}) == len(readings)
    assert all(0.0 < reading.confidence <= 1.0 for reading in readings)
    assert all(readings[0].confidence >= reading.confidence for reading in readings[1:])


@pytest.mark.parametrize("level", [0.003, 0.01, 0.1])
@pytest.mark.parametrize("seed", [7, 8])
def test_no_speech_has_no_readings(whisper, level, seed):
    """A quiet room, a hum: nothing to act on (a decoder once read one as "Pause.")."""
    assert whisper.readings(background(1.5, level=level, seed=seed)) == []


def test_whispers_made_up_video_sign_offs_are_no_request():
    # What Whisper writes in noise, learned from video subtitles: never a request to the speaker.
    for text in ("Thank you for watching.", "and thank you for watching.", "Thanks for watching!",
                 "Thank you very much for watching this video.", "Please subscribe.",
                 "Subtitles by the Amara.org community"):
        assert is_video_sign_off(text), text
    # What people do say to her stays.
    for text in ("thank you", "thank you very much", "turn on the subtitles", "play the next video",
                 "remind me to watch the game", "thanks"):
        assert not is_video_sign_off(text), text


def test_a_video_sign_off_heard_first_makes_the_utterance_no_speech():
    made_up = [Reading("Thank you for watching.", 0.6), Reading("Thank you.", 0.5)]
    assert without_video_sign_offs(made_up) == []
    # Further down, a sign-off is one reading less; the request stays.
    heard = [Reading("turn off the light", 0.8), Reading("thanks for watching", 0.3), Reading("turn of the light", 0.2)]
    assert [reading.text for reading in without_video_sign_offs(heard)] == ["turn off the light", "turn of the light"]


def test_a_video_sign_off_spoken_is_no_speech(whisper):
    audio = np.concatenate([silence(0.3), speech("thank you for watching", "piper"), silence(0.5)])
    assert whisper.readings(audio) == []
    audio = np.concatenate([silence(0.3), speech("thank you very much", "piper"), silence(0.5)])
    assert words(whisper.readings(audio)[0].text)[:2] == ["thank", "you"]


def test_the_final_transcript_carries_the_other_readings(whisper):
    utterance = whisper.start()
    audio = np.concatenate([silence(0.3), speech("set a timer for five minutes", "en-us"), silence(0.5)])
    for start in range(0, len(audio), 1280):
        utterance.accept(audio[start:start + 1280])
    transcript = utterance.finish().result(timeout=60)
    assert words(transcript.text)[:3] == ["set", "a", "timer"]
    assert transcript.alternatives and all(reading.text != transcript.text for reading in transcript.alternatives)


def test_the_best_reading_is_not_cut_off_before_the_end_of_the_sentence(whisper):
    # Short readings end the beam first; the search must go on until the whole sentence is decoded.
    audio = np.concatenate([silence(0.3), speech("set the color of the bedroom lamp to red", "piper"), silence(0.3)])
    readings = whisper.readings(audio)
    assert len(words(readings[0].text)) == 9, readings
