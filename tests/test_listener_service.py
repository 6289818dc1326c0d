"""The listener as a real process on a real broker, hearing real synthesized speech.

The microphone is a WAV file read at live pace ([audio] input = "wav"), or the process's stdin
([audio] input = "stdin") where a test needs to say things at moments of its choosing.
"""

from __future__ import annotations

import time

import pytest

from services.messages import (
    ListeningEnded,
    ListeningStarted,
    ListenNow,
    MuteState,
    ServiceError,
    SetMute,
    SetWakeWord,
    SpeakingFinished,
    SpeakingStarted,
    StopListening,
    TranscriptPartial,
    TranscriptReady,
    WakeDetected,
    WakeWordState,
)
from tests.test_listener_support import (
    COMMAND_WORDS,
    KOREAN_PHRASES,
    VOCABULARY,
    ListenerProcess,
    korean_model,
    request_audio,
    silence,
    speech,
    spoken_words,
    wait_ready,
    write_wav,
)

pytestmark = pytest.mark.slow

TRANSCRIPT_TIMEOUT_S = 40.0  # model loading + ~8 s of audio at live pace, on a busy CI machine


@pytest.fixture
def listeners():
    started: list[ListenerProcess] = []
    yield started
    for listener in started:
        listener.stop()


@pytest.mark.parametrize("voice", ["en-us", "piper"])
def test_wake_word_then_request_gives_one_wake_event_and_the_transcript(broker, probe, tmp_path, listeners, voice):
    wav = write_wav(tmp_path / "request.wav", request_audio(voice))
    listener = ListenerProcess(broker, tmp_path, {"input": "wav", "input_file": str(wav)}, vocabulary=VOCABULARY)
    listeners.append(listener)

    transcript = probe.wait_for(TranscriptReady, TRANSCRIPT_TIMEOUT_S)
    time.sleep(1.0)  # anything late (a second wake event) would arrive now

    assert spoken_words(transcript.text) == COMMAND_WORDS, transcript
    assert transcript.backend == "whisper" and not transcript.follow_up
    assert abs(time.time() - transcript.speech_ended_at) < 5
    wakes = [m for m in probe.history if isinstance(m, WakeDetected)]
    assert [w.wake_word for w in wakes] == ["hey_jarvis"], probe.history
    assert wakes[0].score >= 0.5
    order = [type(m) for m in probe.history if type(m) in (WakeDetected, ListeningStarted, ListeningEnded, TranscriptReady)]
    assert order == [WakeDetected, ListeningStarted, ListeningEnded, TranscriptReady]
    assert [m.source for m in probe.history if isinstance(m, ListeningStarted)] == ["wake"]
    assert [m.reason for m in probe.history if isinstance(m, ListeningEnded)] == ["speech_end"]
    assert listener.process.poll() is None


def test_the_request_without_the_wake_word_wakes_nothing(broker, probe, tmp_path, listeners):
    audio = request_audio("en-us", wake=False)
    wav = write_wav(tmp_path / "request.wav", audio)
    listeners.append(ListenerProcess(broker, tmp_path, {"input": "wav", "input_file": str(wav)}))
    wait_ready(probe)

    time.sleep(len(audio) / 16000 + 1.5)  # the whole file at live pace, and a little more

    heard = [m for m in probe.history if isinstance(m, (WakeDetected, ListeningStarted, TranscriptReady))]
    assert heard == []


def test_microphone_failure_is_reported_and_retried_until_it_works(broker, probe, tmp_path, listeners):
    wav = tmp_path / "microphone.wav"  # not there yet: the "microphone" is unplugged
    listener = ListenerProcess(broker, tmp_path, {"input": "wav", "input_file": str(wav)},
                               listener={"mic_retry_s": 0.5}, vocabulary=VOCABULARY)
    listeners.append(listener)

    error = probe.wait_for(ServiceError, 40)
    assert error.service == "listener" and "microphone" in error.message
    time.sleep(1.5)  # several retries
    assert listener.process.poll() is None
    assert len([m for m in probe.history if isinstance(m, ServiceError)]) == 1  # reported once, not every retry

    write_wav(wav, request_audio("en-us"))  # plugged in
    transcript = probe.wait_for(TranscriptReady, TRANSCRIPT_TIMEOUT_S)
    assert spoken_words(transcript.text) == COMMAND_WORDS


def test_stdin_microphone_closing_is_reported_and_the_service_lives_on(broker, probe, tmp_path, listeners):
    listener = ListenerProcess(broker, tmp_path, {"input": "stdin"}, listener={"mic_retry_s": 0.5}, stdin=True)
    listeners.append(listener)
    wait_ready(probe)
    listener.feed(silence(1.0))
    listener.process.stdin.close()

    error = probe.wait_for(ServiceError, 10)
    assert "microphone" in error.message
    time.sleep(1.5)
    assert listener.process.poll() is None
    probe.publish(SetMute(muted=True))  # still answering on the bus
    assert probe.wait_for(MuteState, 10).muted is True


def test_muted_hears_nothing_and_unmuted_hears_again(broker, probe, tmp_path, listeners):
    listener = ListenerProcess(broker, tmp_path, {"input": "stdin"}, vocabulary=VOCABULARY, stdin=True)
    listeners.append(listener)
    wait_ready(probe)
    assert [m.muted for m in probe.history if isinstance(m, MuteState)] == [False]

    probe.publish(SetMute(muted=True))
    assert probe.wait_for(MuteState, 10).muted is True
    listener.feed(request_audio("en-us"))
    probe.publish(ListenNow(source="button"))  # the button does nothing while muted either
    listener.feed(request_audio("en-us"))
    time.sleep(2.0)
    assert not [m for m in probe.history if isinstance(m, (WakeDetected, ListeningStarted, TranscriptReady))]

    probe.publish(SetMute(muted=False))
    assert probe.wait_for(MuteState, 10).muted is False
    listener.feed(request_audio("en-us"))
    transcript = probe.wait_for(TranscriptReady, TRANSCRIPT_TIMEOUT_S)
    assert spoken_words(transcript.text) == COMMAND_WORDS
    assert len([m for m in probe.history if isinstance(m, WakeDetected)]) == 1


def test_muting_mid_request_ends_it_without_a_transcript(broker, probe, tmp_path, listeners):
    listener = ListenerProcess(broker, tmp_path, {"input": "stdin"}, stdin=True)
    listeners.append(listener)
    wait_ready(probe)
    probe.publish(ListenNow(source="hub"))
    assert probe.wait_for(ListeningStarted, 10).source == "hub"
    probe.publish(SetMute(muted=True))
    assert probe.wait_for(ListeningEnded, 10).reason == "muted"
    listener.feed(speech("set a timer for five minutes"))
    time.sleep(1.5)
    assert not [m for m in probe.history if isinstance(m, TranscriptReady)]


def test_button_listens_without_the_wake_word_and_stop_cancels(broker, probe, tmp_path, listeners):
    listener = ListenerProcess(broker, tmp_path, {"input": "stdin"}, vocabulary=VOCABULARY, stdin=True)
    listeners.append(listener)
    wait_ready(probe)

    probe.publish(ListenNow(source="button"))
    assert probe.wait_for(ListeningStarted, 10).source == "button"
    listener.feed(silence(0.3))
    listener.feed(speech("set a timer for five minutes"))
    listener.feed(silence(1.5))
    transcript = probe.wait_for(TranscriptReady, TRANSCRIPT_TIMEOUT_S)
    assert spoken_words(transcript.text) == COMMAND_WORDS and not transcript.follow_up
    assert not [m for m in probe.history if isinstance(m, WakeDetected)]

    probe.publish(ListenNow(source="hub"))
    probe.wait_for(ListeningStarted, 10)
    probe.publish(StopListening())
    assert probe.wait_for(ListeningEnded, 10).reason == "cancelled"

    probe.publish(ListenNow(source="hub"))
    probe.wait_for(ListeningStarted, 10)
    listener.feed(silence(5.5))  # no_speech_timeout_s = 5 by default
    assert probe.wait_for(ListeningEnded, 20).reason == "no_speech"


def test_own_voice_does_not_wake_it_and_a_question_opens_a_follow_up(broker, probe, tmp_path, listeners):
    listener = ListenerProcess(broker, tmp_path, {"input": "stdin"}, vocabulary=VOCABULARY, stdin=True)
    listeners.append(listener)
    wait_ready(probe)
    listener.feed(silence(2.5))

    probe.publish(SpeakingStarted(text="Did you say hey jarvis?"))
    time.sleep(0.5)  # the listener has taken it in
    listener.feed(speech("hey jarvis", "piper"))  # the device's own voice, heard by its microphone
    listener.feed(silence(0.3))
    time.sleep(1.0)
    probe.publish(SpeakingFinished(expect_reply=True))
    started = probe.wait_for(ListeningStarted, 10)
    assert started.source == "follow_up"
    listener.feed(silence(0.3))
    listener.feed(speech("set a timer for five minutes"))
    listener.feed(silence(1.5))

    transcript = probe.wait_for(TranscriptReady, TRANSCRIPT_TIMEOUT_S)
    assert transcript.follow_up is True
    assert spoken_words(transcript.text) == COMMAND_WORDS
    assert not [m for m in probe.history if isinstance(m, WakeDetected)]


def test_wake_word_and_threshold_set_over_the_bus(broker, probe, tmp_path, listeners):
    listener = ListenerProcess(broker, tmp_path, {"input": "stdin"}, stdin=True)
    listeners.append(listener)
    wait_ready(probe)
    probe.drain()

    probe.publish(SetWakeWord(wake_words=["alexa"], threshold=0.6))
    state = probe.wait_for(WakeWordState, 10)
    assert state.wake_words == ["alexa"] and state.threshold == 0.6
    listener.feed(silence(2.5))
    listener.feed(speech("hey jarvis"))
    listener.feed(silence(2.5))
    time.sleep(1.0)
    assert not [m for m in probe.history if isinstance(m, WakeDetected)]

    probe.publish(SetWakeWord(wake_words=["no_such_word"]))
    assert "no_such_word" in probe.wait_for(ServiceError, 10).message
    assert probe.wait_for(WakeWordState, 10).wake_words == ["alexa"]

    probe.publish(SetWakeWord(wake_words=["hey_jarvis", "alexa"]))
    probe.wait_for(WakeWordState, 10)
    listener.feed(speech("hey jarvis"))
    listener.feed(silence(1.0))
    assert probe.wait_for(WakeDetected, 10).wake_word == "hey_jarvis"


def test_vosk_streams_partials_and_keeps_to_the_grammar_korean(broker, probe, tmp_path, listeners):
    # No English Vosk model can be installed here: the Korean one proves the Vosk path.
    listener = ListenerProcess(
        broker, tmp_path, {"input": "stdin"},
        listener={"stt": "vosk", "vosk_model": str(korean_model())}, stdin=True)
    listeners.append(listener)
    wait_ready(probe, timeout=90)
    # The dialogue service writes its phrases while the listener runs; the listener takes them in.
    (listener.state_dir / "vocabulary.txt").write_text("\n".join(KOREAN_PHRASES) + "\n", encoding="utf-8")
    time.sleep(3.0)

    probe.publish(ListenNow(source="button"))
    probe.wait_for(ListeningStarted, 10)
    listener.feed(silence(0.3))
    listener.feed(speech("지금 몇 시야", "ko"))
    listener.feed(silence(1.5))

    transcript = probe.wait_for(TranscriptReady, TRANSCRIPT_TIMEOUT_S)
    assert transcript.backend == "vosk"
    assert transcript.text == "지금 몇 시야"
    partials = [m.text for m in probe.history if isinstance(m, TranscriptPartial)]
    assert partials and partials[-1] in transcript.text
