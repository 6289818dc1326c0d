"""The voice service as a real process on a real broker, speaking into a WAV file, heard back by Whisper."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from device.audio import volume_gain
from services.messages import (
    ListeningStarted, PlayChime, Say, ServiceError, SetVolume, SetWakeSound, SpeakingFinished, SpeakingStarted, StopSpeaking,
    VolumeState, WakeSoundState,
)
from services.voice.player import speech_pieces, split_sentences
from services.voice.tts import EspeakSynthesizer, read_wav_bytes
from tests.conftest import bus_overrides
from tests.running import child_pids
from tests.speech import heard_as_said, transcribe, words

LONG_TEXT = ("This is a long sentence about the weather in the mountains, which keeps on going for quite "
             "a while so that there is plenty of time to interrupt it before it could ever reach its end")
START_TIMEOUT_S = 60
SPEECH_TIMEOUT_S = 30


class VoiceProcess:
    """`python -m services.voice` against the test broker, with a WAV file as its speaker."""

    def __init__(self, folder: Path, broker, voice: dict | None = None) -> None:
        self.folder = folder
        self.wav = folder / "speaker.wav"
        self.config = folder / "config.toml"
        lines = ["[audio]", 'output = "wav"', f'output_file = "{self.wav}"',
                 "[general]", f'state_dir = "{folder / "state"}"', "[voice]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in (voice or {}).items()]
        self.config.write_text("\n".join(lines) + "\n")
        self.env = {**os.environ, "SAMANTHA_OVERRIDES": bus_overrides(broker), "SAMANTHA_CONFIG": str(self.config)}
        self.log: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self, probe) -> "VoiceProcess":
        probe.drain()
        self.process = subprocess.Popen([sys.executable, "-m", "services.voice"], env=self.env,
                                        stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_log, daemon=True).start()
        probe.wait_for(VolumeState, START_TIMEOUT_S)  # published once connected
        return self

    def _read_log(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())

    def wait_log(self, pattern: str, timeout: float = START_TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log:
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no log line like {pattern!r}; log: {self.log[-20:]}")

    def played_frames(self) -> int:
        if not self.wav.exists():
            return 0
        with wave.open(str(self.wav), "rb") as wav:
            return wav.getnframes()

    def audio_since(self, frame: int) -> tuple[np.ndarray, int]:
        with wave.open(str(self.wav), "rb") as wav:
            wav.setpos(frame)
            audio = np.frombuffer(wav.readframes(wav.getnframes() - frame), dtype=np.int16)
            return audio, wav.getframerate()

    def clip_since(self, frame: int, name: str) -> Path:
        audio, rate = self.audio_since(frame)
        path = self.folder / name
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(rate)
            out.writeframes(audio.tobytes())
        return path

    def stop(self) -> int:
        assert self.process is not None
        self.process.terminate()
        try:
            return self.process.wait(timeout=10)
        finally:
            self.process.kill()


@pytest.fixture
def start_voice(tmp_path, broker, probe):
    """start_voice(voice={...settings}) -> a running VoiceProcess; all are stopped after the test."""
    started: list[VoiceProcess] = []

    def start(voice: dict | None = None, folder: Path = tmp_path) -> VoiceProcess:
        service = VoiceProcess(folder, broker, voice).start(probe)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.process and service.process.poll() is None:
            service.stop()


def say_and_wait(probe, text: str, say_id: str, **fields) -> tuple[SpeakingStarted, SpeakingFinished]:
    probe.publish(Say(text=text, id=say_id, **fields))
    started = probe.wait_for(lambda m: isinstance(m, SpeakingStarted) and m.id == say_id, SPEECH_TIMEOUT_S)
    finished = probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == say_id, SPEECH_TIMEOUT_S)
    return started, finished


def test_piper_says_it_and_whisper_hears_the_same_words(start_voice, probe):
    voice = start_voice()
    voice.wait_log(r"Piper ready")
    before = voice.played_frames()
    started, finished = say_and_wait(probe, "Turn on the kitchen light.", "k1", expect_reply=True)
    assert started.text == "Turn on the kitchen light."
    assert finished == SpeakingFinished(id="k1", interrupted=False, expect_reply=True)
    heard = words(transcribe(voice.clip_since(before, "k1.wav")))
    assert heard_as_said(heard, ["turn", "on", "the", "kitchen", "light"]), heard


def test_several_sentences_are_all_spoken_in_order(start_voice, probe):
    voice = start_voice()
    voice.wait_log(r"Piper ready")
    before = voice.played_frames()
    # the long first sentence is spoken in two pieces (its first clause starts sooner): no seam heard
    say_and_wait(probe, "Sure, the pasta timer is set and running now. It will ring in the kitchen.", "multi")
    heard = words(transcribe(voice.clip_since(before, "multi.wav")))
    said = ["sure", "the", "pasta", "timer", "is", "set", "and", "running", "now",
            "it", "will", "ring", "in", "the", "kitchen"]
    assert heard_as_said(heard, said), heard


def test_stop_cuts_a_long_sentence_off_quickly(start_voice, probe):
    voice = start_voice()
    voice.wait_log(r"Piper ready")
    before = voice.played_frames()
    probe.publish(Say(text=LONG_TEXT, id="long"))
    probe.wait_for(lambda m: isinstance(m, SpeakingStarted) and m.id == "long", SPEECH_TIMEOUT_S)
    time.sleep(1.0)
    stop_sent = time.monotonic()
    probe.publish(StopSpeaking())
    finished = probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == "long", 5)
    reported_s = time.monotonic() - stop_sent
    assert finished.interrupted
    assert reported_s < 1.0  # generous: measured ~10 ms (bench/voice.py)
    played_at_stop = voice.played_frames()
    time.sleep(0.5)
    assert voice.played_frames() == played_at_stop  # nothing more comes out after the stop
    _, rate = voice.audio_since(before)
    played_s = (played_at_stop - before) / rate
    assert 0.8 < played_s < 2.0  # about the second it played before the stop, not the whole sentence
    # the speaker is usable right after a stop
    _, after = say_and_wait(probe, "Okay.", "after")
    assert not after.interrupted


def test_stop_also_drops_what_is_queued(start_voice, probe):
    start_voice({"engine": "espeak"})
    probe.publish(Say(text=LONG_TEXT, id="first"))
    probe.publish(Say(text="And this one waits in the queue.", id="second"))
    probe.wait_for(lambda m: isinstance(m, SpeakingStarted) and m.id == "first", SPEECH_TIMEOUT_S)
    probe.publish(StopSpeaking())
    for say_id in ("first", "second"):
        finished = probe.wait_for(lambda m, i=say_id: isinstance(m, SpeakingFinished) and m.id == i, 5)
        assert finished.interrupted
    time.sleep(0.3)
    assert not any(isinstance(m, SpeakingStarted) and m.id == "second" for m in probe.history)


def test_volume_changes_loudness_and_is_kept_across_restarts(start_voice, probe, tmp_path):
    voice = start_voice({"volume": 100})
    levels = {}
    for volume in (100, 40):
        probe.publish(SetVolume(volume=volume))
        assert probe.wait_for(VolumeState, 5).volume == volume
        before = voice.played_frames()
        probe.publish(PlayChime(name="error"))
        probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == "chime:error", 10)
        levels[volume] = np.abs(voice.audio_since(before)[0]).max()
    assert levels[100] > 10000
    assert levels[40] == pytest.approx(levels[100] * volume_gain(40), rel=0.02)
    voice.stop()
    probe.drain()
    start_voice({"volume": 100})  # the configured volume is only for the first start
    assert [m.volume for m in probe.history if isinstance(m, VolumeState)][-1] == 40


def test_chimes_play_and_wake_done_can_be_turned_off(start_voice, probe):
    voice = start_voice({"chimes": False})
    probe.publish(PlayChime(name="wake"))
    before = voice.played_frames()
    probe.publish(PlayChime(name="timer"))  # a ringing timer always sounds
    started = probe.wait_for(SpeakingStarted, 10)
    assert started.id == "chime:timer"
    probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == "chime:timer", 10)
    audio, rate = voice.audio_since(before)
    assert len(audio) / rate > 1.0 and np.abs(audio).max() > 5000
    assert not any(getattr(m, "id", "") == "chime:wake" for m in probe.history)


def test_the_wake_sound_switch_silences_the_wake_chime_and_is_kept(start_voice, probe, tmp_path):
    voice = start_voice({"engine": "espeak"})
    assert probe.wait_for(WakeSoundState, 10).enabled is True
    probe.publish(SetWakeSound(enabled=False))
    assert probe.wait_for(WakeSoundState, 5).enabled is False
    probe.publish(PlayChime(name="wake"))
    probe.publish(PlayChime(name="error"))
    probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == "chime:error", 10)
    assert not any(getattr(m, "id", "") == "chime:wake" for m in probe.history)
    voice.stop()
    probe.drain()
    start_voice({"engine": "espeak"})  # the switch survives a restart
    assert probe.wait_for(WakeSoundState, 10).enabled is False


def test_piper_rests_while_idle_and_is_back_for_the_next_request(start_voice, probe):
    voice = start_voice({"piper_rest_s": 2.0})

    def wait_count(text: str, count: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while sum(text in line for line in voice.log) < count:
            assert time.monotonic() < deadline, f"{text!r} not {count} times: {voice.log[-10:]}"
            time.sleep(0.05)

    wait_count("Piper ready", 1)
    wait_count("Piper resting", 1)
    assert not child_pids(voice.process.pid), "Piper's process should be gone while resting"
    probe.publish(ListeningStarted(source="wake"))  # the user is speaking: Piper loads meanwhile
    wait_count("Piper ready", 2)
    before = voice.played_frames()
    say_and_wait(probe, "Turn on the kitchen light.", "after-rest")
    assert heard_as_said(words(transcribe(voice.clip_since(before, "after-rest.wav"))), ["turn", "on", "the", "kitchen", "light"])
    # An announcement with no wake word before it waits for Piper rather than switching voices.
    wait_count("Piper resting", 2)
    say_and_wait(probe, "Dinner is ready.", "announce")
    assert sum("Piper ready" in line for line in voice.log) == 3


def test_espeak_speaks_when_the_piper_voice_is_broken(start_voice, probe, tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx model")
    Path(f"{broken}.json").write_text("{}")
    voice = start_voice({"piper_voice": str(broken)})
    voice.wait_log(r"Piper failed")
    before = voice.played_frames()
    _, finished = say_and_wait(probe, "Turn on the kitchen light.", "fallback")
    assert not finished.interrupted
    assert heard_as_said(words(transcribe(voice.clip_since(before, "fallback.wav"))), ["turn", "on", "the", "kitchen", "light"])


def test_espeak_speaks_when_the_piper_voice_file_is_missing(start_voice, probe, tmp_path):
    voice = start_voice({"piper_voice": str(tmp_path / "missing.onnx")})
    before = voice.played_frames()
    _, finished = say_and_wait(probe, "Good morning.", "missing")
    assert not finished.interrupted
    assert heard_as_said(words(transcribe(voice.clip_since(before, "missing.wav"))), ["good", "morning"])
    voice.wait_log(r"missing\.onnx does not exist")


def test_an_unwritable_speaker_is_reported_and_speech_still_finishes(start_voice, probe, tmp_path):
    (tmp_path / "speaker.wav").write_text("a text file where the WAV should be")
    start_voice({"engine": "espeak"})
    probe.publish(Say(text="Hello.", id="nowhere"))
    error = probe.wait_for(ServiceError, 10)
    assert error.service == "voice" and "speaker" in error.message
    finished = probe.wait_for(lambda m: isinstance(m, SpeakingFinished) and m.id == "nowhere", 10)
    assert finished.id == "nowhere"


def test_sentences_are_split_where_a_listener_would_hear_a_stop():
    assert split_sentences("Hi! It is 5.30 now. Okay?\nBye") == ["Hi!", "It is 5.30 now.", "Okay?", "Bye"]
    assert speech_pieces("Okay, the timer is set. Bye.") == ["Okay, the timer is set.", "Bye."]
    assert speech_pieces("It is 5,000 meters high, said the guide, and that is a lot.") == [
        "It is 5,000 meters high,", "said the guide, and that is a lot."]


def test_espeak_output_is_parsed_as_speech():
    speech = EspeakSynthesizer("en-us").synthesize("Hello there.")
    assert speech.rate == 22050 and 0.5 < speech.seconds < 3
    assert np.abs(speech.samples).max() > 1000
    with pytest.raises(Exception):
        read_wav_bytes(b"not a wav")


def piper_child(service: VoiceProcess) -> int:
    """The pid of the Piper worker the voice service started."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == service.process.pid and b"piper_worker" in cmdline:
            return int(entry.name)
    raise AssertionError("the voice service has no Piper child")


def test_a_crashed_piper_is_replaced_and_speech_goes_on(start_voice, probe):
    voice = start_voice()
    voice.wait_log(r"Piper ready")
    first = piper_child(voice)
    os.kill(first, 9)
    before = voice.played_frames()
    _, finished = say_and_wait(probe, "Turn on the kitchen light.", "after-crash")
    assert not finished.interrupted  # espeak-ng stands in
    assert heard_as_said(words(transcribe(voice.clip_since(before, "after-crash.wav"))), ["turn", "on", "the", "kitchen", "light"])
    voice.wait_log(r"Piper failed .*restarting Piper")
    deadline = time.monotonic() + START_TIMEOUT_S
    while sum("Piper ready" in line for line in voice.log) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert piper_child(voice) != first


def test_odd_text_is_spoken_or_skipped_and_piper_keeps_running():
    from services.voice.settings import VoiceSettings
    from services.voice.tts import Synthesizer

    synthesizer = Synthesizer(VoiceSettings())
    synthesizer.start()
    try:
        assert synthesizer.piper_ready.wait(START_TIMEOUT_S)
        pid = synthesizer.piper.pid
        for text in ["\x00\x01", "...", "😀👍", "--help", "Hello\u202eworld", "<speak>hi</speak>"]:
            synthesizer.synthesize(text)
        assert synthesizer.piper_ready.is_set() and synthesizer.piper.pid == pid
        assert synthesizer.synthesize("Good night.").engine == "piper"
    finally:
        synthesizer.close()


def test_espeak_answers_at_once_while_piper_is_still_loading():
    from services.voice.settings import VoiceSettings
    from services.voice.tts import Synthesizer

    synthesizer = Synthesizer(VoiceSettings())
    synthesizer.start()  # returns at once; Piper needs a second or more to load its voice
    try:
        assert not synthesizer.piper_ready.is_set()
        began = time.monotonic()
        early = synthesizer.synthesize("Just a moment.")
        assert early.engine == "espeak" and early.seconds > 0.3
        assert time.monotonic() - began < 5  # generous; ~20 ms (bench/voice.py)
        assert synthesizer.piper_ready.wait(START_TIMEOUT_S)
        assert synthesizer.synthesize("Now I sound better.").engine == "piper"
    finally:
        synthesizer.close()
