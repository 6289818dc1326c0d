"""End to end with real speech: `samantha run` (the supervisor, the real bus, the voice and dialogue
services) plus the real listener hearing synthesized speech through a live microphone.

The listener runs as its own process with its microphone on stdin, so that the test speaks into
it in real time when the conversation calls for it (a WAV file microphone would start playing
before the other services are ready). What the device says is checked by transcribing the voice
service's speaker output with Whisper.
"""

from __future__ import annotations

import os
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from device.audio import load_wav_16k_mono
from services.messages import (
    DeviceState,
    ListeningStarted,
    PlayChime,
    Say,
    SpeakingFinished,
    TimerEvent,
    TranscriptReady,
    WakeDetected,
)
from tests.running import RunningSamantha
from tests.speech import synthesize, transcribe, words
from tests.test_dialogue_support import listener_on_live_microphone, prepare_state_dir
from tests.test_supervisor import service_pid

pytestmark = pytest.mark.slow

REPLY_S = 90.0  # speech-to-text and synthesis on a busy 2-core CI machine
GAP_S = 0.35  # between "hey jarvis" and the request, as people say it


class Speaker:
    """The voice service's output file: what was played since a mark, heard back with Whisper."""

    def __init__(self, wav: Path) -> None:
        self.wav = wav

    def mark(self) -> int:
        return self.wav.stat().st_size if self.wav.exists() else 0

    def heard_since(self, mark: int, folder: Path) -> str:
        with wave.open(str(self.wav), "rb") as source:
            params = source.getparams()
            frame_bytes = params.sampwidth * params.nchannels
            start = max(0, (mark - 44) // frame_bytes)
            source.setpos(min(start, params.nframes))
            frames = source.readframes(params.nframes - start)
        clip = folder / f"heard-{time.time_ns()}.wav"
        with wave.open(str(clip), "wb") as target:
            target.setparams(params)
            target.writeframes(frames)
        return transcribe(clip)


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """Samantha with voice and dialogue under the supervisor, and the listener on a live microphone."""
    folder = tmp_path_factory.mktemp("samantha")
    prepare_state_dir(folder / "state")
    with RunningSamantha(folder, services=["voice", "dialogue"]) as samantha:
        with listener_on_live_microphone(samantha, folder) as microphone:
            yield samantha, microphone, folder


def speech(folder: Path, text: str, wake: bool = False) -> np.ndarray:
    """Piper saying text (after "hey jarvis" when wake), as microphone samples with a silent tail."""
    parts = []
    if wake:
        parts.append(load_wav_16k_mono(synthesize("hey jarvis", folder / "wake.wav", lead_silence_s=0.3)))
        parts.append(np.zeros(int(16000 * GAP_S), dtype=np.int16))
    clip = synthesize(text, folder / f"say-{time.time_ns()}.wav", trail_silence_s=1.2)
    parts.append(load_wav_16k_mono(clip))
    return np.concatenate(parts)


def after(probe, since: int, predicate, timeout: float):
    """The first message from history index since on that satisfies predicate (waiting for it)."""
    deadline = time.monotonic() + timeout
    while True:
        for message in probe.history[since:]:
            if predicate(message):
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen in {timeout} s; saw {probe.history[since:][-12:]}")
        time.sleep(0.05)


def wait_until_quiet(probe, timeout: float = REPLY_S) -> None:
    """Until the device is idle (not speaking: its own voice keeps the wake word off), plus a tail."""
    deadline = time.monotonic() + timeout
    while True:
        states = [m.state for m in probe.history if isinstance(m, DeviceState)]
        if not states or states[-1] == "idle":
            break
        assert time.monotonic() < deadline, f"the device stayed {states[-1]}"
        time.sleep(0.1)
    time.sleep(1.0)


def test_spoken_timer_rings_and_stop_ends_it(device):
    samantha, microphone, folder = device
    probe = samantha.probe
    wait_until_quiet(probe)
    speaker = Speaker(samantha.speaker_wav)
    request = speech(folder, "set a timer for two seconds", wake=True)
    stop = speech(folder, "stop")
    start = len(probe.history)
    mark = speaker.mark()
    microphone.speak(request)
    after(probe, start, lambda m: isinstance(m, WakeDetected), REPLY_S)
    heard = after(probe, start, lambda m: isinstance(m, TranscriptReady), REPLY_S)
    assert "timer" in words(heard.text), heard
    reply = after(probe, start, lambda m: isinstance(m, Say), REPLY_S)
    assert "2 seconds" in reply.text, reply
    started = after(probe, start, lambda m: isinstance(m, TimerEvent) and m.event == "started", 5)
    started_at = time.monotonic()  # within the bus round trip of the TimerEvent
    assert started.seconds_left == pytest.approx(2.0, abs=0.2)
    after(probe, start, lambda m: isinstance(m, PlayChime) and m.name == "timer", 15)
    rang_after = time.monotonic() - started_at
    assert rang_after < 5.0, rang_after  # about 2 s, plus the probe's polling and a busy machine
    # The confirmation was spoken: heard back from the speaker.
    after(probe, start, lambda m: isinstance(m, SpeakingFinished) and m.id == reply.id, REPLY_S)
    spoken = words(speaker.heard_since(mark, folder))
    assert "seconds" in spoken and ("2" in spoken or "two" in spoken), spoken
    # Ringing: the device listens for "stop" without the wake word.
    after(probe, start, lambda m: isinstance(m, ListeningStarted) and m.source == "command", 20)
    ringing = sum(isinstance(m, PlayChime) for m in probe.history[start:])
    start = len(probe.history)
    microphone.speak(stop)
    after(probe, start, lambda m: isinstance(m, TimerEvent) and m.event == "stopped", REPLY_S)
    after(probe, start, lambda m: isinstance(m, DeviceState) and m.state != "timer_ringing", 10)
    time.sleep(3.0)
    chimes_after_stop = [m for m in probe.history[start:] if isinstance(m, PlayChime)]
    assert ringing >= 1 and len(chimes_after_stop) <= 1  # at most the one already on its way


def test_a_question_is_answered_without_the_wake_word(device):
    samantha, microphone, folder = device
    probe = samantha.probe
    wait_until_quiet(probe)
    start = len(probe.history)
    microphone.speak(speech(folder, "set a timer", wake=True))
    question = after(probe, start, lambda m: isinstance(m, Say), REPLY_S)
    assert question.expect_reply and "how long" in question.text.lower(), question
    # The listener opens the follow-up window when the question has been spoken.
    after(probe, start, lambda m: isinstance(m, ListeningStarted) and m.source == "follow_up", REPLY_S)
    wakes = sum(isinstance(m, WakeDetected) for m in probe.history[start:])
    answer_from = len(probe.history)
    microphone.speak(speech(folder, "three minutes"))
    heard = after(probe, answer_from, lambda m: isinstance(m, TranscriptReady), REPLY_S)
    assert heard.follow_up, heard
    reply = after(probe, answer_from, lambda m: isinstance(m, Say), REPLY_S)
    assert "3 minutes" in reply.text, reply
    started = after(probe, answer_from, lambda m: isinstance(m, TimerEvent) and m.event == "started", 5)
    assert started.seconds_left == pytest.approx(180, abs=2)
    assert sum(isinstance(m, WakeDetected) for m in probe.history[start:]) == wakes == 1
    cancel_from = len(probe.history)
    probe.publish(TranscriptReady(text="cancel all timers"))
    after(probe, cancel_from, lambda m: isinstance(m, TimerEvent) and m.event == "cancelled", 20)
    said = after(probe, cancel_from, lambda m: isinstance(m, Say), 20)
    after(probe, cancel_from, lambda m: isinstance(m, SpeakingFinished) and m.id == said.id, REPLY_S)


def test_timers_and_memories_survive_a_kill_of_the_dialogue_service(device):
    samantha, microphone, folder = device
    probe = samantha.probe
    wait_until_quiet(probe)
    start = len(probe.history)
    # Told as a transcript: Whisper tiny.en sometimes hears "May 3rd" as "mather"; this test is
    # about the dialogue service surviving a kill, the question below is asked by voice.
    probe.publish(TranscriptReady(text="remember that Amy's birthday is May 3rd"))
    reply = after(probe, start, lambda m: isinstance(m, Say), 30)
    assert "May 3rd" in reply.text, reply
    start = len(probe.history)
    probe.publish(TranscriptReady(text="set a pasta timer for twelve seconds"))
    after(probe, start, lambda m: isinstance(m, TimerEvent) and m.event == "started", 30)
    set_at = time.monotonic()
    pid = service_pid(samantha.process.pid, "dialogue")
    assert pid is not None
    os.kill(pid, 9)
    samantha.wait_line(r"dialogue ready", timeout=120)
    after(probe, start, lambda m: isinstance(m, PlayChime) and m.name == "timer", 60)
    assert time.monotonic() - set_at >= 10.0  # it rang when it was due, not when restarted
    stop_from = len(probe.history)
    probe.publish(TranscriptReady(text="stop"))
    after(probe, stop_from, lambda m: isinstance(m, TimerEvent) and m.event == "stopped", 30)
    wait_until_quiet(probe)
    start = len(probe.history)
    microphone.speak(speech(folder, "when is Amy's birthday", wake=True))
    reply = after(probe, start, lambda m: isinstance(m, Say), REPLY_S)
    if reply.expect_reply and "May" not in reply.text:
        # Whisper's other reading "when is a me's birthday" came close: she may check first (a
        # different memory would be looked up; "Did you mean ...?" or "Sorry, did you say ...?",
        # chosen at random), and a spoken "yes" gets the answer.
        assert "amy's birthday" in reply.text.lower(), reply
        after(probe, start, lambda m: isinstance(m, ListeningStarted) and m.source == "follow_up", REPLY_S)
        answer_from = len(probe.history)
        microphone.speak(speech(folder, "yes"))
        reply = after(probe, answer_from, lambda m: isinstance(m, Say), REPLY_S)
    assert "May" in reply.text and "3" in reply.text, reply
